"""From configuration and a model's name to a ready-to-load runtime.

Per-model settings (model.yaml) apply unless the user set the same option
explicitly, on the command line or in the environment.
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from ..config import ServiceConfig
from ..core.emulated import is_emulated
from ..errors import ModelFileError
from ..runtimes.base import Runtime
from ..runtimes.embedded import embedded_model_path
from ..runtimes.llama_cpp import LlamaCppRuntime, LlamaCppSettings, check_gguf_file
from ..runtimes.rkllm import RkllmRuntime, RkllmSettings, check_rkllm_file
from .context import ContextChoice, choose_context
from .library import ModelEntry, resolve_model
from .names import friendly_name
from .packaged import DEFAULT_PACKAGED

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class GgufShape:
    trained_context: int | None
    kv_bytes_per_token: float | None


@dataclass(frozen=True)
class ModelPlan:
    entry: ModelEntry
    runtime: str
    context: ContextChoice
    embedded: bool = False


def gguf_shape(path: Path) -> GgufShape:
    """Trained context and KV-cache bytes per token, from the GGUF's metadata."""
    import llama_cpp

    with contextlib.redirect_stderr(io.StringIO()):
        try:
            llm = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
        except (ValueError, RuntimeError, OSError):
            return GgufShape(None, None)
    try:
        metadata = llm.metadata
    finally:
        llm.close()
    arch = metadata.get("general.architecture", "")

    def number(key: str) -> int | None:
        value = metadata.get(f"{arch}.{key}")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    layers, embedding = number("block_count"), number("embedding_length")
    heads, kv_heads = number("attention.head_count"), number("attention.head_count_kv")
    per_token = None
    if layers and embedding and heads:
        head_dim = embedding / heads
        per_token = 2 * layers * (kv_heads or heads) * head_dim * 2  # K and V, f16
    return GgufShape(number("context_length"), per_token)


def embedded_entry() -> ModelEntry:
    """The embedded default model as the library would list it (raises if not installed)."""
    path = embedded_model_path()
    return ModelEntry(friendly_name(path.name), path, "cpu", path.stat().st_size)


def default_entry(models_dir: Path) -> tuple[ModelEntry, bool]:
    """The model served when none is asked for, and whether it is the embedded one.

    The packaged Qwen that ``script/setup`` installs, where it is installed:
    the embedded SmolLM2-135M chats, but cannot control a home. The embedded
    model only where no Qwen is (a plain pip install); the log says which.
    """
    try:
        entry = resolve_model(DEFAULT_PACKAGED, models_dir)
    except ModelFileError:
        entry = embedded_entry()
        _LOGGER.info(
            "No --model given and no %s in %s: serving the embedded %s, which chats but "
            "controls a home poorly ('rk-assist models install %s' installs a better one)",
            DEFAULT_PACKAGED,
            models_dir,
            entry.name,
            DEFAULT_PACKAGED,
        )
        return entry, True
    _LOGGER.info(
        "No --model given: serving %s, the packaged Qwen installed in %s",
        entry.name,
        models_dir,
    )
    return entry, False


def _resolve(wanted: str | None, models_dir: Path) -> tuple[ModelEntry, bool]:
    """The model entry, and whether it is the embedded one (asked for by its name, or by
    no name where no packaged Qwen is installed)."""
    if wanted is None:
        return default_entry(models_dir)
    try:
        return resolve_model(wanted, models_dir), False
    except ModelFileError:
        # The name the service reports for the embedded model (describe, /api/tags)
        # must work wherever a name is taken, unless the library has its own of that name.
        with contextlib.suppress(ModelFileError):
            entry = embedded_entry()
            if wanted.removesuffix(":latest") == entry.name:
                return entry, True
        raise


def plan_model(config: ServiceConfig, wanted: str | None = None) -> ModelPlan:
    wanted = wanted if wanted is not None else config.model
    if wanted is None and config.runtime == "rkllm":
        raise ModelFileError("--runtime rkllm needs --model NAME|PATH of an .rkllm model")
    entry, embedded = _resolve(wanted, config.models_dir)
    runtime = config.runtime if config.runtime != "auto" else entry.runtime
    if runtime == "rkllm":
        emulated = is_emulated(config.rkllm_library)
        check_rkllm_file(entry.path, emulated)
        shape = gguf_shape(entry.path) if emulated else GgufShape(None, None)
    else:
        check_gguf_file(entry.path)
        shape = gguf_shape(entry.path)
    configured = config.context_length if "context_length" in config.explicit else None
    context = choose_context(
        runtime=runtime,
        configured=configured,
        model_setting=entry.settings.get("context_length"),
        file_tag=entry.context_from_file_name,
        metadata=shape.trained_context,
        model_limit=shape.trained_context,
        model_bytes=entry.size,
        kv_bytes_per_token=shape.kv_bytes_per_token,
    )
    return ModelPlan(entry, runtime, context, embedded)


def _setting(config: ServiceConfig, entry: ModelEntry, name: str):
    """The model's own value for an option, unless the user set that option."""
    if name in config.explicit or name not in entry.settings:
        return getattr(config, name)
    return entry.settings[name]


def max_tokens_for(config: ServiceConfig, entry: ModelEntry) -> int:
    return _setting(config, entry, "max_tokens")


def create_runtime(plan: ModelPlan, config: ServiceConfig) -> Runtime:
    entry = plan.entry
    tokenizer = None
    if entry.tokenizer_dir is not None:
        from .tokenizer import HfChatTokenizer

        tokenizer = HfChatTokenizer(entry.tokenizer_dir)
        _LOGGER.info("Using the tokenizer and chat template in %s", entry.tokenizer_dir)
    common = {
        "model_path": entry.path,
        "context_length": plan.context.length,
        "temperature": _setting(config, entry, "temperature"),
        "top_p": _setting(config, entry, "top_p"),
        "top_k": _setting(config, entry, "top_k"),
        "cache_dir": config.cache_dir if config.prompt_cache else None,
        "prefix_cache": config.prompt_cache,
        "name": entry.name,
        "chat_template": entry.settings.get("chat_template"),
        "tokenizer": tokenizer,
        "thinking": entry.thinking,
    }
    _LOGGER.info("Model %s (%s): %s", entry.name, entry.path, plan.context.describe())
    if plan.runtime == "rkllm":
        return RkllmRuntime(
            RkllmSettings(
                library_path=config.rkllm_library,
                abi=config.rkllm_abi,
                max_new_tokens=max_tokens_for(config, entry),
                n_keep=config.rkllm_n_keep,
                cpu_mask=config.rkllm_cpu_mask,
                embed_flash=config.rkllm_embed_flash,
                constrain=config.rkllm_grammar,
                **common,
            )
        )
    if plan.runtime != "cpu":
        raise ModelFileError(f"unknown runtime {plan.runtime!r}")
    return LlamaCppRuntime(
        LlamaCppSettings(threads=config.threads, state_cache_mb=config.state_cache_mb, **common)
    )
