"""Choosing the context length, and saying which rule chose it.

Order: what the user configured, the model's own setting (model.yaml), the
``ctx`` tag in the file name or the GGUF metadata, then what the memory
allows. Whatever the source, the result never exceeds the runtime's limit
(RKLLM: 16384, a multiple of 32) nor the model's own, nor the memory left.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..defaults import CONTEXT_LENGTH, RKLLM_MAX_CONTEXT

# Bytes of KV cache per token when the model's shape is unknown: generous, so
# the memory rule errs towards a smaller context (a 1.5B model needs ~28 KB).
UNKNOWN_KV_BYTES_PER_MODEL_BYTE = 1 / 16000


@dataclass(frozen=True)
class ContextChoice:
    length: int
    rule: str

    def describe(self) -> str:
        return f"context {self.length} tokens ({self.rule})"


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo, in bytes."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_allows(
    memory_bytes: int | None, model_bytes: int, kv_bytes_per_token: float | None
) -> int | None:
    """Tokens of KV cache that fit after the model, keeping a quarter of memory free."""
    if memory_bytes is None:
        return None
    per_token = kv_bytes_per_token or max(model_bytes * UNKNOWN_KV_BYTES_PER_MODEL_BYTE, 1.0)
    spare = memory_bytes * 0.75 - model_bytes * 1.1
    return max(int(spare / per_token), 0)


def choose_context(
    *,
    runtime: str,
    configured: int | None,
    model_setting: int | None,
    file_tag: int | None,
    metadata: int | None,
    model_limit: int | None,
    model_bytes: int,
    kv_bytes_per_token: float | None = None,
    memory_bytes: int | None = None,
) -> ContextChoice:
    if configured:
        length, rule = configured, "set in the configuration"
    elif model_setting:
        length, rule = model_setting, "set in model.yaml"
    elif file_tag:
        length, rule = file_tag, "from the ctx tag in the file name"
    elif metadata:
        length, rule = metadata, "the model's trained context (GGUF metadata)"
    else:
        length, rule = CONTEXT_LENGTH, "default"
    caps: list[tuple[int, str]] = []
    if runtime == "rkllm":
        caps.append((RKLLM_MAX_CONTEXT, "the RKLLM limit"))
    limit = model_limit or (file_tag if runtime == "rkllm" else None)
    if limit:
        caps.append((limit, "the model's limit"))
    allowed = memory_allows(
        memory_bytes if memory_bytes is not None else available_memory(),
        model_bytes,
        kv_bytes_per_token,
    )
    if allowed is not None:
        caps.append((max(allowed, 512), "what the memory allows"))
    for cap, why in caps:
        if length > cap:
            length, rule = cap, f"{rule}, capped at {why}"
    if runtime == "rkllm" and length % 32:
        length -= length % 32
        rule += ", rounded down to a multiple of 32"
    return ContextChoice(max(length, 256), rule)
