"""Checking tool calls against the home before anything is done: exposure is enforced here."""

import json
from pathlib import Path

import pytest

from rk_assist.home.grounding import (
    meant_sensitive,
    names_sensitive_only,
    opens_only_sensitive,
    place_said,
    sensitive_as_said,
    timer_asked_for,
)
from rk_assist.home.intents import available_intents, build_tools, tool_signatures
from rk_assist.home.model import Area, Entity, Home, load_home, unexposed_entities
from rk_assist.home.prompt import home_prompt
from rk_assist.home.resolve import Question, resolve_calls
from rk_assist.output.calls import ToolCall

HOME_FILE = Path(__file__).parent.parent / "eval" / "house-en" / "home.yaml"
HOME = load_home(HOME_FILE)


def resolve(intent: str, **arguments):
    return resolve_calls([ToolCall(intent, arguments)], HOME)


def test_the_synthetic_home():
    assert len(HOME.entities) >= 40 and len(HOME.areas) >= 6
    assert "switch.garage_heater" not in HOME.entities  # not exposed
    assert "Garage Heater" in unexposed_entities(HOME_FILE)


@pytest.mark.parametrize(
    ("spoken", "entity_id"),
    [
        ("Kitchen Light", "light.kitchen_ceiling"),
        ("kitchen light", "light.kitchen_ceiling"),
        ("the Kitchen Light", "light.kitchen_ceiling"),
        ("kitchen ceiling light", "light.kitchen_ceiling"),
        ("Kitchen Ligth", "light.kitchen_ceiling"),
        ("telly", "media_player.living_room_tv"),
        ("light.porch", "light.porch"),
        ("Reading-Lamp", "light.floor_lamp"),
    ],
)
def test_names_aliases_and_slips_are_matched(spoken, entity_id):
    outcome = resolve("HassTurnOn", name=spoken)
    assert [a.entity_id for a in outcome.actions] == [entity_id]
    assert outcome.actions[0].slots == {"name": entity_id}


@pytest.mark.parametrize(
    "spoken",
    ["Garage Heater", "garage heater", "Server Rack", "wallbox", "switch.car_charger", "Hot Tub"],
)
def test_non_exposed_or_unknown_devices_are_never_acted_on(spoken):
    outcome = resolve("HassTurnOn", name=spoken)
    assert outcome.actions == []
    said = spoken.rpartition(".")[2].replace("_", " ")  # an id is said as words
    assert outcome.refusals == [f"Sorry, I can't find a device called {said}."]


def test_area_calls_expand_to_exposed_entities_only():
    # An area alone would switch off everything in it; "all" is how a call says so.
    alone = resolve("HassTurnOff", area="Garage")
    assert alone.actions == [] and alone.question == "Which devices in Garage do you mean?"
    outcome = resolve("HassTurnOff", area="Garage", name="all")
    assert {a.entity_id for a in outcome.actions} == {
        "cover.garage_door",
        "light.garage",
        "vacuum.robot",
    }
    assert "switch.garage_heater" not in {a.entity_id for a in outcome.actions}
    lights = resolve("HassTurnOn", area="kitchen", domain="light")
    assert {a.entity_id for a in lights.actions} == {
        "light.kitchen_ceiling",
        "light.kitchen_counter",
    }
    upstairs = resolve("HassTurnOff", floor="upstairs", domain="light")
    assert len(upstairs.actions) == 8 and all(
        a.entity_id.startswith("light.") for a in upstairs.actions
    )


def test_missing_required_slot_becomes_a_question():
    outcome = resolve("HassClimateSetTemperature", name="Living Room Thermostat")
    assert outcome.actions == [] and outcome.question == "What temperature should I set?"
    assert resolve("HassTurnOn").question == "Which device do you mean?"


def test_ambiguous_name_becomes_a_question(tmp_path: Path):
    twin = tmp_path / "home.yaml"
    twin.write_text(
        "areas: [{id: a, name: Kitchen}, {id: b, name: Office}]\n"
        "entities:\n"
        "  - {id: light.one, name: Lamp, area: a}\n"
        "  - {id: light.two, name: Lamp, area: b}\n"
    )
    home = load_home(twin)
    outcome = resolve_calls([ToolCall("HassTurnOn", {"name": "lamp"})], home)
    assert outcome.actions == [] and outcome.question == (
        "Which lamp do you mean: the one in Kitchen or Office?"
    )
    narrowed = resolve_calls([ToolCall("HassTurnOn", {"name": "lamp", "area": "Office"})], home)
    assert [a.entity_id for a in narrowed.actions] == ["light.two"]


