"""``rk-assist bench-retry``: a client that gives up on a long prompt and asks again.

Home Assistant's Ollama integration, test harnesses and some other clients
wait a fixed time, hang up and send the same messages again. On a small CPU
Home Assistant's prompt for a large home takes longer to compute than such a
client waits; the hang-up must stop the model at once, and what it computed
must not be lost, or no retry is ever answered. This starts the service as
its own process, sends Home Assistant's prompt and tools for a home (padded
with extra devices to the size asked for) through the OpenAI door with a
client that gives up after ``--give-up`` seconds and retries, and prints each
attempt: given up or answered, its times, and the prompt tokens it found
computed; then the service's own log lines about the cut and the resume.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from .. import summary
from ..defaults import CONTEXT_LENGTH
from ..home.model import Entity, Home, load_home
from ..runtimes.threads import default_threads
from .bench_http import ha_system_prompt, ha_tools, stream_figures
from .servers import (
    burner_processes,
    free_port,
    http_service_command,
    service_process,
    wait_ready,
)

#: A question only the model answers (Home Assistant's sentences settle none of it).
QUESTION = "Tell me something interesting about octopuses."
#: What the service logs about a cut prompt; printed after the run.
LOG_MARKS = ("kept after a hang-up", "resumed at token", "cut system prompt", "cut short")


def padded_home(home: Home, extra: int) -> Home:
    """The home with ``extra`` more lights, so its prompt reaches the size to test."""
    entities = dict(home.entities)
    for number in range(1, extra + 1):
        entity = Entity(f"light.guest_room_{number}_lamp", f"Guest Room {number} Lamp")
        entities[entity.entity_id] = entity
    return replace(home, entities=entities)


async def attempt(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], give_up: float
) -> tuple[str, float, float, int, int]:
    """One try: "answered" or "gave up", first-token and end seconds, prompt and cached tokens."""
    started = time.perf_counter()
    try:
        first, ended, usage = await asyncio.wait_for(stream_figures(session, url, body), give_up)
    except TimeoutError:
        return "gave up", float("nan"), time.perf_counter() - started, 0, 0
    details = usage.get("prompt_tokens_details") or {}
    return (
        "answered",
        first,
        ended,
        usage.get("prompt_tokens", 0),
        details.get("cached_tokens", 0),
    )


async def run(args: argparse.Namespace, workdir: Path) -> int:
    home = padded_home(load_home(Path(args.home)), args.extra_devices)
    system, tools = ha_system_prompt(home), ha_tools(home)
    port = free_port()
    threads = str(args.threads or default_threads())
    command = http_service_command(
        port, workdir, args.context_length, threads, args.max_tokens, args.model
    )
    url = f"http://127.0.0.1:{port}"
    burners = burner_processes(args.load)
    outcomes: list[str] = []
    try:
        with service_process(command, workdir) as process:
            model_name = await wait_ready(url, process, args.start_timeout)
            body = {
                "model": model_name,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": QUESTION},
                ],
                "tools": tools,
                "stream": True,
                "stream_options": {"include_usage": True},
                "temperature": 0,
                "max_tokens": args.max_tokens,
            }
            print(
                f"{model_name}, {threads} thread(s), {args.load} competing CPU burner(s): "
                f"Home Assistant's prompt for {len(home.entities)} devices; the client gives "
                f"up after {args.give_up:.0f} s and retries {args.retries} times"
                + (f", {args.pause:.0f} s apart" if args.pause else "")
            )
            async with aiohttp.ClientSession() as session:
                for number in range(1, args.retries + 2):
                    outcome, first, ended, prompt, cached = await attempt(
                        session, url + "/v1/chat/completions", body, args.give_up
                    )
                    outcomes.append(outcome)
                    figures = (
                        f"first token {first:6.1f} s, done {ended:6.1f} s, prompt {prompt} "
                        f"tokens, {cached} of them found computed"
                        if outcome == "answered"
                        else f"after {ended:6.1f} s"
                    )
                    print(f"attempt {number}: {outcome:<8} {figures}", flush=True)
                    if outcome == "answered":
                        break
                    await asyncio.sleep(args.pause)
    finally:
        for burner in burners:
            burner.kill()
    print("\nThe service's log:")
    for line in (workdir / "service.log").read_text(errors="replace").splitlines():
        if any(mark in line for mark in LOG_MARKS):
            print("  " + line)
    answered = "answered" in outcomes
    print(
        f"\nanswered on attempt {outcomes.index('answered') + 1}"
        if answered
        else "\nnever answered"
    )
    return 0 if answered else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist bench-retry", description=summary(__doc__))
    parser.add_argument("--model", help="model name or file (default: the service's default)")
    parser.add_argument(
        "--home", default="eval/house-en/home.yaml", help="the home file (eval/house-en/home.yaml)"
    )
    parser.add_argument(
        "--extra-devices",
        type=int,
        default=32,
        help="lights added to the home, to grow its prompt (32: about 4,000 tokens)",
    )
    parser.add_argument("--give-up", type=float, default=40.0, help="seconds a client waits (40)")
    parser.add_argument("--retries", type=int, default=3, help="tries after the first (3)")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between tries (0)")
    parser.add_argument("--max-tokens", type=int, default=24, help="answer length (24)")
    parser.add_argument(
        "--context-length",
        type=int,
        default=2 * CONTEXT_LENGTH,
        help=f"the service's context, as Home Assistant's Ollama sets it ({2 * CONTEXT_LENGTH})",
    )
    parser.add_argument("--threads", type=int, help="CPU threads (default: all cores but one)")
    parser.add_argument("--load", type=int, default=0, help="competing CPU burners to run (0)")
    parser.add_argument("--start-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rk-assist-retry-") as workdir:
        return asyncio.run(run(args, Path(workdir)))
