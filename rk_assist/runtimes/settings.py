"""What every runtime is configured with; each engine's settings add only their own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import defaults
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
