"""Reading the model's tool calls out of its text.

Qwen writes ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``;
RKLLM 1.3's demos also show ``<function=NAME><parameter=K>V</parameter></function>``.
Small models slip: single quotes, trailing commas, a missing brace, the
arguments as a JSON string, a prefixed name. Those are forgiven; anything
that still is not a call is reported, never guessed.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .intents import canonical_intent

_PARAMETER = re.compile(r"<parameter=([^>]+)>(.*?)(?:</parameter>|$)", re.S)


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


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
    for attempt in attempts:
        try:  # single quotes, True/False: Python's literal syntax
            return ast.literal_eval(attempt)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            pass
    raise ValueError(f"not JSON: {text[:80]!r}")


def _from_json_block(content: str) -> ToolCall:
    value = _loads_forgiving(content)
    if not isinstance(value, dict):
        raise ValueError("a tool call must be a JSON object")
    name = value.get("name") or (value.get("function") or {}).get("name")
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
            if opening == "<tool_call>":
                calls.append(_from_json_block(content))
            elif opening == "<function=":
                calls.append(_from_function_block(content))
        except ValueError as err:
            problems.append(str(err))
    return calls, problems
