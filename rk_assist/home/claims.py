"""A sentence that says something was done, where nothing was.

In a real Home Assistant the model said "Turned off the light" when no call
was made (its words came instead of the call), and "Done:" with no change. A
confirmation is Home Assistant's sentence for an action that happened, never
the model's; this tells the model's words that read as one, in the request's
language, from Home Assistant's own response sentences for actions.
"""

from __future__ import annotations

import functools
import re

from .model import normalize
from .responses import templates_of

#: The intents whose sentences confirm a change.
ACTION_INTENTS = (
    "HassTurnOn",
    "HassTurnOff",
    "HassLightSet",
    "HassSetPosition",
    "HassClimateSetTemperature",
    "HassFanSetSpeed",
    "HassSetVolume",
    "HassMediaPause",
    "HassMediaUnpause",
    "HassMediaNext",
    "HassMediaPrevious",
    "HassVacuumStart",
    "HassVacuumReturnToBase",
    "HassStartTimer",
    "HassListAddItem",
    "HassShoppingListAddItem",
)
#: "Done", as rk-assist's own history wrote an action ("Done: HassTurnOn ...") and a small
#: model then says it back with nothing done.
_DONE = frozenset(("done", "erledigt", "fait", "hecho", "fatto", "klaar", "gedaan"))
_TEMPLATE_CODE = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.DOTALL)


@functools.cache
def _confirmations(language: str) -> tuple[frozenset[str], frozenset[str]]:
    """The words each action sentence opens with (its first literal run), in two sets: runs
    of several words, and single words (which count only at a clause's start or end)."""
    several, single = set(), set()
    for intent in ACTION_INTENTS:
        for template in templates_of(intent, language).values():
            runs = [normalize(part) for part in _TEMPLATE_CODE.split(template)]
            first = next((run for run in runs if run), "")
            if not any(len(word) >= 4 for word in first.split()):
                continue
            (several if " " in first else single).add(first)
    return frozenset(several), frozenset(single)


def claims_action(clause: str, language: str) -> bool:
    """Whether the clause reads as Home Assistant's confirmation of an action."""
    said = normalize(clause)
    if not said:
        return False
    several, single = _confirmations(language)
    padded = f" {said} "
    if any(f" {run} " in padded for run in several):
        return True
    words = said.split()
    return words[0] in single or words[-1] in single or said in _DONE