def test_slot_values_are_checked():
    assert resolve("HassLightSet", name="Floor Lamp", brightness="30%").actions[0].slots == {
        "name": "light.floor_lamp",
        "brightness": 30,
    }
    assert resolve("HassLightSet", name="Floor Lamp", brightness=250).refusals == [
        "That value must be between 0 and 100."
    ]
    assert resolve("HassSetVolume", name="TV", volume_level="loud").refusals
    assert resolve("HassStartTimer", minutes=5).actions[0].slots == {"minutes": 5}
    assert resolve("HassSelfDestruct", name="TV").refusals == ["I can't do that here."]


def test_a_question_holds_back_every_action():
    outcome = resolve_calls(
        [
            ToolCall("HassTurnOn", {"name": "Kettle"}),
            ToolCall("HassClimateSetTemperature", {"name": "Bedroom Thermostat"}),
        ],
        HOME,
    )
    assert outcome.actions == [] and outcome.question


def test_tools_offer_only_usable_intents_and_never_repeat_the_names():
    tools = {t["function"]["name"]: t["function"] for t in build_tools(HOME)}
    assert {
        "HassTurnOn",
        "HassLightSet",
        "HassClimateSetTemperature",
        "HassVacuumStart",
        "HassGetState",
        "HassStartTimer",
        "HassSetVolumeRelative",
        "HassMediaPrevious",
    } <= set(tools)
    # The device list names each device once; the tools do not repeat it.
    assert "Floor Lamp" not in json.dumps(tools)
    assert set(tools["HassLightSet"]["parameters"]["properties"]) == {
        "name",
        "area",
        "brightness",
        "color",
    }
    assert tools["HassClimateSetTemperature"]["parameters"]["required"] == ["temperature"]
    only_lights = load_home(HOME_FILE)
    only_lights.entities = {k: v for k, v in only_lights.entities.items() if k.startswith("light.")}
    assert "HassVacuumStart" not in {s.name for s in available_intents(only_lights)}
    assert "floor" not in tool_signatures(Home(entities=only_lights.entities))


def test_the_prompt_names_each_device_once_and_offers_every_tool_in_a_line():
    prompt = home_prompt("BASE", HOME)
    assert prompt.count("Floor Lamp") == 1
    signatures = tool_signatures(HOME)
    assert signatures in prompt
    assert "HassSetPosition {name, position* 0-100}" in signatures
    assert len(signatures.splitlines()) == len(available_intents(HOME))
    for made_up in ("Zorb Lamp", "Quux Blind"):  # the examples name no plausible device
        assert made_up in prompt and not HOME.find_entities(made_up)


def test_prompt_lists_the_home_stably_without_states():
    prompt = home_prompt("BASE", HOME)
    assert prompt.startswith("BASE\n\n") and "Kitchen (Ground floor):" in prompt
    assert "- Kitchen Light (also: kitchen ceiling light) [light]" in prompt
    assert "Garage Heater" not in prompt
    assert "playing" not in prompt and "locked" not in prompt  # no states
    reloaded = load_home(HOME_FILE)
    reloaded.states["light.kitchen_ceiling"] = "on"
    assert home_prompt("BASE", reloaded) == prompt  # states never change it


def test_a_list_item_starting_with_an_exclamation_mark_is_added():
    outcome = resolve("HassShoppingListAddItem", item="!important milk")
    assert outcome.refusals == [] and outcome.actions[0].slots == {"item": "!important milk"}


def test_volume_steps_and_ranges():
    assert resolve("HassSetVolumeRelative", name="TV", volume_step="Up").actions[0].slots == {
        "name": "media_player.living_room_tv",
        "volume_step": "up",
    }
    assert resolve("HassSetVolumeRelative", name="TV", volume_step=-20).actions
    assert resolve("HassSetVolumeRelative", name="TV", volume_step=-200).refusals
    assert resolve("HassSetVolumeRelative", name="TV").question


def test_calls_are_acted_on_only_when_the_request_mentions_their_target():
    from rk_assist.home.grounding import is_grounded

    def grounded(request, **arguments):
        return is_grounded(ToolCall("HassTurnOn", arguments), request, HOME)

    assert grounded("switch on the kitchen ceiling light", name="Kitchen Light")
    assert grounded("turn off the lights in the kitchen", area="Kitchen", domain="light")
    assert grounded("set the heating to 20", name="Living Room Thermostat")  # an alias said
    assert grounded("open the garage", name="Garage Door")
    assert not grounded("thank you", name="Office Heater")
    assert not grounded("good morning", name="Living Room Thermostat")
    assert not grounded("turn on the bedside lamp", name="Bedroom Thermostat")
    assert is_grounded(ToolCall("HassStartTimer", {"minutes": 5}), "a timer please", HOME)


