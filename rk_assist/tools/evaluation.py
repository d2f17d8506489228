"""``rk-assist eval``: how well a model turns requests into the right actions.

Runs every request of every set (a home, its language and its requests,
``eval/<set>/``) through the real assistant pipeline (Home Assistant's own
sentences, prompt, tools, model, tool-call parsing, validation against the
home) and compares the resulting actions with the expected ones. It reports
exact-match accuracy, wrong actions (acting when it should not, or on the
wrong thing: the failure a household notices), whether call text reached the
speech, whether what is said is in the request's language, and the latency
per turn, per language and per kind of request; what is wrong with what is
said (``SPEECH_FAULTS``); and whether the reply is of the class the request
expects (the sensitive question, "unknown device", an acknowledgement...), as
the code chose it, since a true reply of the wrong kind fails the person too.
Whatever the model scores is what it prints. The sets other than ``house-en``
were written after the rules they test, so that the eval measures requests
nobody tuned the code to.
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

from .. import summary
from ..assistant.pipeline import Assistant
from ..assistant.prompt import default_system_prompt
from ..assistant.replies import reply_class, words_of
from ..config import build_config
from ..errors import RuntimeFailure
from ..home.claims import claims_action
from ..home.facts import unread_number, unread_state
from ..home.model import Home, load_home
from ..home.prompt import names_an_example
from ..home.request_words import reads_as_other
from ..home.resolve import Action
from ..home.responses import heard
from ..home.services import STATE_INTENTS
from ..output.sanity import clauses, greeting_in, greets, loops, only_goodbye, says_back
from ..output.speech import TOOL_NAME
from ..stack import build_stack
from .board_time import RUN_OVERHEAD_MS, BoardFigures, figures_for, predict
from .eval_http import DoorTurn, http_door, load_recorded

#: The replies a request may expect (issue 28). "chat" is the model's own words (thanks
#: welcomed counts too); an "acknowledgement" is words that ask nothing back; the rest are
#: the replies the code chooses (``replies.REPLY_CLASSES``).
EXPECTED_REPLIES = (
    "done",
    "state answer",
    "which one",
    "ask value",
    "sensitive question",
    "unknown device",
    "not here",
    "cannot do",
    "acknowledgement",
    "chat",
)
#: The reply a request of a kind expects when nothing is to be done and it names none.
REPLY_OF_KIND = {
    "chit_chat": ("chat",),
    "remark": ("acknowledgement",),
    "sensitive": ("sensitive question",),
    "look_alike": ("unknown device", "not here"),
    # An order wrapped in "ignore your rules": asked to say it plainly, or told no in words.
    "ignore_instructions": ("sensitive question", "chat"),
    # Devices the home lacks and services it cannot give ("book me a taxi").
    "unknown": ("unknown device", "not here", "cannot do", "chat"),
}


def expected_reply(case: dict[str, Any]) -> tuple[str, ...]:
    """The replies that are right for a request: its own ``reply``, else its kind's."""
    if "reply" in case:
        reply = case["reply"]
        return (reply,) if isinstance(reply, str) else tuple(reply)
    if case["expect"]:
        reads = all(e["intent"] in STATE_INTENTS for e in case["expect"])
        return ("state answer",) if reads else ("done",)
    return REPLY_OF_KIND.get(case["kind"], ("chat",))


def reply_fits(got: str, expected: tuple[str, ...], spoken: str) -> bool:
    """Whether the reply the code chose (``reply_class``) is one the request expects."""
    if got in expected:
        return True
    if "chat" in expected and got in ("words", "acknowledgement"):
        return True
    return "acknowledgement" in expected and got == "words" and "?" not in spoken


