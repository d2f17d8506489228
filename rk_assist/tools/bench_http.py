"""``rk-assist bench-http``: time to first token for Home Assistant's request stream.

Home Assistant's Ollama and OpenAI integrations resend the whole system
prompt (instructions, every exposed device, the tools) and the history with
every request, and satellites interleave their conversations. This replays
such a stream (a recorded-style script: 3 conversations, 5 turns each,
interleaved, fixed assistant replies so both servers see the same bytes)
against rk-assist's OpenAI endpoint and against ``llama_cpp.server`` (the
OpenAI server of llama-cpp-python, what a user would otherwise run) on the
same GGUF, one server at a time, and prints the median time to the first
streamed token of each and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp

from .. import summary
from ..defaults import CONTEXT_LENGTH
from ..home.model import Home, load_home

# Each turn: what was said, and the call Home Assistant ran for it (None: just an answer).
CONVERSATIONS: tuple[tuple[tuple[str, tuple[str, str] | None], ...], ...] = (
    (
        ("turn on the kitchen light", ("intent__HassTurnOn", "Kitchen Light")),
        ("what temperature is it in the living room", ("homeassistant__GetLiveContext", "")),
        ("set the bedside lamp to 40 percent", ("light__HassLightSet", "Bedside Lamp")),
        ("is the front door locked", ("homeassistant__GetLiveContext", "")),
        ("thanks, that's all", None),
    ),
    (
        ("pause the tv", ("media_player__HassMediaPause", "TV")),
        ("close the kitchen blind", ("intent__HassTurnOff", "Kitchen Blind")),
        ("what time is it", ("llm__GetDateTime", "")),
        ("turn off the desk lamp", ("intent__HassTurnOff", "Desk Lamp")),
        ("start the robot vacuum", ("vacuum__HassVacuumStart", "Robot Vacuum")),
    ),
    (
        ("how are you today", None),
        ("turn the porch light off", ("intent__HassTurnOff", "Porch Light")),
        ("add milk to the shopping list", ("todo__HassListAddItem", "Shopping List")),
        ("open the kitchen blind", ("intent__HassTurnOn", "Kitchen Blind")),
        ("good night", None),
    ),
)
REPLY = "Done."
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


def _round_trip(turn: int, tool: str, name: str) -> list[dict[str, Any]]:
    """What Home Assistant keeps of a turn it acted on: the call, its result, the answer."""
    call_id = f"call_{turn}_{tool}"
    arguments = json.dumps({"name": name} if name else {})
    result = {
        "speech": {},
        "response_type": "action_done",
        "data": {
            "targets": [],
            "success": [{"name": name, "type": "entity", "id": name.lower().replace(" ", "_")}]
            if name
            else [],
            "failed": [],
        },
    }
    return [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": tool, "arguments": arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)},
        {"role": "assistant", "content": REPLY},
    ]


def request_stream(turns: int) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
    """(conversation, turn, messages after the system prompt), interleaved turn by turn."""
    histories: list[list[dict[str, Any]]] = [[] for _ in CONVERSATIONS]
    for turn in range(turns):
        for number, script in enumerate(CONVERSATIONS):
            text, call = script[turn % len(script)]
            histories[number].append({"role": "user", "content": text})
            yield number, turn, list(histories[number])
            if call is None:
                histories[number].append({"role": "assistant", "content": REPLY})
            else:
                histories[number] += _round_trip(turn, *call)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def first_token_seconds(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> tuple[float, float, int]:
    """Seconds to the first content or tool-call chunk, to the end, and the prompt tokens."""
    first, ended, usage = await stream_figures(session, url, body)
    return first, ended, usage.get("prompt_tokens", 0)


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


async def openai_chunks(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    """The chunks of an OpenAI chat completion streamed from ``url``, as they come."""
    async with session.post(url, json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {(await response.text())[:300]}")
        async for raw in response.content:
            line = raw.decode().strip()
            if line.startswith("data: ") and line != "data: [DONE]":
                yield json.loads(line[6:])


@contextlib.contextmanager
def service_process(command: list[str], workdir: Path) -> Iterator[subprocess.Popen]:
    """The service as its own process, logging to ``workdir``; if what runs beside it fails,
    the log's tail is shown, and the process is always stopped."""
    log_path = workdir / "service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        except BaseException:
            log.flush()
            sys.stderr.write(log_path.read_text(errors="replace")[-3000:])
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def wait_ready(url: str, process: subprocess.Popen, timeout: float) -> str:
    """The name the server gives its model, once it answers."""
    deadline = time.perf_counter() + timeout
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with code {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url + "/v1/models") as response:
                    if response.status == 200:
                        return (await response.json())["data"][0]["id"]
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


