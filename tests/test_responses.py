"""Home Assistant's own confirmation, in the request's language, as the intent's text.

Home Assistant renders the text with its template engine (a sandboxed Jinja2
environment) and the context its Wyoming agent builds: ``slots`` (the
intent's slots), ``state`` (the first matched state) and ``query``. These
tests render it the same way, with a state as Home Assistant's template
state presents it, so a template that would fail or say nothing there fails
here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from rk_assist.assistant.replies import NO_ANSWER, sentence
from rk_assist.home.intents import BY_NAME, INTEGER, NUMBER, PERCENT, STEP, TEXT
from rk_assist.home.model import load_home
from rk_assist.home.resolve import Action, resolve_calls
from rk_assist.home.responses import confirmation, in_language, state_sentence
from rk_assist.http.chat import ChatRequest, ReplyReader, words_for_tool_results
from rk_assist.output.calls import ToolCall
from rk_assist.runtimes.base import ChatMessage

HOME = load_home(Path(__file__).parent.parent / "eval" / "house-en" / "home.yaml")
LANGUAGES = ("en", "de", "fr", "es", "it", "nl")


@dataclass
class TemplateState:
    """The attributes of Home Assistant's TemplateState that response templates read."""

    entity_id: str
    name: str
    state: str

    @property
    def domain(self) -> str:
        return self.entity_id.split(".", 1)[0]

    @property
    def state_with_unit(self) -> str:
        return self.state


def render(text: str, action: Action) -> str:
    """As Home Assistant's Wyoming agent renders an intent's text."""
    entity = HOME.entities[action.entity_id] if action.entity_id else None
    state = (
        TemplateState(entity.entity_id, entity.name, HOME.states.get(entity.entity_id, "on"))
        if entity
        else None
    )
    environment = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    rendered = environment.from_string(text).render(
        slots=dict(action.slots), state=state, query={"matched": [state], "unmatched": []}
    )
    return " ".join(rendered.split())


def acted(intent: str, **arguments) -> list[Action]:
    outcome = resolve_calls([ToolCall(intent, arguments)], HOME)
    assert outcome.actions, (intent, arguments, outcome)
    return outcome.actions


COMMANDS = [
    ("HassTurnOn", {"name": "Kitchen Light"}),
    ("HassTurnOff", {"name": "Kitchen Light"}),
    ("HassTurnOn", {"area": "Kitchen", "domain": "light"}),
    ("HassTurnOn", {"name": "Front Door"}),
    ("HassTurnOff", {"name": "Front Door"}),
    ("HassTurnOn", {"name": "Garage Door"}),
    ("HassLightSet", {"name": "Kitchen Light", "brightness": 40}),
    ("HassGetState", {"name": "Front Door"}),
    ("HassMediaPause", {"name": "TV"}),
    ("HassSetVolume", {"name": "TV", "volume_level": 30}),
    ("HassClimateSetTemperature", {"name": "Living Room Thermostat", "temperature": 21}),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("intent", "arguments"), COMMANDS)
def test_every_command_gets_a_sentence_in_the_request_language(language, intent, arguments):
    actions = acted(intent, **arguments)
    text = confirmation(actions, language, HOME)
    assert text, (language, intent)
    spoken = render(text, actions[0])
    assert spoken and "{" not in spoken and "light." not in spoken, spoken
    assert "lock." not in spoken and "cover." not in spoken  # names, never entity ids


def test_english_sentences_say_what_home_assistant_says():
    def said(intent: str, **arguments) -> str:
        actions = acted(intent, **arguments)
        return render(confirmation(actions, "en", HOME) or "", actions[0])

    assert said("HassTurnOn", name="Kitchen Light") == "Turned on the light"
    assert said("HassTurnOn", area="Kitchen", domain="light") == "Turned on the lights"
    assert said("HassTurnOn", name="Front Door") == "Locking"
    assert said("HassTurnOff", name="Front Door") == "Unlocking"
    assert said("HassLightSet", name="Kitchen Light", brightness=40) == "Brightness set"
    state = HOME.states.get("lock.front_door", "on")
    assert said("HassGetState", name="Front Door").lower() == f"front door is {state}"


