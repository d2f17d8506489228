"""script/test-ha's judge: what it calls a made-up number and a claim of what did not happen."""

from __future__ import annotations

from tests.real_ha.__main__ import judge

STATES = {
    "sensor.outside_humidity": {"state": "54", "attributes": {}},
    "climate.heatpump": {"state": "heat", "attributes": {"temperature": 20.0}},
}


def test_a_state_questions_number_must_be_the_states():
    asked = {"text": "how humid is it outside", "reads": ["sensor.outside_humidity"]}
    assert judge(asked, "Outside Humidity is 54 %", {}, set(), STATES) == []
    problems = judge(asked, "The outside humidity is 30%.", {}, set(), STATES)
    assert problems[0].startswith("made up 30") and "did not say the state" in problems[1]
    target = {"text": "what is the heatpump set to", "reads": ["climate.heatpump@temperature"]}
    assert judge(target, "HeatPump is set to 20 degrees.", {}, set(), STATES) == []
    assert "did not say the state" in judge(target, "Heatpump is heat", {}, set(), STATES)[0]


def test_nothing_changed_means_nothing_may_be_claimed():
    said = {"text": "now turn it off", "changes": {}}
    assert judge(said, "Turned off the light", {}, set()) == [
        "claimed an action that did not happen"
    ]
    assert judge(said, "Sorry, I have no answer to that.", {}, set()) == []
    assert judge(said, "Front door is locked", {}, set()) == []
