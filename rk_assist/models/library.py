"""The model library: a folder of models, each picked by a short friendly name.

Layout of ``--models-dir``::

    models/
      qwen3-0.6b/                 a model folder: its name is the friendly name
        Qwen3-0.6B-w8a8-rk3588.rkllm
        tokenizer.json ...        optional Hugging Face tokenizer files
        model.yaml                optional per-model settings
      Qwen2.5-1.5B-Instruct-q4_k_m.gguf   a loose file: named qwen2.5-1.5b

The runtime follows the file type: ``.rkllm`` runs on the NPU, ``.gguf`` on
the CPU (``model.yaml`` may say otherwise).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import voluptuous as vol
import yaml

from ..errors import ModelFileError
from .names import MODEL_SUFFIXES, context_from_name, friendly_name, friendly_names

_LOGGER = logging.getLogger(__name__)

SETTINGS_FILE = "model.yaml"
RUNTIME_OF_SUFFIX = {".rkllm": "rkllm", ".gguf": "cpu"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")

SETTINGS_SCHEMA = vol.Schema(
    {
        vol.Optional("file"): str,
        vol.Optional("runtime"): vol.In(("cpu", "rkllm")),
        vol.Optional("context_length"): vol.All(int, vol.Range(min=256, max=131072)),
        vol.Optional("max_tokens"): vol.All(int, vol.Range(min=8, max=8192)),
        vol.Optional("temperature"): vol.All(vol.Coerce(float), vol.Range(min=0, max=2)),
        vol.Optional("top_p"): vol.All(vol.Coerce(float), vol.Range(min=0.01, max=1)),
        vol.Optional("top_k"): vol.All(int, vol.Range(min=0, max=1000)),
        vol.Optional("thinking"): bool,
        vol.Optional("chat_template"): vol.All(str, vol.Length(min=1)),
    }
)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    runtime: str
    size: int
    folder: Path | None = None  # the model's own folder; None for a loose file
    settings: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # why this entry cannot be used, if it cannot

    @property
    def tokenizer_dir(self) -> Path | None:
        if self.folder and any((self.folder / name).is_file() for name in TOKENIZER_FILES):
            return self.folder
        return None

    @property
    def context_from_file_name(self) -> int | None:
        return context_from_name(self.path.name)

    @property
    def thinking(self) -> bool:
        """Thinking models answer a voice request slowly: off unless asked for."""
        return bool(self.settings.get("thinking", False))

    def require_usable(self) -> ModelEntry:
        if self.problem:
            raise ModelFileError(f"model {self.name!r} cannot be used: {self.problem}")
        return self


def _model_files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and path.suffix.lower() in MODEL_SUFFIXES
        and not path.name.startswith(".")
    )


def read_settings(folder: Path) -> dict[str, Any]:
    path = folder / SETTINGS_FILE
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return SETTINGS_SCHEMA(raw)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ModelFileError(f"cannot read {path}: {err}") from err
    except vol.Invalid as err:
        where = ".".join(str(part) for part in err.path) or "the file"
        raise ModelFileError(f"{path}: {where}: {err.msg}") from err


class ModelLibrary:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def scan(self) -> list[ModelEntry]:
        if not self.directory.is_dir():
            return []
        entries: list[ModelEntry] = []
        folder_names: set[str] = set()
        # Hidden folders are not models: .partial holds downloads under way.
        folders = (p for p in self.directory.iterdir() if p.is_dir() and not p.name.startswith("."))
        for folder in sorted(folders):
            entry = self._folder_entry(folder)
            if entry is not None:
                entries.append(entry)
                folder_names.add(entry.name.lower())
        loose = _model_files(self.directory)
        names = friendly_names(path.name for path in loose)
        for path in loose:
            name = names[path.name]
            if name.lower() in folder_names:
                name = f"{name}-file"
            entries.append(_entry(name, path, None, {}))
        return entries

    def find(self, wanted: str) -> ModelEntry:
        """By friendly name, or by file name (with or without its extension)."""
        entries = self.scan()
        lowered = wanted.lower()
        for matches in (
            [e for e in entries if e.name.lower() == lowered],
            [e for e in entries if e.path.name.lower() == lowered],
            [e for e in entries if e.path.stem.lower() == lowered],
        ):
            if matches:
                return matches[0].require_usable()
        known = ", ".join(sorted(e.name for e in entries)) or "none"
        raise ModelFileError(f"no model named {wanted!r} in {self.directory} (available: {known})")

    def _folder_entry(self, folder: Path) -> ModelEntry | None:
        files = _model_files(folder)
        if not files:
            return None
        name = folder.name
        try:
            settings = read_settings(folder)
        except ModelFileError as err:
            return _entry(name, files[0], folder, {}, str(err))
        chosen = files[0]
        if "file" in settings:
            named = folder / settings["file"]
            if named not in files:
                problem = f"model.yaml names {settings['file']!r}, which is not there"
                return _entry(name, chosen, folder, settings, problem)
            chosen = named
        elif len(files) > 1:
            _LOGGER.warning(
                "Model folder %s holds %d model files (%s); using %s (name one in %s with 'file:')",
                folder,
                len(files),
                ", ".join(f.name for f in files),
                chosen.name,
                SETTINGS_FILE,
            )
        return _entry(name, chosen, folder, settings)


def _entry(
    name: str, path: Path, folder: Path | None, settings: dict[str, Any], problem: str | None = None
) -> ModelEntry:
    """An entry whose runtime follows the file type unless model.yaml says otherwise."""
    runtime = settings.get("runtime", RUNTIME_OF_SUFFIX[path.suffix.lower()])
    size = path.stat().st_size if path.is_file() else 0
    return ModelEntry(name, path, runtime, size, folder, settings, problem)


def resolve_model(wanted: str, models_dir: Path) -> ModelEntry:
    """A --model value: a model file or folder path, or a name in the library."""
    path = Path(wanted)
    if path.is_dir():
        entry = ModelLibrary(path.parent)._folder_entry(path)
        if entry is None:
            raise ModelFileError(f"no .rkllm or .gguf model file in {path}")
        return entry.require_usable()
    if path.suffix.lower() in MODEL_SUFFIXES and (path.is_absolute() or path.exists()):
        if not path.exists():
            raise ModelFileError(f"model file not found: {path}")
        # A file beside model.yaml or tokenizer files is treated as in its own folder.
        beside = (SETTINGS_FILE, *TOKENIZER_FILES)
        folder = path.parent if any((path.parent / n).is_file() for n in beside) else None
        settings = read_settings(path.parent) if folder else {}
        return _entry(friendly_name(path.name), path, folder, settings)
    return ModelLibrary(models_dir).find(wanted)
