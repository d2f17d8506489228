"""Sampling under a llama.cpp grammar without paying for it on every token.

Masking a 150,000-token vocabulary against a grammar costs more than the
forward pass of a 0.5B model on a small CPU (measured here: 7 tokens/s with
the mask on every step, 24 without). llama.cpp's own samplers avoid that by
sampling first and checking only the chosen token; the whole vocabulary is
masked only when the grammar refuses it. This module does the same through
llama.cpp's C API: the grammar stays authoritative, it is just asked less.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import llama_cpp
import numpy as np

from ..errors import RuntimeFailure
from .base import OutputConstraint, Sampling, TextFollower, TextSink

_LOGGER = logging.getLogger(__name__)

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])
assert _TOKEN_DATA.itemsize == ctypes.sizeof(llama_cpp.llama_token_data)


class GrammarGuard:
    """A llama.cpp grammar sampler used as a judge: check one token, or mask all."""

    def __init__(self, vocab: llama_cpp.llama_vocab_p, gbnf: str) -> None:
        self._sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
        if not self._sampler:
            raise RuntimeFailure("llama.cpp could not parse the call grammar")

    def allows(self, token: int) -> bool:
        data = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, 0.0, 0.0))
        candidates = llama_cpp.llama_token_data_array(data, 1, -1, False)
        llama_cpp.llama_sampler_apply(self._sampler, ctypes.byref(candidates))
        return not math.isinf(data[0].logit)

    def mask(self, logits: np.ndarray) -> np.ndarray:
        """The logits with every token the grammar refuses set to minus infinity."""
        table = np.empty(len(logits), dtype=_TOKEN_DATA)
        table["id"] = np.arange(len(logits), dtype=np.int32)
        table["logit"] = logits
        table["p"] = 0.0
        candidates = llama_cpp.llama_token_data_array(
            table.ctypes.data_as(llama_cpp.llama_token_data_p), len(table), -1, False
        )
        llama_cpp.llama_sampler_apply(self._sampler, ctypes.byref(candidates))
        return table["logit"].copy()

    def accept(self, token: int) -> None:
        llama_cpp.llama_sampler_accept(self._sampler, token)

    def close(self) -> None:
        if self._sampler:
            llama_cpp.llama_sampler_free(self._sampler)
            self._sampler = None


class TokenPicker:
    """Greedy at temperature 0; otherwise top-k, then top-p, then a seeded draw."""

    def __init__(self, temperature: float, top_k: int, top_p: float, seed: int) -> None:
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self._random = np.random.default_rng(seed)

    def pick(self, logits: np.ndarray) -> int:
        if self.temperature <= 0:
            return int(np.argmax(logits))
        finite = np.isfinite(logits)
        order = np.argsort(np.where(finite, -logits, np.inf))
        if self.top_k > 0:
            order = order[: self.top_k]
        order = order[finite[order]]
        scaled = logits[order] / self.temperature
        weights = np.exp(scaled - scaled.max())
        weights /= weights.sum()
        # At top_p 1 the running sum may never reach it (rounding): keep every candidate.
        keep = min(int(np.searchsorted(np.cumsum(weights), self.top_p) + 1), len(weights))
        weights = weights[:keep] / weights[:keep].sum()
        return int(order[self._random.choice(keep, p=weights)])


class CallsGreedy:
    """Speech sampled at the chat's temperature; a call, and the choice to call, greedy.

    A temperature suits words, never actions: whether the answer is a call
    at all is the most likely first token's choice, and every token of a
    call is the most likely one, whatever the client asked for.
    """

    def __init__(self, sampler: TokenPicker, detokenize: Callable[[int], bytes]) -> None:
        self._sampler = sampler
        self._greedy = TokenPicker(0.0, sampler.top_k, sampler.top_p, 0)
        self._detokenize = detokenize
        self._written = ""
        self.in_call = False

    def pick(self, logits: np.ndarray) -> int:
        if self.in_call:
            return self._greedy.pick(logits)
        if not self._written.strip():
            first = self._greedy.pick(logits)
            if _starts_call(self._detokenize(first)):
                self.in_call = True
                return first
        return self._sampler.pick(logits)

    def pick_again(self, masked: np.ndarray) -> int:
        """A pick among what the grammar allows, after the first was refused."""
        return (self._greedy if self.in_call else self._sampler).pick(masked)

    def wrote(self, text: str) -> None:
        self._written += text
        self.in_call = self.in_call or _starts_call(self._written.encode("utf-8"))


def _starts_call(text: bytes) -> bool:
    """Whether an answer that begins so is a call (JSON or a tag), not speech."""
    return text.lstrip()[:1] in (b"{", b"[", b"<")


class ConstrainedModel(Protocol):
    """A model driven one step at a time: the logits after what it was last fed."""

    def logits(self) -> np.ndarray: ...

    def feed(self, tokens: list[int]) -> None: ...

    def tokenize(self, text: str) -> list[int]: ...

    def detokenize(self, token: int) -> bytes: ...


@dataclass
class ConstrainedCounts:
    """What one constrained answer took: the figures a board's time is predicted from."""

    sampled: int = 0  # tokens the model chose
    forced: int = 0  # tokens the grammar determined, fed with the chosen one, never chosen
    refused: int = 0  # choices the grammar refused (the whole vocabulary masked then)
    feeds: int = 0  # batches fed back to the model after its prompt
    stop_reason: str = "aborted"


