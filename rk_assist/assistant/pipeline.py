"""One voice turn: from the user's words to speakable chunks.

This is the assistant's only door to the model (through the worker) and the
protocol adapter's only door to the assistant: it knows nothing of Wyoming,
and the Wyoming handler knows nothing of prompts or models.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from ..runtimes.base import ChatMessage, GenerationRequest, GenerationStats
from ..runtimes.worker import ModelWorker
from .chunker import ClauseChunker
from .conversations import ConversationStore
from .prompt import request_note
from .speech import BlockStripper, clean_for_speech

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssistantSettings:
    language: str = "en"
    max_new_tokens: int = 256


class AnswerStream:
    """Speakable chunks of one answer; ``text`` and ``stats`` are complete once iterated.

    The chunks concatenate to ``text`` exactly: each chunk after the first
    carries the single space that separates it from the previous one.
    """

    def __init__(
        self, assistant: Assistant, text: str, conversation_id: str | None, language: str | None
    ) -> None:
        self._assistant = assistant
        self._user_text = text
        self._conversation_id = conversation_id
        self._language = language or assistant.settings.language
        self.chunks: list[str] = []
        self.stats: GenerationStats | None = None
        self.first_chunk_s: float | None = None
        self.completed = False
        self._iterator = self._run()

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterator

    async def aclose(self) -> None:
        await self._iterator.aclose()

    async def _run(self) -> AsyncIterator[str]:
        assistant = self._assistant
        note = ChatMessage("system", request_note(assistant.clock(), self._language))
        turn = (note, ChatMessage("user", self._user_text))
        request = GenerationRequest(
            system_prompt=assistant.system_prompt,
            history=assistant.conversations.history(self._conversation_id),
            turn=turn,
            max_new_tokens=assistant.settings.max_new_tokens,
        )
        stripper = BlockStripper()
        chunker = ClauseChunker()
        started = time.perf_counter()
        generation = assistant.worker.generate(request)
        try:
            async for piece in generation:
                for raw in chunker.feed(stripper.feed(piece)):
                    if chunk := self._speakable(raw, started):
                        yield chunk
            for raw in chunker.feed(stripper.finish()) + chunker.finish():
                if chunk := self._speakable(raw, started):
                    yield chunk
        finally:
            await generation.aclose()
        self.stats = generation.stats
        self.completed = True
        if self.chunks:
            assistant.conversations.add_turn(
                self._conversation_id, (*turn, ChatMessage("assistant", self.text))
            )
        if self.stats is not None:
            _LOGGER.info("Turn done: %s", self.stats.summary())

    def _speakable(self, raw: str, started: float) -> str:
        cleaned = clean_for_speech(raw)
        if not cleaned:
            return ""
        if self.chunks:
            cleaned = " " + cleaned
        else:
            self.first_chunk_s = time.perf_counter() - started
        self.chunks.append(cleaned)
        return cleaned


class Assistant:
    def __init__(
        self,
        worker: ModelWorker,
        system_prompt: str,
        conversations: ConversationStore,
        settings: AssistantSettings,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.worker = worker
        self.system_prompt = system_prompt
        self.conversations = conversations
        self.settings = settings
        self.clock = clock

    def answer(
        self, text: str, conversation_id: str | None = None, language: str | None = None
    ) -> AnswerStream:
        return AnswerStream(self, text, conversation_id, language)
