"""A question about what a device measures or is set to, answered from its state.

In a real Home Assistant the packaged Qwens answered "what is the thermostat
set to" with numbers they never read ("10", "25", "100 degrees"; it was 18)
or with the thermostat's mode ("Heatpump is heat"), and "how humid is it
outside" with nothing or a made-up 30%. Home Assistant's own sentences have
no target question and ask for a sensor by its name. What a question asks
for is told here by its words, per language (a target: "set to",
"eingestellt", "réglé"...; a quantity: humid, "feucht", "humedad"...), and
the device from the home: the one named, or the one of that kind in the
place or with the word the question says, or the only one. The answer is a
state read (Home Assistant renders its sentence with the live value), never
the model's.
"""

from __future__ import annotations

import re

from .facts import devices_named
from .grounding import is_question
from .model import Entity, Home, normalize
from .phrases import LanguagePatterns, base_language
from .resolve import Action

#: Words that ask what a thermostat is set to, not what the room measures.
_TARGET = LanguagePatterns(
    {
        "en": r"\bset (?:to|at)\b|\btargets?\b|\bsetpoint\b|\bset for\b",
        "de": r"\b(?:eingestellt|gestellt|soll(?:temperatur|wert)?|zieltemperatur)\b",
        "fr": r"\b(?:réglée?|programmée?|consigne)\b",
        "es": r"\b(?:puest[oa]|programad[oa]|configurad[oa]|ajustad[oa]|consigna)\b",
        "it": r"\b(?:impostat[oa]|regolat[oa]|programmat[oa])\b",
        "nl": r"\b(?:ingesteld|gezet|doeltemperatuur)\b",
    }
)
#: Words that ask for a quantity, by the sensor device class that measures it.
_QUANTITY = {
    "humidity": LanguagePatterns(
        {
            "en": r"\bhumid(?:ity)?\b",
            "de": r"\b(?:\w*feucht\w*)\b",
            "fr": r"\bhumidit[ée]\b|\bhumide\b",
            "es": r"\bhumedad\b|\bhúmed[oa]\b",
            "it": r"\bumidit[àa]\b|\bumid[oa]\b",
            "nl": r"\b(?:\w*vochtig\w*)\b",
        }
    ),
    "temperature": LanguagePatterns(
        {
            "en": r"\btemperature\b|\bhow (?:warm|cold|hot)\b|\bhow many degrees\b",
            "de": r"\b\w*temperatur\b|\bwie (?:warm|kalt|heiß)\b|\bwie viel grad\b",
            "fr": r"\btempérature\b|\bquelle chaleur\b|\bfait-il (?:chaud|froid)\b"
            r"|\bcombien de degrés\b",
            "es": r"\btemperatura\b|\bcuánto (?:calor|frío)\b|\bcuántos grados\b",
            "it": r"\btemperatura\b|\bquanto (?:caldo|freddo)\b|\bquanti gradi\b",
            "nl": r"\b\w*temperatuur\b|\bhoe (?:warm|koud)\b|\bhoeveel graden\b",
        }
    ),
}
#: Words for outdoors, and the words outdoor sensors are named with, per language.
_OUTSIDE = LanguagePatterns(
    {
        "en": r"\b(?:outside|outdoors?)\b",
        "de": r"\b(?:draußen|draussen|außen|aussen)\b",
        "fr": r"\b(?:dehors|extérieur)\b",
        "es": r"\b(?:fuera|afuera|exterior)\b",
        "it": r"\b(?:fuori|esterno|esterna|all'aperto)\b",
        "nl": r"\b(?:buiten)\b",
    }
)
_OUTDOOR_NAMES = {
    "en": ("outside", "outdoor", "exterior"),
    "de": ("außen", "aussen", "draußen"),
    "fr": ("extérieur", "exterieur", "dehors"),
    "es": ("exterior", "fuera"),
    "it": ("esterno", "esterna", "fuori"),
    "nl": ("buiten",),
}
_TARGET_DOMAINS = ("climate", "water_heater")


def reading_asked(request: str, home: Home, language: str) -> Action | None:
    """The state read that answers a question about a target or a quantity, or None."""
    return target_asked(request, home, language) or quantity_asked(request, home, language)


def target_asked(request: str, home: Home, language: str) -> Action | None:
    """The read of a thermostat's target a question asks for, or None.

    Asked before Home Assistant's sentences, which read "Op hoeveel graden staat
    de thermostaat ingesteld?" as the room's temperature. The target needs its
    attribute in the home (``Home.attributes``) where the home holds states at
    all (Home Assistant's prompt holds none: its live context gives it).
    """
    target = _TARGET.of(language)
    if not target.search(request) or not _asks(request, language):
        return None
    pool = [e for e in home.entities.values() if e.domain in _TARGET_DOMAINS]
    entity = the_one(request, home, pool, target, ())
    if entity is None:
        return None
    known = home.attributes.get(entity.entity_id, {})
    if home.states and known.get("temperature") is None:
        return None  # no single target (off, or a range): its state says more
    return Action("HassGetState", {"name": entity.entity_id}, entity.entity_id, "temperature")