def test_an_area_call_takes_the_kind_of_device_the_request_names():
    from rk_assist.home.grounding import narrowed

    def narrow(request, **arguments):
        return narrowed(ToolCall("HassTurnOff", arguments), request, HOME).arguments

    assert narrow("turn off the lights in the kitchen", area="Kitchen") == {
        "area": "Kitchen",
        "domain": "light",
    }
    assert narrow("close the blinds in the bedroom", area="Bedroom")["domain"] == "cover"
    assert narrow("switch off the kitchen", area="Kitchen") == {"area": "Kitchen"}
    assert narrow("turn off the lamp", name="Floor Lamp") == {"name": "Floor Lamp"}


def test_a_number_sent_through_another_domains_setter_uses_the_devices_own():
    outcome = resolve("HassLightSet", name="Ceiling Fan", brightness=50)
    assert [(a.intent, a.slots) for a in outcome.actions] == [
        ("HassFanSetSpeed", {"name": "fan.ceiling_fan", "percentage": 50})
    ]
    outcome = resolve("HassSetPosition", name="Living Room Thermostat", position=21)
    assert outcome.actions[0].intent == "HassClimateSetTemperature"
    assert outcome.actions[0].slots["temperature"] == 21
    # Not a setter slip: refused as before, never guessed.
    assert resolve("HassMediaPause", name="TV Backlight").actions == []


def test_an_area_in_the_name_slot_with_a_domain_is_the_area():
    outcome = resolve("HassTurnOff", name="Kitchen", domain="light")
    assert {a.entity_id for a in outcome.actions} == {
        "light.kitchen_ceiling",
        "light.kitchen_counter",
    }
    assert resolve("HassTurnOff", name="Kitchen").actions == []  # no domain: not guessed


def test_a_device_named_in_full_wins_over_another_the_model_picked():
    from rk_assist.home.grounding import named_in_request

    def held(request, intent="HassTurnOn", **arguments):
        return named_in_request(ToolCall(intent, arguments), request, HOME).arguments["name"]

    assert held("turn on the extractor fan", name="Bathroom Fan") == "Extractor Fan"
    assert held("please turn the study light on", name="Desk Lamp") == "Office Light"
    assert held("pause the tv", "HassMediaPause", name="TV Backlight") == "TV"
    # The model's own name is in the request, or the request names nothing in full: kept.
    assert held("shut off the extractor", name="Bathroom Fan") == "Bathroom Fan"
    assert held("turn on the kitchen light and the counter lights", name="Kitchen Light") == (
        "Kitchen Light"
    )
    assert held("make it brighter in here", name="Floor Lamp") == "Floor Lamp"


def test_a_device_named_in_full_wins_over_its_area_as_home_assistant_matches():
    from rk_assist.home.grounding import named_in_request

    def held(request, **arguments):
        return named_in_request(ToolCall("HassTurnOn", arguments), request, HOME).arguments

    assert held("please turn the bedroom light on", area="Bedroom", domain="light") == {
        "name": "Bedroom Light"
    }
    # The lights of the room (plural, or "in the"), not one of them.
    assert held("turn on the bedroom lights", area="Bedroom", domain="light") == {
        "area": "Bedroom",
        "domain": "light",
    }
    assert held("turn on the lights in the bedroom", area="Bedroom") == {"area": "Bedroom"}


def test_on_or_off_as_the_request_says_when_it_says_only_one():
    from rk_assist.home.grounding import verb_of_request

    def intent(request, called):
        return verb_of_request(ToolCall(called, {"name": "Curtains"}), request).name

    assert intent("open the curtains", "HassTurnOff") == "HassTurnOn"
    assert intent("unlock the front door", "HassTurnOn") == "HassTurnOff"
    assert intent("switch off all the lights in the office", "HassTurnOn") == "HassTurnOff"
    assert intent("open the blind and turn off the light", "HassTurnOff") == "HassTurnOff"
    assert intent("is the door open", "HassGetState") == "HassGetState"


