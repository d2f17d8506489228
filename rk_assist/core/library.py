"""Finding librkllmrt.so, telling which ABI it speaks, and binding its functions.

The ABI is never guessed silently: calling a 1.3 library with 1.2 structs
(or the reverse) segfaults. It is read from the version string the library
carries (the one it prints at init, ``rkllm-runtime version: X``), can be
forced with an override, and a library that cannot be identified is refused
with a message listing the supported versions.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import re
from ctypes import POINTER, c_char_p, c_int, c_void_p
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from ..errors import RkllmCallError, RkllmLibraryError
from . import emulated
from .structs import (
    ABIS,
    LLMHandle,
    LLMResultCallback,
    RKLLMCallback,
    RKLLMCrossAttnParam,
    RKLLMLoraAdapter,
)

_LOGGER = logging.getLogger(__name__)

LIBRARY_NAME = "librkllmrt.so"
LIBRARY_ENV = "RKLLM_LIBRARY"
SUPPORTED = "runtime 1.2.1 to 1.2.3 (ABI 1.2) and 1.3.x (ABI 1.3)"
SEARCH_DIRS = (
    "/usr/lib",
    "/usr/local/lib",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/share/rk-assist",  # the add-on's user-provided location
)

# The banner the runtime prints at init carries its version; both spellings seen.
_VERSION_PATTERNS = (
    re.compile(rb"rkllm-runtime version:? ?v?(\d+\.\d+\.\d+)(?:b\d+)?"),
    re.compile(rb"RKLLM[ _-]?(?:Runtime)?[ _-]?[Vv]ersion:? ?v?(\d+\.\d+\.\d+)(?:b\d+)?"),
)
_MAX_SCAN_BYTES = 256 << 20


def abi_for_version(version: str) -> str | None:
    parts = tuple(int(part) for part in version.split(".")[:3])
    if (1, 2, 1) <= parts <= (1, 2, 99):
        return "1.2"
    if (1, 3, 0) <= parts < (1, 4, 0):
        return "1.3"
    return None


def find_library(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The option, then ``$RKLLM_LIBRARY``, then the usual library folders."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise RkllmLibraryError(f"RKLLM runtime library not found: {path}")
        return path
    from_env = os.environ.get(LIBRARY_ENV)
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise RkllmLibraryError(
                f"RKLLM runtime library not found: {path} (from ${LIBRARY_ENV})"
            )
        return path
    for folder in SEARCH_DIRS:
        path = Path(folder) / LIBRARY_NAME
        if path.is_file():
            return path
    found = ctypes.util.find_library("rkllmrt")
    if found and Path(found).is_file():
        return Path(found)
    raise RkllmLibraryError(
        f"{LIBRARY_NAME} not found (looked in {', '.join(SEARCH_DIRS)}); give its path with "
        f"--rkllm-library or ${LIBRARY_ENV}. It comes from Rockchip's rknn-llm releases, "
        f"{SUPPORTED}."
    )


def read_library_version(path: Path) -> str | None:
    """The runtime version written inside the library file, if exactly one is found."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_SCAN_BYTES)
    except OSError as err:
        raise RkllmLibraryError(f"cannot read {path}: {err}") from err
    versions = {
        match.group(1).decode() for pattern in _VERSION_PATTERNS for match in pattern.finditer(data)
    }
    if len(versions) == 1:
        return versions.pop()
    if len(versions) > 1:
        _LOGGER.warning("%s names several versions (%s)", path, ", ".join(sorted(versions)))
    return None


def detect_abi(path: Path, override: str | None = None) -> tuple[str, str | None]:
    """(ABI, version) for the library; raises if the ABI cannot be established."""
    version = read_library_version(path)
    if override and override != "auto":
        if override not in ABIS:
            raise RkllmLibraryError(f"unknown RKLLM ABI {override!r}; use 1.2 or 1.3")
        detected = abi_for_version(version) if version else None
        if detected and detected != override:
            _LOGGER.warning(
                "%s says it is runtime %s (ABI %s) but ABI %s was forced",
                path,
                version,
                detected,
                override,
            )
        return override, version
    if version is None:
        raise RkllmLibraryError(
            f"cannot tell which RKLLM runtime version {path} is; supported: {SUPPORTED}. "
            f"If you know it, set --rkllm-abi 1.2 or 1.3"
        )
    abi = abi_for_version(version)
    if abi is None:
        raise RkllmLibraryError(
            f"{path} is RKLLM runtime {version}, which rk-assist does not support; "
            f"supported: {SUPPORTED}"
        )
    return abi, version


