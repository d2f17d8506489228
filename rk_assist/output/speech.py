"""Make model output safe to speak.

Text-to-speech reads everything it is given: a ``<think>`` block, a ``**``
or an emoji name would be spoken aloud. Tagged blocks are removed while the
text streams (they span many tokens); markdown and emoji are removed per
chunk, which is safe because each marker is removed on its own, not in pairs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Blocks whose content must never be spoken: reasoning, tool calls in Qwen's
# JSON form and in the XML-like form of RKLLM 1.3's demos, the <tools> wrapper
# small models copy from their prompt, and code fences.
THINK_BLOCK = ("<think>", "</think>")
TOOL_CALL_BLOCKS = (
    ("<tool_call>", "</tool_call>"),
    ("<function=", "</function>"),
    ("<tools>", "</tools>"),
    ("```", "```"),
)
HIDDEN_BLOCKS: tuple[tuple[str, str], ...] = (THINK_BLOCK, *TOOL_CALL_BLOCKS)
#: The opening recorded for a bare JSON value (``{...}`` or ``[...]``) in the text.
JSON_VALUE = "json"
_JSON_OPEN, _JSON_CLOSE = "{[", "}]"


class BlockStripper:
    """Streaming removal of ``<tag>...</tag>`` blocks and bare JSON values.

    Text that might be the start of an opening tag is held back until the
    next piece settles it, so a tag split across tokens is still caught. A
    ``{`` or ``[`` starts a JSON value that lasts until its brackets balance
    (strings respected): spoken answers have no brackets, and small models
    write their calls bare far more often than in tags. An unterminated block
    at the end of the answer is never spoken.
    """

    def __init__(
        self, blocks: Iterable[tuple[str, str]] = HIDDEN_BLOCKS, bare_json: bool = True
    ) -> None:
        self._blocks = tuple(blocks)
        self._brackets = _JSON_OPEN if bare_json else ""
        self._pending = ""
        self._closing: str | None = None  # the closing tag we are inside of
        self._opening = ""
        self._content = ""
        self._depth = 0  # inside a bare JSON value: brackets open
        self._in_string = False
        self._escaped = False
        #: (opening tag, content) of every hidden block seen, for tool calls.
        self.captured: list[tuple[str, str]] = []

    def feed(self, piece: str) -> str:
        self._pending += piece
        out: list[str] = []
        while self._pending:
            if self._depth:
                self._pending = self._follow_json(self._pending)
                continue
            if self._closing is not None:
                end = self._pending.find(self._closing)
                if end < 0:
                    # Keep only what could be the start of the closing tag.
                    keep = len(self._closing) - 1
                    self._content += self._pending[:-keep] if keep else self._pending
                    self._pending = self._pending[-keep:] if keep else ""
                    break
                self._content += self._pending[:end]
                self.captured.append((self._opening, self._content))
                self._pending = self._pending[end + len(self._closing) :]
                self._closing = None
                continue
            start, opening, closing = self._find_opening()
            if opening:
                out.append(self._pending[:start])
                if opening == JSON_VALUE:
                    self._opening, self._content = JSON_VALUE, ""
                    self._pending = self._follow_json(self._pending[start:])
                    continue
                self._pending = self._pending[start + len(opening) :]
                self._closing, self._opening, self._content = closing, opening, ""
                continue
            keep = self._partial_opening_length()
            cut = len(self._pending) - keep
            out.append(self._pending[:cut])
            self._pending = self._pending[cut:]
            break
        return "".join(out)

    def finish(self) -> str:
        if self._closing is not None or self._depth:
            # Unterminated: never spoken, but a tool call cut short may still be usable.
            self.captured.append((self._opening, self._content + self._pending))
            rest = ""
        else:
            rest = self._pending
        self._pending = ""
        self._closing = None
        self._depth = 0
        return rest

    def _follow_json(self, text: str) -> str:
        """Consume ``text`` into the JSON value being read; return what follows its end."""
        for index, char in enumerate(text):
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif char == "\\":
                    self._escaped = True
                elif char == '"':
                    self._in_string = False
            elif char == '"':
                self._in_string = True
            elif char in _JSON_OPEN:
                self._depth += 1
            elif char in _JSON_CLOSE:
                self._depth -= 1
                if self._depth == 0:
                    self._content += text[: index + 1]
                    self.captured.append((JSON_VALUE, self._content))
                    self._content = ""
                    return text[index + 1 :]
        self._content += text
        return ""

    def _find_opening(self) -> tuple[int, str, str]:
        best = (-1, "", "")
        for opening, closing in self._blocks:
            index = self._pending.find(opening)
            if index >= 0 and (best[0] < 0 or index < best[0]):
                best = (index, opening, closing)
        for bracket in self._brackets:
            index = self._pending.find(bracket)
            if index >= 0 and (best[0] < 0 or index < best[0]):
                best = (index, JSON_VALUE, "")
        return best

    def _partial_opening_length(self) -> int:
        longest = 0
        for opening, _closing in self._blocks:
            for size in range(min(len(opening) - 1, len(self._pending)), 0, -1):
                if self._pending.endswith(opening[:size]):
                    longest = max(longest, size)
                    break
        return longest


# The prompt's notation beside a device's name (see ``Home.describe_for_prompt``).
_PROMPT_NOTATION = re.compile(r"\s*\(also: [^)]*\)|\s*\[[a-z_]+(?:, [a-z_]+)?\]")


def without_notation(text: str) -> str:
    """Text with the prompt's notation for a device left out: a small model reads it back
    ("Wohnzimmer Heizung (also: Heizung) [climate]"), and it is never to be spoken."""
    return _PROMPT_NOTATION.sub("", text)


_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # emoticons, symbols, pictographs, flags, extended-A
    "\U00002600-\U000027bf"  # miscellaneous symbols and dingbats
    "\U00002b00-\U00002bff"  # arrows and stars used as emoji
    "\U0001f1e6-\U0001f1ff"  # regional indicators
    "\ufe0e\ufe0f\u200d\u20e3"  # variation selectors, zero-width joiner, keycap
    "]+"
)
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL_ANGLE = re.compile(r"<(https?://[^>]+)>")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+", re.MULTILINE)
_QUOTE_MARK = re.compile(r"^\s*>\s?", re.MULTILINE)
_EMPHASIS = re.compile(r"\*{1,3}|(?<!\w)_{1,3}|_{1,3}(?!\w)|~~|`+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$", re.MULTILINE)
_HRULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$", re.MULTILINE)
_SPACES = re.compile(r"\s+")
# "12 * 12" and "3×4": a product, said as a word, before emphasis stars are dropped.
_TIMES = re.compile(r"(?<=\d)\s*[*×]\s*(?=[\d(-])")
#: How "times" is said, by reply language; English where the language is not listed.
TIMES_WORDS = {"en": "times", "de": "mal", "fr": "fois", "es": "por", "it": "per", "nl": "keer"}
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
# Quotation marks and braces are read, not heard: a reply wrapped in quotes, a lone "}".
_UNHEARD = re.compile(r"[\"“”„«»{}\[\]]")


#: A tool's name (Home Assistant's "intent__HassTurnOn", an intent "HassTurnOn"): never for
#: the ear. A small model asked "what can you do" reads its instructions back.
TOOL_NAME = re.compile(r"\b[A-Za-z]\w*__\w+|\bHass[A-Z]\w*|\bGetLiveContext\b")


def clean_for_speech(text: str, language: str = "en") -> str:
    """Plain, single-line text for TTS: no markdown, no emoji, no stray tags, math kept.

    A clause that names a tool is dropped whole: read back, it is noise. The
    prompt's notation for a device ("(also: ...)", "[climate]") is left out.
    """
    if TOOL_NAME.search(text):
        return ""
    text = without_notation(text)
    times = TIMES_WORDS.get(language.split("-")[0].split("_")[0].lower(), TIMES_WORDS["en"])
    text = _TIMES.sub(f" {times} ", text)
    text = _LINK.sub(r"\1", text)
    text = _URL_ANGLE.sub(r"\1", text)
    text = _TABLE_RULE.sub(" ", text)
    text = _HRULE.sub(" ", text)
    text = _HEADING.sub("", text)
    text = _LIST_MARK.sub("", text)
    text = _QUOTE_MARK.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = text.replace("|", " ")
    text = _EMOJI.sub("", text)
    text = _UNHEARD.sub(" ", text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return text.strip()
