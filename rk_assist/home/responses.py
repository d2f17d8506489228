"""What Home Assistant says after an intent, in the request's language, from its own data.

Home Assistant's intent handlers carry an action out and say nothing: its own
agent then speaks the response template that ``home-assistant-intents`` ships
for that intent, per language and per kind of target ("Locked", "Opening the
garage door", "Turned on the lights"). Its Wyoming agent does the same with
an ``intent`` event's ``text`` when the handler said nothing: it renders the
text as a template with the slots, the first matched state and the query.
So rk-assist sends Home Assistant's own template, in the request's language,
and the voice user hears Home Assistant's sentence about the state Home
Assistant matched, as if its own agent had understood the request.

The template's slots are set first, because rk-assist names its targets by
entity id (exact, whatever names repeat): ``slots.name`` and ``slots.area``
become the device's and area's names, as the user knows them, beside the
values the action sets.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from home_assistant_intents import get_intents
from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .model import Home
from .phrases import TARGET_IS, base_language, phrase
from .request_words import state_names
from .resolve import Action, Outcome

FALLBACK_LANGUAGE = "en"
#: Intents whose sentence depends on which value was set.
_KEYS_BY_SLOT = {"HassLightSet": ("brightness", "color", "temperature")}
#: Sentences for intents whose "default" is not a whole sentence: a state question is
#: answered "Front Door is locked", never a bare "locked", and never a yes or no, which
#: Home Assistant derives from a state slot rk-assist does not send.
_KEY_OF_INTENT = {"HassGetState": "one", "HassListAddItem": "item_added"}


@functools.cache
def _templates(language: str) -> dict[str, dict[str, str]]:
    """Response templates by intent and key, for a language or the nearest one there is."""
    for candidate in _candidates(language):
        data = get_intents(candidate)
        if data is not None:
            return data.get("responses", {}).get("intents", {})
    return {}


def templates_of(intent: str, language: str) -> dict[str, str]:
    """Home Assistant's response templates for an intent, by key, in the language."""
    return _templates(language).get(intent) or {}


def _candidates(language: str) -> list[str]:
    code = language.replace("_", "-")
    base = code.split("-")[0].lower()
    region = code.split("-")[1].upper() if "-" in code else ""
    found = [f"{base}-{region}"] if region else []
    return [*found, base, FALLBACK_LANGUAGE]


def confirmation(actions: Sequence[Action], language: str, home: Home | None) -> str | None:
    """Home Assistant's response template for these actions, to send as the intent's text.

    Several actions of one kind in one area ("the lights in the kitchen") get
    the area sentence where the language has one; otherwise the first action's
    sentence stands for the turn (Home Assistant would say each one).
    """
    if not actions:
        return None
    first = actions[0]
    entity = home.entities.get(first.entity_id) if home and first.entity_id else None
    domain = entity.domain if entity is not None else ""
    area = home.area_of(entity) if home is not None and entity is not None else None
    device_class = entity.device_class if entity else None
    template = (
        _reading_template(first.reads, language)
        if first.reads
        else _template(first, len(actions), domain, device_class, language)
    )
    if template is None:
        return None
    # As Home Assistant's agent fills them: the words matched, numbers as text (its German
    # timer sentence looks for "Stunde" in the minutes and raises on a number).
    slots = {
        key: value if isinstance(value, str) else _as_text(value)
        for key, value in first.slots.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }
    if entity is not None:
        slots["name"] = entity.name
        if entity.device_class:
            slots["device_class"] = entity.device_class
    if area is not None:
        slots["area"] = area.name
    # A Jinja dict literal (JSON's strings and numbers are Jinja's too): the template reads
    # these slots, whatever Home Assistant's own hold.
    literal = ", ".join(
        f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in slots.items()
    )
    return f"{{% set slots = {{{literal}}} %}}{template}"