def test_a_request_that_only_says_on_or_off_is_turned_on_or_off():
    from rk_assist.home.grounding import verb_of_request

    def held(request, intent, **arguments):
        call = verb_of_request(ToolCall(intent, arguments), request)
        return call.name, call.arguments

    assert held("kettle on", "HassGetState", name="Kettle") == ("HassTurnOn", {"name": "Kettle"})
    assert held("please turn the counter lights off", "HassLightSet", name="X", brightness=0) == (
        "HassTurnOff",
        {"name": "X"},
    )
    # A question, a number, or no on/off verb: the model's reading stands.
    assert held("is the kitchen light on", "HassGetState", name="X")[0] == "HassGetState"
    assert held("dim the lamp to 20", "HassLightSet", name="X", brightness=20)[0] == "HassLightSet"
    assert held("make the kitchen light red", "HassLightSet", name="X", color="red")[0] == (
        "HassLightSet"
    )
    assert held("open the garage", "HassVacuumStart", name="X")[0] == "HassVacuumStart"


def test_a_vacuum_sent_home_docks_and_one_told_to_clean_starts():
    from rk_assist.home.grounding import verb_of_request

    def intent(request, called):
        return verb_of_request(ToolCall(called, {"name": "Robot Vacuum"}), request).name

    assert intent("send the roomba home", "HassVacuumStart") == "HassVacuumReturnToBase"
    assert intent("return the vacuum to its dock", "HassVacuumStart") == "HassVacuumReturnToBase"
    assert intent("start the robot vacuum", "HassVacuumReturnToBase") == "HassVacuumStart"
    # Both kinds or neither: the model's reading stands.
    assert intent("start cleaning the whole home", "HassVacuumStart") == "HassVacuumStart"
    assert intent("roomba", "HassVacuumReturnToBase") == "HassVacuumReturnToBase"


def test_a_setter_sent_to_an_area_finds_the_device_named_in_full():
    from rk_assist.home.grounding import named_in_request

    call = named_in_request(
        ToolCall("HassSetPosition", {"name": "Living Room", "position": 21}),
        "set the living room thermostat to 21 degrees",
        HOME,
    )
    (action,) = resolve_calls([call], HOME).actions
    assert (action.intent, action.entity_id, action.slots["temperature"]) == (
        "HassClimateSetTemperature",
        "climate.living_room",
        21,
    )


def test_a_question_never_changes_the_home_and_toggle_is_asked_for_by_name():
    from rk_assist.home.grounding import asks_for_change, verb_of_request

    playing = ToolCall("HassMediaUnpause", {"name": "TV"})
    assert not asks_for_change(playing, "is the tv playing")
    assert asks_for_change(ToolCall("HassGetState", {"name": "TV"}), "is the tv playing")
    assert asks_for_change(playing, "resume the tv")
    assert asks_for_change(playing, "can you resume the tv")  # a request, not a question
    toggled = verb_of_request(ToolCall("HassTurnOff", {"name": "Porch Light"}), "toggle the porch")
    assert toggled.name == "HassToggle"
    (action,) = resolve_calls([toggled], HOME).actions
    assert (action.intent, action.entity_id) == ("HassToggle", "light.porch")


def test_only_the_numbers_the_request_says():
    from rk_assist.home.grounding import numbers_said

    def held(request, intent="HassLightSet", **arguments):
        return numbers_said(ToolCall(intent, arguments), request).arguments

    assert held("make the kitchen light red", name="K", brightness=100, color="red") == {
        "name": "K",
        "color": "red",
    }
    assert held("dim the reading lamp to 20 percent", name="R", brightness=20)["brightness"] == 20
    assert held("set the lamp to half", name="R", brightness=50)["brightness"] == 50
    assert held("a timer for five minutes", "HassStartTimer", hours=0, minutes=5) == {"minutes": 5}
    # A required value that was never said becomes a question back.
    call = numbers_said(ToolCall("HassSetPosition", {"name": "Curtains", "position": 30}), "open")
    assert resolve_calls([call], HOME).question == "How far should I open it, in percent?"


def test_a_light_set_to_nothing_is_a_question():
    outcome = resolve("HassLightSet", name="Desk Lamp")
    assert outcome.actions == [] and outcome.question == "What brightness or color should I set?"


def test_refusals_carry_a_typed_reason():
    from rk_assist.home.resolve import Reason

    assert resolve("HassTurnOn", name="Moon Lamp").reasons == [Reason.NAME]
    assert resolve("HassTurnOn", area="Dungeon", domain="light").reasons == [Reason.AREA]
    assert resolve("HassTurnOn", floor="Roof", domain="light").reasons == [Reason.FLOOR]
    assert resolve("HassLightSet", name="Floor Lamp", brightness=250).reasons == [
        Reason.INVALID_SLOT
    ]
    assert resolve("HassSelfDestruct", name="TV").reasons == [Reason.UNKNOWN_INTENT]
    asked = resolve("HassTurnOn")
    assert asked.question and asked.reasons == []  # a question is not a refusal


