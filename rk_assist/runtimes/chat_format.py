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

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from .base import ChatMessage

# ChatML, the format of Qwen and SmolLM2; used when a GGUF carries no template.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class RenderedPrompt:
    prefix: str  # everything up to and including the system prompt's text
    rest: str


class ChatRenderer:
    def __init__(self, template: str | None, bos_token: str, eos_token: str) -> None:
        self.template = template or CHATML_TEMPLATE
        self._formatter = Jinja2ChatFormatter(
            template=self.template, bos_token=bos_token, eos_token=eos_token
        )

    def render(
        self, messages: Sequence[ChatMessage], tools_json: str | None = None
    ) -> RenderedPrompt:
        as_dicts = [{"role": m.role, "content": m.content} for m in messages]
        tools = json.loads(tools_json) if tools_json else None
        try:
            text = self._formatter(messages=as_dicts, tools=tools).prompt
        except ValueError:
            # Some templates refuse a system message after the first one: fold
            # such notes into the user message that follows them.
            folded = _fold_late_system_messages(as_dicts)
            text = self._formatter(messages=folded, tools=tools).prompt
        system = messages[0].content if messages and messages[0].role == "system" else ""
        cut = text.find(system) + len(system) if system and system in text else 0
        return RenderedPrompt(prefix=text[:cut], rest=text[cut:])


def _fold_late_system_messages(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    folded: list[dict[str, str]] = []
    pending_note = ""
    for index, message in enumerate(messages):
        if message["role"] == "system" and index > 0:
            pending_note += message["content"] + "\n\n"
            continue
        if pending_note and message["role"] == "user":
            message = {"role": "user", "content": pending_note + message["content"]}
            pending_note = ""
        folded.append(message)
    return folded
