"""Every turn ends in one typed reply, and the service's sentences follow the language."""

import re

from rk_assist.assistant.replies import (
    ACKNOWLEDGED,
    BUSY,
    CANNOT_DO,
    NO_ANSWER,
    Act,
    AskBack,
    Decline,
    NoAnswer,
    Spoken,
    remembered,
    reply_class,
    reply_for,
    sentence,
    words_of,
)
from rk_assist.home.phrases import LANGUAGES, PHRASES
from rk_assist.home.resolve import Action, Outcome, Question, Reason

LIGHT = Action("HassTurnOn", {"name": "light.kitchen"}, "light.kitchen")


def test_the_outcome_decides_the_reply():
    assert reply_for("Hello.", None) == Spoken("Hello.")
    assert reply_for("", None) == NoAnswer()
    assert reply_for("", Outcome(actions=[LIGHT])) == Act((LIGHT,), "")
    asked = Outcome(question="Which light do you mean?")
    assert reply_for("Hm.", asked) == AskBack("Which light do you mean?", "Hm.")
    refused = Outcome(refusals=["I don't know an area called Moon."], reasons=[Reason.AREA])
    assert reply_for("", refused) == Decline("I don't know an area called Moon.", (Reason.AREA,))
    # Carried out by rk-assist itself (services mode): only the words remain.
    done = Outcome(actions=[LIGHT], executed=True)
    assert reply_for("It is on.", done) == Spoken("It is on.")
    assert reply_for("", done) == NoAnswer()


def test_what_the_conversation_remembers():
    assert remembered(Act((LIGHT,), "")) == "Done: HassTurnOn light.kitchen"
    assert remembered(Act((LIGHT,), "Turning it on.")) == "Turning it on."
    assert remembered(AskBack("Which one?", "")) == "Which one?"
    assert remembered(Decline("No such room.", (Reason.AREA,))) == "No such room."
    assert remembered(NoAnswer()) == ""


def test_sentences_fall_back_to_english():
    assert sentence(BUSY, "en-GB") == PHRASES["en"][BUSY]
    assert sentence(BUSY, "xx") == PHRASES["en"][BUSY]
    assert sentence(BUSY) == PHRASES["en"][BUSY]


def test_every_phrase_is_written_in_every_language_with_the_same_values():
    assert set(LANGUAGES) >= {"en", "de", "fr", "es", "it", "nl"}
    for language in LANGUAGES:
        assert PHRASES[language].keys() == PHRASES["en"].keys(), language
        for key, english in PHRASES["en"].items():
            said = PHRASES[language][key]
            # A value the sentence names must be one English has (none made up).
            assert set(re.findall(r"{(\w+)}", said)) <= set(re.findall(r"{(\w+)}", english))
    assert sentence(BUSY, "de-CH").startswith("Ich bin gerade")
    # Another language with no phrases of its own: Home Assistant's sentence for it.
    assert sentence(NO_ANSWER, "pl") != PHRASES["en"][NO_ANSWER]


def test_what_a_turn_says_aloud():
    assert words_of(NoAnswer(), "fr", None) == sentence(NO_ANSWER, "fr")
    assert words_of(NoAnswer(), "it", None) != PHRASES["en"][NO_ANSWER]
    assert words_of(AskBack("Welches meinst du?", ""), "de", None) == "Welches meinst du?"
    assert words_of(Decline("Nein.", (Reason.AREA,)), "de", None) == "Nein."
    assert words_of(Spoken("Hallo!"), "de", None) == "Hallo!"
    # An action is confirmed with Home Assistant's template in the request's language.
    assert "eingeschaltet" in words_of(Act((LIGHT,), ""), "de", None).lower()


def test_each_reply_is_told_apart_by_its_class():
    """The class the eval counts is the code's own choice of reply, never a guess."""
    read = Action("HassGetState", {"name": "sensor.outside"}, "sensor.outside")
    assert reply_class(Act((LIGHT,), ""), "en") == "done"
    assert reply_class(Act((read,), ""), "en") == "state answer"
    assert reply_class(AskBack("Which?", "", Question.WHICH), "en") == "which one"
    assert reply_class(AskBack("How warm?", ""), "en") == "ask value"
    assert reply_class(AskBack("Say it.", "", Question.SENSITIVE), "en") == "sensitive question"
    assert reply_class(Decline("No such.", (Reason.NAME,)), "en") == "unknown device"
    assert reply_class(Decline("Not there.", (Reason.NOTHING_THERE,)), "en") == "not here"
    assert reply_class(Decline("Cannot.", (Reason.UNKNOWN_INTENT,)), "en") == "cannot do"
    assert reply_class(NoAnswer(), "en") == "no answer"
    assert reply_class(Spoken(sentence(NO_ANSWER, "de")), "de") == "no answer"
    assert reply_class(Spoken(sentence(ACKNOWLEDGED, "fr")), "fr") == "acknowledgement"
    assert reply_class(Spoken(sentence(CANNOT_DO, "it")), "it") == "cannot do"
    assert reply_class(Spoken("Paris."), "en") == "words"
    asked = Outcome(question="Which?", question_kind=Question.WHICH)
    assert reply_class(reply_for("", asked), "en") == "which one"
