"""Which covers count as doors: a class Home Assistant gives, or else the name's words."""

from __future__ import annotations

import pytest

from rk_assist.home.cover_kinds import named_kinds
from rk_assist.home.model import Entity


def _cover(name: str, device_class: str | None = None) -> Entity:
    return Entity(entity_id="cover.x", name=name, device_class=device_class)


@pytest.mark.parametrize(
    "name",
    [
        "Kitchen Window",
        "Living Room Smart Curtain",
        "Küchenfenster",
        "Rollladen Bad",
        "Schlafzimmerrollo",
        "store du salon",
        "Volet roulant chambre",
        "Persiana del salón",
        "Tapparella cucina",
        "dakraam",
        "Zonnescherm",
    ],
)
def test_a_cover_named_as_no_door_lets_nobody_in(name: str) -> None:
    assert not _cover(name).sensitive


@pytest.mark.parametrize(
    "name",
    [
        "Garage Door",
        "Garage",  # says no kind: may be a door
        "Haustür",
        "Garagentor",
        "voordeur",
        "Porta finestra",  # a door and a window: a door
        "Cancello",
        "Portail",
        "Front Entrance",
    ],
)
def test_a_cover_that_may_be_a_door_stays_one(name: str) -> None:
    assert _cover(name).sensitive


def test_the_class_home_assistant_gives_decides_over_the_name() -> None:
    assert _cover("Window", device_class="garage").sensitive
    assert not _cover("Front Door", device_class="blind").sensitive


def test_an_alias_that_says_a_door_keeps_it_one() -> None:
    cover = Entity(entity_id="cover.x", name="Patio Window", aliases=("Patio Door",))
    assert cover.sensitive


def test_locks_valves_and_alarms_stay_sensitive_whatever_their_name() -> None:
    for entity_id in ("lock.window", "valve.curtain", "alarm_control_panel.blind"):
        assert Entity(entity_id=entity_id, name="Window Blind").sensitive


def test_a_compound_word_is_read_only_after_a_word() -> None:
    assert "gate" not in named_kinds("store")  # French "store", not German "Tore"
    assert named_kinds("Küchenfenster") == {"window"}
    assert named_kinds("fenster") == {"window"}
