"""Switching the running service's model: success, failure with fall-back, waiting requests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rk_assist.config import build_config
from rk_assist.runtimes.embedded import embedded_model_path
from rk_assist.service import create_service
from rk_assist.tools.client import ask, describe
from rk_assist.tools.models_cli import use_model
from rk_assist.wyoming.handler import is_local_peer

from .rkllm_double import write_model
from .test_cli import run_command


@pytest.fixture
async def swap_service(tmp_path: Path, rkllm_doubles):
    models = tmp_path / "models"
    for name in ("smol-a", "smol-b"):
        (models / name).mkdir(parents=True)
        (models / name / "SmolLM2-135M-Instruct.Q4_1.gguf").symlink_to(embedded_model_path())
    (models / "smol-b" / "model.yaml").write_text("max_tokens: 12\ncontext_length: 1024\n")
    (models / "broken").mkdir()
    (models / "broken" / "broken.gguf").write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64)
    (models / "npu").mkdir()
    write_model(models / "npu" / "Qwen3-0.6B-w8a8-rk3588.rkllm")
    config = build_config(
        {
            "uri": "tcp://127.0.0.1:0",
            "http_uri": "none",
            "model": "smol-a",
            "models_dir": str(models),
            "rkllm_library": str(rkllm_doubles["1.2"]),
            "config_dir": str(tmp_path / "config"),
            "cache_dir": str(tmp_path / "cache"),
            "temperature": "0",
        },
        environ={},
    )
    service = await create_service(config)
    await service.start()
    yield service, f"tcp://127.0.0.1:{service.port}"
    await service.stop()


async def model_name(uri: str) -> str:
    info, _ = await describe(uri)
    return info.handle[0].models[0].name


async def test_switch_with_the_command_and_per_model_settings_apply(swap_service):
    service, uri = swap_service
    assert await model_name(uri) == "smol-a"
    code, out, err = await run_command("models", "use", "smol-b", "--uri", uri)
    assert code == 0, err
    assert out.strip() == "now serving smol-b (cpu, context 1024)"
    assert await model_name(uri) == "smol-b"
    result = await ask(uri, "Tell me a long story about a dragon.")
    assert result.handled
    assert service.worker.last_stats.generated_tokens <= 12  # max_tokens from model.yaml
    assert len(list((Path(service.config.cache_dir) / "smol-b").glob("system-*.bin"))) == 1


async def test_a_model_that_fails_to_load_leaves_the_old_one_serving(swap_service):
    _service, uri = swap_service
    code = await use_model(uri, "broken", timeout=60)
    assert code == 1
    assert await model_name(uri) == "smol-a"
    result = await ask(uri, "Say hello.")
    assert result.handled and result.text
    assert await use_model(uri, "no-such-model", timeout=60) == 1


async def test_requests_during_a_switch_wait_and_are_answered(swap_service):
    service, uri = swap_service
    switch = asyncio.create_task(use_model(uri, "npu", timeout=60))
    while not (service.health()["status"] == "loading" and service.worker.busy):  # switching
        await asyncio.sleep(0.001)
    answers = await asyncio.gather(*(ask(uri, f"Question {n}?") for n in range(3)))
    assert await switch == 0
    assert all(a.handled for a in answers)
    assert await model_name(uri) == "npu"
    after = await ask(uri, "Who answers now?")
    assert after.text.startswith("You said")  # the NPU double's answer
    assert await use_model(uri, "smol-a", timeout=60) == 0  # and back to the CPU
    assert (await ask(uri, "Say hello.")).handled


def test_only_local_peers_may_switch():
    assert (
        is_local_peer(("127.0.0.1", 5000))
        and is_local_peer(("::1", 5000, 0, 0))
        and is_local_peer(None)
    )
    assert not is_local_peer(("192.168.1.20", 5000))
