"""A follow-up's word for the device of the turn before, in six languages."""

from __future__ import annotations

import pytest

from rk_assist.home.references import with_device


@pytest.mark.parametrize(
    ("language", "text", "read"),
    [
        ("en", "now turn it off", "turn Bed Light off"),
        ("en", "set that one to 20 percent", "set Bed Light to 20 percent"),
        ("de", "Mach es wieder aus", "Mach Bed Light aus"),
        ("nl", "Doe hem maar uit", "Doe Bed Light uit"),
        ("fr", "Éteins-la maintenant", "Éteins Bed Light"),
        ("es", "Ahora apágala", "apaga Bed Light"),
        ("es", "Apágala ya", "Apaga Bed Light"),
        ("it", "Adesso spegnila", "spegni Bed Light"),
    ],
)
def test_the_word_for_the_device_is_its_name(language, text, read):
    assert with_device(text, language, "Bed Light")[0] == read


@pytest.mark.parametrize(
    ("language", "text", "again"),
    [
        ("en", "turn it back on", "turn Bed Light on"),
        ("fr", "Rallume-la", "Allume Bed Light"),
        ("it", "Riaccendilo", "Accendi Bed Light"),
    ],
)
def test_a_verb_said_again_is_also_read_plain(language, text, again):
    assert again in with_device(text, language, "Bed Light")


@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "turn off the kitchen light"), ("fr", "Éteins la lumière"), ("es", "Apaga la luz")],
)
def test_a_request_without_such_a_word_is_left_alone(language, text):
    assert with_device(text, language, "Bed Light") == []