def quantity_asked(request: str, home: Home, language: str) -> Action | None:
    """The read of the sensor that measures what a question asks for ("how humid"), or None."""
    if not _asks(request, language):
        return None
    for device_class, words in _QUANTITY.items():
        pattern = words.of(language)
        if not pattern.search(request):
            continue
        pool = [
            e for e in home.entities.values() if e.domain == "sensor" and _measures(e, device_class)
        ]
        entity = the_one(request, home, pool, pattern, _outdoor_words(request, language))
        if entity is not None:
            return Action("HassGetState", {"name": entity.entity_id}, entity.entity_id)
    return None


def _measures(entity: Entity, device_class: str) -> bool:
    """Whether a sensor measures the quantity: by its class, or where its class is not
    known (Home Assistant's prompt does not say it) by its name."""
    if entity.device_class is not None:
        return entity.device_class == device_class
    names = " ".join(normalize(name) for name in entity.names)
    return any(stem in names for stem in _NAME_STEMS[device_class])


#: How a sensor's name says what it measures, in the six languages.
_NAME_STEMS = {
    "humidity": ("humid", "feucht", "humed", "umid", "vocht"),
    "temperature": ("temp",),
}


def _asks(request: str, language: str) -> bool:
    return request.lstrip().startswith("¿") or is_question(request, language)


def _outdoor_words(request: str, language: str) -> tuple[str, ...]:
    """The words outdoor sensors are named with, where the request asks about outdoors."""
    if not _OUTSIDE.search(request, language):
        return ()
    return _OUTDOOR_NAMES.get(base_language(language), _OUTDOOR_NAMES["en"])


def the_one(
    request: str,
    home: Home,
    pool: list[Entity],
    asked: re.Pattern[str] | None = None,
    outdoor: tuple[str, ...] = (),
) -> Entity | None:
    """The device of the pool the request means: named, placed, hinted at (by a word other
    than those of ``asked``), or the only one."""
    if not pool:
        return None
    named = [e for e in devices_named(request, home) if e in pool]
    if len(named) == 1:
        return named[0]
    said = {area.area_id for area in home.areas_said(request)}
    placed = [e for e in pool if e.area_id is not None and e.area_id in said]
    if len(placed) == 1:
        return placed[0]
    # A word of the question inside a name ("outside" in Outside Humidity, "buiten" in
    # Buitentemperatuur), other than the words that ask.
    unasked = asked.sub(" ", request) if asked is not None else ""
    hints = {word for word in normalize(unasked).split() if len(word) >= 4} | {
        normalize(word) for word in outdoor
    }
    hinted = [
        e
        for e in pool
        if any(hint in normalize(n).replace(" ", "") for n in e.names for hint in hints)
    ]
    if len(hinted) == 1:
        return hinted[0]
    return pool[0] if len(pool) == 1 else None


#: Words for lights, and for a light being on, per language: "is any light on in the
#: bathroom" said in the word orders Home Assistant's sentences do not read ("Ist im Bad
#: noch ein Licht an", "Brandt er nog licht in de woonkamer?").
_LIGHTS = LanguagePatterns(
    {
        "en": r"\b(?:lights?|lamps?)\b",
        "de": r"\b(?:licht|lichter|lampe|lampen)\b",
        "fr": r"\b(?:lumières?|lampes?)\b",
        "es": r"\b(?:luz|luces|lámparas?)\b",
        "it": r"\b(?:luc[ei]|lampad[ae])\b",
        "nl": r"\b(?:licht|lichten|lamp|lampen)\b",
    }
)
_LIT = LanguagePatterns(
    {
        "en": r"\bon\b",
        "de": r"\b(?:an|brennt|brennen|eingeschaltet)\b",
        "fr": r"\ballumée?s?\b",
        "es": r"\b(?:encendidas?|prendidas?)\b",
        "it": r"\b(?:accese?|acceso)\b",
        "nl": r"\b(?:aan|brandt|branden)\b",
    }
)


def lights_on_asked(request: str, home: Home, language: str) -> list[Action]:
    """The reads of a place's lights a question asks about ("is any light on in the
    kitchen"), or []: one place said, and it has lights."""
    if (
        not _asks(request, language)
        or not _LIGHTS.search(request, language)
        or not _LIT.search(request, language)
        or devices_named(request, home)  # a device named is asked about itself
    ):
        return []
    places = home.areas_said(request)
    if len(places) != 1:
        return []
    lights = [
        e for e in home.entities.values() if e.domain == "light" and e.area_id == places[0].area_id
    ]
    return [Action("HassGetState", {"name": e.entity_id}, e.entity_id) for e in lights]
