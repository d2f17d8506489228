"""``rk-assist npu-check``: what a board owner runs to verify the NPU path.

The RKLLM bindings are tested against a C double of librkllmrt.so and the
emulated runtime; only a board can confirm the real library agrees. This
command exercises, on the real thing, each behaviour the service relies on and
says plainly which held: the driver version, the library's ABI, loading,
streaming, the prompt cache (built, then loaded), prefix reuse across turns,
a device command answered through the runtime's logits (GET_LOGITS, one run a
step) and held to the call grammar, the prompt prefix reused when it is fed as
tokens, abort, and unload; and it sets the device command's measured time
beside the one predicted from Rockchip's published figures. ``--json`` prints
all of it as one report to paste into an issue.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .. import summary
from ..defaults import CONTEXT_LENGTH
from ..errors import HomeFileError, RuntimeFailure
from ..home.call_grammar import answer_constraint
from ..home.model import Home, load_home
from ..home.prompt import HOME_TOOLS_JSON, home_prompt
from ..runtimes.base import ChatMessage, GenerationRequest, GenerationStats
from ..runtimes.rkllm import RkllmRuntime, RkllmSettings
from .board_time import RUN_OVERHEAD_MS, figures_for, predict

DRIVER_VERSION_FILE = "/sys/kernel/debug/rknpu/version"
REQUIRED_DRIVER = "0.9.8"
SYSTEM = "You are a voice assistant in a smart home. Answer in one short sentence."


#: A one-room home for the device command: a request the model must answer with a call.
CHECK_HOME = """
areas: [{id: kitchen, name: Kitchen}]
entities:
  - {id: light.kitchen_ceiling, name: Kitchen Light, area: kitchen, state: "off"}
  - {id: fan.kitchen, name: Kitchen Fan, area: kitchen, state: "off"}
"""
DEVICE_COMMANDS = ("Switch the kitchen light on, please.", "Could you start the kitchen fan?")


class Checks:
    """Each check's verdict, said as it comes (to stderr with --json) and kept for the report."""

    def __init__(self, quiet: bool = False) -> None:
        self.failed: list[str] = []
        self.results: list[dict[str, object]] = []
        self.figures: dict[str, object] = {}
        self._out = sys.stderr if quiet else sys.stdout

    def say(self, line: str) -> None:
        print(line, file=self._out, flush=True)

    def report(self, ok: bool, name: str, detail: str, **figures: object) -> None:
        self.say(f"[{'ok' if ok else 'FAIL'}] {name}: {detail}")
        self.results.append({"check": name, "ok": ok, "detail": detail, **figures})
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


def check_home(folder: Path) -> Home:
    path = folder / "home.yaml"
    path.write_text(CHECK_HOME, encoding="utf-8")
    try:
        return load_home(path)
    except HomeFileError as err:  # pragma: no cover - the text above is fixed
        raise RuntimeFailure(str(err)) from err


def held_command(
    runtime: RkllmRuntime, asked: GenerationRequest, text: str
) -> tuple[str, GenerationStats, float]:
    """A device command answered through the runtime's logits, held to the call grammar."""
    pieces: list[str] = []
    request = replace(asked, turn=(ChatMessage("user", text),))
    started = time.perf_counter()
    stats = runtime.generate(request, pieces.append, threading.Event())
    return "".join(pieces), stats, (time.perf_counter() - started) * 1000


