""" "Now turn it off": a follow-up that refers to the device of the turn before.

Seen on every door of a real Home Assistant: "turn on the bed light", then
"now turn it off" in the same conversation changed nothing (and once said
"Turned off the light"). Home Assistant's sentences read a request that
names its device; here the word that refers to it ("it", "es", "hem", the
"-le" of "éteins-le", the "-lo" of "apágalo" and "spegnilo") is replaced by
the device's name, and the request is read again. Only one device, never a
sensitive one (a lock is named plainly, every time), and only when the
request as said was not understood already.
"""

from __future__ import annotations

import re
import unicodedata

from .phrases import base_language

#: A word that stands for one device, as a whole word, per language.
_PRONOUN = {
    "en": r"\b(?:it|that one|this one|that|this)\b",
    "de": r"\b(?:es|ihn|sie)\b",
    "nl": r"\b(?:het|hem|ze)\b",
}
#: An imperative with its object joined to it (French by a hyphen; Spanish, with the
#: accent the joined form takes; Italian): the verb, then the pronoun.
_JOINED = {
    "fr": r"\b(\w+)-(?:le|la|les)\b",
    "es": r"\b(\w*[áéíóú]\w*?)(?:lo|la|los|las)\b",
    "it": r"\b(\w{3,}?[aei])(?:lo|la|li|le)\b",
}


#: Words a follow-up carries that Home Assistant's sentences do not ("now turn it off
#: again"): they change nothing in what is asked, so they go with the pronoun.
_FOLLOW_UP_WORDS = {
    "en": r"\b(?:now|again|then|also|too|as well|just|and)\b",
    "de": r"\b(?:jetzt|nun|wieder|auch|dann|mal|noch|und)\b",
    "fr": r"\b(?:maintenant|aussi|encore|alors|et)\b",
    "es": r"\b(?:ahora|ya|también|otra vez|de nuevo|y)\b",
    "it": r"\b(?:ora|adesso|anche|di nuovo|ancora|e)\b",
    "nl": r"\b(?:nu|ook|weer|maar|even|dan|en)\b",
}


#: A verb's "again" prefix, per language ("rallume" is "allume" again, "riaccendi"
#: "accendi"), and English's "back" ("turn it back on").
_AGAIN = {
    "en": (r"\bback\b", ""),
    "fr": (r"^(?:ré|re|r)(?=[aeiouéè])", ""),
    "it": (r"^ri(?=[aeiou])", ""),
}


def with_device(text: str, language: str, name: str) -> list[str]:
    """``text`` with its word for the device replaced by ``name``, as Home Assistant's
    sentences may read it (first as said, then without an "again" prefix); [] if it
    has no such word."""
    code = base_language(language)
    replaced = _replaced(text, code, name)
    if replaced is None:
        return []
    fillers = _FOLLOW_UP_WORDS.get(code)
    if fillers is not None:
        replaced = re.sub(fillers, " ", replaced, flags=re.IGNORECASE)
    readings = [" ".join(replaced.split())]
    again = _AGAIN.get(code)
    if again is not None:
        plain = re.sub(again[0], again[1], readings[0].strip(), count=1, flags=re.IGNORECASE)
        plain = " ".join(plain.split())
        if plain and plain != readings[0]:
            readings.append(plain[0].upper() + plain[1:] if readings[0][:1].isupper() else plain)
    return [reading for reading in readings if reading]


def _replaced(text: str, code: str, name: str) -> str | None:
    pronoun = _PRONOUN.get(code)
    if pronoun is not None:
        replaced, count = re.subn(pronoun, name, text, count=1, flags=re.IGNORECASE)
        return replaced if count else None
    joined = _JOINED.get(code)
    if joined is None:
        return None

    def verb(match: re.Match[str]) -> str:
        alone = _unaccented(match.group(1)) if code == "es" else match.group(1)
        return f"{alone} {name}"

    replaced, count = re.subn(joined, verb, text, count=1, flags=re.IGNORECASE)
    return replaced if count else None


def _unaccented(verb: str) -> str:
    """The Spanish verb as it is written alone ("apága" -> "apaga"): the accent came
    with the pronoun joined to it."""
    return "".join(c for c in unicodedata.normalize("NFD", verb) if unicodedata.category(c) != "Mn")
