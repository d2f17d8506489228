"""The emulated librkllmrt.so (RKLLM's API on llama.cpp) under our real ctypes core and runtime.

The embedded model (a real GGUF) stands in for an .rkllm; everything else is
the NPU path as it runs on a board: library loading and version detection,
the callback on the runtime's thread, prompt caches, keep-history, abort,
token input and the logits that hold answers to the call grammar.
"""

from __future__ import annotations

import ctypes
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from rk_assist.core import emulated
from rk_assist.core.library import RkllmLibrary, find_library
from rk_assist.core.structs import (
    LLMCallState,
    LLMHandle,
    LLMResultCallback,
    RKLLMInferMode,
    RKLLMInputType,
    RKLLMLoraAdapter,
)
from rk_assist.errors import ModelFileError, PromptTooLongError, RkllmLibraryError
from rk_assist.home.call_grammar import answer_constraint, speech_constraint
from rk_assist.home.model import load_home
from rk_assist.home.prompt import HOME_TOOLS_JSON, home_prompt
from rk_assist.output.calls import parse_tool_calls
from rk_assist.output.speech import BlockStripper
from rk_assist.runtimes.base import ChatMessage, GenerationRequest
from rk_assist.runtimes.embedded import embedded_model_path
from rk_assist.runtimes.rkllm import RkllmRuntime, RkllmSettings
from rk_assist.runtimes.rkllm_logits import RkllmSteps

pytestmark = pytest.mark.model
ABIS = ["1.2", "1.3"]
SYSTEM = "You are a voice assistant. Answer in one short sentence."
HOME = Path(__file__).parent.parent / "eval" / "house-en" / "home.yaml"


def make(abi: str, cache_dir: Path | None = None, **overrides) -> RkllmRuntime:
    settings = {"context_length": 2048, "temperature": 0.0, "cpu_mask": 0x3} | overrides
    runtime = RkllmRuntime(
        RkllmSettings(
            model_path=embedded_model_path(),
            library_path=Path(emulated.EMULATED),
            abi=abi,
            cache_dir=cache_dir,
            **settings,
        )
    )
    runtime.load()
    return runtime


def ask(runtime: RkllmRuntime, text: str, stop=None, **fields):
    pieces: list[str] = []
    threads: set[int] = set()

    def emit(piece: str) -> None:
        pieces.append(piece)
        threads.add(threading.get_ident())

    request = GenerationRequest(
        system_prompt=fields.pop("system_prompt", SYSTEM),
        turn=(ChatMessage("user", text),),
        max_new_tokens=fields.pop("max_new_tokens", 24),
        **fields,
    )
    stats = runtime.generate(request, emit, stop or threading.Event())
    return "".join(pieces), stats, threads


@pytest.mark.parametrize("abi", ABIS)
def test_it_is_chosen_by_name_and_tells_its_version(abi):
    library = RkllmLibrary.open(emulated.EMULATED, abi)
    assert (library.abi, library.version) == (abi, emulated.VERSIONS[abi])
    assert library.path == emulated.library_path(abi)
    with pytest.raises(RkllmLibraryError):  # never found in place of a real library
        find_library("/nonexistent/librkllmrt.so")
    assert RkllmLibrary.open(emulated.EMULATED, "auto").abi == "1.3"


@pytest.mark.parametrize("abi", ABIS)
def test_answers_stream_from_the_runtime_thread_and_a_prefix_is_reused(abi):
    runtime = make(abi)
    try:
        runtime.prepare_system_prompt(SYSTEM)
        text, stats, threads = ask(runtime, "What is the capital of France?")
        assert text.strip() and threading.get_ident() not in threads
        assert stats.prefill_tokens > 0 and stats.generated_tokens > 0
        assert stats.stop_reason in ("end", "length")
        again, second, _ = ask(runtime, "What is the capital of France?")
        assert again == text  # greedy: the same answer
        assert second.prefill_tokens < stats.prefill_tokens  # the runtime reused its KV prefix
        assert runtime.kv_cache_sizes()[0] >= second.prompt_tokens
    finally:
        runtime.close()


