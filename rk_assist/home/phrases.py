"""Every sentence rk-assist says itself, in each language its users speak.

Home Assistant's own data (``home-assistant-intents``) words what it would
say after an intent and most of its errors; ``responses`` takes those from
there. What remains is rk-assist's own: the questions it asks back before it
acts, the refusals Home Assistant has no template for, and the service's
sentences about itself (busy, too long, restarting). They are here, one table
per language, so that a turn never answers a German request in English; a
language that is missing falls back to English, key by key.
"""

from __future__ import annotations

import re
from typing import Any

FALLBACK_LANGUAGE = "en"

# The service about itself.
NOTHING_HEARD = "nothing_heard"
TOO_LONG = "too_long"
BUSY = "busy"
STILL_ANSWERING = "still_answering"
FAILED = "failed"
NO_ANSWER = "no_answer"
WELCOME = "welcome"  # the answer to thanks
ACKNOWLEDGED = "acknowledged"  # the answer to a remark that asks for nothing
FAREWELL = "farewell"  # the answer to a goodbye
GOOD_NIGHT = "good_night"  # the answer to a good night
TARGET_IS = "target_is"  # what a thermostat is set to: {name}, {value}
NO_TEXT = "no_text"
STOPPING = "stopping"
GETTING_READY = "getting_ready"  # the model is still being downloaded
FAILED_ACTION = "failed_action"
NOT_CONNECTED = "not_connected"
# Questions asked back before acting.
WHICH_DEVICE = "which_device"
WHICH_DEVICES_IN = "which_devices_in"  # {place}
WHICH_OF_NAME = "which_of_name"  # {name}, {places}
SAY_ITS_NAME = "say_its_name"
ASK_SETTING = "ask_setting"
ASK_TEMPERATURE = "ask_temperature"
ASK_POSITION = "ask_position"
ASK_PERCENTAGE = "ask_percentage"
ASK_VOLUME = "ask_volume"
ASK_VOLUME_STEP = "ask_volume_step"
ASK_ITEM = "ask_item"
ASK_DURATION = "ask_duration"
ASK_VALUE = "ask_value"
# Refusals Home Assistant has no template for.
CANNOT_DO = "cannot_do"
NOT_A_NUMBER = "not_a_number"
OUT_OF_RANGE = "out_of_range"  # {low}, {high}
NOTHING_THERE = "nothing_there"  # {where}
NO_AREA = "no_area"  # {area}
NO_FLOOR = "no_floor"  # {floor}
NO_DEVICE = "no_device"  # {name}
OR = "or"  # joins the places of WHICH_OF_NAME

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        NOTHING_HEARD: "Sorry, I didn't catch that. Please say it again.",
        TOO_LONG: "Sorry, that was too long for me. Please ask again more briefly.",
        BUSY: "I'm busy with other requests right now. Please try again in a moment.",
        STILL_ANSWERING: "I'm still answering your previous request.",
        FAILED: "Sorry, something went wrong while I was thinking. Please try again.",
        NO_ANSWER: "Sorry, I have no answer to that.",
        WELCOME: "You're welcome.",
        ACKNOWLEDGED: "All right.",
        FAREWELL: "Goodbye!",
        GOOD_NIGHT: "Good night!",
        TARGET_IS: "{name} is set to {value} degrees.",
        NO_TEXT: "Sorry, the request had no text for me to answer.",
        STOPPING: "Sorry, I'm restarting right now. Please ask again in a moment.",
        GETTING_READY: "I'm still getting ready: "
        "my language model is being downloaded. Please ask again in a few minutes.",
        FAILED_ACTION: "Sorry, that did not work.",
        NOT_CONNECTED: "I can't control devices: I am not connected to Home Assistant.",
        WHICH_DEVICE: "Which device do you mean?",
        WHICH_DEVICES_IN: "Which devices in {place} do you mean?",
        WHICH_OF_NAME: "Which {name} do you mean: the one in {places}?",
        SAY_ITS_NAME: "For locks, doors and gates, please say plainly what to do "
        "and name the device.",
        ASK_SETTING: "What brightness or color should I set?",
        ASK_TEMPERATURE: "What temperature should I set?",
        ASK_POSITION: "How far should I open it, in percent?",
        ASK_PERCENTAGE: "What speed should I set, in percent?",
        ASK_VOLUME: "What volume should I set, in percent?",
        ASK_VOLUME_STEP: "Should I turn it up or down?",
        ASK_ITEM: "What should I add to the list?",
        ASK_DURATION: "For how long should I set the timer?",
        ASK_VALUE: "What value should I set?",
        CANNOT_DO: "I can't do that here.",
        NOT_A_NUMBER: "That is not a number I can use.",
        OUT_OF_RANGE: "That value must be between {low} and {high}.",
        NOTHING_THERE: "Sorry, there is nothing I can control like that in {where}.",
        NO_AREA: "I don't know an area called {area}.",
        NO_FLOOR: "I don't know a floor called {floor}.",
        NO_DEVICE: "Sorry, I can't find a device called {name}.",
        OR: "or",
    },
    "de": {
        NOTHING_HEARD: "Entschuldigung, das habe ich nicht verstanden. Bitte sag es noch einmal.",
        TOO_LONG: "Entschuldigung, das war zu lang für mich. Bitte frag kürzer.",
        BUSY: "Ich bin gerade mit anderen Anfragen beschäftigt. Bitte versuch es gleich noch "
        "einmal.",
        STILL_ANSWERING: "Ich beantworte noch deine vorige Anfrage.",
        FAILED: "Entschuldigung, beim Nachdenken ist etwas schiefgegangen. Bitte versuch es "
        "noch einmal.",
        NO_ANSWER: "Entschuldigung, darauf habe ich keine Antwort.",
        WELCOME: "Gern geschehen.",
        ACKNOWLEDGED: "Alles klar.",
        FAREWELL: "Tschüss!",
        GOOD_NIGHT: "Gute Nacht!",
        TARGET_IS: "{name} ist auf {value} Grad eingestellt.",
        NO_TEXT: "Entschuldigung, die Anfrage enthielt keinen Text.",
        STOPPING: "Entschuldigung, ich starte gerade neu. Bitte frag gleich noch einmal.",
        GETTING_READY: "Ich mache mich noch bereit: mein Sprachmodell wird gerade "
        "heruntergeladen. Bitte frag in ein paar Minuten noch einmal.",
        FAILED_ACTION: "Entschuldigung, das hat nicht geklappt.",
        NOT_CONNECTED: "Ich kann keine Geräte steuern: Ich bin nicht mit Home Assistant verbunden.",
        WHICH_DEVICE: "Welches Gerät meinst du?",
        WHICH_DEVICES_IN: "Welche Geräte in {place} meinst du?",
        WHICH_OF_NAME: "Welches Gerät {name} meinst du: das in {places}?",
        SAY_ITS_NAME: "Bei Schlössern, Türen und Toren sag bitte klar, was ich tun "
        "soll, und nenne das Gerät.",
        ASK_SETTING: "Welche Helligkeit oder Farbe soll ich einstellen?",
        ASK_TEMPERATURE: "Welche Temperatur soll ich einstellen?",
        ASK_POSITION: "Wie weit soll ich öffnen, in Prozent?",
        ASK_PERCENTAGE: "Welche Geschwindigkeit soll ich einstellen, in Prozent?",
        ASK_VOLUME: "Welche Lautstärke soll ich einstellen, in Prozent?",
        ASK_VOLUME_STEP: "Soll ich lauter oder leiser stellen?",
        ASK_ITEM: "Was soll ich auf die Liste setzen?",
        ASK_DURATION: "Auf wie lange soll ich den Timer stellen?",
        ASK_VALUE: "Welchen Wert soll ich einstellen?",
        CANNOT_DO: "Das kann ich hier nicht tun.",
        NOT_A_NUMBER: "Mit dieser Zahl kann ich nichts anfangen.",
        OUT_OF_RANGE: "Der Wert muss zwischen {low} und {high} liegen.",
        NOTHING_THERE: "Entschuldigung, in {where} gibt es nichts, was ich so steuern kann.",
        NO_AREA: "Ich kenne keinen Bereich namens {area}.",
        NO_FLOOR: "Ich kenne kein Stockwerk namens {floor}.",
        NO_DEVICE: "Entschuldigung, ich finde kein Gerät namens {name}.",
        OR: "oder",
    },
    "fr": {
        NOTHING_HEARD: "Désolé, je n'ai pas compris. Peux-tu répéter ?",
        TOO_LONG: "Désolé, c'était trop long pour moi. Peux-tu demander plus brièvement ?",
        BUSY: "Je suis occupé par d'autres demandes. Réessaie dans un instant.",
        STILL_ANSWERING: "Je réponds encore à ta demande précédente.",
        FAILED: "Désolé, quelque chose s'est mal passé pendant que je réfléchissais. Réessaie.",
        NO_ANSWER: "Désolé, je n'ai pas de réponse à cela.",
        WELCOME: "Avec plaisir.",
        ACKNOWLEDGED: "D'accord.",
        FAREWELL: "Au revoir !",
        GOOD_NIGHT: "Bonne nuit !",
        TARGET_IS: "{name} est réglé sur {value} degrés.",
        NO_TEXT: "Désolé, la demande ne contenait aucun texte.",
        STOPPING: "Désolé, je redémarre. Redemande dans un instant.",
        GETTING_READY: "Je me prépare encore : "
        "mon modèle de langue est en cours de téléchargement. Redemande dans quelques minutes.",
        FAILED_ACTION: "Désolé, cela n'a pas fonctionné.",
        NOT_CONNECTED: "Je ne peux pas contrôler les appareils : je ne suis pas connecté à "
        "Home Assistant.",
        WHICH_DEVICE: "De quel appareil parles-tu ?",
        WHICH_DEVICES_IN: "Quels appareils dans {place} veux-tu dire ?",
        WHICH_OF_NAME: "Quel appareil {name} veux-tu dire : celui dans {places} ?",
        SAY_ITS_NAME: "Pour les serrures, portes et portails, dis simplement quoi "
        "faire et nomme l'appareil.",
        ASK_SETTING: "Quelle luminosité ou quelle couleur dois-je régler ?",
        ASK_TEMPERATURE: "Quelle température dois-je régler ?",
        ASK_POSITION: "De combien dois-je ouvrir, en pourcentage ?",
        ASK_PERCENTAGE: "Quelle vitesse dois-je régler, en pourcentage ?",
        ASK_VOLUME: "Quel volume dois-je régler, en pourcentage ?",
        ASK_VOLUME_STEP: "Dois-je monter ou baisser le son ?",
        ASK_ITEM: "Que dois-je ajouter à la liste ?",
        ASK_DURATION: "Pour combien de temps dois-je régler le minuteur ?",
        ASK_VALUE: "Quelle valeur dois-je régler ?",
        CANNOT_DO: "Je ne peux pas faire cela ici.",
        NOT_A_NUMBER: "Ce n'est pas un nombre que je peux utiliser.",
        OUT_OF_RANGE: "La valeur doit être comprise entre {low} et {high}.",
        NOTHING_THERE: "Désolé, il n'y a rien que je puisse contrôler ainsi dans {where}.",
        NO_AREA: "Je ne connais aucune pièce appelée {area}.",
        NO_FLOOR: "Je ne connais aucun étage appelé {floor}.",
        NO_DEVICE: "Désolé, je ne trouve aucun appareil appelé {name}.",
        OR: "ou",
    },
    "es": {
        NOTHING_HEARD: "Perdona, no te he entendido. ¿Puedes repetirlo?",
        TOO_LONG: "Perdona, era demasiado largo para mí. Pregunta de forma más breve.",
        BUSY: "Estoy ocupado con otras peticiones. Inténtalo de nuevo en un momento.",
        STILL_ANSWERING: "Todavía estoy respondiendo a tu petición anterior.",
        FAILED: "Perdona, algo ha fallado mientras pensaba. Inténtalo de nuevo.",
        NO_ANSWER: "Perdona, no tengo respuesta para eso.",
        WELCOME: "De nada.",
        ACKNOWLEDGED: "De acuerdo.",
        FAREWELL: "¡Hasta luego!",
        GOOD_NIGHT: "¡Buenas noches!",
        TARGET_IS: "{name} está puesto a {value} grados.",
        NO_TEXT: "Perdona, la petición no tenía texto.",
        STOPPING: "Perdona, me estoy reiniciando. Pregunta de nuevo en un momento.",
        GETTING_READY: "Todavía me estoy preparando: "
        "se está descargando mi modelo de lenguaje. Pregunta de nuevo en unos minutos.",
        FAILED_ACTION: "Perdona, eso no ha funcionado.",
        NOT_CONNECTED: "No puedo controlar dispositivos: no estoy conectado a Home Assistant.",
        WHICH_DEVICE: "¿Qué dispositivo quieres decir?",
        WHICH_DEVICES_IN: "¿Qué dispositivos de {place} quieres decir?",
        WHICH_OF_NAME: "¿Qué {name} quieres decir: el de {places}?",
        SAY_ITS_NAME: "Para cerraduras, puertas y portones, di claramente qué "
        "hacer y nombra el dispositivo.",
        ASK_SETTING: "¿Qué brillo o color pongo?",
        ASK_TEMPERATURE: "¿Qué temperatura pongo?",
        ASK_POSITION: "¿Cuánto lo abro, en porcentaje?",
        ASK_PERCENTAGE: "¿Qué velocidad pongo, en porcentaje?",
        ASK_VOLUME: "¿Qué volumen pongo, en porcentaje?",
        ASK_VOLUME_STEP: "¿Lo subo o lo bajo?",
        ASK_ITEM: "¿Qué añado a la lista?",
        ASK_DURATION: "¿Para cuánto tiempo pongo el temporizador?",
        ASK_VALUE: "¿Qué valor pongo?",
        CANNOT_DO: "No puedo hacer eso aquí.",
        NOT_A_NUMBER: "Ese no es un número que pueda usar.",
        OUT_OF_RANGE: "El valor debe estar entre {low} y {high}.",
        NOTHING_THERE: "Perdona, no hay nada que pueda controlar así en {where}.",
        NO_AREA: "No conozco ninguna zona llamada {area}.",
        NO_FLOOR: "No conozco ninguna planta llamada {floor}.",
        NO_DEVICE: "Perdona, no encuentro ningún dispositivo llamado {name}.",
        OR: "o",
    },
    "it": {
        NOTHING_HEARD: "Scusa, non ho capito. Puoi ripetere?",
        TOO_LONG: "Scusa, era troppo lungo per me. Chiedi in modo più breve.",
        BUSY: "Sono occupato con altre richieste. Riprova tra un momento.",
        STILL_ANSWERING: "Sto ancora rispondendo alla tua richiesta precedente.",
        FAILED: "Scusa, qualcosa è andato storto mentre pensavo. Riprova.",
        NO_ANSWER: "Scusa, non ho una risposta.",
        WELCOME: "Prego.",
        ACKNOWLEDGED: "Va bene.",
        FAREWELL: "A presto!",
        GOOD_NIGHT: "Buonanotte!",
        TARGET_IS: "{name} è impostato a {value} gradi.",
        NO_TEXT: "Scusa, la richiesta non conteneva testo.",
        STOPPING: "Scusa, mi sto riavviando. Chiedi di nuovo tra un momento.",
        GETTING_READY: "Mi sto ancora preparando: "
        "il mio modello linguistico è in download. Chiedi di nuovo tra qualche minuto.",
        FAILED_ACTION: "Scusa, non ha funzionato.",
        NOT_CONNECTED: "Non posso controllare i dispositivi: non sono collegato a Home Assistant.",
        WHICH_DEVICE: "Quale dispositivo intendi?",
        WHICH_DEVICES_IN: "Quali dispositivi in {place} intendi?",
        WHICH_OF_NAME: "Quale {name} intendi: quello in {places}?",
        SAY_ITS_NAME: "Per serrature, porte e cancelli, dimmi chiaramente cosa "
        "fare e nomina il dispositivo.",
        ASK_SETTING: "Che luminosità o colore devo impostare?",
        ASK_TEMPERATURE: "Che temperatura devo impostare?",
        ASK_POSITION: "Di quanto devo aprire, in percentuale?",
        ASK_PERCENTAGE: "Che velocità devo impostare, in percentuale?",
        ASK_VOLUME: "Che volume devo impostare, in percentuale?",
        ASK_VOLUME_STEP: "Devo alzare o abbassare?",
        ASK_ITEM: "Cosa devo aggiungere alla lista?",
        ASK_DURATION: "Per quanto tempo devo impostare il timer?",
        ASK_VALUE: "Che valore devo impostare?",
        CANNOT_DO: "Non posso farlo qui.",
        NOT_A_NUMBER: "Non è un numero che posso usare.",
        OUT_OF_RANGE: "Il valore deve essere tra {low} e {high}.",
        NOTHING_THERE: "Scusa, non c'è niente che possa controllare così in {where}.",
        NO_AREA: "Non conosco nessuna area chiamata {area}.",
        NO_FLOOR: "Non conosco nessun piano chiamato {floor}.",
        NO_DEVICE: "Scusa, non trovo nessun dispositivo chiamato {name}.",
        OR: "o",
    },
    "nl": {
        NOTHING_HEARD: "Sorry, dat verstond ik niet. Wil je het nog eens zeggen?",
        TOO_LONG: "Sorry, dat was te lang voor mij. Vraag het korter.",
        BUSY: "Ik ben bezig met andere verzoeken. Probeer het zo nog eens.",
        STILL_ANSWERING: "Ik ben nog bezig met je vorige verzoek.",
        FAILED: "Sorry, er ging iets mis tijdens het nadenken. Probeer het nog eens.",
        NO_ANSWER: "Sorry, daar heb ik geen antwoord op.",
        WELCOME: "Graag gedaan.",
        ACKNOWLEDGED: "Oké.",
        FAREWELL: "Tot ziens!",
        GOOD_NIGHT: "Welterusten!",
        TARGET_IS: "{name} staat ingesteld op {value} graden.",
        NO_TEXT: "Sorry, het verzoek bevatte geen tekst.",
        STOPPING: "Sorry, ik start opnieuw op. Vraag het zo nog eens.",
        GETTING_READY: "Ik ben me nog aan het voorbereiden: "
        "mijn taalmodel wordt gedownload. Vraag het over een paar minuten nog eens.",
        FAILED_ACTION: "Sorry, dat is niet gelukt.",
        NOT_CONNECTED: "Ik kan geen apparaten bedienen: ik ben niet verbonden met Home Assistant.",
        WHICH_DEVICE: "Welk apparaat bedoel je?",
        WHICH_DEVICES_IN: "Welke apparaten in {place} bedoel je?",
        WHICH_OF_NAME: "Welke {name} bedoel je: die in {places}?",
        SAY_ITS_NAME: "Zeg bij sloten, deuren en poorten duidelijk wat ik moet "
        "doen en noem het apparaat.",
        ASK_SETTING: "Welke helderheid of kleur moet ik instellen?",
        ASK_TEMPERATURE: "Welke temperatuur moet ik instellen?",
        ASK_POSITION: "Hoe ver moet ik openen, in procent?",
        ASK_PERCENTAGE: "Welke snelheid moet ik instellen, in procent?",
        ASK_VOLUME: "Welk volume moet ik instellen, in procent?",
        ASK_VOLUME_STEP: "Moet ik harder of zachter zetten?",
        ASK_ITEM: "Wat moet ik aan de lijst toevoegen?",
        ASK_DURATION: "Voor hoe lang moet ik de timer zetten?",
        ASK_VALUE: "Welke waarde moet ik instellen?",
        CANNOT_DO: "Dat kan ik hier niet doen.",
        NOT_A_NUMBER: "Dat is geen getal dat ik kan gebruiken.",
        OUT_OF_RANGE: "De waarde moet tussen {low} en {high} liggen.",
        NOTHING_THERE: "Sorry, er is niets dat ik zo kan bedienen in {where}.",
        NO_AREA: "Ik ken geen ruimte met de naam {area}.",
        NO_FLOOR: "Ik ken geen verdieping met de naam {floor}.",
        NO_DEVICE: "Sorry, ik kan geen apparaat vinden met de naam {name}.",
        OR: "of",
    },
}

