"""``rk-assist bench-threads``: llama.cpp's speed by thread count, idle and beside a busy core.

A Home Assistant box is never idle. For each thread count (all cores, and
the default, every core but one) this prefills one prompt and decodes a fixed
number of tokens, first on an idle machine, then with a busy-loop competitor
on one core, and prints prefill and decode tokens per second: the figures
behind the default in ``runtimes/threads.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
from collections.abc import Sequence

import llama_cpp

from ..runtimes.embedded import embedded_model_path
from ..runtimes.threads import available_cores, default_threads
from .servers import burner_processes

PROMPT = (
    "<|im_start|>system\nYou are a helpful voice assistant. Answer briefly.<|im_end|>\n"
    "<|im_start|>user\nTell me about the history of the bicycle, in detail.<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def measure(llm: llama_cpp.Llama, tokens: int) -> tuple[float, float]:
    """Prefill and decode tokens per second for one answer of ``tokens`` tokens."""
    prompt = llm.tokenize(PROMPT.encode(), add_bos=False, special=True)
    llm.reset()
    started = time.perf_counter()
    llm.eval(prompt)
    prefilled = time.perf_counter()
    produced = 0
    for token in llm.generate([], temp=0.0, reset=False):
        produced += 1
        if produced >= tokens or token == llm.token_eos():
            break
    ended = time.perf_counter()
    return len(prompt) / (prefilled - started), produced / max(ended - prefilled, 1e-9)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="rk-assist bench-threads",
        description="llama.cpp's speed by thread count, idle and with one core busy.",
    )
    parser.add_argument("--model", help="a GGUF file (default: the embedded model)")
    parser.add_argument("--tokens", type=int, default=48, help="tokens decoded per run (48)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median (3)")
    args = parser.parse_args(argv)
    path = args.model or str(embedded_model_path())
    cores = available_cores()
    counts = sorted({cores, default_threads(cores)}, reverse=True)
    print(f"{path}: {cores} cores; default threads {default_threads(cores)}")
    print(f"{'threads':>7} {'load':<10} {'prefill tok/s':>14} {'decode tok/s':>13}")
    figures: dict[tuple[int, bool], float] = {}
    for threads in counts:
        with contextlib.redirect_stderr(io.StringIO()):
            llm = llama_cpp.Llama(
                path, n_ctx=1024, n_threads=threads, n_threads_batch=threads, verbose=False
            )
        try:
            measure(llm, 4)  # warm-up
            for loaded in (False, True):
                burners = burner_processes(1 if loaded else 0)
                try:
                    runs = [measure(llm, args.tokens) for _ in range(args.runs)]
                finally:
                    for burner in burners:
                        burner.kill()
                prefill = statistics.median(run[0] for run in runs)
                decode = statistics.median(run[1] for run in runs)
                figures[threads, loaded] = decode
                load = "1 core busy" if loaded else "idle"
                print(f"{threads:>7} {load:<10} {prefill:>14.1f} {decode:>13.1f}", flush=True)
        finally:
            llm.close()
    if len(counts) == 2:
        every, default = counts
        print(
            f"decode with one core busy: {default} threads {figures[default, True]:.1f} tok/s, "
            f"{every} threads {figures[every, True]:.1f} tok/s "
            f"({figures[default, True] / max(figures[every, True], 1e-9):.1f}x)"
        )
    return 0
