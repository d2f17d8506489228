"""The HTTP doors held to what a real Home Assistant 2026.11 sends them.

``tests/real_ha/recorded/`` holds the first request Home Assistant's Ollama and llama_cpp
integrations sent to rk-assist in ``script/test-ha`` (its recorder keeps every one in
``build/test-ha/requests.jsonl``): Home Assistant's own prompt, with its device overview,
and its own tools, as they are on the wire. Names shared by a device's entities (template
entities "Kitchen Door" and "Heatpump") and a to-do list are in that home.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rk_assist.http.chat import generation_request, reads_prompt_back
from rk_assist.http.ha_prompt import home_from_prompt, overview_apart
from rk_assist.http.schemas import openai_chat
from rk_assist.http.understood import checked_calls, understood_call
from rk_assist.output.calls import ToolCall
from rk_assist.runtimes.base import ChatMessage

RECORDED = Path(__file__).parent / "real_ha" / "recorded"
DOORS = ("ollama-chat.json", "openai-chat.json")


def recorded(door: str) -> tuple[str, tuple[dict, ...]]:
    body = json.loads((RECORDED / door).read_text(encoding="utf-8"))
    return body["messages"][0]["content"], tuple(body["tools"])


def asked(system: str, text: str) -> list[ChatMessage]:
    return [ChatMessage("system", system), ChatMessage("user", text)]


@pytest.mark.parametrize("door", DOORS)
def test_the_real_prompt_lists_the_exposed_devices_with_their_shared_names(door):
    home = home_from_prompt(recorded(door)[0])
    assert home is not None
    listed = {(entity.name, entity.domain) for entity in home.entities.values()}
    assert {
        ("Kitchen Door", "lock"),
        ("Kitchen Door", "binary_sensor"),
        ("HeatPump", "climate"),
        ("Heatpump", "sensor"),
        ("Shopping list", "todo"),
        ("Orchard", "valve"),
    } <= listed
    assert len(listed) == 21  # the 21 exposed in tests/real_ha/home.yaml


@pytest.mark.parametrize("door", DOORS)
def test_a_name_a_sensor_shares_goes_with_its_domain_through_the_real_tools(door):
    system, tools = recorded(door)
    call = understood_call(asked(system, "please lock the kitchen door for me"), tools, "en")
    assert call == ToolCall("intent__HassTurnOn", {"name": "Kitchen Door", "domain": ["lock"]})
    made = [ToolCall("intent__HassTurnOn", {"name": "Kitchen Door"})]
    sent, said = checked_calls(made, asked(system, "lock the kitchen door"), tools, "en")
    assert sent == [ToolCall("intent__HassTurnOn", {"name": "Kitchen Door", "domain": ["lock"]})]
    assert said == ""


@pytest.mark.parametrize("door", DOORS)
def test_an_item_goes_on_the_real_shopping_list(door):
    system, tools = recorded(door)
    call = understood_call(asked(system, "add milk to the shopping list"), tools, "en")
    assert call is not None and call.name == "todo__HassListAddItem"
    assert call.arguments == {"item": "milk", "name": "Shopping list"}


@pytest.mark.parametrize("door", DOORS)
def test_a_call_for_a_device_the_real_prompt_does_not_list_is_not_sent(door):
    system, tools = recorded(door)
    made = [ToolCall("intent__HassTurnOn", {"name": "Jacuzzi"})]
    sent, said = checked_calls(made, asked(system, "turn on the jacuzzi"), tools, "en")
    assert sent == [] and said


def test_the_real_prompts_headings_are_never_read_back():
    # Seen through the HTTP door (0.5B, "recommend a movie"): "Based on the information
    # provided in the static context, ...".
    system, _tools = recorded("ollama-chat.json")
    reads_back = reads_prompt_back([ChatMessage("system", system)])
    assert reads_back is not None
    assert reads_back("Based on the information provided in the static context,")
    assert not reads_back("Inception is a film about dreams.")
    assert reads_prompt_back([ChatMessage("system", "You are a helpful assistant.")]) is None


@pytest.mark.parametrize("door", DOORS)
def test_the_device_overview_comes_apart_from_the_instructions_losing_nothing(door):
    system, _tools = recorded(door)
    instructions, overview = overview_apart(system)
    assert overview.startswith("Static Context: An overview of the areas and the devices")
    assert overview.endswith("domain: todo")  # the list's last device
    assert "- names:" not in instructions
    assert instructions.startswith("You are a voice assistant for Home Assistant.")
    assert "When controlling Home Assistant always call the intent tools." in instructions
    assert sorted((instructions + "\n" + overview).split()) == sorted(system.split())
    assert overview_apart("You are a voice assistant.") is None


def test_home_assistants_overview_goes_after_its_tools_in_the_model_prompt():
    system, tools = recorded("openai-chat.json")
    chat = openai_chat(
        {
            "model": "m",
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": "hi"}],
            "tools": list(tools),
        }
    )
    request = generation_request(chat, "default", 64)
    instructions, overview = overview_apart(system)
    assert (request.system_prompt, request.context) == (instructions, overview)
    assert [(m.role, m.content) for m in request.messages()] == [
        ("system", instructions),
        ("system", overview),
        ("user", "hi"),
    ]
    assert request.messages(keep_turns=0)[1].content == overview  # never dropped to fit
    # The call grammar still lists the devices of the whole prompt.
    assert request.constraint is not None and r"\"Bed Light\"" in request.constraint.gbnf
    # Without tools (no Home Assistant), the prompt is the client's as it is.
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "hi"}]
    plain = openai_chat({"model": "m", "messages": messages})
    assert generation_request(plain, "default", 64).context is None
