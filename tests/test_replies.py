"""Every turn ends in one typed reply, and the service's sentences follow the language."""

from rk_assist.assistant.replies import (
    BUSY,
    SENTENCES,
    Act,
    AskBack,
    Decline,
    NoAnswer,
    Spoken,
    remembered,
    reply_for,
    sentence,
)
from rk_assist.home.resolve import Action, Outcome, Reason

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
    assert sentence(BUSY, "en-GB") == SENTENCES["en"][BUSY]
    assert sentence(BUSY, "xx") == SENTENCES["en"][BUSY]
    assert sentence(BUSY) == SENTENCES["en"][BUSY]
