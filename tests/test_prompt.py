from datetime import datetime

import pytest

from rk_assist.assistant.prompt import default_system_prompt, load_system_prompt, request_note
from rk_assist.errors import PromptFileError


def test_default_prompt_is_written_on_first_start_and_edits_are_used(tmp_path):
    config_dir = tmp_path / "config"
    text = load_system_prompt(config_dir)
    assert text == default_system_prompt().strip()
    assert "markdown" in text and "emoji" in text
    (config_dir / "system.txt").write_text("You are Jarvis. Be brief.\n", encoding="utf-8")
    assert load_system_prompt(config_dir) == "You are Jarvis. Be brief."


def test_empty_prompt_file_falls_back_to_default(tmp_path):
    (tmp_path / "system.txt").write_text("  \n", encoding="utf-8")
    assert load_system_prompt(tmp_path) == default_system_prompt().strip()


def test_unreadable_prompt_file_names_the_path(tmp_path):
    (tmp_path / "system.txt").write_bytes(b"\xff\xfe not utf-8 \xc3")
    with pytest.raises(PromptFileError, match=r"system\.txt"):
        load_system_prompt(tmp_path)


def test_config_dir_that_cannot_be_created_names_the_path(tmp_path):
    blocker = tmp_path / "config"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(PromptFileError, match=r"system\.txt"):
        load_system_prompt(blocker)


def test_request_note_carries_time_and_language_outside_the_static_prompt():
    note = request_note(datetime(2026, 11, 22, 14, 5), "de-DE")
    assert note == "It is Sunday, 22 November 2026, 14:05. Reply in German."
    assert request_note(datetime(2026, 1, 2, 9, 0), "xx").endswith("Reply in xx.")
