"""Answers held to the call grammar on the NPU, through the runtime's logits.

The RKLLM runtime samples inside itself, out of a grammar's reach. Since
1.2.0 it can hand back the last token's logits instead (``GET_LOGITS``) and
take tokens as input (``RKLLM_INPUT_TOKEN``), keeping what it was fed
(``keep_history=1``). That is enough to drive ``decode_constrained`` (the
same loop the CPU runtime runs): the prompt is fed once, then every step
feeds the chosen token back, together with the text the grammar determines
after it, in one ``rkllm_run``, and reads the next logits.

The grammar and the tokens need the model's vocabulary on this side: a GGUF
read vocabulary-only by llama.cpp (the model itself on the emulated runtime;
beside an ``.rkllm`` on a board, a ``vocab.gguf`` of the same model).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp
import numpy as np

from ..errors import ModelFileError

#: Beside an .rkllm model: the same model's vocabulary as a GGUF (llama.cpp's
#: ``ggml-vocab-qwen2.gguf`` for the Qwens, or the model's own GGUF).
VOCAB_FILE = "vocab.gguf"


def vocab_for(model_path: Path, emulated: bool) -> Path | None:
    """Where the model's vocabulary is: the GGUF itself when emulated, else vocab.gguf beside it."""
    if emulated:
        return model_path
    beside = model_path.parent / VOCAB_FILE
    return beside if beside.is_file() else None


class Vocabulary:
    """A model's tokens, from a GGUF read vocabulary-only (no weights)."""

    def __init__(self, path: Path) -> None:
        with contextlib.redirect_stderr(io.StringIO()):
            try:
                self._llm = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
            except (ValueError, RuntimeError, OSError) as err:
                raise ModelFileError(f"cannot read the vocabulary in {path}: {err}") from err
        self.path = path
        self.pointer = self._llm._model.vocab
        self.size = self._llm.n_vocab()
        metadata = self._llm.metadata
        self.chat_template: str | None = metadata.get("tokenizer.chat_template")

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def detokenize(self, token: int, before: list[int]) -> bytes:
        return self._llm.detokenize([token], prev_tokens=before)

    def close(self) -> None:
        self._llm.close()


#: One rkllm_run in GET_LOGITS mode: (tokens, keep_history) -> the last token's logits.
LogitsRun = Callable[[list[int], int], np.ndarray]


@dataclass
class RkllmSteps:
    """The runtime as ``decode_constrained`` drives it, counting what each step costs.

    The first run feeds the whole prompt without history (the runtime reuses
    the prefix its cache already holds); every later run continues it.
    """

    run: LogitsRun
    vocab: Vocabulary
    tokens: list[int]
    runs: int = 0  # rkllm_run calls after the prompt's
    fed: int = 0  # tokens fed in them: chosen and determined together
    _logits: np.ndarray | None = field(default=None, repr=False)

    def start(self) -> None:
        self._logits = self._sized(self.run(self.tokens, 0))

    def logits(self) -> np.ndarray:
        assert self._logits is not None, "start() first"
        return self._logits

    def feed(self, tokens: list[int]) -> None:
        self._logits = self._sized(self.run(tokens, 1))
        self.tokens += tokens
        self.runs += 1
        self.fed += len(tokens)

    def tokenize(self, text: str) -> list[int]:
        return self.vocab.tokenize(text)

    def _sized(self, logits: np.ndarray) -> np.ndarray:
        """The runtime's logits over this vocabulary: a converted model's output layer is often
        padded past the tokenizer's last token (Qwen: 151,936 rows for 151,665 tokens)."""
        size = self.vocab.size
        if len(logits) >= size:
            return logits[:size]
        return np.concatenate([logits, np.full(size - len(logits), -np.inf, dtype=logits.dtype)])

    def detokenize(self, token: int) -> bytes:
        return self.vocab.detokenize(token, self.tokens)