def check_device_commands(checks: Checks, runtime: RkllmRuntime, home: Home, model: Path) -> None:
    """GET_LOGITS, the grammar, the token-input prefix and the predicted time, on the board."""
    if not runtime.can_constrain:
        checks.report(
            False,
            "answer held to the call grammar",
            "the model's vocabulary is missing: put vocab.gguf (the GGUF of the same model, "
            "for its tokenizer) beside the .rkllm",
        )
        return
    # The home's prompt and grammar, as the service gives them for every request.
    asked = GenerationRequest(
        system_prompt=home_prompt(SYSTEM, home),
        turn=(),
        max_new_tokens=64,
        tools_json=HOME_TOOLS_JSON,
        constraint=answer_constraint(home),
    )
    runtime.prepare_system_prompt(asked.system_prompt, asked.tools_json)
    text, first, first_ms = held_command(runtime, asked, DEVICE_COMMANDS[0])
    runs = int(first.extra.get("rkllm_runs", 1))
    steps = max(runs - 1, 1)
    per_run_ms = first.generate_ms / steps
    checks.report(
        runs > 1,
        "GET_LOGITS steps",
        f"{runs} rkllm_run calls (the prompt's, then one a step), "
        f"{per_run_ms:.1f} ms per step, {first.extra.get('fed_tokens', 0)} tokens fed",
        runs=runs,
        per_run_ms=round(per_run_ms, 1),
    )
    checks.report(
        "HassTurnOn" in text and ("Kitchen Light" in text or "light.kitchen_ceiling" in text),
        "answer held to the call grammar",
        f"{text.strip()!r} ({first.generated_tokens} chosen, "
        f"{first.extra.get('forced_tokens', 0)} determined by the grammar)",
        answer=text.strip(),
    )
    _, second, second_ms = held_command(runtime, asked, DEVICE_COMMANDS[1])
    checks.report(
        second.reused_tokens > 0 and second.prefill_tokens < second.prompt_tokens,
        "prefix reuse with token input",
        f"second command: {second.reused_tokens} of {second.prompt_tokens} prompt tokens "
        f"reused, {second.prefill_tokens} prefilled in {second.prefill_ms:.0f} ms",
        reused_tokens=second.reused_tokens,
        prompt_tokens=second.prompt_tokens,
        prefill_ms=round(second.prefill_ms),
    )
    figures = figures_for(model)
    measured = {"first_ms": round(first_ms), "second_ms": round(second_ms)}
    if figures is None:
        checks.figures["device_command"] = {**measured, "predicted_ms": None}
        checks.say(
            f"device command: {first_ms:.0f} ms, then {second_ms:.0f} ms (no published "
            "figures for a model of this size to predict from)"
        )
        return
    predicted = predict(
        figures,
        second.prefill_tokens,
        second.generated_tokens,
        int(second.extra.get("rkllm_runs", 1)),
        int(second.extra.get("fed_tokens", 0)),
    )
    checks.figures["device_command"] = {
        **measured,
        "predicted_ms": round(predicted.total_ms),
        "predicted_overhead_ms": round(predicted.overhead_ms),
        "assumed_run_overhead_ms": RUN_OVERHEAD_MS,
        "measured_per_run_ms": round(per_run_ms, 1),
        "from": figures.describe(),
    }
    checks.say(
        f"device command (prefix reused): measured {second_ms:.0f} ms, predicted "
        f"{predicted.total_ms:.0f} ms from {figures.describe()} (of which "
        f"{predicted.overhead_ms:.0f} ms assumed for the runs; measured per run "
        f"{per_run_ms:.1f} ms)"
    )


def run_checks(args: argparse.Namespace) -> int:
    checks = Checks(quiet=args.json)
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
            return finish(checks, args, version)
        library = runtime.library
        assert library is not None
        checks.figures.update(
            runtime_version=library.version, abi=library.abi, library=str(library.path)
        )
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
            check_device_commands(checks, runtime, check_home(Path(tmp)), Path(args.model))
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
    return finish(checks, args, version)


def finish(checks: Checks, args: argparse.Namespace, version: str | None) -> int:
    verdict = "all checks passed" if not checks.failed else f"failed: {', '.join(checks.failed)}"
    checks.say(verdict)
    if args.json:
        report = {
            "model": str(args.model),
            "driver": version,
            **checks.figures,
            "checks": checks.results,
            "passed": not checks.failed,
        }
        print(json.dumps(report, indent=2))
    return 0 if not checks.failed else 1


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist npu-check", description=summary(__doc__))
    parser.add_argument("--model", required=True, help=".rkllm model file")
    parser.add_argument("--rkllm-library", help="librkllmrt.so (default: searched)")
    parser.add_argument("--rkllm-abi", default="auto", choices=("auto", "1.2", "1.3"))
    parser.add_argument("--context-length", type=int, default=CONTEXT_LENGTH)
    parser.add_argument("--driver-version-file", default=DRIVER_VERSION_FILE)
    parser.add_argument(
        "--json", action="store_true", help="print one JSON report (the checks go to stderr)"
    )
    return run_checks(parser.parse_args(argv))
