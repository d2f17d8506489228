"""The emulated librkllmrt.so: Rockchip's RKLLM API on llama.cpp, for machines without an NPU.

``rkllm_emulated.c`` is built against the llama.cpp library that
llama-cpp-python installs (its ``libllama.so`` and, beside the package,
``include/llama.h``), once per ABI, into this environment
(``<prefix>/lib/rk-assist/``). ``script/setup`` builds both; the first use
builds one that is missing. It is used only when asked for by name
(``--rkllm-library emulated``): our ctypes core, the runtime's callbacks,
prompt caches, function tools, keep-history and abort all run for real, with
a real GGUF model in place of the NPU's ``.rkllm``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

from ..errors import RkllmLibraryError

_LOGGER = logging.getLogger(__name__)
#: The name that asks for the emulated runtime wherever a library path is taken.
EMULATED = "emulated"
SOURCE = Path(__file__).with_name("rkllm_emulated.c")
HEADERS = (Path(__file__).with_name("rkllm_abi.h"),)
#: The runtime version each build tells, as the real library of that ABI would.
VERSIONS = {"1.2": "1.2.3", "1.3": "1.3.0"}


def is_emulated(path: str | os.PathLike[str] | None) -> bool:
    return path is not None and str(path) == EMULATED


def library_path(abi: str) -> Path:
    return Path(sys.prefix) / "lib" / "rk-assist" / f"librkllmrt-emulated-{abi}.so"


def _llama_cpp() -> tuple[Path, Path]:
    """The folder of libllama.so and the folder of llama.h, from llama-cpp-python."""
    import llama_cpp

    lib = Path(llama_cpp.__file__).parent / "lib"
    include = Path(sysconfig.get_paths()["purelib"]) / "include"
    if not (include / "llama.h").is_file():
        include = Path(llama_cpp.__file__).parent.parent / "include"
    if not (lib / "libllama.so").is_file() or not (include / "llama.h").is_file():
        raise RkllmLibraryError(
            f"the emulated RKLLM runtime needs llama-cpp-python's libllama.so and llama.h "
            f"(looked in {lib} and {include})"
        )
    return lib, include


def build(abi: str, force: bool = False) -> Path:
    """The emulated library for ``abi`` ("1.2" or "1.3"), compiled when missing or stale."""
    if abi not in VERSIONS:
        raise RkllmLibraryError(f"the emulated RKLLM runtime has ABIs 1.2 and 1.3, not {abi!r}")
    output = library_path(abi)
    sources = (SOURCE, *HEADERS)
    if (
        not force
        and output.is_file()
        and output.stat().st_mtime >= max(p.stat().st_mtime for p in sources)
    ):
        return output
    lib, include = _llama_cpp()
    output.parent.mkdir(parents=True, exist_ok=True)
    _LOGGER.info("Building the emulated RKLLM runtime %s (ABI %s)", output, abi)
    compile_library(
        SOURCE,
        output,
        defines=[f"RKLLM_ABI={abi.replace('.', '')}", f'EMULATED_VERSION="{VERSIONS[abi]}"'],
        include_dirs=[SOURCE.parent, include],
        link=[f"-L{lib}", "-lllama", f"-Wl,-rpath,{lib}"],
    )
    return output


def compile_library(
    source: Path,
    output: Path,
    defines: list[str],
    include_dirs: list[Path],
    link: Sequence[str] = (),
) -> None:
    """Compile one C file into a shared library, strictly (every warning an error).

    Written to a temporary name and moved in place, so a failed or interrupted
    build never leaves a half-written library where one is loaded from.
    """
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RkllmLibraryError(f"building {output.name} needs a C compiler (cc or gcc)")
    partial = output.with_name(output.name + ".partial")
    command = [
        compiler,
        "-std=c11",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-shared",
        "-fPIC",
        "-pthread",
        *(f"-D{define}" for define in defines),
        *(f"-I{folder}" for folder in include_dirs),
        "-o",
        str(partial),
        str(source),
        *link,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RkllmLibraryError(f"could not build {output.name}: {done.stderr.strip()[-800:]}")
    partial.replace(output)


def main() -> int:
    """``python -m rk_assist.core.emulated``: build both ABIs (script/setup runs it)."""
    for abi in VERSIONS:
        print(build(abi, force="--force" in sys.argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