@dataclass
class RkllmLibrary:
    """A loaded librkllmrt.so with its functions typed for one ABI."""

    path: Path
    abi: str
    version: str | None
    cdll: ctypes.CDLL

    @property
    def structs(self) -> SimpleNamespace:
        return ABIS[self.abi]

    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | None = None, abi: str | None = None
    ) -> RkllmLibrary:
        if emulated.is_emulated(path):
            # Asked for by name only: the emulated runtime of the ABI asked for (else 1.3).
            library_path = emulated.build(abi if abi in emulated.VERSIONS else "1.3")
        else:
            library_path = find_library(path)
        abi_name, version = detect_abi(library_path, abi)
        try:
            cdll = ctypes.CDLL(str(library_path))
        except OSError as err:
            raise RkllmLibraryError(f"cannot load {library_path}: {err}") from err
        library = cls(library_path, abi_name, version, cdll)
        library._bind()
        _LOGGER.info("Using %s (runtime %s, ABI %s)", library_path, version or "unknown", abi_name)
        return library

    def _bind(self) -> None:
        structs = self.structs
        handle_p = POINTER(LLMHandle)
        signatures: dict[str, tuple[object, list[object]]] = {
            "rkllm_createDefaultParam": (structs.Param, []),
            "rkllm_load_lora": (c_int, [LLMHandle, POINTER(RKLLMLoraAdapter)]),
            "rkllm_load_prompt_cache": (c_int, [LLMHandle, c_char_p]),
            "rkllm_release_prompt_cache": (c_int, [LLMHandle]),
            "rkllm_destroy": (c_int, [LLMHandle]),
            "rkllm_run": (
                c_int,
                [LLMHandle, POINTER(structs.Input), POINTER(structs.InferParam), c_void_p],
            ),
            "rkllm_run_async": (
                c_int,
                [LLMHandle, POINTER(structs.Input), POINTER(structs.InferParam), c_void_p],
            ),
            "rkllm_abort": (c_int, [LLMHandle]),
            "rkllm_is_running": (c_int, [LLMHandle]),
            "rkllm_clear_kv_cache": (c_int, [LLMHandle, c_int, POINTER(c_int), POINTER(c_int)]),
            "rkllm_get_kv_cache_size": (c_int, [LLMHandle, POINTER(c_int)]),
            "rkllm_set_chat_template": (c_int, [LLMHandle, c_char_p, c_char_p, c_char_p]),
            "rkllm_set_function_tools": (c_int, [LLMHandle, c_char_p, c_char_p, c_char_p]),
            "rkllm_set_cross_attn_params": (c_int, [LLMHandle, POINTER(RKLLMCrossAttnParam)]),
        }
        if self.abi == "1.2":
            signatures["rkllm_init"] = (
                c_int,
                [handle_p, POINTER(structs.Param), LLMResultCallback],
            )
        else:
            signatures["rkllm_init"] = (
                c_int,
                [handle_p, POINTER(structs.Param), POINTER(RKLLMCallback)],
            )
        missing = []
        for name, (restype, argtypes) in signatures.items():
            try:
                function = getattr(self.cdll, name)
            except AttributeError:
                missing.append(name)
                continue
            function.restype = restype
            function.argtypes = argtypes
        required = {
            "rkllm_createDefaultParam",
            "rkllm_init",
            "rkllm_run",
            "rkllm_abort",
            "rkllm_destroy",
        }
        if required & set(missing):
            raise RkllmLibraryError(
                f"{self.path} lacks {', '.join(sorted(required & set(missing)))}: "
                f"not an RKLLM runtime of ABI {self.abi}"
            )
        self.missing = tuple(missing)

    def function(self, name: str):
        """A bound function; a clear error if this library version lacks it."""
        if name in getattr(self, "missing", ()):
            raise RkllmLibraryError(f"{self.path} (runtime {self.version}) has no {name}")
        return getattr(self.cdll, name)

    def _call(self, name: str, *args: object) -> None:
        code = self.function(name)(*args)
        if code != 0:
            raise RkllmCallError(name, code)

    # -- rkllm.h, one method per function the runtime uses; argtypes in _bind ----------

    # RKLLMParam rkllm_createDefaultParam();
    def create_default_param(self):
        return self.function("rkllm_createDefaultParam")()

    # 1.2: int rkllm_init(LLMHandle* handle, RKLLMParam* param, LLMResultCallback callback);
    # 1.3: int rkllm_init(LLMHandle* handle, RKLLMParam* param, RKLLMCallback* callbacks);
    def init(self, handle: LLMHandle, param: object, callback: object) -> None:
        """``callback`` is the result callback; for ABI 1.3 it is wrapped in its struct here,
        and the struct is kept alive on this object for as long as the model is loaded."""
        if self.abi == "1.2":
            self._call("rkllm_init", ctypes.byref(handle), ctypes.byref(param), callback)
            return
        self._callbacks = RKLLMCallback(result_callback=callback)
        self._call(
            "rkllm_init", ctypes.byref(handle), ctypes.byref(param), ctypes.byref(self._callbacks)
        )

    # int rkllm_run(LLMHandle handle, RKLLMInput* rkllm_input, RKLLMInferParam* rkllm_infer_params,
    #               void* userdata);
    def run(self, handle: LLMHandle, rk_input: object, infer: object) -> None:
        self._call("rkllm_run", handle, ctypes.byref(rk_input), ctypes.byref(infer), None)

    # int rkllm_abort(LLMHandle handle);
    def abort(self, handle: LLMHandle) -> None:
        self._call("rkllm_abort", handle)

    # int rkllm_destroy(LLMHandle handle);
    def destroy(self, handle: LLMHandle) -> None:
        self._call("rkllm_destroy", handle)

    # int rkllm_load_prompt_cache(LLMHandle handle, const char* prompt_cache_path);
    def load_prompt_cache(self, handle: LLMHandle, path: Path) -> None:
        self._call("rkllm_load_prompt_cache", handle, str(path).encode())

    # int rkllm_release_prompt_cache(LLMHandle handle);
    def release_prompt_cache(self, handle: LLMHandle) -> None:
        self._call("rkllm_release_prompt_cache", handle)

    # int rkllm_clear_kv_cache(LLMHandle handle, int keep_system_prompt, int* start_pos,
    #                          int* end_pos);
    def clear_kv_cache(self, handle: LLMHandle, keep_system_prompt: bool) -> None:
        self._call("rkllm_clear_kv_cache", handle, 1 if keep_system_prompt else 0, None, None)

    # int rkllm_get_kv_cache_size(LLMHandle handle, int* cache_sizes);
    def get_kv_cache_size(self, handle: LLMHandle) -> list[int]:
        """The first batch's KV cache size in tokens (the runtime fills up to 8)."""
        sizes = (c_int * 8)()
        self._call("rkllm_get_kv_cache_size", handle, sizes)
        return [sizes[0]]

    # int rkllm_set_chat_template(LLMHandle handle, const char* system_prompt,
    #                             const char* prompt_prefix, const char* prompt_postfix);
    def set_chat_template(self, handle: LLMHandle, system: str, prefix: str, postfix: str) -> None:
        self._call(
            "rkllm_set_chat_template", handle, system.encode(), prefix.encode(), postfix.encode()
        )

    # int rkllm_set_function_tools(LLMHandle handle, const char* system_prompt,
    #                              const char* tools, const char* tool_response_str);
    def set_function_tools(
        self, handle: LLMHandle, system: str, tools: str, tool_response: str
    ) -> None:
        self._call(
            "rkllm_set_function_tools",
            handle,
            system.encode(),
            tools.encode(),
            tool_response.encode(),
        )
