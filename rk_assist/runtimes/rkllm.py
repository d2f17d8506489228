"""The NPU runtime: a ``.rkllm`` model through Rockchip's librkllmrt.so.

Multi-turn strategy: every turn runs with ``keep_history=0`` and the whole
(trimmed) conversation as its prompt, and the runtime's automatic reuse of a
matching KV prefix skips what it has already computed. ``keep_history=1``
would keep one conversation's KV at a time, but this service interleaves
conversations (one per satellite) and edits history (trimming, speech
cleanup), so the full prompt is the only correct input; the system prompt's
state additionally lives in a prompt cache file, loaded at start. The log
shows ``rkllm_get_kv_cache_size`` and the prefill tokens of every turn, so
a board owner can check the reuse on real hardware. The one exception is a
tool round-trip: a run that offers tools keeps its history so the following
``role="tool"`` run can continue it, as the runtime requires.

The callback runs on the runtime's own thread while ``rkllm_run`` blocks the
worker thread: it only copies bytes out and hands text to the sink, which
is already a thread-safe hop onto the event loop.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.emulated import is_emulated
from ..core.library import RkllmLibrary
from ..core.structs import (
    CallbackReturn,
    LLMCallState,
    LLMHandle,
    LLMResultCallback,
    RKLLMInferMode,
    RKLLMInputType,
    RKLLMPromptCacheParam,
    RKLLMResult,
    RKLLMResultLogits,
)
from ..defaults import RKLLM_MAX_CONTEXT
from ..errors import (
    ModelFileError,
    PrefillInterrupted,
    PromptTooLongError,
    RkllmCallError,
    RkllmLibraryError,
    RuntimeFailure,
)
from .base import (
    ChatMessage,
    GenerationRequest,
    GenerationStats,
    Runtime,
    SystemBlock,
    TextSink,
    fit_history,
    read_model_head,
)
from .chat_format import ChatRenderer
from .grammar_sampling import decode_constrained
from .prompt_cache import (
    CLIENT_CACHE_PREFIX,
    PromptCacheFile,
    cache_key,
    fingerprint_file,
    forget_least_recent,
)
from .rkllm_logits import VOCAB_FILE, RkllmSteps, Vocabulary, vocab_for
from .settings import RuntimeSettings

_LOGGER = logging.getLogger(__name__)

BIG_CORES_MASK = 0xF0  # CPUs 4 to 7: the Cortex-A76 cluster on RK3588 and RK3576
NPU_DRIVER_HINT = (
    "check that the NPU driver is 0.9.8 (cat /sys/kernel/debug/rknpu/version), that the model "
    "was converted for this runtime version and this chip, and the runtime's log above"
)
# Qwen's chat format (ChatML). The runtime wraps every prompt in these.
SYSTEM_BLOCK = "<|im_start|>system\n{system}<|im_end|>\n"
POSTFIX = "<|im_end|>\n<|im_start|>assistant\n"
CHARS_PER_TOKEN = 3  # a conservative estimate of prompt size when there is no tokenizer


@dataclass(frozen=True)
class RkllmSettings(RuntimeSettings):
    library_path: Path | None = None
    abi: str = "auto"
    max_new_tokens: int = 512
    n_keep: int = -1
    cpu_mask: int = BIG_CORES_MASK
    embed_flash: bool = True
    #: Hold answers to the call grammar through the runtime's logits (GET_LOGITS), where the
    #: runtime has them and the model's vocabulary is at hand (``vocab_path``).
    constrain: bool = True
    #: A GGUF with the model's vocabulary (the model itself when emulated; on a board, a
    #: ``vocab.gguf`` beside the .rkllm), for the grammar and for token input.
    vocab_path: Path | None = None

    @property
    def emulated(self) -> bool:
        """The emulated runtime (llama.cpp under the RKLLM API), asked for by name."""
        return is_emulated(self.library_path)


def check_rkllm_file(path: Path, emulated: bool = False) -> None:
    """An .rkllm model for the NPU; a GGUF for the emulated runtime, which runs llama.cpp."""
    head = read_model_head(path)
    if emulated:
        if head != b"GGUF":
            raise ModelFileError(f"the emulated RKLLM runtime runs GGUF models: {path} is not one")
        return
    if head == b"GGUF":
        raise ModelFileError(f"{path} is a GGUF model: run it with --runtime cpu")
    if path.suffix.lower() != ".rkllm" or not head:
        raise ModelFileError(f"not an .rkllm model file: {path}")


def check_context_length(value: int) -> None:
    if value <= 0 or value > RKLLM_MAX_CONTEXT or value % 32:
        raise RuntimeFailure(
            f"RKLLM context length must be a multiple of 32 up to {RKLLM_MAX_CONTEXT}, not {value}"
        )


@dataclass
class _Run:
    """What the callback needs during one rkllm_run, and what it found out."""

    emit: TextSink
    stop: threading.Event
    max_new_tokens: int
    #: A GET_LOGITS run: the last token's logits are copied out (valid only in the callback).
    wants_logits: bool = False
    logits: np.ndarray | None = None
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )
    generated: int = 0
    errored: bool = False
    finished: bool = False
    abort_thread: threading.Thread | None = None
    perf: dict[str, float] = field(default_factory=dict)


class RkllmRuntime(Runtime):
    name = "rkllm"

    def __init__(self, settings: RkllmSettings) -> None:
        self.settings = settings
        self.library: RkllmLibrary | None = None
        self._handle = LLMHandle()
        self._callback = LLMResultCallback(self._on_result)  # alive as long as the handle
        self._model_path_bytes = str(settings.model_path).encode()
        self._call_lock = threading.RLock()  # every call on the handle, serialised
        self._run: _Run | None = None
        self._system_prompt: str | None = None
        self._tools_json: str | None = None
        self._cache_loaded = False
        tokenizer = None if settings.chat_template else settings.tokenizer
        self._renderer = ChatRenderer(
            settings.chat_template, enable_thinking=settings.thinking, tokenizer=tokenizer
        )
        self._prefix_text = ""  # the rendered system part, the runtime's "system prompt"
        #: What the prompt-cache build run sends: text after the system part, or (answers
        #: held to the grammar) the system part's own tokens, as every request will start.
        self._seed_prompt: str | list[int] = ""
        #: The model's vocabulary, for answers held to the grammar (None: they are not).
        self._vocab: Vocabulary | None = None
        self._token_renderer: ChatRenderer | None = None
        #: How the system prompt state was obtained: "built", "disk" or "off".
        self.prefix_source = "off"
        #: rkllm_abort was called since the prompt-cache build began.
        self._aborted = False

    @property
    def model_name(self) -> str:
        return self.settings.model_name

    def load(self) -> None:
        check_rkllm_file(self.settings.model_path, self.settings.emulated)
        check_context_length(self.settings.context_length)
        try:
            library = RkllmLibrary.open(self.settings.library_path, self.settings.abi)
        except RkllmLibraryError as err:
            raise RuntimeFailure(str(err)) from err
        param = library.create_default_param()
        param.model_path = self._model_path_bytes
        param.max_context_len = self.settings.context_length
        param.max_new_tokens = self.settings.max_new_tokens
        param.top_k = int(self.settings.top_k)
        param.top_p = self.settings.top_p
        param.temperature = self.settings.temperature
        param.repeat_penalty = self.settings.repeat_penalty
        param.n_keep = self.settings.n_keep
        param.skip_special_token = True
        param.is_async = False
        extend = param.extend_param
        extend.embed_flash = 1 if self.settings.embed_flash else 0
        mask = self.settings.cpu_mask
        extend.enabled_cpus_mask = mask
        extend.enabled_cpus_num = bin(mask).count("1")
        started = time.perf_counter()
        with self._call_lock:
            try:
                library.init(self._handle, param, self._callback)
                code = 0
            except RkllmCallError as err:
                code = err.code
        if code != 0 or not self._handle.value:
            raise RuntimeFailure(
                f"rkllm_init failed (code {code}) for {self.settings.model_path} with context "
                f"{self.settings.context_length}: {NPU_DRIVER_HINT}"
            )
        self.library = library
        self._open_vocabulary()
        _LOGGER.info(
            "Loaded %s on the %s in %.1f s (runtime %s, ABI %s, context %d, CPU mask 0x%X)",
            self.settings.model_path,
            "emulated runtime (llama.cpp on the CPU)" if self.settings.emulated else "NPU",
            time.perf_counter() - started,
            library.version or "unknown",
            library.abi,
            self.settings.context_length,
            mask,
        )

    def _open_vocabulary(self) -> None:
        """Answers held to the grammar need the runtime's logits and the model's vocabulary."""
        settings = self.settings
        path = settings.vocab_path or vocab_for(settings.model_path, settings.emulated)
        if not settings.constrain:
            _LOGGER.info("Answers are not held to the call grammar (switched off)")
            return
        if path is None:
            _LOGGER.info(
                "Answers are not held to the call grammar: no %s beside %s (the model's "
                "vocabulary as a GGUF)",
                VOCAB_FILE,
                settings.model_path,
            )
            return
        self._vocab = Vocabulary(path)
        template = settings.chat_template or self._vocab.chat_template
        self._token_renderer = ChatRenderer(
            template, tokenizer=None if settings.chat_template else settings.tokenizer
        )
        _LOGGER.info(
            "Answers are held to the call grammar through the runtime's logits (GET_LOGITS), "
            "with the vocabulary of %s",
            path,
        )

    @property
    def can_constrain(self) -> bool:  # type: ignore[override]
        return self._vocab is not None

    @property
    def prefix_tokens(self) -> int:
        """Exact with the model's tokenizer files, else estimated from its length."""
        return self._count(self._prefix_text) if self._prefix_text else 0

    def _use_prefix(self, block: SystemBlock, cache_name: str) -> None:
        """Set the runtime's system block; its prompt cache is one file per prefix. A
        context goes in the prompt after it (``request.messages``): the runtime's own KV
        reuse keeps it from one turn to the next."""
        system_prompt, tools_json = block.system_prompt, block.tools_json
        library = self._require_library()
        with self._call_lock:
            if tools_json is not None:
                # Native function calling works in Qwen's format: the runtime wraps the
                # prompt, and set_function_tools puts the tools in its system block.
                library.set_chat_template(
                    self._handle, SYSTEM_BLOCK.format(system=system_prompt), "", POSTFIX
                )
                library.set_function_tools(self._handle, system_prompt, tools_json, "tool_response")
                self._prefix_text, self._seed_prompt = "", "<|im_start|>user\nhello"
            else:
                # We render the prompt with the model's own template. The runtime is
                # given the rendered system part as its "system prompt" (so it can keep
                # it when clearing the KV cache) and wraps nothing else.
                probe = self._renderer.render([*block.messages(), ChatMessage("user", ".")])
                self._prefix_text, self._seed_prompt = probe.prefix, probe.rest
                library.set_chat_template(self._handle, probe.prefix, "", "")
            if self._vocab is not None and self._token_renderer is not None:
                # Requests held to the grammar start with this system part in tokens of
                # our own rendering: the prompt cache holds exactly those.
                probe = self._token_renderer.render(
                    [*block.messages(), ChatMessage("user", ".")], tools_json
                )
                self._seed_prompt = self._vocab.tokenize(probe.prefix, special=True)
            self._system_prompt, self._tools_json = system_prompt, tools_json
            self._prepare_prompt_cache(cache_name)

    def _generate(
        self, request: GenerationRequest, emit: TextSink, stop: threading.Event
    ) -> GenerationStats:
        self._require_library()
        if request.constraint is not None and self._vocab is not None:
            return self._generate_held(request, emit, stop)
        with self._call_lock:
            self._prepare_for_request(request)
            if request.tool_results_json is not None and request.tools_json is not None:
                # The runtime's own tool round trip; without its tools the results
                # are a message of the rendered conversation like any other.
                role, prompt, dropped = "tool", request.tool_results_json, 0
            else:
                role = "user"
                prompt, dropped = self._fit_prompt(request)
            keep_history = 1 if request.tools_json is not None else 0
            if keep_history and request.tool_results_json is None:
                # A new turn with tools: start from the system block; the history is in
                # the prompt. Only the tool-result run that follows continues this one.
                self._require_library().clear_kv_cache(self._handle, keep_system_prompt=True)
            run = _Run(emit=emit, stop=stop, max_new_tokens=request.max_new_tokens)
            code = self._run_once(role, prompt, keep_history, run, request.max_new_tokens)
            kv_sizes = self.kv_cache_sizes()
        if run.errored or code != 0:
            if self._prompt_too_long(prompt):
                raise PromptTooLongError(
                    f"the prompt does not fit the context of {self.settings.context_length} tokens"
                )
            raise RuntimeFailure(f"rkllm_run failed (code {code}): {NPU_DRIVER_HINT}")
        tail = run.decoder.decode(b"", final=True)
        if tail and not stop.is_set():
            emit(tail)
        stats = GenerationStats(
            prompt_tokens=int(kv_sizes[0]) if kv_sizes else 0,
            prefill_tokens=int(run.perf.get("prefill_tokens", 0)),
            generated_tokens=run.generated,
            prefill_ms=run.perf.get("prefill_time_ms", 0.0),
            generate_ms=run.perf.get("generate_time_ms", 0.0),
            history_turns_dropped=dropped,
            stop_reason="aborted"
            if stop.is_set()
            else ("length" if run.generated >= request.max_new_tokens else "end"),
            extra={"memory_mb": run.perf.get("memory_usage_mb", 0.0)},
        )
        stats.reused_tokens = max(stats.prompt_tokens - stats.prefill_tokens, 0)
        _LOGGER.info(
            "RKLLM perf: prefill %d tokens in %.0f ms, generated %d tokens in %.0f ms, "
            "memory %.0f MB, KV cache %s tokens",
            stats.prefill_tokens,
            stats.prefill_ms,
            int(run.perf.get("generate_tokens", run.generated)),
            stats.generate_ms,
            stats.extra["memory_mb"],
            kv_sizes,
        )
        return stats

    def _generate_held(
        self, request: GenerationRequest, emit: TextSink, stop: threading.Event
    ) -> GenerationStats:
        """An answer held to the grammar: the prompt fed as tokens, then one run a step."""
        assert self._vocab is not None and request.constraint is not None
        with self._call_lock:
            self._prepare_for_request(request)
            tokens, dropped = self._fit_tokens(request)
            first: dict[str, float] = {}
            steps = RkllmSteps(
                lambda ids, keep: self._logits_after(ids, keep, stop, first), self._vocab, tokens
            )
            started = time.perf_counter()
            steps.start()
            prefilled = time.perf_counter()
            counts = decode_constrained(
                self._vocab.pointer,
                request.constraint,
                self.settings.sampling(request.sampling),
                steps,
                emit,
                stop,
                min(request.max_new_tokens, self.settings.context_length - len(tokens)),
            )
            kv_sizes = self.kv_cache_sizes()
        prefill_tokens = int(first.get("prefill_tokens", len(tokens)))
        stats = GenerationStats(
            prompt_tokens=len(tokens),
            reused_tokens=max(len(tokens) - prefill_tokens, 0),
            prefill_tokens=prefill_tokens,
            generated_tokens=counts.sampled,
            prefill_ms=(prefilled - started) * 1000,
            generate_ms=(time.perf_counter() - prefilled) * 1000,
            history_turns_dropped=dropped,
            stop_reason=counts.stop_reason,
            extra={
                "forced_tokens": counts.forced,
                "grammar_refusals": counts.refused,
                # What a board's time is predicted from: the prompt's run, then one a step.
                "rkllm_runs": 1 + steps.runs,
                "fed_tokens": steps.fed,
            },
        )
        _LOGGER.info(
            "RKLLM held to the grammar: prompt %d tokens (%d prefilled), %d chosen, %d "
            "determined, %d runs after the prompt's, KV cache %s tokens",
            len(tokens),
            prefill_tokens,
            counts.sampled,
            counts.forced,
            steps.runs,
            kv_sizes,
        )
        return stats

    def _logits_after(
        self, tokens: list[int], keep_history: int, stop: threading.Event, first: dict[str, float]
    ) -> np.ndarray:
        """Feed tokens in one GET_LOGITS run; the last one's logits (the first run's perf too)."""
        run = _Run(emit=lambda _text: None, stop=stop, max_new_tokens=1, wants_logits=True)
        code = self._run_once("user", tokens, keep_history, run, 1)
        if stop.is_set():
            # Aborted: the decoding loop sees the stop before it reads these.
            assert self._vocab is not None
            return np.zeros(self._vocab.size, dtype=np.float32)
        if run.errored or code != 0 or run.logits is None:
            if not keep_history and len(tokens) + 1 >= self.settings.context_length:
                raise PromptTooLongError(
                    f"the prompt does not fit the context of {self.settings.context_length} tokens"
                )
            raise RuntimeFailure(f"rkllm_run (GET_LOGITS) failed (code {code}): {NPU_DRIVER_HINT}")
        if not first:
            first.update(run.perf)
        return run.logits

    def _fit_tokens(self, request: GenerationRequest) -> tuple[list[int], int]:
        """The whole prompt in tokens of the model's template, oldest turns dropped to fit."""
        assert self._vocab is not None and self._token_renderer is not None
        vocab, renderer = self._vocab, self._token_renderer

        def measure(keep: int) -> tuple[list[int], int]:
            rendered = renderer.render(request.messages(keep_turns=keep), request.tools_json)
            tokens = vocab.tokenize(rendered.prefix + rendered.rest, special=True)
            return tokens, len(tokens)

        fitted = fit_history(request, self.settings.context_length, measure)
        return fitted.prompt, fitted.history_turns_dropped

    def clear_context(self, keep_system_prompt: bool = True) -> None:
        library = self._require_library()
        with self._call_lock:
            library.clear_kv_cache(self._handle, keep_system_prompt)

    def abort(self) -> None:
        self._aborted = True
        library, handle = self.library, self._handle
        if library is not None and handle.value:
            try:
                library.abort(handle)
            except RkllmCallError as err:  # nothing running to abort: nothing to do
                _LOGGER.debug("%s", err)

    def close(self) -> None:
        if self._vocab is not None:
            self._vocab.close()
            self._vocab = None
        library = self.library
        if library is None:
            return
        with self._call_lock:
            try:
                if self._cache_loaded:
                    library.release_prompt_cache(self._handle)
                library.destroy(self._handle)
            except RkllmCallError as err:  # the handle is dropped either way
                _LOGGER.warning("Closing the model: %s", err)
            self._cache_loaded = False
            self._handle = LLMHandle()
            self.library = None
            self._prepared = None  # a loaded model prepares its prompt again

    # -- the callback ----------------------------------------------------------

    def _on_result(self, result: ctypes._Pointer[RKLLMResult], _userdata: int, state: int) -> int:
        # Runs on the runtime's thread: copy out, hand over, return at once.
        run = self._run
        if run is None:
            return CallbackReturn.CONTINUE
        try:
            if run.wants_logits and state == LLMCallState.NORMAL:
                run.logits = _last_logits(result.contents.logits)
            elif state in (LLMCallState.NORMAL, LLMCallState.WAITING):
                raw = result.contents.text
                if raw:
                    text = run.decoder.decode(raw)
                    if text and not run.stop.is_set():
                        run.emit(text)
                if state == LLMCallState.NORMAL:
                    run.generated += 1
                if run.stop.is_set() or run.generated >= run.max_new_tokens:
                    self._abort_from_callback(run)
            elif state == LLMCallState.FINISH:
                perf = result.contents.perf
                run.perf = {
                    "prefill_time_ms": float(perf.prefill_time_ms),
                    "prefill_tokens": float(perf.prefill_tokens),
                    "generate_time_ms": float(perf.generate_time_ms),
                    "generate_tokens": float(perf.generate_tokens),
                    "memory_usage_mb": float(perf.memory_usage_mb),
                }
                run.finished = True
            elif state == LLMCallState.ERROR:
                run.errored = True
        except Exception:  # an exception must never unwind into C
            _LOGGER.exception("Error in the RKLLM callback")
        return CallbackReturn.CONTINUE

    def _abort_from_callback(self, run: _Run) -> None:
        if run.abort_thread is not None:
            return
        # Not from inside the callback itself: the runtime may hold its own lock there.
        run.abort_thread = threading.Thread(target=self.abort, name="rkllm-abort", daemon=True)
        run.abort_thread.start()

    # -- helpers ---------------------------------------------------------------

    def _run_once(
        self,
        role: str,
        prompt: str | list[int],
        keep_history: int,
        run: _Run,
        max_new_tokens: int,
        cache_path: Path | None = None,
    ) -> int:
        """One rkllm_run: a prompt (through the chat template) or tokens (as they are)."""
        library = self._require_library()
        structs = library.structs
        role_bytes = role.encode()
        rk_input = structs.Input()
        rk_input.role = role_bytes
        rk_input.enable_thinking = False
        if isinstance(prompt, str):
            prompt_bytes = prompt.encode("utf-8", errors="replace")
            rk_input.input_type = RKLLMInputType.PROMPT
            rk_input.prompt_input = prompt_bytes
        else:
            ids = (ctypes.c_int32 * len(prompt))(*prompt)  # alive until the run returns
            rk_input.input_type = RKLLMInputType.TOKEN
            rk_input.token_input.input_ids = ids
            rk_input.token_input.n_tokens = len(prompt)
        infer = structs.InferParam()
        infer.mode = RKLLMInferMode.GET_LOGITS if run.wants_logits else RKLLMInferMode.GENERATE
        infer.keep_history = keep_history
        cache_param = None
        if cache_path is not None:
            cache_param = RKLLMPromptCacheParam(1, str(cache_path).encode())
            infer.prompt_cache_params = ctypes.pointer(cache_param)
        if library.abi == "1.3":
            infer.max_new_tokens = max_new_tokens
        self._run = run
        try:
            library.run(self._handle, rk_input, infer)
            return 0
        except RkllmCallError as err:
            return err.code
        finally:
            self._run = None
            if run.abort_thread is not None:
                # An abort meant for this run must not land on the next one.
                run.abort_thread.join(timeout=5)

    def _prepare_prompt_cache(self, cache_name: str) -> None:
        """Load the system prompt's saved state, or build and save it."""
        library = self._require_library()
        if not self.settings.prefix_cache or self.settings.cache_dir is None:
            self.prefix_source = "off"
            return
        cache = PromptCacheFile(self.settings.cache_dir / self.model_name, cache_name)
        key = cache_key(
            runtime=self.name,
            abi=library.abi,
            version=library.version,
            model=fingerprint_file(self.settings.model_path),
            context_length=self.settings.context_length,
            system_prompt=self._system_prompt,
            tools=self._tools_json,
            tokens=self._vocab is not None,
        )
        if self._cache_loaded:
            self._cache_loaded = False
            library.release_prompt_cache(self._handle)  # before switching
        started = time.perf_counter()
        if cache.is_valid(key):
            try:
                library.load_prompt_cache(self._handle, cache.bin_path)
            except RkllmCallError as err:
                _LOGGER.warning("The runtime refused prompt cache %s (%s)", cache.bin_path, err)
            else:
                self._cache_loaded = True
                self.prefix_source = "disk"
                _LOGGER.info(
                    "System prompt cache loaded from %s in %.0f ms",
                    cache.bin_path,
                    (time.perf_counter() - started) * 1000,
                )
                return
        writing = cache.writing_path()
        run = _Run(
            emit=lambda _text: None,
            stop=threading.Event(),
            max_new_tokens=1,
            wants_logits=not isinstance(self._seed_prompt, str),  # tokens: prefill them only
        )
        self._aborted = False
        code = self._run_once("user", self._seed_prompt, 0, run, 1, cache_path=writing)
        if self._aborted and not writing.is_file():
            # Cut short (a hang-up): the runtime keeps what it computed in its KV cache and
            # reuses that prefix when the block is run again (keep_history=0), so it is not
            # cleared; the block stays unprepared, to be finished and saved later.
            kv_sizes = self.kv_cache_sizes()
            raise PrefillInterrupted(
                "computing the system prompt interrupted",
                computed=int(kv_sizes[0]) if kv_sizes else 0,
                total=self.prefix_tokens,
            )
        if code != 0 or run.errored or not writing.is_file():
            _LOGGER.warning("Could not build the prompt cache (code %s); continuing without", code)
            self.prefix_source = "off"
            return
        source = "client prompt" if cache_name.startswith(CLIENT_CACHE_PREFIX) else "system prompt"
        cache.adopt(writing, key, model=self.model_name, runtime=self.name, source=source)
        forget_least_recent(cache.directory)
        self.prefix_source = "built"
        total, prefilled = self.prefix_tokens, int(run.perf.get("prefill_tokens", 0))
        if 0 < prefilled < total - 1:  # the runtime found a cut block's beginning computed
            _LOGGER.info(
                "Computing the system prompt resumed at token %d of %d", total - prefilled, total
            )
        _LOGGER.info(
            "System prompt cache built in %.0f ms and saved to %s",
            (time.perf_counter() - started) * 1000,
            cache.bin_path,
        )

    def _fit_prompt(self, request: GenerationRequest) -> tuple[str, int]:
        """The prompt text, oldest turns dropped until it fits the context."""
        # What the runtime puts in front of every prompt: counted once, not per try.
        if request.tools_json is not None:
            fixed = self._count(request.system_prompt) + 16
        else:
            fixed = self._count(self._prefix_text)

        def measure(keep: int) -> tuple[str, int]:
            messages = request.messages(keep_turns=keep)
            if request.tools_json is not None:
                # The runtime adds the system block (with the tools) itself.
                prompt = _render_chatml_body(messages[1:])
            else:
                rendered = self._renderer.render(messages)
                if self._prefix_text and rendered.prefix == self._prefix_text:
                    prompt = rendered.rest  # the runtime puts the system part in front
                else:
                    prompt = rendered.prefix + rendered.rest
            return prompt, fixed + self._count(prompt)

        # One that does not fit even alone is sent as it is: the runtime's refusal
        # is what tells (see _prompt_too_long).
        fitted = fit_history(request, self.settings.context_length, measure)
        return fitted.prompt, fitted.history_turns_dropped

    def _count(self, text: str) -> int:
        tokenizer = self.settings.tokenizer
        if tokenizer is not None:
            return tokenizer.count(text)
        return -(-len(text) // CHARS_PER_TOKEN)

    def _prompt_too_long(self, prompt: str) -> bool:
        if self.settings.tokenizer is not None:
            return self._count(prompt) >= self.settings.context_length
        # Without a tokenizer the count is an estimate: only call it too long when clearly so.
        return self._count(prompt) > self.settings.context_length * 0.9

    def kv_cache_sizes(self) -> list[int]:
        library = self._require_library()
        try:
            return library.get_kv_cache_size(self._handle)
        except (RkllmLibraryError, RkllmCallError):  # an older runtime, or no answer
            return []

    def _require_library(self) -> RkllmLibrary:
        if self.library is None or not self._handle.value:
            raise RuntimeFailure("the RKLLM model is not loaded")
        return self.library


def _render_chatml_body(messages: list[ChatMessage]) -> str:
    """Every message after the system block, ending inside the last user turn.

    The runtime's template adds the system block before and the closing
    ``<|im_end|>`` plus the assistant header after.
    """
    parts = [f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages[:-1]]
    last = messages[-1]
    parts.append(f"<|im_start|>{last.role}\n{last.content}")
    return "".join(parts)


def _last_logits(logits: RKLLMResultLogits) -> np.ndarray | None:
    """The last token's logits, copied: the runtime reuses the buffer after the callback."""
    size, tokens = int(logits.vocab_size), max(int(logits.num_tokens), 1)
    if not logits.logits or size <= 0:
        return None
    every = np.ctypeslib.as_array(logits.logits, shape=(size * tokens,))
    return every[-size:].copy()
