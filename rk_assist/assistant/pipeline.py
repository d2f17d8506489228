"""One voice turn: from the user's words to speakable chunks.

This is the assistant's only door to the model (through the worker) and the
protocol adapter's only door to the assistant: it knows nothing of Wyoming,
and the Wyoming handler knows nothing of prompts or models.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from .. import defaults
from ..home.call_grammar import answer_constraint, speech_constraint
from ..home.changes import change_asked
from ..home.claims import claims_action
from ..home.clauses import as_described, read_again, requests_in
from ..home.descriptions import settled_by_description
from ..home.facts import unread_number, unread_state
from ..home.grounding import (
    held_to_request,
    sensitive_as_said,
    untargeted_media,
)
from ..home.model import Home, normalize
from ..home.phrases import NOT_CONNECTED, phrase
from ..home.prompt import HOME_TOOLS_JSON, home_prompt, names_an_example
from ..home.readings import lights_on_asked, quantity_asked, target_asked
from ..home.references import with_device
from ..home.request_words import reads_as_other, value_not_said, with_digits
from ..home.resolve import Action, Outcome, Question, resolve_calls
from ..home.responses import heard, in_language
from ..home.sentences import understand
from ..output.calls import ToolCall, parse_tool_calls
from ..output.sanity import SURE_OTHER, SpeechGuard
from ..output.speech import BlockStripper, clean_for_speech
from ..runtimes.base import ChatMessage, GenerationRequest, GenerationStats, OutputConstraint
from ..runtimes.worker import GenerationStream, ModelWorker
from .choices import (
    asking_to_name_it,
    meant_unnamed_sensitive,
    only_describes,
    orders_unnamed_opening,
    read_instead_of_a_guess,
    refused_only_generic,
    settled_without_model,
    unanswered,
    unknown_device,
)
from .chunker import ClauseChunker
from .conversations import ConversationStore
from .prompt import request_note
from .replies import ACKNOWLEDGED, Act, Reply, remembered, reply_for, sentence, words_of

_LOGGER = logging.getLogger(__name__)
#: Carries actions out itself (the "services" mode): the actions, the home -> their results.
Executor = Callable[[list[Action], Home], Awaitable[list[dict]]]
TALK_NOTE = "No device was asked for. Answer the person in a few plain words."


def echoes(said: str, instruction: str, run: int = 4) -> bool:
    """Whether an answer repeats words of an instruction the model was given (4 in a row)."""

    def runs(text: str) -> set[tuple[str, ...]]:
        words = normalize(text).split()
        return {tuple(words[i : i + run]) for i in range(len(words) - run + 1)}

    return bool(runs(said) & runs(instruction))


@dataclass(frozen=True)
class AssistantSettings:
    language: str = "en"
    max_new_tokens: int = defaults.MAX_NEW_TOKENS
    #: Hold answers to speech or well-formed calls where the runtime can (the CPU).
    call_grammar: bool = True
    #: Let the grammar take any device name (the home is checked afterwards)
    #: rather than only the home's names.
    free_names: bool = True
    #: Act directly on requests Home Assistant's own sentences match (the model
    #: answers the rest); off measures the model alone (``rk-assist eval``).
    home_sentences: bool = True


@dataclass(frozen=True)
class TurnResult:
    """How one turn ended: what the turn returns once its chunks have been said."""

    reply: Reply  # words, actions, a question or a refusal
    text: str  # every chunk said, joined
    outcome: Outcome | None  # what the model's calls came to (None: no calls)
    stats: GenerationStats | None  # the model's figures (None: it was not asked)
    first_chunk_s: float | None  # seconds to the first chunk said


#: Where a turn's speakable chunks go as they come (the Wyoming door streams them).
Say = Callable[[str], Awaitable[None]]


async def _say_nothing(_chunk: str) -> None:
    pass


@dataclass(frozen=True)
class TurnParts:
    """What one turn works with, taken from the assistant when it starts."""

    worker: ModelWorker
    settings: AssistantSettings
    conversations: ConversationStore
    clock: Callable[[], datetime]
    home: Home | None  # as it is now; None in chat-only mode
    prompt: tuple[str, str | None]  # the system prompt and tools the model's state holds
    constraint: OutputConstraint | None
    executor: Executor | None


class Turn:
    """One answer: its chunks said through ``say`` as they come; :meth:`run` returns the rest.

    The chunks concatenate to the result's ``text`` exactly: each chunk after
    the first carries the single space that separates it from the previous one.
    """

    def __init__(
        self,
        parts: TurnParts,
        text: str,
        conversation_id: str | None,
        language: str,
        say: Say = _say_nothing,
        here: str | None = None,
    ) -> None:
        self._parts = parts
        self._conversation_id = conversation_id
        area = parts.home.areas.get(here) if parts.home is not None and here else None
        #: The name of the area the request was heard in (its satellite's), if known.
        self._here = area.name if area is not None else None
        self._language = language
        self._say = say
        # Numbers as digits, for the model and for Home Assistant's sentences alike:
        # "auf zweiundzwanzig Grad" is 22 degrees for both.
        self._user_text = with_digits(text, self._language)
        self._chunks: list[str] = []
        self._stats: GenerationStats | None = None
        self._outcome: Outcome | None = None
        self._first_chunk_s: float | None = None
        #: The model's words, held back while an order to open or unlock is settled.
        self._held: list[str] | None = None
        #: What the speech rules held back of the model's words, and why.
        self._dropped: list[tuple[str, str]] = []
        #: ``_unknown_device``'s answer, once read (in a tuple: None is an answer).
        self._unknown: tuple[Outcome | None] | None = None
        #: Home Assistant's sentences read the request as naming a device that several
        #: share ("la luz del techo" in two rooms): the question which one, unless a
        #: reading without the model settles it.
        self._which: Outcome | None = None

    def _result(self) -> TurnResult:
        text = "".join(self._chunks)
        return TurnResult(
            reply_for(text, self._outcome),
            text,
            self._outcome,
            self._stats,
            self._first_chunk_s,
        )

    async def run(self) -> TurnResult:
        parts = self._parts
        note = ChatMessage("system", request_note(parts.clock(), self._language))
        turn = (note, ChatMessage("user", self._user_text))
        settled = await asyncio.to_thread(settled_without_model, self._user_text, self._language)
        if settled is not None:
            # Thanks and remarks ask for nothing: the answer is settled without the model
            # (which greeted people who had thanked it, and acted on what they told it).
            await self._speakable(sentence(settled, self._language), time.perf_counter())
            return self._remember(turn)
        # The prompt describes the home as it was when its state was last prepared;
        # calls are checked against the home as it is now.
        home = parts.home
        text, language, here = self._user_text, self._language, self._here
        if home is not None and (
            # A thermostat's target before Home Assistant's sentences, which read it as
            # the room's temperature; what a sensor measures after them.
            await self._settled_from_home(lambda: target_asked(text, home, language))
            or await self._understood_without_model(home)
            or await self._understood_by_reference(home)
            or await self._understood_read_again(home)
            or await self._understood_described(home)
            or await self._settled_from_home(lambda: change_asked(text, home, language, here))
            or await self._settled_from_home(lambda: quantity_asked(text, home, language))
            or await self._settled_from_home(lambda: lights_on_asked(text, home, language))
        ):
            return self._remember(turn)
        if home is not None and await asyncio.to_thread(
            only_describes, self._user_text, self._language
        ):
            # How something is ("the hallway is pitch black"): nothing to do, and the model
            # turned such remarks into state reads and made-up devices.
            await self._speakable(sentence(ACKNOWLEDGED, self._language), time.perf_counter())
            return self._remember(turn)
        if home is not None and (answer := await self._answer_without_model()) is not None:
            self._outcome = answer
            return self._remember(turn)
        system_prompt, tools = parts.prompt
        request = GenerationRequest(
            system_prompt=system_prompt,
            history=parts.conversations.history(self._conversation_id),
            turn=turn,
            max_new_tokens=parts.settings.max_new_tokens,
            tools_json=tools,
            constraint=parts.constraint,
        )
        stripper = BlockStripper()
        started = time.perf_counter()
        if await asyncio.to_thread(orders_unnamed_opening, self._user_text, self._language, home):
            self._held = []
        generation = parts.worker.generate(request)
        await self._speak(generation, stripper, started)
        self._stats = generation.stats
        calls, problems = parse_tool_calls(stripper.captured)
        for problem in problems:
            _LOGGER.warning("Ignoring an unreadable tool call: %s", problem)
        calls = await self._calls_kept(calls, request, started)
        if calls:
            self._outcome = (
                await asyncio.to_thread(self._outcome_of, calls, home)
                if home is not None
                else Outcome(refusals=[phrase(NOT_CONNECTED, self._language)])
            )
            _LOGGER.info("Tool calls %s -> %s", calls, self._outcome)
        if self._held is not None:
            await self._settle_held(started)
        executor = parts.executor
        if self._outcome and self._outcome.actions and executor is not None and home is not None:
            await self._carry_out(request, calls, executor, home, started)
        if self._stats is not None:
            _LOGGER.info("Turn done: %s", self._stats.summary())
        return self._remember(turn)

    async def _calls_kept(
        self, calls: list[ToolCall], request: GenerationRequest, started: float
    ) -> list[ToolCall]:
        """The model's calls the request asked for; where none is, what is said instead."""
        home = self._parts.home
        if calls and home is not None:
            meant = await self._targets_said(calls)
            calls = await self._calls_asked_for(meant, home)
            if not calls and await asyncio.to_thread(
                meant_unnamed_sensitive, self._user_text, self._language, meant, home
            ):
                self._outcome = await self._unknown_or_name_it()
            elif not calls and request.constraint is not None:
                # Nothing asked for was a device: the model should have talked.
                await self._talk_instead(request, started)
        elif not calls and not (self._chunks or self._held) and home is not None:
            guessed = [clause for reason, clause in self._dropped if reason == "fact not read"]
            read = await asyncio.to_thread(
                read_instead_of_a_guess, self._user_text, self._language, home, guessed
            )
            if read is not None:
                _LOGGER.info("The model guessed a state; reading it instead: %s", read)
                self._outcome = Outcome(actions=[read])
            elif request.constraint is not None:
                # The model ended before a word or a call (seen: "tell me a fun fact"
                # answered with nothing at all): it is asked for words once more.
                await self._talk_instead(request, started)
        return calls

    async def _settle_held(self, started: float) -> None:
        """The words held back for an order to open or unlock: said where calls came to
        something; where they came to nothing, the question to name what to open."""
        held, self._held = self._held or [], None
        outcome = self._outcome
        if outcome is not None and (
            outcome.actions
            or outcome.question
            or not refused_only_generic(outcome, self._parts.home, self._user_text)
        ):
            for raw in held:
                await self._speakable(raw, started)
            return
        _LOGGER.info("An order to open or unlock that names nothing plainly: %s", held)
        self._outcome = await self._unknown_or_name_it()

    async def _answer_without_model(self) -> Outcome | None:
        """The answer Home Assistant's sentences give where nothing could be done: which
        one of the devices sharing the name said (the model can tell no better: it named
        "Techo" for "la luz del techo"), or "no device called ..." for an order for a
        device the home lacks (read by its order sentences, without the model's guesses)."""
        if self._which is not None:
            _LOGGER.info("A name several devices share: %s", self._which.question)
            return self._which
        if not self._sentences_first:
            return None
        unknown = await self._unknown_device()
        if unknown is not None:
            _LOGGER.info("An order naming no device here: %s", unknown.refusals)
        return unknown

    async def _unknown_or_name_it(self) -> Outcome:
        """Where an order to open names a device the home does not have ("the back door"),
        Home Assistant's "no device called"; else the question to name it plainly."""
        return await self._unknown_device() or asking_to_name_it(self._language)

    async def _unknown_device(self) -> Outcome | None:
        """Home Assistant's "no device called ..." for an order naming a device the home
        lacks (``choices.unknown_device``), read once a turn however often it is asked."""
        if self._unknown is None:
            self._unknown = (
                await asyncio.to_thread(
                    unknown_device, self._user_text, self._language, self._parts.home
                ),
            )
        return self._unknown[0]

    @property
    def _sentences_first(self) -> bool:
        """Whether requests the code settles skip the model: Home Assistant's sentences on,
        and Home Assistant (not rk-assist's services mode) carrying actions out."""
        return self._parts.settings.home_sentences and self._parts.executor is None

    def _outcome_of(self, calls: list[ToolCall], home: Home) -> Outcome:
        """What the calls come to, said in the request's language (milliseconds, in a thread)."""
        calls = settled_by_description(calls, self._user_text, home)
        outcome = resolve_calls(calls, home, self._language)
        outcome = sensitive_as_said(outcome, self._user_text, home, self._language)
        return in_language(outcome, self._language)

    def _names(self) -> list[str]:
        home = self._parts.home
        if home is None:
            return []
        return [name for entity in home.entities.values() for name in entity.names]

    def _remember(self, turn: tuple[ChatMessage, ...]) -> TurnResult:
        result = self._result()
        said = remembered(result.reply)
        if said:
            actions = self._outcome.actions if self._outcome else []
            self._parts.conversations.add_turn(
                self._conversation_id,
                (*turn, ChatMessage("assistant", said)),
                [action.entity_id for action in actions if action.entity_id],
            )
        return result

    async def _understood_by_reference(self, home: Home) -> bool:
        """Whether the request refers to the one device of the conversation's last turn
        ("now turn it off") and Home Assistant's sentences settle it with its name in."""
        devices = self._parts.conversations.devices(self._conversation_id)
        entity = home.entities.get(devices[0]) if len(devices) == 1 else None
        if entity is None or entity.sensitive:
            return False  # a lock, a door or a gate is named plainly, every time
        for text in with_device(self._user_text, self._language, entity.name):
            _LOGGER.info("Read as referring to %s: %r", entity.entity_id, text)
            if await self._understood_without_model(home, text, entity.entity_id):
                return True
        return False

    async def _understood_without_model(
        self, home: Home, text: str | None = None, only: str | None = None
    ) -> bool:
        """Whether Home Assistant's own sentences settle the request; sets the outcome.

        Only when they lead to actions, nothing to ask and nothing refused,
        and never to a sensitive device (a lock, a garage door) the request
        does not name itself: anything less goes to the model and its checks.
        ``text``: the request as read (default: as said); ``only``: the one device
        it may act on.
        """
        if not self._sentences_first:
            return False
        started = time.perf_counter()
        text = text or self._user_text
        understood = await asyncio.to_thread(understand, text, self._language, home, self._here)
        if understood is None:
            return False
        if unsaid := value_not_said(understood.slots, text, self._language):
            # Seen: "the bedroom one" read as brightness 1 in the bedroom.
            _LOGGER.info("Home Assistant's sentences read a %s the request did not say", unsaid)
            return False
        call = ToolCall(understood.intent, understood.slots)
        outcome = resolve_calls([call], home, self._language)
        acted_on = [home.entities.get(action.entity_id or "") for action in outcome.actions]
        if (
            not outcome.actions
            or outcome.question
            or outcome.refusals
            or (not understood.named and any(e is not None and e.sensitive for e in acted_on))
            or (only is not None and any(a.entity_id != only for a in outcome.actions))
        ):
            if understood.named and outcome.question_kind == Question.WHICH and only is None:
                self._which = self._which or outcome
            _LOGGER.info("Home Assistant's sentences read %s; left to the model", understood)
            return False
        self._outcome = outcome
        _LOGGER.info(
            "Understood with Home Assistant's sentences in %.0f ms: %s -> %s",
            (time.perf_counter() - started) * 1000,
            understood,
            outcome,
        )
        return True

    async def _understood_read_again(self, home: Home) -> bool:
        """Whether the request, read again as it may have been meant (``clauses.read_again``:
        the last request for the device now named, a name or a verb misheard, without its
        courtesy), is one Home Assistant's sentences settle."""
        previous = self._parts.conversations.last_request(self._conversation_id)
        readings = read_again(self._user_text, self._language, home, previous, self._here)
        while (reading := await asyncio.to_thread(next, readings, None)) is not None:
            how, text = reading
            _LOGGER.info("Read %s: %r", how, text)
            if await self._understood_without_model(home, text):
                return True
        return False

    async def _understood_described(self, home: Home) -> bool:
        """Whether the request names a device by its place and kind ("lock the entry
        lock": the one lock in the Entry) in words Home Assistant's sentences then read
        as naming it (``descriptions``)."""
        readings = as_described(self._user_text, self._language, home)
        while (reading := await asyncio.to_thread(next, readings, None)) is not None:
            described_home, text, entity = reading
            _LOGGER.info("Read as describing %s: %r", entity.entity_id, text)
            if await self._understood_without_model(described_home, text, entity.entity_id):
                return True
        return False

    async def _settled_from_home(self, find: Callable[[], Action | list[Action] | None]) -> bool:
        """Whether ``find`` (milliseconds: in a thread) settles the request from the home
        itself; sets the outcome. A thermostat's target, what a sensor measures, a place's
        lights: a state read Home Assistant renders with the live value (a small model made
        these numbers up). A change said by how much ("a little brighter", "halfway"):
        stepped from the device's state."""
        if not self._sentences_first:
            return False
        found = await asyncio.to_thread(find)
        actions = found if isinstance(found, list) else [found] if found is not None else []
        if not actions:
            return False
        self._outcome = Outcome(actions=actions)
        _LOGGER.info("Settled from the home's own state: %s", actions)
        return True

    async def _targets_said(self, calls: list[ToolCall]) -> list[ToolCall]:
        return await asyncio.to_thread(untargeted_media, calls, self._user_text, self._language)

    async def _calls_asked_for(self, calls: list[ToolCall], home: Home) -> list[ToolCall]:
        """The calls held to the request's words: Home Assistant's sentences read them
        (milliseconds, more for a language's first request), so off the event loop."""
        return await asyncio.to_thread(
            held_to_request, calls, self._user_text, home, self._language
        )

    def _guard(self, acted: bool = False) -> SpeechGuard:
        """What holds the model's words to sense: the request, its language, the home's names.

        ``acted``: the words answer actions that were carried out (the services mode).
        """
        names, home, request = self._names(), self._parts.home, self._user_text
        language = self._language

        def other(text: str) -> str:
            return reads_as_other(text, language, names, SURE_OTHER)

        if home is None:
            return SpeechGuard(request, other)
        # The model's words never confirm an action: Home Assistant's sentence does, for
        # the actions that happened (under the call grammar an answer is words or calls).
        return SpeechGuard(
            request,
            other,
            lambda clause: (
                unread_number(clause, request, home, language)
                or (not acted and unread_state(clause, home, language))
            ),
            None if acted else lambda clause: claims_action(clause, language),
            lambda clause: names_an_example(clause, home),
        )

    async def _talk_instead(self, request: GenerationRequest, started: float) -> None:
        words_only = replace(
            request,
            turn=(*request.turn, ChatMessage("system", TALK_NOTE)),
            constraint=speech_constraint(),
        )
        # Held back whole (a sentence or two): a small model sometimes reads this very
        # instruction back, which must never be spoken (seen with a real Home Assistant).
        generation = self._parts.worker.generate(words_only)
        stripper = BlockStripper()
        guard = self._guard()
        try:
            said = ""
            async for piece in generation:
                said += guard.feed(stripper.feed(piece))
                if guard.stopped or guard.enough:
                    break
            said += guard.feed(stripper.finish()) + guard.finish()
        finally:
            await generation.aclose()
        guard.log_held_back(_LOGGER)
        if (
            not said.strip()
            or echoes(said, TALK_NOTE)
            or reads_as_other(said, self._language, self._names())
        ):
            unknown = await self._unknown_device()
            if unknown is not None:
                # An order for a device the home lacks: said so, as Home Assistant does.
                _LOGGER.info("No words for an order naming no device here: %s", unknown)
                self._outcome = unknown
                return
        if not said.strip():
            said = await asyncio.to_thread(unanswered, self._user_text, self._language)
        elif echoes(said, TALK_NOTE):
            _LOGGER.info("Not speaking the model's echo of its instruction: %r", said)
            said = await asyncio.to_thread(unanswered, self._user_text, self._language)
        elif other := reads_as_other(said, self._language, self._names()):
            # Seen: a French request answered '"turn on the ventilation"'.
            _LOGGER.info(
                "Not speaking an answer in %s to a %s request: %r", other, self._language, said
            )
            said = await asyncio.to_thread(unanswered, self._user_text, self._language)
        await self._speakable(said, started)

    async def _carry_out(
        self,
        request: GenerationRequest,
        calls: list[ToolCall],
        executor: Executor,
        home: Home,
        started: float,
    ) -> None:
        """The services mode: act, then let the model say how it went."""
        assert self._outcome is not None
        results = await executor(self._outcome.actions, home)
        self._outcome.executed = True
        # The model reads back its calls in the form its prompt asks for: one JSON object a line.
        calls_text = "\n".join(
            json.dumps({"name": c.name, "arguments": c.arguments}, ensure_ascii=False)
            for c in calls
        )
        follow_up = GenerationRequest(
            system_prompt=request.system_prompt,
            history=request.history,
            turn=(*request.turn, ChatMessage("assistant", calls_text)),
            max_new_tokens=request.max_new_tokens,
            tools_json=request.tools_json,
            tool_results_json=json.dumps(results, ensure_ascii=False),
        )
        generation = self._parts.worker.generate(follow_up)
        await self._speak(generation, BlockStripper(), started, acted=True)
        if not self._chunks:  # the model said nothing: still confirm
            ok = all(result.get("success") for result in results)
            await self._speakable("Done." if ok else "Sorry, that did not work.", started)

    async def _speak(
        self,
        generation: GenerationStream,
        stripper: BlockStripper,
        started: float,
        acted: bool = False,
    ) -> None:
        """Say the speakable chunks of one generation; hidden blocks are left in ``stripper``.

        A loop or another language ends the generation there (``SpeechGuard``).
        """
        chunker = ClauseChunker()
        guard = self._guard(acted)
        try:
            async for piece in generation:
                for raw in chunker.feed(guard.feed(stripper.feed(piece))):
                    await self._speakable(raw, started)
                if guard.stopped or guard.enough:
                    break
            rest = guard.feed(stripper.finish()) + guard.finish()
            for raw in chunker.feed(rest) + chunker.finish():
                await self._speakable(raw, started)
        finally:
            await generation.aclose()
        guard.log_held_back(_LOGGER)
        self._dropped += guard.dropped

    async def _speakable(self, raw: str, started: float) -> None:
        if self._held is not None:  # an order to open or unlock: said once it is settled
            self._held.append(raw)
            return
        cleaned = clean_for_speech(raw, self._language)
        if not cleaned:
            return
        if self._chunks:
            cleaned = " " + cleaned
        else:
            self._first_chunk_s = time.perf_counter() - started
        self._chunks.append(cleaned)
        await self._say(cleaned)


