"""From the model's tool calls to actions Home Assistant may carry out.

Home Assistant does not check exposure for intents a Wyoming service sends,
so this is where exposure is enforced: every action names exactly one
exposed entity by its entity_id, a call that targets a whole area or floor
is expanded into one action per exposed entity there, and a target that is
not in the exposed picture is never acted on. A missing required slot or a
name that fits several devices becomes a question back to the user.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..output.calls import ToolCall
from ..output.speech import without_notation
from . import phrases
from .intents import BY_NAME, INTEGER, NUMBER, PERCENT, STEP, IntentSpec
from .model import Entity, Home, normalize
from .phrases import phrase
from .request_words import color_value

_LOGGER = logging.getLogger(__name__)

_QUESTIONS = {
    "temperature": phrases.ASK_TEMPERATURE,
    "position": phrases.ASK_POSITION,
    "percentage": phrases.ASK_PERCENTAGE,
    "volume_level": phrases.ASK_VOLUME,
    "volume_step": phrases.ASK_VOLUME_STEP,
    "item": phrases.ASK_ITEM,
}


@dataclass(frozen=True)
class Action:
    intent: str
    slots: dict[str, Any]
    entity_id: str | None = None  # None for intents without a device (timers, lists)
    #: The attribute a state read answers with ("temperature": a thermostat's target);
    #: "" for the state itself. Never sent: it chooses the sentence said.
    reads: str = ""


class Reason(StrEnum):
    """Why a call was not carried out, in the spirit of Home Assistant's MatchFailedReason."""

    UNKNOWN_INTENT = "unknown_intent"
    NAME = "name"  # no exposed device is called that
    AREA = "area"  # no area is called that
    FLOOR = "floor"  # no floor is called that
    INVALID_SLOT = "invalid_slot"  # a value that cannot be used (not a number, out of range)
    NOTHING_THERE = "nothing_there"  # nothing of that kind in the place named


class Question(StrEnum):
    """What a question back asks for: the reply's kind a listener (and the eval) tells apart."""

    WHICH = "which one"  # the request fits several devices, or names none
    VALUE = "ask value"  # a value the intent needs was not said
    SENSITIVE = "sensitive question"  # a lock, door or gate the request does not name plainly


@dataclass(frozen=True)
class Ask:
    """A question back to the user: the request is incomplete or fits several devices."""

    text: str
    kind: Question = Question.VALUE


@dataclass(frozen=True)
class Refuse:
    """Nothing was done, with the reason and the sentence that says so."""

    reason: Reason
    text: str
    #: Home Assistant's own error for it (``responses.errors`` of home-assistant-intents)
    #: and that template's values, for the sentence in other languages.
    error: str = ""
    values: tuple[tuple[str, str], ...] = ()


Resolved = list[Action] | Ask | Refuse


@dataclass
class Outcome:
    actions: list[Action] = field(default_factory=list)
    question: str | None = None  # to ask the user back, instead of acting
    question_kind: Question | None = None  # what ``question`` asks for
    refusals: list[str] = field(default_factory=list)  # spoken reasons nothing was done
    reasons: list[Reason] = field(default_factory=list)  # the same, typed, one per refusal
    #: Home Assistant's error for each refusal, with its values ("" when it has none).
    errors: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    executed: bool = False  # carried out by rk-assist itself (services mode)


def resolve_calls(calls: list[ToolCall], home: Home, language: str = "en") -> Outcome:
    """What the calls come to in ``home``; questions and refusals in ``language``."""
    outcome = Outcome()
    for call in calls:
        spec = BY_NAME.get(call.name)
        if spec is None:
            _LOGGER.info("No intent %s here", call.name)
            outcome.refusals.append(phrase(phrases.CANNOT_DO, language))
            outcome.reasons.append(Reason.UNKNOWN_INTENT)
            continue
        spec, arguments = _repaired(spec, call.arguments, home)
        result = _resolve_one(spec, arguments, home, language)
        if isinstance(result, Ask):
            if not outcome.question:
                outcome.question, outcome.question_kind = result.text, result.kind
        elif isinstance(result, Refuse):
            outcome.refusals.append(result.text)
            outcome.reasons.append(result.reason)
            outcome.errors.append((result.error, dict(result.values)))
        else:
            outcome.actions.extend(result)
    if outcome.question:
        outcome.actions = []  # ask first; act once the request is complete
    return outcome


