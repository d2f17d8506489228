"""Friendly names for model files.

People download files named like
``Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm`` and want to
type ``qwen3-0.6b``. The name keeps the family and size and drops the
conversion details (quantisation, optimisation level, NPU cores, context,
chip, file format); when two files would get the same name, the details
that tell them apart are put back.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

MODEL_SUFFIXES = (".rkllm", ".gguf")

# llama.cpp quantisation tags, which contain underscores: Q4_K_M, IQ3_XXS, Q8_0, BF16.
_QUANT = re.compile(
    r"(?i)(?:^|[-_.])((?:i?q\d(?:_[0-9a-z]{1,3}){0,2})|bf16|fp16|f16|f32)(?=$|[-_.])"
)
# Conversion details written with dashes inside: opt-1, hybrid-ratio-0.0, npu-3.
_DASHED_DETAIL = re.compile(
    r"(?i)(?:^|[-_])(opt-\d|hybrid-ratio-\d+(?:\.\d+)?|hybrid-\d|npu-\d|ctx-\d+k?)(?=$|[-_.])"
)
# Whole tokens (between - and _) that describe a conversion, not a model.
_DETAIL = re.compile(
    r"(?i)^(?:w\d+a\d+(?:g\d+)?|g\d+|opt\d|hybrid\d|npu\d|ctx\d+k?|rk\d{4}|rv\d{4}|"
    r"instruct|chat|it|gguf|rkllm|awq|gptq|int[48]|fp8)$"
)
_SIZE = re.compile(r"(?i)\d+(?:\.\d+)?[bm]\b")
_CONTEXT_TAG = re.compile(r"(?i)(?:^|[-_.])ctx(\d+)(k?)(?=$|[-_.])")


def context_from_name(filename: str) -> int | None:
    """The context length a ``ctx16384``/``ctx4k`` tag in a file name declares."""
    match = _CONTEXT_TAG.search(Path(filename).stem)
    if not match:
        return None
    value = int(match.group(1))
    return value * 1024 if match.group(2) else value


def _strip_suffix(filename: str) -> str:
    name = Path(filename).name
    for suffix in MODEL_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def split_name(filename: str) -> tuple[str, list[str]]:
    """(friendly base name, the detail tags that were dropped)."""
    stem = _strip_suffix(filename)
    details = [match.group(1).lower() for match in _QUANT.finditer(stem)]
    stem = _QUANT.sub("", stem)
    details += [match.group(1).lower() for match in _DASHED_DETAIL.finditer(stem)]
    stem = _DASHED_DETAIL.sub("", stem)
    # "Org_Model-..." is a flattened "Org/Model": drop the organisation.
    head, sep, rest = stem.partition("_")
    if sep and rest and not _SIZE.search(head) and "-" not in head:
        stem = rest
    kept: list[str] = []
    for token in re.split(r"[-_\s]+", stem):
        if not token:
            continue
        if _DETAIL.match(token):
            details.append(token.lower())
        else:
            kept.append(token.lower())
    base = "-".join(kept) or _strip_suffix(filename).lower()
    return base, details


def friendly_name(filename: str) -> str:
    return split_name(filename)[0]


def friendly_names(filenames: Iterable[str]) -> dict[str, str]:
    """A unique friendly name for each file name, adding back details on collisions."""
    parsed = {filename: split_name(filename) for filename in filenames}
    groups: dict[str, list[str]] = defaultdict(list)
    for filename, (base, _details) in parsed.items():
        groups[base].append(filename)
    names: dict[str, str] = {}
    for base, members in groups.items():
        if len(members) == 1:
            names[members[0]] = base
            continue
        shared = set.intersection(*(set(parsed[member][1]) for member in members))
        for member in members:
            distinct = [tag for tag in parsed[member][1] if tag not in shared]
            names[member] = "-".join([base, *distinct])
    # Identical details too (copies under two names): number them.
    seen: dict[str, int] = defaultdict(int)
    for filename in sorted(names):
        name = names[filename]
        seen[name] += 1
        if seen[name] > 1:
            names[filename] = f"{name}-{seen[name]}"
    return names
