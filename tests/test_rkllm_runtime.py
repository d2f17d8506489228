"""The real RkllmRuntime class driving the librkllmrt.so double, for both ABIs."""

from __future__ import annotations

import ctypes
import json
import threading
from pathlib import Path

import pytest

from rk_assist.core.library import RkllmLibrary
from rk_assist.core.structs import LLMHandle, LLMResultCallback
from rk_assist.errors import ModelFileError, PromptTooLongError, RuntimeFailure
from rk_assist.runtimes.base import ChatMessage, GenerationRequest
from rk_assist.runtimes.rkllm import RkllmRuntime, RkllmSettings

from .rkllm_double import write_model

SYSTEM = "You are a voice assistant. Answer briefly."
ABIS = ["1.2", "1.3"]


def make(library: Path, model: Path, cache_dir: Path | None = None, **overrides) -> RkllmRuntime:
    runtime = RkllmRuntime(
        RkllmSettings(model_path=model, library_path=library, cache_dir=cache_dir, **overrides)
    )
    runtime.load()
    runtime.prepare_system_prompt(SYSTEM)
    return runtime


def ask(
    runtime: RkllmRuntime,
    text: str,
    max_new_tokens: int = 128,
    history=(),
    stop=None,
    **request_fields,
):
    pieces: list[str] = []
    threads: set[int] = set()

    def emit(piece: str) -> None:
        pieces.append(piece)
        threads.add(threading.get_ident())

    request = GenerationRequest(
        system_prompt=request_fields.pop("system_prompt", SYSTEM),
        turn=(ChatMessage("user", text),),
        history=history,
        max_new_tokens=max_new_tokens,
        **request_fields,
    )
    stats = runtime.generate(request, emit, stop or threading.Event())
    return "".join(pieces), pieces, stats, threads


@pytest.mark.parametrize("abi", ABIS)
def test_streams_tokens_from_the_runtime_thread_and_reports_perf(rkllm_doubles, rkllm_model, abi):
    runtime = make(rkllm_doubles[abi], rkllm_model)
    assert runtime.library.abi == abi
    text, pieces, stats, threads = ask(runtime, "What is the temperature?")
    # The degree sign and the accented letters arrive split across WAITING callbacks.
    assert text == "You said: What is the temperature?. It is 21°C inside, naïve café."
    assert len(pieces) > 5
    assert threading.get_ident() not in threads  # the callback ran on the runtime's thread
    assert stats.prefill_tokens > 0 and stats.generated_tokens >= 12
    assert stats.extra["memory_mb"] == pytest.approx(321.5)  # perf copied from FINISH
    assert stats.prompt_tokens > 0  # from rkllm_get_kv_cache_size
    assert stats.stop_reason == "end"
    runtime.close()


@pytest.mark.parametrize("abi", ABIS)
def test_history_goes_in_the_prompt_and_the_prefix_is_reused(rkllm_doubles, rkllm_model, abi):
    runtime = make(rkllm_doubles[abi], rkllm_model)
    first_text, _, first, _ = ask(runtime, "My cat is Whiskers.")
    turn = (ChatMessage("user", "My cat is Whiskers."), ChatMessage("assistant", first_text))
    _, _, second, _ = ask(runtime, "What is my cat called?", history=[turn])
    # keep_history=0 with the whole conversation: the runtime reuses the matching prefix.
    assert second.prefill_tokens < second.prompt_tokens
    assert second.prompt_tokens > first.prompt_tokens
    runtime.close()


