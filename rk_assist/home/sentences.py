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
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hassil import Intents, recognize_all, recognize_best
from hassil.expression import TextChunk
from hassil.intents import TextSlotList, TextSlotValue
from home_assistant_intents import get_intents

from .intents import STATE_INTENTS
from .model import Entity, Home, normalize
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
    result = _media_without_target(text, language)
    return result.intent.name if result is not None else None


def _media_without_target(text: str, language: str) -> Any:
    """hassil's reading of a media request that names no player, or None."""
    intents = sentences_of(language, tuple(sorted(MEDIA_INTENTS)))
    if intents is None:
        return None
    return recognize_best(text, intents, slot_lists=_NO_TARGETS, language=intents.language)


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
        if result is None and here is None:
            # "turn the volume down to 30%": Home Assistant's sentences for it ask for the
            # satellite's area; with none known, the player in use (``resolve``).
            result = _media_without_target(text, language)
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
    if "item" in slots and isinstance(slots["item"], str):
        slots["item"] = list_item(slots["item"], result.intent.name, language)
    if result.intent.name == "HassShoppingListAddItem" and (listed := _list_said(text, home)):
        # "la lista de la compra" read as Home Assistant's shopping list, where the home
        # has a to-do list of that name: the item goes on that list.
        return Understood("HassListAddItem", {**slots, "name": listed.name}, named=True)
    return Understood(result.intent.name, slots, named="name" in slots)


#: A word that differs from one of the sentences' words by its ending only ("meinen",
#: "meiner") shares at least this many first letters with it.
_STEM = 5
_LETTERS = re.compile(r"[^\W\d_]+")
_RULE = re.compile(r"<([^<>]+)>")
_SLOT = re.compile(r"\{[^{}]*\}")


@functools.cache
def _sentence_words(language: str, intent: str) -> frozenset[str]:
    """The words Home Assistant's sentences of an intent are written with, its rules' too."""
    found = language_data(language)
    if found is None:
        return frozenset()
    data = found[1]
    rules = data.get("expansion_rules", {})
    texts = [
        s for block in data["intents"].get(intent, {}).get("data", []) for s in block["sentences"]
    ]
    seen: set[str] = set()
    words: set[str] = set()
    while texts:
        text = texts.pop()
        for rule in _RULE.findall(text):
            if rule not in seen and rule in rules:
                seen.add(rule)
                texts.append(rules[rule])
        words.update(w.lower() for w in _LETTERS.findall(_SLOT.sub(" ", _RULE.sub(" ", text))))
    return frozenset(words)


def list_item(item: str, intent: str, language: str) -> str:
    """An item as read without the sentence's own words it swallowed at its end.

    Home Assistant's sentences take any words for an item, so where the request says the
    list with a word the sentences lack ("zu meinen Aufgaben": they know "meiner"), the
    words before the list's name end the item ("Steuererklärung zu meinen").
    """
    own = _sentence_words(language, intent)
    words = item.split()
    while len(words) > 1:
        last = words[-1].lower()
        if last in own or (len(last) >= _STEM and any(w.startswith(last[:_STEM]) for w in own)):
            words.pop()
            continue
        break
    return " ".join(words)


#: The words Home Assistant's sentences put before a list's name are short ("à la", "mi").
_SHORT = 3


def with_list_said_plainly(text: str, language: str, home: Home) -> Iterator[str]:
    """The request with the word before a to-do list's name that Home Assistant's sentences
    lack ("à mes tâches", "a mis tareas", "alle mie attività") left out, or put as they
    say it ("à la tâches"): read so, the item goes on the list named."""
    listed = _list_said(text, home)
    if listed is None:
        return
    own = _sentence_words(language, "HassListAddItem")
    words = text.split()
    spoken = [normalize(name).split() for name in listed.names]
    for at in range(1, len(words)):
        rest = normalize(" ".join(words[at:])).split()
        if not any(rest[: len(name)] == name for name in spoken):
            continue
        before = words[at - 1].lower()
        if before in own:
            continue
        yield " ".join(words[: at - 1] + words[at:])
        for word in sorted(w for w in own if len(w) <= _SHORT):
            yield " ".join([*words[: at - 1], word, *words[at:]])