def test_german_names_the_device_as_the_user_knows_it():
    actions = acted("HassTurnOn", name="Coffee Machine")
    assert render(confirmation(actions, "de", HOME) or "", actions[0]) == (
        "Coffee Machine eingeschaltet"
    )
    lights = acted("HassTurnOn", name="Kitchen Light")
    assert render(confirmation(lights, "de", HOME) or "", lights[0]) == "Licht eingeschaltet"


@pytest.mark.parametrize(("language", "uses"), [("de-DE", "de"), ("pt_BR", "pt-BR"), ("xx", "en")])
def test_a_regional_or_unknown_language_falls_back_to_the_nearest(language, uses):
    actions = acted("HassMediaPause", name="TV")
    assert confirmation(actions, language, HOME) == confirmation(actions, uses, HOME)


def test_every_offered_intent_with_a_sentence_renders_in_english():
    """No template of an intent rk-assist offers fails to render with what HA provides."""
    samples = {PERCENT: 40, NUMBER: 21, INTEGER: 3, STEP: "up", TEXT: "milk"}
    for spec in BY_NAME.values():
        slots = {"name": "light.kitchen_ceiling"} | {
            slot: samples[kind] for slot, kind in spec.slots.items()
        }
        action = Action(spec.name, slots, "light.kitchen_ceiling")
        text = confirmation([action], "en", HOME)
        if text is not None and spec.name not in ("HassClimateGetTemperature",):
            assert render(text, action), spec.name


def test_a_media_request_naming_no_player_is_for_the_one_playing():
    playing = [e for e, state in HOME.states.items() if e.startswith("media_player.")]
    home = load_home(Path(__file__).parent.parent / "eval" / "house-en" / "home.yaml")
    players = [e for e in home.entities if e.startswith("media_player.")]
    assert len(players) >= 2, playing
    for player in players:
        home.states[player] = "idle"
    home.states[players[1]] = "playing"
    outcome = resolve_calls([ToolCall("HassMediaPause", {})], home)
    assert [a.entity_id for a in outcome.actions] == [players[1]]
    home.states[players[0]] = "playing"  # two playing: which one?
    assert resolve_calls([ToolCall("HassMediaPause", {})], home).question
    home.states[players[0]] = "paused"
    home.states[players[1]] = "idle"
    outcome = resolve_calls([ToolCall("HassMediaUnpause", {})], home)
    assert [a.entity_id for a in outcome.actions] == [players[0]]
    # Not a way around naming: a player that is named but unknown is still refused.
    assert resolve_calls([ToolCall("HassMediaPause", {"name": "Attic Radio"})], home).refusals


# -- the HTTP doors: Home Assistant runs the tools, the answer is still words --------


def round_trip(result: dict, tool: str = "intent__HassTurnOn") -> tuple[ChatMessage, ...]:
    call = {"type": "function", "function": {"name": tool, "arguments": {"name": "Kitchen"}}}
    return (
        ChatMessage("user", "turn on the kitchen light"),
        ChatMessage("assistant", "", (call,)),
        ChatMessage("tool", json.dumps(result)),
    )


HA_SUCCESS = {
    "speech": {},
    "response_type": "action_done",
    "data": {
        "targets": [],
        "success": [{"name": "Kitchen Light", "type": "entity", "id": "light.kitchen"}],
        "failed": [],
    },
    "language": "en",
}


@pytest.mark.parametrize(
    ("result", "language", "words"),
    [
        (HA_SUCCESS, "en", "Turned on the light"),
        (HA_SUCCESS, "de", "Licht eingeschaltet"),
        ({"data": HA_SUCCESS}, "en", "Turned on the light"),
        ({"error": True, "error_text": "no device"}, "en", "Sorry, that did not work."),
        ({"data": {"success": [], "failed": [{"name": "X", "id": "light.x"}]}}, "en", "Sorry"),
    ],
)
def test_a_tool_result_becomes_home_assistants_sentence(result, language, words):
    said = words_for_tool_results(round_trip(result), language)
    assert said is not None and said.startswith(words), said


