"""The call grammar: one pattern, written as GBNF for llama.cpp and followed in Python."""

import json
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from rk_assist.home.call_grammar import CallMatcher, answer_constraint, answer_pattern
from rk_assist.home.intents import BY_NAME, available_intents
from rk_assist.home.model import load_home
from rk_assist.runtimes.embedded import embedded_model_path
from rk_assist.runtimes.grammar_sampling import GrammarGuard

HOME = load_home(Path(__file__).parent.parent / "eval" / "house-en" / "home.yaml")

GOOD = [
    '{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}',
    '{"name": "HassTurnOff", "arguments": {"area": "Kitchen", "domain": "light"}}',
    '{"name": "HassLightSet", "arguments": {"name": "Floor Lamp", "brightness": 30}}',
    '{"name": "HassClimateSetTemperature", "arguments": '
    '{"name": "Living Room Thermostat", "temperature": 20.5}}',
    '{"name": "HassStartTimer", "arguments": {"minutes": 5}}',
    '{"name": "HassCancelTimer", "arguments": {}}',
    '{"name": "HassSetVolumeRelative", "arguments": {"name": "TV", "volume_step": "up"}}',
    '{"name": "HassShoppingListAddItem", "arguments": {"item": "!milk"}}',
    '{"name": "HassTurnOff", "arguments": {"name": "Desk Lamp"}}\n'
    '{"name": "HassTurnOff", "arguments": {"name": "Office Light"}}',
    "Sure, here is a joke: why did the tomato turn red?",
]
BAD = [
    '{"name": "HassToggle2", "arguments": {"name": "Kitchen Light"}}',  # not offered
    '{"name": "HassTurnOn", "arguments": {}}',  # a device intent without a target
    '{"name": "HassTurnOn", "arguments": {"brightness": 30}}',  # not its slot
    '{"name": "HassLightSet", "arguments": {"brightness": "high"}}',  # not a number
    '{"name": "HassSetPosition", "arguments": {"name": "Curtains"}}',  # required slot missing
    '{"name": "HassTurnOn", "arguments": {"domain": "toaster"}}',  # no such domain here
    '<tool_call>{"name": "HassTurnOn"}</tool_call>',
    "[1, 2]",
    '{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}} and more words',
]


def matches(pattern, text: str) -> bool:
    matcher = CallMatcher(pattern)
    return matcher.feed(text) and matcher.complete


@pytest.mark.parametrize("text", GOOD)
def test_well_formed_answers_are_in_the_language(text):
    assert matches(answer_pattern(HOME), text)


@pytest.mark.parametrize("text", BAD)
def test_malformed_calls_are_not(text):
    assert not matches(answer_pattern(HOME), text)


def test_home_names_mode_allows_only_the_homes_names():
    pattern = answer_pattern(HOME, free_names=False)
    assert matches(pattern, GOOD[0])
    assert not matches(pattern, '{"name": "HassTurnOn", "arguments": {"name": "Garage Heater"}}')
    free = answer_pattern(HOME, free_names=True)
    assert matches(free, '{"name": "HassTurnOn", "arguments": {"name": "Garage Heater"}}')


def test_every_offered_intent_can_be_called():
    pattern = answer_pattern(HOME)
    for spec in available_intents(HOME):
        arguments = {slot: "Kitchen Light" for slot in spec.targets[:1]}
        for slot in spec.required or tuple(spec.slots)[:1]:
            arguments[slot] = "up" if slot == "volume_step" else 5
        if spec.slots.get("item"):
            arguments["item"] = "milk"
        text = json.dumps({"name": spec.name, "arguments": arguments})
        assert matches(pattern, text), text
    assert "HassToggle" not in {spec.name for spec in available_intents(HOME)}
    assert not BY_NAME["HassToggle"].offered  # the request's word "toggle" asks for it
    assert not matches(pattern, '{"name": "HassToggle", "arguments": {"name": "TV"}}')


def test_forced_text_runs_to_the_next_choice_but_never_splits_a_word():
    matcher = CallMatcher(answer_pattern(HOME, free_names=False))
    assert matcher.forced() == ""  # speech or a call: the model's choice
    matcher.feed("{")
    # "Hass" is a word the tool names continue: the model writes it itself.
    assert matcher.forced() == '"name": "'
    matcher.feed("HassTurn")
    assert matcher.forced() == ""  # On or Off: never force the shared "O"
    matcher.feed("Off")
    assert matcher.forced() == '", "arguments": {"'
    matcher.feed("name")
    assert matcher.forced() == '": "'
    matcher.feed("Kitchen L")
    assert matcher.forced() == 'ight"'
    matcher.feed("}")
    assert matcher.forced() == "}"
    assert matcher.complete


def vocab_only_model() -> llama_cpp.Llama:
    return llama_cpp.Llama(
        model_path=str(embedded_model_path()), vocab_only=True, n_ctx=64, verbose=False
    )


