"""Start-up with Home Assistant connected: first start, restart, reconnect (script/bench-ha).

Runs the real service against the stand-in Home Assistant (the websocket API,
tests/ha_standin.py) serving a home file, and prints how long each of three
moments takes until the home's prompt is ready: a first start (nothing
cached: the chat-only and the home prompt are both computed), a restart
(both load from their own cache files) and a Home Assistant restart while
the service runs (the same home comes back: nothing to load). Before prompt
caches were named per prompt, the two prompts overwrote each other's file
and every restart recomputed the home prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import tempfile
import time
from pathlib import Path

from rk_assist.config import build_config
from rk_assist.service import Service, create_service

from .ha_standin import StandInHomeAssistant

PREPARED = re.compile(r"Prompt prepared for (\d+) exposed entities in ([\d.]+) s")
CONNECTED = "Connected to Home Assistant at"


class PromptReady(logging.Handler):
    """Waits for the service's "Prompt prepared" and "Connected" log lines."""

    def __init__(self) -> None:
        super().__init__()
        self.event = asyncio.Event()
        self.connected = asyncio.Event()
        self.seconds = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        match = PREPARED.search(message)
        if match:
            self.seconds = float(match.group(2))
            self.event.set()
        if CONNECTED in message:
            self.connected.set()

    async def wait(self, timeout: float) -> float:
        await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()
        return self.seconds


async def start(args: argparse.Namespace, url: str, cache: Path, ready: PromptReady):
    config = build_config(
        {
            "uri": "tcp://127.0.0.1:0",
            "http_uri": "none",
            "model": args.model,
            "ha_url": url,
            "ha_token": "good-token",
            "cache_dir": str(cache),
            "config_dir": str(cache.parent / "config"),
        },
        environ={},
    )
    started = time.perf_counter()
    service = await create_service(config)
    await service.start()
    home_s = await ready.wait(args.timeout)
    return service, time.perf_counter() - started, home_s


def line(name: str, total: float, home: float, source: str) -> str:
    return f"{name:<26} ready in {total:6.2f} s (home prompt {home:6.2f} s, state: {source})"


async def run(args: argparse.Namespace) -> None:
    hass = StandInHomeAssistant(Path(args.home))
    url = await hass.start()
    ready = PromptReady()
    logging.getLogger("rk_assist").addHandler(ready)
    logging.getLogger("rk_assist").setLevel(logging.INFO)
    # The stand-in's own log of a client going away is not the service's business.
    logging.getLogger("websockets").setLevel(logging.CRITICAL)
    try:
        with tempfile.TemporaryDirectory(prefix="rk-assist-bench-ha-") as tmp:
            cache = Path(tmp) / "cache"
            service: Service
            service, total, home = await start(args, url, cache, ready)
            print(line("first start", total, home, service.worker.runtime.prefix_source))
            await service.stop()
            service, total, home = await start(args, url, cache, ready)
            print(line("restart", total, home, service.worker.runtime.prefix_source))
            ready.connected.clear()
            started = time.perf_counter()
            await hass.restart()
            await asyncio.wait_for(ready.connected.wait(), args.timeout)
            reconnected = time.perf_counter() - started
            try:  # the same home: no new prompt is expected
                home_s = f"prepared again in {await ready.wait(5.0):.2f} s"
            except TimeoutError:
                home_s = "unchanged, not even reloaded"
            print(
                f"{'Home Assistant reconnect':<26} ready in {reconnected:6.2f} s "
                f"(home prompt {home_s})"
            )
            await service.stop()
    finally:
        await hass.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model name or file (default: the embedded one)")
    parser.add_argument(
        "--home", default="eval/house-en/home.yaml", help="the home Home Assistant serves"
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
