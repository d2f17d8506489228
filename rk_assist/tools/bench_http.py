"""``rk-assist bench-http``: how soon a person hears the answer to what the model must read.

Home Assistant's Ollama and llama_cpp integrations resend the whole system
prompt (instructions, every exposed device) and its tools with every request,
run the calls that come back, and ask again with their results for the words
that are said; satellites interleave their conversations. This plays Home
Assistant's part with what a real Home Assistant 2026.11 sent (its prompt,
written for the bench's home, and its 23 tools, ``tests/real_ha/recorded/``)
for requests its own sentences do not settle (3 conversations, interleaved),
against rk-assist's OpenAI door and against ``llama_cpp.server`` (the OpenAI
server of llama-cpp-python, what a user would otherwise run) on the same GGUF,
one server at a time, and prints for each the median time to the first
streamed token and to the first word that is said, and their ratios. A turn
rk-assist settles without its model is shown but left out of the model-path
figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from .. import summary
from ..home.model import Entity, Home, load_home
from .eval_http import RECORDED, DoorTurn, HttpDoor, load_recorded
from .servers import (
    burner_processes,
    free_port,
    http_service_command,
    openai_chunks,
    service_process,
    wait_ready,
)

#: Three conversations, interleaved turn by turn: what people say that Home Assistant's
#: sentences do not settle (an order in other words, a wish, a question about the world,
#: small talk), for ``eval/house-en``'s devices.
CONVERSATIONS: tuple[tuple[str, ...], ...] = (
    (
        "kill the lights in the office",
        "what is the capital of France",
        "I'm cold in the bedroom, can you do something",
        "how many legs does a spider have",
        "thanks, that's all",
    ),
    (
        "how are you today",
        "can you warm up the towel rail",
        "tell me a joke",
        "make the living room cozy for a movie",
        "what should I cook tonight",
    ),
    (
        "why is the sky blue",
        "please get the coffee going",
        "how far away is the moon",
        "I need some light on the porch",
        "good night",
    ),
)
INSTRUCTIONS = (
    "You are a voice assistant for Home Assistant.\n"
    "Answer questions about the world truthfully.\n"
    "Answer in plain text. Keep it simple and to the point.\n"
    "When controlling Home Assistant always call the intent tools. Use HassTurnOn to lock and "
    "HassTurnOff to unlock a lock. When controlling a device, prefer passing just name and "
    "domain. When controlling an area, prefer passing just area name and domain.\n"
    "When a user asks to turn on all devices of a specific type, ask user to specify an area, "
    "unless there is only one device of that type.\n"
    "This device is not able to start timers.\n"
    "You ARE equipped to answer questions about the current state of\n"
    "the home using the `GetLiveContext` tool. This is a primary function. Do not state you "
    "lack the functionality if the question requires live data.\n"
    "If the user asks about device existence/type (e.g., 'Do I have lights in the bedroom?'): "
    "Answer from the static context below.\n"
    "If the user asks about the CURRENT state, value, or mode (e.g., 'Is the lock locked?', "
    "'Is the fan on?', 'What mode is the thermostat in?', 'What is the temperature "
    "outside?'):\n"
    "    1.  Recognize this requires live data.\n"
    "    2.  You MUST call `GetLiveContext`. This tool will provide the needed real-time "
    "information (like temperature from the local weather, lock status, etc.).\n"
    "    3.  Use the tool's response** to answer the user accurately (e.g., 'The temperature "
    "outside is [value from tool].').\n"
    "For general knowledge questions not about the home: Answer truthfully from internal "
    "knowledge.\n"
)


def ha_system_prompt(home: Home) -> str:
    """Home Assistant's Assist prompt: instructions, then every exposed device as YAML."""
    lines = [
        INSTRUCTIONS,
        "Static Context: An overview of the areas and the devices in this smart home:",
    ]
    for entity in home.entities.values():
        area = home.area_of(entity)
        lines.append(f"- names: {', '.join(entity.names)}")
        lines.append(f"  domain: {entity.domain}")
        if area is not None:
            lines.append(f"  areas: {', '.join([area.name, *area.aliases])}")
    return "\n".join(lines) + "\n"