def decode_constrained(
    vocab: llama_cpp.llama_vocab_p,
    constraint: OutputConstraint,
    sampling: Sampling,
    model: ConstrainedModel,
    emit: TextSink,
    stop: threading.Event,
    max_new: int,
) -> ConstrainedCounts:
    """Sample under the grammar; append determined text without sampling.

    Each token is sampled freely and checked against the grammar; only a
    refused one makes the grammar mask the whole vocabulary. Text the
    language determines (the rest of a tool name, ``", "arguments": {"``,
    closing braces) is tokenized together with the sampled token's text, so
    the model reads its call in the tokens it would have written, and fed in
    one batch: one forward pass (one ``rkllm_run`` on the NPU) instead of one
    a token.
    """
    guard = GrammarGuard(vocab, constraint.gbnf)
    picker = CallsGreedy(
        TokenPicker(
            _given(sampling.temperature),
            _given(sampling.top_k),
            _given(sampling.top_p),
            _given(sampling.seed),
        ),
        model.detokenize,
    )
    follower: TextFollower | None = constraint.follower()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    counts = ConstrainedCounts()
    try:
        while not stop.is_set():
            logits = model.logits()
            token = picker.pick(logits)
            if not guard.allows(token):
                counts.refused += 1
                token = picker.pick_again(guard.mask(logits))
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                counts.stop_reason = "end"
                break
            counts.sampled += 1
            piece = model.detokenize(token)
            text = decoder.decode(piece)
            forced = ""
            if follower is not None and text:
                if follower.feed(text):
                    forced = follower.forced()
                else:
                    _LOGGER.warning("The call follower lost the grammar at %r", text)
                    follower = None
            batch = [token]
            if forced:
                whole = text.encode("utf-8") == piece
                joined = (text if whole else "") + forced
                batch = ([] if whole else [token]) + model.tokenize(joined)
                counts.forced += len(batch) - 1
            for accepted in batch:
                guard.accept(accepted)
            if text or forced:
                emit(text + forced)
                picker.wrote(text + forced)
            if counts.sampled + counts.forced >= max_new:
                counts.stop_reason = "length"
                break
            model.feed(batch)
            counts.feeds += 1
    finally:
        guard.close()
    tail = decoder.decode(b"", final=True)
    if tail and counts.stop_reason != "aborted":
        emit(tail)
    return counts


def _given(value):
    """A sampling value the runtime has filled in (``Sampling``'s None means "the default")."""
    if value is None:
        raise RuntimeFailure("constrained decoding needs every sampling value")
    return value


def last_logits(ctx: llama_cpp.llama_context_p, n_vocab: int) -> np.ndarray:
    """The logits of the last evaluated token, copied (the buffer is reused by the next decode)."""
    pointer = llama_cpp.llama_get_logits_ith(ctx, -1)
    return np.ctypeslib.as_array(pointer, shape=(n_vocab,)).copy()
