"""One Wyoming connection: answer ``describe`` at once, stream answers to ``transcript``.

The answer runs in its own task so this connection keeps reading while the
model works: ``describe`` and ``ping`` are answered during a generation,
and a client that goes away cancels its answer (which aborts the model).
Every turn ends with exactly one ``handled`` or ``not-handled``: Home
Assistant ignores ``error`` and would wait forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk, HandledStart, HandledStop, NotHandled
from wyoming.info import Describe
from wyoming.intent import Entity as IntentEntity
from wyoming.intent import Intent, IntentsStart, IntentsStop, Recognize
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler

from .. import defaults
from ..assistant import replies
from ..assistant.pipeline import Assistant
from ..assistant.replies import Act, AskBack, Decline, NoAnswer, Reply, sentence, words_of
from ..connection_budget import ConnectionBudget, peer_host
from ..errors import (
    BusyError,
    PromptFileError,
    PromptTooLongError,
    ProtocolError,
    RkAssistError,
    RuntimeFailure,
)
from ..home.resolve import Action
from ..runtimes.base import encodable
from .events import read_event, wait_for_event

_LOGGER = logging.getLogger(__name__)

# The English sentences, by the names the tests and callers know them by.
SAY_NOTHING_HEARD = sentence(replies.NOTHING_HEARD)
SAY_TOO_LONG = sentence(replies.TOO_LONG)
SAY_BUSY = sentence(replies.BUSY)
SAY_STILL_ANSWERING = sentence(replies.STILL_ANSWERING)
SAY_FAILED = sentence(replies.FAILED)
SAY_NO_TEXT = sentence(replies.NO_TEXT)


USE_MODEL_EVENT = "rk-assist-use-model"
MODEL_READY_EVENT = "rk-assist-model"


#: How loudly an error that ends a turn is logged, by the first matching type; what is
#: said is the error's own ``said``. Anything else is unexpected: logged with its traceback.
_LOG_LEVELS: tuple[tuple[type[RkAssistError], int], ...] = (
    (BusyError, logging.WARNING),
    (PromptTooLongError, logging.WARNING),
    (RkAssistError, logging.ERROR),
)


def _said_for_failure(err: Exception, language: str) -> str:
    if isinstance(err, RkAssistError):
        level = next(level for kind, level in _LOG_LEVELS if isinstance(err, kind))
        _LOGGER.log(level, "Cannot answer: %s", err)
        return sentence(err.said, language)
    _LOGGER.error("Unexpected failure while answering", exc_info=err)
    return sentence(replies.FAILED, language)


class ModelControl(Protocol):
    """What the handler needs of the service: its info, and model switching."""

    info_event: Event
    #: Set while the model the user chose is still being downloaded.
    fetching: Any

    async def use_model(self, wanted: str) -> Any: ...


def action_target(intent: Intent) -> str:
    return ", ".join(f"{e.name}={e.value}" for e in intent.entities)


def is_local_peer(peer: Any) -> bool:
    host = peer_host(peer)
    if not host:  # unix sockets and stdio have no address
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HandlerSettings:
    max_text_chars: int = defaults.MAX_TEXT_CHARS
    default_language: str = "en"
    #: Seconds a connection may stay with no event while it has no answer running.
    idle_timeout: float | None = defaults.IDLE_TIMEOUT_S
    #: Seconds an event may take to arrive once it has begun.
    read_timeout: float | None = defaults.READ_TIMEOUT_S
    #: Seconds a turn under way may take to finish when the service stops.
    stop_grace: float = defaults.STOP_GRACE_S


class AssistEventHandler(AsyncEventHandler):
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        service: ModelControl,
        assistant: Assistant,
        settings: HandlerSettings,
        budget: ConnectionBudget,
    ) -> None:
        super().__init__(reader, writer)
        self._service = service
        self._assistant = assistant
        self._settings = settings
        self._budget = budget
        self._write_lock = asyncio.Lock()
        self._turn: asyncio.Task[None] | None = None
        self._peer = writer.get_extra_info("peername")
        self._stopping = False

    async def run(self) -> None:
        refusal = self._budget.try_take(self._peer)
        if refusal is not None:
            with contextlib.suppress(ConnectionError):
                await self._send(
                    Error(
                        text=f"Too many connections ({refusal}); try again later.",
                        code="too-many-connections",
                    ).event()
                )
            self.writer.close()
            return
        try:
            while True:
                try:
                    first = await self._wait_for_event()
                    event = await read_event(self.reader, first, self._settings.read_timeout)
                except ProtocolError as err:
                    _LOGGER.warning("Closing connection from %s: %s", self._peer, err)
                    await self._send(Error(text=str(err), code="bad-event").event())
                    break
                except TimeoutError:
                    _LOGGER.debug("Closing idle connection from %s", self._peer)
                    idle = f"no event for {self._settings.idle_timeout:g} s; closing"
                    await self._send(Error(text=idle, code="idle-timeout").event())
                    break
                if event is None or not await self.handle_event(event):
                    break
        except ConnectionError:
            pass
        finally:
            self._budget.give_back(self._peer)
            await self.disconnect()
            self.writer.close()

    async def _wait_for_event(self) -> bytes:
        """The next event's first byte; TimeoutError once idle too long with no answer running."""
        while True:
            try:
                return await wait_for_event(self.reader, self._settings.idle_timeout)
            except TimeoutError:
                if self._turn is None or self._turn.done():
                    raise
                # Waiting for its answer is not idleness: wait again.

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self._send(self._service.info_event)
            return True
        if event.type == USE_MODEL_EVENT:
            await self._use_model(event)
            return True
        if Ping.is_type(event.type):
            await self._send(Pong(text=event.data.get("text")).event())
            return True
        if Transcript.is_type(event.type) or Recognize.is_type(event.type):
            # recognize is what an intent program is asked; it carries the same text and context.
            await self._start_turn(event)
            return True
        _LOGGER.warning("Closing connection from %s: unsupported event %r", self._peer, event.type)
        await self._send(
            Error(text=f"unsupported event type: {event.type}", code="unsupported-event").event()
        )
        return False

    async def _use_model(self, event: Event) -> None:
        """Switch models on request, from this machine only: it stops every satellite's answers."""
        if not is_local_peer(self._peer):
            _LOGGER.warning("Refusing a model switch from %s: only local clients may", self._peer)
            await self._send(
                Error(
                    text="model switching is only allowed from this machine", code="forbidden"
                ).event()
            )
            return
        name = event.data.get("name")
        if not isinstance(name, str) or not name:
            await self._send(Error(text="give the model's name", code="bad-request").event())
            return
        try:
            plan = await self._service.use_model(name)
        except (RuntimeFailure, PromptFileError) as err:
            _LOGGER.error("Could not switch to %s: %s", name, err)
            await self._send(Error(text=str(err), code="model-failed").event())
            return
        await self._send(
            Event(
                type=MODEL_READY_EVENT,
                data={
                    "name": plan.entry.name,
                    "file": str(plan.entry.path),
                    "runtime": plan.runtime,
                    "context_length": plan.context.length,
                },
            )
        )

    async def stop(self) -> None:
        """The server is stopping (wyoming calls this for every connection): a running turn
        may finish within the grace, else it ends with a spoken ``not-handled``."""
        turn = self._turn
        if turn is not None and not turn.done():
            await asyncio.wait({turn}, timeout=self._settings.stop_grace)
            if not turn.done():
                self._stopping = True
                turn.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await turn
        await super().stop()

    async def disconnect(self) -> None:
        if self._turn is not None and not self._turn.done():
            _LOGGER.info("Client %s left; aborting its answer", self._peer)
            self._turn.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._turn

    async def _start_turn(self, event: Event) -> None:
        context = event.data.get("context")
        if self._turn is not None and not self._turn.done():
            await self._send(NotHandled(text=SAY_STILL_ANSWERING, context=context).event())
            return
        text = event.data.get("text")
        if not isinstance(text, str):
            await self._send(NotHandled(text=SAY_NO_TEXT, context=context).event())
            return
        self._turn = asyncio.create_task(self._turn_task(text, event.data.get("language"), context))

    async def _turn_task(self, text: str, language: Any, context: Any) -> None:
        with contextlib.suppress(ConnectionError):
            await self._answer(text, language, context)

    async def _answer(self, text: str, language: Any, context: Any) -> None:
        text = encodable(text).strip()
        if not isinstance(language, str) or not language:
            language = self._settings.default_language
        refusal = self._refusal_for(text)
        if refusal is not None:
            await self._send(NotHandled(text=sentence(refusal, language), context=context).event())
            return
        conversation_id = context.get("conversation_id") if isinstance(context, dict) else None
        if not isinstance(conversation_id, str):
            conversation_id = None
        here = self._area_heard_in(context)
        _LOGGER.debug("Transcript (%s): %s", language, text)

        started = False

        async def say(chunk: str) -> None:
            nonlocal started
            if not started:
                await self._send(HandledStart(context=context).event())
                started = True
            await self._send(HandledChunk(text=chunk).event())

        try:
            result = await self._assistant.answer(text, conversation_id, language, say, here)
        except ConnectionError:
            return  # the client is gone; cancelling the turn aborted the model
        except asyncio.CancelledError:
            if self._stopping:  # the service stops: the turn still ends with not-handled
                await self._fail(sentence(replies.STOPPING, language), context, started)
            raise
        except Exception as err:  # every failure is said; the table says how
            await self._fail(_said_for_failure(err, language), context, started)
            return
        await self._finish(result.reply, context, started, language)

    def _area_heard_in(self, context: Any) -> str | None:
        """The area id of the satellite that heard the request: Home Assistant puts its
        ``device_id`` in the transcript's context, and its area is in the device registry."""
        home = self._assistant.current_home()
        device = context.get("device_id") if isinstance(context, dict) else None
        if home is None or not isinstance(device, str):
            return None
        area = home.area_of_device(device)
        return area.area_id if area is not None else None

    def _refusal_for(self, text: str) -> str | None:
        """Which sentence to say instead of answering a transcript that cannot be answered."""
        if self._service.fetching is not None:
            return replies.GETTING_READY
        if not text:
            return replies.NOTHING_HEARD
        if len(text) > self._settings.max_text_chars:
            _LOGGER.warning(
                "Refusing a %d-character transcript (limit %d)",
                len(text),
                self._settings.max_text_chars,
            )
            return replies.TOO_LONG
        return None

    async def _finish(self, reply: Reply, context: Any, started: bool, language: str) -> None:
        """The turn's one reply as Wyoming events: intents, a question, a refusal or words."""
        said = words_of(reply, language, self._assistant.current_home())
        if isinstance(reply, Act):
            await self._send_intents(list(reply.actions), said, context, started)
            return
        if isinstance(reply, Decline):  # nothing could be done: a failure to report
            await self._fail(said, context, started)
            return
        if isinstance(reply, NoAnswer):
            await self._send(NotHandled(text=said, context=context).event())
            return
        text = reply.text
        if isinstance(reply, AskBack):
            chunk = f" {reply.question}" if started else reply.question
            if not started:
                await self._send(HandledStart(context=context).event())
            await self._send(HandledChunk(text=chunk).event())
            text += chunk
        await self._send(Handled(text=text, context=context).event())
        # The peer may close right after ``handled``; that is not an error.
        await self._send(HandledStop().event())

    async def _send_intents(
        self, actions: list[Action], text: str, context: Any, started: bool
    ) -> None:
        """Home Assistant carries the actions out and speaks the first one's ``text``.

        Its Wyoming agent speaks an intent's text (rendered as a template) when
        the handler said nothing, and joins the texts of several intents: one
        sentence stands for the turn.
        """
        intents = [
            Intent(
                name=action.intent,
                entities=[IntentEntity(name=k, value=v) for k, v in action.slots.items()],
                text=(text or None) if number == 0 else None,
                context=context,
            )
            for number, action in enumerate(actions)
        ]
        _LOGGER.info("Sending %s", ", ".join(f"{i.name}({action_target(i)})" for i in intents))
        if len(intents) == 1:
            await self._send(intents[0].event())
        else:
            await self._send(IntentsStart(context=context).event())
            for intent in intents:
                await self._send(intent.event())
            await self._send(IntentsStop(context=context).event())
        if started:
            await self._send(HandledStop().event())

    async def _fail(self, sentence: str, context: Any, started: bool) -> None:
        with contextlib.suppress(ConnectionError):
            await self._send(NotHandled(text=sentence, context=context).event())
            if started:
                await self._send(HandledStop().event())

    async def _send(self, event: Event) -> None:
        async with self._write_lock:
            await self.write_event(event)
