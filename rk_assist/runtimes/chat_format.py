"""Render chat messages with the model's own template, split at the cacheable prefix.

The model state after the system prompt can only be reused if every prompt
starts with exactly the same tokens. So the rendered prompt is cut right
after the system prompt's text, and the two parts are tokenized separately:
the first part then always yields the same tokens, whatever follows it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from jinja2 import TemplateError
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from .base import ChatMessage, SystemBlock

# ChatML, the format of Qwen and SmolLM2; used when a GGUF carries no template.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class RenderedPrompt:
    prefix: str  # the static part: the system block (tools included), same for every turn
    rest: str


class TemplateSource(Protocol):
    """Anything that renders chat messages to prompt text (a Hugging Face tokenizer does)."""

    bos_token: str

    def count(self, text: str) -> int: ...

    def render(
        self, messages: list[dict[str, Any]], tools_json: str | None, enable_thinking: bool
    ) -> str: ...


class ChatRenderer:
    """Renders with a Jinja chat template, or with a tokenizer's own template.

    Thinking (Qwen3's ``enable_thinking``) is off unless asked for: a voice
    answer cannot wait for a page of reasoning.
    """

    def __init__(
        self,
        template: str | None,
        bos_token: str = "",
        eos_token: str = "",
        enable_thinking: bool = False,
        tokenizer: TemplateSource | None = None,
    ) -> None:
        self.template = template or CHATML_TEMPLATE
        self.enable_thinking = enable_thinking
        self._tokenizer = tokenizer
        self._prefix_memo: tuple[tuple[str, str | None, str | None], str] | None = None
        self.bos_token = tokenizer.bos_token if tokenizer else bos_token
        self._formatter = Jinja2ChatFormatter(
            template=self.template, bos_token=bos_token, eos_token=eos_token
        )

    def _text(self, messages: list[dict[str, Any]], tools_json: str | None) -> str:
        if self._tokenizer is not None:
            return self._tokenizer.render(messages, tools_json, self.enable_thinking)
        tools = json.loads(tools_json) if tools_json else None
        return self._formatter(
            messages=messages, tools=tools, enable_thinking=self.enable_thinking
        ).prompt

    def render(
        self,
        messages: Sequence[ChatMessage],
        tools_json: str | None = None,
        context: str | None = None,
    ) -> RenderedPrompt:
        """``context``: the system message after the first (``GenerationRequest.context``),
        part of the static prefix."""
        text = self._render_dicts([m.template_dict() for m in messages], tools_json)
        system = messages[0].content if messages and messages[0].role == "system" else ""
        prefix = self.static_prefix(system, tools_json, context) if system else ""
        if not text.startswith(prefix):
            prefix = ""
        return RenderedPrompt(prefix=prefix, rest=text[len(prefix) :])

    def static_prefix(
        self, system_prompt: str, tools_json: str | None, context: str | None = None
    ) -> str:
        """The rendered text every prompt with this system prompt, tools (and context)
        starts with.

        Two probes that differ from their next message on (its role and its
        text) share exactly the static part: the whole system block, tools
        included, and the context's, up to where the next message's role is
        written.
        """
        key = (system_prompt, tools_json, context)
        if self._prefix_memo is not None and self._prefix_memo[0] == key:
            return self._prefix_memo[1]
        block = SystemBlock(system_prompt, tools_json, context)
        head = [message.template_dict() for message in block.messages()]
        first = self._render_dicts([*head, {"role": "user", "content": "\x01"}], tools_json)
        second = self._render_dicts([*head, {"role": "system", "content": "\x02"}], tools_json)
        length = 0
        for a, b in zip(first, second, strict=False):
            if a != b:
                break
            length += 1
        prefix = first[:length]
        if system_prompt not in prefix or (context and context not in prefix):
            prefix = ""  # the template hides or moves the system prompt: nothing static
        self._prefix_memo = (key, prefix)
        return prefix

    def _render_dicts(self, messages: list[dict[str, Any]], tools_json: str | None) -> str:
        try:
            return self._text(messages, tools_json)
        except (ValueError, TemplateError):
            # Some templates refuse a system message after the first one: fold
            # such notes into the user message that follows them.
            return self._text(_fold_late_system_messages(messages), tools_json)


def _fold_late_system_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    folded: list[dict[str, Any]] = []
    pending_note = ""
    for index, message in enumerate(messages):
        if message["role"] == "system" and index > 0:
            pending_note += message["content"] + "\n\n"
            continue
        if pending_note and message["role"] == "user":
            message = {**message, "content": pending_note + message["content"]}
            pending_note = ""
        folded.append(message)
    return folded
