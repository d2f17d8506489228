"""``rk-assist bench-history``: how long a turn with 10 to 10,000 past turns takes to fit.

An HTTP client sends the whole conversation with every request, and nothing
stops it from sending thousands of turns. The runtime keeps the newest turns
that fit the context; this times that fitting on the CPU runtime with the real
chat template and tokenizer. Each request is sent twice: the first computes
the prompt, the second finds it in the cache, so its time is the fitting plus
one token. Printed per number of turns, with the ratio to 10 turns.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from .. import summary
from ..models.library import resolve_model
from ..models.select import embedded_entry
from ..runtimes.base import ChatMessage, GenerationRequest
from ..runtimes.llama_cpp import LlamaCppRuntime, LlamaCppSettings

SIZES = (10, 100, 1_000, 10_000)


def request_with(turns: int) -> GenerationRequest:
    history = [
        (ChatMessage("user", f"what is {n} plus {n}?"), ChatMessage("assistant", f"{2 * n}."))
        for n in range(turns)
    ]
    return GenerationRequest(
        system_prompt="You are a voice assistant. Answer briefly.",
        turn=(ChatMessage("user", "and what is one plus one?"),),
        history=history,
        max_new_tokens=1,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist bench-history", description=summary(__doc__))
    parser.add_argument("--model", help="a GGUF file or model name (default: the embedded one)")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--context-length", type=int, default=1024)
    args = parser.parse_args(argv)
    entry = resolve_model(args.model, Path(args.models_dir)) if args.model else embedded_entry()
    path = entry.path
    runtime = LlamaCppRuntime(LlamaCppSettings(model_path=path, context_length=args.context_length))
    runtime.load()
    print(f"{'turns':>7}{'kept':>7}{'cached turn s':>15}{'vs 10 turns':>13}")
    base = None
    try:
        for turns in SIZES:
            request = request_with(turns)
            runtime.generate(request, lambda _piece: None, threading.Event())
            started = time.perf_counter()
            stats = runtime.generate(request, lambda _piece: None, threading.Event())
            took = time.perf_counter() - started
            base = base or took
            kept = turns - stats.history_turns_dropped
            print(f"{turns:>7}{kept:>7}{took:>15.3f}{took / base:>12.1f}x", flush=True)
    finally:
        runtime.close()
    return 0
