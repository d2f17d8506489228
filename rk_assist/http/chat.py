"""One chat request from an HTTP client, run on the shared model worker.

Both HTTP dialects (Ollama's and OpenAI's) come down to the same thing: a
list of messages, maybe tools, some sampling options. The reply is read as
it streams: reasoning goes to ``thinking``, tool calls are parsed with the
same code as the Wyoming path and handed back as structured calls (never as
text), and the rest is the answer's content.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..assistant.choices import (
    only_describes,
    orders_unnamed_opening,
    settled_without_model,
    unknown_device,
)
from ..assistant.replies import (
    ACKNOWLEDGED,
    FAILED_ACTION,
    GETTING_READY,
    NO_ANSWER,
    sentence,
)
from ..errors import RequestError
from ..home.claims import claims_action
from ..home.facts import unread_number, unread_state
from ..home.phrases import SAY_ITS_NAME, phrase
from ..home.request_words import reads_as, reads_as_other
from ..home.responses import Target, said_after
from ..output.calls import ToolCall, parse_tool_calls
from ..output.sanity import SURE_OTHER, SpeechGuard
from ..output.speech import (
    JSON_VALUE,
    THINK_BLOCK,
    TOOL_CALL_BLOCKS,
    BlockStripper,
)
from ..runtimes.base import (
    ChatMessage,
    GenerationRequest,
    GenerationStats,
    OutputConstraint,
    Sampling,
)
from ..runtimes.worker import ModelWorker
from .ha_prompt import home_from_prompt, overview_apart
from .tool_grammar import client_constraint
from .understood import (
    call_arguments,
    call_name,
    changed_after_reading,
    checked_calls,
    played_after_reading,
    state_answer,
    understood_calls,
    which_one,
)

_LOGGER = logging.getLogger(__name__)
ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    tools: tuple[dict[str, Any], ...] = ()
    stream: bool = True
    sampling: Sampling = field(default_factory=Sampling)
    max_tokens: int | None = None
    think: bool | None = None
    #: A structured answer was asked for: a bare JSON reply is content, not a call.
    wants_json: bool = False
    #: OpenAI's ``tool_choice``: "auto" (or None), "required", or one function named.
    tool_choice: Any = None

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(tool["function"]["name"] for tool in self.tools)


@dataclass
class ReplyPiece:
    """What a reply adds as it streams: some content, some thinking, or calls."""

    content: str = ""
    thinking: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    #: Set on the last piece: what the generation cost and why it stopped.
    stats: GenerationStats | None = None


def generation_request(
    chat: ChatRequest, default_system: str, max_new_tokens: int
) -> GenerationRequest:
    """The runtime's request: the system block apart (it is cached), history in whole turns.

    A client without a system message gets the service's own voice prompt.
    The last turn runs from the last user message to the end, so a tool
    round trip (assistant calls, tool results) stays in the turn it answers.
    """
    messages = list(chat.messages)
    system = default_system
    if messages and messages[0].role == "system":
        system = messages.pop(0).content
    # The calls are held to the home the client's whole prompt lists.
    constraint = _tools_constraint(chat, system)
    # Home Assistant's device overview after its tools: a device exposed since recomputes
    # the overview alone, not the 3,000 tokens of tools the template writes after it.
    apart = overview_apart(system) if chat.tools else None
    context = None
    if apart is not None:
        system, context = apart
    turns: list[list[ChatMessage]] = []
    for message in messages:
        if message.role == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
    limit = max_new_tokens if chat.max_tokens is None else min(chat.max_tokens, max_new_tokens)
    return GenerationRequest(
        system_prompt=system,
        turn=turns[-1] if turns else [],
        history=turns[:-1],
        max_new_tokens=max(limit, 1),
        tools_json=json.dumps(list(chat.tools)) if chat.tools else None,
        sampling=chat.sampling,
        constraint=constraint,
        context=context,
    )


def _unknown_device(chat: ChatRequest, request: str, language: str) -> str | None:
    """Home Assistant's "no device called ..." for an order naming a device its prompt
    does not list, or None."""
    system = chat.messages[0].content if chat.messages[0].role == "system" else ""
    home = home_from_prompt(system)
    unknown = unknown_device(request, language, home) if home is not None else None
    return " ".join(unknown.refusals) if unknown is not None else None


def _tools_constraint(chat: ChatRequest, system: str) -> OutputConstraint | None:
    """Words, or calls of the offered tools as their schemas allow (``tool_grammar``);
    None without tools, for a structured answer, or for a model asked to think first."""
    if not chat.tools or chat.wants_json or chat.think:
        return None
    return client_constraint(chat.tools, home_from_prompt(system), chat.tool_choice)


class ReplyReader:
    """Splits streamed model text into content, thinking and tool calls."""

    def __init__(self, chat: ChatRequest, language: str = "en") -> None:
        blocks: list[tuple[str, str]] = [THINK_BLOCK]
        if chat.tools:
            blocks += TOOL_CALL_BLOCKS
        self._stripper = BlockStripper(blocks, bare_json=bool(chat.tools) and not chat.wants_json)
        self._read = 0
        self._offered = {_bare_name(name): name for name in chat.tool_names}
        self._offered.update({name: name for name in chat.tool_names})
        self._declared = {
            tool["function"]["name"]: _declared_arguments(tool) for tool in chat.tools
        }
        self._think = chat.think is not False
        self._made = calls_made_this_turn(chat.messages)
        # A client that offers Home Assistant's tools is a voice assistant: its words are
        # held to what makes sense aloud. The language rule only where the person's own
        # words tell the language (HTTP requests carry none).
        said = next((m.content for m in reversed(chat.messages) if m.role == "user"), "")
        known = reads_as(said) == language
        other = (
            (lambda text: reads_as_other(text, language, at_least=SURE_OTHER)) if known else None
        )
        # Words that confirm an action stand only after the client ran a call this turn.
        acted = any(m.role == "tool" for m in _since_the_person_spoke(chat.messages))
        claims = None if acted else (lambda clause: claims_action(clause, language))
        self._gate = (
            SpeechGuard(
                said,
                other,
                made_up_fact(chat.messages, language),
                claims,
                internal=reads_prompt_back(chat.messages),
            )
            if chat.tools
            else PassGate()
        )

    @property
    def stopped(self) -> bool:
        """The answer went wrong past saving (a loop, another language): stop the model."""
        return isinstance(self._gate, SpeechGuard) and self._gate.stopped

    def feed(self, text: str) -> ReplyPiece:
        return self._piece(self._gate.feed(self._stripper.feed(text)))

    def finish(self) -> ReplyPiece:
        visible = self._stripper.finish()
        piece = self._piece(self._gate.feed(visible) + self._gate.finish())
        if isinstance(self._gate, SpeechGuard):
            self._gate.log_held_back(_LOGGER)
        return piece

    def _piece(self, visible: str) -> ReplyPiece:
        piece = ReplyPiece(content=visible)
        captured = self._stripper.captured[self._read :]
        self._read = len(self._stripper.captured)
        for opening, body in captured:
            if opening == THINK_BLOCK[0]:
                piece.thinking += body if self._think else ""
                continue
            calls, problems = parse_tool_calls([(opening, body)])
            if problems or not calls:
                if opening == JSON_VALUE:
                    # JSON that is no call (a tool result read back, most often) is never
                    # spoken; a client that wants JSON asks with ``format``.
                    _LOGGER.info("Not speaking JSON that is no call: %.120s", body)
                else:  # a tag around something else (a code sample): it is content
                    piece.content += f"{opening}{body}"
                continue
            for call in calls:
                offered = self._as_offered(call)
                if offered is None:  # a tool the client never offered: nothing to run
                    _LOGGER.info("Dropping a call to a tool that was not offered: %s", call.name)
                elif _call_key(offered.name, offered.arguments) in self._made:
                    # Its result is in the conversation already: running it again would
                    # loop (a small model repeats its call after every result).
                    _LOGGER.info("Dropping a call made already in this turn: %s", offered)
                else:
                    piece.tool_calls.append(offered)
        return piece

    def _as_offered(self, call: ToolCall) -> ToolCall | None:
        """The call under the client's own name for the tool (models drop Home Assistant's
        ``intent__`` prefix), with only the arguments the tool declares; None if it was not
        offered."""
        name = self._offered.get(call.name) or self._offered.get(_bare_name(call.name))
        if name is None and _bare_name(call.name).startswith("HassMedia"):
            # A media tool the model made up ("HassMediaResume"): the request's own verb
            # may still name an offered one (see checked_calls); otherwise it is dropped.
            return ToolCall(_bare_name(call.name), call.arguments)
        if name is None:
            return None
        declared = self._declared.get(name)
        arguments = call.arguments
        if declared is not None:
            arguments = {key: value for key, value in arguments.items() if key in declared}
        return ToolCall(name, arguments)


class PassGate:
    """Content as it comes."""

    def feed(self, text: str) -> str:
        return text

    def finish(self) -> str:
        return ""


def _unnamed_opening(messages: Sequence[ChatMessage], language: str) -> bool:
    """Whether the person's new request orders a lock, door or gate opened or unlocked
    ("unlock the door") in a home whose prompt lists one (as on the Wyoming door)."""
    system = messages[0].content if messages and messages[0].role == "system" else ""
    request = messages[-1].content if messages and messages[-1].role == "user" else ""
    return orders_unnamed_opening(request, language, home_from_prompt(system))


#: A heading of the client's prompt ("Static Context: An overview of ..."), two words or more.
_PROMPT_HEADING = re.compile(r"^([A-Z][A-Za-z]+(?: [A-Za-z]+){1,4}):", re.MULTILINE)


def reads_prompt_back(messages: Sequence[ChatMessage]) -> Callable[[str], bool] | None:
    """Tells a clause that names a heading of the client's own prompt: its instructions read
    back ("Based on the information provided in the static context, ..."), or None."""
    system = messages[0].content if messages and messages[0].role == "system" else ""
    headings = {found.group(1).casefold() for found in _PROMPT_HEADING.finditer(system)}
    if not headings:
        return None
    return lambda clause: any(heading in clause.casefold() for heading in headings)


def made_up_fact(messages: Sequence[ChatMessage], language: str) -> Callable[[str], bool] | None:
    """Tells a clause with a number about the home that neither the person's words nor a
    tool result since holds, or a device's state with no tool result to stand on (Home
    Assistant's prompt carries no states: its live context does). Seen: "The heatpump is
    set to 100%" and "the outside humidity is 30%" (54)."""
    system = messages[0].content if messages and messages[0].role == "system" else ""
    home = home_from_prompt(system)
    if home is None:
        return None
    since = _since_the_person_spoke(messages)
    request = next((m.content for m in reversed(messages) if m.role == "user"), "")
    results = [m.content for m in since if m.role == "tool"]
    known = " ".join([request, *results])
    # A state said in words stands on a tool result (the live context) of this turn.
    return lambda clause: (
        unread_number(clause, known, home, language)
        or (not results and unread_state(clause, home, language))
    )