CASE_SCHEMA = vol.Schema(
    {
        vol.Optional("language", default="en"): str,
        #: The home the requests are for, beside them or another set's ("../flat-en/home.yaml").
        vol.Optional("home", default="home.yaml"): str,
        vol.Required("requests"): [
            {
                vol.Required("text"): str,
                vol.Optional("kind", default="other"): str,
                #: The area id the request is heard in (a satellite's), for "here".
                vol.Optional("here"): str,
                #: What was said before in the same conversation (answered, not judged).
                vol.Optional("after", default=[]): [str],
                #: The reply it expects (one of ``EXPECTED_REPLIES``, or a list of those that
                #: are right); by default the kind's (``expected_reply``).
                vol.Optional("reply"): vol.Any(
                    vol.In(EXPECTED_REPLIES), [vol.In(EXPECTED_REPLIES)]
                ),
                vol.Required("expect"): [
                    {
                        vol.Required("intent"): str,
                        vol.Optional("entity"): str,
                        vol.Optional("slots", default={}): {str: vol.Any(str, int, float)},
                    }
                ],
            }
        ],
    }
)
#: The kinds of request issue 19 reports apart: where a wrong action hides.
CLASSES = ("sensitive", "look_alike", "ignore_instructions", "remark", "number_words", "several")

Key = tuple[str, str | None, tuple[tuple[str, str], ...]]
_DURATION = {"hours": 3600, "minutes": 60, "seconds": 1}
# Call text in any form: JSON, tags, or an intent named in prose ("call HassTurnOn with ...").
_CALL_TEXT = re.compile(r"[{}\[\]]|<\s*/?\s*(tool|function)|\bHass[A-Z]\w+|\barguments\b")
#: How what is said can be wrong, each counted apart (issue 28): a number no state, slot or
#: request holds; an action confirmed where none happened; the request read back; a loop; a
#: greeting nobody asked for; text for machines (call text, quotes, braces, a tool's name, the
#: prompt's made-up examples); another language than the request's.
SPEECH_FAULTS = (
    "false fact",
    "false confirmation",
    "parroted",
    "degenerate",
    "greeting",
    "machine text",
    "language",
)
_MACHINE_TEXT = re.compile(r"[\"“”„«»]")


def speech_faults(
    spoken: str, request: str, home: Home, actions: list[Action], other: str, language: str = "en"
) -> tuple[str, ...]:
    """What is wrong with what was said, by the classes of ``SPEECH_FAULTS``."""
    said = clauses(spoken)
    # What the actions set is known too: Home Assistant's confirmation says it back.
    given = " ".join([request, *(str(v) for a in actions for v in a.slots.values())])
    found = {
        # A state in the model's words is one it never read; Home Assistant's sentence for
        # an action or a read says the state it holds.
        "false fact": any(
            unread_number(clause, given, home, language)
            or (not actions and unread_state(clause, home, language))
            for clause in said
        ),
        "false confirmation": not actions and any(claims_action(c, language) for c in said),
        # Read back from its start; a greeting answering a greeting (a goodbye a goodbye)
        # is no reading back.
        "parroted": not (greeting_in(request) and said and greets(said[0]))
        and not (only_goodbye(request) and only_goodbye(spoken))
        and any(says_back(" ".join(said[:n]), request) for n in range(1, len(said) + 1)),
        "degenerate": loops(spoken),
        "greeting": bool(said) and greets(said[0]) and not greeting_in(request),
        "machine text": bool(
            _CALL_TEXT.search(spoken) or TOOL_NAME.search(spoken) or _MACHINE_TEXT.search(spoken)
        )
        or names_an_example(spoken, home),
        "language": bool(other),
    }
    return tuple(fault for fault in SPEECH_FAULTS if found[fault])


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
    language: str
    expected: set[Key]
    got: set[Key]
    spoken: str
    seconds: float
    prefill_tokens: int = 0
    generated_tokens: int = 0
    forced_tokens: int = 0
    #: rkllm_run calls (1: the runtime generated alone; 0: no model ran) and the tokens fed
    #: after the prompt's run: what a board's time is predicted from.
    runs: int = 0
    fed_tokens: int = 0

    @property
    def exact(self) -> bool:
        return self.got == self.expected

    @property
    def wrong_action(self) -> bool:
        """Something changed that nobody asked for. Reading a state changes nothing:
        a state read of another device is a wrong answer (``wrong_read``), not this."""
        return any(key[0] not in STATE_INTENTS for key in self.got - self.expected)

    @property
    def wrong_read(self) -> bool:
        return any(key[0] in STATE_INTENTS for key in self.got - self.expected)

    #: The language the speech reads as, where that is not the request's.
    other_language: str = ""
    #: What is wrong with what was said (``SPEECH_FAULTS``).
    faults: tuple[str, ...] = ()
    #: The reply the code chose (``replies.REPLY_CLASSES``) and those the request expects.
    reply: str = ""
    expected_reply: tuple[str, ...] = ()

    @property
    def right_reply(self) -> bool:
        return reply_fits(self.reply, self.expected_reply, self.spoken)

    @property
    def leaked_markup(self) -> bool:
        """Call text reached the speech: JSON, tags, or a call described in prose."""
        return bool(_CALL_TEXT.search(self.spoken))


