"""One chat request from an HTTP client, run on the shared model worker.

Both HTTP dialects (Ollama's and OpenAI's) come down to the same thing: a
list of messages, maybe tools, some sampling options. The reply is read as
it streams: reasoning goes to ``thinking``, tool calls are parsed with the
same code as the Wyoming path and handed back as structured calls (never as
text), and the rest is the answer's content.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..assistant.speech import JSON_VALUE, THINK_BLOCK, TOOL_CALL_BLOCKS, BlockStripper
from ..home.tool_calls import ToolCall, parse_tool_calls
from ..runtimes.base import ChatMessage, GenerationRequest, GenerationStats, Sampling
from ..runtimes.worker import ModelWorker

ROLES = ("system", "user", "assistant", "tool")


class RequestError(ValueError):
    """A request the service cannot take; the message names the field (an HTTP 400)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)


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
    )


class ReplyReader:
    """Splits streamed model text into content, thinking and tool calls."""

    def __init__(self, chat: ChatRequest) -> None:
        blocks: list[tuple[str, str]] = [THINK_BLOCK]
        if chat.tools:
            blocks += TOOL_CALL_BLOCKS
        self._stripper = BlockStripper(blocks, bare_json=bool(chat.tools) and not chat.wants_json)
        self._read = 0
        self._offered = {_bare_name(name): name for name in chat.tool_names}
        self._offered.update({name: name for name in chat.tool_names})
        self._think = chat.think is not False

    def feed(self, text: str) -> ReplyPiece:
        return self._piece(self._stripper.feed(text))

    def finish(self) -> ReplyPiece:
        return self._piece(self._stripper.finish())

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
                # Not a call after all (a JSON answer, a code sample): it is content.
                piece.content += body if opening == JSON_VALUE else f"{opening}{body}"
                continue
            piece.tool_calls += [self._as_offered(call) for call in calls]
        return piece

    def _as_offered(self, call: ToolCall) -> ToolCall:
        """The client's own name for the tool: models drop Home Assistant's ``intent__`` prefix."""
        name = self._offered.get(call.name) or self._offered.get(_bare_name(call.name), call.name)
        return ToolCall(name, call.arguments)


def _bare_name(name: str) -> str:
    return name.rpartition("__")[2]


async def run_chat(
    worker: ModelWorker, chat: ChatRequest, default_system: str, max_new_tokens: int
) -> AsyncIterator[ReplyPiece]:
    """Reply pieces, in order; the last one flushes what was held back and has the stats.

    Raises :class:`~rk_assist.runtimes.worker.BusyError` before the first
    piece when the line is full. Leaving the iteration early aborts the
    generation on the worker thread.
    """
    request = generation_request(chat, default_system, max_new_tokens)
    reader = ReplyReader(chat)
    stream = worker.generate(request)
    try:
        async for text in stream:
            piece = reader.feed(text)
            if piece.content or piece.thinking or piece.tool_calls:
                yield piece
        last = reader.finish()
        last.stats = stream.stats or GenerationStats()
        yield last
    finally:
        await stream.aclose()


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
