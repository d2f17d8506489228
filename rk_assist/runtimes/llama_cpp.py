"""The CPU runtime: a GGUF model through llama-cpp-python.

It runs everywhere (x86 Home Assistant boxes, a Raspberry Pi, CI), so the
whole product works and is tested without an NPU. The system prompt's model
state is computed once at load, saved to disk, and reused by every turn:
llama.cpp keeps whatever prefix of the new prompt matches its KV cache, and
every prompt starts with the same system-prompt tokens.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np

from ..errors import ModelFileError, PrefillInterrupted, PromptTooLongError, RuntimeFailure
from .base import (
    MIN_ANSWER_TOKENS,
    ChatMessage,
    GenerationRequest,
    GenerationStats,
    OutputConstraint,
    Runtime,
    Sampling,
    SystemBlock,
    TextSink,
    fit_history,
    read_model_head,
)
from .chat_format import ChatRenderer
from .grammar_sampling import decode_constrained, last_logits
from .prompt_cache import (
    CLIENT_CACHE_PREFIX,
    PromptCacheFile,
    cache_key,
    fingerprint_file,
    forget_least_recent,
)
from .settings import RuntimeSettings
from .state_cache import StateCache, common_prefix
from .threads import available_cores, default_threads

_LOGGER = logging.getLogger(__name__)
GGUF_MAGIC = b"GGUF"
# Keep at least this many tokens free for the answer when trimming history.
# Restoring a saved state costs about what prefilling this many tokens does on a small CPU.
RESTORE_MARGIN_TOKENS = 16
# A prefill is evaluated this many tokens at a time at most. A hang-up loses only the step it
# interrupts (what came before is kept for the retry), and a step of 128 tokens prefills as
# fast as one of 512 on a small CPU (0.5B, one thread: 100 and 99 tokens/s), in a fourth of
# the time: about a second of work lost instead of five.
PREFILL_STEP_TOKENS = 128


@dataclass(frozen=True)
class LlamaCppSettings(RuntimeSettings):
    threads: int | None = None  # None: every core but one (threads.py)
    batch_size: int = 512
    seed: int = 0
    state_cache_mb: int = 256  # memory for saved states of recent prompts (0: none)


class AbortFlag:
    """Interrupts llama.cpp inside a forward pass, without Python.

    llama.cpp asks its abort callback after every step of a forward pass,
    hundreds of times a token. A Python callback would take the GIL each
    time: beside a busy Python thread, decoding fell from 14 to 0.4 tokens/s
    (0.5B, one thread). So the callback is the C library's own ``strlen``
    reading a two-byte buffer: "" goes on, "\\x01" stops (a length of 0 or 1
    comes back in the register where the caller reads its bool). llama.cpp
    then drops the interrupted batch from its cache and ``llama_decode``
    returns 2, which llama-cpp-python raises as a RuntimeError.
    """

    _STRLEN = ctypes.cast(ctypes.CDLL(None).strlen, llama_cpp.ggml_abort_callback)

    def __init__(self) -> None:
        self._buffer = ctypes.create_string_buffer(2)

    def install(self, ctx: llama_cpp.llama_context_p) -> None:
        data = ctypes.cast(self._buffer, ctypes.c_void_p)
        llama_cpp.llama_set_abort_callback(ctx, self._STRLEN, data)

    def set(self) -> None:
        self._buffer[0] = 1

    def clear(self) -> None:
        self._buffer[0] = 0

    def is_set(self) -> bool:
        return self._buffer[0] != b"\x00"


def check_gguf_file(path: Path) -> None:
    """Fail with a message naming the path, before llama.cpp prints its own noise."""
    if read_model_head(path) != GGUF_MAGIC:
        raise ModelFileError(f"not a GGUF model file (bad header): {path}")


class LlamaCppRuntime(Runtime):
    name = "llama.cpp"
    can_constrain = True
    caches_context = True

    def __init__(self, settings: LlamaCppSettings) -> None:
        self.settings = settings
        self._llm: llama_cpp.Llama | None = None
        self._renderer: ChatRenderer | None = None
        self._prefix_text: str | None = None
        self._prefix_tokens: list[int] = []
        self._prefix_state: bytes | None = None  # llama.cpp state after the system prompt
        self._states = StateCache(settings.state_cache_mb << 20)
        self._bos_text = ""
        #: How the system prompt state was obtained at load: "built", "disk" or "off".
        self.prefix_source = "off"
        self._halt = AbortFlag()
        #: Tokens of the system block computed by the last prepare (0: memory or disk),
        #: and the token it resumed at, so a request's figures say what it cost.
        self._prefix_computed = 0
        self._prefix_resumed_at = 0

    @property
    def model_name(self) -> str:
        return self.settings.model_name

    @property
    def context_length(self) -> int:
        return self._require_llm().n_ctx()

    @property
    def prefix_text(self) -> str:
        """The rendered system block (with the tools) whose state is cached."""
        return self._prefix_text or ""

    @property
    def prefix_tokens(self) -> int:
        return len(self._prefix_tokens)

    def load(self) -> None:
        check_gguf_file(self.settings.model_path)
        threads = self.settings.threads or default_threads()
        started = time.perf_counter()
        try:
            llm = llama_cpp.Llama(
                model_path=str(self.settings.model_path),
                n_ctx=self.settings.context_length,
                n_batch=self.settings.batch_size,
                n_threads=threads,
                n_threads_batch=threads,
                seed=self.settings.seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as err:
            raise ModelFileError(
                f"llama.cpp could not load {self.settings.model_path}: {err}"
            ) from err
        self._llm = llm
        self._halt.install(llm._ctx.ctx)
        metadata = llm.metadata
        self._bos_text = _token_text(llm, llm.token_bos())
        self._renderer = ChatRenderer(
            self.settings.chat_template or metadata.get("tokenizer.chat_template"),
            bos_token=self._bos_text,
            eos_token=_token_text(llm, llm.token_eos()),
            enable_thinking=self.settings.thinking,
            tokenizer=None if self.settings.chat_template else self.settings.tokenizer,
        )
        _LOGGER.info(
            "Loaded %s with llama.cpp in %.1f s (context %d tokens, %d threads%s)",
            self.settings.model_path,
            time.perf_counter() - started,
            llm.n_ctx(),
            threads,
            ""
            if self.settings.threads
            else f" of {available_cores()} cores: one is left for other work, --threads to change",
        )

    def _use_prefix_state(self, block: SystemBlock, cache_name: str) -> None:
        """Make the state after this system block the one to start from: memory, disk or
        built (from the longest part of it already computed: a device exposed since changed
        only the context's end)."""
        llm = self._require_llm()
        renderer = self._require_renderer()
        probe = renderer.render(
            [*block.messages(), ChatMessage("user", ".")], block.tools_json, block.context
        )
        self._prefix_text = probe.prefix
        self._prefix_tokens = self._tokenize(probe.prefix, first=True) if probe.prefix else []
        self._prefix_state = None
        if not self.settings.prefix_cache or not self._prefix_tokens:
            if not self._prefix_tokens:
                _LOGGER.warning("The chat template hides the system prompt; no prefix caching")
            self.prefix_source = "off"
            return
        if len(self._prefix_tokens) + MIN_ANSWER_TOKENS > llm.n_ctx():
            raise PromptTooLongError(
                f"the system prompt is {len(self._prefix_tokens)} tokens, too long for a "
                f"context of {llm.n_ctx()} tokens"
            )
        started = time.perf_counter()
        saved = self._states.get(self._prefix_tokens)
        if saved is not None:
            self._prefix_state = saved.data
            self.prefix_source = "memory"
            return
        cache = self._cache_file(cache_name)
        key = self._cache_key()
        if cache is not None:
            data = cache.read(key)
            if data is not None and self._restore_state(data, self._prefix_tokens):
                self._prefix_state = data
                self._states.put(self._prefix_tokens, data)
                self.prefix_source = "disk"
                _LOGGER.info(
                    "System prompt state (%d tokens) loaded from %s in %.0f ms",
                    len(self._prefix_tokens),
                    cache.bin_path,
                    (time.perf_counter() - started) * 1000,
                )
                return
        resumed = self._resume(self._prefix_tokens)
        if resumed:
            _LOGGER.info(
                "Computing the system prompt resumed at token %d of %d",
                resumed,
                len(self._prefix_tokens),
            )
        self._prefix_resumed_at = resumed
        self._prefix_computed = len(self._prefix_tokens) - resumed
        self._prefill(self._prefix_tokens[resumed:], log_every_s=5.0, done_before=resumed)
        self._prefix_state = self._snapshot_state()
        self._states.forget_prefixes_of(self._prefix_tokens)  # what a cut prefill kept
        self._states.put(self._prefix_tokens, self._prefix_state)
        self.prefix_source = "built"
        _LOGGER.info(
            "System prompt state (%d tokens) computed in %.0f ms",
            len(self._prefix_tokens),
            (time.perf_counter() - started) * 1000,
        )
        if cache is not None:
            try:
                cache.write(
                    key,
                    self._prefix_state,
                    model=self.model_name,
                    runtime=self.name,
                    tokens=len(self._prefix_tokens),
                    source="client prompt"
                    if cache_name.startswith(CLIENT_CACHE_PREFIX)
                    else "system prompt",
                )
                _LOGGER.info("Saved the system prompt state to %s", cache.bin_path)
            except OSError as err:
                _LOGGER.warning("Could not save the prompt cache %s: %s", cache.bin_path, err)
            forget_least_recent(cache.directory)

    def abort(self) -> None:
        self._halt.set()

    def prepare_system_prompt(self, system_prompt: str, tools_json: str | None = None) -> None:
        self._halt.clear()
        super().prepare_system_prompt(system_prompt, tools_json)

    def _use_prefix(self, block: SystemBlock, cache_name: str) -> None:
        try:
            self._use_prefix_state(block, cache_name)
        except RuntimeError as err:  # llama_decode's non-zero return
            if self._halt.is_set():
                raise self._keep_cut_prefix() from err
            self._require_llm().reset()
            raise RuntimeFailure(f"computing the system prompt failed: {err}") from err

    def _keep_cut_prefix(self) -> PrefillInterrupted:
        """Keep the state of what an interrupted system-block prefill computed.

        llama.cpp dropped only the batch it was inside; the batches before it
        stay in the KV cache, and a copy goes to the saved states so another
        request in between does not wipe them: the next prefill of this block
        resumes where this one stopped.
        """
        llm = self._require_llm()
        computed = common_prefix(llm.input_ids[: llm.n_tokens], self._prefix_tokens)
        if computed > self._prefix_resumed_at:
            try:
                self._states.put(self._prefix_tokens[:computed], self._snapshot_state())
            except RuntimeFailure as err:
                _LOGGER.debug("Not keeping the cut system prompt's state: %s", err)
        return PrefillInterrupted(
            "computing the system prompt interrupted",
            computed=computed,
            total=len(self._prefix_tokens),
            resumed=self._prefix_resumed_at,
        )

    def finish_cut_prefix(self, stop: threading.Event) -> bool:
        self._halt.clear()  # before super() reads ``stop``: an abort sent since is not lost
        return super().finish_cut_prefix(stop)

    def generate(
        self, request: GenerationRequest, emit: TextSink, stop: threading.Event
    ) -> GenerationStats:
        self._halt.clear()
        if stop.is_set():  # stopped before it began; abort() may have come before clear()
            return GenerationStats(stop_reason="aborted")
        return super().generate(request, emit, stop)

    def _generate(
        self, request: GenerationRequest, emit: TextSink, stop: threading.Event
    ) -> GenerationStats:
        llm = self._require_llm()
        self._prefix_computed = 0
        started = time.perf_counter()
        self._prepare_for_request(request)
        prefix_ms = (time.perf_counter() - started) * 1000
        # The system block this request computed itself counts as prefilled, not reused.
        prefix_computed = self._prefix_computed
        tokens, dropped = self._fit_prompt(request)
        max_new = min(request.max_new_tokens, llm.n_ctx() - len(tokens))
        if not self.settings.prefix_cache:
            llm.reset()
        else:
            self._resume(tokens)
        reused = common_prefix(llm.input_ids[: llm.n_tokens], tokens)
        stats = GenerationStats(
            prompt_tokens=len(tokens),
            reused_tokens=max(0, reused - prefix_computed),
            prefill_tokens=len(tokens) - reused + prefix_computed,
            history_turns_dropped=dropped,
        )
        sampling = self.settings.sampling(request.sampling, self.settings.seed)
        try:
            if request.constraint is not None:
                self._generate_constrained(
                    tokens, max_new, request.constraint, emit, stop, stats, sampling
                )
            else:
                self._generate_free(tokens, max_new, emit, stop, stats, sampling)
        except (RuntimeError, ValueError) as err:
            if not stop.is_set():
                raise RuntimeFailure(f"llama.cpp failed while generating: {err}") from err
            # Interrupted inside a forward pass: llama.cpp dropped that batch from its cache.
            stats.stop_reason = "aborted"
            stats.prefill_tokens = min(
                stats.prefill_tokens, max(0, llm.n_tokens - reused) + prefix_computed
            )
        stats.prefill_ms += prefix_ms
        if self.settings.prefix_cache:
            # Aborted too: a prompt cut short in its prefill resumes from here when retried.
            self._remember_state()
        return stats

    def _resume(self, tokens: list[int]) -> int:
        """Start a prefill of ``tokens`` from the longest beginning of them already computed.

        The KV cache holds the last prompt; a saved state beats it when it shares
        more: a conversation interrupted by another one finds its own state
        there, and so does a prefill that a hang-up cut short, so only the rest
        is computed.
        """
        llm = self._require_llm()
        current = common_prefix(llm.input_ids[: llm.n_tokens], tokens)
        saved, length = self._states.best(tokens)
        if saved is not None and length >= current + RESTORE_MARGIN_TOKENS:
            restored = self._restore_state(saved.data, saved.tokens)
            if restored:
                _LOGGER.debug("Restored a saved state sharing %d of %d tokens", length, len(tokens))
            current = length if restored else 0
        current = min(current, len(tokens))
        llm.n_tokens = current
        # Cells past it would be saved with this state; the next eval drops them anyway.
        llm._ctx.kv_cache_seq_rm(-1, current, -1)
        return current

    def _remember_state(self) -> None:
        """Keep the state after this answer, for the conversation's next turn."""
        llm = self._require_llm()
        if llm.n_tokens <= len(self._prefix_tokens) + RESTORE_MARGIN_TOKENS:
            return  # nothing beyond the system block, which is saved already
        try:
            self._states.put(llm.input_ids[: llm.n_tokens], self._snapshot_state())
        except RuntimeFailure as err:
            _LOGGER.debug("Not keeping the state after this answer: %s", err)

    def _generate_free(
        self,
        tokens: list[int],
        max_new: int,
        emit: TextSink,
        stop: threading.Event,
        stats: GenerationStats,
        sampling: Sampling,
    ) -> None:
        llm = self._require_llm()
        llm.set_seed(sampling.seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        vocab = llm._model.vocab
        generated: list[int] = []
        started = time.perf_counter()
        first_token_at = started
        # All but the last token a batch at a time (progress between batches);
        # generate() finds them in the cache and evaluates the last one itself.
        reused = common_prefix(llm.input_ids[: llm.n_tokens], tokens[:-1])
        llm.n_tokens = reused
        self._prefill(tokens[reused:-1])
        for token in llm.generate(
            tokens,
            temp=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k,
            repeat_penalty=self.settings.repeat_penalty,
            reset=True,
        ):
            if not generated:
                first_token_at = time.perf_counter()
                stats.prefill_ms = (first_token_at - started) * 1000
            if stop.is_set():
                stats.stop_reason = "aborted"
                break
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                stats.stop_reason = "end"
                break
            piece = llm.detokenize([token], prev_tokens=tokens + generated)
            generated.append(token)
            text = decoder.decode(piece)
            if text:
                emit(text)
            if len(generated) >= max_new:
                stats.stop_reason = "length"
                break
        tail = decoder.decode(b"", final=True)
        if tail and stats.stop_reason != "aborted":
            emit(tail)
        stats.generated_tokens = len(generated)
        stats.generate_ms = (time.perf_counter() - first_token_at) * 1000

    def _generate_constrained(
        self,
        tokens: list[int],
        max_new: int,
        constraint: OutputConstraint,
        emit: TextSink,
        stop: threading.Event,
        stats: GenerationStats,
        sampling: Sampling,
    ) -> None:
        """Sample under the grammar (``grammar_sampling.decode_constrained``), one batch a step."""
        llm = self._require_llm()
        started = time.perf_counter()
        reused = min(common_prefix(llm.input_ids[: llm.n_tokens], tokens), len(tokens) - 1)
        llm.n_tokens = reused
        self._prefill(tokens[reused:])
        first_token_at = time.perf_counter()
        stats.prefill_ms = (first_token_at - started) * 1000
        counts = decode_constrained(
            llm._model.vocab, constraint, sampling, _LlamaSteps(llm, tokens), emit, stop, max_new
        )
        stats.stop_reason = counts.stop_reason
        stats.generated_tokens = counts.sampled
        stats.extra["forced_tokens"] = counts.forced
        stats.extra["grammar_refusals"] = counts.refused
        stats.generate_ms = (time.perf_counter() - first_token_at) * 1000

    def clear_context(self, keep_system_prompt: bool = True) -> None:
        llm = self._require_llm()
        if not keep_system_prompt:
            self._states.clear()  # forget everything, the saved conversations too
        if not (
            keep_system_prompt
            and self._prefix_state
            and self._restore_state(self._prefix_state, self._prefix_tokens)
        ):
            llm.reset()

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
        self._prepared = None  # a loaded model prepares its prompt again

    # -- helpers -----------------------------------------------------------

    def _fit_prompt(self, request: GenerationRequest) -> tuple[list[int], int]:
        """Tokens of the prompt, dropping the oldest history turns until it fits."""
        llm = self._require_llm()
        renderer = self._require_renderer()

        def measure(keep: int) -> tuple[list[int], int]:
            rendered = renderer.render(
                request.messages(keep_turns=keep), request.tools_json, request.context
            )
            if self._prefix_tokens and rendered.prefix == self._prefix_text:
                tokens = self._prefix_tokens + self._tokenize(rendered.rest, first=False)
            else:
                tokens = self._tokenize(rendered.prefix + rendered.rest, first=True)
            return tokens, len(tokens)

        fitted = fit_history(request, llm.n_ctx(), measure)
        if not fitted.fits and fitted.size + MIN_ANSWER_TOKENS > llm.n_ctx():
            raise PromptTooLongError(
                f"the prompt is {fitted.size} tokens even without history; the context holds "
                f"{llm.n_ctx()} tokens"
            )
        return fitted.prompt, fitted.history_turns_dropped

    def _tokenize(self, text: str, first: bool) -> list[int]:
        llm = self._require_llm()
        # The template may write the BOS token itself; never add a second one.
        add_bos = first and not (self._bos_text and text.startswith(self._bos_text))
        return llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def _cache_file(self, name: str) -> PromptCacheFile | None:
        if self.settings.cache_dir is None:
            return None
        return PromptCacheFile(self.settings.cache_dir / self.model_name, name)

    def _cache_key(self) -> str:
        return cache_key(
            runtime=self.name,
            llama_cpp=llama_cpp.__version__,
            model=fingerprint_file(self.settings.model_path),
            context_length=self._require_llm().n_ctx(),
            batch_size=self.settings.batch_size,
            tokens=self._prefix_tokens,
        )

    def _prefill(
        self, tokens: list[int], log_every_s: float | None = None, done_before: int = 0
    ) -> None:
        """Evaluate a prompt a batch at a time, reporting progress between batches.

        The worker tells a long prefill from a hung one by that progress; a
        system prompt on a small CPU also says how far it got in the log.
        """
        llm = self._require_llm()
        step = max(min(llm.n_batch, PREFILL_STEP_TOKENS), 1)
        started = logged = time.perf_counter()
        for start in range(0, len(tokens), step):
            llm.eval(tokens[start : start + step])
            self.on_progress()
            done = min(start + step, len(tokens))
            now = time.perf_counter()
            if log_every_s is not None and done < len(tokens) and now - logged >= log_every_s:
                logged = now
                _LOGGER.info(
                    "Computing the system prompt: %d of %d tokens (%.0f s)",
                    done_before + done,
                    done_before + len(tokens),
                    now - started,
                )

    def _snapshot_state(self) -> bytes:
        """The context's state as bytes.

        ``Llama.save_state`` would also copy the logits of a whole batch
        (hundreds of megabytes with a large vocabulary), which we never need.
        """
        ctx = self._require_llm()._ctx.ctx
        size = llama_cpp.llama_state_get_size(ctx)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(ctx, buffer, size)
        if written <= 0 or written > size:
            raise RuntimeFailure("llama.cpp could not copy its state")
        return ctypes.string_at(buffer, written)

    def _restore_state(self, data: bytes, tokens: list[int] | np.ndarray) -> bool:
        llm = self._require_llm()
        input_ids = np.zeros(llm.n_ctx(), dtype=np.intc)
        input_ids[: len(tokens)] = tokens
        state = llama_cpp.LlamaState(
            input_ids=input_ids,
            scores=np.zeros((1, llm.n_vocab()), dtype=np.single),
            n_tokens=len(tokens),
            llama_state=data,
            llama_state_size=len(data),
            seed=self.settings.seed,
        )
        try:
            llm.load_state(state)
        except (RuntimeError, ValueError) as err:
            _LOGGER.warning("llama.cpp rejected the cached prompt state (%s); rebuilding", err)
            llm.reset()
            return False
        return True

    def _require_llm(self) -> llama_cpp.Llama:
        if self._llm is None:
            raise RuntimeFailure("the model is not loaded")
        return self._llm

    def _require_renderer(self) -> ChatRenderer:
        if self._renderer is None:
            raise RuntimeFailure("the model is not loaded")
        return self._renderer


def _token_text(llm: llama_cpp.Llama, token: int) -> str:
    if token < 0:
        return ""
    return llm.detokenize([token], special=True).decode("utf-8", errors="ignore")


class _LlamaSteps:
    """llama.cpp's context as ``decode_constrained`` drives it: evaluate a batch, read logits."""

    def __init__(self, llm: llama_cpp.Llama, tokens: list[int]) -> None:
        self._llm = llm
        self._tokens = list(tokens)

    def logits(self) -> np.ndarray:
        return last_logits(self._llm._ctx.ctx, self._llm.n_vocab())

    def feed(self, tokens: list[int]) -> None:
        self._tokens += tokens
        self._llm.eval(tokens)

    def tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False)

    def detokenize(self, token: int) -> bytes:
        return self._llm.detokenize([token], prev_tokens=self._tokens)
