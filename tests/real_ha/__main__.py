"""rk-assist in a real Home Assistant, through every door (script/test-ha).

Starts Home Assistant 2026.11 with its demo devices placed in areas,
onboards it, exposes some devices to Assist, starts rk-assist as
script/run does (reading that home over the websocket API) and adds it
through Home Assistant's own config flows: the Wyoming integration, the
Ollama integration and the llama_cpp integration, each form filled as the
UI submits it. Then every request of home.yaml goes through each door with
/api/conversation/process, and what changed in the home and what was said
are checked. Prints a table per door; exits 1 when something that must
never happen did (see `check`), or with --strict when a door is below
issue 18's accuracy bar. With --voice, then the voice loop (voice.py):
each door's answers spoken by a real Piper voice, timed to the first sound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import processes, recorder, voice
from .home_assistant import HomeAssistant

HERE = Path(__file__).parent
DOORS = ("wyoming", "ollama", "llama_cpp")
WATCHED_DOMAINS = {
    "alarm_control_panel",
    "climate",
    "cover",
    "fan",
    "humidifier",
    "light",
    "lock",
    "media_player",
    "switch",
    "todo",
    "vacuum",
    "valve",
    "water_heater",
}
WATCHED_ATTRIBUTES = ("temperature", "volume_level", "is_volume_muted", "current_position")
MOVING = {"opening", "closing", "locking", "unlocking"}
#: Text that is a call or a tool result, never something to say aloud.
MACHINE_TEXT = re.compile(r"[{}\[\]]|\"\w+\"\s*:|</?tool_call>|\bintent__|\bHass[A-Z]")
#: Instructions rk-assist gives its model, which a small model may read back.
INTERNAL = re.compile(r"No device was asked for|Answer the person|Current date and time", re.I)
#: A sentence that says something was done: false wherever nothing changed.
CLAIM = re.compile(
    r"(^|[.!]\s+)(done|turned|switched|opened|closed|locked|unlocked|set|paused|resumed)\b"
    r"|\bI(?:'ve| have)?\s+(?:just\s+)?(?:turned|switched|opened|closed|locked|unlocked|set"
    r"|paused|resumed|started|stopped)\b|\b(?:is|are) now\s+(?:on|off|open|closed|locked"
    r"|unlocked|playing|paused|set)\b",
    re.I,
)
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)?")
#: Where a door must be (issue 18): the share of requests handled right.
REQUIRED = {"wyoming": 1.0, "ollama": 0.9, "llama_cpp": 0.9}
SERVICES = {
    ("lock", "locked"): ("lock", "lock"),
    ("lock", "unlocked"): ("lock", "unlock"),
    ("cover", "open"): ("cover", "open_cover"),
    ("cover", "closed"): ("cover", "close_cover"),
    ("valve", "open"): ("valve", "open_valve"),
    ("valve", "closed"): ("valve", "close_valve"),
    ("media_player", "playing"): ("media_player", "media_play"),
    ("media_player", "paused"): ("media_player", "media_pause"),
}


@dataclass
class Outcome:
    door: str
    text: str
    speech: str
    changed: dict[str, str]
    seconds: float
    problems: list[str] = field(default_factory=list)
    #: A device command (the request changes the home when done right).
    command: bool = False

    @property
    def right(self) -> bool:
        return not self.problems


def settled(value: dict[str, Any]) -> str:
    state = value["state"]
    attributes = value.get("attributes", {})
    extra = [f"{name}={attributes[name]}" for name in WATCHED_ATTRIBUTES if name in attributes]
    return " ".join([state, *extra])


def watched(states: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {
        entity_id: settled(value)
        for entity_id, value in states.items()
        if entity_id.split(".")[0] in WATCHED_DOMAINS
    }


async def settle(ha: HomeAssistant, timeout: float = 6.0) -> dict[str, dict[str, Any]]:
    """The states once nothing is still moving (demo locks and covers take a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        states = await ha.states()
        busy = [
            entity_id
            for entity_id, value in states.items()
            if value["state"] in MOVING and entity_id.split(".")[0] in WATCHED_DOMAINS
        ]
        if not busy or time.monotonic() > deadline:
            return states
        await asyncio.sleep(0.3)


async def restore(ha: HomeAssistant, wanted: dict[str, Any]) -> None:
    states = await ha.states()
    for entity_id, target in wanted.items():
        domain = entity_id.split(".")[0]
        current = states[entity_id]
        if isinstance(target, dict):
            if current["attributes"].get("temperature") != target["temperature"]:
                await ha.call_service("climate", "set_temperature", entity_id=entity_id, **target)
            continue
        if current["state"] == target:
            continue
        if domain == "todo":  # a list is restored to empty: each item added is removed
            listed = await ha.ws("todo/item/list", entity_id=entity_id)
            items = [item["uid"] for item in listed["items"]]
            await ha.call_service("todo", "remove_item", entity_id=entity_id, item=items)
            continue
        domain_service = SERVICES.get((domain, target))
        if domain_service is None:
            domain_service = ("homeassistant", "turn_on" if target == "on" else "turn_off")
        await ha.call_service(*domain_service, entity_id=entity_id)
    await settle(ha)


async def set_up_home(ha: HomeAssistant, home: dict[str, Any]) -> None:
    """Areas on devices (or on entities without one), and exactly `exposed` exposed."""
    if "todo.shopping_list" in home["exposed"]:
        # A to-do list as a new user has one: the shopping list integration's.
        await ha.add_entry("shopping_list", {})
        deadline = time.monotonic() + 30
        while "todo.shopping_list" not in await ha.states():
            if time.monotonic() > deadline:
                raise RuntimeError("the shopping list integration made no todo.shopping_list")
            await asyncio.sleep(0.5)
    areas = {area["area_id"] for area in await ha.ws("config/area_registry/list")}
    registry = {entry["entity_id"]: entry for entry in await ha.ws("config/entity_registry/list")}
    for area_id, entity_ids in home["areas"].items():
        if area_id not in areas:
            created = await ha.ws(
                "config/area_registry/create", name=area_id.replace("_", " ").title()
            )
            area_id = created["area_id"]
        for entity_id in entity_ids:
            entry = registry.get(entity_id)
            if entry is None:
                continue  # the demo's locks and media players have no registry entry
            if entry["device_id"]:
                await ha.ws(
                    "config/device_registry/update", device_id=entry["device_id"], area_id=area_id
                )
            else:
                await ha.ws("config/entity_registry/update", entity_id=entity_id, area_id=area_id)
    every = list((await ha.states()).keys())
    await ha.ws(
        "homeassistant/expose_entity",
        assistants=["conversation"],
        entity_ids=every,
        should_expose=False,
    )
    await ha.ws(
        "homeassistant/expose_entity",
        assistants=["conversation"],
        entity_ids=home["exposed"],
        should_expose=True,
    )


async def add_doors(
    ha: HomeAssistant, doors: list[str], wyoming_port: int, http_port: int, model: str
) -> dict[str, str]:
    """Each door through its integration's config flow; the conversation agent of each."""
    agents = {}
    if "wyoming" in doors:
        await ha.add_entry("wyoming", {"host": "127.0.0.1", "port": wyoming_port})
        agents["wyoming"] = await ha.agent_of("wyoming")
    if "ollama" in doors:
        entry = await ha.add_entry("ollama", {"url": f"http://127.0.0.1:{http_port}"})
        # The user picks the model and "Device control"; the context size stays
        # filled in with the form's 8192 (sent on as 8192.0).
        await ha.add_subentry(
            entry["entry_id"], "conversation", {"model": model, "llm_hass_api": ["assist"]}
        )
        agents["ollama"] = await ha.agent_of("ollama")
    if "llama_cpp" in doors:
        entry = await ha.add_entry(
            "llama_cpp", {"base_url": f"http://127.0.0.1:{http_port}/v1", "chat_model": model}
        )
        if not any(
            sub.get("subentry_type") == "conversation"
            for sub in (await ha.ws("config_entries/subentries/list", entry_id=entry["entry_id"]))
        ):
            await ha.add_subentry(
                entry["entry_id"], "conversation", {"chat_model": model, "llm_hass_api": ["assist"]}
            )
        agents["llama_cpp"] = await ha.agent_of("llama_cpp")
    return agents


def judge(
    request: dict[str, Any],
    speech: str,
    changed: dict[str, str],
    exposed: set[str],
    states: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """What is wrong with one answer; ``states`` as they were when it was asked."""
    expected = request.get("changes") or {}
    problems = [
        f"changed {entity_id}{'' if entity_id in exposed else ' (NOT EXPOSED)'} to {after}"
        for entity_id, after in changed.items()
        if entity_id not in expected
    ]
    problems += [
        problem
        for entity_id, want in expected.items()
        if (problem := _missed(entity_id, want, changed.get(entity_id)))
    ]
    if not speech.strip():
        problems.append("nothing was said")
    if MACHINE_TEXT.search(speech):
        problems.append("said machine text")
    if INTERNAL.search(speech):
        problems.append("said an internal instruction")
    says = request.get("says")
    if says and not any(re.search(rf"\b{re.escape(word)}\b", speech, re.I) for word in says):
        problems.append(f"said none of {says}")
    if request.get("reads"):
        problems += _facts_wrong(request, speech, states or {})
    if not changed and CLAIM.search(speech):
        problems.append("claimed an action that did not happen")
    return problems


def _facts_wrong(
    request: dict[str, Any], speech: str, states: dict[str, dict[str, Any]]
) -> list[str]:
    """A state question's answer: one of the states it is about said, no number made up."""
    values = []
    for read in request["reads"]:
        entity_id, _, attribute = read.partition("@")
        state = states.get(entity_id, {})
        values.append(
            state.get("attributes", {}).get(attribute) if attribute else state.get("state")
        )
    numbers = [float(v) for v in values if _is_number(v)]
    allowed = numbers + [float(n.replace(",", ".")) for n in NUMBER.findall(request["text"])]
    said = [float(n.replace(",", ".")) for n in NUMBER.findall(speech)]
    problems = [
        f"made up {number:g}: no state holds it (the states: {values})"
        for number in said
        if not any(abs(number - value) < 0.51 for value in allowed)
    ]
    if numbers and not any(abs(n - v) < 0.51 for n in said for v in numbers):
        problems.append(f"did not say the state (the states: {values})")
    return problems


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _missed(entity_id: str, want: Any, got: str | None) -> str | None:
    """How an expected change did not happen, or None."""
    if got is None:
        return f"{entity_id} did not change"
    if isinstance(want, dict):
        for name, value in want.items():
            if f"{name}={value}" not in got and f"{name}={float(value)}" not in got:
                return f"{entity_id} is {got}, wanted {name}={value}"
        return None
    if got.split()[0] != want:
        return f"{entity_id} is {got.split()[0]}, wanted {want}"
    return None


async def run_door(
    ha: HomeAssistant, door: str, agent: str, home: dict[str, Any], requests: list[dict[str, Any]]
) -> list[Outcome]:
    outcomes = []
    exposed = set(home["exposed"])
    for request in requests:
        await restore(ha, {**home["initial"], **request.get("given", {})})
        conversation: dict[str, str | None] = {"id": None}
        for turn in request.get("turns") or [request]:
            outcome = await _ask(ha, door, agent, turn, exposed, conversation)
            outcomes.append(outcome)
            mark = "ok " if outcome.right else "BAD"
            print(
                f"  [{door}] {mark} {outcome.seconds:5.1f} s  {turn['text']!r} -> "
                f"{outcome.speech!r}",
                flush=True,
            )
            for problem in outcome.problems:
                print(f"        {problem}", flush=True)
    return outcomes


async def _ask(
    ha: HomeAssistant,
    door: str,
    agent: str,
    request: dict[str, Any],
    exposed: set[str],
    conversation: dict[str, str | None],
) -> Outcome:
    """One request, in the conversation that ``conversation`` names (set from the answer)."""
    states = await ha.states()
    before = watched(states)
    started = time.monotonic()
    # "here": the request heard by the device of the entity ``heard_by`` names.
    device = await ha.device_of(request["heard_by"]) if request.get("heard_by") else None
    try:
        response = await ha.process(
            request["text"], agent, conversation_id=conversation["id"], device_id=device
        )
        speech = response["response"]["speech"].get("plain", {}).get("speech", "")
        conversation["id"] = conversation["id"] or response.get("conversation_id")
    except RuntimeError as error:
        speech = f"(request failed: {error})"
    seconds = time.monotonic() - started
    after = watched(await settle(ha))
    changed = {key: value for key, value in after.items() if before.get(key) != value}
    outcome = Outcome(
        door, request["text"], speech, changed, seconds, command=bool(request.get("changes"))
    )
    outcome.problems = judge(request, speech, changed, exposed, states)
    if speech.startswith("(request failed"):
        outcome.problems.insert(0, "request failed")
    return outcome


def table(door: str, outcomes: list[Outcome]) -> str:
    lines = [
        f"\n### {door}\n",
        "| request | right | speech | changed | s |",
        "|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        changed = ", ".join(f"{key}: {value}" for key, value in outcome.changed.items()) or "-"
        right = "yes" if outcome.right else "NO: " + "; ".join(outcome.problems)
        speech = outcome.speech.replace("|", "/").replace("\n", " ")
        lines.append(f"| {outcome.text} | {right} | {speech} | {changed} | {outcome.seconds:.1f} |")
    return "\n".join(lines)


#: Problems that must never happen (the start of their line): a wrong action, machine text, a
#: claim or a number that is not so (issue 28).
NEVER = ("changed ", "said machine text", "said an internal", "claimed an action", "made up ")


def check(results: dict[str, list[Outcome]]) -> tuple[list[str], list[str]]:
    """What falls short: (what must never happen, issue 18's accuracy bar), door by door.

    Never: an action nobody asked for (any change but the expected ones, on
    an unexposed device above all), call or tool text or an internal
    instruction spoken, an answer with nothing said.
    """
    never, bar = [], []
    for door, outcomes in results.items():
        right = sum(outcome.right for outcome in outcomes)
        if right < REQUIRED[door] * len(outcomes):
            bar.append(f"{door}: {right}/{len(outcomes)} right, needs {REQUIRED[door]:.0%}")
        for outcome in outcomes:
            for problem in outcome.problems:
                if problem.startswith(NEVER) or problem == "nothing was said":
                    never.append(f"{door}: {outcome.text!r}: {problem}")
    return never, bar


def summary(results: dict[str, list[Outcome]]) -> str:
    lines = [
        "\n| door | right | spoken | wrong actions | machine text | median s | median s, "
        "device commands | max s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for door, outcomes in results.items():
        seconds = [outcome.seconds for outcome in outcomes]
        lines.append(
            f"| {door} | {sum(o.right for o in outcomes)}/{len(outcomes)} "
            f"| {sum(bool(o.speech.strip()) for o in outcomes)}/{len(outcomes)} "
            f"| {sum(any(p.startswith('changed ') for p in o.problems) for o in outcomes)} "
            f"| {sum('said machine text' in o.problems for o in outcomes)} "
            f"| {statistics.median(seconds):.2f} "
            f"| {statistics.median([o.seconds for o in outcomes if o.command] or [0.0]):.2f} "
            f"| {max(seconds):.1f} |"
        )
    return "\n".join(lines)


async def serve(ha: HomeAssistant, agents: dict[str, str], logs: Path) -> None:
    """Keep both running for a developer: the token and agents are written to a file."""
    (logs / "serving.json").write_text(
        json.dumps({"url": ha.base_url, "token": ha.token, "agents": agents})
    )
    print(f"Serving until interrupted; token and agents in {logs / 'serving.json'}", flush=True)
    await asyncio.Event().wait()


async def main(args: argparse.Namespace) -> int:
    home = yaml.safe_load((HERE / "home.yaml").read_text())
    requests = home["requests"]
    if args.only:
        requests = [
            request
            for request in requests
            if any(re.search(args.only, turn["text"]) for turn in request.get("turns") or [request])
        ]
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    wyoming_port, http_port = processes.free_port(), processes.free_port()
    recorded_port = processes.free_port()
    started = time.monotonic()
    with processes.home_assistant(Path(args.root), logs) as url:
        async with HomeAssistant(url) as ha:
            token = await ha.onboard()
            await ha.running()
            await set_up_home(ha, home)
            options = [
                "--uri", f"tcp://127.0.0.1:{wyoming_port}",
                "--http-uri", f"http://127.0.0.1:{http_port}",
                "--ha-url", url.replace("http", "ws") + "/api/websocket",
                "--cache-dir", args.cache_dir,
                *(["--model", args.model] if args.model else []),
                *(["--debug"] if args.debug else []),
            ]  # fmt: skip
            with processes.rk_assist(options, token, logs) as service:
                processes.wait_for_port(wyoming_port, service, 300, logs / "rk-assist.log")
                processes.wait_for_port(http_port, service, 60, logs / "rk-assist.log")
                # Home Assistant's HTTP doors go through the recorder: what it sends is kept.
                sent = logs / "requests.jsonl"
                sent.unlink(missing_ok=True)
                async with recorder.recording(http_port, recorded_port, sent):
                    agents = await add_doors(
                        ha, args.doors, wyoming_port, recorded_port, args.model_name
                    )
                    ready = time.monotonic() - started
                    print(f"Home Assistant and rk-assist ready in {ready:.0f} s")
                    if args.serve:
                        await serve(ha, agents, logs)
                        return 0
                    results = {}
                    for door in args.doors:
                        results[door] = await run_door(ha, door, agents[door], home, requests)
                    heard = []
                    if args.voice:
                        with voice.piper(logs) as piper_port:
                            by_door = await voice.pipelines(ha, agents, piper_port)
                            heard = await voice.run_voice(ha, by_door, restore, home["initial"])
    report = "".join(table(door, outcomes) for door, outcomes in results.items())
    report += summary(results)
    report += voice.voice_table(heard) if heard else ""
    print(report)
    Path(args.results).write_text(
        json.dumps(
            {door: [vars(o) for o in outcomes] for door, outcomes in results.items()}, indent=1
        )
    )
    print(f"\nThe whole run took {time.monotonic() - started:.0f} s; results in {args.results}")
    never, bar = check(results)
    for failure in never:
        print("FAIL (must never happen):", failure)
    for failure in bar:
        print("FAIL (accuracy):" if args.strict else "Below the bar:", failure)
    return 1 if never or (bar and args.strict) else 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="script/test-ha", description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="the sid root that holds Home Assistant")
    parser.add_argument("--doors", default=",".join(DOORS), help="comma-separated doors to test")
    parser.add_argument("--model", help="rk-assist's --model (default: what script/run serves)")
    parser.add_argument(
        "--model-name", default="qwen2.5-0.5b", help="the model the integrations pick"
    )
    parser.add_argument("--only", help="only the requests matching this regular expression")
    parser.add_argument(
        "--cache-dir", required=True, help="rk-assist's --cache-dir (kept between runs)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail below issue 18's accuracy bar too"
    )
    parser.add_argument("--debug", action="store_true", help="rk-assist logs at debug level")
    parser.add_argument("--serve", action="store_true", help="set up, then keep serving to poke at")
    parser.add_argument(
        "--voice",
        action="store_true",
        help="then the voice loop: Assist pipelines to a real Piper voice, the audio timed",
    )
    parser.add_argument("--logs", default="build/test-ha", help="folder for both services' logs")
    parser.add_argument("--results", default="build/test-ha/results.json")
    args = parser.parse_args(argv)
    args.doors = [door for door in args.doors.split(",") if door]
    unknown = set(args.doors) - set(DOORS)
    if unknown:
        parser.error(f"unknown doors: {', '.join(sorted(unknown))}")
    return args


if __name__ == "__main__":
    # A stop (timeout, CI) unwinds as an exit, so both services are stopped behind it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
