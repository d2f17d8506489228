"""Questions about what a device measures or is set to, answered from its state.

Seen in a real Home Assistant: "what is the thermostat set to" -> "10", "25",
"100 degrees" (it was 18) or "Heatpump is heat"; "how humid is it outside" ->
nothing, or a made-up 30%.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rk_assist.home.model import load_home
from rk_assist.home.readings import lights_on_asked, reading_asked
from rk_assist.home.responses import confirmation, heard

EVAL = Path(__file__).parent.parent / "eval"


@pytest.mark.parametrize(
    ("home", "language", "text", "entity", "said"),
    [
        ("flat-en", "en", "what is the thermostat set to", "climate.flat", "set to 18 degrees"),
        ("wohnung-de", "de", "Auf wie viel Grad ist die Heizung eingestellt?",
         "climate.wohnzimmer", "auf 22 Grad"),
        ("maison-fr", "fr", "À quelle température est réglé le chauffage ?", "climate.salon",
         "sur 19 degrés"),
        ("casa-es", "es", "¿A qué temperatura está puesto el termostato?", "climate.salon",
         "a 23 grados"),
        ("casa-it", "it", "A quanti gradi è impostato il termostato?", "climate.soggiorno",
         "a 21 gradi"),
        ("huis-nl", "nl", "Op hoeveel graden staat de thermostaat ingesteld?",
         "climate.woonkamer", "op 20 graden"),
        ("flat-en", "en", "how humid is it in the shower room", "sensor.shower_humidity", "71"),
        ("wohnung-de", "de", "Wie feucht ist es im Bad?", "sensor.bad_feuchte", "63"),
        ("casa-es", "es", "¿Qué temperatura hace fuera?", "sensor.temperatura_exterior", "14"),
        ("huis-nl", "nl", "Hoe warm is het buiten?", "sensor.temperatuur_buiten", "8"),
    ],
)  # fmt: skip
def test_a_reading_is_the_homes_own_value(home, language, text, entity, said):
    home = load_home(EVAL / home / "home.yaml")
    read = reading_asked(text, home, language)
    assert read is not None and read.entity_id == entity and read.intent == "HassGetState"
    assert said in heard(confirmation([read], language, home), [read], home)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("set the thermostat to 20 degrees", "en"),  # an order, not a question
        ("what is the weather like", "en"),
        ("tell me a joke", "en"),
        ("Wie spät ist es?", "de"),
    ],
)
def test_what_asks_no_reading_is_left_alone(text, language):
    assert reading_asked(text, load_home(EVAL / "flat-en" / "home.yaml"), language) is None


def test_a_thermostat_with_no_single_target_is_not_read_as_one():
    home = load_home(EVAL / "flat-en" / "home.yaml")
    home.attributes.pop("climate.flat")
    assert reading_asked("what is the thermostat set to", home, "en") is None


@pytest.mark.parametrize(
    ("home", "language", "text", "lights"),
    [
        ("wohnung-de", "de", "Ist im Bad noch ein Licht an", {"light.bad", "light.spiegel"}),
        (
            "maison-fr",
            "fr",
            "Est-ce qu'il y a une lumière allumée dans la cuisine",
            {"light.cuisine", "light.plan_de_travail"},
        ),
        (
            "huis-nl",
            "nl",
            "Brandt er nog licht in de woonkamer?",
            {"light.woonkamer", "light.staande_lamp"},
        ),
        ("wohnung-de", "de", "Mach das Licht im Bad an", set()),  # an order, not a question
        ("flat-en", "en", "is the lounge ceiling light on", set()),  # one device, named
    ],
)
def test_whether_a_place_has_a_light_on_reads_its_lights(home, language, text, lights):
    reads = lights_on_asked(text, load_home(EVAL / home / "home.yaml"), language)
    assert {read.entity_id for read in reads} == lights
