import pytest

from rk_assist.output.speech import BlockStripper, clean_for_speech


def strip_stream(pieces: list[str]) -> str:
    stripper = BlockStripper()
    return "".join(stripper.feed(piece) for piece in pieces) + stripper.finish()


def test_think_block_removed_even_when_tags_are_split_across_tokens():
    pieces = ["<th", "ink>", "the user wants", " the time</thi", "nk>", "It is noon."]
    assert strip_stream(pieces) == "It is noon."


def test_text_around_blocks_is_kept_and_lookalikes_pass():
    assert strip_stream(["a <think>x</think> b <thin", "g> c"]) == "a  b <thing> c"
    assert strip_stream(["5 < 6 and <b>"]) == "5 < 6 and <b>"


def test_unterminated_block_is_dropped_at_the_end():
    assert strip_stream(["Hi. <think>never closed"]) == "Hi. "


def test_partial_opening_at_end_of_stream_is_released():
    assert strip_stream(["ends with <thi"]) == "ends with <thi"


@pytest.mark.parametrize(
    ("raw", "spoken"),
    [
        ("**Bold** and *italic* and `code`", "Bold and italic and code"),
        ("## Weather\nIt is *sunny* today.", "Weather It is sunny today."),
        ("- milk\n- eggs\n1. bread", "milk eggs bread"),
        ("See [the docs](https://example.com) now", "See the docs now"),
        ("Great job! 🎉👍 Have fun ☀️", "Great job! Have fun"),
        ("> quoted words", "quoted words"),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "a b 1 2"),
        ("snake_case stays, __dunder__ goes", "snake_case stays, dunder goes"),
        ("Family 👨‍👩‍👧 emoji", "Family emoji"),
        ("   ", ""),
        ("12 * 12 = 144", "12 times 12 = 144"),
        ("**3*4** is 12, and 2 × (5) too", "3 times 4 is 12, and 2 times (5) too"),
        ("It is 21 °C and 5 km/h wind", "It is 21 °C and 5 km/h wind"),
    ],
)
def test_clean_for_speech(raw: str, spoken: str):
    assert clean_for_speech(raw) == spoken


def test_times_follows_the_reply_language():
    assert clean_for_speech("6 * 7 = 42", "de-DE") == "6 mal 7 = 42"
    assert clean_for_speech("6*7", "fr") == "6 fois 7"
    assert clean_for_speech("6*7", "xx") == "6 times 7"


def test_an_instruction_read_back_is_recognised():
    # Seen with a real Home Assistant: the 0.5B answered "No device was asked for."
    from rk_assist.assistant.pipeline import TALK_NOTE, echoes

    assert echoes("No device was asked for.", TALK_NOTE)
    assert echoes("Sure. Answer the person in a few plain words.", TALK_NOTE)
    assert not echoes("You're welcome!", TALK_NOTE)
    assert not echoes("Sorry, I can't find a device called door.", TALK_NOTE)


def test_a_clause_that_names_a_tool_is_never_spoken():
    assert clean_for_speech("you can use HassTurnOn to switch things on,") == ""
    assert clean_for_speech("Use intent__HassTurnOff to unlock a lock.") == ""
    assert clean_for_speech("Turned on the kitchen light.") == "Turned on the kitchen light."
    assert clean_for_speech("Hassle-free, it is on.") == "Hassle-free, it is on."


def test_the_prompts_notation_for_a_device_is_not_read_back():
    # Seen (0.5B, German): "Wohnzimmer Heizung (also: Heizung) [climate] existiert nicht".
    said = clean_for_speech("Wohnzimmer Heizung (also: Heizung) [climate] existiert nicht", "de")
    assert said == "Wohnzimmer Heizung existiert nicht"
    assert clean_for_speech("Garage Door [cover, garage] is closed.") == "Garage Door is closed."
