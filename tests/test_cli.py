"""The commands a person types: the service process itself, and ``rk-assist ask``."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

from rk_assist.service import Service
from rk_assist.tools.client import ask, describe

from .conftest import EMBEDDED, wait_idle


async def run_command(*args: str, timeout: float = 120.0) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rk_assist",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, stdout.decode(), stderr.decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_missing_model_stops_startup_naming_the_path(tmp_path: Path):
    missing = tmp_path / "models" / "qwen.gguf"
    code, _out, err = await run_command(
        "--model",
        str(missing),
        "--config-dir",
        str(tmp_path / "c"),
        "--cache-dir",
        str(tmp_path / "k"),
        "--uri",
        f"tcp://127.0.0.1:{free_port()}",
    )
    assert code == 1
    assert err.strip().splitlines()[-1] == f"rk-assist: model file not found: {missing}"


async def test_file_that_is_not_a_model_stops_startup(tmp_path: Path):
    fake = tmp_path / "notes.gguf"
    fake.write_text("shopping list: milk, eggs")
    code, _out, err = await run_command(
        "--model",
        str(fake),
        "--config-dir",
        str(tmp_path / "c"),
        "--uri",
        f"tcp://127.0.0.1:{free_port()}",
    )
    assert code == 1
    assert str(fake) in err and "not a GGUF" in err


async def test_ask_streams_an_answer_from_the_service(service: Service, uri: str):
    await wait_idle(service)
    code, out, err = await run_command("ask", "--uri", uri, "What is the capital of France?")
    assert code == 0, err
    # (What the 135M embedded model answers changes with the minute its prompt gives: seen
    # "Le Grand Garou, la France." at 22:32. The streaming is under test, not its knowledge.)
    assert out.strip()
    assert "first chunk" in err and "handled" in err


async def test_ask_describe_prints_the_info(service: Service, uri: str):
    code, out, err = await run_command("ask", "--uri", uri, "--describe")
    assert code == 0, err
    info = json.loads(out)
    assert info["handle"][0]["name"] == "rk-assist"
    assert "describe answered in" in err


async def test_ask_reports_an_unreachable_service():
    code, _out, err = await run_command("ask", "--uri", f"tcp://127.0.0.1:{free_port()}", "hi")
    assert code == 1
    assert "cannot talk to" in err


async def test_service_process_starts_answers_and_stops_on_sigterm(tmp_path: Path):
    uri = f"tcp://127.0.0.1:{free_port()}"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rk_assist",
        "--uri",
        uri,
        "--model",
        EMBEDDED,
        "--config-dir",
        str(tmp_path / "config"),
        "--cache-dir",
        str(tmp_path / "cache"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(600):
            try:
                await describe(uri, timeout=1)
                break
            except OSError:
                await asyncio.sleep(0.1)
        result = await ask(uri, "Say hello to me.", timeout=60)
        assert result.handled and result.text
        assert (tmp_path / "config" / "system.txt").is_file()
        assert len(list((tmp_path / "cache" / "smollm2-135m").glob("system-*.bin"))) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    log = err.decode()
    assert "Ready on" in log and "Turn done" in log
