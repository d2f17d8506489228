"""What kind of cover a name says, in Home Assistant's own words.

A cover's wrong opening lets someone in only where it is a door, a garage door
or a gate; a window, blind, curtain, shade, shutter or awning does not. Home
Assistant's prompt for its LLM doors does not give the device class, and many
covers have none, so where the class is unknown the name tells: "Kitchen
Window", "Rollladen Bad", "persiana del salón". The words are Home Assistant's
``cover_classes`` list of each language rk-assist speaks (a home's names need
not be in the request's language), and a name that says neither kind stays a
door: a wrong guess must never make a door easy to open.
"""

from __future__ import annotations

import functools
import logging
import unicodedata

from hassil.parse_expression import parse_sentence
from hassil.sample import sample_expression
from home_assistant_intents import get_intents

_LOGGER = logging.getLogger(__name__)

#: The cover classes that let someone in (``Entity.sensitive``).
OPENINGS = frozenset({"door", "garage", "gate"})
#: The languages whose words name kinds of devices (a name need not be in the request's).
LANGUAGES = ("en", "de", "fr", "es", "it", "nl")
#: Languages that join words: their class words also end a name ("Küchenfenster",
#: "voordeur") when at least this long, after a word of at least _FIRST_PART letters
#: ("store" is no German "Tore").
_COMPOUNDING = frozenset({"de", "nl"})
_COMPOUND_LENGTH = 4
_FIRST_PART = 3


def folded(text: str) -> str:
    """Lower case without accents ("Tür" -> "tur"): how names and requests are compared."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


@functools.cache
def _class_words() -> dict[str, frozenset[tuple[str, bool]]]:
    """Each cover class's words in every language, accents folded ("tur", "fenetre"),
    and whether the word may end a compound."""
    words: dict[str, set[tuple[str, bool]]] = {}
    for language in LANGUAGES:
        data = get_intents(language) or {}
        for value in (data.get("lists", {}).get("cover_classes") or {}).get("values", []):
            classes = value.get("out")
            for cover_class in classes if isinstance(classes, list) else [classes]:
                try:
                    samples = sample_expression(parse_sentence(str(value["in"])).expression)
                    said = {" ".join(folded(sample).split()) for sample in samples}
                except Exception:  # hassil is not ours: a template it cannot read adds nothing
                    _LOGGER.debug("Cover class words not read: %s", value)
                    continue
                compounds = language in _COMPOUNDING
                words.setdefault(str(cover_class), set()).update(
                    (word, compounds and len(word) >= _COMPOUND_LENGTH) for word in said if word
                )
    return {cover_class: frozenset(said) for cover_class, said in words.items()}


@functools.cache
def class_word_parts() -> frozenset[str]:
    """Every single word of every cover class's words ("garage", "door", "persiana")."""
    return frozenset(
        part for words in _class_words().values() for word, _ in words for part in word.split()
    )


def _says(name_words: list[str], word: str, compounds: bool) -> bool:
    if " " in word:
        return f" {word} " in f" {' '.join(name_words)} "
    return any(
        said == word or (compounds and said.endswith(word) and len(said) - len(word) >= _FIRST_PART)
        for said in name_words
    )


@functools.lru_cache(maxsize=4096)
def named_kinds(name: str) -> frozenset[str]:
    """The cover classes a name says ("Garagentor" says garage; "Kitchen Window" window)."""
    name_words = " ".join("".join(c if c.isalnum() else " " for c in folded(name)).split()).split()
    return frozenset(
        cover_class
        for cover_class, words in _class_words().items()
        if any(_says(name_words, word, compounds) for word, compounds in words)
    )


def may_be_an_opening(names: tuple[str, ...]) -> bool:
    """Whether a cover of no known class may be a door, garage door or gate by its names:
    yes unless a name says another kind of cover and none says one of these."""
    kinds = set().union(*(named_kinds(name) for name in names)) if names else set()
    return not kinds or bool(kinds & OPENINGS)
