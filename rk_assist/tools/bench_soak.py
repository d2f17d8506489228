"""``rk-assist bench-soak``: many turns from 4 clients at once, and the service's memory.

"Does it stay up for months" is a question of leaks. This starts the service
as its own process (home control on a home file, the HTTP API on), sends N
turns from four concurrent clients (three over Wyoming with conversations
that continue for a few turns, one over the OpenAI API), reads the process's
resident memory (RSS) at intervals, and prints its growth after warm-up
(the first 10% of turns), with every failed turn counted.

Two buffers fill lazily and are bounded, so they would read as growth: the
KV cache's pages become resident only when a prompt first reaches that far
into the context (one 3,600-token prompt added 176 MB with the embedded
model), and the saved states of recent conversations grow to
``--state-cache-mb``. So the warm-up first sends a few long prompts that
reach deep into the context and fill the state cache to its bound; what
grows after that is what a leak would look like.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from .. import summary
from ..defaults import CONTEXT_LENGTH
from ..models.select import embedded_entry
from .bench_scale import ask as ask_http
from .client import ask
from .servers import free_port, service_process, wait_ready

UTTERANCES = (
    "turn on the kitchen light",
    "what is the capital of France?",
    "turn off the kitchen light",
    "how many days are in a week?",
    "close the garage door",
    "tell me a fun fact about the moon",
    "set the living room lamp to 30 percent",
    "what is 12 times 12?",
)
CLIENTS = 4
WARM_UP = 0.1
CONTEXT = CONTEXT_LENGTH
STATE_CACHE_MB = 256
#: Long prompts sent first: each reaches ~3/4 into the context, and together their
#: saved states are more than the state cache holds.
FILL_PROMPTS = 5
FILL_WORDS = "the quick brown fox jumps over the lazy dog "


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def soak(args: argparse.Namespace, workdir: Path) -> int:
    port, http_port = free_port(), free_port()
    uri, url = f"tcp://127.0.0.1:{port}", f"http://127.0.0.1:{http_port}"
    command = [
        sys.executable, "-m", "rk_assist",
        "--uri", uri,
        "--http-uri", url,
        "--home-file", args.home,
        "--cache-dir", str(workdir / "cache"),
        "--max-tokens", str(args.max_tokens),
        "--temperature", "0",
        "--context-length", str(CONTEXT),
        "--state-cache-mb", str(STATE_CACHE_MB),
    ]  # fmt: skip
    command += ["--model", args.model or embedded_entry().name]
    with service_process(command, workdir) as process:
        model_name = await wait_ready(url, process, args.start_timeout)
        issued = done = failed = 0
        samples: list[tuple[int, float]] = [(0, rss_mb(process.pid))]
        every = max(1, args.turns // 20)
        started = time.perf_counter()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
            for number in range(args.fill):  # the bounded buffers, filled first
                long_text = f"{number}: " + FILL_WORDS * (CONTEXT * 3 // 4 // 10)
                await ask_http(session, url, model_name, long_text, 4)
            samples[0] = (0, rss_mb(process.pid))
            print(
                f"{'filled':>6}        {time.perf_counter() - started:7.0f} s  RSS "
                f"{samples[0][1]:7.1f} MB (deep context, full state cache)",
                flush=True,
            )
            started = time.perf_counter()

            async def client(number: int) -> None:
                nonlocal issued, done, failed
                conversation, turn = str(uuid.uuid4()), 0
                while issued < args.turns:
                    issued += 1
                    text = UTTERANCES[(number + turn) % len(UTTERANCES)]
                    turn += 1
                    if turn % 5 == 0:  # a new conversation every few turns
                        conversation = str(uuid.uuid4())
                    try:
                        if number == CLIENTS - 1:
                            await ask_http(session, url, model_name, text, args.max_tokens)
                        else:
                            result = await ask(uri, text, context={"conversation_id": conversation})
                            if not result.handled and result.text is None:
                                raise RuntimeError(f"no answer to {text!r}: {result.event_types}")
                    except (RuntimeError, OSError, aiohttp.ClientError) as err:
                        failed += 1
                        print(f"  turn failed: {err}", flush=True)
                        continue
                    done += 1
                    if done % every == 0:
                        samples.append((done, rss_mb(process.pid)))
                        print(
                            f"{done:>6} turns  {time.perf_counter() - started:7.0f} s  "
                            f"RSS {samples[-1][1]:7.1f} MB",
                            flush=True,
                        )

            await asyncio.gather(*(client(number) for number in range(CLIENTS)))
        elapsed = time.perf_counter() - started
        samples.append((done, rss_mb(process.pid)))
        warm = next((rss for turns, rss in samples if turns >= args.turns * WARM_UP), samples[0][1])
        peak, last = max(rss for _, rss in samples), samples[-1][1]
        # Single samples swing with the saved states alive at that moment; the medians of
        # the first and last fifth after warm-up show a trend, if there is one.
        after = [(turns, rss) for turns, rss in samples if turns >= args.turns * WARM_UP]
        after = after or samples[-1:]  # every turn failed: nothing after warm-up
        span = max(1.0, (after[-1][0] - after[0][0]) / 5)
        early = statistics.median(rss for turns, rss in after if turns <= after[0][0] + span)
        late = statistics.median(rss for turns, rss in after if turns >= after[-1][0] - span)
        print(
            f"{done} turns ({failed} failed) in {elapsed:.0f} s from {CLIENTS} clients; "
            f"RSS after filling {samples[0][1]:.1f} MB, after warm-up {warm:.1f} MB, "
            f"peak {peak:.1f} MB, end {last:.1f} MB: growth after warm-up "
            f"{(last - warm) / warm * 100:+.1f}%; median of the first fifth after warm-up "
            f"{early:.1f} MB, of the last fifth {late:.1f} MB "
            f"({(late - early) / early * 100:+.1f}%)"
        )
        return 0 if failed == 0 and process.poll() is None else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist bench-soak", description=summary(__doc__))
    parser.add_argument("turns", type=int, nargs="?", default=1000, help="turns in all (1000)")
    parser.add_argument("--model", help="model name or file (default: the embedded one)")
    parser.add_argument(
        "--home", default="eval/house-en/home.yaml", help="the home file (eval/house-en/home.yaml)"
    )
    parser.add_argument("--max-tokens", type=int, default=48, help="answer length (48)")
    parser.add_argument(
        "--fill",
        type=int,
        default=FILL_PROMPTS,
        help=f"long prompts sent before the turns, to fill the bounded buffers ({FILL_PROMPTS})",
    )
    parser.add_argument("--start-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rk-assist-soak-") as workdir:
        return asyncio.run(soak(args, Path(workdir)))
