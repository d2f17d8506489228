"""``rk-assist bench``: latency and throughput figures, all measured in one run.

The machine a benchmark runs on is shared and noisy, so absolute numbers
drift; ratios between scenarios measured in the same run do not. Every
scenario asks the same questions with greedy decoding, so the model writes
the same answers in each and only the machinery around it differs:

* the service over a real socket, with the cached system prompt,
* the same service recomputing the whole prompt every turn,
* llama-cpp-python called directly with the same messages (its chunks cut
  by the same chunker), which shows the service's own overhead.
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

from .assistant.chunker import ClauseChunker
from .assistant.prompt import default_system_prompt, request_note
from .client import ask
from .config import build_config
from .runtimes.embedded import embedded_model_path
from .service import Service, create_service

QUESTIONS = (
    "What is the capital of France?",
    "How many days are in a leap year?",
    "Give me a tip for sleeping better.",
    "What is the boiling point of water?",
    "Why is the sky blue?",
)
ROOMS = ("living room", "kitchen", "bedroom", "bathroom", "office", "garage", "hallway", "garden")
THINGS = ("ceiling light", "floor lamp", "blinds", "thermostat", "speaker", "fan", "plug", "sensor")


def long_system_prompt(target_words: int) -> str:
    """The default prompt plus a house description, like a device list would add."""
    lines = [default_system_prompt().strip(), "", "Facts about this home:"]
    words = sum(len(line.split()) for line in lines)
    index = 0
    while words < target_words:
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


async def measure_service(service: Service, runs: int) -> list[Sample]:
    uri = f"tcp://127.0.0.1:{service.port}"
    samples = []
    for run in range(runs):
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
                samples.append(Sample(first_chunk, done, 0, rate, pieces))
    finally:
        llm.close()
    return samples


async def start_service(
    args: argparse.Namespace, model_path: Path, prompt: str, workdir: Path, prompt_cache: bool
) -> tuple[Service, float]:
    config_dir = workdir / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "system.txt").write_text(prompt, encoding="utf-8")
    config = build_config(
        {
            "uri": "tcp://127.0.0.1:0",
            "model": str(model_path),
            "config_dir": str(config_dir),
            "cache_dir": str(workdir / "cache"),
            "context_length": str(args.context_length),
            "max_tokens": str(args.max_tokens),
            "temperature": "0",
            "threads": str(args.threads) if args.threads else None,
            "prompt_cache": prompt_cache,
        },
        environ={},
    )
    started = time.perf_counter()
    service = await create_service(config)
    load_s = time.perf_counter() - started
    await service.start()
    return service, load_s


async def run_benchmark(args: argparse.Namespace) -> None:
    model_path = Path(args.model) if args.model else embedded_model_path()
    prompts = {"short": default_system_prompt().strip(), "long": long_system_prompt(args.long)}
    rows: list[Row] = []
    startup: list[tuple[str, float, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="rk-assist-bench-") as tmp:
        for label, prompt in prompts.items():
            workdir = Path(tmp) / label
            service, built_s = await start_service(args, model_path, prompt, workdir, True)
            runtime = service.worker.runtime
            system_tokens = len(getattr(runtime, "_prefix_tokens", []))
            try:
                rows.append(
                    Row(
                        label,
                        system_tokens,
                        "service, cached prompt",
                        await measure_service(service, args.runs),
                    )
                )
            finally:
                await service.stop()
            cache_files = list((workdir / "cache").rglob("system.bin"))
            cache_bytes = cache_files[0].stat().st_size if cache_files else 0
            service, restored_s = await start_service(args, model_path, prompt, workdir, True)
            source = getattr(service.worker.runtime, "prefix_source", "?")
            try:
                rows.append(
                    Row(
                        label,
                        system_tokens,
                        f"after restart ({source})",
                        await measure_service(service, 1),
                    )
                )
            finally:
                await service.stop()
            startup.append((label, built_s, restored_s, cache_bytes))
            service, _ = await start_service(args, model_path, prompt, workdir, False)
            try:
                rows.append(
                    Row(
                        label,
                        system_tokens,
                        "service, no prompt cache",
                        await measure_service(service, args.runs),
                    )
                )
            finally:
                await service.stop()
            rows.append(
                Row(
                    label,
                    system_tokens,
                    "llama-cpp-python direct",
                    measure_direct(model_path, prompt, args, args.runs),
                )
            )
    print_report(args, model_path, rows, startup)


def print_report(
    args: argparse.Namespace,
    model_path: Path,
    rows: list[Row],
    startup: list[tuple[str, float, float, int]],
) -> None:
    print(
        f"rk-assist bench: {model_path.name}, llama-cpp-python {llama_cpp.__version__}, "
        f"{args.threads or 'all'} threads, {args.runs} runs per row, medians, greedy decoding"
    )
    header = (
        f"{'prompt':<6} {'sys tok':>7}  {'mode':<28} {'first chunk':>11} "
        f"{'handled':>9} {'prefill tok':>11} {'answer tok':>10} {'tok/s':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        prefill = f"{row.median('prefill_tokens'):.0f}" if "direct" not in row.mode else "-"
        print(
            f"{row.prompt:<6} {row.system_tokens:>7}  {row.mode:<28} "
            f"{row.median('first_chunk_s') * 1000:>8.0f} ms {row.median('done_s') * 1000:>6.0f} ms "
            f"{prefill:>11} {row.median('answer_tokens'):>10.0f} {row.median('tokens_per_s'):>6.1f}"
        )
    print()
    by_key = {(row.prompt, row.mode): row for row in rows}
    for label, built_s, restored_s, cache_bytes in startup:
        cached = by_key[(label, "service, cached prompt")]
        uncached = by_key[(label, "service, no prompt cache")]
        direct = by_key[(label, "llama-cpp-python direct")]
        speedup = uncached.median("first_chunk_s") / cached.median("first_chunk_s")
        overhead_first = cached.median("first_chunk_s") / direct.median("first_chunk_s")
        overhead_done = cached.median("done_s") / direct.median("done_s")
        print(
            f"{label}: first chunk {speedup:.2f}x faster with the cached system prompt; "
            f"service/direct = {overhead_first:.2f}x (first chunk), {overhead_done:.2f}x "
            f"(complete); start-up {built_s * 1000:.0f} ms building the prompt state vs "
            f"{restored_s * 1000:.0f} ms loading it from disk ({cache_bytes / 1e6:.1f} MB)"
        )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist bench", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="GGUF model (default: the embedded SmolLM2-135M)")
    parser.add_argument("--runs", type=int, default=5, help="questions per row (5)")
    parser.add_argument("--max-tokens", type=int, default=64, help="answer cap (64)")
    parser.add_argument("--context-length", type=int, default=4096, help="context (4096)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (all)")
    parser.add_argument("--long", type=int, default=1100, help="words in the long prompt (1100)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    asyncio.run(run_benchmark(args))
    return 0
