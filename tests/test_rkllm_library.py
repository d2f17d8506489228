"""Finding librkllmrt.so and telling its ABI, against the compiled double."""

import subprocess
from pathlib import Path

import pytest

from rk_assist.core.library import (
    LIBRARY_ENV,
    RkllmLibrary,
    abi_for_version,
    detect_abi,
    find_library,
)
from rk_assist.errors import RkllmLibraryError

from .rkllm_double import build_double


@pytest.mark.parametrize(
    ("version", "abi"),
    [
        ("1.2.1", "1.2"),
        ("1.2.3", "1.2"),
        ("1.3.0", "1.3"),
        ("1.3.2", "1.3"),
        ("1.1.4", None),
        ("1.2.0", None),
        ("1.4.0", None),
    ],
)
def test_versions_map_to_abis(version, abi):
    assert abi_for_version(version) == abi


@pytest.mark.parametrize("abi", ["1.2", "1.3"])
def test_abi_is_read_from_the_library_itself(rkllm_doubles, abi):
    library = RkllmLibrary.open(rkllm_doubles[abi])
    assert library.abi == abi
    assert library.version == {"1.2": "1.2.3", "1.3": "1.3.0"}[abi]
    assert library.structs.Param.__name__.endswith(abi.replace(".", ""))


def test_unsupported_runtime_version_is_refused(tmp_path: Path):
    old = build_double(tmp_path, "1.2", version="1.1.4")
    with pytest.raises(RkllmLibraryError, match=r"1\.1\.4.*supported: runtime 1\.2\.1"):
        detect_abi(old)


def test_unidentifiable_library_is_refused_unless_overridden(tmp_path: Path):
    mystery = tmp_path / "librkllmrt.so"
    mystery.write_bytes(b"\x7fELF" + b"\x00" * 64 + b"no version in here")
    with pytest.raises(RkllmLibraryError, match=r"cannot tell.*--rkllm-abi"):
        detect_abi(mystery)
    assert detect_abi(mystery, "1.3") == ("1.3", None)
    with pytest.raises(RkllmLibraryError, match="unknown RKLLM ABI"):
        detect_abi(mystery, "2.0")


def test_library_is_found_by_option_then_environment(rkllm_doubles, monkeypatch, tmp_path):
    assert find_library(rkllm_doubles["1.2"]) == rkllm_doubles["1.2"]
    with pytest.raises(RkllmLibraryError, match="not found"):
        find_library(tmp_path / "missing.so")
    monkeypatch.setenv(LIBRARY_ENV, str(rkllm_doubles["1.3"]))
    assert find_library(None) == rkllm_doubles["1.3"]
    monkeypatch.setenv(LIBRARY_ENV, str(tmp_path / "gone.so"))
    with pytest.raises(RkllmLibraryError, match=LIBRARY_ENV):
        find_library(None)


def test_a_library_without_the_runtime_functions_is_refused(tmp_path: Path):
    source = tmp_path / "impostor.c"
    source.write_text(
        'const char banner[] = "rkllm-runtime version: 1.2.3";\n'
        "int rkllm_createDefaultParam_typo(void) { return 0; }\n"
    )
    library = tmp_path / "librkllmrt.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    with pytest.raises(RkllmLibraryError, match=r"lacks.*rkllm_init"):
        RkllmLibrary.open(library)