@pytest.mark.parametrize("abi", ABIS)
def test_prompt_cache_is_built_saved_and_loaded(rkllm_doubles, rkllm_model, tmp_path, abi):
    cache_dir = tmp_path / "cache"
    first = make(rkllm_doubles[abi], rkllm_model, cache_dir)
    assert first.prefix_source == "built"
    folder = cache_dir / rkllm_model.stem
    (bin_path,) = folder.glob("system-*.bin")
    metadata = json.loads(bin_path.with_suffix(".json").read_text())
    assert metadata["size"] == bin_path.stat().st_size
    _, _, cold, _ = ask(first, "Hello there.")
    first.close()

    second = make(rkllm_doubles[abi], rkllm_model, cache_dir)
    assert second.prefix_source == "disk"
    _, _, warm, _ = ask(second, "Hello there.")
    # The system prompt came from the cache file: only the new turn was prefilled.
    assert warm.prefill_tokens < warm.prompt_tokens
    assert warm.prefill_tokens == cold.prefill_tokens
    second.close()

    bin_path.write_bytes(b"garbage that is not a prompt cache")
    third = make(rkllm_doubles[abi], rkllm_model, cache_dir)
    assert third.prefix_source == "built"  # checksum mismatch: rebuilt, never loaded
    third.close()
    fourth = make(rkllm_doubles[abi], rkllm_model, cache_dir, context_length=2048)
    assert fourth.prefix_source == "built"  # another context: another key
    fourth.close()


