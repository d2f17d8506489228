"""Shared fixtures: one real service on a real TCP socket, with the embedded model."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rk_assist.config import build_config
from rk_assist.service import Service, create_service

from .rkllm_double import build_double, write_model

#: The embedded model, named: with no model named the service serves the packaged Qwen where
#: script/setup installed it, and these tests are about the service, not the model.
EMBEDDED = "smollm2-135m"
# Long enough to keep the model busy while other things are checked.
LONG_ANSWER_PROMPT = "Tell me a long story about a dragon who learns to bake bread."


@pytest.fixture(scope="session")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    base = tmp_path_factory.mktemp("service")
    config = build_config(
        {
            "uri": "tcp://127.0.0.1:0",
            "http_uri": "http://127.0.0.1:0",
            "model": EMBEDDED,
            "config_dir": str(base / "config"),
            "cache_dir": str(base / "cache"),
            "temperature": "0",
            "max_tokens": "160",
            "queue_size": "2",
            "max_connections": "24",
            "max_connections_per_peer": "24",
            "max_text": "2000",
        },
        environ={},
    )
    svc = await create_service(config)
    await svc.start()
    yield svc
    await svc.stop()


@pytest.fixture
def uri(service: Service) -> str:
    return f"tcp://127.0.0.1:{service.port}"


async def wait_idle(service: Service, timeout: float = 60.0) -> None:
    """Wait until the model has finished whatever an earlier test left running."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while service.worker.busy or service.worker.waiting:
        if loop.time() > deadline:
            raise TimeoutError("the model stayed busy")
        await asyncio.sleep(0.02)


class RawConnection:
    """A plain socket peer, for sending what a well-behaved client never would."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, service: Service) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
        return cls(reader, writer)

    async def send(self, raw: bytes) -> None:
        self.writer.write(raw)
        await self.writer.drain()

    async def send_event(self, event_type: str, data: dict | None = None) -> None:
        header: dict = {"type": event_type}
        body = b""
        if data is not None:
            body = json.dumps(data).encode()
            header["data_length"] = len(body)
        await self.send(json.dumps(header).encode() + b"\n" + body)

    async def read_event(self, timeout: float = 60.0) -> dict | None:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        if not line:
            return None
        header = json.loads(line)
        data = header.get("data") or {}
        if header.get("data_length"):
            data.update(json.loads(await self.reader.readexactly(header["data_length"])))
        if header.get("payload_length"):
            await self.reader.readexactly(header["payload_length"])
        return {"type": header["type"], "data": data}

    async def read_until_closed(self, timeout: float = 60.0) -> list[dict]:
        events = []
        while (event := await self.read_event(timeout)) is not None:
            events.append(event)
        return events

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def model_path_of(service: Service) -> Path:
    return service.worker.runtime.settings.model_path  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def rkllm_doubles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The librkllmrt.so double compiled for each ABI: {"1.2": path, "1.3": path}."""
    out = tmp_path_factory.mktemp("rkllm-double")
    return {abi: build_double(out, abi) for abi in ("1.2", "1.3")}


@pytest.fixture
def rkllm_model(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    return write_model(folder / "Qwen2.5-1.5B-Instruct-rk3588-w8a8.rkllm")
