"""A number about the home is said only when the home holds it.

In a real Home Assistant the packaged Qwens said thermostat targets and
temperatures they never read ("the thermostat is set to 100 degrees
Celsius"; it was 18). A clause that gives a number about the home (with a
unit of temperature or percentage, or naming one of its devices or areas)
is said only when that number is in the request or in a state rk-assist
read; otherwise it is not said at all. Numbers about anything else (12
times 12, a year) are the model's to say.
"""

from __future__ import annotations

import re

from .model import Home, normalize
from .request_words import numbers_in

#: Units a number about the home comes with, in the six languages.
_HOME_UNITS = re.compile(
    r"°|%|\b(?:degrees?|celsius|fahrenheit|percent|grad|prozent|degr[ée]s?|pour ?cent"
    r"|grados?|por ?ciento|gradi|per ?cento|graden|procent)\b",
    re.IGNORECASE,
)


def _names_said(clause: str, home: Home) -> bool:
    said = f" {normalize(clause)} "
    names = [name for entity in home.entities.values() for name in entity.names]
    names += [area.name for area in home.areas.values()]
    return any(f" {normalize(name)} " in said for name in names if normalize(name))


def unread_number(clause: str, request: str, home: Home, language: str = "en") -> bool:
    """Whether ``clause`` gives a number about the home that neither the request nor the
    home's states hold: a fact the model made up."""
    numbers = numbers_in(clause, language)
    if not numbers or not (_HOME_UNITS.search(clause) or _names_said(clause, home)):
        return False
    known = numbers_in(request, language)
    known |= {number for state in home.states.values() for number in numbers_in(state, language)}
    return bool(numbers - known)