def test_a_name_read_back_from_the_prompt_is_said_without_its_notation():
    # Seen (0.5B, German): "Wohnzimmer Heizung (also: Heizung) [climate] existiert nicht".
    outcome = resolve("HassTurnOn", name="Attic Heater (also: Heater) [climate]")
    assert outcome.refusals == ["Sorry, I can't find a device called Attic Heater."]


def test_a_call_for_a_lock_or_door_the_request_did_not_name_is_told():
    """ "open the door", "unlock it": the model meant a sensitive device the person did not
    name plainly; the answer is the question to name it, not "no device called Door"."""
    assert meant_sensitive([ToolCall("HassTurnOff", {"name": "Front Door"})], HOME)
    assert meant_sensitive([ToolCall("HassTurnOn", {"name": "door"})], HOME)
    assert not meant_sensitive([ToolCall("HassTurnOn", {"name": "kitchen light"})], HOME)
    assert not meant_sensitive([ToolCall("HassTurnOn", {"name": "jacuzzi"})], HOME)
    assert not meant_sensitive([ToolCall("HassGetState", {"name": "Front Door"})], HOME)


def test_questions_back_say_what_they_ask_for():
    asked = resolve_calls([ToolCall("HassTurnOn", {})], HOME)
    assert asked.question_kind is Question.WHICH
    asked = resolve_calls([ToolCall("HassClimateSetTemperature", {"name": "Thermostat"})], HOME)
    assert asked.question_kind is Question.VALUE
    unlock = resolve_calls([ToolCall("HassTurnOff", {"name": "Front Door"})], HOME)
    unnamed = sensitive_as_said(unlock, "unlock it", HOME)
    assert unnamed.question_kind is Question.SENSITIVE and not unnamed.actions


def test_a_timer_only_where_one_is_asked_for():
    timer = ToolCall("HassStartTimer", {})
    assert not timer_asked_for(timer, "start the 3d printer")
    assert not timer_asked_for(timer, "Abre el trastero", "es")
    assert timer_asked_for(timer, "set a timer")
    assert timer_asked_for(timer, "Lance un minuteur de cinq minutes", "fr")


def test_a_name_only_locks_and_doors_share_is_no_device_of_its_own():
    assert names_sensitive_only("door", HOME) and names_sensitive_only("everything", HOME)
    assert not names_sensitive_only("garage", HOME)  # its heater and its door share it
    assert not names_sensitive_only("jacuzzi", HOME)


def test_a_device_class_no_device_has_is_left_out():
    """Seen: "resume playback in the bedroom" called with the class "media_player"."""
    call = ToolCall("HassMediaUnpause", {"name": "Bedroom Speaker", "device_class": "media_player"})
    outcome = resolve_calls([call], HOME)
    assert [a.entity_id for a in outcome.actions] == ["media_player.bedroom_speaker"]


def test_a_place_where_only_locks_and_doors_open():
    """ "open up the entrance": a place, and what opens there is a lock."""
    home = Home()
    home.areas["entrance"] = Area("entrance", "Entrance")
    home.areas["kitchen"] = Area("kitchen", "Kitchen")
    home.entities["lock.front"] = Entity("lock.front", "Front Door", area_id="entrance")
    home.entities["light.hall"] = Entity("light.hall", "Hall Light", area_id="entrance")
    home.entities["cover.blind"] = Entity(
        "cover.blind", "Kitchen Blind", area_id="kitchen", device_class="blind"
    )
    home.entities["lock.back"] = Entity("lock.back", "Back Door", area_id="kitchen")
    assert opens_only_sensitive("Entrance", home)
    assert not opens_only_sensitive("Kitchen", home)  # its blind opens too
    assert not opens_only_sensitive("Attic", home)


def test_a_call_with_no_target_takes_the_one_place_the_request_says():
    """Seen: "resume playback in the bedroom" called with no target; another player resumed."""
    home = Home()
    home.areas["bedroom"] = Area("bedroom", "Bedroom")
    home.entities["media_player.bedroom"] = Entity(
        "media_player.bedroom", "Bedroom Speaker", area_id="bedroom"
    )
    call = ToolCall("HassMediaUnpause", {})
    assert place_said(call, "resume playback in the bedroom", home).arguments == {"area": "Bedroom"}
    assert place_said(call, "resume playback", home) == call
    named = ToolCall("HassMediaUnpause", {"name": "Bedroom Speaker"})
    assert place_said(named, "resume the bedroom speaker in the bedroom", home) == named
