"""``rk-assist bench``: latency and throughput figures, all measured in one run.

The machine a benchmark runs on is shared and noisy, so absolute numbers
drift; ratios between scenarios measured in the same run do not. Every
scenario asks the same questions with greedy decoding, so the model writes
the same answers in each and only the machinery around it differs. For
system prompts of about 100, 500 and 2,000 tokens it measures, over a real
socket:

* no prompt cache: the whole prompt is computed every turn,
* the in-memory prefix: the system prompt's state is reused turn after turn,
* after a restart: the first turn of a new service that loaded the state
  from the disk cache,

and, for the short prompt, llama-cpp-python called directly with the same
messages (its chunks cut by the same chunker), which shows the service's own
overhead. TTFT is the runtime's time to the first token; "first chunk" is
when the first speakable chunk reached the client.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import llama_cpp

from .. import summary
from ..assistant.chunker import ClauseChunker
from ..assistant.prompt import default_system_prompt, request_note
from ..config import build_config
from ..defaults import CONTEXT_LENGTH
from ..models.select import embedded_entry
from ..service import Service, create_service
from .client import ask

QUESTIONS = (
    "What is the capital of France?",
    "How many days are in a leap year?",
    "Give me a tip for sleeping better.",
    "What is the boiling point of water?",
    "Why is the sky blue?",
)
ROOMS = ("living room", "kitchen", "bedroom", "bathroom", "office", "garage", "hallway", "garden")
THINGS = ("ceiling light", "floor lamp", "blinds", "thermostat", "speaker", "fan", "plug", "sensor")
# Rough tokens per word of the house description, to aim at a prompt size.
TOKENS_PER_WORD = 1.45


def sized_system_prompt(target_tokens: int) -> str:
    """The default prompt plus a house description, like a device list would add."""
    lines = [default_system_prompt().strip()]
    words = sum(len(line.split()) for line in lines)
    if words * TOKENS_PER_WORD >= target_tokens:
        return lines[0]
    lines += ["", "Facts about this home:"]
    index = 0
    while words * TOKENS_PER_WORD < target_tokens:
        room, thing = ROOMS[index % len(ROOMS)], THINGS[(index // len(ROOMS)) % len(THINGS)]
        line = f"- The {room} has a {thing} called {room.title()} {thing.title()} {index}."
        lines.append(line)
        words += len(line.split())
        index += 1
    return "\n".join(lines)


@dataclass
class Sample:
    first_chunk_s: float
    done_s: float
    ttft_ms: float = 0.0
    prefill_tokens: int = 0
    tokens_per_s: float = 0.0
    answer_tokens: int = 0


@dataclass
class Row:
    prompt: str
    system_tokens: int
    mode: str
    samples: list[Sample]

    def median(self, name: str) -> float:
        return statistics.median(getattr(sample, name) for sample in self.samples)


@dataclass
class Startup:
    prompt: str
    built_s: float
    restored_s: float
    cache_bytes: int


async def measure_service(service: Service, runs: int, first: int = 0) -> list[Sample]:
    uri = f"tcp://127.0.0.1:{service.port}"
    samples = []
    for run in range(first, first + runs):
        question = QUESTIONS[run % len(QUESTIONS)]
        result = await ask(uri, question, context={"conversation_id": f"bench-{run}"})
        if not result.handled or result.first_chunk_s is None or result.done_s is None:
            raise RuntimeError(f"the service did not answer {question!r}: {result.text}")
        stats = service.worker.last_stats
        assert stats is not None
        samples.append(
            Sample(
                result.first_chunk_s,
                result.done_s,
                stats.prefill_ms,
                stats.prefill_tokens,
                stats.tokens_per_second,
                stats.generated_tokens,
            )
        )
    return samples


def measure_direct(
    model_path: Path, system_prompt: str, args: argparse.Namespace, runs: int
) -> list[Sample]:
    """llama-cpp-python's own chat completion, no service around it."""
    llm = llama_cpp.Llama(
        model_path=str(model_path),
        n_ctx=args.context_length,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    note = request_note(datetime.now(), "en")
    samples = []
    try:
        for run in range(-1, runs):  # run -1 warms the KV cache like the service's load does
            question = QUESTIONS[max(run, 0) % len(QUESTIONS)]
            messages = [
                {"role": "system", "content": system_prompt},
                {"role": "system", "content": note},
                {"role": "user", "content": question},
            ]
            chunker = ClauseChunker()
            started = time.perf_counter()
            first_chunk = None
            pieces = 0
            first_piece_at = started
            for part in llm.create_chat_completion(
                messages=messages,
                stream=True,
                temperature=0.0,
                max_tokens=args.max_tokens,
                top_p=0.9,
                top_k=40,
                repeat_penalty=1.1,
            ):
                text = part["choices"][0]["delta"].get("content") or ""
                if not text:
                    continue
                pieces += 1
                if pieces == 1:
                    first_piece_at = time.perf_counter()
                if first_chunk is None and chunker.feed(text):
                    first_chunk = time.perf_counter() - started
            done = time.perf_counter() - started
            if first_chunk is None:
                first_chunk = done
            if run >= 0:
                generate_s = time.perf_counter() - first_piece_at
                rate = (pieces - 1) / generate_s if pieces > 1 and generate_s > 0 else 0.0
                ttft_ms = (first_piece_at - started) * 1000
                samples.append(Sample(first_chunk, done, ttft_ms, 0, rate, pieces))
    finally:
        llm.close()
    return samples


async def start_service(
    args: argparse.Namespace, prompt: str, workdir: Path, prompt_cache: bool
) -> tuple[Service, float]:
    config_dir = workdir / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "system.txt").write_text(prompt, encoding="utf-8")
    options = {
        "uri": "tcp://127.0.0.1:0",
        "http_uri": "none",
        "model": args.model or embedded_entry().name,
        "models_dir": args.models_dir,
        "runtime": args.runtime,
        "config_dir": str(config_dir),
        "cache_dir": str(workdir / "cache"),
        "context_length": str(args.context_length),
        "max_tokens": str(args.max_tokens),
        "temperature": "0",
        "threads": str(args.threads) if args.threads else None,
        "prompt_cache": prompt_cache,
    }
    config = build_config(options, environ={})
    started = time.perf_counter()
    service = await create_service(config)
    load_s = time.perf_counter() - started
    await service.start()
    return service, load_s


