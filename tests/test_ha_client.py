"""The Home Assistant connection against a stand-in speaking the real websocket API."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from rk_assist.config import build_config
from rk_assist.home.ha_client import HomeAssistantConnection
from rk_assist.service import create_service
from rk_assist.tools.client import ask, describe

from .conftest import EMBEDDED
from .ha_standin import StandInHomeAssistant

HOME_FILE = Path(__file__).parent.parent / "eval" / "house-en" / "home.yaml"


@pytest.fixture
async def hass():
    standin = StandInHomeAssistant(HOME_FILE)
    await standin.start()
    yield standin
    await standin.stop()


async def wait_for(condition, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


async def test_reads_the_exposed_home(hass):
    changes = []
    connection = HomeAssistantConnection(hass.url, "good-token", changes.append, retry_max_s=1)
    await connection.start()
    try:
        await asyncio.wait_for(connection.connected.wait(), 10)
        home = connection.home
        assert len(home.entities) == 42 and "switch.garage_heater" not in home.entities
        kitchen = home.entities["light.kitchen_ceiling"]  # its area comes from its device
        assert kitchen.area_id == "kitchen" and kitchen.aliases == ("kitchen ceiling light",)
        assert home.areas["bedroom"].floor_id == "upper"
        assert home.states["lock.front_door"] == "locked"
        assert len(changes) == 1
    finally:
        await connection.stop()


async def test_keeps_current_from_events_and_reconnects_after_a_restart(hass):
    changes = []
    connection = HomeAssistantConnection(hass.url, "good-token", changes.append, retry_max_s=1)
    await connection.start()
    try:
        await asyncio.wait_for(connection.connected.wait(), 10)
        await hass.push_event(
            "state_changed", {"entity_id": "light.porch", "new_state": {"state": "on"}}
        )
        await wait_for(lambda: connection.home.states["light.porch"] == "on")
        assert len(changes) == 1  # a state is not a change of the prompt
        hass.exposed["switch.garage_heater"] = True  # exposing it updates the registry
        await hass.push_event(
            "entity_registry_updated", {"action": "update", "entity_id": "switch.garage_heater"}
        )
        await wait_for(lambda: "switch.garage_heater" in connection.home.entities)
        assert len(changes) == 2
        await hass.restart()
        await wait_for(lambda: not connection.connected.is_set(), 5)
        await asyncio.wait_for(connection.connected.wait(), 15)
        hass.exposed["switch.kettle"] = False
        await hass.push_event("entity_registry_updated", {"action": "update"})
        await wait_for(lambda: "switch.kettle" not in connection.home.entities)
        await connection.call_service("light", "turn_on", target={"entity_id": "light.porch"})
        assert hass.service_calls[-1]["target"] == {"entity_id": "light.porch"}
    finally:
        await connection.stop()


async def test_a_bad_token_stops_without_leaking_it(hass, caplog):
    caplog.set_level(logging.DEBUG)
    connection = HomeAssistantConnection(hass.url, "secret-wrong-token", retry_max_s=1)
    await connection.start()
    try:
        await wait_for(lambda: not connection.running, 10)
        assert connection.home is None
        assert "refused the access token" in caplog.text
        assert "secret-wrong-token" not in caplog.text
        assert "secret-wrong-token" not in repr(connection)
        assert hass.received_tokens == ["secret-wrong-token"]  # tried once, not hammered
    finally:
        await connection.stop()


async def test_service_with_home_assistant(hass, tmp_path, rkllm_doubles, rkllm_model, caplog):
    caplog.set_level(logging.INFO)
    config = build_config(
        {
            "uri": "tcp://127.0.0.1:0",
            "http_uri": "none",
            "model": str(rkllm_model),
            "rkllm_library": str(rkllm_doubles["1.2"]),
            "ha_url": hass.url,
            "config_dir": str(tmp_path / "c"),
            "cache_dir": str(tmp_path / "k"),
        },
        environ={"RK_ASSIST_HA_TOKEN": "good-token"},  # the token comes from the environment
    )
    service = await create_service(config)
    await service.start()
    uri = f"tcp://127.0.0.1:{service.port}"
    try:
        await asyncio.wait_for(service.home.connection.connected.wait(), 10)
        # Advertised once the home's prompt is prepared, not merely on connecting.
        await wait_for(lambda: service.assistant.home_ready)
        info, _ = await describe(uri)
        assert info.handle[0].supports_home_control
        result = await ask(uri, "Turn on the hall light.")
        assert result.event_types == ["intent"]
        assert result.events[0].data["entities"] == [{"name": "name", "value": "light.hallway"}]
        # "Here": the satellite's device is in an area; "the lights" are that area's.
        device = next(d for d in hass.devices if d["area_id"] == "kitchen")
        result = await ask(uri, "Turn off the lights.", context={"device_id": device["id"]})
        kitchen_lights = {
            entity.entity_id
            for entity in service.home.connection.home.entities.values()
            if entity.domain == "light" and entity.area_id == "kitchen"
        }
        assert len(kitchen_lights) > 1 and len(kitchen_lights) < len(
            [e for e in service.home.connection.home.entities.values() if e.domain == "light"]
        )
        assert {e.data["entities"][0]["value"] for e in result.events if e.type == "intent"} == (
            kitchen_lights
        )
        assert "good-token" not in caplog.text
        assert "good-token" not in repr(config)
    finally:
        await service.stop()


async def test_a_refused_token_never_advertises_home_control(
    hass, tmp_path, rkllm_doubles, rkllm_model, caplog
):
    config = build_config(
        {
            "uri": "tcp://127.0.0.1:0",
            "http_uri": "none",
            "model": str(rkllm_model),
            "rkllm_library": str(rkllm_doubles["1.2"]),
            "ha_url": hass.url,
            "config_dir": str(tmp_path / "c"),
            "cache_dir": str(tmp_path / "k"),
        },
        environ={"RK_ASSIST_HA_TOKEN": "stale-token"},
    )
    service = await create_service(config)
    await service.start()
    try:
        uri = f"tcp://127.0.0.1:{service.port}"
        info, _ = await describe(uri)
        assert not info.handle[0].supports_home_control  # not before Home Assistant answers
        await wait_for(lambda: "refused the access token" in caplog.text)
        info, _ = await describe(uri)
        assert not info.handle[0].supports_home_control  # nor after it refused the token
    finally:
        await service.stop()


async def test_without_home_assistant_it_says_chat_only_once(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    config = build_config(
        {
            "uri": "tcp://127.0.0.1:0",
            "http_uri": "none",
            "model": EMBEDDED,
            "config_dir": str(tmp_path / "c"),
            "cache_dir": str(tmp_path / "k"),
        },
        environ={},
    )
    service = await create_service(config)
    try:
        assert service.home is None
        assert caplog.text.count("chat-only mode") == 1
        assert service.info_event.data["handle"][0]["supports_home_control"] is False
    finally:
        await service.worker.close()


def npu_config(hass, tmp_path: Path, rkllm_doubles, rkllm_model, abi: str = "1.3"):
    """The service on the NPU double, reading the stand-in Home Assistant."""
    return build_config(
        {
            "uri": "tcp://127.0.0.1:0",
            "http_uri": "none",
            "model": str(rkllm_model),
            "rkllm_library": str(rkllm_doubles[abi]),
            "ha_url": hass.url,
            "config_dir": str(tmp_path / "c"),
            "cache_dir": str(tmp_path / "k"),
        },
        environ={"RK_ASSIST_HA_TOKEN": "good-token"},
    )


async def test_a_changed_home_gets_its_prompt_prepared_at_once(
    hass, tmp_path, rkllm_doubles, rkllm_model
):
    service = await create_service(npu_config(hass, tmp_path, rkllm_doubles, rkllm_model))
    runtime = service.worker.runtime
    assert "Kitchen Light" not in runtime.system_prompt  # nothing known before connecting
    await service.start()
    try:
        await wait_for(lambda: service.assistant.prompt_home is not None)
        assert "Kitchen Light" in runtime.system_prompt and "HassTurnOn" in runtime.system_prompt
        assert "Garage Heater" not in runtime.system_prompt
        hass.exposed["switch.garage_heater"] = True
        await hass.push_event("entity_registry_updated", {"action": "update"})
        await wait_for(lambda: "switch.garage_heater" in service.assistant.prompt_home.entities)
        assert "Garage Heater" in runtime.system_prompt
        # Unexposing acts at once on what may be done, before the prompt catches up.
        hass.exposed["light.hallway"] = False
        await hass.push_event("entity_registry_updated", {"action": "update"})
        await wait_for(lambda: "light.hallway" not in service.home.home.entities)
        result = await ask(f"tcp://127.0.0.1:{service.port}", "Turn on the hall light.")
        assert "intent" not in result.event_types
    finally:
        await service.stop()


async def test_a_command_before_the_first_prompt_is_ready_waits_for_it(
    hass, tmp_path, rkllm_doubles, rkllm_model, monkeypatch
):
    # A slow prefill holds the first home prompt back (seen on a real Home
    # Assistant: its first request came while the prompt was computed for 24 s,
    # was answered without tools, and the model said it had acted).
    monkeypatch.setenv("FAKE_RKLLM_PREFILL_US_PER_TOKEN", "2000")
    service = await create_service(npu_config(hass, tmp_path, rkllm_doubles, rkllm_model))
    await service.start()
    try:
        await asyncio.wait_for(service.home.connection.connected.wait(), 10)
        assert not service.assistant.home_ready
        result = await ask(f"tcp://127.0.0.1:{service.port}", "Turn on the hall light.")
        assert result.event_types == ["intent"]
        assert result.events[0].data["entities"] == [{"name": "name", "value": "light.hallway"}]
    finally:
        await service.stop()
