"""Home Assistant's requests on the HTTP doors, held to the home its prompt lists.

Through the Ollama and OpenAI doors Home Assistant asks for tool calls with
its own prompt (its devices) and tools. A request its own sentences match
("turn off the lights in the living room") is answered with that call at
once, shaped to the tool Home Assistant offered, in milliseconds instead of
a model's seconds and without a small model's slips. Anything else, and
anything sensitive the request does not name, goes to the model, whose
calls get the Wyoming door's care: held to the request's words, and only
on devices, areas and floors that exist; what cannot be done is said.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ..assistant.choices import meant_unnamed_sensitive
from ..home.changes import change_asked, state_needed
from ..home.clauses import as_described, read_again, requests_in
from ..home.descriptions import settled_by_description
from ..home.grounding import (
    held_to_request,
    sensitive_as_said,
    untargeted_media,
)
from ..home.intents import BY_NAME
from ..home.model import Home
from ..home.phrases import SAY_ITS_NAME, WHICH_DEVICE, phrase
from ..home.readings import quantity_asked, reading_asked, target_asked
from ..home.references import with_device
from ..home.request_words import with_digits
from ..home.resolve import Action, Question, resolve_calls
from ..home.responses import in_language, reading_sentence, state_sentence
from ..home.sentences import MEDIA_INTENTS, Understood, understand
from ..output.calls import ToolCall
from .ha_prompt import home_from_prompt, item_in_live_context, overview_items

_LOGGER = logging.getLogger(__name__)
LIVE_CONTEXT = "GetLiveContext"


def understood_calls(
    messages: list[Any], tools: tuple[dict[str, Any], ...], language: str
) -> list[ToolCall]:
    """The offered tools' calls for a new request the code settles without the model:
    one Home Assistant's sentences read, several said as one ("turn on the bed light and
    the fan"), one for the device named after the last request ("and the fan too"), a name
    one letter off put right, or a change by how much that needs no state ("halfway",
    "21 degrees in the lounge"). [] where the model is to answer."""
    if not tools or not messages or messages[-1].role != "user":
        return []
    system = messages[0].content if messages[0].role == "system" else ""
    home = home_from_prompt(system)
    if home is None:
        return []
    request = with_digits(messages[-1].content, language)
    call = _sentences_call(messages, tools, language, home)
    if call is not None:
        return [call]
    clauses = requests_in(request, language, home)
    calls = [_call_for(clause, messages, home, tools, language) for clause in clauses]
    if clauses and all(calls):
        _LOGGER.info("Several requests in one: %s", calls)
        return [call for call in calls if call is not None]
    previous = next((m.content for m in reversed(messages[:-1]) if m.role == "user"), None)
    for _how, text in read_again(request, language, home, previous):
        call = _call_for(text, messages, home, tools, language)
        if call is not None:
            return [call]
    call = _described_call(request, home, tools, language) or _change_call(
        request, home, tools, language
    )
    if call is not None:
        return [call]
    live = _offered(tools, LIVE_CONTEXT)
    needed = state_needed(request, home, language) if live is not None else None
    if live is not None and needed is not None:
        # "a little warmer": from what the thermostat is set to, which Home Assistant's
        # prompt does not say; its live context does (see changed_after_reading).
        call = ToolCall(live["function"]["name"], {"name": needed.name})
        _LOGGER.info("A change by how much, from the state the live context gives: %s", call)
        return [call]
    return []


def _described_call(
    request: str, home: Home, tools: tuple[dict[str, Any], ...], language: str
) -> ToolCall | None:
    """ "lock the entry lock": the one lock in the Entry, called as Home Assistant has it
    (``descriptions``); read without its verb too where that sets a level it says."""
    for described_home, text, _entity in as_described(request, language, home):
        understood = understand(text, language, described_home)
        if understood is not None and understood.named:
            call = _call_of(understood, described_home, tools, known=home)
            if call is not None:
                return call
    return None


def _change_call(
    request: str, home: Home, tools: tuple[dict[str, Any], ...], language: str
) -> ToolCall | None:
    change = change_asked(request, home, language)
    tool = _offered(tools, change.intent) if change is not None else None
    if change is None or tool is None or change.entity_id not in home.entities:
        return None
    slots = {**change.slots, "name": home.entities[change.entity_id].name}
    call = ToolCall(tool["function"]["name"], _shaped(slots, tool))
    _LOGGER.info("A change said by how much: %s", call)
    return call


def changed_after_reading(
    messages: list[Any], tools: tuple[dict[str, Any], ...], language: str
) -> ToolCall | None:
    """The call for a change by how much, once the live context gave the device's state
    it steps from (the round ``understood_calls`` asked for), or None."""
    if not tools or not messages or messages[-1].role != "tool" or messages[0].role != "system":
        return None
    asked = next((m for m in reversed(messages) if m.role == "assistant"), None)
    if asked is None or len(asked.tool_calls) != 1:
        return None
    name = str(call_arguments(asked.tool_calls[0]).get("name") or "")
    if call_name(asked.tool_calls[0]).rpartition("__")[2] != LIVE_CONTEXT or not name:
        return None
    home = home_from_prompt(messages[0].content)
    request = next((m.content for m in reversed(messages) if m.role == "user"), "")
    request = with_digits(request, language)
    needed = state_needed(request, home, language) if home is not None else None
    if home is None or needed is None or needed.name.casefold() != name.casefold():
        return None
    item = item_in_live_context(_result_text(messages[-1].content) or "", name)
    if item is None:
        return None
    known = replace(
        home,
        states={**home.states, needed.entity_id: str(item.get("state", ""))},
        attributes={**home.attributes, needed.entity_id: dict(item.get("attributes") or {})},
    )
    return _change_call(request, known, tools, language)


#: The live context's filter for the media players (``played_after_reading``).
_PLAYERS = {"domain": ["media_player"]}


def played_after_reading(
    messages: list[Any], tools: tuple[dict[str, Any], ...], language: str
) -> ToolCall | None:
    """The media call for the one player in use (playing; paused, to resume), once the
    live context gave the players' states (asked for a media order naming no player where
    Home Assistant would carry it out on every one: "turn the volume down to 30%"), or None."""
    if not tools or not messages or messages[-1].role != "tool" or messages[0].role != "system":
        return None
    asked = next((m for m in reversed(messages) if m.role == "assistant"), None)
    if asked is None or len(asked.tool_calls) != 1:
        return None
    call = asked.tool_calls[0]
    arguments = _scalars(call_arguments(call))
    if call_name(call).rpartition("__")[2] != LIVE_CONTEXT or arguments != _scalars(_PLAYERS):
        return None
    home = home_from_prompt(messages[0].content)
    request = next((m.content for m in reversed(messages) if m.role == "user"), "")
    understood = understand(with_digits(request, language), language, home) if home else None
    if home is None or understood is None or understood.intent not in MEDIA_INTENTS:
        return None
    items = overview_items(_result_text(messages[-1].content) or "") or []
    # The player in use: the one playing, or for "resume" the one paused.
    state = "paused" if understood.intent == "HassMediaUnpause" else "playing"
    in_use = [
        item
        for item in items
        if item.get("domain") == "media_player" and str(item.get("state")) == state
    ]
    if len(in_use) != 1:
        return None  # none, or several: the model's turn, held to the home
    name = str(in_use[0].get("names", "")).split(",")[0].strip()
    named = Understood(understood.intent, {**understood.slots, "name": name}, named=True)
    return _call_of(named, home, tools)


def _result_text(content: str) -> str | None:
    """The text of a tool result Home Assistant sends (its ``result``), or None."""
    try:
        result = json.loads(content)
    except ValueError:
        return None
    while isinstance(result, dict) and isinstance(result.get("data"), dict):
        result = result["data"]
    text = result.get("result") if isinstance(result, dict) else None
    return text if isinstance(text, str) else None


def _call_for(
    text: str, messages: list[Any], home: Home, tools: tuple[dict[str, Any], ...], language: str
) -> ToolCall | None:
    understood = understand(text, language, home)
    return _call_of(understood, home, tools) if understood is not None else None


def understood_call(
    messages: list[Any], tools: tuple[dict[str, Any], ...], language: str
) -> ToolCall | None:
    """The first of ``understood_calls``, or None."""
    calls = understood_calls(messages, tools, language)
    return calls[0] if calls else None


def _sentences_call(
    messages: list[Any], tools: tuple[dict[str, Any], ...], language: str, home: Home
) -> ToolCall | None:
    """The offered tool's call for a new request Home Assistant's sentences settle, or None."""
    # A thermostat's target before Home Assistant's sentences, which read it as the
    # room's temperature; what a sensor measures after them.
    call = _read_call(messages[-1].content, home, tools, language, target_asked)
    if call is not None:
        return call
    understood = understand(with_digits(messages[-1].content, language), language, home)
    if understood is None:
        understood = _by_reference(messages, home, language)
    if understood is None:
        return _read_call(messages[-1].content, home, tools, language, quantity_asked)
    return _call_of(understood, home, tools)


def _call_of(
    understood: Understood,
    home: Home,
    tools: tuple[dict[str, Any], ...],
    known: Home | None = None,
) -> ToolCall | None:
    """The offered tool's call for what Home Assistant's sentences read, where it settles
    the request (a state question: the live context's call for the device). ``known``:
    the home as Home Assistant's prompt lists it, where ``home`` names a device
    otherwise (by the request's description of it)."""
    tool = _offered(tools, understood.intent)
    if tool is None:
        live = _offered(tools, LIVE_CONTEXT)
        asks_place = "area" in understood.slots and "domain" in understood.slots
        if (
            understood.intent == "HassGetState"
            and live is not None
            and (understood.named or asks_place)
        ):
            # Home Assistant answers state questions through its live context: ask it for
            # the device, or a place's devices of the kind ("are any lights on in the
            # kitchen"); their states then come back and are said (see state_answer).
            # Seen before: the model answered "Yes," while the kitchen's lights were off.
            call = ToolCall(live["function"]["name"], _shaped(understood.slots, live))
            _LOGGER.info("A state question, asked through the live context: %s", call)
            return call
        return None
    untargeted = understood.intent in MEDIA_INTENTS and not any(
        key in understood.slots for key in ("name", "area", "floor")
    )
    # (A pause, a skip or a volume step with no player named is for the one playing: Home
    # Assistant knows which one plays, its prompt does not say.)
    if untargeted and not player_in_use_picked(understood.intent, known or home):
        # Home Assistant would set every player: which one plays, its live context says
        # (``played_after_reading`` then names it).
        live = _offered(tools, LIVE_CONTEXT)
        _LOGGER.info("%s with no player named: the players' states asked", understood.intent)
        return ToolCall(live["function"]["name"], _shaped(_PLAYERS, live)) if live else None
    acted_on: set[str] = set()
    if not untargeted:
        settled = _settled_on(understood.intent, understood.slots, understood.named, home)
        if settled is None:
            _LOGGER.info("Home Assistant's sentences read %s; left to the model", understood)
            return None
        acted_on = settled
    slots = _targeted(understood.slots, acted_on, known or home)
    call = ToolCall(tool["function"]["name"], _shaped(slots, tool))
    _LOGGER.info("Understood with Home Assistant's sentences: %s", call)
    return call


#: The media intents whose Home Assistant handler (2026.11) acts on the player playing where
#: none is named. Setting the volume, muting, or resuming with no player named (and none
#: paused by voice before) acts on every player.
_PICKS_PLAYER_IN_USE = frozenset(
    {"HassMediaPause", "HassMediaNext", "HassMediaPrevious", "HassSetVolumeRelative"}
)


def _read_request(messages: list[Any], language: str) -> tuple[Home, Understood] | None:
    """The home Home Assistant's prompt lists and its sentences' reading of the new request."""
    if not messages or messages[-1].role != "user" or messages[0].role != "system":
        return None
    home = home_from_prompt(messages[0].content)
    if home is None:
        return None
    understood = understand(with_digits(messages[-1].content, language), language, home)
    return (home, understood) if understood is not None else None


def which_one(messages: list[Any], language: str) -> str | None:
    """The question which one, read from the new request once, or None: where Home
    Assistant's sentences read it as naming a device several listed devices share and
    nothing said tells which ("Allume le plafonnier", one in the living room and one in
    the bedroom: the model could tell no better, the 1.5B answered "To turn on the
    plafonnier, you can use ..."), or as a media order naming no player that Home
    Assistant would carry out on every player its prompt lists ("turn the volume down to
    30%")."""
    read = _read_request(messages, language)
    if read is None:
        return None
    home, understood = read
    return _which_of_name(home, understood, language) or _player_unsaid(home, understood, language)


def _which_of_name(home: Home, understood: Understood, language: str) -> str | None:
    if not understood.named:
        return None
    outcome = resolve_calls([ToolCall(understood.intent, understood.slots)], home, language)
    if outcome.question_kind != Question.WHICH or outcome.question is None:
        return None
    return in_language(outcome, language).question


def _player_unsaid(home: Home, understood: Understood, language: str) -> str | None:
    if any(key in understood.slots for key in ("name", "area", "floor")):
        return None
    return None if player_in_use_picked(understood.intent, home) else phrase(WHICH_DEVICE, language)


def player_in_use_picked(intent: str, home: Home) -> bool:
    """Whether a media call with no player named reaches only the player meant: Home
    Assistant picks the one in use, or the home lists no more than one player."""
    if intent not in MEDIA_INTENTS or intent in _PICKS_PLAYER_IN_USE:
        return True
    return sum(entity.domain == "media_player" for entity in home.entities.values()) <= 1


def _targeted(slots: dict[str, Any], acted_on: set[str], known: Home) -> dict[str, Any]:
    """The slots naming their one device (``acted_on``) as Home Assistant knows it, with
    what tells it apart from others of its name (``Home.telling_apart``: Home Assistant
    refused "Smart Lock" as a duplicate, the lock's tamper sensor has its name)."""
    if not isinstance(slots.get("name"), str) or len(acted_on) != 1:
        return slots
    entity = known.entities.get(next(iter(acted_on)))
    if entity is None:
        return slots
    return {**slots, "name": entity.name, **known.telling_apart(entity)}


def _by_reference(messages: list[Any], home: Home, language: str) -> Understood | None:
    """A follow-up ("now turn it off") read with the one device the conversation's last
    call named, where Home Assistant's sentences then settle it on that device alone."""
    names = []
    for message in reversed(messages[:-1]):
        if message.role == "user" and names:
            break
        if message.role == "assistant":
            names += [call_arguments(call).get("name") for call in message.tool_calls]
    named = {str(name).casefold() for name in names if name}
    if len(named) != 1:
        return None
    entities = home.find_entities(named.pop())
    if len(entities) != 1 or entities[0].sensitive:
        return None
    for text in with_device(messages[-1].content, language, entities[0].name):
        understood = understand(text, language, home)
        if understood is not None and str(understood.slots.get("name", "")) == entities[0].name:
            _LOGGER.info("Read as referring to %s: %r", entities[0].name, text)
            return understood
    return None


def _read_call(
    request: str,
    home: Home,
    tools: tuple[dict[str, Any], ...],
    language: str,
    asked: Callable[[str, Home, str], Action | None],
) -> ToolCall | None:
    """The live-context call for a question about what a device measures or is set to
    (``home/readings.py``): its answer is then said from what Home Assistant gives."""
    live = _offered(tools, LIVE_CONTEXT)
    read = asked(request, home, language) if live is not None else None
    if live is None or read is None or read.entity_id not in home.entities:
        return None
    call = ToolCall(live["function"]["name"], {"name": home.entities[read.entity_id].name})
    _LOGGER.info("A question the live context answers: %s", call)
    return call


def _offered(tools: tuple[dict[str, Any], ...], intent: str) -> dict[str, Any] | None:
    return next((t for t in tools if t["function"]["name"].rpartition("__")[2] == intent), None)


def state_answer(messages: list[Any], language: str) -> str | None:
    """Home Assistant's sentence for a state it just gave for a named device, or None.

    The round must be a live-context call for one device by name, made for a
    request Home Assistant's sentences read as a state question.
    """
    if not messages or messages[-1].role != "tool":
        return None
    asked = next((m for m in reversed(messages) if m.role == "assistant"), None)
    if asked is None or len(asked.tool_calls) != 1:
        return None
    name = call_arguments(asked.tool_calls[0]).get("name")
    if call_name(asked.tool_calls[0]).rpartition("__")[2] != LIVE_CONTEXT:
        return None
    if not name:
        return _place_answer(messages, language)
    read = _reading_of(messages, str(name), language)
    if read is None and not _asks_state_of(messages, str(name), language):
        return None  # the live context was wanted for something else: the model answers
    text = _result_text(messages[-1].content)
    item = item_in_live_context(text, str(name)) if text is not None else None
    if item is None:
        return None
    if read is not None and read.reads:
        value = (item.get("attributes") or {}).get(read.reads)
        return reading_sentence(str(name), read.reads, value, language)
    state = item.get("state")
    return state_sentence(str(name), str(state), language) if state is not None else None


def _place_answer(messages: list[Any], language: str) -> str | None:
    """Home Assistant's sentence for a place's devices of a kind ("are any lights on in the
    kitchen"), from the live context it just gave: the first in the state asked about,
    else the first of them with its own state; None where the round was for something else."""
    request = next((m.content for m in reversed(messages) if m.role == "user"), "")
    home = home_from_prompt(messages[0].content) if messages[0].role == "system" else None
    understood = understand(request, language, home) if home is not None else None
    if understood is None or understood.intent != "HassGetState" or understood.named:
        return None
    area, kinds = understood.slots.get("area"), understood.slots.get("domain")
    if not isinstance(area, str) or kinds is None:
        return None
    kinds = {kinds} if isinstance(kinds, str) else set(kinds)
    text = _result_text(messages[-1].content) or ""
    there = [
        item
        for item in overview_items(text) or []
        if str(item.get("domain")) in kinds
        and area.casefold() in {a.strip().casefold() for a in str(item.get("areas", "")).split(",")}
    ]
    if not there:
        return None
    wanted = understood.slots.get("state")
    item = next((i for i in there if str(i.get("state")) == wanted), there[0])
    names = [n.strip() for n in str(item.get("names", "")).split(",") if n.strip()]
    return state_sentence(names[0], str(item.get("state")), language) if names else None


def _reading_of(messages: list[Any], name: str, language: str) -> Action | None:
    """The reading the person's question asks of the device ``name``, or None."""
    request = next((m.content for m in reversed(messages) if m.role == "user"), "")
    home = home_from_prompt(messages[0].content) if messages[0].role == "system" else None
    read = reading_asked(request, home, language) if home is not None else None
    if read is None or home is None or read.entity_id not in home.entities:
        return None
    return read if home.entities[read.entity_id].name.casefold() == name.casefold() else None


def _asks_state_of(messages: list[Any], name: str, language: str) -> bool:
    """Whether the person's request is a state question about the device ``name``."""
    request = next((m.content for m in reversed(messages) if m.role == "user"), "")
    home = home_from_prompt(messages[0].content) if messages[0].role == "system" else None
    understood = understand(request, language, home) if home is not None else None
    return (
        understood is not None
        and understood.intent == "HassGetState"
        and str(understood.slots.get("name", "")).casefold() == name.casefold()
    )


def call_name(call: Any) -> str:
    """The function name of an OpenAI-shaped call a message carries."""
    function = call.get("function") if isinstance(call, Mapping) else None
    return str((function or {}).get("name", ""))


def call_arguments(call: Any) -> dict[str, Any]:
    """The arguments of an OpenAI-shaped call (OpenAI clients send them as JSON text)."""
    function = call.get("function") if isinstance(call, Mapping) else None
    arguments = (function or {}).get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return {}
    return arguments if isinstance(arguments, dict) else {}


def _settled_on(intent: str, slots: dict[str, Any], named: bool, home: Home) -> set[str] | None:
    """The devices the call acts on, where it acts, asks nothing, and touches nothing
    sensitive unnamed; else None."""
    outcome = resolve_calls([ToolCall(intent, slots)], home)
    if not outcome.actions or outcome.question or outcome.refusals:
        return None
    acted_on = [home.entities.get(action.entity_id or "") for action in outcome.actions]
    if not named and any(entity is not None and entity.sensitive for entity in acted_on):
        return None
    return {action.entity_id for action in outcome.actions if action.entity_id}


def _shaped(slots: dict[str, Any], tool: dict[str, Any]) -> dict[str, Any]:
    """The slots the tool declares, typed as its JSON schema says (Home Assistant's
    domain and device_class are lists; a whole number is an integer)."""
    parameters = tool["function"].get("parameters") or {}
    properties = parameters.get("properties") or {}
    arguments: dict[str, Any] = {}
    for slot, value in slots.items():
        schema = properties.get(slot)
        if not isinstance(schema, dict):
            continue
        types = schema.get("type")
        types = set(types) if isinstance(types, list) else {types}
        if "array" in types and not isinstance(value, list):
            value = [value]
        elif isinstance(value, float) and value.is_integer() and "number" not in types:
            value = int(value)
        value = _allowed(value, schema)
        if value is not None:
            arguments[slot] = value
    return arguments


def _allowed(value: Any, schema: dict[str, Any]) -> Any:
    """The value held to the values the tool's schema allows (its ``enum``, of the value
    or of its items); None where nothing allowed is left. Seen: a device class
    "media_player" (a domain) sent for "resume playback in the bedroom", and the call
    refused by Home Assistant ("Sorry, that did not work.")."""
    items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
    if isinstance(value, list) and isinstance(items.get("enum"), list):
        kept = [item for item in value if item in items["enum"]]
        return kept or None
    if isinstance(schema.get("enum"), list) and value not in schema["enum"]:
        return None
    return value


def checked_calls(
    calls: list[ToolCall], messages: list[Any], tools: tuple[dict[str, Any], ...], language: str
) -> tuple[list[ToolCall], str]:
    """The model's calls that may go to Home Assistant, and the words said for the rest.

    Without Home Assistant's device list in the prompt (another client), the
    calls go as they are. Milliseconds; run it off the event loop.
    """
    system = messages[0].content if messages and messages[0].role == "system" else ""
    home = home_from_prompt(system)
    request = next((m.content for m in reversed(messages) if m.role == "user"), "")
    offered = {tool["function"]["name"] for tool in tools}
    if home is None or not calls:
        return [call for call in calls if call.name in offered], ""
    by_bare = {tool["function"]["name"].rpartition("__")[2]: tool for tool in tools}
    bare = [ToolCall(call.name.rpartition("__")[2], _scalars(call.arguments)) for call in calls]
    bare = untargeted_media(bare, request, language)
    sent, words = [], []
    held = settled_by_description(held_to_request(bare, request, home, language), request, home)
    if not held and meant_unnamed_sensitive(request, language, bare, home):
        words.append(phrase(SAY_ITS_NAME, language))
    for call in held:
        acted_on: set[str] = set()
        tool = by_bare.get(call.name)
        if tool is None:
            continue
        targeted = any(key in call.arguments for key in ("name", "area", "floor"))
        if not targeted and not player_in_use_picked(call.name, home):
            words.append(phrase(WHICH_DEVICE, language))
            continue
        if call.name in BY_NAME and (targeted or call.name not in MEDIA_INTENTS):
            # (A media call with no target is for the player in use: Home Assistant
            # knows which one plays, its prompt does not say.)
            outcome = in_language(
                sensitive_as_said(resolve_calls([call], home, language), request, home, language),
                language,
            )
            if outcome.question or outcome.refusals:
                words += [outcome.question] if outcome.question else outcome.refusals
                continue
            settled = _settled_on(call.name, call.arguments, "name" in call.arguments, home)
            if settled is None:
                words.append(phrase(SAY_ITS_NAME, language))
                continue
            acted_on = settled
        arguments = _targeted(call.arguments, acted_on, home)
        sent.append(ToolCall(tool["function"]["name"], _shaped(arguments, tool)))
    if [c.name for c in sent] != [c.name for c in calls] or words:
        _LOGGER.info("The model's calls %s, held to the home: %s; said: %s", calls, sent, words)
    return sent, " ".join(dict.fromkeys(words))


def _scalars(arguments: dict[str, Any]) -> dict[str, Any]:
    """Home Assistant's one-item lists (``"domain": ["light"]``) as the values they hold."""
    return {
        key: value[0] if isinstance(value, list) and len(value) == 1 else value
        for key, value in arguments.items()
    }
