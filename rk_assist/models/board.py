"""Which board this is, as far as choosing a model file goes: the SoC and the RKLLM runtime.

An .rkllm file is converted for one SoC (``target_platform``) and one runtime
generation: an RK3576 build refuses to load on an RK3588, and a file from
another runtime generation fails at init. Both facts are read from the
machine, never assumed: the SoC from the device tree the kernel exposes, the
runtime from the version string inside ``librkllmrt.so``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.library import abi_for_version, find_library, read_library_version
from ..errors import RkllmLibraryError

COMPATIBLE_FILE = Path("/proc/device-tree/compatible")

#: SoC names as the device tree spells them -> the NPU family a model is converted for.
#: The RK3588S is an RK3588 with fewer pins: the same NPU, the same .rkllm files.
NPU_FAMILIES = {
    "rk3588": "rk3588",
    "rk3588s": "rk3588",
    "rk3576": "rk3576",
}


@dataclass(frozen=True)
class Board:
    soc: str | None  # "rk3588", "rk3576", or None off a Rockchip NPU board
    runtime_version: str | None  # "1.2.3", read from librkllmrt.so
    runtime_abi: str | None  # "1.2", "1.3": the generation a model file must match
    library: Path | None

    @property
    def npu_ready(self) -> bool:
        return self.soc is not None and self.runtime_abi is not None

    def describe(self) -> str:
        if self.soc is None:
            return "no Rockchip NPU found (no RK3588/RK3576 in the device tree)"
        if self.library is None:
            return f"{self.soc}, but no librkllmrt.so found"
        if self.runtime_abi is None:
            return f"{self.soc}, runtime {self.library} of unknown version"
        return f"{self.soc}, RKLLM runtime {self.runtime_version}"


def soc_from_compatible(text: bytes) -> str | None:
    """The NPU family named in a device tree ``compatible`` list (NUL-separated)."""
    for entry in text.split(b"\0"):
        vendor, _, model = entry.decode("ascii", "replace").strip().partition(",")
        if vendor == "rockchip" and model in NPU_FAMILIES:
            return NPU_FAMILIES[model]
    return None


def read_soc(path: Path = COMPATIBLE_FILE) -> str | None:
    try:
        return soc_from_compatible(path.read_bytes())
    except OSError:
        return None


def detect_board(
    compatible_file: Path = COMPATIBLE_FILE, library: str | Path | None = None
) -> Board:
    soc = read_soc(compatible_file)
    try:
        found = find_library(str(library) if library is not None else None)
    except RkllmLibraryError:
        return Board(soc, None, None, None)
    try:
        version = read_library_version(found)
    except RkllmLibraryError:
        version = None
    return Board(soc, version, abi_for_version(version) if version else None, found)
