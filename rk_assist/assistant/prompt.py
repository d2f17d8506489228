"""The system prompt: a user-editable file, plus per-request facts kept apart.

The static prompt is what runtimes cache (its model state is computed once),
so anything that changes between requests, such as the time or the reply
language, must not be part of it: it goes into a short note just before the
user's words instead.
"""

from __future__ import annotations

import logging
from datetime import datetime
from importlib import resources
from pathlib import Path

from ..errors import PromptFileError

_LOGGER = logging.getLogger(__name__)

SYSTEM_PROMPT_FILE = "system.txt"

_LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pt": "Portuguese",
    "pl": "Polish",
    "sv": "Swedish",
    "da": "Danish",
    "nb": "Norwegian",
    "no": "Norwegian",
    "fi": "Finnish",
    "cs": "Czech",
    "ru": "Russian",
    "uk": "Ukrainian",
    "tr": "Turkish",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
}


def default_system_prompt() -> str:
    return resources.files("rk_assist").joinpath("data", SYSTEM_PROMPT_FILE).read_text("utf-8")


def load_system_prompt(config_dir: Path) -> str:
    """Read ``<config_dir>/system.txt``, writing the packaged default on first start."""
    path = config_dir / SYSTEM_PROMPT_FILE
    try:
        if not path.exists():
            config_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(default_system_prompt(), encoding="utf-8")
            _LOGGER.info("Wrote the default system prompt to %s; edit it to taste", path)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PromptFileError(f"cannot use the system prompt file {path}: {err}") from err
    text = text.strip()
    if not text:
        _LOGGER.warning("%s is empty; using the packaged default system prompt", path)
        return default_system_prompt().strip()
    return text


def language_name(language: str) -> str:
    base = language.replace("_", "-").split("-", 1)[0].lower()
    return _LANGUAGE_NAMES.get(base, language)


def request_note(now: datetime, language: str) -> str:
    """The per-request facts, phrased for the model."""
    return (
        f"It is {now:%A}, {now.day} {now:%B %Y}, {now:%H:%M}. Reply in {language_name(language)}."
    )
