"""The llama.cpp runtime with the real embedded model: prompt state, trimming, errors."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from rk_assist.assistant.prompt import default_system_prompt
from rk_assist.errors import ModelFileError, PrefillInterrupted, PromptTooLongError
from rk_assist.runtimes.base import ChatMessage, GenerationRequest
from rk_assist.runtimes.embedded import embedded_model_path
from rk_assist.runtimes.llama_cpp import LlamaCppRuntime, LlamaCppSettings
from rk_assist.runtimes.prompt_cache import client_cache_name, service_cache_name

SYSTEM = default_system_prompt()
QUESTION = (ChatMessage("user", "What is the capital of France?"),)


def make_runtime(cache_dir: Path | None, **overrides) -> LlamaCppRuntime:
    settings = LlamaCppSettings(
        model_path=embedded_model_path(), cache_dir=cache_dir, temperature=0.0, **overrides
    )
    runtime = LlamaCppRuntime(settings)
    runtime.load()
    return runtime


def answer(runtime: LlamaCppRuntime, request: GenerationRequest) -> tuple[str, object]:
    pieces: list[str] = []
    stats = runtime.generate(request, pieces.append, threading.Event())
    return "".join(pieces), stats


def request(system: str = SYSTEM, history=(), max_new_tokens: int = 24) -> GenerationRequest:
    return GenerationRequest(
        system_prompt=system, turn=QUESTION, history=history, max_new_tokens=max_new_tokens
    )


def cache_paths(cache_dir: Path, runtime: LlamaCppRuntime) -> tuple[Path, Path]:
    folder, name = cache_dir / runtime.model_name, service_cache_name(SYSTEM, None)
    return folder / f"{name}.bin", folder / f"{name}.json"


def test_system_prompt_state_is_saved_and_restored_exactly(tmp_path: Path):
    first = make_runtime(tmp_path)
    first.prepare_system_prompt(SYSTEM)
    assert first.prefix_source == "built"
    built_text, built_stats = answer(first, request())
    first.close()
    bin_path, json_path = cache_paths(tmp_path, first)
    metadata = json.loads(json_path.read_text())
    assert metadata["size"] == bin_path.stat().st_size
    assert metadata["tokens"] == first.prefix_tokens
    assert metadata["model"] == "SmolLM2-135M-Instruct.Q4_1"

    second = make_runtime(tmp_path)
    second.prepare_system_prompt(SYSTEM)
    assert second.prefix_source == "disk"
    restored_text, restored_stats = answer(second, request())
    second.close()
    # Greedy decoding from the restored state gives the very same answer.
    assert restored_text == built_text and built_text
    assert restored_stats.reused_tokens == second.prefix_tokens
    assert restored_stats.prefill_tokens == built_stats.prefill_tokens


def _flip_bytes(bin_path: Path, json_path: Path) -> None:
    data = bytearray(bin_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bin_path.write_bytes(bytes(data))


def _truncate(bin_path: Path, json_path: Path) -> None:
    bin_path.write_bytes(bin_path.read_bytes()[:1000])


def _garbage_metadata(bin_path: Path, json_path: Path) -> None:
    json_path.write_text("{ not json")


def _foreign_metadata(bin_path: Path, json_path: Path) -> None:
    metadata = json.loads(json_path.read_text())
    metadata["key"] = "0" * 64
    json_path.write_text(json.dumps(metadata))


def _metadata_missing(bin_path: Path, json_path: Path) -> None:
    json_path.unlink()


@pytest.mark.parametrize(
    "damage", [_flip_bytes, _truncate, _garbage_metadata, _foreign_metadata, _metadata_missing]
)
def test_damaged_or_foreign_cache_is_rebuilt_never_loaded(tmp_path: Path, damage):
    runtime = make_runtime(tmp_path)
    runtime.prepare_system_prompt(SYSTEM)
    runtime.close()
    bin_path, json_path = cache_paths(tmp_path, runtime)
    damage(bin_path, json_path)

    rebuilt = make_runtime(tmp_path)
    rebuilt.prepare_system_prompt(SYSTEM)
    assert rebuilt.prefix_source == "built"
    text, _ = answer(rebuilt, request())
    assert text
    rebuilt.close()
    again = make_runtime(tmp_path)  # and the rebuilt file is valid again
    again.prepare_system_prompt(SYSTEM)
    assert again.prefix_source == "disk"
    again.close()


def test_changed_prompt_or_context_makes_the_cache_stale(tmp_path: Path):
    runtime = make_runtime(tmp_path)
    runtime.prepare_system_prompt(SYSTEM)
    runtime.prepare_system_prompt(SYSTEM + "\nAlways mention the weather.")
    assert runtime.prefix_source == "built"
    runtime.close()
    other_context = make_runtime(tmp_path, context_length=1024)
    other_context.prepare_system_prompt(SYSTEM + "\nAlways mention the weather.")
    assert other_context.prefix_source == "built"
    other_context.close()


def test_request_with_a_new_system_prompt_is_prepared_on_the_fly(tmp_path: Path):
    runtime = make_runtime(None)
    runtime.prepare_system_prompt(SYSTEM)
    _, stats = answer(runtime, request(system="You are a pirate. Answer like a pirate."))
    assert runtime.system_prompt == "You are a pirate. Answer like a pirate."
    # This request computed the new system block itself: prefilled, not reused (but for
    # the template's opening tokens, which the service's block shares with it).
    assert stats.reused_tokens < runtime.prefix_tokens // 2
    assert stats.reused_tokens + stats.prefill_tokens == stats.prompt_tokens
    _, again = answer(runtime, request(system="You are a pirate. Answer like a pirate."))
    assert again.reused_tokens >= runtime.prefix_tokens
    runtime.close()


def test_without_prefix_cache_every_turn_recomputes_the_prompt(tmp_path: Path):
    runtime = make_runtime(tmp_path, prefix_cache=False)
    runtime.prepare_system_prompt(SYSTEM)
    assert runtime.prefix_source == "off"
    assert not (tmp_path / runtime.model_name).exists()
    for _ in range(2):
        _, stats = answer(runtime, request())
        assert stats.reused_tokens == 0
        assert stats.prefill_tokens == stats.prompt_tokens
    runtime.close()


def test_old_history_is_dropped_to_fit_the_context():
    runtime = make_runtime(None, context_length=512)
    runtime.prepare_system_prompt(SYSTEM)
    long_turn = (
        ChatMessage("user", "Tell me about the weather in a long way. " * 6),
        ChatMessage("assistant", "The weather is mild and pleasant today. " * 6),
    )
    text, stats = answer(runtime, request(history=[long_turn] * 8, max_new_tokens=64))
    assert text
    assert stats.history_turns_dropped > 0
    assert stats.prompt_tokens + 64 <= 512
    runtime.close()


def test_prompt_that_cannot_fit_is_refused():
    runtime = make_runtime(None, context_length=256)
    with pytest.raises(PromptTooLongError):
        runtime.prepare_system_prompt(SYSTEM + " Be concise." * 80)
    runtime.close()


def test_stop_event_ends_generation_between_tokens():
    runtime = make_runtime(None)
    runtime.prepare_system_prompt(SYSTEM)
    stop = threading.Event()
    pieces: list[str] = []

    def emit(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            stop.set()

    long_request = GenerationRequest(
        system_prompt=SYSTEM,
        turn=(ChatMessage("user", "Tell me a long story."),),
        max_new_tokens=200,
    )
    stats = runtime.generate(long_request, emit, stop)
    assert stats.stop_reason == "aborted"
    assert len(pieces) == 3 and stats.generated_tokens == 3
    runtime.close()


def test_answer_length_is_capped():
    runtime = make_runtime(None)
    runtime.prepare_system_prompt(SYSTEM)
    long_request = GenerationRequest(
        system_prompt=SYSTEM,
        turn=(ChatMessage("user", "Tell me a long story."),),
        max_new_tokens=10,
    )
    _, stats = answer(runtime, long_request)
    assert stats.stop_reason == "length" and stats.generated_tokens == 10
    runtime.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.gguf", "not found"),
        (lambda p: p, "not a file"),
        (lambda p: _write(p / "model.gguf", b"PK\x03\x04 a zip, not a model"), "not a GGUF"),
        (
            lambda p: _write(p / "cut.gguf", b"GGUF\x03\x00\x00\x00" + b"\x00" * 64),
            "could not load",
        ),
    ],
)
def test_bad_model_files_fail_with_the_path(tmp_path: Path, make, message):
    path = make(tmp_path)
    runtime = LlamaCppRuntime(LlamaCppSettings(model_path=path))
    with pytest.raises(ModelFileError, match=message) as caught:
        runtime.load()
    assert str(path) in str(caught.value)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_clear_context_keeps_the_system_prompt_state():
    runtime = make_runtime(None)
    runtime.prepare_system_prompt(SYSTEM)
    answer(runtime, request())
    runtime.clear_context(keep_system_prompt=True)
    _, stats = answer(runtime, request())
    assert stats.reused_tokens == runtime.prefix_tokens
    runtime.clear_context(keep_system_prompt=False)
    _, stats = answer(runtime, request())
    assert stats.reused_tokens == 0
    runtime.close()


def test_interleaved_conversations_resume_from_their_own_saved_state(tmp_path: Path):
    """Another conversation in between must not cost this one its history's prefill."""
    runtime = make_runtime(tmp_path)
    runtime.prepare_system_prompt(SYSTEM)
    first_a, _ = answer(runtime, request())
    other = GenerationRequest(
        system_prompt=SYSTEM, turn=(ChatMessage("user", "Name a colour."),), max_new_tokens=24
    )
    answer(runtime, other)  # the KV cache now holds the other conversation
    follow_up = GenerationRequest(
        system_prompt=SYSTEM,
        turn=(ChatMessage("user", "And of Italy?"),),
        history=((*QUESTION, ChatMessage("assistant", first_a)),),
        max_new_tokens=8,
    )
    _, stats = answer(runtime, follow_up)
    # Restored: the system block, the first question and the answer, not just the system block.
    assert stats.reused_tokens > runtime.prefix_tokens + 10
    assert stats.prefill_tokens < 20

    without = make_runtime(tmp_path / "off", state_cache_mb=0)
    without.prepare_system_prompt(SYSTEM)
    answer(without, request())
    answer(without, other)
    _, cold = answer(without, follow_up)
    assert cold.reused_tokens < without.prefix_tokens + 10  # only the shared system block
    without.close()
    runtime.close()


