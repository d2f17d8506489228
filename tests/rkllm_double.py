"""Builds the librkllmrt.so test double (tests/fake_rkllm/fake_rkllm.c) with the C compiler."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).parent / "fake_rkllm" / "fake_rkllm.c"
MODEL_TEXT = "RKLLM-FAKE-MODEL\nmax_context_limit={limit}\n"


def build_double(out_dir: Path, abi: str, version: str | None = None) -> Path:
    """Compile the double for ABI "1.2" or "1.3"; returns the .so path."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("the RKLLM tests need a C compiler (cc or gcc) to build their double")
    flag = {"1.2": "12", "1.3": "13"}[abi]
    name = f"librkllmrt-fake-{flag}" + (f"-{version}" if version else "") + ".so"
    output = out_dir / name
    command = [
        compiler,
        "-std=c11",
        "-O1",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-shared",
        "-fPIC",
        "-pthread",
        f"-DFAKE_ABI={flag}",
        "-o",
        str(output),
        str(SOURCE),
    ]
    if version:
        command.insert(-3, f'-DFAKE_VERSION="{version}"')
    subprocess.run(command, check=True, capture_output=True, text=True)
    return output


def write_model(path: Path, limit: int = 4096) -> Path:
    path.write_text(MODEL_TEXT.format(limit=limit), encoding="utf-8")
    return path
