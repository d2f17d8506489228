"""Home Assistant's own request sentences (home-assistant-intents), matched with hassil.

Telling "pause the music" (no device: the player that is playing) from
"pause the kitchen speaker" (a device, which must exist), or "the lights in
the living room" (an area and a kind) from a device called "Living Room",
is language knowledge. Home Assistant's sentence templates hold it for 60+
languages, so rk-assist asks them rather than keeping word lists of its own.

A request those sentences match is understood as Home Assistant's own agent
would understand it, in milliseconds and without the model; the model
answers everything else.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from typing import Any

from hassil import Intents, recognize_best
from hassil.expression import TextChunk
from hassil.intents import TextSlotList, TextSlotValue
from home_assistant_intents import get_intents

from .intents import STATE_INTENTS
from .model import Home
from .negation import negated
from .statements import tells

_LOGGER = logging.getLogger(__name__)

#: Intents Home Assistant carries out on the player in use when no target is named.
MEDIA_INTENTS = frozenset(
    {
        "HassMediaPause",
        "HassMediaUnpause",
        "HassMediaNext",
        "HassMediaPrevious",
        "HassSetVolume",
        "HassSetVolumeRelative",
        "HassMediaPlayerMute",
        "HassMediaPlayerUnmute",
    }
)
#: Media transport intents, told apart by their verbs.
TRANSPORT_INTENTS = ("HassMediaPause", "HassMediaUnpause", "HassMediaNext", "HassMediaPrevious")
# Target lists left empty: a sentence that needs a device, area or floor cannot match.
_NO_TARGETS = {name: TextSlotList(name=name, values=[]) for name in ("name", "area", "floor")}


def language_data(language: str) -> tuple[str, dict] | None:
    """Home Assistant's data for a language tag ("de-DE" falls back to "de")."""
    for tag in (language, language.replace("_", "-").split("-")[0]):
        data = get_intents(tag)
        if data is not None:
            return tag, data
    return None


@functools.cache
def sentences_of(language: str, names: tuple[str, ...]) -> Intents | None:
    """Home Assistant's sentences of these intents in a language, judged by their words alone."""
    found = language_data(language)
    if found is None:
        return None
    tag, data = found
    intents = {
        name: {
            # Home Assistant asks the satellite's area of some of these; a
            # request's words alone are what is judged here.
            "data": [
                {
                    k: v
                    for k, v in block.items()
                    if k not in ("requires_context", "excludes_context")
                }
                for block in data["intents"][name]["data"]
            ]
        }
        for name in names
        if name in data["intents"]
    }
    return Intents.from_dict(
        {
            "language": tag,
            "intents": intents,
            "lists": data.get("lists", {}),
            "expansion_rules": data.get("expansion_rules", {}),
            "skip_words": data.get("skip_words", []),
        }
    )


def media_request_without_target(text: str, language: str) -> str | None:
    """The media intent of a request that names no device, area or floor ("pause the music").

    None when Home Assistant's sentences for the language do not read it so.
    Takes milliseconds once the language is loaded (up to ~0.1 s the first time).
    """
    intents = sentences_of(language, tuple(sorted(MEDIA_INTENTS)))
    if intents is None:
        return None
    result = recognize_best(text, intents, slot_lists=_NO_TARGETS, language=intents.language)
    return result.intent.name if result is not None else None


@dataclass(frozen=True)
class Understood:
    """A request Home Assistant's sentences match: its intent and slots, names as spoken."""

    intent: str
    slots: dict[str, Any]
    #: The sentence named a device (not only an area, a floor or a kind of device).
    named: bool


def load_sentences(languages: tuple[str, ...]) -> None:
    """Load the sentences of these languages now (a fraction of a second each)."""
    for language in languages:
        _all_sentences(language)


@functools.cache
def _all_sentences(language: str) -> Intents | None:
    found = language_data(language)
    if found is None:
        return None
    tag, data = found
    return Intents.from_dict({**data, "language": tag})


_LISTS_LOCK = threading.Lock()
_lists_memo: tuple[Home, dict[str, TextSlotList]] | None = None


def _home_lists(home: Home) -> dict[str, TextSlotList]:
    """The home's names, areas and floors as Home Assistant's agent lists them.

    Each name carries its device's domain and class as context, which the
    sentences ask for ("lock {name}" only for a lock). Built once per home.
    """
    global _lists_memo
    with _LISTS_LOCK:
        if _lists_memo is not None and _lists_memo[0] is home:
            return _lists_memo[1]
        names = []
        for entity in home.entities.values():
            context = {"domain": entity.domain}
            if entity.device_class:
                context["device_class"] = entity.device_class
            for spoken in entity.names:
                names.append(
                    TextSlotValue(TextChunk(spoken), value_out=entity.name, context=context)
                )
        areas = [
            TextSlotValue(TextChunk(spoken), value_out=area.name)
            for area in home.areas.values()
            for spoken in (area.name, *area.aliases)
        ]
        floors = [
            TextSlotValue(TextChunk(spoken), value_out=floor.name)
            for floor in home.floors.values()
            for spoken in (floor.name, *floor.aliases)
        ]
        lists = {
            "name": TextSlotList(name="name", values=names),
            "area": TextSlotList(name="area", values=areas),
            "floor": TextSlotList(name="floor", values=floors),
        }
        _lists_memo = (home, lists)
        return lists


def understand(text: str, language: str, home: Home, here: str | None = None) -> Understood | None:
    """What Home Assistant's own sentences make of a request in this home, or None.

    ``here``: the name of the area the request was heard in (the satellite's), which
    Home Assistant's sentences take for a request that names a kind but no place
    ("turn off the light"), as its own agent does.
    Takes milliseconds to tens of milliseconds (more on the first request in
    a language, which loads its sentences): run it off the event loop.
    """
    intents = _all_sentences(language)
    if intents is None or not home.entities:
        return None
    try:
        # A device's own name wins over an area of the same words, as in
        # Home Assistant's agent ("the kitchen light" is the Kitchen Light).
        result = recognize_best(
            text,
            intents,
            slot_lists=_home_lists(home),
            language=intents.language,
            best_slot_name="name",
            intent_context={"area": {"value": here, "text": here}} if here else None,
        )
    except Exception as err:  # hassil is not ours: a failure means "not understood"
        _LOGGER.warning("Home Assistant's sentences could not be matched: %s", err)
        return None
    if result is None:
        return None
    if result.intent.name not in STATE_INTENTS and (
        negated(text, language) or tells(text, language)
    ):
        _LOGGER.info("Not acting on a request that negates or tells: %r", text)
        return None
    slots = {name: entity.value for name, entity in result.entities.items()}
    return Understood(result.intent.name, slots, named="name" in slots)
