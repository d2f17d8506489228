"""``rk-assist npu-check``: what a board owner runs to verify the NPU path.

The RKLLM bindings are tested against a C double of librkllmrt.so; only a
board can confirm the real library agrees. This command exercises, on the
real thing, each behaviour the service relies on and says plainly which
held: the driver version, the library's ABI, loading, streaming, the prompt
cache (built, then loaded), prefix reuse across turns, abort, and unload.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .. import summary
from ..defaults import CONTEXT_LENGTH
from ..errors import RuntimeFailure
from ..runtimes.base import ChatMessage, GenerationRequest, GenerationStats
from ..runtimes.rkllm import RkllmRuntime, RkllmSettings

DRIVER_VERSION_FILE = "/sys/kernel/debug/rknpu/version"
REQUIRED_DRIVER = "0.9.8"
SYSTEM = "You are a voice assistant in a smart home. Answer in one short sentence."


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def report(self, ok: bool, name: str, detail: str) -> None:
        print(f"[{'ok' if ok else 'FAIL'}] {name}: {detail}", flush=True)
        if not ok:
            self.failed.append(name)


def driver_version(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # The file reads like "RKNPU driver: v0.9.8".
    return text.strip().rsplit(":", 1)[-1].strip().lstrip("vV") or None


def timed_turn(
    runtime: RkllmRuntime, text: str, history=(), max_new_tokens: int = 48, stop_after: int = 0
) -> tuple[str, GenerationStats, float]:
    pieces: list[str] = []
    first_piece = [0.0]
    stop = threading.Event()
    started = time.perf_counter()

    def emit(piece: str) -> None:
        if not pieces:
            first_piece[0] = time.perf_counter() - started
        pieces.append(piece)
        if stop_after and len(pieces) >= stop_after:
            stop.set()
            runtime.abort()

    request = GenerationRequest(
        system_prompt=SYSTEM,
        turn=(ChatMessage("user", text),),
        history=history,
        max_new_tokens=max_new_tokens,
    )
    stats = runtime.generate(request, emit, stop)
    return "".join(pieces), stats, first_piece[0]


def run_checks(args: argparse.Namespace) -> int:
    checks = Checks()
    version = driver_version(Path(args.driver_version_file))
    if version is None:
        checks.report(False, "NPU driver", f"cannot read {args.driver_version_file} (run as root?)")
    else:
        checks.report(
            version == REQUIRED_DRIVER,
            "NPU driver",
            f"{version} (RKLLM 1.2 and 1.3 need {REQUIRED_DRIVER})",
        )
    with tempfile.TemporaryDirectory(prefix="rk-assist-npu-check-") as tmp:
        settings = RkllmSettings(
            model_path=Path(args.model),
            library_path=args.rkllm_library,
            abi=args.rkllm_abi,
            context_length=args.context_length,
            max_new_tokens=128,
            temperature=0.0,
            cache_dir=Path(tmp),
        )
        runtime = RkllmRuntime(settings)
        started = time.perf_counter()
        try:
            runtime.load()
            runtime.prepare_system_prompt(SYSTEM)
        except RuntimeFailure as err:
            checks.report(False, "load", str(err))
            return 1
        library = runtime.library
        assert library is not None
        checks.report(
            True,
            "library",
            f"{library.path}, runtime {library.version or 'unknown'}, ABI {library.abi}",
        )
        checks.report(
            runtime.prefix_source == "built",
            "load and prompt cache",
            f"{time.perf_counter() - started:.1f} s, system prompt cache {runtime.prefix_source}",
        )
        try:
            first_text, first, ttft = timed_turn(runtime, "My name is Alex. What can you do?")
            checks.report(
                bool(first_text.strip()) and first.prefill_tokens > 0,
                "first turn",
                f"first text after {ttft * 1000:.0f} ms, prefill {first.prefill_tokens} "
                f"tokens in {first.prefill_ms:.0f} ms, {first.generated_tokens} tokens "
                f"at {first.tokens_per_second:.1f} tok/s, KV {first.prompt_tokens}, "
                f"memory {first.extra.get('memory_mb', 0):.0f} MB: {first_text!r}",
            )
            history = [
                (
                    ChatMessage("user", "My name is Alex. What can you do?"),
                    ChatMessage("assistant", first_text),
                )
            ]
            _, second, ttft2 = timed_turn(runtime, "What is my name?", history)
            # The same turn again on an empty KV cache: what a prefill costs with no reuse.
            runtime.clear_context(keep_system_prompt=False)
            _, full, ttft_full = timed_turn(runtime, "What is my name?", history)
            checks.report(
                second.prefill_tokens < full.prefill_tokens,
                "prefix reuse (keep_history=0)",
                f"second turn prefilled {second.prefill_tokens} tokens, first text after "
                f"{ttft2 * 1000:.0f} ms; with an empty KV cache {full.prefill_tokens} tokens, "
                f"{ttft_full * 1000:.0f} ms",
            )
            _, aborted, _ = timed_turn(
                runtime, "Tell me a long story about the sea.", max_new_tokens=120, stop_after=3
            )
            checks.report(
                aborted.stop_reason == "aborted" and aborted.generated_tokens < 40,
                "abort",
                f"stopped after {aborted.generated_tokens} tokens",
            )
        except RuntimeFailure as err:
            checks.report(False, "generate", str(err))
        finally:
            runtime.close()
        reloaded = RkllmRuntime(settings)
        try:
            started = time.perf_counter()
            reloaded.load()
            reloaded.prepare_system_prompt(SYSTEM)
            checks.report(
                reloaded.prefix_source == "disk",
                "prompt cache reload",
                f"{reloaded.prefix_source} after {time.perf_counter() - started:.1f} s",
            )
        except RuntimeFailure as err:
            checks.report(False, "prompt cache reload", str(err))
        finally:
            reloaded.close()
    print("all checks passed" if not checks.failed else f"failed: {', '.join(checks.failed)}")
    return 0 if not checks.failed else 1


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist npu-check", description=summary(__doc__))
    parser.add_argument("--model", required=True, help=".rkllm model file")
    parser.add_argument("--rkllm-library", help="librkllmrt.so (default: searched)")
    parser.add_argument("--rkllm-abi", default="auto", choices=("auto", "1.2", "1.3"))
    parser.add_argument("--context-length", type=int, default=CONTEXT_LENGTH)
    parser.add_argument("--driver-version-file", default=DRIVER_VERSION_FILE)
    return run_checks(parser.parse_args(argv))
