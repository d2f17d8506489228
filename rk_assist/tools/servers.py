"""The servers the benchmarks and the HTTP eval race and ask, each as its own process.

A figure about a server is only worth reporting if the server ran as a user
runs it: its own process, asked over a real socket, stopped afterwards even
when the measuring fails, with its log shown when it does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def openai_chunks(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    """The chunks of an OpenAI chat completion streamed from ``url``, as they come."""
    async with session.post(url, json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {(await response.text())[:300]}")
        async for raw in response.content:
            line = raw.decode().strip()
            if line.startswith("data: ") and line != "data: [DONE]":
                yield json.loads(line[6:])


@contextlib.contextmanager
def service_process(command: list[str], workdir: Path) -> Iterator[subprocess.Popen]:
    """The service as its own process, logging to ``workdir``; if what runs beside it fails,
    the log's tail is shown, and the process is always stopped."""
    log_path = workdir / "service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        except BaseException:
            log.flush()
            sys.stderr.write(log_path.read_text(errors="replace")[-3000:])
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def wait_ready(url: str, process: subprocess.Popen, timeout: float) -> str:
    """The name the server gives its model, once it answers."""
    deadline = time.perf_counter() + timeout
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with code {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url + "/v1/models") as response:
                    if response.status == 200:
                        return (await response.json())["data"][0]["id"]
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def burner_processes(count: int) -> list[subprocess.Popen]:
    """Competing CPU load: a Home Assistant box is never idle."""
    code = "while True: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def http_service_command(
    port: int,
    workdir: Path,
    context_length: int,
    threads: str,
    max_tokens: int,
    model: str | None = None,
) -> list[str]:
    """rk-assist as a chat server on the HTTP door only (home control off), its files in
    ``workdir``: what these benchmarks measure."""
    command = [sys.executable, "-m", "rk_assist", "--uri", "tcp://127.0.0.1:0"]
    command += ["--http-uri", f"http://127.0.0.1:{port}", "--home-control", "off"]
    command += ["--context-length", str(context_length), "--threads", threads]
    command += ["--cache-dir", str(workdir / "cache"), "--config-dir", str(workdir / "config")]
    command += ["--max-tokens", str(max_tokens)]
    return command + (["--model", model] if model else [])
