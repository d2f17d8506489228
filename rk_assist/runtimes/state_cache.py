"""Model states worth restoring, so a prompt seen before is not prefilled again.

Home Assistant resends its whole system prompt, tools and history on every
request, and several satellites interleave their conversations. The KV cache
only remembers the last prompt, so every switch between conversations (or
between Home Assistant's prompt and our own) would prefill thousands of
tokens again. This keeps, in a memory budget, the state after each distinct
static prefix and after each recent answer; a new prompt restores the saved
state that shares the longest beginning with it, and only the rest is
computed. Least recently used states go first.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SavedState:
    tokens: np.ndarray  # the tokens whose state this is, as llama.cpp's input ids
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data) + self.tokens.nbytes


def tokens_key(tokens: Sequence[int] | np.ndarray) -> str:
    return hashlib.sha256(np.asarray(tokens, dtype=np.intc).tobytes()).hexdigest()


def common_prefix(cached: Sequence[int] | np.ndarray, tokens: Sequence[int] | np.ndarray) -> int:
    """How many leading tokens two sequences share."""
    length = min(len(cached), len(tokens))
    if length == 0:
        return 0
    mismatch = np.nonzero(np.asarray(cached[:length]) != np.asarray(tokens[:length]))[0]
    return int(mismatch[0]) if mismatch.size else length


class StateCache:
    """An LRU of saved states bounded in bytes; a state larger than the budget is not kept."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._states: OrderedDict[str, SavedState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    @property
    def used_bytes(self) -> int:
        return sum(state.size for state in self._states.values())

    def get(self, tokens: Sequence[int] | np.ndarray) -> SavedState | None:
        """The state saved for exactly these tokens."""
        key = tokens_key(tokens)
        state = self._states.get(key)
        if state is not None:
            self._states.move_to_end(key)
        return state

    def put(self, tokens: Sequence[int] | np.ndarray, data: bytes) -> None:
        state = SavedState(np.array(tokens, dtype=np.intc), data)
        key = tokens_key(state.tokens)
        self._states.pop(key, None)
        if state.size > self.max_bytes:
            return
        self._states[key] = state
        while self.used_bytes > self.max_bytes:
            self._states.popitem(last=False)

    def best(self, tokens: Sequence[int] | np.ndarray) -> tuple[SavedState | None, int]:
        """The saved state sharing the longest beginning with ``tokens``, and that length."""
        best: SavedState | None = None
        best_length = 0
        best_key = ""
        for key, state in self._states.items():
            length = common_prefix(state.tokens, tokens)
            if length > best_length:
                best, best_length, best_key = state, length, key
        if best is not None:
            self._states.move_to_end(best_key)
        return best, best_length

    def forget_prefixes_of(self, tokens: Sequence[int] | np.ndarray) -> None:
        """Drop the states of what ``tokens`` begin with (a prefill cut short, now finished):
        anything they could resume, the state of ``tokens`` resumes as far or further."""
        for key, state in list(self._states.items()):
            if len(state.tokens) < len(tokens) and common_prefix(state.tokens, tokens) == len(
                state.tokens
            ):
                del self._states[key]

    def clear(self) -> None:
        self._states.clear()