@pytest.mark.parametrize("abi", ABIS)
def test_the_prompt_cache_is_saved_and_loaded(abi, tmp_path: Path):
    first = make(abi, tmp_path)
    try:
        first.prepare_system_prompt(SYSTEM)
        assert first.prefix_source == "built"
        built, _, _ = ask(first, "Name a colour.")
    finally:
        first.close()
    second = make(abi, tmp_path)
    try:
        second.prepare_system_prompt(SYSTEM)
        assert second.prefix_source == "disk"
        loaded, stats, _ = ask(second, "Name a colour.")
        assert loaded == built
        assert stats.reused_tokens > 0
    finally:
        second.close()


@pytest.mark.parametrize("abi", ABIS)
def test_a_stop_aborts_the_answer(abi):
    runtime = make(abi)
    stop = threading.Event()
    try:
        runtime.prepare_system_prompt(SYSTEM)
        pieces: list[str] = []

        def emit(piece: str) -> None:
            pieces.append(piece)
            if len(pieces) == 3:
                stop.set()
                runtime.abort()

        request = GenerationRequest(
            system_prompt=SYSTEM,
            turn=(ChatMessage("user", "Tell me a long story about a dragon."),),
            max_new_tokens=200,
        )
        stats = runtime.generate(request, emit, stop)
        assert stats.stop_reason == "aborted" and stats.generated_tokens < 20
        text, _, _ = ask(runtime, "Say hello.")  # the model serves the next request
        assert text.strip()
    finally:
        runtime.close()


@pytest.mark.parametrize("abi", ABIS)
def test_answers_are_held_to_the_call_grammar_through_logits(abi):
    home = load_home(HOME)
    runtime = make(abi)
    try:
        assert runtime.can_constrain
        system = home_prompt(SYSTEM, home)
        runtime.prepare_system_prompt(system, HOME_TOOLS_JSON)
        stripper = BlockStripper()
        text, stats, _ = ask(
            runtime,
            "turn on the kitchen ceiling light",
            system_prompt=system,
            tools_json=HOME_TOOLS_JSON,
            constraint=answer_constraint(home),
            max_new_tokens=48,
        )
        stripper.feed(text)
        stripper.finish()
        calls, problems = parse_tool_calls(stripper.captured)
        # Whatever a 135M model chooses, the grammar holds it: a readable call, or words.
        assert problems == []
        assert calls or text.strip()
        # One run for the prompt, then one a step: each feeds the chosen token and the text the
        # grammar determines after it.
        assert stats.extra["rkllm_runs"] >= 1
        assert stats.extra["fed_tokens"] >= stats.generated_tokens - 1
        assert stats.extra["fed_tokens"] >= stats.extra["forced_tokens"]
        words, spoken, _ = ask(
            runtime, "hello there", constraint=speech_constraint(), max_new_tokens=16
        )
        assert "{" not in words and "<tool_call>" not in words
        assert spoken.extra["rkllm_runs"] >= 1
    finally:
        runtime.close()


def test_the_grammar_switch_turns_the_logits_path_off():
    runtime = make("1.3", constrain=False)
    try:
        assert not runtime.can_constrain
        runtime.prepare_system_prompt(SYSTEM)
        _, stats, _ = ask(runtime, "Say hello.", constraint=speech_constraint())
        assert "rkllm_runs" not in stats.extra  # the runtime sampled on its own
    finally:
        runtime.close()


@pytest.mark.parametrize("abi", ABIS)
def test_a_prompt_too_long_is_refused_not_truncated(abi):
    runtime = make(abi, context_length=256)
    try:
        runtime.prepare_system_prompt(SYSTEM)
        with pytest.raises(PromptTooLongError):
            ask(runtime, "word " * 600)
        with pytest.raises(PromptTooLongError):
            ask(runtime, "word " * 600, constraint=speech_constraint())
    finally:
        runtime.close()