async def run_benchmark(args: argparse.Namespace) -> None:
    rows: list[Row] = []
    startups: list[Startup] = []
    model_label = "?"
    with tempfile.TemporaryDirectory(prefix="rk-assist-bench-") as tmp:
        for target in args.sizes:
            label = f"~{target}"
            prompt = sized_system_prompt(target)
            workdir = Path(tmp) / str(target)
            # 1. A cold start: builds the state and writes the disk cache.
            service, built_s = await start_service(args, prompt, workdir, True)
            runtime = service.worker.runtime
            model_label = f"{service.plan.entry.name} on {runtime.name}"
            system_tokens = runtime.prefix_tokens or target
            try:
                await measure_service(service, 1)  # one turn to settle
                cached = await measure_service(service, args.runs, first=1)
            finally:
                await service.stop()
            cache_files = list((workdir / "cache").rglob("system-*.bin"))
            cache_bytes = cache_files[0].stat().st_size if cache_files else 0
            # 2. A restart: the state comes from the disk cache.
            service, restored_s = await start_service(args, prompt, workdir, True)
            source = service.worker.runtime.prefix_source
            try:
                restarted = await measure_service(service, 1)
            finally:
                await service.stop()
            startups.append(Startup(label, built_s, restored_s, cache_bytes))
            # 3. No prompt cache at all.
            service, _ = await start_service(args, prompt, workdir, False)
            try:
                uncached = await measure_service(service, args.runs, first=1)
            finally:
                await service.stop()
            rows.append(Row(label, system_tokens, "no prompt cache", uncached))
            rows.append(Row(label, system_tokens, "in-memory prefix", cached))
            rows.append(Row(label, system_tokens, f"after restart ({source})", restarted))
            if target == args.sizes[0] and service.worker.runtime.name == "llama.cpp":
                model_path = service.plan.entry.path
                rows.append(
                    Row(
                        label,
                        system_tokens,
                        "llama-cpp-python direct",
                        measure_direct(model_path, prompt, args, args.runs),
                    )
                )
    print_report(args, model_label, rows, startups)


