"""What a device command would take on an RK3588, predicted from Rockchip's published figures.

No board is at hand, so the eval on the emulated runtime counts what the NPU
would be asked to do (tokens prefilled, ``rkllm_run`` calls, tokens fed and
chosen) and prices it with the official benchmark (128 tokens in, 64 out,
clocks fixed). Each run costs its tokens: a prompt at the prefill rate, a
step of the grammar-held loop at least one decoding step (a few tokens fed
together are no faster than one on a memory-bound NPU) and otherwise the
prefill rate. What a call costs beyond its tokens (the call itself, the
callback's thread, copying 152k logits out) no board here can measure: it is
an assumption, printed apart so a board owner can put the measured one in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BoardFigures:
    model: str  # as Rockchip's table names it
    marker: str  # how a file of that size of model is recognised ("0.5b")
    ttft_ms_128: float  # time to first token for 128 tokens in
    tokens_per_s: float  # decoding speed

    @property
    def prefill_ms_per_token(self) -> float:
        return self.ttft_ms_128 / 128

    @property
    def decode_ms(self) -> float:
        return 1000 / self.tokens_per_s

    def describe(self) -> str:
        return (
            f"{self.model} on RK3588: {self.ttft_ms_128:g} ms to first token for 128 tokens, "
            f"{self.tokens_per_s:g} tokens/s"
        )


#: The figures issue 22 gives (Rockchip's benchmark tables, w8a8).
PUBLISHED = (
    BoardFigures("Qwen2.5-1.5B w8a8", "1.5b", 378.0, 16.7),
    BoardFigures("Qwen2-0.5B w8a8", "0.5b", 146.0, 41.6),
)
#: Assumed, not measured: what one rkllm_run costs beyond its tokens.
RUN_OVERHEAD_MS = 5.0


def figures_for(model: Path | str) -> BoardFigures | None:
    """The published figures for a model of this size, recognised by its path."""
    name = str(model).lower()
    return next((f for f in PUBLISHED if f.marker in name), None)


@dataclass(frozen=True)
class Prediction:
    tokens_ms: float  # what the published figures price the tokens at
    overhead_ms: float  # the assumed per-run cost

    @property
    def total_ms(self) -> float:
        return self.tokens_ms + self.overhead_ms


def predict(
    figures: BoardFigures, prefilled: int, generated: int, runs: int, fed: int
) -> Prediction:
    """One turn's time. ``runs`` 1: the runtime prefilled and generated on its own; more:
    the prompt's run, then one a step of the grammar-held loop with ``fed`` tokens in all."""
    prompt_ms = prefilled * figures.prefill_ms_per_token
    if runs <= 1:
        tokens_ms = prompt_ms + generated * figures.decode_ms
    else:
        per_step = fed / (runs - 1)
        step_ms = max(figures.decode_ms, per_step * figures.prefill_ms_per_token)
        tokens_ms = prompt_ms + (runs - 1) * step_ms
    return Prediction(tokens_ms, max(runs, 1) * RUN_OVERHEAD_MS)
