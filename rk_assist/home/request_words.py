"""What a request's words say in its own language: numbers, on or off, a question.

The rules that hold a model's calls to the request (``grounding``) need to
know whether "zweiundzwanzig" is 22, whether "éteins" means off, and whether
"läuft der Fernseher" asks or tells. Home Assistant's data answers that for
every language it speaks: hassil's number spelling (``unicode-rbnf``, the
same rules Home Assistant's agent reads numbers with) and the sentence
templates of its on, off and state intents, matched with any words standing
for the device. Nothing here is a word list of rk-assist's own.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
from dataclasses import dataclass
from typing import Any

from hassil import Intents, recognize_all
from hassil.expression import Alternative, Sentence, TextChunk
from hassil.expression import Sequence as HassilSequence
from hassil.intents import WildcardSlotList
from hassil.parse_expression import parse_sentence
from hassil.sample import sample_expression, sample_sentence
from unicode_rbnf import RbnfEngine

from .model import normalize
from .phrases import LANGUAGES, LanguagePatterns, base_language
from .sentences import TRANSPORT_INTENTS, language_data, sentences_of

_LOGGER = logging.getLogger(__name__)

#: Numbers spelled out are read from 2 to 100: "one" and "ein" are also articles and
#: particles ("schalte das Licht ein").
_SPELLED = range(2, 101)
_ON, _OFF, _STATE = "HassTurnOn", "HassTurnOff", "HassGetState"
_ANY_TARGET = {name: WildcardSlotList(name=name) for name in ("name", "area", "floor")}
#: A word is a verb of on or off when it is in this share of that intent's sentences
#: and in at most a third as many, in proportion, of the other's.
_VERB_SHARE = 0.05
_SAMPLES = 300


@functools.cache
def _spelled_numbers(language: str) -> dict[str, int]:
    """Every spelling of 2..100 in the language ("zweiundzwanzig", "vingt-deux")."""
    try:
        engine = RbnfEngine.for_language(base_language(language))
    except Exception:  # unicode-rbnf has no rules for the language: no number words
        return {}
    spelled: dict[str, int] = {}
    for number in _SPELLED:
        result = engine.format_number(number)
        for text in {result.text, *result.text_by_ruleset.values()}:
            # Speech-to-text writes "twenty-one" as "twenty one" as often as not.
            for way in (text, text.replace("-", " ")):
                spelled.setdefault(way.lower(), number)
    return spelled


def with_digits(text: str, language: str) -> str:
    """The request with its spelled-out numbers as digits ("auf zweiundzwanzig Grad": 22).

    Longest spellings first, whole words only, so "vingt-deux" and "twenty two" are 22,
    not 20 and 2.
    """
    spelled = _spelled_numbers(language)
    if not spelled:
        return text
    pattern = _number_pattern(language)
    return pattern.sub(lambda match: str(spelled[match.group(0).lower()]), text)


@functools.cache
def _number_pattern(language: str) -> re.Pattern[str]:
    words = sorted(_spelled_numbers(language), key=len, reverse=True)
    # "pour cent", "por ciento", "per cento" say percent: their "hundred" is no number.
    return re.compile(
        r"(?<![\w-])(?<!pour )(?<!por )(?<!per )("
        + "|".join(re.escape(w) for w in words)
        + r")(?![\w-])",
        re.IGNORECASE,
    )


def numbers_in(text: str, language: str) -> set[float]:
    """The numbers a request says, in digits or in words (the 3 of "3D printer" is a name's)."""
    digits = with_digits(text, language).replace(",", ".")
    return {float(n) for n in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w)", digits)}


#: A number said in degrees, per language.
_DEGREES = LanguagePatterns(
    {
        "en": r"(\d+(?:[.,]\d+)?)\s*(?:degrees?|°)",
        "de": r"(\d+(?:[.,]\d+)?)\s*(?:grad|°)",
        "fr": r"(\d+(?:[.,]\d+)?)\s*(?:degrés?|°)",
        "es": r"(\d+(?:[.,]\d+)?)\s*(?:grados?|°)",
        "it": r"(\d+(?:[.,]\d+)?)\s*(?:grad[oi]|°)",
        "nl": r"(\d+(?:[.,]\d+)?)\s*(?:graden|graad|°)",
    }
)


def degrees_said(text: str, language: str) -> set[float]:
    """The numbers a request says in degrees ("auf 21 Grad", "twenty one degrees")."""
    digits = with_digits(text, language)
    return {float(n.replace(",", ".")) for n in _DEGREES.of(language).findall(digits)}


#: A number said in percent, per language ("50%", "50 Prozent", "50 pour cent").
PERCENT = LanguagePatterns(
    {
        "en": r"\b(\d+)\s*(?:%|percent)\s*",
        "de": r"\b(\d+)\s*(?:%|prozent)\s*",
        "fr": r"\b(\d+)\s*(?:%|pour ?cent)\s*",
        "es": r"\b(\d+)\s*(?:%|por ?ciento)\s*",
        "it": r"\b(\d+)\s*(?:%|per ?cento)\s*",
        "nl": r"\b(\d+)\s*(?:%|procent)\s*",
    }
)
#: The slots whose level is a share in percent.
_SHARES = ("brightness", "position", "percentage", "volume_level")


def percents_said(text: str, language: str) -> set[float]:
    """The numbers a request says in percent ("auf 50 Prozent", "to fifty percent")."""
    digits = with_digits(text, language)
    return {float(n) for n in PERCENT.of(language).findall(digits)}


def unit_misfit(slots: dict[str, object], text: str, language: str) -> str | None:
    """The level slot set from a number the request says in another unit, or None: a
    temperature from "50 Prozent" (seen: the 0.5B set a thermostat to 50 degrees for "Stell
    die Deckenlampe im Wohnzimmer auf 50 Prozent"), a brightness from "21 degrees"."""
    percents, degrees = percents_said(text, language), degrees_said(text, language)
    temperature = slots.get("temperature")
    if isinstance(temperature, int | float) and float(temperature) in percents - degrees:
        return "temperature"
    for slot in _SHARES:
        value = slots.get(slot)
        if isinstance(value, int | float) and float(value) in degrees - percents:
            return slot
    return None


#: The slots that carry a level the request must say itself.
_LEVELS = ("brightness", "position", "temperature", "percentage", "volume_level")


def value_not_said(slots: dict[str, object], text: str, language: str) -> str | None:
    """The level slot whose number the request does not say ("the bedroom one" is not
    brightness 1), or None: a value the request did not say is never sent."""
    said = numbers_in(text, language)
    for slot in _LEVELS:
        value = slots.get(slot)
        if isinstance(value, int | float) and float(value) not in said:
            return slot
    return None


_ON_OFF_STATE = (_ON, _OFF, _STATE)


@functools.cache
def _verbs(language: str) -> dict[str, frozenset[str]]:
    """The words that say on, and those that say off, in Home Assistant's sentences.

    Each template is written out (hassil's own sampler, up to a few hundred
    ways each) so that "(an|aus)schalten" gives "anschalten" and "ausschalten";
    a word is a verb of its side when it is in a twentieth of that side's
    templates and at most a third as often, in proportion, in the other's.
    Built once per language, in about half a second.
    """
    found = language_data(language)
    if found is None:
        return {}
    tag, data = found
    intents = Intents.from_dict(
        {
            "language": tag,
            "intents": {
                name: data["intents"][name] for name in (_ON, _OFF) if name in data["intents"]
            },
            "lists": data.get("lists", {}),
            # A rule that says where ("an {area}") is a target, not words of its own:
            # its prepositions are in on and off sentences alike.
            "expansion_rules": {
                rule: "{area}" if re.search(r"\{(area|floor|name)\b", body) else body
                for rule, body in data.get("expansion_rules", {}).items()
            },
            "skip_words": data.get("skip_words", []),
        }
    )
    shares: dict[str, dict[str, float]] = {}
    for name, intent in intents.intents.items():
        counts: dict[str, int] = {}
        templates = 0
        for block in intent.data:
            rules = {**intents.expansion_rules, **(block.expansion_rules or {})}
            for sentence in block.sentences:
                templates += 1
                for word in _words_of(sentence, intents, rules, tag):
                    counts[word] = counts.get(word, 0) + 1
        shares[name] = {word: count / max(templates, 1) for word, count in counts.items()}
    if len(shares) < 2:
        return {}
    verbs = {}
    for name, other in ((_ON, _OFF), (_OFF, _ON)):
        verbs[name] = frozenset(
            word
            for word, share in shares[name].items()
            if len(word) > 1 and share >= _VERB_SHARE and share >= 3 * shares[other].get(word, 0)
        )
    return verbs


def _words_of(sentence: Sentence, intents: Intents, rules: dict, language: str) -> set[str]:
    words: set[str] = set()
    try:
        samples = sample_sentence(
            sentence, intents.slot_lists, rules, language=language, expand_lists=False
        )
        for text in itertools.islice(samples, _SAMPLES):
            words |= set(re.findall(r"[^\W\d_]+", re.sub(r"\{[^}]*\}", " ", text.lower())))
    except Exception:  # hassil is not ours: a template it cannot write out adds nothing
        pass
    return words


@dataclass(frozen=True)
class _Reading:
    """How Home Assistant's sentences read a request, any words standing for its target."""

    intent: str
    #: The words no wildcard took: the verb and the particles ("schalte ... aus").
    own: frozenset[str]
    #: The kind of device the sentence itself names ("the lights in ...": light).
    domain: str | None


@functools.lru_cache(maxsize=256)
def _matches(text: str, language: str, names: tuple[str, ...] = _ON_OFF_STATE) -> list[_Reading]:
    """Each reading of the request by the sentences of these intents."""
    intents = sentences_of(language, names)
    if intents is None:
        return []
    try:
        results = recognize_all(text, intents, slot_lists=_ANY_TARGET, language=intents.language)
        readings = []
        for result in results:
            taken = " ".join(str(e.value) for e in result.entities.values()).lower()
            own = set(re.split(r"[^\w']+", text.lower())) - set(re.split(r"[^\w']+", taken))
            domain = result.entities.get("domain")
            readings.append(
                _Reading(
                    result.intent.name,
                    frozenset(own - {""}),
                    str(domain.value) if domain is not None else None,
                )
            )
        return readings
    except Exception as err:  # hassil is not ours: a failure means "no reading"
        _LOGGER.warning("Home Assistant's sentences could not be matched: %s", err)
        return []


def polarity(text: str, language: str) -> str | None:
    """HassTurnOn or HassTurnOff, where Home Assistant's sentences read the request so.

    Only a reading whose own words hold a verb of that side counts ("éteins le
    lampadaire et la lumière du salon": "éteins"), and none of the other side:
    a remark ("ich mag die Stehlampe") has no verb; a question none either.
    """
    verbs = _verbs(language)
    sides = set()
    for reading in _matches(text, language):
        if reading.intent == _STATE:
            return None
        if reading.intent in verbs and reading.own & verbs[reading.intent]:
            sides.add(reading.intent)
    return sides.pop() if len(sides) == 1 else None


#: A question's first word, per language (speech-to-text often drops the question mark).
_QUESTION_START = {
    "en": r"(?:what|what's|whats|how|which|where|when|who|is|are|does|do|did|was|were)",
    "de": r"(?:was|wie|wieviel|welche|welcher|welches|wo|wann|wer|ist|sind|läuft|laufen)",
    "fr": r"(?:quel|quelle|quels|quelles|combien|comment|où|quand|qui|est-ce|qu'est-ce)",
    "es": r"(?:qué|cuál|cuáles|cuánto|cuánta|cuántos|cuántas|cómo|dónde|cuándo|quién)",
    "it": r"(?:quale|quali|quanto|quanta|quanti|quante|come|dove|quando|chi|cosa|che cosa)",
    "nl": r"(?:wat|hoe|welke|welk|hoeveel|waar|wanneer|wie|is|zijn|staat|staan)",
}
_QUESTION_STARTS = LanguagePatterns(
    {code: rf"^[¿¡\s]*{words}\b" for code, words in _QUESTION_START.items()}
)


#: Home Assistant's lists of the states a device is in ("on", "geschlossen", "cerrada con
#: llave"), which its state questions use.
_STATE_LISTS = ("on_off_states", "cover_states", "lock_states", "bs_open_states")
#: State words that are mostly something else in a sentence (German "ein" is "a").
_NOT_STATES = frozenset({"ein", "ausm"})


@functools.cache
def state_words(language: str) -> frozenset[str]:
    """The words Home Assistant's data says a device's state with, in the language."""
    words = set()
    for _state, template in _state_templates(language, _STATE_LISTS):
        try:
            words |= {" ".join(sample.split()).lower() for sample in sample_expression(template)}
        except Exception:  # hassil is not ours: a template it cannot write out adds nothing
            continue
    return frozenset(word for word in words if word and word not in _NOT_STATES)


#: The states said in words (a moving cover's "opening" is said as Home Assistant has it).
_SAID_STATES = frozenset({"on", "off", "open", "closed"})


@functools.cache
def state_names(language: str) -> dict[str, str]:
    """How the language says a light's, switch's or cover's state ("off" -> "uit"), from
    Home Assistant's own lists, written the plainest way. (Its lock states are templates of
    optional endings with no plainest word: they stay as Home Assistant says them.)"""
    names: dict[str, str] = {}
    for state, template in _state_templates(language, ("on_off_states", "cover_states")):
        if state not in _SAID_STATES or state in names:
            continue
        try:
            plain = " ".join(_plainest(template).split())
        except ValueError:  # not a template of alternatives and optional parts only
            continue
        if plain:
            names[state] = plain
    return names


def _state_templates(language: str, lists: tuple[str, ...]) -> list[tuple[str, Any]]:
    """Each (state, parsed template) of these lists of Home Assistant's data, in order."""
    found = language_data(language)
    if found is None:
        return []
    templates = []
    for name in lists:
        for value in (found[1].get("lists", {}).get(name) or {}).get("values", []):
            spoken, state = (
                (value["in"], value.get("out")) if isinstance(value, dict) else (value, value)
            )
            try:
                templates.append((str(state), parse_sentence(str(spoken)).expression))
            except Exception:  # hassil is not ours: a template it cannot read adds nothing
                continue
    return templates


def _plainest(expression: Any) -> str:
    """A template written the plainest way: each first alternative, no optional part."""
    if isinstance(expression, TextChunk):
        return expression.text
    if isinstance(expression, Alternative):
        return "" if expression.is_optional else _plainest(expression.items[0])
    if isinstance(expression, HassilSequence):
        return "".join(_plainest(item) for item in expression.items)
    raise ValueError(f"not a plain template: {expression!r}")


def asks(text: str, language: str) -> bool:
    """Whether the request is a question: its mark, its first word, or Home Assistant's
    state sentences reading it as one."""
    return asks_by_form(text, language) or any(
        reading.intent == _STATE and reading.own for reading in _matches(text, language)
    )


def asks_by_form(text: str, language: str) -> bool:
    """Whether the request is a question by its mark or its first word alone ("La cuisine
    est toute sombre" is read by Home Assistant's state sentences, but tells)."""
    return text.rstrip().endswith("?") or _QUESTION_STARTS.search(text, language)


#: Media intents told apart by their verbs alone: the transports, mute and unmute.
MEDIA_VERBS = (*TRANSPORT_INTENTS, "HassMediaPlayerMute", "HassMediaPlayerUnmute")


def media_verbs_read(text: str, language: str) -> set[str]:
    """The media verbs (pause, next, mute...) Home Assistant's sentences read the request as.

    Only readings with words of their own ("skip", "reprends"): a remark about
    the television ("la télé était trop forte") is read as none.
    """
    return {reading.intent for reading in _matches(text, language, MEDIA_VERBS) if reading.own}


def read_as(text: str, language: str, intents: tuple[str, ...]) -> bool:
    """Whether Home Assistant's sentences of these intents read the request at all.

    For intents a model reaches for too readily: the 0.5B Qwen made "Reserva
    una mesa para dos" a two-hour timer, the 1.5B put "pizza" on the shopping
    list for "Pide una pizza". Home Assistant's own sentences read "set a timer
    for 5 minutes" and "Setz Milch auf die Einkaufsliste", not those.
    """
    return bool(_matches(text, language, intents))


def says_on_or_off(text: str, language: str) -> bool:
    """Whether the request holds a verb of on or off as Home Assistant's sentences use it.

    The own words of a reading, never the device's ("I'm freezing in the
    bedroom" has none, however a sentence with any words for a device reads it).
    """
    verbs = _verbs(language)
    said = frozenset().union(*verbs.values()) if verbs else frozenset()
    return any(
        reading.intent in (_ON, _OFF) and reading.own & said for reading in _matches(text, language)
    )


def kinds_read(text: str, language: str) -> set[str]:
    """The kinds of device (domains) Home Assistant's on, off and state sentences read.

    "Mach das Licht im Bad an" names lights; "ouvre la fenêtre du garage" names
    no light, whatever a model makes of the garage's lights.
    """
    verbs = _verbs(language)
    said = frozenset().union(*verbs.values()) if verbs else frozenset()
    return {
        reading.domain
        for reading in _matches(text, language)
        if reading.domain is not None and any(_kind_like(w, said) for w in reading.own)
    }


def _kind_like(word: str, verbs: frozenset[str]) -> bool:
    """A word of the sentence's own that may name a kind ("Licht", "lights"), not a verb
    of on or off, an article or a particle (a reading whose own words are "ouvre la"
    names no kind, whatever domain its template sets)."""
    return len(word) > 3 and word not in verbs and normalize(word) == word


def load_words(languages: tuple[str, ...]) -> None:
    """Learn these languages' verbs and words now (about half a second each)."""
    for language in languages:
        _verbs(language)
    for language in _TOLD_APART:
        _vocabulary(language)


#: The languages told apart by ``reads_as_other``: those rk-assist writes its own phrases in.
_TOLD_APART = LANGUAGES


@functools.cache
def _vocabulary(language: str) -> frozenset[str]:
    """The words of Home Assistant's sentences and responses in ``language``."""
    found = language_data(language)
    data = found[1] if found is not None else {}
    words: set[str] = set()

    def collect(value: object) -> None:
        if isinstance(value, str):
            text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{[^}]*\}|<[^>]*>", " ", value)
            words.update(w for w in re.findall(r"[^\W\d_]+", text.lower()) if len(w) > 1)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for part in ("intents", "responses", "expansion_rules"):
        collect(data.get(part, {}))
    return frozenset(words)