@pytest.mark.parametrize("abi", ABIS)
def test_stop_aborts_a_long_answer(rkllm_doubles, rkllm_model, abi):
    runtime = make(rkllm_doubles[abi], rkllm_model)
    stop = threading.Event()
    pieces: list[str] = []

    def emit(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 5:
            stop.set()

    request = GenerationRequest(
        system_prompt=SYSTEM, turn=(ChatMessage("user", "A long story"),), max_new_tokens=400
    )
    stats = runtime.generate(request, emit, stop)
    assert stats.stop_reason == "aborted"
    assert 5 <= stats.generated_tokens < 20
    text, _, after, _ = ask(runtime, "Still there?")  # the next run is not aborted
    assert after.stop_reason == "end" and text.startswith("You said")
    runtime.close()


@pytest.mark.parametrize("abi", ABIS)
def test_abort_from_another_thread(rkllm_doubles, rkllm_model, abi):
    runtime = make(rkllm_doubles[abi], rkllm_model)
    started = threading.Event()
    stop = threading.Event()

    def emit(_piece: str) -> None:
        started.set()

    def abort_soon() -> None:
        started.wait(5)
        stop.set()
        runtime.abort()

    helper = threading.Thread(target=abort_soon)
    helper.start()
    request = GenerationRequest(
        system_prompt=SYSTEM, turn=(ChatMessage("user", "A long story"),), max_new_tokens=400
    )
    stats = runtime.generate(request, emit, stop)
    helper.join()
    assert stats.stop_reason == "aborted" and stats.generated_tokens < 60
    runtime.close()


@pytest.mark.parametrize("abi", ABIS)
def test_answer_length_is_capped_per_request(rkllm_doubles, rkllm_model, abi):
    runtime = make(rkllm_doubles[abi], rkllm_model)
    _, _, stats, _ = ask(runtime, "A long story please", max_new_tokens=6)
    assert stats.generated_tokens <= 7 and stats.stop_reason == "length"
    runtime.close()


@pytest.mark.parametrize("abi", ABIS)
def test_too_long_prompt_is_an_error_not_a_truncation(rkllm_doubles, rkllm_model, abi):
    runtime = make(rkllm_doubles[abi], rkllm_model, context_length=256)
    with pytest.raises(PromptTooLongError):
        ask(runtime, "please " * 400)
    text, _, _, _ = ask(runtime, "Short one.")  # the handle still works
    assert text
    runtime.close()


@pytest.mark.parametrize("abi", ABIS)
def test_tool_calls_and_the_tool_result_round_trip(rkllm_doubles, rkllm_model, abi):
    runtime = make(rkllm_doubles[abi], rkllm_model)
    tools = json.dumps(
        [
            {
                "type": "function",
                "function": {
                    "name": "HassTurnOn",
                    "description": "Turn on a device",
                    "parameters": {"type": "object", "properties": {"name": {"type": "string"}}},
                },
            }
        ]
    )
    text, _, _, _ = ask(runtime, "Turn on the kitchen light.", tools_json=tools)
    assert text.startswith("<tool_call>")
    call = json.loads(text.removeprefix("<tool_call>").removesuffix("</tool_call>"))
    assert call == {"name": "HassTurnOn", "arguments": {"name": "kitchen light"}}
    results = json.dumps([{"name": "HassTurnOn", "content": {"success": True}}])
    text, _, _, _ = ask(
        runtime, "Turn on the kitchen light.", tools_json=tools, tool_results_json=results
    )
    # The runtime's own tool round trip (tools given through set_function_tools).
    assert text.startswith("Done, the tool said") and "success : true" in text
    runtime.close()


@pytest.mark.parametrize("abi", ABIS)
def test_init_failures_are_clear_messages(rkllm_doubles, tmp_path, abi):
    library = rkllm_doubles[abi]
    bad_magic = tmp_path / "broken.rkllm"
    bad_magic.write_text("this is not a converted model\n")
    with pytest.raises(RuntimeFailure, match=r"NPU driver is 0\.9\.8"):
        make(library, bad_magic)
    small = write_model(tmp_path / "small.rkllm", limit=1024)
    with pytest.raises(RuntimeFailure, match=r"rkllm_init failed.*context 2048"):
        make(library, small, context_length=2048)
    with pytest.raises(RuntimeFailure, match="multiple of 32"):
        make(library, small, context_length=1000)
    with pytest.raises(ModelFileError, match="not found"):
        make(library, tmp_path / "missing.rkllm")
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF\x03\x00\x00\x00")
    with pytest.raises(ModelFileError, match="--runtime cpu"):
        make(library, gguf)


def test_the_double_catches_an_abi_mismatch(rkllm_doubles, rkllm_model):
    # 1.2 structs against a 1.3 library: the double reads garbage where n_batch
    # should be and refuses, as a real runtime would misbehave.
    with pytest.raises(RuntimeFailure, match="rkllm_init failed"):
        make(rkllm_doubles["1.3"], rkllm_model, abi="1.2")


@pytest.mark.parametrize("abi", ABIS)
def test_the_double_rejects_a_float_top_k(rkllm_doubles, rkllm_model, abi):
    library = RkllmLibrary.open(rkllm_doubles[abi])
    param = library.function("rkllm_createDefaultParam")()
    param.model_path = str(rkllm_model).encode()
    ctypes.memmove(ctypes.addressof(param) + 16, ctypes.byref(ctypes.c_float(40.0)), 4)
    callback = LLMResultCallback(lambda *_args: 0)
    handle = LLMHandle()
    if abi == "1.2":
        code = library.function("rkllm_init")(ctypes.byref(handle), ctypes.byref(param), callback)
    else:
        from rk_assist.core.structs import RKLLMCallback

        callbacks = RKLLMCallback(result_callback=callback)
        code = library.function("rkllm_init")(
            ctypes.byref(handle), ctypes.byref(param), ctypes.byref(callbacks)
        )
    assert code != 0 and not handle.value


@pytest.mark.parametrize("abi", ABIS)
def test_closed_runtime_refuses_work(rkllm_doubles, rkllm_model, abi):
    runtime = make(rkllm_doubles[abi], rkllm_model)
    runtime.close()
    runtime.close()  # twice is harmless
    with pytest.raises(RuntimeFailure, match="not loaded"):
        ask(runtime, "hello")


@pytest.mark.parametrize("abi", ABIS)
def test_clear_context_keeps_only_the_system_prompt(rkllm_doubles, rkllm_model, abi):
    runtime = make(rkllm_doubles[abi], rkllm_model)
    _, _, before, _ = ask(runtime, "Something to remember for a while.")
    runtime.clear_context(keep_system_prompt=True)
    assert 0 < runtime.kv_cache_sizes()[0] < before.prompt_tokens
    runtime.clear_context(keep_system_prompt=False)
    assert runtime.kv_cache_sizes() == [0]
    runtime.close()