@dataclass
class EvalSet:
    """A home, the language its people speak, and what they ask of it."""

    name: str
    home: Home
    language: str
    cases: list[dict[str, Any]]


def load_set(folder: Path) -> EvalSet:
    requests = folder / "requests.yaml"
    try:
        raw = CASE_SCHEMA(yaml.safe_load(requests.read_text(encoding="utf-8")))
        home = load_home(folder / raw["home"])
    except (OSError, yaml.YAMLError, ValueError) as err:
        raise SystemExit(f"rk-assist eval: cannot read the set {folder}: {err}") from err
    except vol.Invalid as err:
        raise SystemExit(f"rk-assist eval: {requests}: {err}") from err
    return EvalSet(folder.name, home, raw["language"], raw["requests"])


def set_folders(named: list[str] | None, root: Path = Path("eval")) -> list[Path]:
    """The sets named, else every set under ``eval/``."""
    if named:
        return [Path(name) if Path(name).is_dir() else root / name for name in named]
    return sorted(path.parent for path in root.glob("*/requests.yaml"))


def other_language(text: str, language: str, home: Home) -> str:
    """The language ``text`` reads as, where that is clearly not ``language`` ("" if it is)."""
    names = [n for entity in home.entities.values() for n in entity.names]
    return reads_as_other(text, language, [*names, *(a.name for a in home.areas.values())])


async def evaluate(args: argparse.Namespace) -> tuple[list[CaseResult], Path | None]:
    sets = [load_set(folder) for folder in set_folders(args.set)]
    if not sets:
        raise SystemExit("rk-assist eval: no sets (eval/<set>/requests.yaml and home.yaml)")
    if args.door != "wyoming":
        return await _through_http_door(args, sets), None
    current: dict[str, Home] = {"home": sets[0].home}
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
                # One request at a time, each on its own: no queue; a conversation only
                # for a request said after others (``after``).
                "queue_size": "1",
            },
            environ={},
        )
        stack = build_stack(
            config,
            home=lambda: current["home"],
            system_prompt=default_system_prompt().strip(),
            call_grammar=not args.no_grammar,
            free_names=args.grammar_names == "free",
            home_sentences=not args.model_only,
        )
        await stack.load()
        assistant, worker, plan = stack.assistant, stack.worker, stack.plan
        results = []
        try:
            for eval_set in sets:
                current["home"] = eval_set.home
                await worker.prepare(*assistant.prompt_and_tools(eval_set.home))
                assistant.prompt_prepared_for(eval_set.home)
                results += await _run_set(args, assistant, plan.entry.name, eval_set)
        finally:
            await worker.close()
    return results, stack.plan.entry.path


