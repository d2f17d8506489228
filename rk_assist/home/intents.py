"""Home Assistant's built-in intents as function tools for the model.

Only the intents that the exposed domains can use are offered, each with
only the slots that help it: every offered tool and slot costs prompt tokens
on every device of a small board, and every extra choice is one more way for
a small model to go wrong. The tools never list the home's names: the device
list in the prompt names each device once, and on the CPU the call grammar
(``call_grammar``) holds the names to the home's.

HassToggle is not offered: small models pick it for "turn on" and "close"
whatever its description says (measured with the 0.5B Qwen: 10 wrong on/off
turns out of 57 with it offered, 4 without), and a toggle turns a light that
is already on off. A request that says "toggle" gets it (``home.grounding``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .model import Home

# Slot kinds: how a value is written, shared by the tools' JSON schema and the grammar.
PERCENT = "percent"  # an integer 0..100
NUMBER = "number"
INTEGER = "integer"
TEXT = "text"
STEP = "step"  # "up", "down", or an integer -100..100

#: Intents that read the home and change nothing.
STATE_INTENTS = ("HassGetState", "HassClimateGetTemperature")


@dataclass(frozen=True)
class IntentSpec:
    name: str
    description: str
    domains: frozenset[str] | None  # None: not about devices
    #: Target slots in the order the model writes them: name, area, floor, domain.
    targets: tuple[str, ...] = ("name",)
    #: Extra slots and their kinds, in the order the model writes them.
    slots: dict[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    #: Offered to the model as a tool; False: carried out only when the request's words ask.
    offered: bool = True
    #: At least one of these slots must be given (a light set to nothing sets nothing).
    required_any: tuple[str, ...] = ()


_ON_OFF = frozenset(
    {
        "light",
        "switch",
        "fan",
        "cover",
        "lock",
        "media_player",
        "input_boolean",
        "climate",
        "vacuum",
        "scene",
        "script",
        "valve",
        "humidifier",
        "siren",
    }
)
_MEDIA = frozenset({"media_player"})
_AREA_TARGETS = ("name", "area", "floor", "domain")

INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec(
        "HassTurnOn",
        "Turn on, open or lock a device; start a scene or script",
        _ON_OFF,
        _AREA_TARGETS,
    ),
    IntentSpec("HassTurnOff", "Turn off, close or unlock a device", _ON_OFF, _AREA_TARGETS),
    IntentSpec("HassToggle", "Toggle a device", _ON_OFF, offered=False),
    IntentSpec("HassGetState", "Ask about a device's state or a sensor's value", None),
    IntentSpec(
        "HassLightSet",
        "Set a light's brightness or color",
        frozenset({"light"}),
        ("name", "area"),
        {"brightness": PERCENT, "color": TEXT},
        required_any=("brightness", "color"),
    ),
    IntentSpec(
        "HassClimateSetTemperature",
        "Set a thermostat's target temperature",
        frozenset({"climate"}),
        ("name", "area"),
        {"temperature": NUMBER},
        required=("temperature",),
    ),
    IntentSpec(
        "HassClimateGetTemperature",
        "Ask the temperature of a room or thermostat",
        frozenset({"climate"}),
        ("name", "area"),
    ),
    IntentSpec(
        "HassSetPosition",
        "Set how far a cover or valve is open, in percent",
        frozenset({"cover", "valve"}),
        slots={"position": PERCENT},
        required=("position",),
    ),
    IntentSpec(
        "HassFanSetSpeed",
        "Set a fan's speed in percent",
        frozenset({"fan"}),
        slots={"percentage": PERCENT},
        required=("percentage",),
    ),
    IntentSpec("HassMediaPause", "Pause media", _MEDIA),
    IntentSpec("HassMediaUnpause", "Resume media", _MEDIA),
    IntentSpec("HassMediaNext", "Skip to the next track", _MEDIA),
    IntentSpec("HassMediaPrevious", "Go back to the previous track", _MEDIA),
    IntentSpec(
        "HassSetVolume",
        "Set the volume in percent",
        _MEDIA,
        slots={"volume_level": PERCENT},
        required=("volume_level",),
    ),
    IntentSpec(
        "HassSetVolumeRelative",
        "Turn the volume up or down",
        _MEDIA,
        slots={"volume_step": STEP},
        required=("volume_step",),
    ),
    IntentSpec("HassMediaPlayerMute", "Mute a media player", _MEDIA),
    IntentSpec("HassMediaPlayerUnmute", "Unmute a media player", _MEDIA),
    IntentSpec("HassVacuumStart", "Start vacuuming", frozenset({"vacuum"})),
    IntentSpec("HassVacuumReturnToBase", "Send the vacuum to its dock", frozenset({"vacuum"})),
    IntentSpec(
        "HassStartTimer",
        "Start a timer",
        None,
        targets=(),
        slots={"hours": INTEGER, "minutes": INTEGER, "seconds": INTEGER},
        # A timer with no duration is a slip ("start the tower fan"), never a request.
        required_any=("hours", "minutes", "seconds"),
    ),
    IntentSpec("HassCancelTimer", "Cancel the timer", None, targets=()),
    IntentSpec(
        "HassListAddItem",
        "Add an item to a to-do list",
        frozenset({"todo"}),
        slots={"item": TEXT},
        required=("item",),
    ),
    IntentSpec(
        "HassListCompleteItem",
        "Check off an item of a to-do list",
        frozenset({"todo"}),
        slots={"item": TEXT},
        required=("item",),
    ),
    IntentSpec(
        "HassShoppingListAddItem",
        "Add an item to the shopping list",
        None,
        targets=(),
        slots={"item": TEXT},
        required=("item",),
    ),
)
BY_NAME = {spec.name: spec for spec in INTENTS}

_SCHEMA_OF_KIND: dict[str, dict[str, Any]] = {
    PERCENT: {"type": "integer", "minimum": 0, "maximum": 100},
    NUMBER: {"type": "number"},
    INTEGER: {"type": "integer"},
    TEXT: {"type": "string"},
    STEP: {"type": ["string", "integer"], "description": "up, down, or -100 to 100"},
}
_TARGET_SCHEMA: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "description": "a device from the list"},
    "area": {"type": "string"},
    "floor": {"type": "string"},
    "domain": {"type": "string", "description": "e.g. light"},
}


def targets_for(spec: IntentSpec, home: Home) -> tuple[str, ...]:
    """The target slots worth offering in this home: no floor slot in a home without floors."""
    have = {"name": bool(home.entities), "area": bool(home.areas), "floor": bool(home.floors)}
    return tuple(slot for slot in spec.targets if have.get(slot, True))


def available_intents(home: Home) -> list[IntentSpec]:
    domains = home.domains
    return [
        spec
        for spec in INTENTS
        if spec.offered
        and (
            (spec.domains is None and (not spec.targets or domains))
            or (spec.domains is not None and spec.domains & domains)
        )
    ]


def build_tools(home: Home) -> list[dict[str, Any]]:
    """OpenAI-format function tools for the intents this home can use (API clients)."""
    tools = []
    for spec in available_intents(home):
        properties: dict[str, Any] = {
            slot: _TARGET_SCHEMA[slot] for slot in targets_for(spec, home)
        }
        properties.update({slot: _SCHEMA_OF_KIND[kind] for slot, kind in spec.slots.items()})
        parameters: dict[str, Any] = {"type": "object", "properties": properties}
        if spec.required:
            parameters["required"] = list(spec.required)
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": parameters,
                },
            }
        )
    return tools


def tools_json(home: Home) -> str:
    return json.dumps(build_tools(home), ensure_ascii=False, separators=(",", ":"))


_KIND_HINT = {PERCENT: " 0-100", STEP: " up/down"}


def tool_signatures(home: Home) -> str:
    """The tools as one short line each, for the system prompt.

    The same tools as :func:`build_tools` in a fifth of the tokens: the
    chat template's JSON spends most of its length on schema boilerplate,
    and a small board's context and prefill cannot afford it.
    """
    lines = []
    for spec in available_intents(home):
        arguments = [*targets_for(spec, home)]
        for slot, kind in spec.slots.items():
            mark = "*" if slot in spec.required else ""
            arguments.append(f"{slot}{mark}{_KIND_HINT.get(kind, '')}")
        lines.append(f"{spec.name} {{{', '.join(arguments)}}}: {spec.description}")
    return "\n".join(lines)
