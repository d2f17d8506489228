"""The eval's sets are sound, and it hears what the user hears, in which language."""

from __future__ import annotations

from pathlib import Path

from rk_assist.home.intents import BY_NAME
from rk_assist.tools.evaluation import CLASSES, load_set, other_language, set_folders

EVAL = Path(__file__).parent.parent / "eval"


def test_every_set_asks_only_for_exposed_devices_and_real_intents():
    sets = [load_set(folder) for folder in set_folders(None, EVAL)]
    assert {s.language for s in sets} >= {"en", "de", "fr"}
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
