"""The whole service with --runtime rkllm over a real socket, backed by the librkllmrt double."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from wyoming.asr import Transcript
from wyoming.client import AsyncClient

from rk_assist.config import build_config
from rk_assist.service import create_service
from rk_assist.tools.client import ask, describe
from rk_assist.wyoming.handler import SAY_FAILED

from .test_cli import run_command


def rkllm_config(tmp_path: Path, library: Path, model: Path, **extra: str):
    return build_config(
        {
            "uri": "tcp://127.0.0.1:0",
            "http_uri": "none",
            "runtime": "rkllm",
            "model": str(model),
            "rkllm_library": str(library),
            "config_dir": str(tmp_path / "config"),
            "cache_dir": str(tmp_path / "cache"),
            **extra,
        },
        environ={},
    )


async def test_service_answers_through_the_npu_runtime(
    rkllm_doubles, rkllm_model, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    service = await create_service(rkllm_config(tmp_path, rkllm_doubles["1.3"], rkllm_model))
    await service.start()
    uri = f"tcp://127.0.0.1:{service.port}"
    try:
        info, _ = await describe(uri)
        model = info.handle[0].models[0]
        assert model.name == "qwen2.5-1.5b"  # the friendly name of the file
        assert model.description.endswith("on rkllm")
        context = {"conversation_id": "npu"}
        result = await ask(uri, "How warm is it?", context=context)
        assert result.event_types[0] == "handled-start"
        assert result.event_types[-2:] == ["handled", "handled-stop"]
        assert result.text == "".join(result.chunks)
        assert "21°C" in result.text and "naïve café" in result.text
        assert len(result.chunks) >= 2  # streamed in clauses, not one block
        assert result.context == context
        perf_lines = [r.getMessage() for r in caplog.records if "RKLLM perf" in r.getMessage()]
        assert perf_lines and "prefill" in perf_lines[-1] and "KV cache" in perf_lines[-1]
        second = await ask(uri, "And tomorrow?", context=context)
        assert second.handled
        history = service.assistant.conversations.history("npu")
        assert len(history) == 2
    finally:
        await service.stop()


async def test_client_leaving_aborts_the_npu_generation(rkllm_doubles, rkllm_model, tmp_path):
    service = await create_service(
        rkllm_config(tmp_path, rkllm_doubles["1.2"], rkllm_model, max_tokens="400")
    )
    await service.start()
    uri = f"tcp://127.0.0.1:{service.port}"
    try:
        client = AsyncClient.from_uri(uri, read_timeout=30)
        await client.connect()
        await client.write_event(Transcript(text="Tell me a long story.").event())
        event = await client.read_event()
        assert event is not None and event.type == "handled-start"
        await client.disconnect()
        from .conftest import wait_idle

        await wait_idle(service)
        assert service.worker.last_stats.stop_reason == "aborted"
        result = await ask(uri, "Still there?")
        assert result.handled
    finally:
        await service.stop()


async def test_cli_runs_the_npu_runtime_and_refuses_a_missing_model(rkllm_doubles, tmp_path):
    code, _out, err = await run_command("--runtime", "rkllm", "--uri", "tcp://127.0.0.1:1")
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "rk-assist: --runtime rkllm needs --model NAME|PATH of an .rkllm model"
    )
    code, _out, err = await run_command(
        "--runtime", "rkllm", "--model", str(tmp_path / "none.rkllm"), "--uri", "tcp://127.0.0.1:1"
    )
    assert code == 1 and "model file not found" in err


async def test_runtime_errors_become_spoken_failures(rkllm_doubles, rkllm_model, tmp_path):
    service = await create_service(
        rkllm_config(tmp_path, rkllm_doubles["1.2"], rkllm_model, context_length="256")
    )
    await service.start()
    uri = f"tcp://127.0.0.1:{service.port}"
    try:
        result = await ask(uri, "please " * 300)
        assert result.event_types == ["not-handled"]
        assert "too long" in result.text
        result = await ask(uri, "Are you fine?")
        assert result.handled
    finally:
        await service.stop()
    (metadata,) = (tmp_path / "cache" / "qwen2.5-1.5b").glob("system-*.json")
    assert json.loads(metadata.read_text())["size"]


async def test_runtime_fault_mid_answer_is_reported_and_the_service_recovers(
    rkllm_doubles, rkllm_model, tmp_path
):
    service = await create_service(rkllm_config(tmp_path, rkllm_doubles["1.3"], rkllm_model))
    await service.start()
    uri = f"tcp://127.0.0.1:{service.port}"
    try:
        result = await ask(uri, "Please fail midway.", context={"conversation_id": "f"})
        assert result.event_types[0] == "handled-start"
        assert "handled-chunk" in result.event_types
        assert result.event_types[-2:] == ["not-handled", "handled-stop"]
        assert result.text == SAY_FAILED
        assert service.assistant.conversations.history("f") == []  # nothing half-remembered
        after = await ask(uri, "Are you back?")
        assert after.handled and after.text.startswith("You said")
    finally:
        await service.stop()


async def test_npu_check_passes_against_the_double(rkllm_doubles, rkllm_model, tmp_path):
    driver = tmp_path / "version"
    driver.write_text("RKNPU driver: v0.9.8\n")
    code, out, err = await run_command(
        "npu-check",
        "--model",
        str(rkllm_model),
        "--rkllm-library",
        str(rkllm_doubles["1.2"]),
        "--driver-version-file",
        str(driver),
    )
    assert code == 0, out + err
    for check in (
        "NPU driver",
        "library",
        "first turn",
        "prefix reuse",
        "abort",
        "prompt cache reload",
    ):
        assert f"[ok] {check}" in out
    assert out.strip().endswith("all checks passed")
    driver.write_text("RKNPU driver: v0.9.6\n")
    code, out, _ = await run_command(
        "npu-check",
        "--model",
        str(rkllm_model),
        "--rkllm-library",
        str(rkllm_doubles["1.3"]),
        "--driver-version-file",
        str(driver),
    )
    assert code == 1 and "[FAIL] NPU driver: 0.9.6" in out
