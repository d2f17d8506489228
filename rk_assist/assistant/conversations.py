"""In-memory conversation history, keyed by Home Assistant's conversation_id.

Home Assistant keeps a conversation alive for five minutes of silence; we
forget on the same schedule, and keep only the newest turns so memory stays
bounded however long a conversation runs.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .. import defaults
from ..runtimes.base import ChatMessage

Turn = tuple[ChatMessage, ...]


@dataclass
class _Conversation:
    turns: deque[Turn]
    last_used: float = field(default=0.0)
    #: The devices the latest turn that had any acted on or read ("it" in the next one).
    devices: tuple[str, ...] = ()


class ConversationStore:
    def __init__(
        self,
        max_turns: int = defaults.HISTORY_TURNS,
        idle_seconds: float = defaults.HISTORY_IDLE_S,
        max_conversations: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_turns = max_turns
        self.idle_seconds = idle_seconds
        self.max_conversations = max_conversations
        self._clock = clock
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()

    def history(self, conversation_id: str | None) -> list[Turn]:
        if not conversation_id or self.max_turns <= 0:
            return []
        self._expire()
        conversation = self._conversations.get(conversation_id)
        return list(conversation.turns) if conversation else []

    def devices(self, conversation_id: str | None) -> tuple[str, ...]:
        """The entity ids the conversation's latest turn with devices acted on or read."""
        if not conversation_id:
            return ()
        self._expire()
        conversation = self._conversations.get(conversation_id)
        return conversation.devices if conversation else ()

    def last_request(self, conversation_id: str | None) -> str | None:
        """What the person asked in the conversation's latest turn (for "and the fan too",
        or the answer to a question asked back), or None."""
        if not conversation_id:
            return None
        self._expire()
        conversation = self._conversations.get(conversation_id)
        if conversation is None or not conversation.turns:
            return None
        asked = [m.content for m in conversation.turns[-1] if m.role == "user"]
        return asked[-1] if asked else None

    def add_turn(
        self,
        conversation_id: str | None,
        turn: Sequence[ChatMessage],
        devices: Sequence[str] = (),
    ) -> None:
        """Keep a turn and the devices it acted on or read (none: the last ones stay)."""
        if not conversation_id or self.max_turns <= 0:
            return
        self._expire()
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            conversation = _Conversation(deque(maxlen=self.max_turns))
            self._conversations[conversation_id] = conversation
        conversation.turns.append(tuple(turn))
        if devices:
            conversation.devices = tuple(devices)
        conversation.last_used = self._clock()
        self._conversations.move_to_end(conversation_id)
        while len(self._conversations) > self.max_conversations:
            self._conversations.popitem(last=False)

    def __len__(self) -> int:
        self._expire()
        return len(self._conversations)

    def _expire(self) -> None:
        deadline = self._clock() - self.idle_seconds
        # Ordered by last use, so the idle ones are at the front.
        while self._conversations:
            oldest_id, oldest = next(iter(self._conversations.items()))
            if oldest.last_used > deadline:
                break
            del self._conversations[oldest_id]
