"""An order to open or unlock that names no lock, door or gate plainly.

"unlock the door", "Abre la puerta", "Mach sie auf", "open it": the model
answered nothing, or "no device called Door", where the right answer is the
question to name the device plainly (the sensitive rule: a lock, a door or
a gate is acted on only when named). The verbs of locking and opening and
the words for doors, gates and "everything" are listed per language, as
``negation`` lists its words; with no such order the rules of the home
decide as before.
"""

from __future__ import annotations

from .phrases import LanguagePatterns

_ORDER = LanguagePatterns(
    {
        "en": r"\b(?:un)?lock\b|\blet me in\b"
        r"|\bopen\b.*\b(?:doors?|gates?|garage|entrance|everything|all|it|them)\b",
        "de": r"\b(?:entrieg\w*|verrieg\w*|aufschließ\w*|abschließ\w*|aufsperr\w*)\b"
        r"|\bschließ\w*\b.*\bauf\b|\bsperr\w*\b.*\bauf\b"
        r"|\b(?:mach\w*|öffne\w*)\b.*\b(?:\w*tür\w*|\w*tor|\w*tore|alles|sie|schloss)\b",
        "fr": r"\b(?:déverrouill\w*|verrouill\w*)\b|\bouvre-(?:la|le|les)\b"
        r"|\bouvr\w*\b.*\b(?:portes?|portails?|garage|tout|toutes|serrures?)\b",
        "es": r"\b(?:desbloque\w*|bloque\w*|echa la llave)\b|\bábrel[ao]s?\b"
        r"|\babr\w*\b.*\b(?:puertas?|portón|garaje|todo|cerradura)\b",
        "it": r"\b(?:sblocc\w*|blocc\w*)\b|\bapril[aeio]\b"
        r"|\bapr\w*\b.*\b(?:port[ae]|cancell[oi]|garage|tutto)\b",
        "nl": r"\b(?:ontgrendel\w*|vergrendel\w*)\b"
        r"|\b(?:doe|open|maak)\b.*\b(?:deur\w*|poort\w*|garage\w*|alles|hem|het)\b",
    }
)


def sensitive_order(text: str, language: str) -> bool:
    """Whether the request orders something opened or unlocked (a door, a gate, a lock)."""
    return _ORDER.search(text, language)
