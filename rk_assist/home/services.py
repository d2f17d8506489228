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
STATE_INTENTS = ("HassGetState", "HassClimateGetTemperature")


def service_for(action: Action) -> tuple[str, str, dict[str, Any]] | None:
    """(domain, service, data) for an action, or None if no service does it."""
    entity_domain = action.entity_id.split(".", 1)[0] if action.entity_id else ""
    slots = {k: v for k, v in action.slots.items() if k != "name"}
    if action.intent == "HassTurnOn":
        domain, service = _ON.get(entity_domain, ("homeassistant", "turn_on"))
        return domain, service, {}
    if action.intent == "HassTurnOff":
        domain, service = _OFF.get(entity_domain, ("homeassistant", "turn_off"))
        return domain, service, {}
    if action.intent == "HassToggle":
        return (
            ("cover", "toggle", {}) if entity_domain == "cover" else ("homeassistant", "toggle", {})
        )
    if action.intent == "HassLightSet":
        data: dict[str, Any] = {}
        if "brightness" in slots:
            data["brightness_pct"] = slots["brightness"]
        if "color" in slots:
            data["color_name"] = str(slots["color"]).lower()
        return "light", "turn_on", data
    if action.intent == "HassSetPosition":
        if entity_domain == "valve":
            return "valve", "set_valve_position", {"position": slots["position"]}
        return "cover", "set_cover_position", {"position": slots["position"]}
    if action.intent == "HassSetVolume":
        return "media_player", "volume_set", {"volume_level": slots["volume_level"] / 100}
    if action.intent in ("HassMediaPlayerMute", "HassMediaPlayerUnmute"):
        muted = action.intent == "HassMediaPlayerMute"
        return "media_player", "volume_mute", {"is_volume_muted": muted}
    if action.intent == "HassSetVolumeRelative" and slots.get("volume_step") in ("up", "down"):
        # A step by a number needs the current level; Home Assistant's intent has it.
        return "media_player", f"volume_{slots['volume_step']}", {}
    if action.intent == "HassShoppingListAddItem":
        return "shopping_list", "add_item", {"name": slots["item"]}
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
