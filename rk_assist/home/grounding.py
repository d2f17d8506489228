"""Act only on what the person mentioned.

A small model sometimes answers "thank you" or "good morning" with a call on
some device of the prompt's list. Home Assistant's own sentence matcher acts
only on a device whose name was said; the same rule, applied to the model's
calls, stops those turns from switching things: an action counts only when
a word of its device's name, an alias, or its area or floor was in the
request. Generic requests still work ("the lights" names every light), and
a call that names no device (timers, lists) is not concerned.
"""

from __future__ import annotations

from .model import Entity, Home, normalize
from .tool_calls import ToolCall

_NOT_NAMES = {
    "on", "off", "in", "to", "of", "and", "or", "for", "up", "down", "all", "is", "it",
    "turn", "switch", "set", "please", "can", "you", "me", "what", "s", "the", "a", "an", "my",
}  # fmt: skip


def _words(text: str) -> set[str]:
    words = set()
    for word in normalize(text).split():
        if word not in _NOT_NAMES:
            words.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return words


def _names_of(entity: Entity, home: Home) -> list[str]:
    names = list(entity.names)
    area = home.area_of(entity)
    if area is not None:
        names += [area.name, *area.aliases]
        floor = home.floors.get(area.floor_id) if area.floor_id else None
        if floor is not None:
            names += [floor.name, *floor.aliases]
    return names


def is_grounded(call: ToolCall, request: str, home: Home) -> bool:
    """Whether the call's target was mentioned: its own words, or its device's names and area."""
    targets = [
        value
        for key in ("name", "area", "floor")
        if isinstance(value := call.arguments.get(key), str)
    ]
    if not targets:
        return True
    texts = list(targets)
    name = call.arguments.get("name")
    if isinstance(name, str):
        for entity in home.find_entities(name):
            texts += _names_of(entity, home)
    said = _words(request)
    return any(_words(text) & said for text in texts)


# Words that name a kind of device ("the lights in the kitchen"). Verbs that are also
# nouns ("switch", "lock") are left out: "switch off the kitchen" names no kind.
_KIND_WORDS = {
    "light": "light", "lamp": "light",
    "blind": "cover", "curtain": "cover", "shade": "cover", "shutter": "cover",
    "fan": "fan", "speaker": "media_player", "tv": "media_player",
    "thermostat": "climate", "heating": "climate", "vacuum": "vacuum",
}  # fmt: skip


def narrowed(call: ToolCall, request: str, home: Home) -> ToolCall:
    """An area or floor call that names no device and no kind takes the kind the request says.

    "turn off the lights in the kitchen" written as ``{"area": "Kitchen"}``
    means the kitchen's lights, not its kettle. Where the request names no
    kind either, the call is left for the resolver to ask about.
    """
    arguments = call.arguments
    if (
        "name" in arguments
        or "domain" in arguments
        or not ("area" in arguments or "floor" in arguments)
    ):
        return call
    kinds = {_KIND_WORDS[w] for w in _words(request) if w in _KIND_WORDS} & home.domains
    if len(kinds) != 1:
        return call
    return ToolCall(call.name, {**arguments, "domain": kinds.pop()})
