"""A request that tells something asks for nothing to be done.

Seen in a real Home Assistant: "I turned the ceiling fan off earlier" turned
the fan off (the 0.5B read the words "turned", "off" and the fan's name; the
request's own words agree with the call, so no other rule held it). People
tell their assistant what they did, how they feel and what they like ("I
turned it off earlier", "ich habe das Licht schon ausgemacht", "Ayer dejé la
luz encendida", "ho freddo"); none of it is an order. Home Assistant's
sentences are all orders and questions, so what marks a statement is listed
here per language, as ``negation`` does for "don't": a speaker who is the
subject of the sentence (a command has none: "turn off the fan"), except for
the verbs that ask ("I want", "I'd like", "I need"), and words of the past
("earlier", "yesterday"). A statement changes nothing and reads nothing; it
is acknowledged, without the model. Each part of a request between punctuation is read
on its own: "I'm off to bed, turn off the lights" still asks.

A sentence about how something is ("the hallway is pitch black", "Die
Kaffeemaschine klingt komisch", "La entrada está muy oscura") tells too, but
only once Home Assistant's sentences have not read it (``describes``): its
subject comes first and its verb is a third person's, where an order starts
with its verb.
"""

from __future__ import annotations

import re

from .phrases import LanguagePatterns

#: The speaker as the subject, in each language (the verbs that ask are left out), and
#: words that put what is said in the past. Pronoun-dropping languages (es, it) name the
#: first person by its auxiliaries and commonest verbs of telling.
_STATEMENT = LanguagePatterns(
    {
        "en": (
            r"^(?:so |well |oh |hey )?(?:i|we)\b(?!'d like| would| want| wanna| need| wish|'d love)"
            r"|^i'm\b|^we're\b|\b(?:i|we)(?:'ve| have| had| just)? (?:already )?"
            r"(?:turned|switched|left|put|shut|forgot|did|was|were|opened|closed|set)\b"
            r"|\b(?:earlier|yesterday|last night|ago|this morning)\b"
        ),
        "de": (
            r"^(?:also |na )?(?:ich|wir)\b(?! (?:möchte|möchten|will|wollen|hätte gern|brauche|"
            r"bräuchte|würde))|\b(?:ich|wir) (?:habe|hab|haben|hatte|hatten)\b"
            r"|\b(?:vorhin|gestern|vorgestern|heute morgen|heute früh|letzte nacht)\b"
        ),
        "fr": (
            r"^(?:je|j'|nous)\b(?! ?(?:veux|voudrais|voulons|aimerais|souhaite|peux|pourrais))"
            r"|\b(?:j'ai|nous avons|on a|j'avais)\b|\b(?:hier|tout à l'heure|ce matin|plus tôt)\b"
        ),
        "es": (
            r"^(?:yo|nosotros)\b(?! (?:quiero|querría|quisiera|necesito))"
            r"|^(?:tengo|estoy|soy|me encanta|me gusta|me voy|creo|voy|salgo|vuelvo)\b"
            # "Ya apagué la luz": already, and a verb of the first person's past.
            r"|^ya \w+(?:é|í)\b"
            r"|\b(?:he|hemos|había|habíamos) \w+(?:ado|ido|to|cho)\b"
            r"|\b(?:ayer|anoche|antes de ayer|hace un rato|esta mañana)\b"
        ),
        "it": (
            r"^(?:io|noi)\b(?! (?:voglio|vorrei|vogliamo|ho bisogno))"
            r"|^(?:ho|sono|abbiamo|siamo|mi piace|adoro|credo|vado|esco|torno)\b"
            r"|\b(?:ieri|stanotte|stamattina|poco fa|prima d'ora)\b"
        ),
        "nl": (
            r"^(?:ik|wij|we)\b(?! (?:wil|wilde|zou graag|wil graag|willen|heb nodig))"
            r"|\b(?:ik|we|wij) (?:heb|hebben|had|hadden)\b"
            r"|\b(?:gisteren|daarnet|vanochtend|vanmorgen|eerder vandaag|net al)\b"
        ),
    }
)


#: A subject, then a verb that describes (third person), near the start, per language.
_DESCRIBES = LanguagePatterns(
    {
        "en": r"^(?:it|this|that|there|everything|the [\w' ]{1,30}?|my [\w' ]{1,30}?"
        r"|our [\w' ]{1,30}?)\s*(?:'s|is|are|was|were|looks?|feels?|seems?|sounds?|smells?"
        r"|makes?|gets?|got)\b",
        "de": r"^(?:es|das|der|die|den|dem|mein\w*|unser\w*|mir|uns|im|in der|draußen|drinnen"
        r"|hier|heute|morgen)\b[\w' ]{0,40}?\b(?:ist|sind|war|waren|sieht|klingt|riecht"
        r"|wirkt|macht|kommt|bleibt|wird)\b",
        "fr": r"^(?:il|elle|ils|elles|c'|ça|ca|la|le|les|l'|mon|ma|mes|notre|nos|dehors|ici"
        r"|aujourd'hui|demain)[\w' ]{0,40}?\b(?:est|sont|était|étaient|fait|semble|sent"
        r"|paraît|vient|viennent|reste)\b",
        "es": r"^(?:el|la|los|las|mi|mis|nuestr\w+|hoy|mañana|aquí|fuera|afuera)\b[\w' ]{0,40}?"
        r"\b(?:está|están|es|son|era|estaba|hace|viene|vienen|parece|suena|huele|queda)\b",
        "it": r"^(?:il|lo|la|i|gli|le|l'|mio|mia|miei|mie|nostr\w+|oggi|domani|qui|fuori|in \w+)"
        r"[\w' ]{0,40}?\b(?:è|sono|era|erano|fa|sembra|suona|viene|vengono|resta)\b",
        "nl": r"^(?:het|de|die|dat|mijn|onze|ons|er|hier|buiten|vandaag|morgen)\b[\w' ]{0,40}?"
        r"\b(?:is|zijn|was|waren|ziet|klinkt|ruikt|lijkt|maakt|komt|blijft|wordt)\b",
    }
)


def describes(text: str, language: str) -> bool:
    """Whether every part of the request says how something is, not what to do. Only for
    a request Home Assistant's sentences did not read, and not a question."""
    return _every_part(text, _DESCRIBES.of(language))


def tells(text: str, language: str) -> bool:
    """Whether the request only tells (about the speaker, or the past), in every part."""
    return _every_part(text, _STATEMENT.of(language))


def _every_part(text: str, pattern: re.Pattern[str]) -> bool:
    parts = [" ".join(part.split()) for part in _PARTS.split(text.replace("’", "'"))]
    parts = [part for part in parts if part]
    return bool(parts) and all(pattern.search(part) for part in parts)


_PARTS = re.compile(r"[,.;:!?¡¿]+")