def print_report(
    args: argparse.Namespace, model_label: str, rows: list[Row], startups: list[Startup]
) -> None:
    print(
        f"rk-assist bench: {model_label}, llama-cpp-python {llama_cpp.__version__}, "
        f"{args.threads or 'all'} threads, medians of {args.runs} runs (restart: 1), greedy"
    )
    header = (
        f"{'prompt':<6} {'sys tok':>7}  {'mode':<26} {'TTFT':>8} {'1st chunk':>10} "
        f"{'handled':>8} {'prefill':>7} {'answer':>6} {'tok/s':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        prefill = f"{row.median('prefill_tokens'):.0f}" if "direct" not in row.mode else "-"
        print(
            f"{row.prompt:<6} {row.system_tokens:>7}  {row.mode:<26} "
            f"{row.median('ttft_ms'):>5.0f} ms {row.median('first_chunk_s') * 1000:>7.0f} ms "
            f"{row.median('done_s') * 1000:>5.0f} ms {prefill:>7} "
            f"{row.median('answer_tokens'):>6.0f} {row.median('tokens_per_s'):>6.1f}"
        )
    print()
    by_key = {(row.prompt, row.mode.split(" (")[0]): row for row in rows}
    print("Time to first token, how many times faster than without the prompt cache:")
    for startup in startups:
        label = startup.prompt
        uncached = by_key[(label, "no prompt cache")].median("ttft_ms")
        memory = by_key[(label, "in-memory prefix")].median("ttft_ms")
        restart = by_key[(label, "after restart")].median("ttft_ms")
        print(
            f"  {label:>5} tokens: in-memory prefix {uncached / memory:5.1f}x, after a restart "
            f"from disk {uncached / restart:5.1f}x; start-up {startup.built_s * 1000:.0f} ms "
            f"building the state vs {startup.restored_s * 1000:.0f} ms loading it "
            f"({startup.cache_bytes / 1e6:.1f} MB on disk)"
        )
    direct = [row for row in rows if "direct" in row.mode]
    if direct:
        row = direct[0]
        cached = by_key[(row.prompt, "in-memory prefix")]
        print(
            f"Service over a socket vs llama-cpp-python direct ({row.prompt} tokens): first chunk "
            f"{cached.median('first_chunk_s') / row.median('first_chunk_s'):.2f}x, complete "
            f"answer {cached.median('done_s') / row.median('done_s'):.2f}x"
        )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist bench", description=summary(__doc__))
    parser.add_argument("--model", help="model name or file (default: the embedded SmolLM2-135M)")
    parser.add_argument("--models-dir", default="models", help="the model library (models)")
    parser.add_argument("--runtime", default="auto", choices=("auto", "cpu", "rkllm"))
    parser.add_argument("--runs", type=int, default=3, help="questions per row (3)")
    parser.add_argument("--max-tokens", type=int, default=48, help="answer cap (48)")
    parser.add_argument(
        "--context-length", type=int, default=CONTEXT_LENGTH, help=f"context ({CONTEXT_LENGTH})"
    )
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (all)")
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[100, 500, 2000],
        help="system prompt sizes in tokens (100 500 2000)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    asyncio.run(run_benchmark(args))
    return 0
