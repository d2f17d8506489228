"""``rk-assist ask``: a Wyoming client for trying a handle service by hand.

The ``wyoming`` package ships no command-line client, and ``nc`` cannot show
a streamed answer arriving, so this prints chunks as they come and the
timings a voice pipeline cares about. It works against any handle service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wyoming.asr import Transcript
from wyoming.client import AsyncClient
from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk, NotHandled
from wyoming.info import Describe, Info

from ..defaults import LOCAL_WYOMING_URI


@dataclass
class AskResult:
    events: list[Event] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)
    text: str | None = None
    handled: bool = False
    context: Any = None
    first_chunk_s: float | None = None
    done_s: float | None = None

    #: The turn is over: no more events belong to it.
    ended: bool = False

    @property
    def event_types(self) -> list[str]:
        return [event.type for event in self.events]

    def take(self, event: Event, elapsed: float) -> str | None:
        """Record one event of the answer; the text of a chunk, if it was one."""
        self.events.append(event)
        if HandledChunk.is_type(event.type):
            chunk = HandledChunk.from_event(event).text
            if self.first_chunk_s is None:
                self.first_chunk_s = elapsed
            self.chunks.append(chunk)
            return chunk
        if Handled.is_type(event.type) or NotHandled.is_type(event.type):
            final = (Handled if Handled.is_type(event.type) else NotHandled).from_event(event)
            self.text, self.context = final.text, final.context
            self.handled = self.handled or Handled.is_type(event.type)
            self.done_s = elapsed
            self.ended = not self.chunks  # a service that does not stream sends no handled-stop
        elif event.type in ("intent", "intents-stop"):
            # Home control: the service asks Home Assistant to act.
            self.handled, self.context, self.done_s = True, event.data.get("context"), elapsed
            single = event.type == "intent" and "intents-start" not in self.event_types
            # With chunks streamed first, handled-stop ends the turn.
            self.ended = (event.type == "intents-stop" or single) and not self.chunks
        elif event.type in ("handled-stop", "error"):
            self.ended = True
        return None


async def ask(
    uri: str,
    text: str,
    context: dict[str, Any] | None = None,
    language: str | None = None,
    timeout: float = 300.0,
    on_chunk: Callable[[str], None] | None = None,
) -> AskResult:
    """Send one transcript and collect the reply until ``handled-stop`` or the end."""
    result = AskResult()
    started = time.perf_counter()
    async with AsyncClient.from_uri(uri, connect_timeout=10, read_timeout=timeout) as client:
        await client.write_event(Transcript(text=text, context=context, language=language).event())
        while (event := await client.read_event()) is not None:
            chunk = result.take(event, time.perf_counter() - started)
            if chunk is not None and on_chunk:
                on_chunk(chunk)
            if result.ended:
                break
    return result


async def describe(uri: str, timeout: float = 5.0) -> tuple[Info, float]:
    started = time.perf_counter()
    async with AsyncClient.from_uri(uri, connect_timeout=timeout, read_timeout=timeout) as client:
        await client.write_event(Describe().event())
        while True:
            event = await client.read_event()
            if event is None:
                raise ConnectionError("the service closed the connection without an answer")
            if Info.is_type(event.type):
                return Info.from_event(event), time.perf_counter() - started


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="rk-assist ask", description="Ask a Wyoming handle service something."
    )
    parser.add_argument("text", nargs="?", help="what the user said")
    parser.add_argument(
        "--uri", default=LOCAL_WYOMING_URI, help=f"service address ({LOCAL_WYOMING_URI})"
    )
    parser.add_argument("--describe", action="store_true", help="print the service's info")
    parser.add_argument("--conversation-id", help="continue a conversation")
    parser.add_argument("--language", help="language of the text, such as en")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait")
    args = parser.parse_args(argv)
    if not args.describe and not args.text:
        parser.error("give the text to ask, or --describe")
    try:
        return asyncio.run(_main(args))
    except (TimeoutError, OSError, ValueError) as err:
        print(
            f"rk-assist ask: cannot talk to {args.uri}: {err or type(err).__name__}",
            file=sys.stderr,
        )
        return 1


async def _main(args: argparse.Namespace) -> int:
    if args.describe:
        info, seconds = await describe(args.uri, timeout=min(args.timeout, 10.0))
        print(json.dumps(info.event().data, indent=2, ensure_ascii=False))
        print(f"describe answered in {seconds * 1000:.0f} ms", file=sys.stderr)
        if not args.text:
            return 0
    context = {"conversation_id": args.conversation_id} if args.conversation_id else None

    def show(chunk: str) -> None:
        sys.stdout.write(chunk)
        sys.stdout.flush()

    result = await ask(args.uri, args.text, context, args.language, args.timeout, show)
    if not result.chunks and result.text:
        sys.stdout.write(result.text)
    sys.stdout.write("\n")
    for event in result.events:  # home control: what Home Assistant is asked to carry out
        if event.type == "intent":
            slots = ", ".join(f"{e['name']}={e['value']}" for e in event.data.get("entities", []))
            print(f"-> {event.data['name']}({slots})")
    first = f"{result.first_chunk_s * 1000:.0f} ms" if result.first_chunk_s is not None else "-"
    done = f"{result.done_s * 1000:.0f} ms" if result.done_s is not None else "-"
    outcome = (
        "handled" if result.handled else ("not handled" if result.text is not None else "no answer")
    )
    print(
        f"[{outcome}; first chunk {first}, complete {done}, {len(result.chunks)} chunks]",
        file=sys.stderr,
    )
    return 0 if result.handled else 3
