"""Changes said by how much: "a little brighter", "halfway", "21 degrees in the lounge".

Written from issue 29: the packaged Qwens closed blinds asked to close halfway and
turned off a lamp asked to be "a little" lower (wrong actions), or asked for a number.
The homes are the eval's (a lamp's brightness, a thermostat's target in their states).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rk_assist.home.changes import change_asked
from rk_assist.home.grounding import numbers_said
from rk_assist.home.model import Area, Entity, Home, load_home
from rk_assist.home.request_words import with_digits
from rk_assist.output.calls import ToolCall

EVAL = Path(__file__).parent.parent / "eval"


def asked(text: str, home: str, language: str, here: str | None = None):
    found = change_asked(
        with_digits(text, language), load_home(EVAL / home / "home.yaml"), language, here
    )
    if found is None:
        return None
    return found.intent, found.entity_id, {k: v for k, v in found.slots.items() if k != "name"}


@pytest.mark.parametrize(
    ("text", "home", "language", "change"),
    [
        # The arc lamp is at 128/255 (50%): a little is 10 points.
        ("dim the arc lamp a little", "flat-en", "en", ("light.arc_lamp", {"brightness": 40})),
        ("dim the arc lamp by 20 percent", "flat-en", "en", ("light.arc_lamp", {"brightness": 30})),
        (
            "Mach die Stehlampe etwas heller",
            "wohnung-de",
            "de",
            ("light.stehlampe", {"brightness": 70}),
        ),
        (
            "Zet de woonkamerlamp iets feller",
            "huis-nl",
            "nl",
            ("light.woonkamer", {"brightness": 50}),
        ),
        # A volume by the player's own step; a thermostat by a degree from its target.
        (
            "turn the soundbar down a little",
            "flat-en",
            "en",
            ("media_player.soundbar", {"volume_step": "down"}),
        ),
        (
            "Monte un peu le son de la télé",
            "maison-fr",
            "fr",
            ("media_player.tele", {"volume_step": "up"}),
        ),
        ("make it a little warmer", "flat-en", "en", ("climate.flat", {"temperature": 19})),
        (
            "Mach es im Wohnzimmer etwas wärmer",
            "wohnung-de",
            "de",
            ("climate.wohnzimmer", {"temperature": 23}),
        ),
        # Half and halfway.
        (
            "close the lounge blinds halfway",
            "flat-en",
            "en",
            ("cover.lounge_blinds", {"position": 50}),
        ),
        (
            "Deja la persiana del salón a la mitad",
            "casa-es",
            "es",
            ("cover.persiana_salon", {"position": 50}),
        ),
        (
            "Metti il ventilatore a metà velocità",
            "casa-it",
            "it",
            ("fan.ventilatore", {"percentage": 50}),
        ),
        # A place for its thermostat.
        (
            "make it 21 degrees in the lounge",
            "flat-en",
            "en",
            ("climate.flat", {"temperature": 21}),
        ),
        (
            "Stell das Schlafzimmer auf 19 Grad",
            "wohnung-de",
            "de",
            ("climate.schlafzimmer", {"temperature": 19}),
        ),
    ],
)
def test_a_change_by_how_much(text, home, language, change):
    _intent, entity, slots = asked(text, home, language)
    assert (entity, slots) == change


@pytest.mark.parametrize(
    ("text", "home", "language"),
    [
        ("dim the arc lamp to 15 percent", "flat-en", "en"),  # a level: the sentences'
        ("dim the arc lamp", "flat-en", "en"),  # by how much is not said
        ("don't dim the arc lamp a little", "flat-en", "en"),
        ("I dimmed the arc lamp a little", "flat-en", "en"),
        ("is the arc lamp a little brighter", "flat-en", "en"),
        ("open the garage door halfway", "flat-en", "en"),  # a door: said plainly
        ("turn the table lamp on halfway", "flat-en", "en"),  # a lamp is not the blinds
        ("set the oven to 200 degrees", "flat-en", "en"),  # no place, no thermostat named
    ],
)
def test_what_is_no_change_by_how_much(text, home, language):
    assert asked(text, home, language) is None


def test_the_place_heard_in_settles_which_device():
    assert asked("close the blinds halfway", "flat-en", "en", here="Lounge") == (
        "HassSetPosition",
        "cover.lounge_blinds",
        {"position": 50},
    )


def test_a_speaker_called_as_its_room_does_not_hide_the_rooms_thermostat():
    """Seen in a real Home Assistant: "set the living room to 22 degrees" set the volume of
    the speaker called Living Room."""
    home = Home()
    home.areas["living_room"] = Area("living_room", "Living Room")
    home.entities["media_player.living_room"] = Entity(
        "media_player.living_room", "Living Room", area_id="living_room"
    )
    home.entities["climate.heatpump"] = Entity(
        "climate.heatpump", "HeatPump", area_id="living_room"
    )
    found = change_asked("set the living room to 22 degrees", home, "en")
    assert (found.intent, found.entity_id, found.slots["temperature"]) == (
        "HassClimateSetTemperature",
        "climate.heatpump",
        22,
    )
    volume = ToolCall("HassSetVolume", {"name": "Living Room", "volume_level": 22})
    assert "volume_level" not in numbers_said(volume, "set the living room to 22 degrees").arguments