def test_a_client_system_prompt_gets_its_own_saved_state_beside_the_services(tmp_path: Path):
    runtime = make_runtime(tmp_path)
    runtime.prepare_system_prompt(SYSTEM)
    answer(runtime, request(system="You are a pirate. Answer like one."))
    folder = tmp_path / runtime.model_name
    assert len(list(folder.glob("system-*.bin"))) == 1
    client = sorted(folder.glob("prefix-*.json"))
    assert len(client) == 1
    assert json.loads(client[0].read_text())["source"] == "client prompt"
    # Back to the service's prompt: restored from memory, nothing prefilled again.
    _, stats = answer(runtime, request())
    assert runtime.prefix_source == "memory"
    assert stats.reused_tokens >= runtime.prefix_tokens
    runtime.close()


def test_the_state_cache_keeps_the_longest_match_within_its_budget():
    from rk_assist.runtimes.state_cache import StateCache

    cache = StateCache(max_bytes=3000)
    cache.put([1, 2, 3], b"a" * 1000)
    cache.put([1, 2, 3, 4, 5], b"b" * 1000)
    state, length = cache.best([1, 2, 3, 4, 9])
    assert state is not None and state.data[:1] == b"b" and length == 4
    cache.put([7, 8], b"c" * 1000)  # over budget: the least recently used goes
    assert cache.get([1, 2, 3]) is None
    assert cache.get([1, 2, 3, 4, 5]) is not None
    cache.put([9], b"d" * 5000)  # larger than the whole budget: not kept
    assert cache.get([9]) is None
    # A cut prefill's state, once its block is finished, is superseded by the block's.
    cache.put([1, 2, 3, 4, 5, 6], b"e" * 500)
    cache.forget_prefixes_of([1, 2, 3, 4, 5, 6])
    assert cache.get([1, 2, 3, 4, 5]) is None and cache.get([7, 8]) is not None
    assert cache.get([1, 2, 3, 4, 5, 6]) is not None


