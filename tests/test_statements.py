"""A request that tells (about the speaker, the past) asks for nothing to be done.

Written before the rule from what a real Home Assistant saw ("I turned the
ceiling fan off earlier" turned the fan off) and the eval's remarks in six
languages; the commands beside them must still read as commands.
"""

from __future__ import annotations

import pytest

from rk_assist.assistant.choices import settled_without_model
from rk_assist.assistant.replies import ACKNOWLEDGED, FAREWELL, GOOD_NIGHT, WELCOME
from rk_assist.home.grounding import held_to_request
from rk_assist.home.model import Area, Entity, Home
from rk_assist.home.statements import describes, tells
from rk_assist.output.calls import ToolCall

TELLS = [
    ("en", "I turned the ceiling fan off earlier"),
    ("en", "I left the lights on all night"),
    ("en", "I'm freezing in the bedroom"),
    ("en", "the projector was so loud last night"),
    ("de", "Ich habe das Licht vorhin ausgemacht"),
    ("de", "Ich bin müde"),
    ("fr", "J'ai éteint la lumière de la cuisine"),
    ("fr", "Hier la télé était trop forte"),
    ("es", "Ayer dejé la luz del garaje encendida"),
    ("es", "Tengo frío"),
    ("es", "He apagado la luz de la cocina"),
    ("it", "Ho freddo"),
    ("it", "Vado a dormire"),
    ("es", "Voy a salir un rato"),
    ("es", "Ya apagué la luz del garaje"),
    ("it", "Ieri ho lasciato accese le luci"),
    ("nl", "Ik heb de lamp uitgedaan"),
    ("nl", "Gisteren stond de lamp de hele nacht aan"),
]
ASKS = [
    ("en", "turn off the ceiling fan"),
    ("en", "I want the lights off"),
    ("en", "I'd like the lights on"),
    ("en", "I'm going to bed, turn off the lights"),
    ("en", "can you turn the fan off"),
    ("de", "Ich möchte das Licht an"),
    ("de", "Mach das Licht aus"),
    ("fr", "Je voudrais de la lumière"),
    ("fr", "Éteins la lumière"),
    ("es", "Me voy a la cama, apaga todas las luces del salón"),
    ("es", "Apaga la luz"),
    ("it", "Vorrei la luce accesa"),
    ("it", "Spegni la luce"),
    ("nl", "Ik wil de lamp aan"),
    ("nl", "Doe de lamp uit"),
]


@pytest.mark.parametrize(("language", "text"), TELLS)
def test_a_statement_tells(language, text):
    assert tells(text, language)


@pytest.mark.parametrize(("language", "text"), ASKS)
def test_a_request_asks(language, text):
    assert not tells(text, language)


def test_a_statement_is_acknowledged_and_thanks_welcomed_without_the_model():
    assert settled_without_model("I turned the ceiling fan off earlier", "en") == ACKNOWLEDGED
    assert settled_without_model("Tengo frío", "es") == ACKNOWLEDGED
    assert settled_without_model("thank you", "en") == WELCOME
    assert settled_without_model("turn off the ceiling fan", "en") is None


def test_a_models_call_for_a_statement_is_held_back():
    """The model read "turned", "off" and the fan's name; the request only told."""
    home = Home(
        entities={"fan.ceiling_fan": Entity("fan.ceiling_fan", "Ceiling Fan", area_id="bedroom")},
        areas={"bedroom": Area("bedroom", "Bedroom")},
        states={"fan.ceiling_fan": "on"},
    )
    call = ToolCall("HassTurnOff", {"name": "Ceiling Fan"})
    assert held_to_request([call], "turn the ceiling fan off", home) == [call]
    assert held_to_request([call], "I turned the ceiling fan off earlier", home) == []


@pytest.mark.parametrize(
    ("language", "text", "describing"),
    [
        ("en", "the hallway is pitch black", True),
        ("en", "it's freezing outside", True),
        ("en", "turn on the hallway light, it's pitch black", False),
        ("en", "make the hallway brighter", False),
        ("de", "Der Flur ist ganz dunkel", True),
        ("de", "Mach den Flur hell", False),
        ("fr", "La bouilloire fait un bruit bizarre", True),
        ("fr", "Fais chauffer la bouilloire", False),
        ("es", "El ventilador hace un ruido raro", True),
        ("es", "Apaga el ventilador", False),
        ("it", "Il bagno è tutto buio", True),
        ("it", "Accendi la luce del bagno", False),
        ("nl", "De afzuiging maakt een raar geluid", True),
        ("nl", "Maak de hal licht", False),
    ],
)
def test_how_something_is_is_told_from_what_to_do(language, text, describing):
    assert describes(text, language) is describing


@pytest.mark.parametrize(
    ("language", "text", "phrase"),
    [
        ("en", "bye for now", FAREWELL),
        ("nl", "Tot ziens", FAREWELL),
        ("en", "good night", GOOD_NIGHT),
        ("en", "thanks, good night", GOOD_NIGHT),
        ("de", "Gute Nacht", GOOD_NIGHT),
        ("nl", "Welterusten!", GOOD_NIGHT),
        ("en", "good night mode in the bedroom", None),
        ("en", "never mind", ACKNOWLEDGED),
        ("it", "Lascia stare", ACKNOWLEDGED),
        ("en", "don't switch on the monitor", ACKNOWLEDGED),
        ("nl", "Doe de staande lamp niet uit", ACKNOWLEDGED),
        ("en", "turn on the lights but not the fan", None),  # one part asks: not "all right"
        ("en", "why don't you turn on the light?", None),
        ("en", "see you in the kitchen", None),
    ],
)
def test_what_asks_for_nothing_is_answered_in_kind(language, text, phrase):
    assert settled_without_model(text, language) == phrase
