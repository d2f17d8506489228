"""Changes said by how much, not to what: "a little brighter", "halfway", "half speed".

Home Assistant's sentences set a level said as a number; people say "dim the
lamp a little", "close the blinds halfway", "make it a little warmer". The
packaged Qwens turned "halfway" into closed and "a little" into off (wrong
actions), or asked for a number. What a request asks is told here by its
words, per language (a direction: brighter, leiser, plus chaud; an amount: a
little, halfway), the device from the home (the one named, the one of the kind
in the place said or heard in, or the only one), and the new level from the
device's state. Home Assistant's own intents carry it out.

Steps (the README says them): "a little" is 10 points of brightness and 1
degree; "a lot" 30 points and 3 degrees; a volume goes up or down by the
player's own step (HassSetVolumeRelative); "half"/"halfway" is 50%, "a
quarter" 25%.
"""

from __future__ import annotations

from .facts import devices_named
from .grounding import is_question
from .model import READ_ONLY_DOMAINS, Entity, Home, normalize
from .negation import negated
from .phrases import LanguagePatterns
from .readings import the_one
from .request_words import PERCENT, degrees_said, numbers_in
from .resolve import Action
from .statements import tells

_UP = LanguagePatterns(
    {
        "en": r"\b(?:brighter|brighten|louder|warmer|hotter|higher|raise|increase|up)\b",
        "de": r"\b(?:heller|lauter|wärmer|höher|erhöh\w*|rauf|hoch)\b",
        "fr": r"\b(?:plus (?:fort|chaud|lumineux|clair)|monte\w*|augmente\w*|réchauffe\w*)\b",
        "es": r"\b(?:más (?:fuerte|alto|caliente|luz)|sube\w*|aumenta\w*|calienta\w*)\b",
        "it": r"\b(?:più (?:forte|alto|caldo|luminos[oa])|alza\w*|aumenta\w*|scalda\w*)\b",
        "nl": r"\b(?:feller|lichter|harder|luider|warmer|hoger|omhoog)\b",
    }
)
_DOWN = LanguagePatterns(
    {
        "en": r"\b(?:dim|dimmer|darker|quieter|softer|cooler|colder|lower|decrease|down)\b",
        "de": r"\b(?:dunkler|leiser|kühler|kälter|niedriger|dimm\w*|senk\w*|runter)\b",
        "fr": r"\b(?:moins (?:fort|chaud|lumineux)|baisse\w*|diminue\w*|tamise\w*)\b",
        "es": r"\b(?:menos (?:fuerte|alto|luz)|más (?:bajo|frío|fresco)|baja\w*|reduce\w*)\b",
        "it": r"\b(?:meno (?:forte|luminos[oa])|più (?:basso|fresco|freddo)|abbassa\w*"
        r"|diminuisci\w*)\b",
        "nl": r"\b(?:donkerder|zachter|stiller|koeler|kouder|lager|dimmen|dim|omlaag)\b",
    }
)
_A_LITTLE = LanguagePatterns(
    {
        "en": r"\b(?:a (?:little|bit|touch|tad)(?: bit)?|slightly|a little more)\b",
        "de": r"\b(?:etwas|ein (?:bisschen|wenig|bissel|stück))\b",
        "fr": r"\b(?:un (?:peu|petit peu|poil))\b",
        "es": r"\b(?:un (?:poco|poquito))\b",
        "it": r"\b(?:un po'?|un poco|un pochino)",
        "nl": r"\b(?:iets|wat|een (?:beetje|tikje))\b",
    }
)
_A_LOT = LanguagePatterns(
    {
        "en": r"\b(?:a lot|much)\b",
        "de": r"\b(?:viel|deutlich)\b",
        "fr": r"\bbeaucoup\b",
        "es": r"\bmucho\b",
        "it": r"\bmolto\b",
        "nl": r"\b(?:veel|flink)\b",
    }
)
_HALF = LanguagePatterns(
    {
        "en": r"\b(?:half(?:way)?|half-way)\b",
        "de": r"\b(?:halb\w*|(?:zur )?hälfte)\b",
        "fr": r"\b(?:à moitié|à mi-hauteur|mi-\w+|à demi)\b",
        "es": r"\b(?:a la mitad|a medias|medio|media)\b",
        "it": r"(?:\ba metà|\bmetà\b|\bmezz[oa]\b)",
        "nl": r"\bhalf\w*\b",
    }
)
_QUARTER = LanguagePatterns(
    {
        "en": r"\ba quarter\b",
        "de": r"\b(?:ein )?viertel\b",
        "fr": r"\bau quart\b|\bun quart\b",
        "es": r"\bun cuarto\b",
        "it": r"\bun quarto\b",
        "nl": r"\b(?:een )?kwart\b",
    }
)
#: Words of a fan's speed and of sound: what a half or a step is of.
_SPEED = LanguagePatterns(
    {
        "en": r"\bspeed\b",
        "de": r"\b(?:stufe|geschwindigkeit|tempo)\b",
        "fr": r"\bvitesse\b",
        "es": r"\bvelocidad\b",
        "it": r"\bvelocità\b",
        "nl": r"\b(?:snelheid|stand)\b",
    }
)
_WARMTH = LanguagePatterns(
    {
        "en": r"\b(?:warmer|hotter|cooler|colder|heat|heating)\b",
        "de": r"\b(?:wärmer|kühler|kälter|heizung)\b",
        "fr": r"\b(?:chaud|frais|froid|chauffage)\b",
        "es": r"\b(?:caliente|calor|frío|fresco|calefacción)\b",
        "it": r"\b(?:caldo|fresco|freddo|riscaldamento)\b",
        "nl": r"\b(?:warmer|koeler|kouder|verwarming)\b",
    }
)
_SOUND = LanguagePatterns(
    {
        "en": r"\b(?:louder|quieter|softer|volume|sound|music)\b",
        "de": r"\b(?:lauter|leiser|lautstärke|ton)\b",
        "fr": r"\b(?:son|volume|plus fort|moins fort)\b",
        "es": r"\b(?:volumen|sonido|más fuerte|menos fuerte)\b",
        "it": r"\b(?:volume|audio|più forte|meno forte)\b",
        "nl": r"\b(?:volume|geluid|harder|zachter|luider|stiller)\b",
    }
)
_SMALL, _LARGE = 10, 30  # points of brightness
_DEGREE_SMALL, _DEGREE_LARGE = 1, 3


