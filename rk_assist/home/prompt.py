"""The home's part of the system prompt.

It lists names, aliases, areas and kinds in a stable order and never states:
states change all the time, and the prompt must stay identical so its model
state can be cached. The prompt changes only when the exposed set does.
"""

from __future__ import annotations

from .intents import tool_signatures
from .model import Home, normalize

INSTRUCTIONS = """You control the devices listed below with these tools
(arguments in braces, * = required, the rest optional):
{tools}

To act, reply with only the calls, one JSON object a line, one call per device, with each
device's name as listed. Never tell a device's state from memory: check it with a call.
To talk, reply in plain words with no JSON. If a device is not listed, say you can't find it.
Examples from another home (its Zorb Lamp, Quux Blind and Quux Room are made up):
"switch on the zorb lamp" -> {{"name": "HassTurnOn", "arguments": {{"name": "Zorb Lamp"}}}}
"open the quux blind" -> {{"name": "HassTurnOn", "arguments": {{"name": "Quux Blind"}}}}
"turn off the zorb lamp and close the quux blind" ->
{{"name": "HassTurnOff", "arguments": {{"name": "Zorb Lamp"}}}}
{{"name": "HassTurnOff", "arguments": {{"name": "Quux Blind"}}}}
"dim the zorb lamp to 40 percent" ->
{{"name": "HassLightSet", "arguments": {{"name": "Zorb Lamp", "brightness": 40}}}}
"turn on the lights in the quux room" ->
{{"name": "HassTurnOn", "arguments": {{"area": "Quux Room", "domain": "light"}}}}
"is the zorb lamp on" -> {{"name": "HassGetState", "arguments": {{"name": "Zorb Lamp"}}}}
"a timer for 10 minutes" -> {{"name": "HassStartTimer", "arguments": {{"minutes": 10}}}}
"turn on the frobnicator" -> Sorry, I can't find a device called frobnicator.
"hello" -> Hello! How can I help?"""


#: The made-up names of the examples: never a device of a home, so never to be said (seen:
#: "what can you do" answered "... and turn on the frobnicator").
EXAMPLE_NAMES = ("zorb", "quux", "frobnicator")


def names_an_example(text: str, home: Home) -> bool:
    """Whether the text names one of the prompt's made-up examples (and the home has none
    of that name)."""
    words = set(normalize(text).split())
    names = [name for entity in home.entities.values() for name in entity.names]
    own = {word for name in names for word in normalize(name).split()}
    return any(name in words and name not in own for name in EXAMPLE_NAMES)


#: Tools given to runtimes beside a home prompt: none, the prompt lists them itself.
HOME_TOOLS_JSON: str | None = None


def home_prompt(base_prompt: str, home: Home) -> str:
    if not home.entities:
        return base_prompt
    instructions = INSTRUCTIONS.format(tools=tool_signatures(home))
    return f"{base_prompt}\n\n{instructions}\n\nDevices by area:\n{home.describe_for_prompt()}"