# Each domain sets its one number through its own intent (Home Assistant's design).
SETTER_OF_DOMAIN = {
    "light": ("HassLightSet", "brightness"),
    "cover": ("HassSetPosition", "position"),
    "valve": ("HassSetPosition", "position"),
    "fan": ("HassFanSetSpeed", "percentage"),
    "media_player": ("HassSetVolume", "volume_level"),
    "climate": ("HassClimateSetTemperature", "temperature"),
}
_SETTERS = {intent: slot for intent, slot in SETTER_OF_DOMAIN.values()}


def _repaired(
    spec: IntentSpec, arguments: dict[str, Any], home: Home
) -> tuple[IntentSpec, dict[str, Any]]:
    """Two slips of small models that the device itself settles.

    A number sent through another domain's setter ("brightness 50" for a
    fan) goes through the named device's own setter; an area written in the
    name slot, with a domain to narrow it ("Kitchen", "light"), is an area.
    Anything less clear is left as it is, to be refused or asked about.
    """
    name = _text(arguments.get("name"))
    if not name or spec.domains is None:
        return spec, arguments
    matches = home.find_entities(name)
    if not matches:
        if arguments.get("domain") and not arguments.get("area") and home.find_area(name):
            moved = {k: v for k, v in arguments.items() if k != "name"}
            return spec, {**moved, "area": name}
        return spec, arguments
    domains = {entity.domain for entity in matches}
    value_slot = _SETTERS.get(spec.name)
    if len(domains) != 1 or domains & spec.domains or arguments.get(value_slot) is None:
        return spec, arguments
    setter = SETTER_OF_DOMAIN.get(next(iter(domains)))
    if setter is None:
        return spec, arguments
    intent, slot = setter
    _LOGGER.info("%s on %s: using %s", spec.name, name, intent)
    return BY_NAME[intent], {"name": name, slot: arguments[value_slot]}


