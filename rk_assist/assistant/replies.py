"""How a turn ends: one typed reply, and the service's own sentences in one place.

The pipeline ends every answer with one of these; a protocol adapter (the
Wyoming handler) only translates it into events. The sentences the service
says itself (not the model) are looked up by reply language in
``home/phrases.py``, falling back to Home Assistant's own error sentences, then
English.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..home import phrases
from ..home.intents import STATE_INTENTS
from ..home.model import Home
from ..home.resolve import Action, Outcome, Question, Reason
from ..home.responses import confirmation, error_sentence


@dataclass(frozen=True)
class Spoken:
    """The model answered in words; they have been streamed."""

    text: str


@dataclass(frozen=True)
class Act:
    """Actions for Home Assistant to carry out; ``text`` is what was streamed before."""

    actions: tuple[Action, ...]
    text: str
    #: What was asked and not done ("no device called ..."), said after the confirmation:
    #: a turn says both what it did and what it did not.
    not_done: str = ""
    #: The confirmation already worded (several requests in one: each its own), if any.
    confirmed: str = ""


@dataclass(frozen=True)
class AskBack:
    """A question back to the user (the request was incomplete or ambiguous)."""

    question: str
    text: str  # streamed before the question
    kind: Question = Question.VALUE


@dataclass(frozen=True)
class Decline:
    """Nothing could be done: why, typed, and the sentence that says it."""

    sentence: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class NoAnswer:
    """The model said nothing and asked for nothing."""


Reply = Spoken | Act | AskBack | Decline | NoAnswer


def reply_for(text: str, outcome: Outcome | None) -> Reply:
    """The one reply for what the model said and what its calls came to."""
    if outcome is not None and not outcome.executed:
        if outcome.actions:
            not_done = [*outcome.refusals, *([outcome.question] if outcome.question else [])]
            return Act(tuple(outcome.actions), text, " ".join(not_done))
        if outcome.question:
            return AskBack(outcome.question, text, outcome.question_kind or Question.VALUE)
        if outcome.refusals:
            return Decline(" ".join(outcome.refusals), tuple(outcome.reasons))
    return Spoken(text) if text else NoAnswer()


def words_of(reply: Reply, language: str, home: Home | None) -> str:
    """All the turn says aloud, as a door speaks it: the eval hears what a user hears.

    Actions are confirmed with Home Assistant's own sentence in the request's
    language; the model's words stand only where it has none for the intent.
    """
    if isinstance(reply, Act):
        done = reply.confirmed or confirmation(list(reply.actions), language, home) or reply.text
        return " ".join(part for part in (done, reply.not_done) if part)
    if isinstance(reply, AskBack):
        return f"{reply.text} {reply.question}".strip()
    if isinstance(reply, Decline):
        return reply.sentence
    if isinstance(reply, NoAnswer):
        return sentence(NO_ANSWER, language)
    return reply.text


#: The kinds of reply a listener tells apart (issue 28), as the code chose them: a state
#: read, an action, a question back (which one, a value, a sensitive device named plainly),
#: a device or place that is not there, what cannot be done, thanks welcomed, the model's
#: own words, or no answer at all.
REPLY_CLASSES = (
    "done",
    "state answer",
    *(kind.value for kind in Question),
    "unknown device",
    "not here",
    "cannot do",
    "acknowledgement",
    "words",
    "no answer",
)
_DECLINED = {
    Reason.NAME: "unknown device",
    Reason.AREA: "not here",
    Reason.FLOOR: "not here",
    Reason.NOTHING_THERE: "not here",
}


def reply_class(reply: Reply, language: str) -> str:
    """Which of ``REPLY_CLASSES`` the reply is."""
    if isinstance(reply, Act):
        reads = all(action.intent in STATE_INTENTS for action in reply.actions)
        return "state answer" if reads else "done"
    if isinstance(reply, AskBack):
        return reply.kind.value
    if isinstance(reply, Decline):
        return next((_DECLINED[r] for r in reply.reasons if r in _DECLINED), "cannot do")
    if isinstance(reply, NoAnswer) or reply.text == sentence(NO_ANSWER, language):
        return "no answer"
    if reply.text == sentence(CANNOT_DO, language):
        return "cannot do"
    settled = (
        sentence(WELCOME, language),
        sentence(ACKNOWLEDGED, language),
        sentence(FAREWELL, language),
        sentence(GOOD_NIGHT, language),
    )
    return "acknowledgement" if reply.text in settled else "words"


def remembered(reply: Reply) -> str:
    """What the conversation memory keeps as the assistant's side of the turn."""
    if isinstance(reply, Act):
        return reply.text or "Done: " + ", ".join(
            f"{a.intent} {a.entity_id or ''}".strip() for a in reply.actions
        )
    if isinstance(reply, AskBack):
        return reply.text or reply.question
    if isinstance(reply, Decline):
        return reply.sentence
    if isinstance(reply, Spoken):
        return reply.text
    return ""


# The service's own sentences (home/phrases.py has them in every language).
NOTHING_HEARD = phrases.NOTHING_HEARD
TOO_LONG = phrases.TOO_LONG
BUSY = phrases.BUSY
STILL_ANSWERING = phrases.STILL_ANSWERING
FAILED = phrases.FAILED
NO_ANSWER = phrases.NO_ANSWER
WELCOME = phrases.WELCOME
ACKNOWLEDGED = phrases.ACKNOWLEDGED
NO_TEXT = phrases.NO_TEXT
STOPPING = phrases.STOPPING
GETTING_READY = phrases.GETTING_READY
FAILED_ACTION = phrases.FAILED_ACTION
FAREWELL = phrases.FAREWELL
GOOD_NIGHT = phrases.GOOD_NIGHT
CANNOT_DO = phrases.CANNOT_DO


#: Home Assistant's own error sentence (home-assistant-intents) that says the same,
#: for the languages rk-assist has no sentences of its own in.
_HOME_ASSISTANT_ERRORS = {
    NO_ANSWER: "no_intent",
    FAILED_ACTION: "handle_error",
    FAILED: "handle_error",
}


def sentence(key: str, language: str | None = None) -> str:
    """The service's sentence ``key`` in ``language`` (its base language).

    Home Assistant's own sentence for the same failure where it has one (what
    its own agent would say), else rk-assist's phrase in that language, else
    English.
    """
    error = _HOME_ASSISTANT_ERRORS.get(key)
    base = phrases.base_language(language)
    translated = error_sentence(error, language or base) if error and base != "en" else None
    return translated or phrases.phrase(key, language)