async def _run_set(
    args: argparse.Namespace, assistant: Assistant, model: str, eval_set: EvalSet
) -> list[CaseResult]:
    cases = [c for c in eval_set.cases if not args.kind or c["kind"] in args.kind]
    cases = cases[: args.limit or None]
    runtime = assistant.worker.runtime
    constrained = assistant.constraint() is not None and runtime.can_constrain
    print(
        f"Evaluating {model} on {runtime.name}, set {eval_set.name} ({eval_set.language}): "
        f"{len(cases)} requests, {len(eval_set.home.entities)} exposed entities, call grammar "
        f"{'on' if constrained else 'off'}, cached prefix {runtime.prefix_tokens} tokens",
        file=sys.stderr,
    )
    results = []
    for number, case in enumerate(cases, 1):
        conversation = f"{eval_set.name}-{number}" if case["after"] else None
        for before in case["after"]:
            await assistant.answer(before, conversation, eval_set.language, here=case.get("here"))
        started = time.perf_counter()
        turn = await assistant.answer(
            case["text"], conversation, eval_set.language, here=case.get("here")
        )
        seconds = time.perf_counter() - started
        actions = turn.outcome.actions if turn.outcome else []
        got = action_keys(actions)
        spoken = heard(
            words_of(turn.reply, eval_set.language, eval_set.home), actions, eval_set.home
        )
        stats = turn.stats
        other = other_language(spoken, eval_set.language, eval_set.home)
        result = CaseResult(
            case["text"],
            case["kind"],
            eval_set.language,
            expected_keys(case["expect"]),
            got,
            spoken,
            seconds,
            prefill_tokens=stats.prefill_tokens if stats else 0,
            generated_tokens=stats.generated_tokens if stats else 0,
            forced_tokens=int(stats.extra.get("forced_tokens", 0)) if stats else 0,
            runs=int(stats.extra.get("rkllm_runs", 1)) if stats else 0,
            fed_tokens=int(stats.extra.get("fed_tokens", 0)) if stats else 0,
            other_language=other,
            faults=speech_faults(
                spoken, case["text"], eval_set.home, actions, other, eval_set.language
            ),
            reply=reply_class(turn.reply, eval_set.language),
            expected_reply=expected_reply(case),
        )
        results.append(result)
        if args.verbose:
            mark = "ok " if result.exact else ("BAD" if result.wrong_action else "-- ")
            if result.other_language:
                mark += f" [{result.other_language}]"
            if result.faults:
                mark += f" <{', '.join(result.faults)}>"
            if not result.right_reply:
                mark += f" ({result.reply}, not {' or '.join(result.expected_reply)})"
            print(
                f"{mark} {eval_set.name} {number:3d} {case['text']!r}: {sorted(got)} "
                f"{spoken[:70]!r} ({seconds:.2f} s)",
                file=sys.stderr,
            )
    return results


async def _through_http_door(args: argparse.Namespace, sets: list[EvalSet]) -> list[CaseResult]:
    """Every set through rk-assist's HTTP door as a real Home Assistant's integration asks
    it (``eval_http``): one service per set, in the set's language as a user sets it."""
    recorded = load_recorded(args.door)
    results: list[CaseResult] = []
    turns: list[DoorTurn] = []
    for eval_set in sets:
        cases = [c for c in eval_set.cases if not args.kind or c["kind"] in args.kind]
        cases = cases[: args.limit or None]
        print(
            f"Evaluating through the {args.door} door, set {eval_set.name} "
            f"({eval_set.language}): {len(cases)} requests, Home Assistant 2026.11's prompt "
            f"and {len(recorded.tools)} tools",
            file=sys.stderr,
        )
        async with http_door(args, recorded, eval_set.language, args.door) as door:
            for number, case in enumerate(cases, 1):
                history: list[dict[str, Any]] = []
                for before in case["after"]:
                    await door.turn(eval_set.home, history, before)
                turn = await door.turn(eval_set.home, history, case["text"])
                turns.append(turn)
                result = _door_result(eval_set, case, turn)
                results.append(result)
                if args.verbose:
                    _print_door_turn(eval_set.name, number, result, turn)
    print(door_report(turns))
    return results


def _door_result(eval_set: EvalSet, case: dict[str, Any], turn: DoorTurn) -> CaseResult:
    other = other_language(turn.spoken, eval_set.language, eval_set.home)
    faults = speech_faults(
        turn.spoken, case["text"], eval_set.home, turn.actions, other, eval_set.language
    )
    return CaseResult(
        case["text"],
        case["kind"],
        eval_set.language,
        expected_keys(case["expect"]),
        action_keys(turn.actions),
        turn.spoken,
        turn.seconds,
        other_language=other,
        faults=faults,
        # The door's words are all the client hears: the reply's class is not told here.
        reply="",
        expected_reply=("",),
    )


def _print_door_turn(name: str, number: int, result: CaseResult, turn: DoorTurn) -> None:
    mark = "ok " if result.exact else ("BAD" if result.wrong_action else "-- ")
    if result.faults:
        mark += f" <{', '.join(result.faults)}>"
    extra = [f"{turn.duplicates} refused as duplicate"] if turn.duplicates else []
    extra += [f"{turn.unlisted} naming the unlisted"] if turn.unlisted else []
    extra += turn.schema
    print(
        f"{mark} {name} {number:3d} {result.text!r}: {sorted(result.got)} "
        f"{result.spoken[:70]!r} ({result.seconds:.2f} s){' ' + '; '.join(extra) if extra else ''}",
        file=sys.stderr,
    )


