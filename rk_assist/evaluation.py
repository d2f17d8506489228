"""``rk-assist eval``: how well a model turns requests into the right actions.

Runs every utterance of a set through the real assistant pipeline (prompt,
tools, model, tool-call parsing, validation against the home) and compares
the resulting actions with the expected ones. It reports exact-match
accuracy, the rate of wrong actions (acting when it should not, or on the
wrong thing: the failure a household notices), whether tool-call text ever
reached the speech, and the latency per turn. Whatever the model scores is
what it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import voluptuous as vol
import yaml

from . import summary
from .assistant.conversations import ConversationStore
from .assistant.pipeline import Assistant, AssistantSettings
from .assistant.prompt import default_system_prompt
from .config import build_config
from .home.model import load_home
from .home.resolve import Action
from .models.select import create_runtime, plan_model
from .runtimes.base import RuntimeFailure
from .runtimes.worker import ModelWorker

CASE_SCHEMA = vol.Schema(
    [
        {
            vol.Required("text"): str,
            vol.Optional("kind", default="other"): str,
            vol.Required("expect"): [
                {
                    vol.Required("intent"): str,
                    vol.Optional("entity"): str,
                    vol.Optional("slots", default={}): {str: vol.Any(str, int, float)},
                }
            ],
        }
    ]
)

Key = tuple[str, str | None, tuple[tuple[str, str], ...]]
_DURATION = {"hours": 3600, "minutes": 60, "seconds": 1}
# Call text in any form: JSON, tags, or an intent named in prose ("call HassTurnOn with ...").
_CALL_TEXT = re.compile(r"[{}\[\]]|<\s*/?\s*(tool|function)|\bHass[A-Z]\w+|\barguments\b")


def _meaning(value: Any) -> str:
    """A slot value as compared: numbers as numbers, words in lower case."""
    try:
        number = float(str(value).strip().rstrip("%"))
    except ValueError:
        return str(value).strip().lower()
    return str(int(number)) if number.is_integer() else str(number)


def _key(intent: str, entity: str | None, slots: dict[str, Any]) -> Key:
    slots = {k: v for k, v in slots.items() if k != "name"}
    if _DURATION.keys() & slots.keys():
        # A 5-minute timer is a 5-minute timer however it is split into units.
        try:
            seconds = sum(float(slots.pop(unit, 0) or 0) * n for unit, n in _DURATION.items())
            slots["duration_s"] = seconds
        except (TypeError, ValueError):
            pass
    extra = tuple(sorted((k, _meaning(v)) for k, v in slots.items()))
    return intent, entity, extra


def action_keys(actions: list[Action]) -> set[Key]:
    return {_key(a.intent, a.entity_id, a.slots) for a in actions}


def expected_keys(expect: list[dict[str, Any]]) -> set[Key]:
    return {_key(e["intent"], e.get("entity"), e.get("slots", {})) for e in expect}


@dataclass
class CaseResult:
    text: str
    kind: str
    expected: set[Key]
    got: set[Key]
    spoken: str
    seconds: float
    prefill_tokens: int = 0
    generated_tokens: int = 0
    forced_tokens: int = 0

    @property
    def exact(self) -> bool:
        return self.got == self.expected

    @property
    def wrong_action(self) -> bool:
        return bool(self.got - self.expected)

    @property
    def leaked_markup(self) -> bool:
        """Call text reached the speech: JSON, tags, or a call described in prose."""
        return bool(_CALL_TEXT.search(self.spoken))


def load_cases(path: Path) -> list[dict[str, Any]]:
    try:
        return CASE_SCHEMA(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as err:
        raise SystemExit(f"rk-assist eval: cannot read {path}: {err}") from err
    except vol.Invalid as err:
        raise SystemExit(f"rk-assist eval: {path}: {err}") from err


async def evaluate(args: argparse.Namespace) -> list[CaseResult]:
    home = load_home(Path(args.home))
    cases = load_cases(Path(args.cases))[: args.limit or None]
    with tempfile.TemporaryDirectory(prefix="rk-assist-eval-") as tmp:
        config = build_config(
            {
                "model": args.model,
                "models_dir": args.models_dir,
                "runtime": args.runtime,
                "rkllm_library": args.rkllm_library,
                "context_length": args.context_length,
                "temperature": "0",
                "max_tokens": str(args.max_tokens),
                "cache_dir": str(Path(tmp) / "cache"),
            },
            environ={},
        )
        plan = plan_model(config)
        worker = ModelWorker(create_runtime(plan, config), max_waiting=1)
        system_prompt = default_system_prompt().strip()
        assistant = Assistant(
            worker,
            system_prompt,
            ConversationStore(max_turns=0),
            AssistantSettings(
                max_new_tokens=args.max_tokens,
                call_grammar=not args.no_grammar,
                free_names=args.grammar_names == "free",
                home_sentences=not args.model_only,
            ),
            home=lambda: home,
        )
        system_prompt, tools = assistant.prompt_and_tools()
        await worker.load(system_prompt, tools)
        constrained = assistant.constraint() is not None and worker.runtime.can_constrain
        print(
            f"Evaluating {plan.entry.name} on {worker.runtime.name}: {len(cases)} utterances, "
            f"{len(home.entities)} exposed entities, call grammar "
            f"{'on' if constrained else 'off'}, cached prefix {worker.runtime.prefix_tokens} "
            "tokens",
            file=sys.stderr,
        )
        results = []
        try:
            for number, case in enumerate(cases, 1):
                started = time.perf_counter()
                stream = assistant.answer(case["text"])
                async for _chunk in stream:
                    pass
                seconds = time.perf_counter() - started
                got = action_keys(stream.outcome.actions) if stream.outcome else set()
                stats = stream.stats
                result = CaseResult(
                    case["text"],
                    case["kind"],
                    expected_keys(case["expect"]),
                    got,
                    stream.text,
                    seconds,
                    prefill_tokens=stats.prefill_tokens if stats else 0,
                    generated_tokens=stats.generated_tokens if stats else 0,
                    forced_tokens=int(stats.extra.get("forced_tokens", 0)) if stats else 0,
                )
                results.append(result)
                if args.verbose:
                    mark = "ok " if result.exact else ("BAD" if result.wrong_action else "-- ")
                    print(
                        f"{mark} {number:3d} {case['text']!r}: {sorted(got)} "
                        f"{stream.text[:60]!r} ({seconds:.2f} s)",
                        file=sys.stderr,
                    )
        finally:
            await worker.close()
    return results


def report(results: list[CaseResult]) -> str:
    total = len(results)
    exact = sum(r.exact for r in results)
    wrong = sum(r.wrong_action for r in results)
    leaked = sum(r.leaked_markup for r in results)
    act_cases = [r for r in results if r.expected]
    still_cases = [r for r in results if not r.expected]
    times = sorted(r.seconds for r in results)
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))] if times else 0.0
    lines = [
        f"utterances: {total}",
        f"exact-match accuracy: {exact / total:.1%} ({exact}/{total})",
        f"  where an action was expected: {sum(r.exact for r in act_cases)}/{len(act_cases)}",
        f"  where nothing must happen: {sum(r.exact for r in still_cases)}/{len(still_cases)}",
        f"wrong-action rate: {wrong / total:.1%} ({wrong}/{total} turns acted on something "
        f"not asked for)",
        f"tool-call text in speech: {leaked}",
        f"latency per turn: median {statistics.median(times):.2f} s, p90 {p90:.2f} s",
    ]
    if act_cases:
        lines.append(
            "per device command: median "
            f"{statistics.median(r.prefill_tokens for r in act_cases):.0f} tokens prefilled, "
            f"{statistics.median(r.generated_tokens for r in act_cases):.0f} generated, "
            f"{statistics.median(r.forced_tokens for r in act_cases):.0f} appended unsampled"
        )
    lines += [
        "by kind:",
    ]
    kinds: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        kinds[result.kind].append(result)
    for kind, group in sorted(kinds.items()):
        lines.append(
            f"  {kind:<12} {sum(r.exact for r in group):3d}/{len(group):<3d}"
            f" wrong actions {sum(r.wrong_action for r in group)}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist eval", description=summary(__doc__))
    parser.add_argument("--home", default="eval/home.yaml", help="the home (eval/home.yaml)")
    parser.add_argument(
        "--cases", default="eval/utterances.yaml", help="the utterances (eval/utterances.yaml)"
    )
    parser.add_argument("--model", help="model name or file (default: the service's, see --model)")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--runtime", default="auto", choices=("auto", "cpu", "rkllm"))
    parser.add_argument("--rkllm-library")
    parser.add_argument("--context-length")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--limit", type=int, default=0, help="only the first N utterances")
    parser.add_argument("--verbose", action="store_true", help="print every turn")
    parser.add_argument(
        "--no-grammar",
        action="store_true",
        help="let the model write freely (compare with the call grammar, the default)",
    )
    parser.add_argument(
        "--model-only",
        action="store_true",
        help="send every request to the model, even those Home Assistant's own sentences "
        "understand (the service acts on those directly)",
    )
    parser.add_argument(
        "--grammar-names",
        choices=("free", "home"),
        default="free",
        help="device names in the grammar: any text checked against the home afterwards "
        "(free, the default), or only the home's names",
    )
    args = parser.parse_args(argv)
    try:
        results = asyncio.run(evaluate(args))
    except RuntimeFailure as err:
        print(f"rk-assist eval: {err}", file=sys.stderr)
        return 1
    if not results:
        print("rk-assist eval: no utterances", file=sys.stderr)
        return 1
    print(report(results))
    return 0