def _as_text(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _reading_template(attribute: str, language: str) -> str:
    """rk-assist's sentence for an attribute read (a thermostat's target), as a template
    Home Assistant renders with the live state: the value said is the one it holds."""
    number = f"state.attributes.{attribute} | float | round(1) | string | replace('.0', '')"
    if base_language(language) != "en":  # a decimal comma, as Home Assistant's own sentences
        number += " | replace('.', ',')"
    value = f"{{{{ {number} }}}}"
    return phrase(TARGET_IS, language, name="{{ slots.name }}", value=value)


def _template(
    action: Action, count: int, domain: str, device_class: str | None, language: str
) -> str | None:
    """The language's template for the action: the first of its keys that the intent has."""
    templates = _templates(language).get(action.intent) or {}
    keys = _keys(action, count, domain, device_class)
    template = next((templates[key] for key in keys if key in templates), None)
    return _states_in_words(template, language) if template is not None else None


def _states_in_words(template: str, language: str) -> str:
    """The template with a state said in the language ("Keukenlamp is uit", not "is off"):
    Home Assistant's state sentences say the raw state, which is English."""
    names = state_names(language) if base_language(language) != "en" else {}
    if not names or "state.state_with_unit" not in template:
        return template
    said = json.dumps(names, ensure_ascii=False)
    return template.replace(
        "state.state_with_unit", f"({said}.get(state.state, state.state_with_unit))"
    )


def _keys(action: Action, count: int, domain: str, device_class: str | None) -> list[str]:
    """Which of an intent's templates fit, most specific first."""
    keys = [slot for slot in _KEYS_BY_SLOT.get(action.intent, ()) if slot in action.slots]
    if count > 1 and domain:
        keys.append(f"{domain}s_area")
    if domain == "cover" and device_class:
        keys.append("cover_device_class")
    if domain:
        keys.append(domain)
    if action.intent in _KEY_OF_INTENT:
        keys.append(_KEY_OF_INTENT[action.intent])
    keys.append("default")
    return keys


@dataclass(frozen=True)
class Target:
    """A device an intent acted on, as Home Assistant's tool result names it."""

    entity_id: str
    name: str
    #: Its state, where the result gives one (a state question's answer).
    state: str = ""
    #: Its attributes worth saying (``model.READ_ATTRIBUTES``), where they are known.
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def domain(self) -> str:
        return self.entity_id.split(".", 1)[0]

    @property
    def state_with_unit(self) -> str:
        return self.state


_ENVIRONMENT = ImmutableSandboxedEnvironment()
_ANSWERS_FROM_STATE = frozenset({"HassGetState", "HassClimateGetTemperature"})


def said_after(
    intent: str,
    targets: Sequence[Target],
    language: str,
    placed: bool = False,
    arguments: dict[str, Any] | None = None,
) -> str | None:
    """Home Assistant's sentence for an intent carried out on ``targets``, rendered here.

    For the HTTP doors, where Home Assistant runs the tool and hands back only
    what it did (``success``: the devices): the answer is still its own
    sentence in the request's language, never the result's JSON.
    """
    if intent in _ANSWERS_FROM_STATE:
        return None  # its sentence is the state, which the tool result does not carry
    first = targets[0] if targets else None
    domain = first.domain if first is not None else ""
    if first is not None and not domain:
        return None  # a result without entity ids: its sentence would read "Turned on None"
    # The call's values choose the sentence too: HassLightSet's is "brightness" or "color".
    given = {k: v for k, v in (arguments or {}).items() if k not in ("name", "area", "floor")}
    action = Action(intent, given, first.entity_id if first else None)
    # An area's or a floor's devices take the language's sentence for several ("the lights").
    count = max(len(targets), 2) if placed else len(targets)
    template = _template(action, count, domain, None, language)
    if template is None:
        return None
    # The values the call set ("Temperature set to 21 degrees"), then the device's name.
    slots = {
        key: int(value) if isinstance(value, float) and value.is_integer() else value
        for key, value in (arguments or {}).items()
        if isinstance(value, str | int | float) and key not in ("name", "area", "floor")
    }
    if first is not None:
        slots["name"] = first.name
    return _render(template, slots, first, list(targets))


def heard(text: str, actions: Sequence[Action], home: Home | None) -> str:
    """A confirmation as Home Assistant's Wyoming agent renders it: what the user hears.

    It renders an intent's text as a template with the first matched
    device's state; the slots come from the text's own ``set``. "" where it
    cannot be rendered without Home Assistant's states.
    """
    if "{" not in text:
        return text
    targets = [
        Target(
            a.entity_id,
            home.entities[a.entity_id].name,
            home.states.get(a.entity_id, ""),
            home.attributes.get(a.entity_id, {}),
        )
        for a in actions
        if home is not None and a.entity_id in home.entities
    ]
    # A sentence that needs a state the home file does not hold ("22 degrees") cannot
    # be rendered here; Home Assistant renders it with its own.
    return _render(text, {}, targets[0] if targets else None, targets) or ""


def state_sentence(name: str, state: str, language: str) -> str | None:
    """Home Assistant's answer to "is the <device> <state>": "Front door is locked"."""
    templates = _templates(language).get("HassGetState") or {}
    template = templates.get("one") or templates.get("default")
    if template is None:
        return None
    template = _states_in_words(template, language)
    return _render(template, {"name": name}, Target("", name, state), [])


def reading_sentence(name: str, attribute: str, value: Any, language: str) -> str | None:
    """rk-assist's sentence for an attribute Home Assistant gave (a thermostat's target,
    from its live context), the same template its Wyoming agent renders; None for a value
    that is no number."""
    try:
        float(value)
    except (TypeError, ValueError):
        return None
    template = _reading_template(attribute, language)
    return _render(template, {"name": name}, Target("", name, "", {attribute: value}), [])


def _render(
    template: str, slots: dict[str, Any], state: Target | None, matched: list
) -> str | None:
    attributes = {target.entity_id: target.attributes for target in [state, *matched] if target}

    def state_attr(entity_id: str, name: str) -> Any:
        """Home Assistant's template function, over the attributes the targets carry."""
        return attributes.get(entity_id, {}).get(name)

    try:
        rendered = _ENVIRONMENT.from_string(template).render(
            slots=slots,
            state=state,
            query={"matched": matched, "unmatched": []},
            state_attr=state_attr,
        )
    except (TemplateError, TypeError, ValueError, AttributeError):  # its template, our values
        return None
    return " ".join(rendered.split()) or None


def _errors(language: str) -> dict[str, str]:
    """Home Assistant's error templates in the language itself (never another one's)."""
    for candidate in _candidates(language)[:-1]:
        data = get_intents(candidate)
        if data is not None:
            return data.get("responses", {}).get("errors", {})
    return {}


def in_language(outcome: Outcome, language: str) -> Outcome:
    """The outcome's refusals in the request's language, as Home Assistant words them.

    English keeps rk-assist's own sentences; another language gets Home
    Assistant's error template for the same failure ("Kein Bereich mit dem
    Namen Dachboden vorhanden"), where it has one.
    """
    if not outcome.refusals or _candidates(language)[0].split("-")[0] == FALLBACK_LANGUAGE:
        return outcome
    errors = _errors(language)
    said = []
    for text, (error, values) in zip(outcome.refusals, outcome.errors, strict=False):
        template = errors.get(error) if error else None
        rendered = _render_values(template, values) if template else None
        said.append(rendered or text)
    return replace(outcome, refusals=said)


def _render_values(template: str, values: dict[str, str]) -> str | None:
    try:
        rendered = _ENVIRONMENT.from_string(template).render(**values)
    except TemplateError:
        return None
    return " ".join(rendered.split()) or None


def error_sentence(error: str, language: str) -> str | None:
    """Home Assistant's error sentence ``error`` in ``language``, where it has that language."""
    if _candidates(language)[0].split("-")[0] == FALLBACK_LANGUAGE:
        return None
    template = _errors(language).get(error)
    return _render_values(template, {}) if template else None
