"""The runtime seam shared by the CPU (llama.cpp) and NPU (RKLLM) runtimes.

A runtime is synchronous and single-threaded on purpose: both llama.cpp and
librkllmrt block the calling thread while they compute, and neither promises
thread safety on one handle. :class:`~rk_assist.runtimes.worker.ModelWorker`
owns the one thread that calls into a runtime and bridges it to asyncio.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from .. import defaults
from ..errors import ModelFileError, PrefillInterrupted
from .prompt_cache import client_cache_name, service_cache_name

_LOGGER = logging.getLogger(__name__)


def read_model_head(path: Path, size: int = 4) -> bytes:
    """The first bytes of a model file, or a :class:`ModelFileError` naming the path."""
    if not path.exists():
        raise ModelFileError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelFileError(f"model path is not a file: {path}")
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError as err:
        raise ModelFileError(f"cannot read model file {path}: {err}") from err


def encodable(text: str) -> str:
    """``text`` with lone surrogates (from ``\\ud800``-style JSON escapes) replaced: a
    tokenizer needs valid UTF-8, and a client's odd bytes must not fail its request."""
    return text.encode("utf-8", errors="replace").decode("utf-8")


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user", "assistant" (and "tool" for runtimes that support it)
    content: str
    #: Calls an assistant message made, OpenAI-shaped ``{"type": "function", "function":
    #: {"name": ..., "arguments": {...}}}``: the chat template writes them its own way.
    tool_calls: tuple[Mapping[str, Any], ...] = ()

    def template_dict(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [dict(call) for call in self.tool_calls]
        return message


@dataclass(frozen=True)
class Sampling:
    """A request's own sampling settings; None keeps the service's."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None


class TextFollower(Protocol):
    """Follows an answer as it is written and knows what text must come next."""

    def feed(self, text: str) -> bool: ...

    def forced(self) -> str:
        """The text that must follow now (consumed), or "" at a real choice."""
        ...


@dataclass(frozen=True)
class OutputConstraint:
    """The language an answer must stay in, for runtimes that can hold a model to it.

    ``gbnf`` is a llama.cpp grammar; ``follower`` makes a fresh
    :class:`TextFollower` for the same language, so determined text can be
    appended without sampling. A runtime that cannot constrain (RKLLM)
    ignores it, and the answer is parsed all the same.
    """

    gbnf: str
    follower: Callable[[], TextFollower]


@dataclass(frozen=True)
class SystemBlock:
    """What a runtime keeps the model's state after: the system prompt, the tools the
    template writes into it, and a context written after them (``GenerationRequest.
    context``) where the runtime caches one."""

    system_prompt: str
    tools_json: str | None = None
    context: str | None = None

    def messages(self) -> list[ChatMessage]:
        """The block as the chat's first messages: the system prompt, then the context."""
        head = [ChatMessage("system", self.system_prompt)]
        return head + ([ChatMessage("system", self.context)] if self.context else [])


@dataclass(frozen=True)
class GenerationRequest:
    """One turn to answer.

    The system prompt is kept apart from everything else because it is the
    part that is identical across requests: runtimes cache the model state
    after it. ``history`` holds whole past turns, oldest first, so that a
    runtime can drop the oldest ones when the prompt would not fit.
    """

    system_prompt: str
    turn: Sequence[ChatMessage]
    history: Sequence[Sequence[ChatMessage]] = ()
    max_new_tokens: int = defaults.MAX_NEW_TOKENS
    #: Function tools as an OpenAI-format JSON array, or None for plain chat.
    tools_json: str | None = None
    #: Results of the tool calls the previous generation made (a JSON array);
    #: set, this generation continues that one instead of starting a new turn.
    tool_results_json: str | None = None
    #: Holds the answer to speech or well-formed calls, where the runtime can.
    constraint: OutputConstraint | None = None
    #: Sampling for this request (HTTP clients send their own); runtimes that fix
    #: sampling at load (RKLLM) keep theirs.
    sampling: Sampling | None = None
    #: What the client's prompt says of the home (Home Assistant's device overview),
    #: written after the system block and its tools as a system message of its own: it
    #: changes when a device is exposed, the cached system block then does not. Never
    #: dropped to fit.
    context: str | None = None

    def messages(self, keep_turns: int | None = None) -> list[ChatMessage]:
        """All messages, keeping only the newest ``keep_turns`` past turns."""
        history = list(self.history)
        if keep_turns is not None:
            history = history[len(history) - keep_turns :] if keep_turns > 0 else []
        messages = SystemBlock(self.system_prompt, context=self.context).messages()
        for past_turn in history:
            messages.extend(past_turn)
        messages.extend(self.turn)
        if self.tool_results_json is not None:
            messages.append(ChatMessage("tool", self.tool_results_json))
        return messages


@dataclass
class GenerationStats:
    """What one generation cost; logged per turn and printed by the benchmark."""

    prompt_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens served from a cached model state
    prefill_tokens: int = 0  # prompt tokens actually computed
    generated_tokens: int = 0
    prefill_ms: float = 0.0
    generate_ms: float = 0.0
    history_turns_dropped: int = 0
    stop_reason: str = "end"  # "end", "length", "aborted"
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        if self.generate_ms <= 0 or self.generated_tokens <= 1:
            return 0.0
        # The first token comes out of the prefill; the rest measure decoding.
        return (self.generated_tokens - 1) / (self.generate_ms / 1000.0)

    def summary(self) -> str:
        return (
            f"prompt={self.prompt_tokens} tok (reused {self.reused_tokens}, "
            f"prefilled {self.prefill_tokens}) in {self.prefill_ms:.0f} ms, "
            f"generated {self.generated_tokens} tok in {self.generate_ms:.0f} ms "
            f"({self.tokens_per_second:.1f} tok/s), stop={self.stop_reason}"
        )


TextSink = Callable[[str], None]


#: Room left for an answer, at the least, when a prompt is fitted to the context.
MIN_ANSWER_TOKENS = 16

Prompt = TypeVar("Prompt")


@dataclass(frozen=True)
class FittedPrompt(Generic[Prompt]):
    prompt: Prompt
    history_turns_dropped: int
    size: int  # tokens, counted or estimated
    fits: bool  # within the budget that leaves room for the answer


#: Up to this many past turns, a prompt is first measured with all of them.
ALL_TURNS_AT_ONCE = 32


def fit_history(
    request: GenerationRequest,
    context_length: int,
    measure: Callable[[int], tuple[Prompt, int]],
) -> FittedPrompt[Prompt]:
    """Keep the most recent history turns that leave room for the answer.

    ``measure(keep_turns)`` renders the prompt with that many past turns and
    says its size in tokens; the runtime decides what to do with a prompt that
    does not fit even with no history (``fits`` is False then). A prompt only
    grows with each turn kept, so after one try with every turn (a short
    history, the usual case) the newest turns are counted out in doubling
    steps and the last step is halved until it is exact. No measure renders
    more than twice the turns that fit: a client that sends 100,000 turns costs
    a few renders of what could fit, not one render (and tokenisation, which
    grows faster than the text) per dropped turn.
    """
    budget = context_length - min(request.max_new_tokens, context_length // 4)
    budget = max(budget, MIN_ANSWER_TOKENS)
    total = len(request.history)
    if total <= ALL_TURNS_AT_ONCE:
        prompt, size = measure(total)
        if size <= budget:
            return FittedPrompt(prompt, 0, size, True)
    fits, fitting = 0, measure(0)
    if fitting[1] > budget:
        return FittedPrompt(fitting[0], total, fitting[1], False)
    too_many = total + 1  # invariant: ``fits`` turns fit, ``too_many`` do not
    while fits < total and too_many == total + 1:
        trying = min(max(1, 2 * fits), total)
        measured = measure(trying)
        if measured[1] <= budget:
            fits, fitting = trying, measured
        else:
            too_many = trying
    while too_many - fits > 1 and fits < total:
        middle = (fits + too_many) // 2
        measured = measure(middle)
        if measured[1] <= budget:
            fits, fitting = middle, measured
        else:
            too_many = middle
    return FittedPrompt(fitting[0], total - fits, fitting[1], True)


class Runtime(ABC):
    """One loaded model. All methods but :meth:`abort` run on the worker thread."""

    #: Short name for logs and the describe answer ("llama.cpp", "rkllm").
    name: str = "runtime"
    #: Whether it holds answers to a request's :class:`OutputConstraint`.
    can_constrain: bool = False
    #: Where the current system prompt's state came from: "built", "disk",
    #: "memory" or "off" (no prompt cache).
    prefix_source: str = "off"
    #: The system prompt and tools whose state is ready; None before the first and
    #: after :meth:`close` (a loaded model prepares its prompt again).
    _prepared: SystemBlock | None = None
    #: Called on the worker thread whenever the model makes progress (a step of a
    #: prefill, a token); the worker tells a stuck generation from a long one by it.
    on_progress: Callable[[], None] = staticmethod(lambda: None)
    #: A system block (and its cache name) whose prefill was cut short: what was
    #: computed is kept, and the worker finishes the rest while the model is idle, so a
    #: client that gave up and retries finds it ready.
    cut_prefix: tuple[SystemBlock, str] | None = None
    #: Whether the saved system block takes in a request's context (the runtime renders
    #: the prompt itself); RKLLM's keeps the system block alone and reuses the rest itself.
    caches_context = False

    @property
    def prefix_tokens(self) -> int:
        """Tokens of the cached system block (0 when unknown or not cached)."""
        return 0

    @property
    def system_prompt(self) -> str | None:
        """The system prompt the runtime is prepared for; None before the first."""
        return self._prepared.system_prompt if self._prepared is not None else None

    @property
    @abstractmethod
    def model_name(self) -> str:
        """The model's friendly name, used for cache folders and ``describe``."""

    @abstractmethod
    def load(self) -> None:
        """Load the model; fails with :class:`ModelFileError` naming the path."""

    def prepare_system_prompt(self, system_prompt: str, tools_json: str | None = None) -> None:
        """Compute, or restore from disk, the model state after the service's system prompt.

        Called after :meth:`load` and whenever the home changes; nothing is done
        when the prompt and tools are the ones already prepared (a Home Assistant
        reconnect with the same home).
        """
        block = SystemBlock(system_prompt, tools_json)
        self._prepare(block, service_cache_name(system_prompt, tools_json))

    def _prepare_for_request(self, request: GenerationRequest) -> None:
        """A request's own prompt (the HTTP API) gets a cache of its own, beside the service's,
        so the two do not rebuild each other's state when they alternate. Its context (Home
        Assistant's device overview) is part of the block saved: a restart finds it whole."""
        system_prompt, tools_json = request.system_prompt, request.tools_json
        context = request.context if self.caches_context else None
        named = f"{system_prompt}\n\n{context}" if context else system_prompt
        block = SystemBlock(system_prompt, tools_json, context)
        self._prepare(block, client_cache_name(named, tools_json))

    def _prepare(self, block: SystemBlock, cache_name: str) -> None:
        if self._prepared == block:
            return
        self._prepared = None  # until the new state is ready: a failure leaves none prepared
        try:
            self._use_prefix(block, cache_name)
        except PrefillInterrupted:
            self.cut_prefix = (block, cache_name)
            raise
        self._prepared = block
        if self.cut_prefix is not None and self.cut_prefix[0] == block:
            self.cut_prefix = None

    def finish_cut_prefix(self, stop: threading.Event) -> bool:
        """Finish computing (and save) the system block a hang-up cut short.

        Runs on the worker thread while no request wants the model; ``stop``
        set (then :meth:`abort`) preempts it, keeping what was computed again
        (:class:`PrefillInterrupted`). Returns whether there was one to finish.
        A failure other than an interruption forgets the block: it is not tried
        again and again.
        """
        cut = self.cut_prefix
        if cut is None or stop.is_set():
            return False
        try:
            self._prepare(*cut)
        except PrefillInterrupted:
            raise
        except Exception:
            self.cut_prefix = None
            raise
        return True

    @abstractmethod
    def _use_prefix(self, block: SystemBlock, cache_name: str) -> None:
        """Make the state after this system block (and its context) the one turns start
        from, saved as ``cache_name`` (memory, disk, or computed)."""

    def generate(
        self, request: GenerationRequest, emit: TextSink, stop: threading.Event
    ) -> GenerationStats:
        """Generate an answer, calling ``emit`` with each decoded text piece.

        Blocks until the answer is complete or ``stop`` is set. Raises
        :class:`RuntimeFailure` on errors.
        """
        try:
            return self._generate(request, emit, stop)
        except PrefillInterrupted as cut:
            if not stop.is_set():
                raise
            # The request's own system block, cut short by its hang-up: it stays computed
            # as far as it got, and the worker finishes it when the model is idle.
            _LOGGER.info(
                "Prefix of %d tokens kept after a hang-up (%d computed)", cut.total, cut.computed
            )
            return GenerationStats(
                prompt_tokens=cut.total,
                reused_tokens=cut.resumed,
                prefill_tokens=cut.computed - cut.resumed,
                stop_reason="aborted",
            )

    @abstractmethod
    def _generate(
        self, request: GenerationRequest, emit: TextSink, stop: threading.Event
    ) -> GenerationStats:
        """:meth:`generate` without the bookkeeping of a cut system block."""

    def abort(self) -> None:  # noqa: B027 - optional hook, a no-op is a valid default
        """Interrupt what the model computes now (a generation or a prompt), from any thread.

        ``stop`` already ends a generation between tokens; runtimes that can
        also interrupt a long prefill override this. A generation interrupted so
        ends with ``stop_reason`` "aborted", a prompt being prepared with a
        :class:`RuntimeFailure`.
        """

    @abstractmethod
    def clear_context(self, keep_system_prompt: bool = True) -> None:
        """Forget the conversation state held in the model (its KV cache).

        Used to recover a clean state after a failed generation; with
        ``keep_system_prompt`` the system prompt's state stays, so the next
        turn does not pay for it again.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the model; the runtime cannot be used afterwards."""