def change_asked(request: str, home: Home, language: str, here: str | None = None) -> Action | None:
    """The action a change said by how much asks for, or None where the request is not
    one (or the home does not settle which device or from what level).

    ``request`` has its numbers as digits; ``here``: the name of the area it was heard in.
    """
    if negated(request, language) or tells(request, language) or is_question(request, language):
        return None
    return (
        _partial(request, home, language, here)
        or _temperature_for_place(request, home, language, here)
        or _relative(request, home, language, here)
    )


def _partial(request: str, home: Home, language: str, here: str | None) -> Action | None:
    if _HALF.search(request, language):
        share = 50
    elif _QUARTER.search(request, language):
        share = 25
    else:
        return None
    if _SPEED.search(request, language):
        fan = _device(request, home, ("fan",), here, only=False)
        return fan and _act("HassFanSetSpeed", fan, percentage=share)
    cover = _device(request, home, ("cover",), here, only=False)
    if cover is None or cover.sensitive:
        return None  # a door or a gate halfway is said plainly, to Home Assistant's sentences
    return _act("HassSetPosition", cover, position=share)


def _temperature_for_place(
    request: str, home: Home, language: str, here: str | None
) -> Action | None:
    """ "make it 21 degrees in the lounge": the thermostat of the place said (or heard in,
    or the home's only one)."""
    numbers = degrees_said(request, language)
    climate = _device(request, home, ("climate",), here, only=False)
    if climate is None or len(numbers) != 1:
        return None
    return _act("HassClimateSetTemperature", climate, temperature=numbers.pop())


def _relative(request: str, home: Home, language: str, here: str | None) -> Action | None:
    found = _relative_to(request, home, language, here)
    if found is None:
        return None
    sign, entity = found
    large = _A_LOT.search(request, language)
    if entity.domain == "climate":
        target = _number(home.attributes.get(entity.entity_id, {}).get("temperature"))
        if target is None:
            return None
        step = _DEGREE_LARGE if large else _DEGREE_SMALL
        return _act("HassClimateSetTemperature", entity, temperature=target + sign * step)
    if entity.domain == "media_player":
        step = _percent_said(request, language)
        return _act(
            "HassSetVolumeRelative",
            entity,
            volume_step=sign * step if step else ("up" if sign > 0 else "down"),
        )
    level = _brightness(entity, home)
    if level is None:
        return None
    step = _percent_said(request, language) or (_LARGE if large else _SMALL)
    return _act("HassLightSet", entity, brightness=max(1, min(100, level + sign * step)))


def state_needed(request: str, home: Home, language: str, here: str | None = None) -> Entity | None:
    """The device whose state a change by how much needs and the home does not hold
    (Home Assistant's prompt lists no states: its live context gives them), or None."""
    if change_asked(request, home, language, here) is not None:
        return None
    if negated(request, language) or tells(request, language) or is_question(request, language):
        return None
    found = _relative_to(request, home, language, here)
    if found is None or found[1].domain == "media_player":
        return None
    return found[1]


