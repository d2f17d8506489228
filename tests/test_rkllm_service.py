"""The whole service with --runtime rkllm over a real socket, backed by the librkllmrt double."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from wyoming.asr import Transcript
from wyoming.client import AsyncClient

from rk_assist.config import build_config
from rk_assist.models.packaged import PACKAGED_MODELS, is_installed, model_path
from rk_assist.service import create_service
from rk_assist.tools.client import ask, describe
from rk_assist.wyoming.handler import SAY_FAILED

from .test_cli import run_command

ROOT = Path(__file__).parent.parent


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
    code, out, _err = await run_command(
        "npu-check",
        "--model",
        str(rkllm_model),
        "--rkllm-library",
        str(rkllm_doubles["1.2"]),
        "--driver-version-file",
        str(driver),
    )
    for check in (
        "NPU driver",
        "library",
        "first turn",
        "prefix reuse",
        "abort",
        "prompt cache reload",
    ):
        assert f"[ok] {check}" in out
    # A board without the model's vocabulary beside the .rkllm cannot hold answers to
    # the call grammar: said, with what to put there.
    assert "[FAIL] answer held to the call grammar: the model's vocabulary is missing" in out
    assert code == 1 and out.strip().endswith("failed: answer held to the call grammar")
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


@pytest.mark.skipif(
    not is_installed(ROOT / "models", PACKAGED_MODELS["qwen2.5-0.5b"]),
    reason="script/setup installs the 0.5B Qwen",
)
async def test_npu_check_json_on_the_emulated_runtime_reports_every_figure(tmp_path):
    """What a board owner pastes into an issue, from the emulated runtime (llama.cpp under
    RKLLM's API): every check, the runtime, the GET_LOGITS steps, the token-input prefix
    and the device command's measured and predicted times."""
    driver = tmp_path / "version"
    driver.write_text("RKNPU driver: v0.9.8\n")
    model = model_path(ROOT / "models", PACKAGED_MODELS["qwen2.5-0.5b"])
    code, out, err = await run_command(
        "npu-check",
        "--model",
        str(model),
        "--rkllm-library",
        "emulated",
        "--driver-version-file",
        str(driver),
        "--json",
        timeout=300,
    )
    assert code == 0, out + err
    report = json.loads(out)
    assert report["passed"] and report["runtime_version"] and report["abi"] in ("1.2", "1.3")
    checks = {check["check"]: check for check in report["checks"]}
    assert all(check["ok"] for check in checks.values())
    assert checks["GET_LOGITS steps"]["runs"] > 1 and checks["GET_LOGITS steps"]["per_run_ms"] > 0
    assert "HassTurnOn" in checks["answer held to the call grammar"]["answer"]
    reuse = checks["prefix reuse with token input"]
    assert 0 < reuse["prompt_tokens"] - reuse["reused_tokens"] < reuse["prompt_tokens"] // 4
    command = report["device_command"]
    assert command["second_ms"] > 0 and command["predicted_ms"] > 0
    assert "RK3588" in command["from"]
    assert "[ok] answer held to the call grammar" in err  # the checks as they come
