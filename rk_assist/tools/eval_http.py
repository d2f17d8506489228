"""The eval through the HTTP door, as a real Home Assistant uses it (``rk-assist eval --door``).

Home Assistant's Ollama and llama_cpp integrations send rk-assist their own
prompt (instructions, then every exposed device as YAML) and their own tools
with every request, run the calls that come back against the home themselves,
and send the results back for the words that are said. This plays Home
Assistant's part for an eval set: the prompt and tools are those a real Home
Assistant 2026.11 sent (recorded by ``script/test-ha``, kept in
``tests/real_ha/recorded/``) with the device overview written for the set's
home as Home Assistant writes it; each call is matched to the home's devices
as Home Assistant's intent handler matches them (a name several exposed
entities share is refused, as Home Assistant refuses it); the tool results go
back in its format. rk-assist runs as its own process and is asked over a real
socket, its model and door as a user runs them.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from ..home.intents import BY_NAME
from ..home.model import Entity, Home
from ..home.resolve import Action
from ..home.services import STATE_INTENTS
from .servers import free_port, openai_chunks, service_process, wait_ready

#: The first request a real Home Assistant 2026.11 sent each door (``script/test-ha``).
RECORDED = Path("tests/real_ha/recorded")
RECORDINGS = {"ollama": "ollama-chat.json", "openai": "openai-chat.json"}
_OVERVIEW = "Static Context: An overview of the areas and the devices in this smart home:"
_LIVE = "Live Context: An overview of the areas and the devices in this smart home:"
#: The slots that say which devices, not what to do to them.
TARGET_SLOTS = ("name", "area", "floor", "domain", "device_class")
#: Home Assistant's on/off intents name no domain of their own: any exposed entity matches.
_ANY_DOMAIN = frozenset({"HassTurnOn", "HassTurnOff", "HassToggle"})
#: Media intents whose handler acts only on players playing (``required_states``).
_PLAYING = frozenset({"HassMediaPause", "HassMediaNext", "HassMediaPrevious"})
#: Home Assistant asks the model again after tool results at most this many times.
_ROUNDS = 4


@dataclass(frozen=True)
class Recorded:
    """What a real Home Assistant sends with every request: its prompt and its tools."""

    system: str
    tools: tuple[dict[str, Any], ...]


def load_recorded(door: str, root: Path = RECORDED) -> Recorded:
    body = json.loads((root / RECORDINGS[door]).read_text(encoding="utf-8"))
    return Recorded(body["messages"][0]["content"], tuple(body["tools"]))


def overview(home: Home) -> str:
    """The home's devices as Home Assistant's prompt lists them (``yaml_util.dump`` of
    names, domain and areas, sorted by name as a real one sent them)."""
    items = []
    for entity in sorted(home.entities.values(), key=lambda e: (e.name, e.domain)):
        item: dict[str, Any] = {"names": ", ".join(entity.names), "domain": entity.domain}
        if (area := home.area_of(entity)) is not None:
            item["areas"] = ", ".join([area.name, *area.aliases])
        items.append(item)
    return yaml.safe_dump(items, allow_unicode=True, sort_keys=False, default_flow_style=False)


def prompt_for(home: Home, recorded: str) -> str:
    """The recorded prompt with its device overview written for ``home``."""
    start = recorded.index(_OVERVIEW) + len(_OVERVIEW) + 1
    lines = recorded[start:].splitlines(keepends=True)
    end = next(
        (i for i, line in enumerate(lines) if line.strip() and not line.startswith(("-", " "))),
        len(lines),
    )
    rest = "".join(lines[end:])
    return (
        recorded[:start]
        + overview(home)
        + ("\n" if rest and not rest.startswith("\n") else "")
        + rest
    )


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@dataclass
class Matched:
    """What Home Assistant's intent handler finds for a call's targets, or why not."""

    entities: list[Entity] = field(default_factory=list)
    error: str = ""
    duplicate: bool = False


def match(home: Home, intent: str, arguments: dict[str, Any]) -> Matched:
    """The exposed devices a call's targets name, as ``intent.async_match_targets`` finds
    them: by name or alias, area, floor, domain and device class; a name several share
    (after the other filters) is refused as a duplicate."""
    spec = BY_NAME.get(intent)
    pool = list(home.entities.values())
    if domains := arguments.get("domain"):  # the call's domains replace the intent's
        pool = [e for e in pool if e.domain in _listed(domains)]
    elif spec is not None and spec.domains and intent not in _ANY_DOMAIN:
        pool = [e for e in pool if e.domain in spec.domains]
    if classes := arguments.get("device_class"):
        pool = [e for e in pool if e.device_class in _listed(classes)]
    pool, error = _placed(home, pool, arguments)
    if error:
        return Matched(error=error)
    if isinstance(name := arguments.get("name"), str) and name:
        pool = [e for e in pool if any(_same(name, n) for n in e.names)]
        if len(pool) > 1:
            return Matched(pool, f"Duplicate name: {name}", duplicate=True)
    elif not any(arguments.get(key) for key in ("area", "floor", "domain", "device_class")):
        if spec is None or not spec.domains or intent in _ANY_DOMAIN:
            return Matched(error="Service handler cannot target all devices")
        # The intent's own domains are the target: every exposed device of them, or those
        # playing for the handlers that pick the player in use.
        if intent in _PLAYING or (intent == "HassSetVolumeRelative" and len(pool) > 1):
            pool = [e for e in pool if home.states.get(e.entity_id) == "playing"]
    return Matched(pool) if pool else Matched(error="No device matched")


def _placed(home: Home, pool: list[Entity], arguments: dict[str, Any]) -> tuple[list, str]:
    """The devices of the area and floor the call names, or why none can be."""
    if isinstance(area := arguments.get("area"), str) and area:
        areas = _areas_called(home, area)
        if not areas:
            return [], f"No area named {area}"
        pool = [e for e in pool if e.area_id in areas]
    if isinstance(floor := arguments.get("floor"), str) and floor:
        floors = _floors_called(home, floor)
        if not floors:
            return [], f"No floor named {floor}"
        pool = [e for e in pool if (a := home.area_of(e)) is not None and a.floor_id in floors]
    return pool, ""


def tool_result(matched: Matched, intent: str, home: Home, arguments: dict[str, Any]) -> dict:
    """The result Home Assistant sends back for a call (``llm.ToolResult`` as its chat log
    writes it)."""
    if intent == "GetLiveContext":
        return {"data": {"result": live_context(home, arguments)}, "error": False}
    if matched.error:
        return {"data": {"error": "MatchFailedError", "error_text": matched.error}, "error": True}
    success = [{"name": e.name, "type": "entity", "id": e.entity_id} for e in matched.entities]
    kind = "query_answer" if intent in STATE_INTENTS else "action_done"
    return {
        "data": {"speech": {}, "response_type": kind, "data": {"success": success, "failed": []}},
        "error": False,
    }


def live_context(home: Home, arguments: dict[str, Any]) -> str:
    """Home Assistant's live context: the devices (those the filters name) with their states."""
    items = []
    for entity in home.entities.values():
        if (name := arguments.get("name")) and not any(_same(str(name), n) for n in entity.names):
            continue
        if (domains := arguments.get("domain")) and entity.domain not in _listed(domains):
            continue
        item: dict[str, Any] = {"names": ", ".join(entity.names), "domain": entity.domain}
        item["state"] = home.states.get(entity.entity_id, "unknown")
        if (area := home.area_of(entity)) is not None:
            item["areas"] = area.name
        if attributes := home.attributes.get(entity.entity_id):
            item["attributes"] = dict(attributes)
        items.append(item)
    dumped = yaml.safe_dump(items, allow_unicode=True, sort_keys=False)
    return f"{_LIVE}\n{dumped}"


