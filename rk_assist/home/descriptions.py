""" "The entry lock": a device described by its place and its kind, not by its name.

People name a device by where it is and what it is ("lock the entry lock", "open the
front yard valve", "the living room ceiling light" where two rooms have a "Ceiling
Light"), while Home Assistant builds names from the device's maker ("Smart Lock",
"Rain Bird"). Where exactly one device in the place said is of the kind said, the
words stand for it: the home is read again with those words as one more name of that
device, so Home Assistant's sentences read the request as naming it (a lock too: the
request names it as plainly as a person can). Several of that kind there, or none:
no reading, and the request goes on as it would have.

The kind is a word of the device's own name, its domain in Home Assistant's words of
any language ("lock", "Ventil", "válvula": the words its "no such device" answers use),
or a cover class Home Assistant's words say in any language ("curtains", "Rollladen").
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, replace
from importlib import resources

from home_assistant_intents import get_intents

from ..output.calls import ToolCall
from .cover_kinds import LANGUAGES, class_word_parts, folded, named_kinds
from .model import READ_ONLY_DOMAINS, Entity, Home, normalize

#: At most this many words say the kind ("ceiling light").
_KIND_WORDS = 3
#: Words that join a kind said before its place ("la persiana del salón", "the lock of
#: the entry"), each language's; the article after them is skipped too.
_JOINERS = frozenset(
    {"of", "in", "de", "del", "della", "dello", "dei", "delle", "di", "du", "des", "d", "van"}
    | {"vom", "im", "nel", "nella", "nello", "dans", "en"}
)
_ARTICLES = frozenset(
    {"the", "la", "le", "il", "lo", "l", "el", "les", "los", "las", "het", "de", "der", "dem"}
)
_WORD = re.compile(r"\w+")
#: Home Assistant's answer when no device of a kind is known ("Ich kenne kein Ventil"),
#: which holds each domain's word in its language.
_TITLES = "domain_titles.json"
_NO_DOMAIN = re.compile(r'"(\w+)"\s*:\s*"([^"]+)"')


@functools.cache
def domain_words() -> dict[str, frozenset[str]]:
    """Each domain's words in every language Home Assistant names it in: its "no such
    device" answers ("valve": "ventil", "vanne", "valvula", "klep") and its components'
    one-word titles ("Valvola"; ``script/domain-titles`` writes them from Home Assistant's
    translations), singular, accents folded."""
    words: dict[str, set[str]] = {}
    titles = json.loads(resources.files("rk_assist").joinpath("data", _TITLES).read_text("utf-8"))
    for by_domain in titles.values():
        for domain, title in by_domain.items():
            said = _WORD.findall(folded(title))
            if len(said) == 1:  # "Lettore multimediale" would make "lettore" a kind of its own
                words.setdefault(domain, {domain}).add(_singular(said[0]))
    for language in LANGUAGES:
        template = ((get_intents(language) or {}).get("responses", {}).get("errors", {})).get(
            "no_domain", ""
        )
        for domain, phrase in _NO_DOMAIN.findall(template):
            said = _WORD.findall(folded(phrase))
            # "kein Ventil", "de vannes", "ninguna válvula": the first word says "none".
            nouns = said[1:] if len(said) > 1 else said
            words.setdefault(domain, {domain}).update(_singular(word) for word in nouns)
    return {domain: frozenset(said) for domain, said in words.items()}


@dataclass(frozen=True)
class Described:
    """The words of the request that describe one device, and the device."""

    words: str
    entity: Entity


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _fits(kind: list[str], entity: Entity) -> bool:
    """Whether the words say the device's kind: words of its name, its domain, or the
    cover class its class or name says."""
    said = [_singular(word) for word in kind]
    own = {_singular(word) for name in entity.names for word in normalize(name).split()}
    of_domain = domain_words().get(entity.domain, frozenset({entity.domain}))
    if entity.domain == "cover":
        # "persiana" is Spanish for any cover and a blind: a class word says its class.
        of_domain -= class_word_parts()
    kind_words = own | of_domain | (class_word_parts() - _ARTICLES - _JOINERS)
    pairs = zip(said, kind, strict=True)
    if not all(word in kind_words or plain in kind_words for word, plain in pairs):
        return False  # a word that says no kind: a verb, "now", "to 50%"
    if all(word in own for word in said):
        return True
    if all(word in of_domain for word in said):
        return True
    kinds = named_kinds(" ".join(kind))
    if not kinds or entity.domain != "cover":
        return False
    classes = {entity.device_class} if entity.device_class else set()
    for name in entity.names:
        classes |= named_kinds(name)
    return bool(kinds & classes)


def described(text: str, home: Home) -> Described | None:
    """The device the request describes by place and kind, where exactly one fits."""
    tokens = [(match.group(0), match.start(), match.end()) for match in _WORD.finditer(text)]
    said = [folded(token) for token, _, _ in tokens]
    found: dict[str, Described] = {}
    for area in home.areas.values():
        pool = [
            entity
            for entity in home.entities.values()
            if entity.area_id == area.area_id and entity.domain not in READ_ONLY_DOMAINS
        ]
        for spoken in (area.name, *area.aliases) if pool else ():
            place = normalize(spoken).split()
            for start in range(len(said) - len(place) + 1):
                if said[start : start + len(place)] != place:
                    continue
                end = start + len(place)
                for first, last in _kind_spans(said, start, end):
                    kind = said[first:last] if last <= start else said[end:last]
                    fitting = [entity for entity in pool if _fits(kind, entity)]
                    if len(fitting) == 1:
                        span_start = min(first, start)
                        span_end = max(last, end)
                        words = text[tokens[span_start][1] : tokens[span_end - 1][2]]
                        found.setdefault(words, Described(words, fitting[0]))
                        break
    if len(found) != 1:
        return None
    return next(iter(found.values()))


def _kind_spans(words: list[str], start: int, end: int) -> list[tuple[int, int]]:
    """Where the kind may be said around a place at ``start:end``: the words after it
    ("the entry lock"), longest first; or before it, joined ("la persiana del salón")."""
    spans = [(end, end + size) for size in range(_KIND_WORDS, 0, -1) if end + size <= len(words)]
    joins = []
    if start and words[start - 1] in _JOINERS:  # "del salón", "im Flur"
        joins.append(start - 1)
    if start > 1 and words[start - 1] in _ARTICLES and words[start - 2] in _JOINERS:
        joins.append(start - 2)  # "de la cocina", "in de voortuin"
    for joined in joins:
        spans += [
            (joined - size, joined) for size in range(_KIND_WORDS, 0, -1) if joined - size >= 0
        ]
    return spans


def home_with_description(home: Home, found: Described) -> Home:
    """The home with the request's words as the only name of the device they describe
    (its own name may be another's too: "Ceiling Light" in two rooms)."""
    named = replace(found.entity, name=found.words, aliases=())
    return replace(home, entities={**home.entities, named.entity_id: named})


def settled_by_description(calls: list[ToolCall], text: str, home: Home) -> list[ToolCall]:
    """The calls with a name several devices share ("Deckenlampe", in two rooms) held to
    the one the request describes by its place ("die Deckenlampe im Wohnzimmer"): its area
    added, as Home Assistant finds a device by name and area."""
    found: list[Described | None] = []  # the request's description, read once if at all
    settled = []
    for call in calls:
        name = call.arguments.get("name")
        if isinstance(name, str) and not call.arguments.get("area"):
            sharing = [e for e in home.entities.values() if normalize(name) in _spoken(e)]
            if len(sharing) > 1:
                found = found or [described(text, home)]
                one = found[0]
                area = home.area_of(one.entity) if one and one.entity in sharing else None
                if area:
                    call = replace(call, arguments={**call.arguments, "area": area.name})
        settled.append(call)
    return settled


def _spoken(entity: Entity) -> set[str]:
    return {normalize(name) for name in entity.names}
