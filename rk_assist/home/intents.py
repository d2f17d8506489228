"""Home Assistant's built-in intents as function tools for the model.

Only the intents that the exposed domains can use are offered, and the
home's names and areas go in as enums: a small model picks from a list far
more reliably than it spells.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .model import Home

TARGET_SLOTS = ("name", "area", "floor", "domain", "device_class")
PREFIX = "intent__"  # Home Assistant 2026.9 prefixes LLM tool names with it


@dataclass(frozen=True)
class IntentSpec:
    name: str
    description: str
    domains: frozenset[str] | None  # None: not about devices
    targets: bool = True  # takes name/area/floor/domain/device_class
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)
    required: tuple[str, ...] = ()


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
    }
)
_PERCENT = {"type": "integer", "minimum": 0, "maximum": 100}

INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec(
        "HassTurnOn", "Turn on, open or lock a device, or activate a scene or script", _ON_OFF
    ),
    IntentSpec("HassTurnOff", "Turn off, close or unlock a device", _ON_OFF),
    IntentSpec("HassToggle", "Toggle a device between on and off", _ON_OFF),
    IntentSpec(
        "HassGetState",
        "Ask about the current state of a device or sensor",
        None,
        slots={"state": {"type": "string", "description": "the state asked about"}},
    ),
    IntentSpec(
        "HassLightSet",
        "Set a light's brightness (percent) or color",
        frozenset({"light"}),
        slots={"brightness": _PERCENT, "color": {"type": "string", "description": "a color name"}},
    ),
    IntentSpec(
        "HassClimateSetTemperature",
        "Set the target temperature of a thermostat",
        frozenset({"climate"}),
        slots={"temperature": {"type": "number"}},
        required=("temperature",),
    ),
    IntentSpec(
        "HassClimateGetTemperature",
        "Ask the temperature of a thermostat or room",
        frozenset({"climate"}),
    ),
    IntentSpec(
        "HassSetPosition",
        "Set the position (percent open) of a cover or valve",
        frozenset({"cover", "valve"}),
        slots={"position": _PERCENT},
        required=("position",),
    ),
    IntentSpec(
        "HassFanSetSpeed",
        "Set a fan's speed in percent",
        frozenset({"fan"}),
        slots={"percentage": _PERCENT},
        required=("percentage",),
    ),
    IntentSpec("HassMediaPause", "Pause media", frozenset({"media_player"})),
    IntentSpec("HassMediaUnpause", "Resume media", frozenset({"media_player"})),
    IntentSpec("HassMediaNext", "Skip to the next track", frozenset({"media_player"})),
    IntentSpec(
        "HassSetVolume",
        "Set the volume in percent",
        frozenset({"media_player"}),
        slots={"volume_level": _PERCENT},
        required=("volume_level",),
    ),
    IntentSpec("HassVacuumStart", "Start vacuuming", frozenset({"vacuum"})),
    IntentSpec("HassVacuumReturnToBase", "Send the vacuum back to its dock", frozenset({"vacuum"})),
    IntentSpec(
        "HassStartTimer",
        "Start a timer",
        None,
        targets=False,
        slots={
            "hours": {"type": "integer"},
            "minutes": {"type": "integer"},
            "seconds": {"type": "integer"},
            "name": {"type": "string"},
        },
    ),
    IntentSpec(
        "HassCancelTimer", "Cancel a timer", None, targets=False, slots={"name": {"type": "string"}}
    ),
    IntentSpec(
        "HassShoppingListAddItem",
        "Add an item to the shopping list",
        None,
        targets=False,
        slots={"item": {"type": "string"}},
        required=("item",),
    ),
)
BY_NAME = {spec.name: spec for spec in INTENTS}


def canonical_intent(name: str) -> str:
    return name[len(PREFIX) :] if name.startswith(PREFIX) else name


def available_intents(home: Home) -> list[IntentSpec]:
    domains = home.domains
    return [
        spec
        for spec in INTENTS
        if (spec.domains is None and (spec.targets is False or domains))
        or (spec.domains is not None and spec.domains & domains)
    ]


def build_tools(home: Home) -> list[dict[str, Any]]:
    """OpenAI-format function tools for the intents this home can use."""
    names = sorted({n for e in home.entities.values() for n in e.names}, key=str.lower)
    areas = sorted({a.name for a in home.areas.values()}, key=str.lower)
    floors = sorted({f.name for f in home.floors.values()}, key=str.lower)
    tools = []
    for spec in available_intents(home):
        properties: dict[str, Any] = {}
        if spec.targets:
            usable = (
                sorted(
                    {
                        n
                        for e in home.entities.values()
                        if spec.domains is None or e.domain in spec.domains
                        for n in e.names
                    },
                    key=str.lower,
                )
                or names
            )
            properties["name"] = {
                "type": "string",
                "description": "the device's name",
                "enum": usable,
            }
            if areas:
                properties["area"] = {"type": "string", "description": "a room", "enum": areas}
            if floors:
                properties["floor"] = {"type": "string", "enum": floors}
            domains = sorted((spec.domains or home.domains) & home.domains)
            if domains:
                properties["domain"] = {"type": "string", "enum": domains}
        properties.update(spec.slots)
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": {
                        "type": "object",
                        "properties": properties,
                        "required": list(spec.required),
                    },
                },
            }
        )
    return tools


def tools_json(home: Home) -> str:
    return json.dumps(build_tools(home), ensure_ascii=False, separators=(",", ":"))
