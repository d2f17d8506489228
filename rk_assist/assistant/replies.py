"""How a turn ends: one typed reply, and the service's own sentences in one place.

The pipeline ends every answer with one of these; a protocol adapter (the
Wyoming handler) only translates it into events. The sentences the service
says itself (not the model) are looked up by reply language, falling back to
English, so a translation is one more entry in ``SENTENCES``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..home.resolve import Action, Outcome, Reason
from ..home.responses import error_sentence


@dataclass(frozen=True)
class Spoken:
    """The model answered in words; they have been streamed."""

    text: str


@dataclass(frozen=True)
class Act:
    """Actions for Home Assistant to carry out; ``text`` is what was streamed before."""

    actions: tuple[Action, ...]
    text: str


@dataclass(frozen=True)
class AskBack:
    """A question back to the user (the request was incomplete or ambiguous)."""

    question: str
    text: str  # streamed before the question


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
            return Act(tuple(outcome.actions), text)
        if outcome.question:
            return AskBack(outcome.question, text)
        if outcome.refusals:
            return Decline(" ".join(outcome.refusals), tuple(outcome.reasons))
    return Spoken(text) if text else NoAnswer()


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


# The service's own sentences, by reply language.
NOTHING_HEARD = "nothing_heard"
TOO_LONG = "too_long"
BUSY = "busy"
STILL_ANSWERING = "still_answering"
FAILED = "failed"
NO_ANSWER = "no_answer"
NO_TEXT = "no_text"
STOPPING = "stopping"
FAILED_ACTION = "failed_action"
SENTENCES: dict[str, dict[str, str]] = {
    "en": {
        NOTHING_HEARD: "Sorry, I didn't catch that. Please say it again.",
        TOO_LONG: "Sorry, that was too long for me. Please ask again more briefly.",
        BUSY: "I'm busy with other requests right now. Please try again in a moment.",
        STILL_ANSWERING: "I'm still answering your previous request.",
        FAILED: "Sorry, something went wrong while I was thinking. Please try again.",
        NO_ANSWER: "Sorry, I have no answer to that.",
        NO_TEXT: "Sorry, the request had no text for me to answer.",
        STOPPING: "Sorry, I'm restarting right now. Please ask again in a moment.",
        FAILED_ACTION: "Sorry, that did not work.",
    },
}


#: Home Assistant's own error sentence (home-assistant-intents) that says the same,
#: for the languages rk-assist has no sentences of its own in.
_HOME_ASSISTANT_ERRORS = {
    NO_ANSWER: "no_intent",
    FAILED_ACTION: "handle_error",
    FAILED: "handle_error",
}


def sentence(key: str, language: str | None = None) -> str:
    """The service's sentence ``key`` in ``language`` (its base language).

    Where rk-assist has none in that language, Home Assistant's own sentence
    for the same failure in it; else English.
    """
    base = (language or "en").replace("_", "-").split("-")[0].lower()
    own = SENTENCES.get(base, {}).get(key)
    if own:
        return own
    error = _HOME_ASSISTANT_ERRORS.get(key)
    if error and base != "en":
        translated = error_sentence(error, language or base)
        if translated:
            return translated
    return SENTENCES["en"][key]