def test_no_words_are_made_up_for_what_is_not_a_tool_round_trip():
    assert words_for_tool_results((ChatMessage("user", "hi"),), "en") is None
    odd = round_trip({"weather": "sunny"})
    assert words_for_tool_results(odd, "en") is None
    state = round_trip(HA_SUCCESS, tool="intent__HassGetState")
    assert words_for_tool_results(state, "en") is None  # its sentence is a state it lacks


def test_json_that_is_no_call_is_never_content():
    chat = ChatRequest(
        model="m",
        messages=round_trip(HA_SUCCESS),
        tools=({"type": "function", "function": {"name": "intent__HassTurnOn"}},),
    )
    reader = ReplyReader(chat)
    piece = reader.feed('{"data": {"speech": {}, "success": [1]}} Done')
    last = reader.finish()
    assert "{" not in piece.content + last.content
    assert not piece.tool_calls and not last.tool_calls


def test_only_offered_tools_with_their_declared_arguments_come_back():
    tool = {
        "type": "function",
        "function": {
            "name": "intent__HassTurnOn",
            "parameters": {
                "type": "object",
                "properties": {"name": {"type": ["string", "null"]}, "area": {"type": "string"}},
            },
        },
    }
    chat = ChatRequest(model="m", messages=(ChatMessage("user", "x"),), tools=(tool,))
    reader = ReplyReader(chat)
    text = (
        '<tool_call>{"name": "HassTurnOn", "arguments": {"name": "Lamp", "floor": "Attic"}}'
        '</tool_call><tool_call>{"name": "HassUnlockEverything", "arguments": {}}</tool_call>'
    )
    calls = reader.feed(text).tool_calls + reader.finish().tool_calls
    assert [(c.name, c.arguments) for c in calls] == [("intent__HassTurnOn", {"name": "Lamp"})]


def test_every_result_in_words_or_none():
    assert words_for_tool_results(round_trip(HA_SUCCESS), "en", every=True).startswith("Turned on")
    failed = round_trip({"error": True, "error_text": "The floor does not exist"})
    assert words_for_tool_results(failed, "en", every=True) is None  # the model may try again
    state = round_trip(HA_SUCCESS, tool="intent__HassGetState")
    assert words_for_tool_results(state, "en", every=True) is None


def test_a_call_made_already_in_the_turn_is_not_made_again():
    # Seen with Home Assistant's Ollama integration: the 0.5B Qwen answered every tool
    # result with the same call, and Home Assistant ran it ten times, then gave up.
    tool = {"type": "function", "function": {"name": "intent__HassTurnOn"}}
    chat = ChatRequest(model="m", messages=round_trip({"error": True}), tools=(tool,))
    reader = ReplyReader(chat)
    text = (
        '<tool_call>{"name": "intent__HassTurnOn", "arguments": {"name": "Kitchen"}}</tool_call>'
        '<tool_call>{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}</tool_call>'
    )
    calls = reader.feed(text).tool_calls + reader.finish().tool_calls
    assert [(c.name, c.arguments) for c in calls] == [
        ("intent__HassTurnOn", {"name": "Kitchen Light"})
    ]


def test_an_area_result_takes_the_sentence_for_several():
    # Seen with a real Home Assistant: the area came first in `success` and the
    # sentence read "Turned off None".
    result = {
        "data": {
            "success": [
                {"name": "Living Room", "type": "area", "id": "living_room"},
                {"name": "Ceiling Lights", "type": "entity", "id": "light.ceiling_lights"},
            ],
            "failed": [],
        },
        "error": False,
    }
    said = words_for_tool_results(round_trip(result, "intent__HassTurnOff"), "en")
    assert said == "Turned off the lights"


