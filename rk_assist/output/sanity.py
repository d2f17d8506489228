"""What a model writes, held to what makes sense aloud, a clause at a time.

A voice answer is heard once, and one senseless sentence costs more trust
than a plain "sorry". Seen from the packaged Qwens, on every door: one
character eighty times ("¡¡¡¡¡¡..."), the request read back ("Abre la
puerta." to "Abre la puerta"), a greeting to someone who said thanks
("Hello! How can I help?"), a tool's name read out, a Spanish request
answered in English. Each clause is judged when it is whole; a clause is
short next to what text-to-speech waits for before it starts (60 characters
in Home Assistant), so holding one back costs nothing audible. A degenerate
run or another language ends the answer: what follows is not wanted either,
and the caller stops the model.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from .speech import TOOL_NAME

#: Greetings, in the six languages the service speaks: a reply opening with one greets.
GREETINGS = frozenset(
    (
        "hello", "hi", "hey", "greetings", "good morning", "good afternoon", "good evening",
        "hallo", "servus", "moin", "guten tag", "guten morgen", "guten abend",
        "bonjour", "salut", "bonsoir", "coucou",
        "hola", "buenas", "buenos dias", "buenas tardes", "buenas noches",
        "ciao", "salve", "buongiorno", "buonasera",
        "hoi", "goedemorgen", "goedemiddag", "goedenavond",
    )
)  # fmt: skip
#: Thanks, in the six languages: said alone, it asks for nothing but an acknowledgement.
THANKS = frozenset(
    (
        "thanks", "thank you", "cheers", "danke", "vielen dank", "danke schon", "merci",
        "gracias", "muchas gracias", "grazie", "dank je", "dank u", "bedankt",
    )
)  # fmt: skip
#: Words that may come with thanks and ask for nothing more.
_WITH_THANKS = frozenset(
    """a alot and beaucoup bien c est ca dat das eso es fur grazie het help helped hilfe
    ich je la lot mille molte much muchas per so tanto that thats todo tres tu tua
    tutto very veel vielen voor wel wat was you your for the die por ayuda pour ton votre
    aide il tuo aiuto de hulp all everything alles tout is s ist e war era fue etait""".split()
)
#: Leave-taking, in the six languages: said alone, it is answered in kind.
GOODBYES = frozenset(
    (
        "goodbye", "bye", "bye bye", "see you", "see you later", "later",
        "tschuss", "auf wiedersehen", "bis spater", "bis bald", "bis dann",
        "au revoir", "a plus tard", "a plus", "a bientot", "a tout a l heure",
        "adios", "hasta luego", "hasta pronto", "hasta manana", "nos vemos",
        "arrivederci", "ci vediamo", "a dopo", "a presto",
        "tot ziens", "doei", "dag", "tot straks", "tot later",
    )
)  # fmt: skip
#: Words that may come with a goodbye and ask for nothing more.
_WITH_GOODBYE = frozenset(
    "for now then and thanks thank you danke merci gracias grazie dank".split()
)
#: Good night, in the six languages (Spanish "buenas noches" greets too: it is a greeting).
GOOD_NIGHTS = frozenset(
    (
        "good night", "goodnight", "night night", "nighty night",
        "gute nacht", "bonne nuit", "buona notte", "buonanotte",
        "welterusten", "slaap lekker", "goede nacht", "goedenacht",
    )
)  # fmt: skip
#: "Never mind", in the six languages: the person takes back what they asked.
NEVER_MIND = frozenset(
    (
        "never mind", "nevermind", "forget it", "forget about it", "it doesn t matter",
        "vergiss es", "schon gut", "egal", "nicht so wichtig",
        "laisse tomber", "pas grave", "oublie", "oublie ca", "c est pas grave",
        "dejalo", "olvidalo", "no importa", "da igual",
        "lascia stare", "lascia perdere", "non importa", "fa niente",
        "laat maar", "laat maar zitten", "maakt niet uit", "vergeet het",
    )
)  # fmt: skip
#: The pleasantries that follow a greeting (an offer of help, "how are you"): said to a
#: person who asked for something, an answer to nothing.
PLEASANTRIES = (
    "how are you",
    "wie geht es dir",
    "wie geht es ihnen",
    "comment allez vous",
    "comment vas tu",
    "como estas",
    "que tal estas",
    "come stai",
    "come va",
    "hoe gaat het",
    "how can i help",
    "how may i help",
    "how can i assist",
    "what can i do for you",
    "wie kann ich helfen",
    "wie kann ich dir helfen",
    "wie kann ich ihnen helfen",
    "was kann ich fur dich tun",
    "comment puis je vous aider",
    "comment puis je t aider",
    "que puis je faire pour vous",
    "en que puedo ayudarte",
    "en que puedo ayudarle",
    "en que te puedo ayudar",
    "como puedo ayudarte",
    "como te puedo ayudar",
    "come posso aiutarti",
    "come posso aiutarla",
    "cosa posso fare per te",
    "hoe kan ik je helpen",
    "hoe kan ik u helpen",
    "waarmee kan ik je helpen",
    "wat kan ik voor je doen",
)
#: One character (not a digit) this many times in a row, or a run of one to four words
#: repeated this many times, is a model stuck in a loop.
SAME_CHARACTER_RUN = 8
SAME_WORDS_RUN = 4
#: Words enough to tell an answer's language; fewer are held back until more come. Not
#: saying an answer is a loss too: another language must be sure (the measure's points,
#: ``request_words.reads_as_other``; "start a scene or script" scored 1.5 for Italian).
LANGUAGE_WORDS = 3
#: A voice answer is heard, not read: at most this many sentences are said (a joke's "Sure!",
#: its question and its punchline); the rest of the model's words are held back, unless the
#: person asked for more (``MORE_WORDS``).
MAX_SENTENCES = 3
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
SURE_OTHER = 2.0
#: An answer that is one quotation, and nothing else: the model quoting what it thinks
#: the request means ('"turn on the garage"'), not answering it.
_QUOTED = re.compile(r"^\s*[\"“„«][^\"“”„«»]*[\"“”»]\W*$")
_CLAUSE_END = re.compile(r"(?<=[.!?:;,\n])\s")
_CHARACTER_LOOP = re.compile(rf"([^\d\s])\1{{{SAME_CHARACTER_RUN - 1},}}")


def clauses(text: str) -> list[str]:
    """The clauses of a text, as the guard judges them."""
    return [clause for clause in _CLAUSE_END.split(text) if clause.strip()]


def plain_words(text: str) -> list[str]:
    """Lower-case words without accents or punctuation (the output room's own reading)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[_\W]+", " ", text).split()


#: Words that ask for a longer answer, in the six languages: a long story, an explanation,
#: a list, everything, in detail.
MORE_WORDS = frozenset(
    plain_words(
        "long longer story stories detail details explain list everything "
        "lang lange langen geschichte ausführlich erkläre erklär liste alles "
        "longue histoire détail explique tout "
        "largo larga historia cuento detalle explica explícame todo lista "
        "lungo lunga storia racconto dettaglio spiega spiegami tutto elenco "
        "verhaal uitgebreid uitleg lijst"
    )
)


def greets(text: str) -> bool:
    """Whether ``text`` opens with a greeting (and says little more)."""
    words = plain_words(text)
    for size in (2, 1):
        if " ".join(words[:size]) in GREETINGS:
            return len(words) <= size + 2
    return False


def only_thanks(text: str) -> bool:
    """Whether the person only thanked (and perhaps said that was all): nothing to do,
    nothing to ask the model; the answer is an acknowledgement."""
    return _only(text, THANKS, _WITH_THANKS)


def only_goodbye(text: str) -> bool:
    """Whether the person only took leave ("bye for now", "Tot ziens")."""
    return _only(text, GOODBYES, _WITH_GOODBYE)


def only_good_night(text: str) -> bool:
    """Whether the person only said good night (and perhaps thanks): the answer is the
    same wish, never the model's (seen on the HTTP door: its "Good night!" was held back as
    the request said back, and "Sorry, I have no answer to that." was said)."""
    return _only(text, GOOD_NIGHTS, _WITH_GOODBYE)


def _only(text: str, phrases: frozenset[str], extra: frozenset[str]) -> bool:
    """Whether the text says one of the phrases, with nothing but their words and ``extra``."""
    words = plain_words(text)
    said = f" {' '.join(words)} "
    if not any(f" {phrase} " in said for phrase in phrases):
        return False
    phrase_words = {word for phrase in phrases for word in phrase.split()}
    return all(word in phrase_words or word in extra for word in words)


def takes_back(text: str) -> bool:
    """Whether the person only said "never mind" (and perhaps "then", "please")."""
    words = [w for w in plain_words(text) if w not in ("then", "please", "ok", "okay")]
    return " ".join(words) in NEVER_MIND


def greeting_in(text: str) -> bool:
    """Whether the person greeted anywhere in what they said."""
    said = f" {' '.join(plain_words(text))} "
    return any(f" {greeting} " in said for greeting in GREETINGS)


def pleasantry(text: str) -> bool:
    said = " ".join(plain_words(text))
    return any(phrase in said for phrase in PLEASANTRIES)


def loops(text: str) -> bool:
    """Whether the text has degenerated into repetition."""
    if _CHARACTER_LOOP.search(text):
        return True
    words = plain_words(text)
    for size in range(1, 5):
        needed = size * SAME_WORDS_RUN
        for start in range(0, len(words) - needed + 1):
            run = words[start : start + size]
            if all(words[start + k * size : start + (k + 1) * size] == run for k in range(1, 4)):
                return True
    return False


def says_back(answer: str, request: str) -> bool:
    """Whether an answer (so far) reads the request back from its start: two words or more,
    each the request's, in its order ("Abre la puerta." to "Abre la puerta"). "Turned on
    the light" to "turn on the light", or "The number 4" to "Say the number 4", answer it."""
    said, asked = plain_words(answer), plain_words(request)
    return len(said) >= min(2, len(asked)) > 0 and said == asked[: len(said)]


@dataclass
class SpeechGuard:
    """Feed the model's visible words; get back the clauses fit to be said.

    ``request`` is what the person said; ``other_language`` names the
    language a text reads as when it is not the request's ("" when it is, or
    too short to tell); ``made_up`` tells a clause that states a fact about
    the home that nothing read holds, ``claims`` one that says something was
    done (both the home's rules, from the room above; None where they do not
    apply: no home, or an action did happen).
    """

    request: str = ""
    other_language: Callable[[str], str] | None = None
    made_up: Callable[[str], bool] | None = None
    claims: Callable[[str], bool] | None = None
    #: Tells a clause that reads the service's own instructions back (their examples).
    internal: Callable[[str], bool] | None = None
    #: The answer went wrong past saving (a loop, another language): the rest is unwanted.
    stopped: bool = False
    #: What was held back, and why: (reason, clause), for the log and the eval.
    dropped: list[tuple[str, str]] = field(default_factory=list)
    _held: str = ""
    _said_any: bool = False
    #: Clauses held until there are words enough to tell their language (a first "Sure,").
    _untold: list[str] = field(default_factory=list)
    #: The answer's clauses so far while they read the request back from its start.
    _echo: list[str] = field(default_factory=list)
    #: Sentences said so far; at ``MAX_SENTENCES`` the answer has said enough.
    _sentences: int = 0

    @property
    def enough(self) -> bool:
        """Whether the answer said all a listener should hear: the rest is held back (a
        caller that knows no call can follow stops the model)."""
        if self._sentences < MAX_SENTENCES:
            return False
        return not MORE_WORDS.intersection(plain_words(self.request))

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        self._held += text
        if loops(self._held):  # a loop need not reach a clause's end: look now
            self._stop("loop", self._held)
            return ""
        *whole, self._held = _CLAUSE_END.split(self._held)
        return "".join(said + " " for clause in whole if (said := self._judge(clause)))

    def finish(self) -> str:
        held, self._held = self._held, ""
        said = self._judge(held)
        if self._untold and not self.stopped:  # too short to tell: said as it is
            said, self._untold = " ".join(self._untold), []
        return "" if self.stopped else said

    def _judge(self, clause: str) -> str:
        if self.enough and clause.strip():
            if not any(reason == "long enough" for reason, _ in self.dropped):
                self.dropped.append(("long enough", clause))
            return ""
        said = self._judge_clause(clause)
        self._sentences += len(_SENTENCE_END.findall(said.strip()))
        return said

    def _judge_clause(self, clause: str) -> str:
        if self.stopped or not clause.strip():
            return ""
        reason = self._fault(clause)
        if reason is not None:
            self.dropped.append((reason, clause))
            if reason == "loop":
                self._stop(reason, clause)
            return ""
        if self.other_language is None or self._said_any:
            # The first words tell the answer's language; a later clause alone says too
            # little to judge ("start a scene or script," read as Italian).
            self._said_any = True
            return clause
        self._untold.append(clause)
        text = " ".join(self._untold)
        if self.other_language(text):
            self._untold = []
            self._stop("language", text)
            return ""
        if len(plain_words(text)) < LANGUAGE_WORDS:
            return ""
        self._untold = []
        self._said_any = True
        return text

    def _fault(self, clause: str) -> str | None:
        if TOOL_NAME.search(clause):
            return "tool name"
        if loops(clause):
            return "loop"
        greeted = greeting_in(self.request)
        if not (self._said_any or self._untold) and greets(clause) and not greeted:
            return "greeting"
        if pleasantry(clause) and not greeted:
            return "pleasantry"
        first = not (self._said_any or self._untold)
        if first and _QUOTED.match(clause):
            return "quoted"
        if first and not (greeted and greets(clause)) and self._echoes(clause):
            return "request said back"
        if self.made_up is not None and self.made_up(clause):
            return "fact not read"
        if self.claims is not None and self.claims(clause):
            return "false confirmation"
        if self.internal is not None and self.internal(clause):
            return "instructions read back"
        return None

    def log_held_back(self, logger: logging.Logger) -> None:
        for reason, clause in self.dropped:
            logger.info("Not speaking the model's words (%s): %.120r", reason, clause)

    def _echoes(self, clause: str) -> bool:
        if says_back(" ".join([*self._echo, clause]), self.request):
            self._echo.append(clause)
            return True
        return False

    def _stop(self, reason: str, text: str) -> None:
        if not self.stopped:
            self.stopped = True
            if (reason, text) not in self.dropped:
                self.dropped.append((reason, text))
