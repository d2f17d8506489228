"""The home that Home Assistant's own prompt describes, for its HTTP conversation agents.

Home Assistant's Assist API puts the exposed devices into the system prompt
as YAML ("Static Context: An overview of the areas and the devices in this
smart home:", then one item per device: its names, domain and areas). That
list is what a request through the Ollama or OpenAI door may act on, so the
calls made there are held to it as the Wyoming door's are to the home it
reads. Device ids are made up here (the prompt has none): nothing outside
this module sees them, the calls name devices as Home Assistant does.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

import yaml

from ..home.model import Area, Entity, Home

_LOGGER = logging.getLogger(__name__)
_OVERVIEW = "An overview of the areas and the devices in this smart home:"
_SLUG = re.compile(r"[^a-z0-9]+")


def _split(names: object) -> list[str]:
    return [name.strip() for name in str(names or "").split(",") if name.strip()]


def _slug(text: str) -> str:
    return _SLUG.sub("_", text.lower()).strip("_") or "device"


def overview_items(text: str, header: str = _OVERVIEW) -> list[dict] | None:
    """The YAML list after Home Assistant's overview line (its prompt or its live context)."""
    start = text.find(header)
    if start < 0:
        return None
    lines = []
    for line in text[start + len(header) :].splitlines()[1:]:
        if line and not line.startswith(("- ", "  ")):
            break  # the YAML list ends where unindented text begins
        lines.append(line)
    try:
        items = yaml.safe_load("\n".join(lines))
    except yaml.YAMLError as err:
        _LOGGER.warning("Home Assistant's device overview is not YAML: %s", err)
        return None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else None


def overview_apart(system: str) -> tuple[str, str] | None:
    """Home Assistant's prompt without its device overview, and the overview (its heading
    line and YAML list); None where the prompt has none.

    The overview is the part of the prompt that changes when a device is
    exposed or renamed; the instructions around it and the tools do not. Apart,
    the model's state after the instructions and tools stays valid across such
    a change and only the overview is computed again.
    """
    start = system.find(_OVERVIEW)
    if start < 0:
        return None
    start = system.rfind("\n", 0, start) + 1
    lines = system[start:].splitlines(keepends=True)
    end = 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(("- ", "  "))):
        end += 1
    overview = "".join(lines[:end]).strip()
    rest = (system[:start].rstrip() + "\n\n" + "".join(lines[end:]).lstrip()).strip()
    return rest, overview


def item_in_live_context(text: str, name: str) -> dict[str, Any] | None:
    """What Home Assistant's live context gives of the device called ``name``: its
    ``state`` and the ``attributes`` it keeps (a thermostat's target)."""
    for item in overview_items(text) or []:
        if name.casefold() in (n.casefold() for n in _split(item.get("names"))):
            return item
    return None


@functools.lru_cache(maxsize=8)
def home_from_prompt(system: str) -> Home | None:
    """The devices and areas Home Assistant's prompt lists; None without that list.

    Cached: Home Assistant sends the same prompt with every request.
    """
    items = overview_items(system)
    if items is None:
        return None
    home = Home()
    for item in items:
        names, domain = _split(item.get("names")), str(item.get("domain") or "")
        if not names or not domain:
            continue
        area_names = _split(item.get("areas"))
        area_id = None
        if area_names:
            area_id = _slug(area_names[0])
            home.areas.setdefault(area_id, Area(area_id, area_names[0], tuple(area_names[1:])))
        entity_id = f"{domain}.{_slug(names[0])}"
        while entity_id in home.entities:
            entity_id += "_"
        home.entities[entity_id] = Entity(entity_id, names[0], tuple(names[1:]), area_id)
    return home if home.entities else None