def test_an_rkllm_file_is_refused_by_the_emulated_runtime(tmp_path: Path):
    model = tmp_path / "model.rkllm"
    model.write_bytes(b"RKLLM" + b"\0" * 64)
    runtime = RkllmRuntime(
        RkllmSettings(model_path=model, library_path=Path(emulated.EMULATED), context_length=512)
    )
    with pytest.raises(ModelFileError, match="GGUF"):
        runtime.load()


def open_handle(library: RkllmLibrary, callback) -> LLMHandle:
    """The embedded model loaded straight through the C API (the caller keeps the callback)."""
    param = library.create_default_param()
    param.model_path = str(embedded_model_path()).encode()
    param.max_context_len = 512
    handle = LLMHandle()
    library.init(handle, param, callback)
    return handle


@pytest.mark.parametrize("abi", ABIS)
def test_what_needs_the_npu_fails_as_the_runtime_fails(abi):
    """LoRA, hidden layers and embedding input: -1 and an error state, never a fake answer."""
    library = RkllmLibrary.open(emulated.EMULATED, abi)
    states: list[int] = []
    logits_sizes: list[int] = []

    def on_result(result, _userdata, state):
        states.append(state)
        if state == LLMCallState.NORMAL and result.contents.logits.logits:
            logits_sizes.append(result.contents.logits.vocab_size)
        return 0

    callback = LLMResultCallback(on_result)
    handle = open_handle(library, callback)
    try:
        adapter = RKLLMLoraAdapter(b"/nonexistent.rkllm", b"adapter", 1.0)
        assert library.function("rkllm_load_lora")(handle, ctypes.byref(adapter)) == -1
        structs = library.structs
        ids = (ctypes.c_int32 * 3)(1, 2, 3)
        rk_input = structs.Input()
        rk_input.role = b"user"
        rk_input.input_type = RKLLMInputType.TOKEN
        rk_input.token_input.input_ids = ids
        rk_input.token_input.n_tokens = 3
        infer = structs.InferParam()
        infer.mode = RKLLMInferMode.GET_LOGITS
        run = library.function("rkllm_run")
        assert run(handle, ctypes.byref(rk_input), ctypes.byref(infer), None) == 0
        assert states[-1] == LLMCallState.FINISH and logits_sizes and logits_sizes[0] > 1000
        states.clear()
        infer.mode = RKLLMInferMode.GET_LAST_HIDDEN_LAYER
        assert run(handle, ctypes.byref(rk_input), ctypes.byref(infer), None) == -1
        assert states == [LLMCallState.ERROR]
        states.clear()
        infer.mode = RKLLMInferMode.GENERATE
        rk_input.input_type = RKLLMInputType.EMBED
        assert run(handle, ctypes.byref(rk_input), ctypes.byref(infer), None) == -1
        assert states == [LLMCallState.ERROR]
    finally:
        library.destroy(handle)


def test_function_tools_need_a_json_array():
    library = RkllmLibrary.open(emulated.EMULATED, "1.3")
    callback = LLMResultCallback(lambda *_args: 0)
    handle = open_handle(library, callback)
    try:
        tools = library.function("rkllm_set_function_tools")
        offered = [{"type": "function", "function": {"name": "HassTurnOn", "parameters": {}}}]
        assert tools(handle, b"sys", json.dumps(offered).encode(), b"tool_response") == 0
        assert tools(handle, b"sys", b'{"not": "an array"}', b"tr") == -1
        assert tools(handle, b"sys", b'[{"unclosed": ', b"tr") == -1
    finally:
        library.destroy(handle)


