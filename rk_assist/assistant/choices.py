"""Where the code, not the model, chooses what a turn says.

A voice answer must be true and make sense aloud; a small model's words are
often neither. Wherever the request and the home settle the answer, it is
chosen here, in the request's language: thanks, a goodbye, "never mind", a
remark (home/statements.py) and a single "don't" are answered in kind
without the model; an order to open or unlock that names no lock, door or
gate plainly (home/sensitive_orders.py) is asked to name it; a state the
model guessed is read instead; an order whose words could not stand is
told it cannot be done. Each function takes milliseconds (Home Assistant's
sentences tell a question): the doors call them off the event loop.
"""

from __future__ import annotations

import re

from ..home.facts import devices_named
from ..home.grounding import (
    generic_name,
    is_question,
    meant_sensitive,
    names_sensitive_only,
    opens_only_sensitive,
)
from ..home.model import Home, normalize
from ..home.negation import negated
from ..home.phrases import NO_DEVICE, SAY_ITS_NAME, phrase
from ..home.request_words import asks_by_form
from ..home.resolve import Action, Outcome, Question, Reason
from ..home.responses import in_language
from ..home.sensitive_orders import sensitive_order
from ..home.sentences import name_not_in_home
from ..home.statements import describes, tells
from ..output.calls import ToolCall
from ..output.sanity import only_good_night, only_goodbye, only_thanks, takes_back
from .replies import (
    ACKNOWLEDGED,
    CANNOT_DO,
    FAREWELL,
    GOOD_NIGHT,
    NO_ANSWER,
    WELCOME,
    sentence,
)

#: What joins two requests (or a request and an exception) in the six languages.
_JOINED = re.compile(
    r",|;|\b(?:and|but|und|aber|sondern|et|mais|y|pero|sino|e|ma|en|maar)\b", re.IGNORECASE
)


def settled_without_model(request: str, language: str) -> str | None:
    """The phrase that answers a request asking for nothing, or None: thanks, a goodbye or
    a good night, "never mind", a remark about the speaker or the past, a single "don't"."""
    if only_thanks(request):
        return WELCOME
    if only_good_night(request):
        return GOOD_NIGHT
    if only_goodbye(request):
        return FAREWELL
    if takes_back(request) or tells(request, language):
        return ACKNOWLEDGED
    if negated(request, language) and not _JOINED.search(request):
        # "Don't turn off the salt lamp" asks that nothing happen: nothing does. Not where
        # it is joined to another request ("the lights, but not the fan"), which is not done.
        return None if is_question(request, language) else ACKNOWLEDGED
    return None


def only_describes(request: str, language: str) -> bool:
    """Whether a request Home Assistant's sentences did not read says how something is
    ("the hallway is pitch black"): acknowledged, nothing done."""
    return describes(request, language) and not asks_by_form(request, language)


def orders_unnamed_opening(request: str, language: str, home: Home | None) -> bool:
    """Whether the request orders a lock, door or gate opened or unlocked ("unlock the
    door", "Mach sie auf") in a home that has one: the model's words are then held back,
    and where its calls come to nothing the answer is the question to name it."""
    return (
        home is not None
        and any(entity.sensitive for entity in home.entities.values())
        and sensitive_order(request, language)
        and not negated(request, language)
        and not is_question(request, language)
    )


def meant_unnamed_sensitive(request: str, language: str, meant: list[ToolCall], home: Home) -> bool:
    """Whether the model's calls, none of which the request asked for, meant a lock, door
    or gate it did not name plainly ("unlock it"): the answer is the question to name it.
    Not for a request that says not to."""
    return not negated(request, language) and meant_sensitive(meant, home)


def asking_to_name_it(language: str) -> Outcome:
    """The question back for an order to open or unlock that names nothing plainly."""
    return Outcome(question=phrase(SAY_ITS_NAME, language), question_kind=Question.SENSITIVE)


def unknown_device(request: str, language: str, home: Home | None) -> Outcome | None:
    """Home Assistant's "no device called ..." for an order that names a device the home
    does not have ("start the 3d printer", "Öffne die Hintertür"), or None.

    Said where the turn would otherwise say it cannot do that, or ask to name a
    lock plainly that was named plainly: a name only locks, doors and gates
    share ("the door"), "everything" and a place are no device's name and keep
    those answers.
    """
    if home is None or is_question(request, language):
        return None
    name = name_not_in_home(request, language, home)
    if (
        name is None
        or len(name) < _SHORTEST_NAME
        or generic_name(name)
        or names_sensitive_only(name, home)
    ):
        return None
    outcome = Outcome(
        refusals=[phrase(NO_DEVICE, language, name=name)],
        reasons=[Reason.NAME],
        errors=[("no_entity", {"entity": name})],
    )
    return in_language(outcome, language)


#: Shorter than any device's name: a particle a sentence left ("Schließ bitte auf").
_SHORTEST_NAME = 4


def refused_only_generic(outcome: Outcome, home: Home | None, request: str = "") -> bool:
    """Whether every refusal is of a name the home has no device called that only its
    locks, doors and gates share ("Porta", "Deur", "everything"), of a place where only
    they open ("Entrance"), of a kind they are of ("Cover"), or of the request itself read
    back as a name ("Schließ bitte auf"): the order named none of them plainly."""
    if home is None:
        return False
    names = [values.get("entity", "") for _error, values in outcome.errors]
    return bool(names) and all(
        reason is Reason.NAME
        and (
            names_sensitive_only(name, home)
            or opens_only_sensitive(name, home)
            or _a_kind_with_locks(name, home)
            or normalize(name) == normalize(request)
        )
        for reason, name in zip(outcome.reasons, names, strict=False)
    )


def _a_kind_with_locks(name: str, home: Home) -> bool:
    """Whether a name is a kind of device ("Cover", "locks") of which the home has a lock,
    door or gate: "open all covers" names none of them plainly."""
    said = normalize(name)
    return any(
        entity.sensitive and said in (entity.domain, f"{entity.domain}s")
        for entity in home.entities.values()
    )


def read_instead_of_a_guess(
    request: str, language: str, home: Home, guessed: list[str]
) -> Action | None:
    """The state read of the one device a question names, where the model answered it
    with a state it never read (``guessed``: "La puerta principal está cerrada."): the
    read says the state the home holds. None elsewhere."""
    if not guessed or not is_question(request, language):
        return None
    asked = {entity.entity_id for entity in devices_named(request, home)}
    named = [e for e in devices_named(" ".join(guessed), home) if e.entity_id in asked]
    if len(named) != 1:
        return None
    return Action("HassGetState", {"name": named[0].entity_id}, named[0].entity_id)


def unanswered(request: str, language: str) -> str:
    """What is said where the model's words could not stand: a question has no answer,
    an order ("book me a taxi") cannot be done here."""
    return sentence(NO_ANSWER if is_question(request, language) else CANNOT_DO, language)