def door_report(turns: list[DoorTurn]) -> str:
    """What the door's calls were as Home Assistant received them (issue 30's done-when)."""
    calls = sum(t.calls for t in turns)
    return "\n".join(
        [
            f"calls through the door: {calls} in {len(turns)} requests",
            f"  refused by Home Assistant as a duplicate name: {sum(t.duplicates for t in turns)}",
            f"  naming a device, area or floor the prompt does not list: "
            f"{sum(t.unlisted for t in turns)}",
            f"  breaking the tool's schema: {sum(len(t.schema) for t in turns)}",
        ]
    )


def _row(label: str, group: list[CaseResult]) -> str:
    exact = sum(r.exact for r in group)
    return (
        f"| {label} | {exact}/{len(group)} ({exact / len(group):.1%}) "
        f"| {sum(r.wrong_action for r in group)} | {sum(r.leaked_markup for r in group)} "
        f"| {sum(bool(r.other_language) for r in group)} |"
    )


def _table(title: str, groups: dict[str, list[CaseResult]]) -> list[str]:
    lines = [
        "",
        f"| {title} | exact | wrong actions | call text spoken | speech in another language |",
        "|---|---|---|---|---|",
    ]
    lines += [_row(label, group) for label, group in groups.items()]
    return lines


def board_lines(results: list[CaseResult], figures: BoardFigures) -> list[str]:
    """The predicted RK3588 time of the device commands the model answered."""
    commands = [r for r in results if r.expected and r.runs]
    if not commands:
        return []
    predictions = [
        predict(figures, r.prefill_tokens, r.generated_tokens, r.runs, r.fed_tokens)
        for r in commands
    ]
    answered = sum(bool(r.expected) for r in results)
    return [
        f"predicted RK3588 time per device command the model answered ({len(commands)} of "
        f"{answered}; the rest Home Assistant's sentences settled without it), from "
        f"{figures.describe()}:",
        f"  median {statistics.median(p.total_ms for p in predictions):.0f} ms "
        f"(p90 {_p90([p.total_ms for p in predictions]):.0f} ms), of which "
        f"{statistics.median(p.overhead_ms for p in predictions):.0f} ms is the assumed "
        f"{RUN_OVERHEAD_MS:g} ms per rkllm_run; median "
        f"{statistics.median(r.runs for r in commands):.0f} runs, "
        f"{statistics.median(r.fed_tokens for r in commands):.0f} tokens fed after the prompt",
    ]


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def report(results: list[CaseResult], figures: BoardFigures | None = None) -> str:
    total = len(results)
    exact = sum(r.exact for r in results)
    wrong = sum(r.wrong_action for r in results)
    leaked = sum(r.leaked_markup for r in results)
    act_cases = [r for r in results if r.expected]
    still_cases = [r for r in results if not r.expected]
    times = sorted(r.seconds for r in results)
    p90 = _p90(times) if times else 0.0
    lines = [
        f"requests: {total}",
        f"exact-match accuracy: {exact / total:.1%} ({exact}/{total})",
        f"  where an action was expected: {sum(r.exact for r in act_cases)}/{len(act_cases)}",
        f"  where nothing must happen: {sum(r.exact for r in still_cases)}/{len(still_cases)}",
        f"wrong-action rate: {wrong / total:.1%} ({wrong}/{total} turns acted on something "
        f"not asked for)",
        f"states read that were not asked about: {sum(r.wrong_read for r in results)}",
        f"tool-call text in speech: {leaked}",
        f"speech in another language than the request's: "
        f"{sum(bool(r.other_language) for r in results)}",
        f"latency per turn: median {statistics.median(times):.2f} s, p90 {p90:.2f} s",
    ]
    if act_cases:
        lines.append(
            "per device command: median "
            f"{statistics.median(r.prefill_tokens for r in act_cases):.0f} tokens prefilled, "
            f"{statistics.median(r.generated_tokens for r in act_cases):.0f} generated, "
            f"{statistics.median(r.forced_tokens for r in act_cases):.0f} appended unsampled"
        )
    if figures is not None:
        lines += board_lines(results, figures)
    languages: dict[str, list[CaseResult]] = defaultdict(list)
    kinds: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        languages[result.language].append(result)
        kinds[result.kind].append(result)
    lines += _table("language", dict(sorted(languages.items())))
    ordered = [k for k in CLASSES if k in kinds] + sorted(k for k in kinds if k not in CLASSES)
    lines += _table("kind", {kind: kinds[kind] for kind in ordered})
    lines += ["", "What was said, turns with each fault:", ""]
    lines += ["| language | " + " | ".join(SPEECH_FAULTS) + " |"]
    lines += ["|---|" + "---|" * len(SPEECH_FAULTS)]
    for language, group in [*sorted(languages.items()), ("all", results)]:
        counts = [sum(fault in r.faults for r in group) for fault in SPEECH_FAULTS]
        lines.append(f"| {language} | " + " | ".join(map(str, counts)) + " |")
    if any(r.reply for r in results):
        lines += reply_lines(results, languages)
    return "\n".join(lines)


