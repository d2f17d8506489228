"""The shape of an answer to a client that offers tools, from the tools' own schemas.

The Wyoming door holds the model to its own call grammar; the HTTP doors
took whatever the model wrote and checked it afterwards, and a small model
wrote calls to floors and areas that do not exist ("I don't know a floor
called Kitchen" was spoken), braces, and arguments of the wrong kind. Here
the client's tools (Home Assistant's Assist API, Extended OpenAI
Conversation's functions, plain OpenAI tools) become the same kind of
pattern as ``home/call_grammar.py``: an answer is words, or calls of offered
tools (in Qwen's ``<tool_call>`` blocks or bare) whose arguments follow each tool's
JSON schema (enums, numbers, booleans, arrays of enums), with device, area
and floor names limited to those Home Assistant's prompt lists. The model
still chooses: greedy calls, free words; ``tool_choice`` narrows it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from ..home.call_grammar import (
    FREE_TEXT,
    INTEGER_VALUE,
    NUMBER_VALUE,
    SPEECH,
    Alt,
    Lit,
    Pattern,
    Ref,
    Repeat,
    _slot_lists,
    alt,
    constraint_of,
    seq,
)
from ..home.model import Home
from ..runtimes.base import OutputConstraint

#: At most this many calls in one answer.
MOST_CALLS = 4
#: At most this many items in an array argument ("domain": ["light", "switch"]).
_MOST_ITEMS = 4


def client_constraint(
    tools: Iterable[dict[str, Any]], home: Home | None, tool_choice: Any = None
) -> OutputConstraint | None:
    """The answers the offered tools allow (words, or their calls), or None where no tool
    can be written (a schema this does not read: the answer is checked afterwards)."""
    calls = []
    chosen = _chosen(tool_choice)
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            continue
        if chosen is not None and function["name"] != chosen:
            continue
        call = _call_of(function, home)
        if call is not None:
            calls.append(call)
    if not calls:
        return None
    call = Ref("call", alt(calls))
    # Qwen's own tags, or the bare JSON line a small Qwen writes as often (held to the
    # tags alone, the 0.5B said "Pause the music" instead of calling).
    block = Ref("block", alt((seq(Lit("<tool_call>\n"), call, Lit("\n</tool_call>")), call)))
    answer = seq(block, Repeat(seq(Lit("\n"), block), 0, MOST_CALLS - 1))
    if tool_choice == "required" or chosen is not None:
        return constraint_of(answer)
    return constraint_of(Alt((answer, SPEECH)))


def _chosen(tool_choice: Any) -> str | None:
    """The one tool ``tool_choice`` names (OpenAI's ``{"type": "function", ...}``), or None."""
    if isinstance(tool_choice, dict):
        function = tool_choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return function["name"]
    return None


def _call_of(function: dict[str, Any], home: Home | None) -> Pattern | None:
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    required = set(parameters.get("required") or ())
    if not isinstance(properties, dict):
        return None
    slots: list[tuple[str, Pattern]] = []
    for key, schema in properties.items():
        value = _value_of(key, schema, home) if isinstance(schema, dict) else None
        if value is None:
            if key in required:
                return None  # a required argument this cannot write: left unconstrained
            continue
        slots.append((key, value))
    head = Lit(f'{{"name": {json.dumps(function["name"])}, "arguments": {{')
    arguments = _slot_lists(slots, required)
    if arguments is None:
        return seq(head, Lit("}}"))
    if not required:
        # No argument needed: "pause the music" is the player that plays.
        arguments = Repeat(arguments, 0, 1)
    return seq(head, arguments, Lit("}}"))


def _value_of(key: str, schema: dict[str, Any], home: Home | None) -> Pattern | None:
    """A pattern for one argument's value, from its JSON schema (and the home's names)."""
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return _choice(str(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        if home is None or key not in _LISTED:
            return FREE_TEXT
        listed = _listed(key, home)
        return _choice(listed) if listed else None  # none listed: never written
    if kind == "integer":
        return INTEGER_VALUE
    if kind == "number":
        return NUMBER_VALUE
    if kind == "boolean":
        return Ref("bool", alt((Lit("true"), Lit("false"))))
    if kind == "array" and isinstance(schema.get("items"), dict):
        item = _value_of(key, schema["items"], home)
        if item is None:
            return None
        more = Repeat(seq(Lit(", "), item), 0, _MOST_ITEMS - 1)
        return seq(Lit("["), item, more, Lit("]"))
    return None


#: The arguments whose values Home Assistant's prompt lists.
_LISTED = ("name", "area", "floor", "domain")


def _listed(key: str, home: Home) -> list[str]:
    """The names Home Assistant's prompt lists for a device, area, floor or domain."""
    if key == "domain":
        return sorted({entity.domain for entity in home.entities.values()})
    if key == "name":
        return [n for entity in home.entities.values() for n in entity.names]
    if key == "area":
        return [n for area in home.areas.values() for n in (area.name, *area.aliases)]
    if key == "floor":
        return [n for floor in home.floors.values() for n in (floor.name, *floor.aliases)]
    return []


def _choice(values: Iterable[str]) -> Pattern:
    """One of the values as JSON strings, under a rule named by its contents (GBNF writes
    each rule once, so one list is one rule however many tools use it)."""
    names = sorted(set(values), key=lambda v: (v.lower(), v))
    digest = hashlib.sha1("\n".join(names).encode()).hexdigest()[:10]
    return Ref(f"c{digest}", alt(Lit(json.dumps(v, ensure_ascii=False)) for v in names))