def _list_said(text: str, home: Home) -> Entity | None:
    """The one to-do list of the home whose name the request says."""
    said = f" {normalize(text)} "
    lists = [
        entity
        for entity in home.entities.values()
        if entity.domain == "todo" and any(f" {normalize(n)} " in said for n in entity.names)
    ]
    return lists[0] if len(lists) == 1 else None


#: The orders whose object is a device by name: where an unknown name is said back.
_DEVICE_ORDERS = ("HassTurnOn", "HassTurnOff", "HassToggle")


def name_not_in_home(text: str, language: str, home: Home) -> str | None:
    """The device name an order gives that the home has no device, area or floor called
    ("start the 3d printer", "Apri la porta della cantina"), or None.

    Home Assistant's own agent answers such an order "no device called ..." by
    matching its sentences with the name left open; so is it read here, with the
    shortest name any on/off sentence leaves (the verb and the article are the
    sentence's). A sentence whose open name is the whole request read nothing.
    Milliseconds: run it off the event loop.
    """
    intents = sentences_of(language, _DEVICE_ORDERS)
    if intents is None or not home.entities:
        return None
    # Words the sentences skip ("please", "bitte", "por favor") are nobody's name, and
    # the request without them is not one either ("Desbloquea por favor").
    skipped = {normalize(word) for word in intents.skip_words}
    whole = normalize(text)
    bare = f" {whole} "
    for word in sorted(skipped, key=len, reverse=True):
        bare = bare.replace(f" {word} ", " ")
    bare = bare.strip()
    names = set()
    try:
        for result in recognize_all(
            text,
            intents,
            slot_lists=_home_lists(home),
            language=intents.language,
            allow_unmatched_entities=True,
        ):
            if not result.unmatched_entities and "name" in result.entities:
                return None  # read whole, with a device the home has
            if set(result.unmatched_entities) != {"name"} or result.entities:
                continue  # (read whole without a name: "open the garage window")
            name = result.unmatched_entities["name"].text.strip(" ,.!?¿¡")
            if (
                name
                and normalize(name) not in (whole, bare, *skipped)
                and len(name.split()) <= _MOST_NAME_WORDS
                and not _QUANTITY.search(name)
            ):
                names.add(name)
    except Exception as err:  # hassil is not ours: a failure means "not read"
        _LOGGER.warning("Home Assistant's sentences could not be matched: %s", err)
        return None
    if not names:
        return None
    name = min(names, key=len)
    # A name that holds a device's name is that device said with a word too many ("shut
    # off the printer", "turn of the studio light"), not a device the home lacks.
    said = f" {normalize(name)} "
    if any(f" {normalize(n)} " in said for e in home.entities.values() for n in e.names):
        return None
    known = {normalize(n) for e in home.entities.values() for n in e.names}
    known |= {normalize(n) for a in home.areas.values() for n in (a.name, *a.aliases)}
    known |= {normalize(n) for f in home.floors.values() for n in (f.name, *f.aliases)}
    return None if normalize(name) in known else name


#: More words than a device's name has: a sentence that left a clause open, not a name.
_MOST_NAME_WORDS = 4
#: A number and the word it counts ("un minuteur de 5 minutes"): a quantity, not a name
#: ("3d printer" is one).
_QUANTITY = re.compile(r"\d+(?:[.,]\d+)?\s+\w")


def near_miss(text: str, language: str, home: Home) -> str | None:
    """The request with a name speech-to-text got one letter wrong ("the tower fun",
    "die Stehlampo") put right, where exactly one device of the home is that close and
    it is not a lock, door or gate (those are named plainly); else None."""
    said = name_not_in_home(text, language, home)
    if said is None:
        return None
    wrong = normalize(said)
    close = {
        entity.entity_id: name
        for entity in home.entities.values()
        for name in entity.names
        if _one_edit(wrong, normalize(name))
    }
    if len(close) != 1:
        return None
    entity_id, name = next(iter(close.items()))
    if home.entities[entity_id].sensitive:
        return None
    start = text.lower().find(said.lower())
    if start < 0:
        return None
    return text[:start] + name + text[start + len(said) :]


def _one_edit(a: str, b: str) -> bool:
    """Whether two names differ by one letter put in, left out or changed (not both
    short: "fan" and "fun" are a name apart only inside a longer one)."""
    if a == b or abs(len(a) - len(b)) > 1 or min(len(a), len(b)) < _SHORTEST_NEAR:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


#: Names shorter than this are too short to put right by one letter.
_SHORTEST_NEAR = 6