def reads_as_other(
    text: str, language: str, names: list[str] | tuple[str, ...] = (), at_least: float = 1.5
) -> str:
    """The language ``text`` reads as, where Home Assistant's words say it is not ``language``.

    Each word counts for the languages whose sentences use it, shared words
    less; names count for none (a German name in an English sentence is still
    English). "" when the text reads as ``language``, says too little to
    tell, or ``language`` is not one told apart here. A small model asked in
    French sometimes answers in English: that answer is not spoken.
    """
    base = base_language(language)
    if base not in _TOLD_APART:
        return ""
    scores = _language_scores(text, names)
    best = max(scores, key=lambda code: scores[code])
    if best == base or scores[best] < at_least or scores[best] <= scores[base] * 1.5:
        return ""
    return best


def reads_as(text: str, names: list[str] | tuple[str, ...] = ()) -> str:
    """The language ``text`` clearly reads as, by the measure of :func:`reads_as_other`;
    "" when it says too little to tell."""
    scores = _language_scores(text, names)
    best, second = sorted(scores, key=lambda code: scores[code], reverse=True)[:2]
    return best if scores[best] >= 1.5 and scores[best] > scores[second] * 1.5 else ""


def _language_scores(text: str, names: list[str] | tuple[str, ...]) -> dict[str, float]:
    named = {word for name in names for word in normalize(name).split()}
    scores = dict.fromkeys(_TOLD_APART, 0.0)
    for word in re.findall(r"[^\W\d_]+", text.lower()):
        if len(word) < 2 or normalize(word) in named:
            continue
        using = [code for code in _TOLD_APART if word in _vocabulary(code)]
        for code in using:
            scores[code] += 1 / len(using)
    return scores