def schema_faults(arguments: Any, tool: dict[str, Any]) -> list[str]:
    """How a call's arguments break its tool's JSON schema (types, enums, required keys, keys
    it does not have: Home Assistant's schema refuses extra keys)."""
    parameters = tool["function"].get("parameters") or {}
    properties = parameters.get("properties") or {}
    if not isinstance(arguments, dict):
        return ["arguments are not an object"]
    faults = [f"no key {key!r}" for key in arguments if key not in properties]
    faults += [f"{key!r} missing" for key in parameters.get("required", []) if key not in arguments]
    for key, value in arguments.items():
        if key in properties and (fault := _value_fault(value, properties[key])):
            faults.append(f"{key!r} {fault}")
    return faults


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _value_fault(value: Any, schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if kind in _TYPES and (
        not isinstance(value, _TYPES[kind])
        or (kind in ("number", "integer") and isinstance(value, bool))
    ):
        return f"is not of type {kind}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{value!r} is not one of {schema['enum']}"
    if kind == "array" and isinstance(schema.get("items"), dict):
        for item in value:
            if fault := _value_fault(item, schema["items"]):
                return f"item {fault}"
    return ""


@dataclass
class DoorTurn:
    """What one request through the HTTP door came to."""

    actions: list[Action]
    spoken: str
    seconds: float
    #: Seconds from the request to its first streamed token (words or a call), and to the
    #: first word that is said (after any tool results went back); None: nothing came.
    first_token: float | None = None
    first_word: float | None = None
    #: The prompt tokens the server says it read for the request (0: it ran no model, or
    #: did not say), and how many of them it had computed before.
    prompt_tokens: int = 0
    cached_tokens: int = 0
    calls: int = 0
    duplicates: int = 0
    unlisted: int = 0
    schema: list[str] = field(default_factory=list)


def _unlisted(arguments: dict[str, Any], home: Home) -> bool:
    """Whether a call names a device, area or floor Home Assistant's prompt does not list."""
    name, area, floor = (arguments.get(key) for key in ("name", "area", "floor"))
    names = [n for e in home.entities.values() for n in e.names]
    return bool(
        (isinstance(name, str) and name and not any(_same(name, n) for n in names))
        or (isinstance(area, str) and area and not _areas_called(home, area))
        or (isinstance(floor, str) and floor and not _floors_called(home, floor))
    )


def _areas_called(home: Home, spoken: str) -> set[str]:
    return {
        a.area_id
        for a in home.areas.values()
        if any(_same(spoken, n) for n in (a.name, *a.aliases))
    }


def _floors_called(home: Home, spoken: str) -> set[str]:
    return {
        f.floor_id
        for f in home.floors.values()
        if any(_same(spoken, n) for n in (f.name, *f.aliases))
    }


class HttpDoor:
    """rk-assist's Ollama door (``door="ollama"``) or OpenAI door (``"openai"``), asked as
    Home Assistant's Ollama or llama_cpp integration asks it."""

    def __init__(
        self,
        url: str,
        model: str,
        recorded: Recorded,
        door: str = "ollama",
        *,
        temperature: float = 0.7,
        max_tokens: int = 3000,
        usage: bool = False,
    ) -> None:
        """``temperature`` and ``max_tokens`` are the llama_cpp integration's as recorded;
        ``usage`` asks the OpenAI door for its token counts (Home Assistant does not)."""
        self.url, self.model, self.recorded, self.door = url, model, recorded, door
        self.temperature, self.max_tokens, self.usage = temperature, max_tokens, usage
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpDoor:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def turn(self, home: Home, history: list[dict[str, Any]], text: str) -> DoorTurn:
        """One request: asked, its calls run against ``home``, asked again with their
        results until words come; ``history`` grows by the turn, as Home Assistant's does."""
        system = prompt_for(home, self.recorded.system)
        tools = {tool["function"]["name"]: tool for tool in self.recorded.tools}
        history.append({"role": "user", "content": text})
        result = DoorTurn([], "", 0.0)
        clock = _Clock(result, time.perf_counter())
        for _ in range(_ROUNDS):
            asked = [{"role": "system", "content": system}, *history]
            chat = self._chat if self.door == "ollama" else self._chat_openai
            message = await chat(asked, clock)
            clock.rounds += 1
            calls = message.get("tool_calls") or []
            history.append(
                {"role": "assistant", "content": message.get("content") or ""}
                | ({"tool_calls": calls} if calls else {})
            )
            if not calls:
                result.spoken = (message.get("content") or "").strip()
                break
            for call in calls:
                history.append(self._run(call, home, tools, result))
        result.seconds = time.perf_counter() - clock.started
        return result

    def _run(
        self, call: dict[str, Any], home: Home, tools: dict[str, dict], result: DoorTurn
    ) -> dict[str, Any]:
        function = call.get("function") or {}
        name, arguments = str(function.get("name", "")), function.get("arguments") or {}
        if isinstance(arguments, str):  # the OpenAI door's arguments are JSON text
            try:
                arguments = json.loads(arguments)
            except ValueError:
                arguments = {"": arguments}  # broken JSON: a schema fault, counted below
        result.calls += 1
        answer = {"role": "tool"} | ({"tool_call_id": call["id"]} if "id" in call else {})
        tool = tools.get(name)
        if tool is None:
            result.schema.append(f"{name}: not an offered tool")
            content = {"data": {"error": "HomeAssistantError", "error_text": "Tool not found"}}
            return answer | {"content": json.dumps(content | {"error": True})}
        result.schema += [f"{name}: {fault}" for fault in schema_faults(arguments, tool)]
        intent = name.rpartition("__")[2]
        result.unlisted += _unlisted(arguments, home)
        matched = Matched() if intent == "GetLiveContext" else match(home, intent, arguments)
        result.duplicates += matched.duplicate
        if not matched.error and intent in BY_NAME:
            slots = {k: v for k, v in arguments.items() if k not in TARGET_SLOTS}
            result.actions += [Action(intent, slots, e.entity_id) for e in matched.entities]
        if intent == "GetLiveContext" and isinstance(arguments.get("name"), str):
            # The live context asked for a device by name: its state read, as the Wyoming
            # door reads it (the eval's HassGetState), and what is said of it is no guess.
            read = match(home, "HassGetState", {"name": arguments["name"]})
            result.actions += [Action("HassGetState", {}, e.entity_id) for e in read.entities]
        content = tool_result(matched, intent, home, arguments)
        return answer | {"content": json.dumps(content, separators=(",", ":"))}

    async def _chat(self, messages: list[dict[str, Any]], clock: _Clock) -> dict[str, Any]:
        """Home Assistant's Ollama request, streamed, and the message it adds up to."""
        assert self._session is not None
        body = {
            "model": self.model,
            "messages": messages,
            "tools": list(self.recorded.tools),
            "stream": True,
            "options": {"num_ctx": 8192.0},
            "keep_alive": -1.0,
            "think": False,
        }
        content, calls = [], []
        async with self._session.post(self.url + "/api/chat", json=body) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {(await response.text())[:300]}")
            async for raw in response.content:
                if not raw.strip():
                    continue
                line = json.loads(raw)
                message = line.get("message") or {}
                clock.streamed(message.get("content") or "", bool(message.get("tool_calls")))
                clock.read_prompt({"prompt_tokens": line.get("prompt_eval_count")})
                content.append(message.get("content") or "")
                calls += message.get("tool_calls") or []
        return {"content": "".join(content), "tool_calls": calls}

    async def _chat_openai(self, messages: list[dict[str, Any]], clock: _Clock) -> dict[str, Any]:
        """Home Assistant's llama_cpp request (its settings as recorded: it samples at 0.7),
        streamed, and the message it adds up to."""
        assert self._session is not None
        body = {
            "model": self.model,
            "stream": True,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": 1.0,
            "messages": messages,
            "tools": list(self.recorded.tools),
        } | ({"stream_options": {"include_usage": True}} if self.usage else {})
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        url = self.url + "/v1/chat/completions"
        async for chunk in openai_chunks(self._session, url, body):
            clock.read_prompt(chunk.get("usage") or {})
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                clock.streamed(delta.get("content") or "", bool(delta.get("tool_calls")))
                content.append(delta.get("content") or "")
                for part in delta.get("tool_calls") or ():
                    call = calls.setdefault(part.get("index", len(calls)), _new_call())
                    call["id"] = part.get("id") or call["id"]
                    function = part.get("function") or {}
                    call["function"]["name"] += function.get("name") or ""
                    call["function"]["arguments"] += function.get("arguments") or ""
        return {"content": "".join(content), "tool_calls": [calls[i] for i in sorted(calls)]}


@dataclass
class _Clock:
    """When a turn's first token and first said word came, as its chunks arrive."""

    turn: DoorTurn
    started: float
    rounds: int = 0

    def streamed(self, content: str, calls: bool) -> None:
        now = time.perf_counter() - self.started
        if self.turn.first_token is None and (content or calls):
            self.turn.first_token = now
        if self.turn.first_word is None and content.strip():
            self.turn.first_word = now

    def read_prompt(self, usage: dict[str, Any]) -> None:
        """The first round's prompt tokens, from the usage the server reports."""
        if self.rounds == 0 and isinstance(usage.get("prompt_tokens"), int):
            self.turn.prompt_tokens = usage["prompt_tokens"]
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
            self.turn.cached_tokens = cached if isinstance(cached, int) else 0


def _new_call() -> dict[str, Any]:
    return {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}


@contextlib.asynccontextmanager
async def http_door(
    args: Any, recorded: Recorded, language: str, door: str = "ollama"
) -> AsyncIterator[HttpDoor]:
    """rk-assist on its HTTP door only, as its own process set to the home's language (as
    a user sets it: Home Assistant's HTTP requests carry none), and the door to ask it."""
    with tempfile.TemporaryDirectory(prefix="rk-assist-eval-http-") as tmp:
        port = free_port()
        command = [sys.executable, "-m", "rk_assist", "--uri", "tcp://127.0.0.1:0"]
        command += ["--http-uri", f"http://127.0.0.1:{port}", "--home-control", "off"]
        command += [
            "--cache-dir",
            str(Path(tmp) / "cache"),
            "--config-dir",
            str(Path(tmp) / "config"),
        ]
        command += ["--models-dir", args.models_dir, "--temperature", "0", "--languages", language]
        command += ["--model", args.model] if args.model else []
        command += ["--context-length", args.context_length] if args.context_length else []
        with service_process(command, Path(tmp)) as process:
            url = f"http://127.0.0.1:{port}"
            model = await wait_ready(url, process, 600)
            async with HttpDoor(url, model, recorded, door) as asked:
                yield asked