def ha_tools(home: Home) -> list[dict[str, Any]]:
    """Home Assistant 2026.9's intent tools, domain-prefixed, with its slot schemas."""
    areas = sorted(area.name for area in home.areas.values())
    domains = sorted(home.domains)
    target = {
        "name": {"type": "string"},
        "area": {"type": "string", "enum": areas},
        "domain": {"type": "array", "items": {"type": "string", "enum": domains}},
    }

    def tool(tool_name: str, description: str, **extra: Any) -> dict[str, Any]:
        properties = {**target, **extra}
        return {
            "type": "function",
            "function": {
                "name": tool_name,
                "description": description,
                "parameters": {"type": "object", "properties": properties, "required": []},
            },
        }

    percent = {"type": "integer", "minimum": 0, "maximum": 100}
    return [
        tool(
            "intent__HassTurnOn",
            "Turns on/opens/presses a device or entity. For locks, "
            "this performs a 'lock' action. Use for requests like 'turn on', 'activate', "
            "'enable', or 'lock'.",
        ),
        tool(
            "intent__HassTurnOff",
            "Turns off/closes a device or entity. For locks, this "
            "performs an 'unlock' action. Use for requests like 'turn off', 'deactivate', "
            "'disable', or 'unlock'.",
        ),
        tool("intent__HassCancelAllTimers", "Cancels all timers"),
        tool(
            "light__HassLightSet",
            "Sets the brightness percentage or color of a light",
            brightness=percent,
            color={"type": "string"},
        ),
        tool(
            "climate__HassClimateSetTemperature",
            "Sets the target temperature of a climate device or entity",
            temperature={"type": "number"},
        ),
        tool("cover__HassSetPosition", "Sets the position of a device or entity", position=percent),
        tool("media_player__HassMediaPause", "Pauses a media player"),
        tool("media_player__HassMediaUnpause", "Resumes a media player"),
        tool("media_player__HassMediaNext", "Skips a media player to the next item"),
        tool(
            "media_player__HassSetVolume",
            "Sets the volume percentage of a media player",
            volume_level=percent,
        ),
        tool("vacuum__HassVacuumStart", "Starts a vacuum"),
        tool("vacuum__HassVacuumReturnToBase", "Returns a vacuum to base"),
        tool(
            "todo__HassListAddItem",
            "Add item to a todo list",
            item={"type": "string"},
            name={"type": "string"},
        ),
        {
            "type": "function",
            "function": {
                "name": "homeassistant__GetLiveContext",
                "description": "Provides real-time information about the CURRENT state, value, "
                "or mode of devices, sensors, entities, or areas. Use this tool for: 1. "
                "Answering questions about current conditions (e.g., 'Is the light on?'). 2. "
                "As the first step in conditional actions (e.g., 'If the weather is rainy, "
                "turn off sprinklers' requires checking the weather first).",
                "parameters": {"type": "object", "properties": {}, "required": []},
            },
        },
        {
            "type": "function",
            "function": {
                "name": "llm__GetDateTime",
                "description": "Provides the current date and time.",
                "parameters": {"type": "object", "properties": {}, "required": []},
            },
        },
    ]


