"""``rk-assist bench-hangups``: clients hanging up at random moments; how soon the model is free.

A satellite that loses Wi-Fi, a Home Assistant that restarts, a balancer's
retry: clients leave in the middle of things, and each one that leaves must
give the model back, at once, or the service wedges for everyone. This starts
the service as its own process and hangs up N times across both doors
(Wyoming and the Ollama API) at random moments: before the first token, during
the prefill of a long prompt, in the middle of the stream, and during a device
command (Wyoming) or the answer to a tool result (HTTP). After each it times
how long ``/health`` takes to report the model free, and every few hang-ups
(and at the end) it checks that an ordinary request on each door is answered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import socket
import statistics
import struct
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

from .. import summary
from ..models.select import embedded_entry
from .client import ask
from .servers import free_port, service_process, wait_ready

#: When a client leaves; the last differs by door: Wyoming's device command ends in intents
#: (its calls are grammar-held), the HTTP API's tool round trip in the answer to a result.
MOMENTS = {
    "wyoming": ("before-first-token", "prefill", "mid-stream", "device-command"),
    "http": ("before-first-token", "prefill", "mid-stream", "tool-result"),
}
#: A prompt long enough that its prefill takes a while, short enough for --max-text.
LONG_TEXT = "Please think about this. " + "The quick brown fox jumps over the lazy dog. " * 40
CHECK_EVERY = 25


async def model_free_after(url: str, session: aiohttp.ClientSession, limit: float) -> float:
    """Seconds until /health says nothing runs and nothing waits (``limit`` if never)."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        async with session.get(url + "/health") as response:
            report = await response.json()
        if report["running"] == 0 and report["queue_depth"] == 0:
            return time.perf_counter() - started
        await asyncio.sleep(0.01)
    return limit


def _hang_up(writer: asyncio.StreamWriter, reset: bool) -> None:
    """Close abruptly: with a reset (RST) or a plain close (FIN)."""
    sock = writer.get_extra_info("socket")
    if reset and sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort() if reset else writer.close()


async def _read_some(reader: asyncio.StreamReader, lines: int, limit: float) -> None:
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(limit):
            for _ in range(lines):
                if not await reader.readline():
                    return


def _wyoming_event(text: str, conversation: str) -> bytes:
    data = json.dumps(
        {"text": text, "language": "en", "context": {"conversation_id": conversation}}
    ).encode()
    header = json.dumps({"type": "transcript", "data_length": len(data)}).encode()
    return header + b"\n" + data


def _http_request(model: str, text: str, moment: str) -> bytes:
    messages: list[dict] = [{"role": "user", "content": text}]
    body: dict = {"model": model, "messages": messages, "options": {"num_predict": 64}}
    if moment == "tool-result":
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": "intent__HassTurnOn",
                    "parameters": {"type": "object", "properties": {"name": {"type": "string"}}},
                },
            }
        ]
        messages += [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"function": {"name": "intent__HassTurnOn", "arguments": {"name": "Lamp"}}}
                ],
            },
            {"role": "tool", "content": json.dumps({"data": {"success": [{"name": "Lamp"}]}})},
        ]
    raw = json.dumps(body).encode()
    return (
        b"POST /api/chat HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(raw)}\r\n\r\n".encode()
        + raw
    )


async def hang_up_once(
    door: str, moment: str, rng: random.Random, host: str, ports: dict[str, int], model: str
) -> None:
    """One client that sends a request and leaves at ``moment``."""
    text = LONG_TEXT if moment == "prefill" else "Tell me a long story about a lighthouse."
    if moment in ("device-command", "tool-result"):
        text = "turn on the lamp"
    reader, writer = await asyncio.open_connection(host, ports[door])
    if door == "wyoming":
        writer.write(_wyoming_event(text, f"hangup-{rng.random()}"))
    else:
        writer.write(_http_request(model, text, moment))
    await writer.drain()
    if moment == "before-first-token":
        await asyncio.sleep(rng.uniform(0, 0.05))
    elif moment in ("prefill", "device-command", "tool-result"):
        await asyncio.sleep(rng.uniform(0.02, 0.6))
    else:  # mid-stream: after a few events or chunks have come
        await _read_some(reader, rng.randint(2, 8), limit=30)
    _hang_up(writer, reset=rng.random() < 0.5)


