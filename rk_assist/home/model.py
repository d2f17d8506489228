"""The home as the assistant may see it: exposed entities, areas and floors.

Only entities exposed to Assist are here; everything the model is told and
everything it may act on comes from this picture, because Home Assistant
does not check exposure for intents a Wyoming service sends.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import voluptuous as vol
import yaml

from ..errors import HomeFileError
from .cover_kinds import OPENINGS, may_be_an_opening

# Leading articles and possessives of the languages rk-assist speaks: a model writes
# "la ventilation" for the device called "Ventilation" (names and requests alike lose them).
_ARTICLES = {
    "the", "a", "an", "my", "our",  # en
    "der", "die", "das", "den", "dem", "des", "mein", "meine", "unser", "unsere",  # de
    "le", "la", "les", "l", "un", "une", "du", "mon", "ma", "mes",  # fr
    "el", "los", "las", "mi", "mis",  # es
    "il", "lo", "gli", "i", "mio", "mia",  # it
    "het", "de", "een", "mijn", "ons", "onze",  # nl
}  # fmt: skip
_SENSITIVE_DOMAINS = frozenset({"lock", "alarm_control_panel", "valve"})
#: Domains that are only read: they share a device's name (a door's contact sensor, a
#: lock's tamper sensor) but are never what an order acts on.
READ_ONLY_DOMAINS = frozenset({"sensor", "binary_sensor"})


@functools.lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Lower case, no accents or punctuation, single spaces, no leading article.

    Remembered: every grounding rule reads the same request, and every name of the
    home is compared many times a turn."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[_\W]+", " ", text).strip()
    words = text.split()
    while words and words[0] in _ARTICLES:
        words = words[1:]
    return " ".join(words)


@dataclass(frozen=True)
class Floor:
    floor_id: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Area:
    area_id: str
    name: str
    aliases: tuple[str, ...] = ()
    floor_id: str | None = None


@dataclass(frozen=True)
class Entity:
    entity_id: str
    name: str
    aliases: tuple[str, ...] = ()
    area_id: str | None = None
    device_class: str | None = None

    @property
    def domain(self) -> str:
        return self.entity_id.split(".", 1)[0]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def sensitive(self) -> bool:
        """A device whose wrong action lets someone in or costs dear: acted on only by name.

        A cover of no known class may be a door: it counts as one unless its name says
        another kind ("Kitchen Window", "Rollladen"); curtains, blinds, shades, shutters,
        awnings and windows let nobody in.
        """
        if self.domain in _SENSITIVE_DOMAINS:
            return True
        if self.domain != "cover":
            return False
        if self.device_class is None:
            return may_be_an_opening(self.names)
        return self.device_class in OPENINGS


@dataclass
class Home:
    entities: dict[str, Entity] = field(default_factory=dict)
    areas: dict[str, Area] = field(default_factory=dict)
    floors: dict[str, Floor] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)  # never part of the prompt
    #: The attributes worth saying (``READ_ATTRIBUTES``), by entity: a thermostat's target.
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The area of each device in Home Assistant's device registry: where a satellite that
    #: heard a request stands ("turn off the light" is the light here).
    device_areas: dict[str, str] = field(default_factory=dict)

    def area_of_device(self, device_id: str | None) -> Area | None:
        """The area the device (a voice satellite) is in, where the home knows it."""
        area_id = self.device_areas.get(device_id or "")
        return self.areas.get(area_id) if area_id else None

    @property
    def domains(self) -> set[str]:
        return {entity.domain for entity in self.entities.values()}

    def signature(self) -> tuple:
        """What the prompt depends on: changes only when the exposed set does."""
        return (
            tuple(sorted(self.entities.values(), key=lambda e: e.entity_id)),
            tuple(sorted(self.areas.values(), key=lambda a: a.area_id)),
            tuple(sorted(self.floors.values(), key=lambda f: f.floor_id)),
        )

    def area_of(self, entity: Entity) -> Area | None:
        return self.areas.get(entity.area_id) if entity.area_id else None

    def areas_said(self, text: str) -> list[Area]:
        """The areas whose name or an alias the text says, as whole words."""
        said = f" {normalize(text)} "
        return [
            area
            for area in self.areas.values()
            if any(
                (name := normalize(spoken)) and f" {name} " in said
                for spoken in (area.name, *area.aliases)
            )
        ]

    def find_area(self, spoken: str) -> list[Area]:
        return _best_matches(spoken, self.areas.values(), lambda a: (a.name, *a.aliases, a.area_id))

    def find_floor(self, spoken: str) -> list[Floor]:
        return _best_matches(
            spoken, self.floors.values(), lambda f: (f.name, *f.aliases, f.floor_id)
        )

    def telling_apart(self, entity: Entity) -> dict[str, str]:
        """What Home Assistant needs beside a device's name to find exactly it: the domain
        where an entity of another domain shares the name (a lock and its tamper sensor,
        both "Smart Lock"), the area where one of its own domain does. Home Assistant
        refuses a call naming a shared name alone, as a duplicate."""
        shared = [
            other
            for other in self.entities.values()
            if other.entity_id != entity.entity_id
            and {normalize(n) for n in other.names} & {normalize(entity.name)}
        ]
        slots: dict[str, str] = {}
        if shared:
            slots["domain"] = entity.domain
        area = self.area_of(entity)
        if area is not None and any(other.domain == entity.domain for other in shared):
            slots["area"] = area.name
        return slots

    def find_entities(
        self, spoken: str, candidates: Iterable[Entity] | None = None
    ) -> list[Entity]:
        pool = list(self.entities.values() if candidates is None else candidates)
        return _best_matches(spoken, pool, lambda e: (*e.names, e.entity_id))

    def describe_for_prompt(self) -> str:
        """The device list for the system prompt: stable order, names, aliases, areas, no states."""
        lines: list[str] = []
        by_area: dict[str, list[Entity]] = {}
        for entity in self.entities.values():
            by_area.setdefault(entity.area_id or "", []).append(entity)
        for area_id in sorted(by_area, key=lambda a: (a == "", self._area_name(a))):
            area = self.areas.get(area_id)
            header = area.name if area else "No area"
            if area and area.floor_id and area.floor_id in self.floors:
                header += f" ({self.floors[area.floor_id].name})"
            lines.append(f"{header}:")
            for entity in sorted(by_area[area_id], key=lambda e: (e.domain, normalize(e.name))):
                aliases = f" (also: {', '.join(entity.aliases)})" if entity.aliases else ""
                kind = entity.domain + (f", {entity.device_class}" if entity.device_class else "")
                lines.append(f"- {entity.name}{aliases} [{kind}]")
        return "\n".join(lines)

    def _area_name(self, area_id: str) -> str:
        area = self.areas.get(area_id)
        return normalize(area.name) if area else ""


def _best_matches(spoken: str, items: Iterable[Any], names_of) -> list[Any]:
    """Exact (normalised) matches first; else close spellings, best only."""
    wanted = normalize(spoken)
    if not wanted:
        return []
    items = list(items)
    exact = [item for item in items if wanted in {normalize(n) for n in names_of(item)}]
    if exact:
        return exact
    scored: list[tuple[float, Any]] = []
    for item in items:
        score = max(SequenceMatcher(None, wanted, normalize(n)).ratio() for n in names_of(item))
        if score >= 0.85:
            scored.append((score, item))
    if not scored:
        return []
    best = max(score for score, _ in scored)
    return [item for score, item in scored if score >= best - 0.02]


# -- a home described in YAML (the evaluation's synthetic home, or a fixed setup) ----------

_NAMES = vol.Any(None, [str])
#: The attributes of a state that answers are read from (Home Assistant's live context keeps
#: the same): a thermostat's target and the temperature it measures.
READ_ATTRIBUTES = (
    "temperature",
    "current_temperature",
    "target_temp_low",
    "target_temp_high",
    # A light's level (0-255): what "a little brighter" steps from.
    "brightness",
)


def read_attributes(attributes: dict[str, Any] | None) -> dict[str, Any]:
    """The attributes of a state worth keeping (``READ_ATTRIBUTES``) that are set."""
    return {
        key: value
        for key, value in (attributes or {}).items()
        if key in READ_ATTRIBUTES and value is not None
    }


HOME_SCHEMA = vol.Schema(
    {
        vol.Optional("floors", default=[]): [
            {vol.Required("id"): str, vol.Required("name"): str, vol.Optional("aliases"): _NAMES}
        ],
        vol.Optional("areas", default=[]): [
            {
                vol.Required("id"): str,
                vol.Required("name"): str,
                vol.Optional("aliases"): _NAMES,
                vol.Optional("floor"): str,
            }
        ],
        vol.Required("entities"): [
            {
                vol.Required("id"): vol.Match(r"^[a-z_]+\.[a-z0-9_]+$"),
                vol.Required("name"): str,
                vol.Optional("aliases"): _NAMES,
                vol.Optional("area"): str,
                vol.Optional("device_class"): str,
                vol.Optional("state"): vol.Coerce(str),
                #: What Home Assistant's state carries beside it (a thermostat's target).
                vol.Optional("attributes"): {str: vol.Any(str, int, float)},
                vol.Optional("exposed", default=True): bool,
            }
        ],
    }
)


def load_home(path: Path) -> Home:
    try:
        raw = HOME_SCHEMA(yaml.safe_load(path.read_text(encoding="utf-8")))
    except OSError as err:
        raise HomeFileError(f"cannot read the home file {path}: {err.strerror}") from err
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise HomeFileError(f"{path} is not valid YAML: {err.problem}{at}") from err
    except yaml.YAMLError as err:
        raise HomeFileError(f"{path} is not valid YAML: {err}") from err
    except vol.Invalid as err:
        where = ".".join(str(p) for p in err.path) or "the top level"
        raise HomeFileError(f"{path}: {where}: {err.msg}") from err
    home = Home()
    for floor in raw["floors"]:
        home.floors[floor["id"]] = Floor(
            floor["id"], floor["name"], tuple(floor.get("aliases") or ())
        )
    for area in raw["areas"]:
        home.areas[area["id"]] = Area(
            area["id"], area["name"], tuple(area.get("aliases") or ()), area.get("floor")
        )
    for item in raw["entities"]:
        if "state" in item:
            home.states[item["id"]] = item["state"]
        if item.get("attributes"):
            home.attributes[item["id"]] = dict(item["attributes"])
        if not item["exposed"]:
            continue
        home.entities[item["id"]] = Entity(
            item["id"],
            item["name"],
            tuple(item.get("aliases") or ()),
            item.get("area"),
            item.get("device_class"),
        )
    return home


def unexposed_entities(path: Path) -> list[str]:
    """Names of the entities a home file lists as not exposed (for the evaluation)."""
    raw = HOME_SCHEMA(yaml.safe_load(path.read_text(encoding="utf-8")))
    return [item["name"] for item in raw["entities"] if not item["exposed"]]