def test_a_sentence_that_names_a_tool_is_never_content():
    # Seen with Home Assistant's llama_cpp integration: "what can you do" read its prompt back.
    tools = ({"type": "function", "function": {"name": "intent__HassTurnOn"}},)
    chat = ChatRequest(model="m", messages=(ChatMessage("user", "what can you do"),), tools=tools)
    reader = ReplyReader(chat)
    text = "I can control your home. Use intent__HassTurnOff to unlock a lock. Ask me anything!"
    parts = [text[i : i + 7] for i in range(0, len(text), 7)]  # streamed in small pieces
    content = "".join(reader.feed(part).content for part in parts) + reader.finish().content
    assert "intent__" not in content and "unlock a lock" not in content
    assert content == "I can control your home. Ask me anything!"


@pytest.mark.parametrize(
    ("call", "language", "said"),
    [
        (ToolCall("HassTurnOn", {"name": "Jacuzzi"}), "de", "Jacuzzi existiert nicht"),
        (
            ToolCall("HassTurnOn", {"area": "Dachboden", "domain": "light"}),
            "es",
            "Lo siento, no conozco ningún área llamada Dachboden",
        ),
        (
            ToolCall("HassTurnOn", {"name": "Jacuzzi"}),
            "en",
            "Sorry, I can't find a device called Jacuzzi.",
        ),
    ],
)
def test_a_refusal_is_said_in_the_requests_language(call, language, said):
    assert in_language(resolve_calls([call], HOME), language).refusals == [said]


def test_the_services_sentences_fall_back_on_home_assistants_in_other_languages():
    assert sentence(NO_ANSWER, "de") == "Entschuldigung, das habe ich nicht verstanden"
    assert sentence(NO_ANSWER, "xx") == sentence(NO_ANSWER, "en")  # no such language: English


def test_a_result_that_names_no_device_id_is_left_to_the_model():
    # Seen in CI: {"success": [{"name": "Kitchen Light"}]} became "Turned on None".
    result = {"data": {"success": [{"name": "Kitchen Light"}]}}
    assert words_for_tool_results(round_trip(result), "en", every=True) is None


def test_numbers_reach_the_templates_as_text_as_home_assistant_fills_them():
    from rk_assist.home.responses import heard

    # Home Assistant's German timer sentence looks for "Stunde" in the minutes: a number
    # there raised, and the turn said nothing. Its English one says "1 minute" for "1".
    german = confirmation([Action("HassStartTimer", {"minutes": 5})], "de", None)
    assert heard(german, [], None) == "Timer für 5 Minuten gestartet"
    english = confirmation([Action("HassStartTimer", {"minutes": 1})], "en", None)
    assert heard(english, [], None) == "Timer set for 1 minute"


def test_a_value_set_over_the_http_doors_is_said_with_its_own_sentence():
    # Seen in a real Home Assistant (Ollama and llama_cpp doors): "set the kitchen lights to
    # 50 percent" set them, and "Sorry, I have no answer to that." was said.
    call = {
        "type": "function",
        "function": {
            "name": "light__HassLightSet",
            "arguments": {"name": "Kitchen", "brightness": 50},
        },
    }
    messages = (
        ChatMessage("user", "set the kitchen lights to 50 percent"),
        ChatMessage("assistant", "", (call,)),
        ChatMessage("tool", json.dumps(HA_SUCCESS)),
    )
    assert words_for_tool_results(messages, "en", every=True) == "Brightness set"
    assert words_for_tool_results(messages, "de", every=True) == "Helligkeit eingestellt"


def test_a_state_is_said_in_the_requests_language():
    """Home Assistant's state sentence says the raw state: "Keukenlamp is off"."""
    assert state_sentence("Keukenlamp", "off", "nl") == "Keukenlamp is uit"
    assert state_sentence("Stehlampe", "on", "de") == "Stehlampe ist an"
    assert state_sentence("Kitchen light", "off", "en") == "Kitchen light is off"