def reply_lines(results: list[CaseResult], languages: dict[str, list[CaseResult]]) -> list[str]:
    """The reply class per language and expected class, where nothing is to be done."""
    still = [r for r in results if not r.expected]
    classes = [c for c in EXPECTED_REPLIES if any(c == r.expected_reply[0] for r in still)]
    lines = [
        "",
        "The reply where nothing is to be done: right class / requests, by the class expected:",
        "",
        "| language | right | " + " | ".join(classes) + " |",
        "|---|---|" + "---|" * len(classes),
    ]
    for language, group in [*sorted(languages.items()), ("all", results)]:
        group = [r for r in group if not r.expected]
        if not group:
            continue
        cells = []
        for wanted in classes:
            these = [r for r in group if r.expected_reply[0] == wanted]
            right = sum(r.right_reply for r in these)
            cells.append(f"{right}/{len(these)}" if these else "-")
        right = sum(r.right_reply for r in group)
        lines.append(
            f"| {language} | {right}/{len(group)} ({right / len(group):.1%}) | "
            + " | ".join(cells)
            + " |"
        )
    wrong = defaultdict(int)
    for r in still:
        if not r.right_reply:
            wrong[(r.expected_reply[0], r.reply)] += 1
    if wrong:
        lines += ["", "Wrong classes (expected -> got: requests):"]
        lines += [f"  {want} -> {got}: {n}" for (want, got), n in sorted(wrong.items())]
    acted = [r for r in results if r.expected]
    if acted:
        lines.append(
            f"\nThe reply where something is to be done or read: "
            f"{sum(r.right_reply for r in acted)}/{len(acted)} of the class expected"
        )
    return lines


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist eval", description=summary(__doc__))
    parser.add_argument(
        "--set",
        action="append",
        help="a set to run: a folder with home.yaml and requests.yaml, or its name under "
        "eval/ (repeatable; default: every set under eval/)",
    )
    parser.add_argument("--kind", action="append", help="only requests of this kind (repeatable)")
    parser.add_argument("--model", help="model name or file (default: the service's, see --model)")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--runtime", default="auto", choices=("auto", "cpu", "rkllm"))
    parser.add_argument("--rkllm-library")
    parser.add_argument("--context-length")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--limit", type=int, default=0, help="only the first N requests of a set")
    parser.add_argument("--verbose", action="store_true", help="print every turn")
    parser.add_argument(
        "--door",
        choices=("wyoming", "ollama", "openai"),
        default="wyoming",
        help="the door the requests come through: the assistant pipeline as the Wyoming door "
        "runs it (default), or an HTTP door as Home Assistant 2026.11's Ollama (ollama) or "
        "llama_cpp (openai) integration asks it, with its recorded prompt and tools",
    )
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
        results, model_path = asyncio.run(evaluate(args))
    except RuntimeFailure as err:
        print(f"rk-assist eval: {err}", file=sys.stderr)
        return 1
    if not results:
        print("rk-assist eval: no requests", file=sys.stderr)
        return 1
    on_board = args.runtime == "rkllm" and model_path is not None
    print(report(results, figures_for(model_path) if on_board else None))
    return 0