def test_each_prompt_keeps_its_own_saved_state(tmp_path: Path):
    """Chat only and with the home: switching, reconnecting or restarting loads, never rebuilds."""
    home = SYSTEM + "\nThe kitchen light is on."
    runtime = make_runtime(tmp_path)
    runtime.prepare_system_prompt(SYSTEM)
    runtime.prepare_system_prompt(home)
    assert runtime.prefix_source == "built"
    runtime.prepare_system_prompt(home)  # unchanged (a reconnect): nothing is even reloaded
    assert runtime.prefix_source == "built"
    runtime.close()
    restarted = make_runtime(tmp_path)
    for prompt in (SYSTEM, home, SYSTEM):
        restarted.prepare_system_prompt(prompt)
        assert restarted.prefix_source in ("disk", "memory")
    restarted.close()
    assert len(list((tmp_path / restarted.model_name).glob("system-*.bin"))) == 2


def test_saved_prompts_are_bounded_least_recently_used_first(tmp_path: Path):
    runtime = make_runtime(tmp_path)
    folder = tmp_path / runtime.model_name
    prompts = [f"{SYSTEM}\nRule {index}." for index in range(6)]
    for index, prompt in enumerate(prompts[:4]):
        runtime.prepare_system_prompt(prompt)
        os.utime(folder / f"{service_cache_name(prompt, None)}.json", (index, index))
    runtime.close()
    used = make_runtime(tmp_path)
    used.prepare_system_prompt(prompts[0])  # the oldest, used again: now the newest
    assert used.prefix_source == "disk"
    used.prepare_system_prompt(prompts[4])
    used.prepare_system_prompt(prompts[5])
    used.close()
    kept = {path.stem for path in folder.glob("system-*.json")}
    assert kept == {service_cache_name(p, None) for p in (prompts[0], prompts[3], *prompts[4:])}