def test_run_async_returns_at_once_and_finishes_on_its_thread():
    library = RkllmLibrary.open(emulated.EMULATED, "1.3")
    finished = threading.Event()
    states: list[int] = []

    def on_result(_result, _userdata, state):
        states.append(state)
        if state in (LLMCallState.FINISH, LLMCallState.ERROR):
            finished.set()
        return 0

    callback = LLMResultCallback(on_result)
    param = library.create_default_param()
    param.model_path = str(embedded_model_path()).encode()
    param.max_context_len = 512
    param.max_new_tokens = 8
    param.is_async = True
    handle = LLMHandle()
    library.init(handle, param, callback)
    try:
        structs = library.structs
        rk_input = structs.Input()
        rk_input.role = b"user"
        rk_input.input_type = RKLLMInputType.PROMPT
        prompt = b"Say hello."
        rk_input.prompt_input = prompt
        infer = structs.InferParam()
        assert (
            library.function("rkllm_run_async")(
                handle, ctypes.byref(rk_input), ctypes.byref(infer), None
            )
            == 0
        )
        assert finished.wait(60)
        assert states[-1] == LLMCallState.FINISH and LLMCallState.NORMAL in states
    finally:
        library.destroy(handle)


def test_the_runtime_logits_are_read_over_the_tokenizer_vocabulary():
    """A converted model's output layer may be padded past the tokenizer (Qwen: 151,936 rows
    for 151,665 tokens): rows past it are never chosen, and a shorter one is never read past."""

    class FiveTokens:
        size = 5

    padded = RkllmSteps(lambda _t, _k: np.arange(7, dtype=np.float32), FiveTokens(), [1])
    padded.start()
    assert padded.logits().tolist() == [0, 1, 2, 3, 4]
    short = RkllmSteps(lambda _t, _k: np.arange(3, dtype=np.float32), FiveTokens(), [1])
    short.feed([2])
    assert short.logits()[:3].tolist() == [0, 1, 2] and np.isinf(short.logits()[3:]).all()
    assert (short.runs, short.fed, short.tokens) == (1, 1, [1, 2])


def test_a_system_block_cut_short_is_kept_by_the_runtime_and_finished_later(tmp_path, caplog):
    """Issue 33 on the NPU path: an abort during the prompt-cache build keeps the KV the
    runtime computed; the block stays unprepared, and finishing it resumes there."""
    caplog.set_level("INFO", logger="rk_assist.runtimes.rkllm")
    system = "You control a home. Its devices:\n" + "\n".join(
        f"- light.room_{n}: the ceiling light of room {n}, off" for n in range(90)
    )
    runtime = make("1.3", cache_dir=tmp_path, context_length=4096)
    try:
        runtime.prepare_system_prompt(SYSTEM)
        stop = threading.Event()
        result: dict = {}
        request = GenerationRequest(
            system_prompt=system, turn=(ChatMessage("user", "Say hello."),), max_new_tokens=8
        )
        worker = threading.Thread(
            target=lambda: result.update(stats=runtime.generate(request, lambda _: None, stop))
        )
        worker.start()
        while runtime.kv_cache_sizes()[0] < 512:  # a first batch of the block is computed
            assert worker.is_alive(), "the block was computed before the hang-up"
            worker.join(0.005)
        stop.set()
        runtime.abort()
        worker.join(60)
        stats = result["stats"]
        assert stats.stop_reason == "aborted" and stats.generated_tokens == 0
        assert 512 <= stats.prefill_tokens < runtime.prefix_tokens
        assert runtime.cut_prefix is not None and runtime.system_prompt is None
        assert not list((tmp_path / runtime.model_name).glob("prefix-*.bin"))
        # The model is idle: the block is finished from where the runtime kept it, and saved.
        assert runtime.finish_cut_prefix(threading.Event()) is True
        assert runtime.cut_prefix is None and runtime.prefix_source == "built"
        assert list((tmp_path / runtime.model_name).glob("prefix-*.bin"))
        resumed = [r.getMessage() for r in caplog.records if "resumed at token" in r.getMessage()]
        assert resumed, "the runtime computed the whole block again"
        text, _, _ = ask(runtime, "Say hello.", system_prompt=system)
        assert text.strip()
    finally:
        runtime.close()