async def still_answers(uri: str, url: str, session: aiohttp.ClientSession, model: str) -> int:
    """How many of two ordinary requests (one a door) were answered."""
    answered = 0
    with contextlib.suppress(OSError, TimeoutError):
        result = await asyncio.wait_for(ask(uri, "what is 2 plus 2?"), 120)
        answered += bool(result.handled or result.text)
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": False}
    body["options"] = {"num_predict": 8}
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        async with session.post(url + "/api/chat", json=body) as response:
            answered += response.status == 200 and (await response.json()).get("done", False)
    return answered


async def run(args: argparse.Namespace, workdir: Path) -> int:
    port, http_port = free_port(), free_port()
    uri, url = f"tcp://127.0.0.1:{port}", f"http://127.0.0.1:{http_port}"
    command = [
        sys.executable, "-m", "rk_assist",
        "--uri", uri, "--http-uri", url,
        "--home-file", args.home,
        "--cache-dir", str(workdir / "cache"), "--config-dir", str(workdir / "config"),
        "--temperature", "0", "--max-tokens", "64",
        "--max-connections-per-peer", "64",
    ]  # fmt: skip
    command += ["--model", args.model or embedded_entry().name]
    rng = random.Random(args.seed)
    free_times: dict[str, list[float]] = {m: [] for door in MOMENTS for m in MOMENTS[door]}
    kinds: Counter[str] = Counter()
    checks = answered = 0
    with service_process(command, workdir) as process:
        model = await wait_ready(url, process, args.start_timeout)
        ports = {"wyoming": port, "http": http_port}
        started = time.perf_counter()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=180)) as session:
            for number in range(1, args.hangups + 1):
                door = rng.choice(sorted(MOMENTS))
                moment = rng.choice(MOMENTS[door])
                await hang_up_once(door, moment, rng, "127.0.0.1", ports, model)
                free_times[moment].append(await model_free_after(url, session, args.limit))
                kinds[f"{door}/{moment}"] += 1
                if number % CHECK_EVERY == 0 or number == args.hangups:
                    checks += 2
                    answered += await still_answers(uri, url, session, model)
                    worst = max(max(times, default=0) for times in free_times.values())
                    print(
                        f"{number:>5} hang-ups  {time.perf_counter() - started:6.0f} s  "
                        f"longest time to free {worst:.3f} s  answered {answered}/{checks}",
                        flush=True,
                    )
        every = [value for times in free_times.values() for value in times]
        print(
            "\nhang-ups by door and moment: "
            + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        )
        print(f"{'moment':<20}{'count':>6}{'median s':>10}{'p99 s':>8}{'max s':>8}")
        for moment, times in free_times.items():
            if times:
                ordered = sorted(times)
                p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
                print(
                    f"{moment:<20}{len(times):>6}{statistics.median(times):>10.3f}"
                    f"{p99:>8.3f}{ordered[-1]:>8.3f}"
                )
        late = sum(value >= 1.0 for value in every)
        alive = process.poll() is None
        print(
            f"{len(every)} hang-ups; model free within 1 s after {len(every) - late} of them, "
            f"longest {max(every):.3f} s; requests answered after: {answered}/{checks}; "
            f"service {'still running' if alive else 'EXITED'}"
        )
        return 0 if late == 0 and answered == checks and alive else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist bench-hangups", description=summary(__doc__))
    parser.add_argument("hangups", type=int, nargs="?", default=500, help="hang-ups in all (500)")
    parser.add_argument("--model", help="model name or file (default: the embedded one)")
    parser.add_argument(
        "--home", default="eval/house-en/home.yaml", help="the home file (eval/house-en/home.yaml)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for doors and moments")
    parser.add_argument(
        "--limit", type=float, default=30.0, help="seconds to wait for the model to be free (30)"
    )
    parser.add_argument("--start-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rk-assist-hangups-") as workdir:
        return asyncio.run(run(args, Path(workdir)))
