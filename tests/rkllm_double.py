"""Builds the librkllmrt.so test double (tests/fake_rkllm/fake_rkllm.c) with the C compiler."""

from __future__ import annotations

from pathlib import Path

from rk_assist.core.emulated import compile_library

SOURCE = Path(__file__).parent / "fake_rkllm" / "fake_rkllm.c"
#: rkllm_abi.h: the struct layouts the double shares with the emulated runtime.
ABI_HEADERS = Path(__file__).parent.parent / "rk_assist" / "core"
MODEL_TEXT = "RKLLM-FAKE-MODEL\nmax_context_limit={limit}\n"


def build_double(out_dir: Path, abi: str, version: str | None = None) -> Path:
    """Compile the double for ABI "1.2" or "1.3"; returns the .so path."""
    flag = {"1.2": "12", "1.3": "13"}[abi]
    name = f"librkllmrt-fake-{flag}" + (f"-{version}" if version else "") + ".so"
    output = out_dir / name
    defines = [f"FAKE_ABI={flag}"] + ([f'FAKE_VERSION="{version}"'] if version else [])
    compile_library(SOURCE, output, defines, [ABI_HEADERS])
    return output


def write_model(path: Path, limit: int = 4096) -> Path:
    path.write_text(MODEL_TEXT.format(limit=limit), encoding="utf-8")
    return path
