"""The "services" home-control mode: carry actions out ourselves and tell the model.

In the default "intents" mode Home Assistant executes the intents and speaks
its own confirmation. Here the service calls Home Assistant's services over
the websocket itself, answers state questions from the current states, and
hands the results back to the model (``role="tool"`` on the NPU) so that the
answer is the model's own sentence.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .intents import STATE_INTENTS
from .model import Home
from .resolve import Action

_LOGGER = logging.getLogger(__name__)

ServiceCaller = Callable[[str, str, dict[str, Any] | None, dict[str, Any] | None], Awaitable[Any]]

_ON = {
    "cover": ("cover", "open_cover"),
    "lock": ("lock", "lock"),
    "valve": ("valve", "open_valve"),
    "scene": ("scene", "turn_on"),
    "script": ("script", "turn_on"),
    "vacuum": ("vacuum", "start"),
}
_OFF = {
    "cover": ("cover", "close_cover"),
    "lock": ("lock", "unlock"),
    "valve": ("valve", "close_valve"),
    "vacuum": ("vacuum", "return_to_base"),
}
_SIMPLE = {
    "HassMediaPause": ("media_player", "media_pause"),
    "HassMediaUnpause": ("media_player", "media_play"),
    "HassMediaNext": ("media_player", "media_next_track"),
    "HassMediaPrevious": ("media_player", "media_previous_track"),
    "HassVacuumStart": ("vacuum", "start"),
    "HassVacuumReturnToBase": ("vacuum", "return_to_base"),
    "HassClimateSetTemperature": ("climate", "set_temperature"),
    "HassFanSetSpeed": ("fan", "set_percentage"),
}


ServiceCall = tuple[str, str, dict[str, Any]]


def _turn_on(domain: str, _slots: dict[str, Any]) -> ServiceCall:
    return (*_ON.get(domain, ("homeassistant", "turn_on")), {})


def _turn_off(domain: str, _slots: dict[str, Any]) -> ServiceCall:
    return (*_OFF.get(domain, ("homeassistant", "turn_off")), {})


def _toggle(domain: str, _slots: dict[str, Any]) -> ServiceCall:
    return ("cover", "toggle", {}) if domain == "cover" else ("homeassistant", "toggle", {})


def _light_set(_domain: str, slots: dict[str, Any]) -> ServiceCall:
    data: dict[str, Any] = {}
    if "brightness" in slots:
        data["brightness_pct"] = slots["brightness"]
    if "color" in slots:
        data["color_name"] = str(slots["color"]).lower()
    return "light", "turn_on", data


def _set_position(domain: str, slots: dict[str, Any]) -> ServiceCall:
    if domain == "valve":
        return "valve", "set_valve_position", {"position": slots["position"]}
    return "cover", "set_cover_position", {"position": slots["position"]}


def _set_volume(_domain: str, slots: dict[str, Any]) -> ServiceCall:
    return "media_player", "volume_set", {"volume_level": slots["volume_level"] / 100}


def _mute(_domain: str, _slots: dict[str, Any]) -> ServiceCall:
    return "media_player", "volume_mute", {"is_volume_muted": True}


def _unmute(_domain: str, _slots: dict[str, Any]) -> ServiceCall:
    return "media_player", "volume_mute", {"is_volume_muted": False}


def _volume_step(_domain: str, slots: dict[str, Any]) -> ServiceCall | None:
    # A step by a number needs the current level; Home Assistant's intent has it.
    step = slots.get("volume_step")
    return ("media_player", f"volume_{step}", {}) if step in ("up", "down") else None


def _add_to_shopping_list(_domain: str, slots: dict[str, Any]) -> ServiceCall:
    return "shopping_list", "add_item", {"name": slots["item"]}


#: Intents whose service depends on the entity's domain or reshapes the slots.
_BY_INTENT: dict[str, Callable[[str, dict[str, Any]], ServiceCall | None]] = {
    "HassTurnOn": _turn_on,
    "HassTurnOff": _turn_off,
    "HassToggle": _toggle,
    "HassLightSet": _light_set,
    "HassSetPosition": _set_position,
    "HassSetVolume": _set_volume,
    "HassMediaPlayerMute": _mute,
    "HassMediaPlayerUnmute": _unmute,
    "HassSetVolumeRelative": _volume_step,
    "HassShoppingListAddItem": _add_to_shopping_list,
}


def service_for(action: Action) -> ServiceCall | None:
    """(domain, service, data) for an action, or None if no service does it."""
    entity_domain = action.entity_id.split(".", 1)[0] if action.entity_id else ""
    slots = {k: v for k, v in action.slots.items() if k != "name"}
    if action.intent in _BY_INTENT:
        return _BY_INTENT[action.intent](entity_domain, slots)
    if action.intent in _SIMPLE:
        domain, service = _SIMPLE[action.intent]
        return domain, service, slots
    return None


async def execute(actions: list[Action], home: Home, call: ServiceCaller | None) -> list[dict]:
    """Carry the actions out; one result per action, for the model to speak from."""
    results: list[dict[str, Any]] = []
    for action in actions:
        entity = home.entities.get(action.entity_id) if action.entity_id else None
        result: dict[str, Any] = {"name": action.intent}
        if entity is not None:
            result["device"] = entity.name
        if action.intent in STATE_INTENTS:
            state = home.states.get(action.entity_id or "")
            result.update({"success": state is not None, "state": state or "unknown"})
            results.append(result)
            continue
        target = service_for(action)
        if target is None:
            result.update(
                {
                    "success": False,
                    "error": "this needs Home Assistant's intents (home control: intents)",
                }
            )
        elif call is None:
            result.update({"success": False, "error": "not connected to Home Assistant"})
        else:
            domain, service, data = target
            entity_target = {"entity_id": action.entity_id} if action.entity_id else None
            try:
                await call(domain, service, data or None, entity_target)
                result["success"] = True
            except Exception as err:  # reported to the model, which tells the user
                _LOGGER.warning("%s.%s for %s failed: %s", domain, service, action.entity_id, err)
                result.update({"success": False, "error": str(err)})
        results.append(result)
    return results
