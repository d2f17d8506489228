"""The eval's HTTP door plays Home Assistant's part as a real Home Assistant 2026.11 does:
its recorded prompt written for the eval's home, its tools, its target matching (a name
several exposed entities share refused), its tool results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rk_assist.home.model import load_home
from rk_assist.http.ha_prompt import home_from_prompt
from rk_assist.service import Service
from rk_assist.tools.eval_http import (
    RECORDINGS,
    DoorTurn,
    HttpDoor,
    load_recorded,
    match,
    prompt_for,
    schema_faults,
    tool_result,
)

from .test_http_api import base_url, model_name

ROOT = Path(__file__).parent.parent
RECORDED = ROOT / "tests" / "real_ha" / "recorded"
BUILT = load_home(ROOT / "eval" / "built-en" / "home.yaml")


@pytest.mark.parametrize("door", sorted(RECORDINGS))
def test_the_overview_is_written_as_home_assistant_wrote_it(door):
    recorded = load_recorded(door, RECORDED)
    # Read back and written again, the real prompt is the same to the byte.
    assert prompt_for(home_from_prompt(recorded.system), recorded.system) == recorded.system
    written = prompt_for(BUILT, recorded.system)
    assert "- names: Smart Lock\n  domain: binary_sensor\n  areas: Entry\n" in written
    assert written.endswith(recorded.system[recorded.system.index("\nWhen controlling") :])


def test_targets_are_matched_as_home_assistant_matches_them():
    refused = match(BUILT, "HassTurnOn", {"name": "Smart Lock"})
    assert refused.duplicate and len(refused.entities) == 2  # the lock and its sensor
    found = match(BUILT, "HassTurnOn", {"name": "smart lock", "domain": ["lock"]})
    assert [e.entity_id for e in found.entities] == ["lock.smart_lock"]
    placed = match(BUILT, "HassTurnOn", {"name": "Ceiling Light", "area": "Bedroom"})
    assert [e.entity_id for e in placed.entities] == ["light.bedroom_ceiling"]
    lights = match(BUILT, "HassTurnOff", {"area": "Living Room", "domain": ["light"]})
    assert [e.entity_id for e in lights.entities] == ["light.living_room_ceiling"]
    assert match(BUILT, "HassTurnOn", {"area": "Attic"}).error == "No area named Attic"
    # An intent's own domains: HassLightSet never reaches the lock's name.
    assert match(BUILT, "HassLightSet", {"name": "Smart Lock"}).error


def test_tool_results_are_home_assistants():
    done = tool_result(match(BUILT, "HassTurnOn", {"name": "Desk Fan"}), "HassTurnOn", BUILT, {})
    assert done == {
        "data": {
            "speech": {},
            "response_type": "action_done",
            "data": {
                "success": [{"name": "Desk Fan", "type": "entity", "id": "fan.desk_fan"}],
                "failed": [],
            },
        },
        "error": False,
    }
    refused = tool_result(match(BUILT, "HassTurnOn", {"name": "Smart Lock"}), "", BUILT, {})
    assert refused["error"] is True and refused["data"]["error"] == "MatchFailedError"


def test_arguments_are_held_to_the_tools_schema():
    tools = {t["function"]["name"]: t for t in load_recorded("ollama", RECORDED).tools}
    light_set = tools["light__HassLightSet"]
    assert schema_faults({"name": "Desk Lamp", "brightness": 40}, light_set) == []
    faults = schema_faults({"name": 3, "colour": "red", "brightness": True}, light_set)
    assert faults == [
        "no key 'colour'",
        "'name' is not of type string",
        "'brightness' is not of type integer",
    ]
    turn_on = tools["intent__HassTurnOn"]
    assert schema_faults({"device_class": ["sofa"]}, turn_on)[0].startswith("'device_class' item")


@pytest.mark.model
async def test_a_request_through_the_real_door_comes_back_as_home_assistant_gets_it(
    service: Service,
):
    async with HttpDoor(
        base_url(service), model_name(service), load_recorded("ollama", RECORDED)
    ) as door:
        history: list[dict] = []
        turn = await door.turn(BUILT, history, "lock the smart lock")
    assert [(a.intent, a.entity_id) for a in turn.actions] == [("HassTurnOn", "lock.smart_lock")]
    assert turn.duplicates == 0 and turn.unlisted == 0 and turn.schema == []
    assert turn.spoken
    # Home Assistant's history: the request, the call, its result, the words.
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
    call = history[1]["tool_calls"][0]["function"]
    assert call == {
        "name": "intent__HassTurnOn",
        "arguments": {"name": "Smart Lock", "domain": ["lock"]},
    }
    assert json.loads(history[2]["content"])["error"] is False


@pytest.mark.model
async def test_the_openai_door_comes_back_as_home_assistants_llama_cpp_integration_gets_it(
    service: Service,
):
    recorded = load_recorded("openai", RECORDED)
    async with HttpDoor(base_url(service), model_name(service), recorded, "openai") as door:
        history: list[dict] = []
        turn = await door.turn(BUILT, history, "open the front yard valve")
    assert [(a.intent, a.entity_id) for a in turn.actions] == [("HassTurnOn", "valve.rain_bird")]
    assert turn.schema == [] and turn.spoken
    call = history[1]["tool_calls"][0]
    assert call["function"]["name"] == "intent__HassTurnOn"
    assert json.loads(call["function"]["arguments"]) == {"name": "Rain Bird"}
    assert history[2]["tool_call_id"] == call["id"]


def test_a_live_context_read_by_name_is_the_devices_state_read():
    door = HttpDoor("http://127.0.0.1:1", "qwen", load_recorded("ollama", RECORDED))
    tools = {t["function"]["name"]: t for t in door.recorded.tools}
    turn = DoorTurn([], "", 0.0)
    call = {
        "function": {"name": "homeassistant__GetLiveContext", "arguments": {"name": "Desk Fan"}}
    }
    answer = door._run(call, BUILT, tools, turn)
    assert [(a.intent, a.entity_id) for a in turn.actions] == [("HassGetState", "fan.desk_fan")]
    assert "names: Desk Fan" in json.loads(answer["content"])["data"]["result"]


@pytest.mark.model
@pytest.mark.parametrize("door_name", ["ollama", "openai"])
async def test_a_turn_is_timed_to_its_first_token_and_first_word_with_its_prompt_counted(
    service: Service, door_name: str
):
    # What bench-http reports: a settled command (no model: no prompt tokens counted), then
    # a question the model answers (its prompt counted, words streamed before the end).
    recorded = load_recorded(door_name, RECORDED)
    async with HttpDoor(
        base_url(service), model_name(service), recorded, door_name, temperature=0, usage=True
    ) as door:
        settled = await door.turn(BUILT, [], "lock the smart lock")
        asked = await door.turn(BUILT, [], "what is the capital of France")
    assert settled.calls == 1 and settled.prompt_tokens == 0
    assert settled.first_token is not None and settled.first_word is not None
    assert settled.first_token <= settled.first_word <= settled.seconds
    assert asked.calls == 0 and asked.spoken
    assert asked.prompt_tokens > 0  # the model ran: its prompt counted
    assert asked.first_token is not None and asked.first_word is not None
    assert asked.first_token <= asked.first_word <= asked.seconds
