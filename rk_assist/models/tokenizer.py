"""A model folder's Hugging Face tokenizer: exact token counts and its own chat template.

An ``.rkllm`` file carries no usable tokenizer for us, so without these
files the NPU runtime can only estimate prompt sizes and must assume Qwen's
chat format. Loaded strictly offline: a voice assistant must never reach for
the network, and a missing file is an error here, not a download.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import ModelFileError


class HfChatTokenizer:
    def __init__(self, folder: Path, template_override: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            from transformers import AutoTokenizer
        except ImportError as err:  # pragma: no cover - a declared dependency
            raise ModelFileError(f"transformers is needed to read {folder}: {err}") from err
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError, TypeError) as err:
            raise ModelFileError(f"cannot load the tokenizer in {folder}: {err}") from err
        if template_override:
            self._tokenizer.chat_template = template_override
        if not self._tokenizer.chat_template:
            raise ModelFileError(f"the tokenizer in {folder} has no chat template")
        self.folder = folder

    @property
    def bos_token(self) -> str:
        return self._tokenizer.bos_token or ""

    @property
    def eos_token(self) -> str:
        return self._tokenizer.eos_token or ""

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def render(
        self, messages: list[dict[str, str]], tools_json: str | None, enable_thinking: bool
    ) -> str:
        kwargs: dict[str, Any] = {"enable_thinking": enable_thinking}
        if tools_json:
            kwargs["tools"] = json.loads(tools_json)
        return self._tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, **kwargs
        )