class _UnusableSlot(ValueError):
    """A slot value that cannot be used; its phrase is said to the user."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.values = values


def _resolve_one(
    spec: IntentSpec, arguments: dict[str, Any], home: Home, language: str
) -> Resolved:
    extra: dict[str, Any] = {}
    for slot, kind in spec.slots.items():
        if slot in arguments and arguments[slot] not in (None, ""):
            try:
                extra[slot] = _check_slot(slot, kind, arguments[slot])
                if slot == "color" and isinstance(extra[slot], str):
                    extra[slot] = color_value(extra[slot], language)
            except _UnusableSlot as err:
                return Refuse(Reason.INVALID_SLOT, phrase(*err.args, language, **err.values))
    missing = [slot for slot in spec.required if slot not in extra]
    if spec.required_any and not any(slot in extra for slot in spec.required_any):
        asked = phrases.ASK_DURATION if "minutes" in spec.required_any else phrases.ASK_SETTING
        return Ask(phrase(asked, language))
    if missing:
        return Ask(phrase(_QUESTIONS.get(missing[0], phrases.ASK_VALUE), language))
    if not spec.targets:
        return [Action(spec.name, extra)]
    entities = _targets(spec, arguments, home, language)
    if isinstance(entities, Ask | Refuse):
        return entities
    return [Action(spec.name, {"name": e.entity_id, **extra}, e.entity_id) for e in entities]


def _targets(
    spec: IntentSpec, arguments: dict[str, Any], home: Home, language: str
) -> list[Entity] | Ask | Refuse:
    name = _text(arguments.get("name"))
    area_name, floor_name = _text(arguments.get("area")), _text(arguments.get("floor"))
    domain = _text(arguments.get("domain"))
    device_class = _text(arguments.get("device_class"))
    pool = [e for e in home.entities.values() if spec.domains is None or e.domain in spec.domains]
    if domain:
        pool = [e for e in pool if e.domain == normalize(domain).replace(" ", "_")]
    if device_class and any(e.device_class == device_class for e in home.entities.values()):
        pool = [e for e in pool if e.device_class == device_class]
    elif device_class:
        # No device of the home is of that class: a model's slip (seen: "media_player", a
        # domain, as the class of "resume playback in the bedroom"), not a narrowing.
        _LOGGER.info("No device is of the class %r: the class is left out", device_class)
    in_place = _in_place(home, pool, area_name, floor_name, language)
    if isinstance(in_place, Refuse):
        return in_place
    if name and normalize(name) != "all":
        return _by_name(home, name, pool, in_place, bool(area_name or floor_name), language)
    if not (area_name or floor_name or domain):
        return _player_in_use(spec, pool, home) or Ask(
            phrase(phrases.WHICH_DEVICE, language), Question.WHICH
        )
    one_kind = spec.domains is not None and len(spec.domains) == 1
    if not (domain or device_class or one_kind or normalize(name) == "all"):
        # An area alone would act on everything in it: the kettle with the lights.
        # Home Assistant's convention for "everything" is the name "all". An intent
        # for one kind of device ("the temperature in the living room") says the kind.
        place = area_name or floor_name
        return Ask(phrase(phrases.WHICH_DEVICES_IN, language, place=place), Question.WHICH)
    if not in_place:
        where = area_name or floor_name or "the home"
        only = spec.domains if spec.domains and len(spec.domains) == 1 else ()
        kind = domain or next(iter(only), "")
        error, values = "no_domain", (("domain", kind),)
        if area_name or floor_name:
            place = ("area", area_name) if area_name else ("floor", floor_name)
            error, values = f"no_domain_in_{place[0]}", (*values, place)
        return Refuse(
            Reason.NOTHING_THERE,
            phrase(phrases.NOTHING_THERE, language, where=where),
            error if kind else "",
            values,
        )
    return in_place


def _player_in_use(spec: IntentSpec, pool: list[Entity], home: Home) -> list[Entity] | None:
    """A media request that names no player ("pause the music") is for the one playing
    (to resume: the one paused), as Home Assistant's own agent takes it; or for the only
    player there is. Several at once, or none: None, and the user is asked."""
    if spec.domains != frozenset({"media_player"}):
        return None
    wanted = "paused" if spec.name == "HassMediaUnpause" else "playing"
    in_use = [entity for entity in pool if home.states.get(entity.entity_id) == wanted]
    if len(in_use) == 1:
        return in_use
    return pool if len(pool) == 1 and not in_use else None


def _in_place(
    home: Home, pool: list[Entity], area_name: str, floor_name: str, language: str
) -> list[Entity] | Refuse:
    """The entities of the pool in the named area and on the named floor (either may be "")."""
    if area_name:
        areas = home.find_area(area_name)
        if not areas:
            return Refuse(
                Reason.AREA,
                phrase(phrases.NO_AREA, language, area=area_name),
                "no_area",
                (("area", area_name),),
            )
        area_ids = {a.area_id for a in areas}
        pool = [e for e in pool if e.area_id in area_ids]
    if floor_name:
        floors = home.find_floor(floor_name)
        if not floors:
            return Refuse(
                Reason.FLOOR,
                phrase(phrases.NO_FLOOR, language, floor=floor_name),
                "no_floor",
                (("floor", floor_name),),
            )
        floor_ids = {f.floor_id for f in floors}
        pool = [
            e for e in pool if (area := home.area_of(e)) is not None and area.floor_id in floor_ids
        ]
    return pool


def _by_name(
    home: Home, name: str, pool: list[Entity], in_place: list[Entity], placed: bool, language: str
) -> list[Entity] | Ask | Refuse:
    """The devices called ``name``: in the place said, else anywhere; one, or a question."""
    matches = home.find_entities(name, in_place)
    if not matches and placed:
        # "the kitchen light" said with the area in its name: try the whole home.
        matches = home.find_entities(name, pool)
    if not matches:
        # A model may write a name as an id: say it as words ("car charger").
        spoken = name.rpartition(".")[2] if re.fullmatch(r"[a-z_]+\.\w+", name) else name
        spoken = without_notation(spoken.replace("_", " "))
        return Refuse(
            Reason.NAME,
            phrase(phrases.NO_DEVICE, language, name=spoken),
            "no_entity",
            (("entity", spoken),),
        )
    if len(matches) > 1 and not placed:
        places = [home.area_of(m).name if home.area_of(m) else m.entity_id for m in matches]
        joined = f" {phrase(phrases.OR, language)} ".join(places)
        return Ask(
            phrase(phrases.WHICH_OF_NAME, language, name=name, places=joined), Question.WHICH
        )
    return matches


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


_RANGES = {PERCENT: (0, 100), STEP: (-100, 100)}


def _check_slot(slot: str, kind: str, value: Any) -> Any:
    if kind == STEP and isinstance(value, str) and value.strip().lower() in ("up", "down"):
        return value.strip().lower()
    if kind in (INTEGER, NUMBER, PERCENT, STEP):
        try:
            number = float(str(value).strip().rstrip("%"))
        except ValueError:
            raise _UnusableSlot(phrases.NOT_A_NUMBER) from None
        low, high = _RANGES.get(kind, (None, None))
        if (low is not None and number < low) or (high is not None and number > high):
            raise _UnusableSlot(phrases.OUT_OF_RANGE, low=low, high=high)
        return int(number) if kind != NUMBER or number.is_integer() else number
    return str(value)