class Assistant:
    def __init__(
        self,
        worker: ModelWorker,
        system_prompt: str,
        conversations: ConversationStore,
        settings: AssistantSettings,
        clock: Callable[[], datetime] = datetime.now,
        home: Callable[[], Home | None] | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.worker = worker
        self.system_prompt = system_prompt
        self.conversations = conversations
        self.settings = settings
        self.clock = clock
        self._home = home
        #: Carries actions out itself (the "services" mode); None: Home Assistant does.
        self.executor = executor
        self._prompt_memo: tuple[Home, tuple[str, str | None]] | None = None
        self._constraint_memo: tuple[Home, OutputConstraint] | None = None
        #: The home the model's prompt describes; set when its state is prepared.
        self.prompt_home: Home | None = self.current_home()
        #: Clear while the service prepares the prompt state of a changed home.
        self._prompt_settled = asyncio.Event()
        self._prompt_settled.set()

    def answer_up_to(self, max_new_tokens: int) -> None:
        """Answers are at most this long from now on (another model has other limits)."""
        self.settings = replace(self.settings, max_new_tokens=max_new_tokens)

    def prompt_prepared_for(self, home: Home | None) -> None:
        """The model's prompt state now describes ``home``: requests use its prompt."""
        self.prompt_home = home

    def preparing_prompt(self, preparing: bool) -> None:
        """The service starts (True) or ends (False) preparing a changed home's prompt."""
        if preparing:
            self._prompt_settled.clear()
        else:
            self._prompt_settled.set()

    async def wait_for_home_prompt(self) -> None:
        """Wait while the first home read is still being prepared.

        Until then the prompt has no devices and no tools: a device command
        answered from it would be talk that claims an action nobody took
        (seen with a real Home Assistant: "The kitchen lights are turned on.").
        The model is busy preparing that state anyway, so waiting costs nothing.
        A home that only changed keeps its older prompt meanwhile.
        """
        home = self.current_home()
        if not self.home_ready and home is not None and home.entities:
            await self._prompt_settled.wait()

    @property
    def home_ready(self) -> bool:
        """Whether the model's prompt describes a home it can control."""
        return self.prompt_home is not None and bool(self.prompt_home.entities)

    def current_home(self) -> Home | None:
        """The home as it is now; None in chat-only mode."""
        return self._home() if self._home is not None else None

    def prompt_and_tools(self, home: Home | None = None) -> tuple[str, str | None]:
        """The system prompt and tools for ``home`` (default: the prompt's home)."""
        home = home if home is not None else self.prompt_home
        if home is None or not home.entities:
            return self.system_prompt, None
        # Every request asks; the answer changes only with the home object.
        if self._prompt_memo is None or self._prompt_memo[0] is not home:
            self._prompt_memo = (home, (home_prompt(self.system_prompt, home), HOME_TOOLS_JSON))
        return self._prompt_memo[1]

    def constraint(self) -> OutputConstraint | None:
        """The call grammar for the prompt's home, when tools are offered and it is on."""
        home = self.prompt_home
        if not self.settings.call_grammar or home is None or not home.entities:
            return None
        if self._constraint_memo is None or self._constraint_memo[0] is not home:
            self._constraint_memo = (
                home,
                answer_constraint(home, free_names=self.settings.free_names),
            )
        return self._constraint_memo[1]

    async def answer(
        self,
        text: str,
        conversation_id: str | None = None,
        language: str | None = None,
        say: Say = _say_nothing,
        here: str | None = None,
    ) -> TurnResult:
        """Answer one request: its chunks through ``say`` as they come, then how it ended.

        ``here``: the area id the request was heard in (its satellite's), for a request
        that names a kind of device but no place. Cancelling it (a client that leaves)
        stops the model at once.
        """
        await self.wait_for_home_prompt()
        language = language or self.settings.language
        parts = TurnParts(
            worker=self.worker,
            settings=self.settings,
            conversations=self.conversations,
            clock=self.clock,
            home=self.current_home(),
            prompt=self.prompt_and_tools(),
            constraint=self.constraint(),
            executor=self.executor,
        )
        home = parts.home
        if home is not None and self.settings.home_sentences and self.executor is None:
            area = home.areas.get(here or "")
            clauses = await asyncio.to_thread(
                requests_in, text, language, home, area.name if area else None
            )
            if clauses:
                _LOGGER.info("Several requests in one: %s", clauses)
                return await _each_answered(parts, clauses, conversation_id, language, say, here)
        return await Turn(parts, text, conversation_id, language, say, here).run()


def one_after_another(parts: list[str]) -> str:
    """Sentences said one after another, each ended ("Turned on the light. Paused.")."""
    ended = [p.strip() if p.strip()[-1:] in ".!?" else p.strip() + "." for p in parts if p.strip()]
    return " ".join(ended)


async def _each_answered(
    parts: TurnParts,
    clauses: list[str],
    conversation_id: str | None,
    language: str,
    say: Say,
    here: str | None,
) -> TurnResult:
    """Each of several requests said as one answered as a request of its own, in turn,
    and their replies as one: what was done and what was not."""
    said_before = False

    async def say_after(chunk: str) -> None:
        nonlocal said_before
        if said_before and not chunk.startswith(" "):
            chunk = " " + chunk
        said_before = True
        await say(chunk)

    results = []
    for clause in clauses:
        started = said_before
        result = await Turn(parts, clause, conversation_id, language, say_after, here).run()
        if started and result.text and not result.text.startswith(" "):
            result = replace(result, text=" " + result.text)
        results.append(result)
    text = "".join(result.text for result in results)
    outcomes = [result.outcome for result in results if result.outcome is not None]
    outcome = None
    if outcomes:
        asked = next((o for o in outcomes if o.question), None)
        outcome = Outcome(
            actions=[a for o in outcomes for a in o.actions],
            question=asked.question if asked else None,
            question_kind=asked.question_kind if asked else None,
            refusals=[r for o in outcomes for r in o.refusals],
            reasons=[r for o in outcomes for r in o.reasons],
            errors=[e for o in outcomes for e in o.errors],
        )
    reply = reply_for(text, outcome)
    if isinstance(reply, Act):
        # Each request confirmed or declined in its own words, in turn, rendered here with
        # its own devices (Home Assistant renders one text, with the first device only).
        worded = [
            heard(
                words_of(result.reply, language, parts.home),
                result.outcome.actions if result.outcome else [],
                parts.home,
            )
            for result in results
        ]
        reply = Act(reply.actions, text, confirmed=one_after_another(worded))
    return TurnResult(
        reply,
        text,
        outcome,
        next((r.stats for r in reversed(results) if r.stats is not None), None),
        next((r.first_chunk_s for r in results if r.first_chunk_s is not None), None),
    )
