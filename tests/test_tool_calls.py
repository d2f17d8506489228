"""Reading tool calls from model text: Qwen's JSON blocks, the XML-like form, and small slips."""

import pytest

from rk_assist.output.calls import ToolCall, parse_tool_calls
from rk_assist.output.speech import BlockStripper


def calls_in(text: str, piece_size: int = 3) -> tuple[str, list[ToolCall], list[str]]:
    """Stream the text through the stripper in small pieces, like tokens."""
    stripper = BlockStripper()
    spoken = "".join(
        stripper.feed(text[i : i + piece_size]) for i in range(0, len(text), piece_size)
    )
    spoken += stripper.finish()
    calls, problems = parse_tool_calls(stripper.captured)
    return spoken, calls, problems


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}\n</tool_call>',
        '<tool_call>{"name": "intent__HassTurnOn", "arguments": {"name": "Kitchen Light"}}'
        "</tool_call>",
        "<tool_call>{'name': 'HassTurnOn', 'arguments': {'name': 'Kitchen Light'}}</tool_call>",
        '<tool_call>{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light",},}</tool_call>',
        '<tool_call>{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}</tool_call>',
        '<tool_call>{"name": "HassTurnOn", "arguments": "{\\"name\\": \\"Kitchen Light\\"}"}'
        "</tool_call>",
        '<tool_call>```json\n{"name": "HassTurnOn", "parameters": {"name": "Kitchen Light"}}\n```'
        "</tool_call>",
        "<function=HassTurnOn><parameter=name>Kitchen Light</parameter></function>",
        '<tool_call>\n{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}',  # cut short
    ],
)
def test_tool_call_variants(text: str):
    spoken, calls, problems = calls_in(text)
    assert calls == [ToolCall("HassTurnOn", {"name": "Kitchen Light"})]
    assert problems == []
    assert "<" not in spoken and "Kitchen" not in spoken


def test_several_calls_and_text_around_them():
    text = (
        'Sure.<tool_call>{"name": "HassTurnOff", "arguments": {"area": "Kitchen"}}'
        '</tool_call>\n<tool_call>{"name": "HassLightSet", "arguments": '
        '{"name": "Floor Lamp", "brightness": 30}}</tool_call> Done.'
    )
    spoken, calls, problems = calls_in(text, piece_size=5)
    assert [c.name for c in calls] == ["HassTurnOff", "HassLightSet"]
    assert calls[1].arguments == {"name": "Floor Lamp", "brightness": 30}
    assert spoken.replace("\n", "") == "Sure. Done."
    assert problems == []


def test_xml_parameters_are_typed_when_they_are_json():
    _, calls, _ = calls_in(
        "<function=HassSetPosition><parameter=name>Garage Door</parameter>"
        "<parameter=position>40</parameter></function>"
    )
    assert calls == [ToolCall("HassSetPosition", {"name": "Garage Door", "position": 40})]


@pytest.mark.parametrize(
    "text",
    [
        "<tool_call>turn on the light please</tool_call>",
        '<tool_call>{"arguments": {"name": "x"}}</tool_call>',
        '<tool_call>["HassTurnOn"]</tool_call>',
        '<tool_call>{"name": "HassTurnOn", "arguments": [1, 2]}</tool_call>',
    ],
)
def test_unreadable_calls_are_reported_not_guessed(text: str):
    spoken, calls, problems = calls_in(text)
    assert calls == [] and len(problems) == 1
    assert spoken == ""


# -- the forms real small Qwens write (Qwen2.5-Coder 0.5B and 1.5B, seen in rk-assist eval) ----

KITCHEN_ON = [ToolCall("HassTurnOn", {"name": "Kitchen Light"})]


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}',
        '[{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}]',
        '{{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}}',
        '{{"name": "HassTurnOn", "arguments": {{"name": "Kitchen Light"}}}}',
        '<tools>\n{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}\n</tools>',
        '```json\n{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}\n```',
        '<tool_call>{{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}}</tool_call>',
        '{"type": "function", "function": {"name": "HassTurnOn", "arguments": '
        '{"name": "Kitchen Light"}}}',
        '{"function": {"name": "HassTurnOn", "arguments": "{\\"name\\": \\"Kitchen Light\\"}"}}',
    ],
)
def test_bare_and_wrapped_json_calls_are_read_and_never_spoken(text: str):
    for piece_size in (1, 3, 7):
        spoken, calls, problems = calls_in(text, piece_size)
        assert calls == KITCHEN_ON, (text, piece_size)
        assert problems == []
        assert spoken.strip() == ""


def test_leading_prose_is_spoken_and_the_call_is_not():
    spoken, calls, _ = calls_in(
        'Sure, turning it on. {"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}'
    )
    assert calls == KITCHEN_ON
    assert spoken.strip() == "Sure, turning it on."


def test_several_bare_calls_one_a_line():
    spoken, calls, problems = calls_in(
        '{"name": "HassTurnOff", "arguments": {"name": "Desk Lamp"}}\n'
        '{"name": "HassTurnOff", "arguments": {"name": "Office Light"}}'
    )
    assert [c.arguments["name"] for c in calls] == ["Desk Lamp", "Office Light"]
    assert problems == [] and spoken.strip() == ""


def test_braces_inside_strings_do_not_end_a_call():
    _, calls, _ = calls_in(
        '{"name": "HassShoppingListAddItem", "arguments": {"item": "a } and a {"}}'
    )
    assert calls == [ToolCall("HassShoppingListAddItem", {"item": "a } and a {"})]


def test_a_code_fence_around_something_else_is_hidden_but_no_call():
    spoken, calls, problems = calls_in("Here:\n```python\nprint(1)\n```\nDone.")
    assert calls == [] and problems == []
    assert "print" not in spoken and "Done." in spoken


def test_several_objects_inside_one_block():
    _, calls, problems = calls_in(
        '<tool_call>\n{"name": "HassTurnOff", "arguments": {"name": "Desk Lamp"}}\n'
        '{"name": "HassTurnOff", "arguments": {"name": "Office Light"}}\n</tool_call>'
    )
    assert [c.arguments["name"] for c in calls] == ["Desk Lamp", "Office Light"]
    assert problems == []