def _relative_to(
    request: str, home: Home, language: str, here: str | None
) -> tuple[int, Entity] | None:
    """The direction (1 up, -1 down) and the device of a change by how much, or None."""
    up, down = _UP.search(request, language), _DOWN.search(request, language)
    if up == down:
        return None  # neither, or both: not a change by how much
    if numbers_in(request, language) and not _percent_said(request, language):
        return None  # "dim the lamp to 15 percent": a level, Home Assistant's sentences
    sign = 1 if up else -1
    if _WARMTH.search(request, language):
        climate = _device(request, home, ("climate",), here)
        return (sign, climate) if climate is not None else None
    if _SOUND.search(request, language) or _named(request, home, "media_player"):
        player = _device(request, home, ("media_player",), here)
        if player is not None:
            return sign, player
    light = _named(request, home, "light")
    said_how_much = (
        _A_LITTLE.search(request, language)
        or _A_LOT.search(request, language)
        or _percent_said(request, language)
    )
    if light is None or not said_how_much:
        return None  # "dim the lamp": by how much is not said; the sentences ask
    return sign, light


def _device(
    request: str, home: Home, domains: tuple[str, ...], here: str | None, only: bool = True
) -> Entity | None:
    """The device of these domains the request means: named, in the place said, in the
    place it was heard in, or (``only``) the only one. None where the request names a
    device of another kind: the change is that device's, not this one's."""
    named = [e for e in devices_named(request, home) if not _a_place_too(e, home)]
    # A sensor named as its device is ("Thermostat", its humidity too) is not another device.
    own_names = {normalize(n) for e in named if e.domain in domains for n in e.names}
    named = [
        e
        for e in named
        if not (e.domain in READ_ONLY_DOMAINS and {normalize(n) for n in e.names} & own_names)
    ]
    if any(e.domain not in domains for e in named):
        return None
    pool = [e for e in home.entities.values() if e.domain in domains]
    if not only and not named and not _place_said(request, home, pool):
        pool = [e for e in pool if (a := home.area_of(e)) is not None and a.name == here]
        return pool[0] if len(pool) == 1 else None
    found = the_one(request, home, pool)
    if found is not None or here is None:
        return found
    in_here = [e for e in pool if (area := home.area_of(e)) is not None and area.name == here]
    return in_here[0] if len(in_here) == 1 else None


def _a_place_too(entity: Entity, home: Home) -> bool:
    """Whether a device is called as its area is (a "Living Room" speaker): its name
    in a request may be the place."""
    places = {normalize(n) for a in home.areas.values() for n in (a.name, *a.aliases)}
    return any(normalize(name) in places for name in entity.names)


def _place_said(request: str, home: Home, pool: list[Entity]) -> bool:
    said = {area.area_id for area in home.areas_said(request)}
    return any(entity.area_id in said for entity in pool)


def _named(request: str, home: Home, domain: str) -> Entity | None:
    named = [e for e in devices_named(request, home) if e.domain == domain]
    return named[0] if len(named) == 1 else None


def _act(intent: str, entity: Entity, **slots: object) -> Action:
    return Action(intent, {"name": entity.entity_id, **slots}, entity.entity_id)


def _brightness(light: Entity, home: Home) -> int | None:
    """A light's brightness in percent (0 when it is off), where the home holds it."""
    if home.states.get(light.entity_id) == "off":
        return 0
    value = _number(home.attributes.get(light.entity_id, {}).get("brightness"))
    return None if value is None else round(value * 100 / 255)


def _percent_said(request: str, language: str) -> int:
    """A step said in percent ("by 20 percent", "um 20 Prozent", "10 procent harder"), or 0."""
    found = _BY_PERCENT.of(language).search(request)
    if found:
        return int(found.group(1))
    for found in PERCENT.of(language).finditer(request):
        # A direction right after the amount makes it a step: "10 Prozent lauter".
        after = " ".join(request[found.end() :].split()[:2])
        if _UP.of(language).match(after) or _DOWN.of(language).match(after):
            return int(found.group(1))
    return 0


#: A step said by how many percent, per language: "by 20 percent" (not "to 20 percent").
_BY_PERCENT = LanguagePatterns(
    {
        "en": r"\bby (\d+)\s*(?:%|percent)",
        "de": r"\bum (\d+)\s*(?:%|prozent)",
        "fr": r"\bde (\d+)\s*(?:%|pour ?cent)",
        "es": r"\b(?:en|un) (\d+)\s*(?:%|por ?ciento)",
        "it": r"\b(?:del|di) (\d+)\s*(?:%|per ?cento)",
        "nl": r"\bmet (\d+)\s*(?:%|procent)",
    }
)


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