def _since_the_person_spoke(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The messages after the last one from the person (the turn's tool round trips)."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return list(messages[index + 1 :])
    return list(messages)


def calls_made_this_turn(messages: Sequence[ChatMessage]) -> set[str]:
    """The calls the assistant made since the person last spoke, as comparable keys."""
    made: set[str] = set()
    for message in reversed(messages):
        if message.role == "user":
            break
        for call in message.tool_calls:
            made.add(_call_key(call_name(call), call_arguments(call)))
    return made


def _call_key(name: str, arguments: Any) -> str:
    return json.dumps([_bare_name(name), arguments], sort_keys=True, default=str)


def _declared_arguments(tool: dict[str, Any]) -> frozenset[str] | None:
    """The argument names a tool's JSON schema declares; None when it declares none (any)."""
    parameters = tool["function"].get("parameters")
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    return frozenset(properties) if isinstance(properties, dict) else None


def _bare_name(name: str) -> str:
    return name.rpartition("__")[2]


async def run_chat(
    worker: ModelWorker,
    chat: ChatRequest,
    default_system: str,
    max_new_tokens: int,
    language: str = "en",
    getting_ready: bool = False,
) -> AsyncIterator[ReplyPiece]:
    """Reply pieces, in order; the last one flushes what was held back and has the stats.

    ``getting_ready``: the model the user chose is still being fetched; the reply says so.

    Raises :class:`~rk_assist.runtimes.worker.BusyError` before the first
    piece when the line is full. Leaving the iteration early aborts the
    generation on the worker thread.
    """
    if _LOGGER.isEnabledFor(logging.DEBUG):
        for message in chat.messages[1:]:
            _LOGGER.debug("Chat message from %s: %.300s", message.role, message.content)
    if getting_ready:
        yield ReplyPiece(content=sentence(GETTING_READY, language), stats=GenerationStats())
        return
    settled = await _settled_reply(chat, language)
    if settled is not None:
        yield settled
        return
    async for piece in _model_reply(worker, chat, default_system, max_new_tokens, language):
        yield piece


async def _settled_reply(chat: ChatRequest, language: str) -> ReplyPiece | None:
    """The whole reply where the code settles it without the model, or None."""
    latest = chat.messages[-1] if chat.messages else None
    asked = chat.tools and latest is not None and latest.role == "user"
    settled = (
        await asyncio.to_thread(settled_without_model, latest.content, language)
        if asked and latest is not None
        else None
    )
    if settled is not None:
        # A voice assistant thanked or told something: nothing to do or ask the model.
        return ReplyPiece(content=sentence(settled, language), stats=GenerationStats())
    calls = await asyncio.to_thread(understood_calls, list(chat.messages), chat.tools, language)
    if not calls:
        messages = list(chat.messages)
        changed = await asyncio.to_thread(
            changed_after_reading, messages, chat.tools, language
        ) or await asyncio.to_thread(played_after_reading, messages, chat.tools, language)
        calls = [changed] if changed is not None else []
    if calls:
        return ReplyPiece(tool_calls=calls, stats=GenerationStats())
    which = await asyncio.to_thread(which_one, list(chat.messages), language) if asked else None
    if which is not None:
        # A name several devices share, or a volume Home Assistant would set on every
        # player: which one is asked.
        return ReplyPiece(content=which, stats=GenerationStats())
    unknown = (
        await asyncio.to_thread(_unknown_device, chat, latest.content, language)
        if asked and latest is not None
        else None
    )
    if unknown is not None:
        # An order for a device Home Assistant's prompt does not list: said so (the
        # model may only name listed devices, so it could not say which it missed).
        return ReplyPiece(content=unknown, stats=GenerationStats())
    if (
        asked
        and latest is not None
        and await asyncio.to_thread(only_describes, latest.content, language)
    ):
        # How something is ("the hallway is pitch black"): nothing to do.
        return ReplyPiece(content=sentence(ACKNOWLEDGED, language), stats=GenerationStats())
    words = await asyncio.to_thread(_answered_by_results, list(chat.messages), language)
    if words is not None:
        # Every call of the round was an action Home Assistant carried out: its own
        # sentence says so, in milliseconds, and the model has nothing to add.
        _LOGGER.info("Chat answered from its tool results: %s", words)
        return ReplyPiece(content=words, stats=GenerationStats())
    return None


async def _model_reply(
    worker: ModelWorker,
    chat: ChatRequest,
    default_system: str,
    max_new_tokens: int,
    language: str,
) -> AsyncIterator[ReplyPiece]:
    """The model's reply, read and checked as it streams."""
    # Off the event loop: the call grammar of a client's tools is built per request.
    request = await asyncio.to_thread(generation_request, chat, default_system, max_new_tokens)
    reader = await asyncio.to_thread(ReplyReader, chat, language)
    # An order to open or unlock that names nothing plainly: the model's words are held
    # until its calls are known; with none, the answer is the question to name it.
    held: list[str] | None = (
        [] if await asyncio.to_thread(_unnamed_opening, chat.messages, language) else None
    )
    stream = worker.generate(request)
    said = called = False
    try:
        async for text in stream:
            piece = await _checked(reader.feed(text), chat, language)
            said = said or bool(piece.content.strip() or piece.tool_calls)
            called = called or bool(piece.tool_calls)
            if held is not None:
                held.append(piece.content)
                piece.content = ""
            if piece.content or piece.thinking or piece.tool_calls:
                yield piece
            if reader.stopped:
                break
        last = await _checked(reader.finish(), chat, language)
        said = said or bool(last.content.strip() or last.tool_calls)
        called = called or bool(last.tool_calls)
        if held is not None and not called:
            _LOGGER.info("An order to open or unlock that names nothing plainly: %r", held)
            last.content, said = phrase(SAY_ITS_NAME, language), True
        elif held is not None:
            last.content = "".join([*held, last.content])
        if not said:  # after a tool round trip, or calls not made, the answer is still words
            last.content += words_for_tool_results(chat.messages, language) or sentence(
                NO_ANSWER, language
            )
        last.stats = stream.stats or GenerationStats()
        _LOGGER.info(
            "Chat done (%d messages, last from %s): %s",
            len(chat.messages),
            chat.messages[-1].role if chat.messages else "nobody",
            last.stats.summary(),
        )
        yield last
    finally:
        await stream.aclose()


def _answered_by_results(messages: list[ChatMessage], language: str) -> str | None:
    """The whole answer to a round of tool results, when Home Assistant's words are enough."""
    return state_answer(messages, language) or words_for_tool_results(
        messages, language, every=True
    )


async def _checked(piece: ReplyPiece, chat: ChatRequest, language: str) -> ReplyPiece:
    """The piece with its calls held to Home Assistant's home (before the client runs them)."""
    if piece.tool_calls:
        piece.tool_calls, words = await asyncio.to_thread(
            checked_calls, piece.tool_calls, list(chat.messages), chat.tools, language
        )
        if words:
            piece.content += (" " if piece.content.strip() else "") + words
    return piece


def words_for_tool_results(
    messages: Sequence[ChatMessage], language: str, every: bool = False
) -> str | None:
    """Home Assistant's own sentence for what its tools just did, when the model said nothing.

    A small model often answers a tool result by reading the JSON back (which
    is never spoken) or with nothing at all; the voice user still hears what
    happened, as Home Assistant's own agent would say it. With ``every``,
    None unless each result of the round has its sentence (then nothing is
    left for the model to answer).
    """
    if not messages or messages[-1].role != "tool":
        return None
    asked = next((m for m in reversed(messages) if m.role == "assistant" and m.tool_calls), None)
    results = list(itertools.takewhile(lambda m: m.role == "tool", reversed(messages)))[::-1]
    if asked is None:
        return None
    sentences = []
    for call, result in zip(asked.tool_calls, results, strict=False):
        intent = _bare_name(str(call.get("function", {}).get("name", "")))
        outcome = _tool_outcome(result.content)
        if outcome is None:
            if every:
                return None
            continue
        if not outcome:
            if every:
                return None  # the model may say why it failed, or try otherwise
            sentences.append(sentence(FAILED_ACTION, language))
        elif sentence_after := said_after(
            intent, outcome, language, _placed(result.content), call_arguments(call)
        ):
            sentences.append(sentence_after)
        elif every:
            return None
    if every and len(results) != len(asked.tool_calls):
        return None
    return " ".join(dict.fromkeys(sentences)) or None


_PLACES = ("area", "floor")


def _placed(content: str) -> bool:
    """Whether Home Assistant's result says it acted on an area or a floor."""
    return any(f'"type":"{place}"' in content.replace(" ", "") for place in _PLACES)


def _tool_outcome(content: str) -> list[Target] | None:
    """The devices a Home Assistant tool result says it acted on ([] when it failed), or None
    when the result is not of that shape."""
    try:
        result = json.loads(content)
    except ValueError:
        return None
    if not isinstance(result, dict):
        return None
    if result.get("error"):
        return []
    data = result
    while "success" not in data and isinstance(data.get("data"), dict):
        data = data["data"]  # Home Assistant wraps the intent response: {"data": {"data": ...
    success = data.get("success")
    if not isinstance(success, list):
        return None
    targets = [
        Target(str(item.get("id", "")), str(item.get("name", "")))
        for item in success
        if isinstance(item, dict) and item.get("name") and item.get("type") not in _PLACES
    ]
    return targets or ([] if data.get("failed") else None)


async def whole_reply(first: ReplyPiece, rest: AsyncIterator[ReplyPiece]) -> ReplyPiece:
    """The pieces of a reply gathered into one, for clients that asked for no stream."""
    content, thinking, calls = [], [], []
    stats = GenerationStats()
    piece: ReplyPiece | None = first
    while piece is not None:
        content.append(piece.content)
        thinking.append(piece.thinking)
        calls += piece.tool_calls
        stats = piece.stats or stats
        piece = await anext(rest, None)
    return ReplyPiece("".join(content), "".join(thinking), calls, stats)


def message_text(content: Any, where: str) -> str:
    """A message's content: text, or OpenAI's list of parts (their text joined)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        texts = []
        for index, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise RequestError(f"{where}[{index}]", "only text parts are understood")
            texts.append(str(part.get("text", "")))
        return "".join(texts)
    raise RequestError(where, "expected text")