async def stream_figures(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> tuple[float, float, dict[str, Any]]:
    """Seconds to the first content or tool-call chunk, to the end, and the stream's usage."""
    started = time.perf_counter()
    first = None
    usage: dict[str, Any] = {}
    async for chunk in openai_chunks(session, url, body):
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if first is None and (delta.get("content") or delta.get("tool_calls")):
                first = time.perf_counter() - started
    ended = time.perf_counter() - started
    return (first if first is not None else ended), ended, usage


@dataclass(frozen=True)
class Timed:
    """One request of the stream, and how soon it was answered."""

    index: int
    conversation: int
    turn: DoorTurn

    @property
    def model_ran(self) -> bool:
        return self.turn.prompt_tokens > 0


@dataclass(frozen=True)
class Replayed:
    """What one server did with the stream, and with the prompt of a device exposed since."""

    stream: list[Timed]
    exposed: DoorTurn


def request_stream(turns: int) -> Iterator[tuple[int, int, str]]:
    """(conversation, turn, what is said), interleaved turn by turn."""
    for turn in range(turns):
        for number, script in enumerate(CONVERSATIONS):
            yield number, turn, script[turn % len(script)]


def _seconds(value: float | None) -> str:
    return f"{value:6.2f} s" if value is not None else "   --   "


async def replay(name: str, command: list[str], port: int, args: argparse.Namespace) -> Replayed:
    """The request stream against one server, as Home Assistant's llama_cpp integration
    asks it, each conversation with its own history (the server's own calls and words)."""
    home = load_home(Path(args.home))
    recorded = load_recorded("openai", Path(args.recorded))
    url = f"http://127.0.0.1:{port}"
    results: list[Timed] = []
    with (
        tempfile.TemporaryDirectory(prefix="rk-assist-bench-http-") as tmp,
        service_process(command, Path(tmp)) as process,
    ):
        model = await wait_ready(url, process, args.start_timeout)
        door = HttpDoor(
            url, model, recorded, "openai", temperature=0.0, max_tokens=args.max_tokens, usage=True
        )
        async with door:
            histories: list[list[dict[str, Any]]] = [[] for _ in CONVERSATIONS]
            for index, (conversation, turn, text) in enumerate(request_stream(args.turns)):
                done = await door.turn(home, histories[conversation], text)
                results.append(Timed(index, conversation, done))
                path = f"model, prompt {done.prompt_tokens} tok" if done.prompt_tokens else ""
                print(
                    f"{name:<16} {index + 1:>2} (conversation {conversation + 1}, turn "
                    f"{turn + 1}): first token {_seconds(done.first_token)}, first word "
                    f"{_seconds(done.first_word)}, done {done.seconds:6.2f} s, {done.calls} "
                    f"call(s) {path}| {text!r} -> {done.spoken[:60]!r}",
                    flush=True,
                )
            # A device exposed since: Home Assistant's prompt lists one more.
            exposed = await door.turn(with_one_more_device(home), [], EXPOSED_ASK)
            print(
                f"{name:<16} one device exposed since: first token "
                f"{_seconds(exposed.first_token)}, prompt {exposed.prompt_tokens or '?'} tok "
                f"({exposed.cached_tokens} of them computed before)",
                flush=True,
            )
    return Replayed(results, exposed)


#: Asked after a device was exposed: a question only the model answers.
EXPOSED_ASK = "what is the capital of France"


def with_one_more_device(home: Home) -> Home:
    """The home with one device more, as Home Assistant's prompt lists it once a user
    exposes it to Assist."""
    area = next(iter(home.areas), None)
    entities = dict(home.entities)
    entities["light.reading_lamp"] = Entity("light.reading_lamp", "Reading Lamp", (), area)
    return replace(home, entities=entities)


async def run(args: argparse.Namespace) -> int:
    model = Path(args.model)
    threads = str(args.threads or os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="rk-assist-bench-http-") as tmp:
        ours_port, peer_port = free_port(), free_port()
        ours = http_service_command(
            ours_port, Path(tmp), args.context_length, threads, args.max_tokens, str(model)
        )
        peer = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(peer_port),
            "--n_ctx",
            str(args.context_length),
            "--n_threads",
            threads,
            "--n_threads_batch",
            threads,
        ]
        burners = burner_processes(args.load)
        try:
            print(
                f"Replaying {args.turns * len(CONVERSATIONS)} requests "
                f"({len(CONVERSATIONS)} conversations x {args.turns} turns, interleaved) on "
                f"{model.name}, {threads} threads, {args.load} competing CPU burner(s)"
            )
            mine = await replay("rk-assist", ours, ours_port, args)
            theirs = await replay("llama_cpp.server", peer, peer_port, args)
        finally:
            for burner in burners:
                burner.kill()
    report(mine, theirs)
    return 0


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _ratio(theirs: float | None, mine: float | None) -> str:
    return f"{theirs / mine:5.1f}x" if theirs and mine else "   --"


