"""A number about the home is said only when the home holds it.

In a real Home Assistant the packaged Qwens said thermostat targets and
temperatures they never read ("the thermostat is set to 100 degrees
Celsius"; it was 18). A clause that gives a number about the home (with a
unit of temperature or percentage, or naming one of its devices or areas)
is said only when that number is in the request or in a state rk-assist
read (or an attribute it keeps: a thermostat's target); otherwise it is not
said at all. Numbers about anything else (12 times 12, a year) are the
model's to say.

The same for a device's state in words ("La puerta principal está cerrada."
answered a question the model could not read the answer to): a clause that
names a device or area of the home and says, after a verb of being, one of
the states Home Assistant's own data lists for the language, is the model's
guess, never said: a state rk-assist read is said in Home Assistant's own
sentence instead.
"""

from __future__ import annotations

import functools
import re

from .model import Entity, Home, normalize
from .phrases import base_language
from .request_words import numbers_in, state_words

#: Units a number about the home comes with, in the six languages.
_HOME_UNITS = re.compile(
    r"°|%|\b(?:degrees?|celsius|fahrenheit|percent|grad|prozent|degr[ée]s?|pour ?cent"
    r"|grados?|por ?ciento|gradi|per ?cento|graden|procent)\b",
    re.IGNORECASE,
)


def _names_said(clause: str, home: Home) -> bool:
    """Whether the clause says a device's or an area's name in full."""
    if devices_named(clause, home):
        return True
    said = f" {normalize(clause)} "
    return any(
        f" {normalize(area.name)} " in said for area in home.areas.values() if normalize(area.name)
    )


def devices_named(text: str, home: Home) -> list[Entity]:
    """The devices of the home whose name (or alias) the text says in full."""
    said = f" {normalize(text)} "
    return [
        entity
        for entity in home.entities.values()
        if any(f" {normalize(name)} " in said for name in entity.names if normalize(name))
    ]


def unread_number(clause: str, request: str, home: Home, language: str = "en") -> bool:
    """Whether ``clause`` gives a number about the home that neither the request nor the
    home's states hold: a fact the model made up."""
    numbers = numbers_in(clause, language)
    if not numbers or not (_HOME_UNITS.search(clause) or _names_said(clause, home)):
        return False
    known = numbers_in(request, language)
    known |= {number for state in home.states.values() for number in numbers_in(state, language)}
    known |= {
        number
        for attributes in home.attributes.values()
        for value in attributes.values()
        for number in numbers_in(str(value), language)
    }
    return bool(numbers - known)


#: A verb of being, per language: what comes before a state said of a device.
_BEING = {
    "en": r"(?:is|are|was|were|'s|is now|are now|is still|are still)",
    "de": r"(?:ist|sind|war|waren|ist jetzt|sind jetzt|ist noch|sind noch)",
    "fr": r"(?:est|sont|était|étaient|est maintenant|est toujours)",
    "es": r"(?:está|están|es|son|estaba|estaban|sigue|siguen)",
    "it": r"(?:è|sono|era|erano|resta|restano)",
    "nl": r"(?:is|zijn|was|waren|staat|staan|is nu|staat nu)",
}


def unread_state(clause: str, home: Home, language: str = "en") -> bool:
    """Whether ``clause`` says a device of the home is in a state (on, closed, locked...):
    the model's words hold no state it read (its prompt has none)."""
    if not _names_said(clause, home):
        return False
    pattern = _state_said(base_language(language))
    said = " ".join(clause.lower().replace("’", "'").split())
    return pattern is not None and pattern.search(said) is not None


@functools.cache
def _state_said(code: str) -> re.Pattern[str] | None:
    """A verb of being, then (a word later at most) a state, in the language."""
    states = sorted(state_words(code), key=len, reverse=True)
    if not states:
        return None
    being = _BEING.get(code, _BEING["en"])
    alternatives = "|".join(re.escape(state) for state in states)
    return re.compile(rf"\b{being}\s+(?:\w+\s+)?(?:{alternatives})\b")
