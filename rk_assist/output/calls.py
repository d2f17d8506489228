"""Reading the model's tool calls out of its text.

Qwen is trained to write ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``;
RKLLM 1.3's demos also show ``<function=NAME><parameter=K>V</parameter></function>``.
Real small Qwens mostly write the JSON bare, as an array, with doubled
braces, inside ``<tools>`` or a code fence. Small models slip further: single
quotes, trailing commas, a missing brace, the arguments as a JSON string, a
prefixed name. All of that is forgiven; anything that still is not a call is
reported, never guessed.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .speech import JSON_VALUE, BlockStripper

#: Home Assistant (2026.9 and later) prefixes the names of its LLM tools with this.
TOOL_PREFIX = "intent__"
_PARAMETER = re.compile(r"<parameter=([^>]+)>(.*?)(?:</parameter>|$)", re.S)


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


def canonical_intent(name: str) -> str:
    """The intent a tool name stands for: "intent__HassTurnOn" is HassTurnOn."""
    return name.removeprefix(TOOL_PREFIX)


def _loads_forgiving(text: str) -> Any:
    text = text.strip().strip("`")
    if text.startswith("json"):
        text = text[4:]
    attempts = [text]
    fixed = re.sub(r",\s*([}\]])", r"\1", text)  # trailing commas
    attempts.append(fixed)
    opened = fixed.count("{") - fixed.count("}")
    if opened > 0:
        attempts.append(fixed + "}" * opened)  # a missing closing brace or two
    for attempt in attempts:
        try:
            return json.loads(attempt)
        except ValueError:
            pass
    if text.startswith("{{"):
        # Doubled braces, as in a template: {{"name": ..., "arguments": {...}}}
        attempts.extend(_undoubled(fixed))
    for attempt in attempts:
        try:
            return json.loads(attempt)
        except ValueError:
            pass
    for attempt in attempts:
        try:  # single quotes, True/False: Python's literal syntax
            return ast.literal_eval(attempt)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
    raise ValueError(f"not JSON: {text[:80]!r}")


def _undoubled(text: str) -> list[str]:
    """Readings of ``{{...}}``: every brace doubled, or only the outer one."""
    every = text.replace("{{", "{").replace("}}", "}")
    outer = text[1:]
    extra = outer.count("}") - outer.count("{")
    if extra > 0 and outer.endswith("}" * extra):
        outer = outer[:-extra]
    return [every, outer]


def _split_values(text: str) -> list[str]:
    """Top-level ``{...}`` values in text that holds several (one a line, or comma separated)."""
    stripper = BlockStripper(blocks=())
    stripper.feed(text)
    stripper.finish()
    return [c for o, c in stripper.captured if o == JSON_VALUE and c.startswith("{")]


def _from_json_text(content: str) -> list[ToolCall]:
    """One call, an array of calls, or several objects in a row."""
    try:
        value = _loads_forgiving(content)
    except ValueError:
        parts = _split_values(content)
        if len(parts) < 2:
            raise
        return [_from_json_value(_loads_forgiving(part)) for part in parts]
    if isinstance(value, list):
        return [_from_json_value(item) for item in value]
    return [_from_json_value(value)]


def _from_json_value(value: Any) -> ToolCall:
    if isinstance(value, dict) and isinstance(value.get("function"), dict):
        value = value["function"]  # the OpenAI shape: {"type": "function", "function": {...}}
    if not isinstance(value, dict):
        raise ValueError("a tool call must be a JSON object")
    name = value.get("name") or value.get("function")
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):
        arguments = _loads_forgiving(arguments) if arguments.strip() else {}
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a tool call without a name")
    if not isinstance(arguments, dict):
        raise ValueError("tool call arguments must be an object")
    return ToolCall(canonical_intent(name.strip()), arguments)


def _from_function_block(content: str) -> ToolCall:
    name, _, rest = content.partition(">")
    arguments: dict[str, Any] = {}
    for key, value in _PARAMETER.findall(rest):
        value = value.strip()
        try:
            arguments[key.strip()] = json.loads(value)
        except ValueError:
            arguments[key.strip()] = value
    if not name.strip():
        raise ValueError("a function call without a name")
    return ToolCall(canonical_intent(name.strip()), arguments)


def parse_tool_calls(captured: list[tuple[str, str]]) -> tuple[list[ToolCall], list[str]]:
    """The calls in the captured hidden blocks, and what could not be read."""
    calls: list[ToolCall] = []
    problems: list[str] = []
    for opening, content in captured:
        try:
            if opening == "<function=":
                calls.append(_from_function_block(content))
            elif opening in _JSON_OPENINGS:
                body = content.strip().removeprefix("json").lstrip()
                if opening == "```" and not body.startswith(("{", "[")):
                    continue  # a code fence around something else: hidden, not a call
                calls.extend(_from_json_text(content))
        except ValueError as err:
            problems.append(str(err))
    return calls, problems


_JSON_OPENINGS = ("<tool_call>", "<tools>", "```", JSON_VALUE)
