"""Answers to a client that offers tools, held to the tools' own schemas (issue 30).

Seen in a real Home Assistant through its Ollama and llama_cpp integrations: calls
naming floors and areas that do not exist ("I don't know a floor called Kitchen"),
"}" spoken, arguments of the wrong kind. The pattern is checked here with the
Python follower and with llama.cpp's own grammar parser, token by token.
"""

from __future__ import annotations

import pytest

from rk_assist.home.call_grammar import CallMatcher
from rk_assist.http.ha_prompt import home_from_prompt
from rk_assist.http.tool_grammar import client_constraint

from .test_call_grammar import assert_grammar_takes, vocab_only_model
from .test_ha_prompt import HA_PROMPT, TARGETS, tool

HOME = home_from_prompt(HA_PROMPT)
TOOLS = (
    tool("intent__HassTurnOn", TARGETS),
    tool("intent__HassTurnOff", TARGETS),
    {
        "type": "function",
        "function": {
            "name": "intent__HassSetPosition",
            "parameters": {
                "type": "object",
                "properties": {**TARGETS, "position": {"type": "integer"}},
                "required": ["position"],
            },
        },
    },
    tool("intent__HassMediaPause", {**TARGETS, "media_class": {"enum": ["music", "podcast"]}}),
    tool("homeassistant__GetLiveContext"),
)
GOOD = [
    '<tool_call>\n{"name": "intent__HassTurnOn", "arguments": {"name": "Kitchen Lights"}}\n'
    "</tool_call>",
    '<tool_call>\n{"name": "intent__HassTurnOff", "arguments": {"area": "Kitchen", '
    '"domain": ["light"]}}\n</tool_call>',
    '<tool_call>\n{"name": "intent__HassSetPosition", "arguments": {"name": "Garage Door", '
    '"position": 50}}\n</tool_call>',
    '<tool_call>\n{"name": "homeassistant__GetLiveContext", "arguments": {}}\n</tool_call>\n'
    '<tool_call>\n{"name": "intent__HassTurnOn", "arguments": {"name": "big light"}}\n'
    "</tool_call>",
    "The capital of France is Paris.",
    # The bare JSON line a small Qwen writes as often as the tags.
    '{"name": "intent__HassMediaPause", "arguments": {}}',
]
BAD = [
    # A floor the prompt does not list (it lists none), an area it does not list.
    '<tool_call>\n{"name": "intent__HassTurnOn", "arguments": {"floor": "Kitchen"}}\n</tool_call>',
    '<tool_call>\n{"name": "intent__HassTurnOn", "arguments": {"area": "Blinds"}}\n</tool_call>',
    '<tool_call>\n{"name": "intent__HassTurnOn", "arguments": {"name": "Jacuzzi"}}\n</tool_call>',
    '<tool_call>\n{"name": "intent__HassTurnOn", "arguments": {"domain": ["toaster"]}}\n'
    "</tool_call>",
    # A required argument missing, one of the wrong kind, a tool not offered.
    '<tool_call>\n{"name": "intent__HassSetPosition", "arguments": {"name": "Garage Door"}}\n'
    "</tool_call>",
    '<tool_call>\n{"name": "intent__HassSetPosition", "arguments": {"position": "half"}}\n'
    "</tool_call>",
    '<tool_call>\n{"name": "intent__HassToggle", "arguments": {}}\n</tool_call>',
    "}",
    '{"name": "intent__HassTurnOn"}',
    '{"name": "intent__HassTurnOn", "arguments": {"name": "Jacuzzi"}}',
]


def matches(text: str, **kwargs) -> bool:
    constraint = client_constraint(TOOLS, HOME, **kwargs)
    matcher: CallMatcher = constraint.follower()
    return matcher.feed(text) and matcher.complete


@pytest.mark.parametrize("text", GOOD)
def test_words_and_calls_the_schemas_allow(text):
    assert matches(text)


@pytest.mark.parametrize("text", BAD)
def test_what_the_schemas_and_the_prompt_do_not_allow(text):
    assert not matches(text)


def test_tool_choice_narrows_the_answer():
    call = GOOD[0]
    assert matches(call, tool_choice="required")
    assert not matches("Sure.", tool_choice="required")
    named = {"type": "function", "function": {"name": "intent__HassTurnOff"}}
    assert not matches(call, tool_choice=named)
    assert matches(GOOD[1], tool_choice=named)


def test_no_tool_it_can_write_is_no_constraint():
    odd = {"type": "function", "function": {"name": "odd", "parameters": {
        "type": "object", "properties": {"x": {"anyOf": []}}, "required": ["x"]}}}  # fmt: skip
    assert client_constraint([odd], HOME) is None


def test_llama_cpp_parses_the_grammar_and_agrees_with_the_follower():
    llm = vocab_only_model()
    constraint = client_constraint(TOOLS, HOME)
    for text in GOOD:
        assert_grammar_takes(llm, constraint.gbnf, text)


def _states_built(matcher: CallMatcher) -> int:
    """How many automaton states the matcher's pattern was built into."""
    seen, stack = set(), [matcher._start]
    while stack:
        state = stack.pop()
        if id(state) in seen:
            continue
        seen.add(id(state))
        stack += [target for _, target in state.edges] + state.empty
        stack += [place for call in state.calls for place in call]
    return len(seen)


def test_a_named_list_is_built_once_however_many_tools_and_calls_use_it():
    # Home Assistant's 23 tools for a 46-device home, four calls an answer: built as copies
    # (each tool's names, in each of the four calls, tagged and bare) it took 632,000
    # states, 150 MB and 4 s, for every request (measured on eval/house-en).
    from pathlib import Path

    from rk_assist.home.model import load_home
    from rk_assist.tools.eval_http import load_recorded, prompt_for

    root = Path(__file__).parent.parent
    recorded = load_recorded("openai", root / "tests" / "real_ha" / "recorded")
    system = prompt_for(load_home(root / "eval" / "house-en" / "home.yaml"), recorded.system)
    constraint = client_constraint(recorded.tools, home_from_prompt(system))
    matcher = constraint.follower()
    assert _states_built(matcher) < 4 * len(constraint.gbnf)  # about the grammar's own size
    call = '{"name": "intent__HassTurnOn", "arguments": {"name": "Kitchen Light"}}'
    assert matcher.feed(f"<tool_call>\n{call}\n</tool_call>\n{call}") and matcher.complete
