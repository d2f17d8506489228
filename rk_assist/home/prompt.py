"""The home's part of the system prompt.

It lists names, aliases, areas and kinds in a stable order and never states:
states change all the time, and the prompt must stay identical so its model
state can be cached. The prompt changes only when the exposed set does.
"""

from __future__ import annotations

from .model import Home

INSTRUCTIONS = """You can control the devices of this home with your tools (Home Assistant intents).
To act, call a tool and say nothing else. Use a device name exactly as listed below. Never
control a device that is not listed. If a request names no device you know, say so briefly.
A tool call looks like this:
<tool_call>
{"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}
</tool_call>"""


def home_prompt(base_prompt: str, home: Home) -> str:
    if not home.entities:
        return base_prompt
    return f"{base_prompt}\n\n{INSTRUCTIONS}\n\nDevices by area:\n{home.describe_for_prompt()}"