@functools.cache
def _colors(language: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Home Assistant's colour names in the language, as patterns, with the value it sets."""
    found = language_data(language)
    if found is None:
        return ()
    values = found[1].get("lists", {}).get("color", {}).get("values", [])
    colors = []
    for value in values:
        if not isinstance(value, dict) or "in" not in value or "out" not in value:
            continue
        pattern = re.escape(str(value["in"]).lower())
        pattern = pattern.replace(r"\(", "(?:").replace(r"\)", ")").replace(r"\|", "|")
        pattern = pattern.replace(r"\[", "(?:").replace(r"\]", ")?")
        colors.append((re.compile(pattern), str(value["out"])))
    return tuple(colors)


def color_value(word: str, language: str) -> str:
    """The colour Home Assistant sets for a colour word of the language ("rot": "red").

    Its light intent takes English colour names; a model asked in German
    writes "rot". A word the language's list does not hold is left as it is.
    """
    said = word.strip().lower()
    return next((out for pattern, out in _colors(language) if pattern.fullmatch(said)), word)


def verb_slip(text: str, language: str) -> str | None:
    """The request with a word of on or off that speech-to-text wrote with a doubled
    letter single ("turn of the light": "off") put right, or None.

    A doubled letter heard as one is the slip; a word that is one only with the
    letter doubled back is read so. Home Assistant's sentences then judge the result.
    """
    verbs = {word for side in _verbs(language).values() for word in side}
    doubled = {
        word[:i] + word[i + 1 :]: word
        for word in verbs
        for i in range(1, len(word))
        if word[i] == word[i - 1]
    }
    words = text.split()
    for number, word in enumerate(words):
        bare = word.lower().strip(",.!?")
        if bare in doubled and bare not in verbs:
            return " ".join([*words[:number], doubled[bare], *words[number + 1 :]])
    return None