# -- a system block cut short keeps what it computed (issue 33) --------------------------------

#: A client's system block long enough to be cut in the middle: about 1,500 tokens.
LONG_SYSTEM = "You control a home. Its devices:\n" + "\n".join(
    f"- light.room_{n}: the ceiling light of room {n}, off" for n in range(90)
)


def cut_after(runtime: LlamaCppRuntime, stop: threading.Event, batches: int) -> None:
    """Hang up after ``batches`` batches of a prefill, as the worker does: stop, then abort."""
    seen = 0

    def progress() -> None:
        nonlocal seen
        seen += 1
        if seen == batches:
            stop.set()
            runtime.abort()

    runtime.on_progress = progress


def cut_request(runtime: LlamaCppRuntime, batches: int) -> object:
    stop = threading.Event()
    cut_after(runtime, stop, batches)
    pieces: list[str] = []
    try:
        stats = runtime.generate(request(LONG_SYSTEM), pieces.append, stop)
    finally:
        runtime.on_progress = lambda: None
    assert pieces == [] and stats.stop_reason == "aborted" and stats.generated_tokens == 0
    return stats


def test_a_system_block_cut_short_resumes_where_it_stopped(tmp_path: Path):
    runtime = make_runtime(tmp_path, batch_size=64)
    runtime.prepare_system_prompt(SYSTEM)
    cut = cut_request(runtime, batches=8)
    computed = cut.reused_tokens + cut.prefill_tokens
    assert cut.prefill_tokens == 8 * 64  # every batch before the hang-up, none after
    assert cut.prompt_tokens > computed + 500  # the block was far from done
    assert runtime.cut_prefix is not None and runtime.cut_prefix[0].system_prompt == LONG_SYSTEM
    # Another client in between uses the KV cache; the cut block's state was kept apart.
    answer(runtime, request())
    text, retry = answer(runtime, request(LONG_SYSTEM))
    assert retry.reused_tokens >= computed
    assert retry.prefill_tokens == retry.prompt_tokens - retry.reused_tokens
    assert runtime.cut_prefix is None
    runtime.close()
    # What was resumed is the state a run never cut computes: the same greedy answer.
    whole = make_runtime(None, batch_size=64)
    assert answer(whole, request(LONG_SYSTEM))[0] == text
    whole.close()


def test_a_cut_system_block_is_finished_and_saved_and_preempting_it_keeps_its_progress(
    tmp_path: Path,
):
    runtime = make_runtime(tmp_path, batch_size=64)
    runtime.prepare_system_prompt(SYSTEM)
    first = cut_request(runtime, batches=4)
    kept = first.reused_tokens + first.prefill_tokens
    # A request comes while it is being finished: stopped at once, its progress kept too.
    stop = threading.Event()
    cut_after(runtime, stop, batches=6)
    with pytest.raises(PrefillInterrupted) as paused:
        runtime.finish_cut_prefix(stop)
    runtime.on_progress = lambda: None
    assert paused.value.resumed >= kept
    assert paused.value.computed == paused.value.resumed + 6 * 64
    assert runtime.cut_prefix is not None
    # A stop that came before it began: nothing is done.
    already = threading.Event()
    already.set()
    assert runtime.finish_cut_prefix(already) is False and runtime.cut_prefix is not None
    # Idle again: finished, and saved to disk like any prepared prompt.
    assert runtime.finish_cut_prefix(threading.Event()) is True
    assert runtime.cut_prefix is None
    assert runtime.finish_cut_prefix(threading.Event()) is False  # nothing left to finish
    name = client_cache_name(LONG_SYSTEM, None)
    assert (tmp_path / runtime.model_name / f"{name}.bin").is_file()
    _, retry = answer(runtime, request(LONG_SYSTEM))
    assert retry.reused_tokens >= runtime.prefix_tokens
    runtime.close()
    restarted = make_runtime(tmp_path, batch_size=64)
    _, after_restart = answer(restarted, request(LONG_SYSTEM))
    assert restarted.prefix_source == "disk"
    assert after_restart.reused_tokens >= restarted.prefix_tokens
    restarted.close()
