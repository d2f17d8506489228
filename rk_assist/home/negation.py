"""A request that negates what it names asks for that not to happen.

Seen on homes the rules were not written for: "Doe de staande lamp niet uit"
turned the lamp off (both Qwens), "don't turn off the salt lamp" turned it
off (the 0.5B). Home Assistant's sentences have no negation (its skip words
let "niet" pass), so the words of negation are listed here, per language; a
negated request changes nothing in the home, whoever read it.
"""

from __future__ import annotations

from .phrases import LanguagePatterns

#: Words of negation, by language. Spanish "no" followed by a comma is an answer ("No,
#: enciende la luz"), not a negation of what follows.
_NEGATION = LanguagePatterns(
    {
        "en": r"\b(?:not|never|don'?t|do not|doesn'?t|didn'?t|won'?t|shouldn'?t)\b",
        "de": r"\b(?:nicht|nie|niemals|kein|keine|keinen)\b",
        "fr": r"\b(?:pas|jamais)\b",
        "es": r"\b(?:no(?!\s*,)|nunca|jamás)\b",
        "it": r"\b(?:non|mai)\b",
        "nl": r"\b(?:niet|nooit|geen)\b",
    }
)


def negated(text: str, language: str) -> bool:
    """Whether the request says not to do something (in its language; English elsewhere)."""
    return _NEGATION.search(text, language)