#: The languages every phrase is written in.
LANGUAGES = tuple(PHRASES)


def base_language(language: str | None) -> str:
    """ "de-CH" and "de_DE" speak "de"."""
    return (language or FALLBACK_LANGUAGE).replace("_", "-").split("-")[0].lower()


class LanguagePatterns:
    """Regular expressions for one kind of wording, per language (English where a language
    has none): words of negation, a remark, an order to unlock, a question's first word."""

    def __init__(self, patterns: dict[str, str]) -> None:
        self._compiled = {code: re.compile(p, re.IGNORECASE) for code, p in patterns.items()}

    def of(self, language: str | None) -> re.Pattern[str]:
        compiled = self._compiled
        return compiled.get(base_language(language), compiled[FALLBACK_LANGUAGE])

    def search(self, text: str, language: str | None) -> bool:
        """Whether the text says it (a typographic apostrophe read as a plain one)."""
        return self.of(language).search(text.replace("’", "'")) is not None


def phrase(key: str, language: str | None = None, **values: Any) -> str:
    """The sentence ``key`` in ``language`` (else English), with its values filled in."""
    table = PHRASES.get(base_language(language), {})
    template = table.get(key) or PHRASES[FALLBACK_LANGUAGE][key]
    return template.format(**values) if values else template
