"""The shape of an answer when tools are offered, for constrained decoding.

An answer is either speech (which never starts with ``{``, ``[`` or ``<``)
or one or more calls, one JSON object a line::

    {"name": "HassTurnOn", "arguments": {"name": "Kitchen Light"}}

with a tool name that was offered, only that tool's slots in a fixed order,
numbers where numbers belong, and device, area and floor names taken from
the home. One pattern describes that language; it is written out twice:

* as GBNF for llama.cpp's grammar sampler, which masks every token that
  would leave the language (so a call is always well formed), and
* as a small character automaton in Python, which tells when the rest of a
  call is determined (a tool name past its unique prefix, ``", "arguments":
  {"``, closing braces), so that text is appended without sampling: a small
  CPU spends its time on the choices, not on punctuation.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..runtimes.base import OutputConstraint
from .intents import INTEGER, NUMBER, PERCENT, STEP, TEXT, available_intents, targets_for
from .model import Home

# -- patterns -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Lit:
    text: str


@dataclass(frozen=True)
class Chars:
    """One character of a class: ``gbnf`` is the class as GBNF writes it."""

    gbnf: str
    test: Callable[[str], bool]


@dataclass(frozen=True)
class Seq:
    parts: tuple[Pattern, ...]


@dataclass(frozen=True)
class Alt:
    options: tuple[Pattern, ...]


@dataclass(frozen=True)
class Repeat:
    """``min``..``max`` repetitions (``max`` None: unbounded)."""

    body: Pattern
    min: int = 0
    max: int | None = None


@dataclass(frozen=True)
class Ref:
    """A named rule, written once in the GBNF however often it is used."""

    name: str
    body: Pattern


Pattern = Lit | Chars | Seq | Alt | Repeat | Ref


def seq(*parts: Pattern) -> Pattern:
    return parts[0] if len(parts) == 1 else Seq(parts)


def alt(options: Iterable[Pattern]) -> Pattern:
    options = tuple(options)
    return options[0] if len(options) == 1 else Alt(options)


DIGIT = Chars("[0-9]", str.isdigit)
_STRING_CHAR = Chars('[^"\\\\\\x00-\\x1f]', lambda c: c not in '"\\' and ord(c) >= 0x20)


def _json_text(value: str) -> Lit:
    """A string as JSON writes it, quotes included."""
    return Lit(json.dumps(value, ensure_ascii=False))


def choice_of(rule: str, values: Iterable[str]) -> Pattern:
    names = sorted(set(values), key=lambda v: (v.lower(), v))
    return Ref(rule, alt(_json_text(v) for v in names))


FREE_TEXT = Ref("text", seq(Lit('"'), Repeat(_STRING_CHAR, 1, 60), Lit('"')))
INTEGER_VALUE = Ref("int", seq(Repeat(Lit("-"), 0, 1), Repeat(DIGIT, 1, 4)))
PERCENT_VALUE = Ref("pct", Repeat(DIGIT, 1, 3))
NUMBER_VALUE = Ref(
    "num", seq(Repeat(Lit("-"), 0, 1), Repeat(DIGIT, 1, 4), Repeat(seq(Lit("."), DIGIT), 0, 1))
)
STEP_VALUE = Ref("step", alt((Lit('"up"'), Lit('"down"'), INTEGER_VALUE)))
_VALUE_OF_KIND = {
    PERCENT: PERCENT_VALUE,
    NUMBER: NUMBER_VALUE,
    INTEGER: INTEGER_VALUE,
    TEXT: FREE_TEXT,
    STEP: STEP_VALUE,
}


def _slot_lists(slots: list[tuple[str, Pattern]], required: set[str]) -> Pattern | None:
    """Non-empty comma-separated lists of the slots in their order, holding every required one.

    None where there is no slot to write.
    """
    if not slots:
        return None
    (name, value), rest = slots[0], slots[1:]
    this = seq(_json_text(name), Lit(": "), value)
    tail = _slot_lists(rest, required)
    if tail is None:
        with_this = this
    elif required & {n for n, _ in rest}:
        with_this = seq(this, Lit(", "), tail)
    else:
        with_this = alt((seq(this, Lit(", "), tail), this))
    if name in required or tail is None:
        return with_this
    return alt((with_this, tail))


def call_pattern(home: Home, free_names: bool = True) -> Pattern:
    """The calls this home's tools allow, one JSON object a line.

    ``free_names`` lets the name slot hold any text (checked against the home
    afterwards) instead of one of the home's names.
    """
    entity_names = {e.domain: set() for e in home.entities.values()}
    for entity in home.entities.values():
        entity_names[entity.domain].update(entity.names)
    areas = choice_of("area", (n for a in home.areas.values() for n in (a.name, *a.aliases)))
    floors = choice_of("floor", (n for f in home.floors.values() for n in (f.name, *f.aliases)))
    calls = []
    for spec in available_intents(home):
        domains = sorted(entity_names if spec.domains is None else spec.domains & set(entity_names))
        targets: list[tuple[str, Pattern]] = []
        for slot in targets_for(spec, home):
            if slot == "name":
                names = {n for d in domains for n in entity_names[d]}
                rule = "name-" + "-".join(d.replace("_", "") for d in domains)
                if spec.domains is None or len(domains) == len(entity_names):
                    rule = "name"
                value = FREE_TEXT if free_names else choice_of(rule, names)
            elif slot == "area":
                value = areas
            elif slot == "floor":
                value = floors
            else:
                value = choice_of("domain-" + spec.name.lower(), domains)
            targets.append((slot, value))
        slots = targets + [(slot, _VALUE_OF_KIND[kind]) for slot, kind in spec.slots.items()]
        arguments = _slot_lists(slots, set(spec.required))
        head = Lit(f'{{"name": "{spec.name}", "arguments": {{')
        # An intent with slots gets at least one: "{}" would only lead to a question back.
        calls.append(seq(head, Lit("}}")) if arguments is None else seq(head, arguments, Lit("}}")))
    call = Ref("call", alt(calls))
    return seq(call, Repeat(seq(Lit("\n"), call), 0, 3))


SPEECH_START = Chars("[^{}<>\\[\\]`\\x00-\\x1f]", lambda c: c not in "{}<>[]`" and ord(c) >= 0x20)
SPEECH_CHAR = Chars("[^{}<>`]", lambda c: c not in "{}<>`")


SPEECH = seq(SPEECH_START, Repeat(SPEECH_CHAR))


def answer_pattern(home: Home, free_names: bool = True) -> Pattern:
    """An answer: calls, or speech."""
    return Alt((call_pattern(home, free_names), SPEECH))


def constraint_of(pattern: Pattern) -> OutputConstraint:
    """The pattern as GBNF, and followers sharing one automaton (built once here)."""
    return OutputConstraint(gbnf=to_gbnf(pattern), follower=CallMatcher(pattern).fresh)


@functools.cache
def speech_constraint() -> OutputConstraint:
    """Words only: for a turn whose calls named nothing the person asked for."""
    return constraint_of(SPEECH)


def answer_constraint(home: Home, free_names: bool = True) -> OutputConstraint:
    return constraint_of(answer_pattern(home, free_names))


# -- GBNF -----------------------------------------------------------------------------------


def _gbnf_literal(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def to_gbnf(root: Pattern) -> str:
    rules: dict[str, str] = {}

    def expr(node: Pattern) -> str:
        if isinstance(node, Lit):
            return _gbnf_literal(node.text)
        if isinstance(node, Chars):
            return node.gbnf
        if isinstance(node, Seq):
            return " ".join(_group(expr(part), part) for part in node.parts)
        if isinstance(node, Alt):
            return "(" + " | ".join(expr(option) for option in node.options) + ")"
        if isinstance(node, Repeat):
            inner = _group(expr(node.body), node.body)
            if node.max is None:
                return f"{inner}{{{node.min},}}" if node.min > 1 else inner + "*+"[node.min]
            if (node.min, node.max) == (0, 1):
                return f"{inner}?"
            return f"{inner}{{{node.min},{node.max}}}"
        if isinstance(node, Ref):
            if node.name not in rules:
                rules[node.name] = ""  # reserve: a rule is written once
                rules[node.name] = expr(node.body)
            return node.name
        raise TypeError(f"not a pattern: {node!r}")

    top = expr(root)
    lines = [f"root ::= {top}"] + [f"{name} ::= {body}" for name, body in rules.items()]
    return "\n".join(lines) + "\n"


def _group(text: str, node: Pattern) -> str:
    return f"({text})" if isinstance(node, Seq) else text


# -- the automaton --------------------------------------------------------------------------


class _State:
    __slots__ = ("calls", "edges", "empty", "returns")

    def __init__(self) -> None:
        self.edges: list[tuple[str | Chars, _State]] = []  # a character or a class
        self.empty: list[_State] = []  # moves that read nothing
        # A named rule entered here: (its start, where to go on once it is read).
        self.calls: list[tuple[_State, _State]] = []
        self.returns = False  # the end of a named rule: back to where it was entered


#: Where the automaton is: a state, and the states to go on at once each named rule
#: entered on the way is read (innermost last).
_Place = tuple[_State, tuple[_State, ...]]


def _build(node: Pattern, start: _State, rules: dict[str, _State]) -> _State:
    """Thompson's construction: the state reached after ``node`` from ``start``. A named
    rule (``Ref``) is built once and entered from every place that uses it, as GBNF
    writes it once: Home Assistant's 23 tools, each naming any of a home's devices, up
    to four calls an answer, took 150 MB and 4 s to build as copies."""
    if isinstance(node, Lit):
        state = start
        for char in node.text:
            following = _State()
            state.edges.append((char, following))
            state = following
        return state
    if isinstance(node, Chars):
        end = _State()
        start.edges.append((node, end))
        return end
    if isinstance(node, Seq):
        state = start
        for part in node.parts:
            state = _build(part, state, rules)
        return state
    if isinstance(node, Alt):
        end = _State()
        for option in node.options:
            entry = _State()
            start.empty.append(entry)
            _build(option, entry, rules).empty.append(end)
        return end
    if isinstance(node, Repeat):
        return _build_repeat(node, start, rules)
    if isinstance(node, Ref):
        entry = rules.get(node.name)
        if entry is None:
            entry = rules[node.name] = _State()
            _build(node.body, entry, rules).returns = True
        end = _State()
        start.calls.append((entry, end))
        return end
    raise TypeError(f"not a pattern: {node!r}")


def _build_repeat(node: Repeat, start: _State, rules: dict[str, _State]) -> _State:
    """``min`` copies of the body, then up to ``max - min`` optional ones (or a loop)."""
    state = start
    for _ in range(node.min):
        state = _build(node.body, state, rules)
    end = _State()
    state.empty.append(end)
    if node.max is None:
        loop = _State()
        state.empty.append(loop)
        _build(node.body, loop, rules).empty.extend((loop, end))
    else:
        for _ in range(node.max - node.min):
            state = _build(node.body, state, rules)
            state.empty.append(end)
    return end


def _closure(places: Iterable[_Place]) -> frozenset[_Place]:
    seen: set[_Place] = set()
    stack = list(places)
    while stack:
        place = stack.pop()
        if place in seen:
            continue
        seen.add(place)
        state, returns = place
        stack.extend((following, returns) for following in state.empty)
        stack.extend((entry, (*returns, back)) for entry, back in state.calls)
        if state.returns and returns:
            stack.append((returns[-1], returns[:-1]))
    return frozenset(seen)


class CallMatcher:
    """Follows a call as it is written, and says what must come next."""

    def __init__(self, pattern: Pattern) -> None:
        self._start = _State()
        self._accept = _build(pattern, self._start, {})
        self._states = _closure([(self._start, ())])

    def fresh(self) -> CallMatcher:
        """A matcher at the start, sharing this one's automaton (built once per home)."""
        twin = object.__new__(CallMatcher)
        twin._start, twin._accept = self._start, self._accept
        twin._states = _closure([(self._start, ())])
        return twin

    @property
    def alive(self) -> bool:
        return bool(self._states)

    @property
    def complete(self) -> bool:
        return (self._accept, ()) in self._states

    def feed(self, text: str) -> bool:
        """Advance over ``text``; False once it has left the language."""
        for char in text:
            self._states = self._step(self._states, char)
            if not self._states:
                return False
        return True

    def forced(self) -> str:
        """The text that must follow, up to the next real choice (and consumed).

        A run that would end inside a word the next choice continues ("O"
        before "n" or "ff") stops at that word's start instead: the model
        then writes the word in its own tokens, which it reads far better
        than a word split where no tokenizer would split it.
        """
        states = self._states
        out: list[str] = []
        while states and (self._accept, ()) not in states:
            labels = {label for state, _ in states for label, _ in state.edges}
            if len(labels) != 1:
                break
            (label,) = labels
            if not isinstance(label, str):
                break
            out.append(label)
            states = self._step(states, label)
        text = "".join(out)
        if text and _is_word(text[-1]) and self._continues_word(states):
            while text and _is_word(text[-1]):
                text = text[:-1]
        self.feed(text)
        return text

    def _continues_word(self, states: frozenset[_Place]) -> bool:
        return any(
            _is_word(label) if isinstance(label, str) else label.test("a") or label.test("0")
            for state, _ in states
            for label, _ in state.edges
        )

    @staticmethod
    def _step(states: frozenset[_Place], char: str) -> frozenset[_Place]:
        return _closure(
            (target, returns)
            for state, returns in states
            for label, target in state.edges
            if (label == char if isinstance(label, str) else label.test(char))
        )


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"