def report(ours: Replayed, peers: Replayed) -> None:
    """Medians over the requests rk-assist's model answered (the same requests for both),
    each server's first model request apart (Home Assistant's prompt read cold); then
    those rk-assist settled without its model (but request 1, the peer's cold start)."""
    mine, theirs = ours.stream, peers.stream
    ran = [t.index for t in mine if t.model_ran]
    model_path = ran[1:]  # (request 1, llama_cpp.server's cold start, is never among them)
    cold = {"rk-assist": mine[ran[0]] if ran else None, "llama_cpp.server": theirs[0]}
    settled = [t.index for t in mine if not t.model_ran and t.index > 0]
    groups = (
        ("first turn of a conversation", [i for i in model_path if i < len(CONVERSATIONS)]),
        ("turns after the first", [i for i in model_path if i >= len(CONVERSATIONS)]),
        ("all model-path turns", model_path),
        ("settled without the model", settled),
    )
    print()
    for name, timed in cold.items():
        if timed is not None:
            print(
                f"cold start, {name}: request {timed.index + 1} read Home Assistant's prompt "
                f"({timed.turn.prompt_tokens or '?'} tokens): first token "
                f"{_seconds(timed.turn.first_token).strip()}"
            )
    ours_exposed, peer = ours.exposed, peers.exposed
    print(
        f"one device exposed since (Home Assistant's new prompt): first token "
        f"{_seconds(ours_exposed.first_token).strip()} rk-assist "
        f"({ours_exposed.prompt_tokens - ours_exposed.cached_tokens} of "
        f"{ours_exposed.prompt_tokens} tokens computed), {_seconds(peer.first_token).strip()} "
        f"llama_cpp.server, ratio {_ratio(peer.first_token, ours_exposed.first_token).strip()}"
    )
    print(f"{'median seconds':<30} {'':>15} {'rk-assist':>9} {'llama_cpp.server':>16} {'ratio':>6}")
    for label, indexes in groups:
        for what in ("first_token", "first_word"):
            our_median = _median([getattr(mine[i].turn, what) for i in indexes])
            peer_median = _median([getattr(theirs[i].turn, what) for i in indexes])
            print(
                f"{label if what == 'first_token' else '':<30} "
                f"{what.replace('_', ' '):>10} ({len(indexes):>2}) "
                f"{_seconds(our_median):>9} {_seconds(peer_median):>16} "
                f"{_ratio(peer_median, our_median):>6}"
            )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist bench-http", description=summary(__doc__))
    parser.add_argument("--model", required=True, help="a GGUF file both servers load")
    parser.add_argument(
        "--home", default="eval/house-en/home.yaml", help="the home whose devices are listed"
    )
    parser.add_argument(
        "--recorded",
        default=str(RECORDED),
        help="the folder of Home Assistant's recorded requests (its prompt and tools)",
    )
    parser.add_argument("--turns", type=int, default=5, help="turns per conversation (5)")
    parser.add_argument("--max-tokens", type=int, default=48, help="answer length (48)")
    parser.add_argument(
        "--context-length",
        type=int,
        default=8192,
        help="both servers' context (8192, what Home Assistant's Ollama integration asks)",
    )
    parser.add_argument("--threads", type=int, help="CPU threads for both (default: all)")
    parser.add_argument("--load", type=int, default=0, help="competing CPU burners to run (0)")
    parser.add_argument("--start-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        print(
            "rk-assist bench-http: the peer needs pip install 'llama-cpp-python[server]' "
            "(pip install -e '.[bench]')",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(run(args))