async def replay(name: str, command: list[str], port: int, args: argparse.Namespace) -> list:
    home = load_home(Path(args.home))
    system, tools = ha_system_prompt(home), ha_tools(home)
    url = f"http://127.0.0.1:{port}"
    results = []
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            model_name = await wait_ready(url, process, args.start_timeout)
            timeout = aiohttp.ClientTimeout(total=args.request_timeout)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                for index, (conversation, turn, messages) in enumerate(request_stream(args.turns)):
                    body = {
                        "model": model_name,
                        "messages": [{"role": "system", "content": system}, *messages],
                        "tools": tools,
                        "stream": True,
                        "stream_options": {"include_usage": True},
                        "temperature": 0,
                        "max_tokens": args.max_tokens,
                    }
                    first, total, prompt_tokens = await first_token_seconds(
                        session, url + "/v1/chat/completions", body
                    )
                    results.append((index, conversation, first, total, prompt_tokens))
                    print(
                        f"{name:<18} request {index + 1:>2} (conversation {conversation + 1}, "
                        f"turn {turn + 1}): first token {first:6.2f} s, "
                        f"done {total:6.2f} s, prompt {prompt_tokens or '?'} tok",
                        flush=True,
                    )
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-3000:])
            raise
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
            if process.poll() is None:
                process.kill()
    return results


def burner_processes(count: int) -> list[subprocess.Popen]:
    """Competing CPU load: a Home Assistant box is never idle."""
    code = "while True: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def http_service_command(
    port: int,
    workdir: Path,
    context_length: int,
    threads: str,
    max_tokens: int,
    model: str | None = None,
) -> list[str]:
    """rk-assist as a chat server on the HTTP door only (home control off), its files in
    ``workdir``: what these benchmarks measure."""
    command = [sys.executable, "-m", "rk_assist", "--uri", "tcp://127.0.0.1:0"]
    command += ["--http-uri", f"http://127.0.0.1:{port}", "--home-control", "off"]
    command += ["--context-length", str(context_length), "--threads", threads]
    command += ["--cache-dir", str(workdir / "cache"), "--config-dir", str(workdir / "config")]
    command += ["--max-tokens", str(max_tokens)]
    return command + (["--model", model] if model else [])


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


def report(mine: list, theirs: list) -> None:
    def medians(results: list) -> tuple[float, float]:
        first = [r[2] for r in results[: len(CONVERSATIONS)]]
        later = [r[2] for r in results[len(CONVERSATIONS) :]]
        return statistics.median(first), statistics.median(later) if later else float("nan")

    (my_first, my_later), (their_first, their_later) = medians(mine), medians(theirs)
    print()
    print(f"{'median time to first token':<28} {'rk-assist':>10} {'llama_cpp.server':>17} ratio")
    print(
        f"{'first turn of a conversation':<28} {my_first:>9.2f}s {their_first:>16.2f}s "
        f"{their_first / my_first:>5.1f}x"
    )
    print(
        f"{'turns after the first':<28} {my_later:>9.2f}s {their_later:>16.2f}s "
        f"{their_later / my_later:>5.1f}x"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist bench-http", description=summary(__doc__))
    parser.add_argument("--model", required=True, help="a GGUF file both servers load")
    parser.add_argument(
        "--home", default="eval/house-en/home.yaml", help="the home whose devices are listed"
    )
    parser.add_argument("--turns", type=int, default=5, help="turns per conversation (5)")
    parser.add_argument("--max-tokens", type=int, default=24, help="answer length (24)")
    parser.add_argument("--context-length", type=int, default=CONTEXT_LENGTH)
    parser.add_argument("--threads", type=int, help="CPU threads for both (default: all)")
    parser.add_argument("--load", type=int, default=0, help="competing CPU burners to run (0)")
    parser.add_argument("--start-timeout", type=float, default=300.0)
    parser.add_argument("--request-timeout", type=float, default=600.0)
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
