"""The services mode: rk-assist carries actions out and the model words the answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rk_assist.config import build_config
from rk_assist.home.model import load_home
from rk_assist.home.resolve import Action
from rk_assist.home.services import execute, service_for
from rk_assist.service import create_service
from rk_assist.tools.client import ask

from .ha_standin import StandInHomeAssistant
from .test_ha_client import wait_for

HOME_FILE = Path(__file__).parent.parent / "eval" / "house-en" / "home.yaml"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (
            Action("HassTurnOn", {"name": "light.porch"}, "light.porch"),
            ("homeassistant", "turn_on", {}),
        ),
        (
            Action("HassTurnOn", {"name": "cover.garage_door"}, "cover.garage_door"),
            ("cover", "open_cover", {}),
        ),
        (
            Action("HassTurnOff", {"name": "lock.front_door"}, "lock.front_door"),
            ("lock", "unlock", {}),
        ),
        (
            Action(
                "HassLightSet",
                {"name": "light.office", "brightness": 40, "color": "Red"},
                "light.office",
            ),
            ("light", "turn_on", {"brightness_pct": 40, "color_name": "red"}),
        ),
        (
            Action(
                "HassSetVolume", {"name": "media_player.tv", "volume_level": 25}, "media_player.tv"
            ),
            ("media_player", "volume_set", {"volume_level": 0.25}),
        ),
        (
            Action(
                "HassClimateSetTemperature", {"name": "climate.x", "temperature": 21}, "climate.x"
            ),
            ("climate", "set_temperature", {"temperature": 21}),
        ),
        (
            Action("HassShoppingListAddItem", {"item": "milk"}),
            ("shopping_list", "add_item", {"name": "milk"}),
        ),
        (Action("HassStartTimer", {"minutes": 5}), None),
        (
            Action("HassMediaPrevious", {"name": "media_player.tv"}, "media_player.tv"),
            ("media_player", "media_previous_track", {}),
        ),
        (
            Action("HassMediaPlayerMute", {"name": "media_player.tv"}, "media_player.tv"),
            ("media_player", "volume_mute", {"is_volume_muted": True}),
        ),
        (
            Action(
                "HassSetVolumeRelative",
                {"name": "media_player.tv", "volume_step": "down"},
                "media_player.tv",
            ),
            ("media_player", "volume_down", {}),
        ),
        (
            Action(
                "HassSetVolumeRelative",
                {"name": "media_player.tv", "volume_step": -20},
                "media_player.tv",
            ),
            None,  # a numeric step needs the current level: Home Assistant's intents mode
        ),
    ],
)
def test_intents_map_to_services(action, expected):
    assert service_for(action) == expected


async def test_state_questions_are_answered_from_current_states():
    home = load_home(HOME_FILE)
    calls = []

    async def call(*args):
        calls.append(args)

    results = await execute(
        [
            Action("HassGetState", {"name": "lock.front_door"}, "lock.front_door"),
            Action("HassStartTimer", {"minutes": 5}),
            Action("HassTurnOn", {"name": "light.porch"}, "light.porch"),
        ],
        home,
        call,
    )
    assert results[0] == {
        "name": "HassGetState",
        "device": "Front Door",
        "success": True,
        "state": "locked",
    }
    assert results[1]["success"] is False and "intents" in results[1]["error"]
    assert results[2] == {"name": "HassTurnOn", "device": "Porch Light", "success": True}
    assert calls == [("homeassistant", "turn_on", None, {"entity_id": "light.porch"})]


async def test_service_calls_home_assistant_and_the_model_answers(
    tmp_path, rkllm_doubles, rkllm_model
):
    hass = StandInHomeAssistant(HOME_FILE)
    await hass.start()
    config = build_config(
        {
            "uri": "tcp://127.0.0.1:0",
            "http_uri": "none",
            "model": str(rkllm_model),
            "rkllm_library": str(rkllm_doubles["1.2"]),
            "ha_url": hass.url,
            "home_control": "services",
            "config_dir": str(tmp_path / "c"),
            "cache_dir": str(tmp_path / "k"),
        },
        environ={"RK_ASSIST_HA_TOKEN": "good-token"},
    )
    service = await create_service(config)
    await service.start()
    try:
        await wait_for(lambda: service.assistant.prompt_home is not None)
        uri = f"tcp://127.0.0.1:{service.port}"
        result = await ask(uri, "Turn on the kitchen light.", context={"conversation_id": "s"})
        assert "intent" not in result.event_types
        assert result.event_types[0] == "handled-start" and result.handled
        # The NPU double answers a role="tool" run by reading the results back ("Done,
        # the tool said name : HassTurnOn ..."): the clause naming the intent is not spoken.
        assert result.text.startswith("Done,") and "Hass" not in result.text
        call = hass.service_calls[-1]
        assert (call["domain"], call["service"]) == ("homeassistant", "turn_on")
        assert call["target"] == {"entity_id": "light.kitchen_ceiling"}
        refused = await ask(uri, "Turn on the garage heater.")
        assert refused.event_types == ["not-handled"] and len(hass.service_calls) == 1
    finally:
        await service.stop()
        await hass.stop()
        await asyncio.sleep(0)