def assert_grammar_takes(llm: llama_cpp.Llama, gbnf: str, text: str) -> None:
    """llama.cpp's grammar takes ``text`` token by token, and may end after it."""
    # llama-cpp-python offers no public vocab handle; the runtime reads the same one.
    guard = GrammarGuard(llm._model.vocab, gbnf)
    try:
        for token in llm.tokenize(text.encode(), add_bos=False):
            assert guard.allows(token), (text, llm.detokenize([token]))
            guard.accept(token)
        assert guard.allows(llm.token_eos())  # complete: the answer may end here
    finally:
        guard.close()


@pytest.mark.parametrize("free_names", [True, False])
def test_llama_cpp_parses_the_grammar_and_agrees_with_the_matcher(free_names):
    """Token by token, llama.cpp's grammar accepts what the Python follower accepts."""
    llm = vocab_only_model()
    constraint = answer_constraint(HOME, free_names=free_names)
    for text in GOOD:
        assert_grammar_takes(llm, constraint.gbnf, text)
    for text in BAD[:6]:
        # llama-cpp-python offers no public vocab handle; the runtime reads the same one.
        guard = GrammarGuard(llm._model.vocab, constraint.gbnf)
        try:
            tokens = llm.tokenize(text.encode(), add_bos=False)
            refused = False
            for token in tokens:
                if not guard.allows(token):
                    refused = True
                    break
                guard.accept(token)
            assert refused or not guard.allows(llm.token_eos()), text
        finally:
            guard.close()


def test_the_cpu_runtime_holds_a_real_model_to_the_grammar():
    """Whatever the embedded model would rather say, a calls-only grammar gets a call."""
    import threading

    from rk_assist.home.call_grammar import call_pattern, constraint_of
    from rk_assist.home.prompt import home_prompt
    from rk_assist.output.calls import parse_tool_calls
    from rk_assist.output.speech import BlockStripper
    from rk_assist.runtimes.base import ChatMessage, GenerationRequest
    from rk_assist.runtimes.llama_cpp import LlamaCppRuntime, LlamaCppSettings

    pattern = call_pattern(HOME, free_names=False)
    constraint = constraint_of(pattern)
    runtime = LlamaCppRuntime(
        LlamaCppSettings(model_path=embedded_model_path(), temperature=0.0, context_length=4096)
    )
    runtime.load()
    try:
        pieces: list[str] = []
        stats = runtime.generate(
            GenerationRequest(
                system_prompt=home_prompt("You are a voice assistant.", HOME),
                turn=(ChatMessage("user", "Tell me a joke about the kitchen light."),),
                max_new_tokens=200,  # the grammar ends the answer after four calls at most
                constraint=constraint,
            ),
            pieces.append,
            threading.Event(),
        )
    finally:
        runtime.close()
    text = "".join(pieces)
    assert matches(pattern, text), text
    assert stats.stop_reason == "end"
    assert stats.extra["forced_tokens"] > 0  # '"name": "', '", "arguments": {"', ... unsampled
    assert stats.generated_tokens + stats.extra["forced_tokens"] >= 10
    stripper = BlockStripper()
    assert (stripper.feed(text) + stripper.finish()).strip() == ""  # only the newlines between
    calls, problems = parse_tool_calls(stripper.captured)
    assert calls and problems == []


def test_calls_are_greedy_whatever_the_temperature():
    import numpy as np

    from rk_assist.runtimes.grammar_sampling import CallsGreedy, TokenPicker

    texts = {0: b"{", 1: b"Sure", 2: b"x", 3: b"y"}
    # A hot sampler that would pick anything: the greedy choice is a call ("{").
    picker = CallsGreedy(TokenPicker(50.0, 0, 1.0, seed=1), texts.__getitem__)
    logits = np.array([5.0, 4.9, 4.8, 4.7])
    assert picker.pick(logits) == 0 and picker.in_call
    picker.wrote("{")
    assert {picker.pick(np.array([1.0, 1.0, 9.0, 8.9])) for _ in range(20)} == {2}
    # Speech stays sampled: the greedy first token is words, so the hot sampler decides.
    speech = CallsGreedy(TokenPicker(50.0, 0, 1.0, seed=1), texts.__getitem__)
    first = np.array([1.0, 5.0, 4.9, 4.8])
    assert len({speech.pick(first) for _ in range(40)}) > 1 and not speech.in_call


def test_top_p_of_one_keeps_every_candidate():
    """Seen in a real Home Assistant (its llama_cpp integration sends top_p 1): the running
    sum fell short of 1 by rounding, and the draw failed ("a and p must have same size")."""
    from rk_assist.runtimes.grammar_sampling import TokenPicker

    logits = np.log(np.array([0.7, 0.2, 0.1, 1e-9] * 40, dtype=np.float32))
    picker = TokenPicker(1.0, 0, 1.0, seed=3)
    for _ in range(50):
        assert 0 <= picker.pick(logits) < len(logits)
