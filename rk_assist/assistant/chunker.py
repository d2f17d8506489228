"""Cut streamed text into speakable chunks.

TTS can start speaking as soon as it has a complete phrase, so the first
chunk goes out at the first clause boundary (a comma is enough); later
chunks break at sentence ends, or at a clause boundary once a sentence has
grown long, so no chunk keeps the listener waiting. A boundary is only
trusted once the character after it is known (``3.5`` and ``e.g.`` are not
sentence ends), which costs at most one token of delay.
"""

from __future__ import annotations

import re

_SENTENCE_END = ".!?…。！？"
_CLAUSE_END = ",;:—–"
# Words that end in a period without ending the sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e approx no fig ca min max".split()
)
_NUMBERED_ITEM = re.compile(r"(?:^|\n)\s*\d{1,3}$")


class ClauseChunker:
    """Feed text pieces, get back chunks whose concatenation is the input."""

    def __init__(self, first_min_chars: int = 2, long_sentence_chars: int = 120) -> None:
        self._buffer = ""
        self._emitted_any = False
        self._first_min_chars = first_min_chars
        self._long_sentence_chars = long_sentence_chars

    def feed(self, piece: str) -> list[str]:
        self._buffer += piece
        chunks: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                break
            chunks.append(self._buffer[:cut])
            self._buffer = self._buffer[cut:]
            self._emitted_any = True
        return chunks

    def finish(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        return [rest] if rest.strip() else []

    def _find_cut(self) -> int | None:
        """Index just after the boundary's trailing whitespace, or None."""
        text = self._buffer
        clause_allowed_from = (
            self._first_min_chars if not self._emitted_any else self._long_sentence_chars
        )
        for index, char in enumerate(text[:-1]):
            following = text[index + 1]
            if char == "\n" and text[:index].strip():
                return self._after_space(index)
            if not following.isspace():
                continue
            if char in _SENTENCE_END and self._is_sentence_end(text, index):
                return self._after_space(index + 1)
            if char in _CLAUSE_END and index + 1 >= clause_allowed_from:
                return self._after_space(index + 1)
        return None

    def _after_space(self, index: int) -> int | None:
        text = self._buffer
        while index < len(text) and text[index].isspace():
            index += 1
        # Wait until the whitespace run has ended, so the next chunk starts clean.
        return index if index < len(text) else None

    @staticmethod
    def _is_sentence_end(text: str, index: int) -> bool:
        if text[index] != ".":
            return True
        before = text[:index]
        if _NUMBERED_ITEM.search(before):
            return False  # "1. Milk" in a list
        word = before.rsplit(None, 1)[-1] if before.strip() else ""
        word = word.lstrip("(\"'").lower()
        if word in _ABBREVIATIONS:
            return False
        # Single letters ("J. R. R. Tolkien") are initials.
        return not (len(word) == 1 and word.isalpha())
