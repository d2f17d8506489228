"""What every runtime is configured with; each engine's settings add only their own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import defaults
from .base import Sampling
from .chat_format import TemplateSource


@dataclass(frozen=True)
class RuntimeSettings:
    model_path: Path
    context_length: int = defaults.CONTEXT_LENGTH
    temperature: float = defaults.TEMPERATURE
    top_p: float = defaults.TOP_P
    top_k: int = defaults.TOP_K
    repeat_penalty: float = 1.1
    cache_dir: Path | None = None  # None: keep the system prompt state in memory only
    prefix_cache: bool = True  # False re-computes the whole prompt every turn (benchmarks)
    name: str | None = None  # friendly name for logs and cache folders (default: file stem)
    chat_template: str | None = None  # overrides the model's own template (model.yaml)
    tokenizer: TemplateSource | None = None  # a model folder's tokenizer and its template
    thinking: bool = False

    @property
    def model_name(self) -> str:
        return self.name or self.model_path.stem

    def sampling(self, wanted: Sampling | None, seed: int = 0) -> Sampling:
        """A request's own sampling values, these settings' where it gives none."""
        wanted = wanted or Sampling()
        return Sampling(
            temperature=self.temperature if wanted.temperature is None else wanted.temperature,
            top_p=self.top_p if wanted.top_p is None else wanted.top_p,
            top_k=self.top_k if wanted.top_k is None else wanted.top_k,
            seed=seed if wanted.seed is None else wanted.seed,
        )
