"""The eval's sets are sound, and it hears what the user hears, in which language."""

from __future__ import annotations

from pathlib import Path

from rk_assist.home.intents import BY_NAME
from rk_assist.home.resolve import Action
from rk_assist.tools.evaluation import (
    CLASSES,
    CaseResult,
    expected_reply,
    load_set,
    other_language,
    reply_fits,
    reply_lines,
    set_folders,
    speech_faults,
)

EVAL = Path(__file__).parent.parent / "eval"


def test_every_set_asks_only_for_exposed_devices_and_real_intents():
    sets = [load_set(folder) for folder in set_folders(None, EVAL)]
    assert {s.language for s in sets} >= {"en", "de", "fr", "es", "it", "nl"}
    assert sum(len(s.cases) for s in sets) >= 400
    kinds = {case["kind"] for s in sets for case in s.cases}
    assert set(CLASSES) <= kinds
    for eval_set in sets:
        texts = [case["text"] for case in eval_set.cases]
        assert len(texts) == len(set(texts)), eval_set.name
        for case in eval_set.cases:
            for expected in case["expect"]:
                assert expected["intent"] in BY_NAME, case
                entity = expected.get("entity")
                assert entity is None or entity in eval_set.home.entities, case


def test_speech_in_another_language_is_told_apart():
    home = load_set(EVAL / "wohnung-de").home
    assert other_language("Turned on the light", "de", home) == "en"
    assert other_language("Which one do you mean? Please say its name.", "fr", home) == "en"
    assert other_language("Licht eingeschaltet", "de", home) == ""
    assert other_language("La lumière de la cuisine est allumée", "de", home) == "fr"
    # A German name in an English sentence keeps it English; too few words tell nothing.
    assert other_language("Küchenlicht", "en", home) == ""


def test_what_is_said_is_judged_in_every_class_of_fault():
    home = load_set(EVAL / "house-en").home
    fridge = [Action("HassGetState", {}, "sensor.fridge_temperature")]

    def faults(spoken: str, request: str, actions=(), other: str = "") -> tuple[str, ...]:
        return speech_faults(spoken, request, home, list(actions), other)

    assert faults("Fridge Temperature is 7 degrees", "what is the fridge temperature") == (
        "false fact",
    )
    assert faults("Fridge Temperature is 4 degrees", "what is the fridge temperature", fridge) == ()
    assert faults("Thank you.", "thank you") == ("parroted",)
    assert faults("Good morning! How can I help?", "good morning") == ()
    assert faults("¡¡¡¡¡¡¡¡¡¡¡¡", "turn it off") == ("degenerate",)
    assert faults("Hello! How can I help?", "say something nice") == ("greeting",)
    assert faults('"turn on the garage"', "heat the garage") == ("machine text",)
    assert faults("Use intent__HassTurnOn", "what can you do") == ("machine text",)
    assert faults("You can turn on the frobnicator", "what can you do") == ("machine text",)
    assert faults("What a nice colour", "Mach das Licht an", other="en") == ("language",)
    assert faults("12 times 12 is 144.", "what is 12 times 12") == ()
    assert faults("Turned off the light", "now turn it off") == ("false confirmation",)
    off = [Action("HassTurnOff", {}, "light.kitchen_ceiling")]
    assert faults("Turned off the light", "turn off the kitchen light", off) == ()


def test_a_set_may_stand_on_another_sets_home():
    speech = load_set(EVAL / "speech-en")
    assert speech.home == load_set(EVAL / "flat-en").home
    assert all(not case["expect"] for case in speech.cases)


def test_each_request_expects_a_reply_class_and_the_report_counts_it():
    remark = {"text": "Tengo frío", "kind": "remark", "expect": []}
    read = {"text": "is it on", "kind": "state", "expect": [{"intent": "HassGetState"}]}
    own = {"text": "book a taxi", "kind": "unknown", "expect": [], "reply": "cannot do"}
    assert expected_reply(remark) == ("acknowledgement",)
    assert expected_reply(read) == ("state answer",)
    assert expected_reply(own) == ("cannot do",)
    assert reply_fits("words", ("acknowledgement",), "I see.")
    assert not reply_fits("words", ("acknowledgement",), "Shall I turn on the heating?")
    assert not reply_fits("no answer", ("chat",), "Sorry, I have no answer to that.")
    assert not reply_fits("unknown device", ("sensitive question",), "No device called Door.")

    def result(text: str, reply: str, expected: tuple[str, ...]) -> CaseResult:
        return CaseResult(
            text, "remark", "es", set(), set(), "", 0.1, reply=reply, expected_reply=expected
        )

    lines = "\n".join(
        reply_lines(
            [
                result("Tengo frío", "acknowledgement", ("acknowledgement",)),
                result("Abre la puerta", "no answer", ("sensitive question",)),
            ],
            {"es": []},
        )
    )
    assert "| all | 1/2 (50.0%) |" in lines
    assert "sensitive question -> no answer: 1" in lines
