"""Prompt state saved on disk, so a restart skips the system prompt's prefill.

A cache file is only ever used when its metadata proves it belongs to this
model, this prompt and these runtime settings (``key``) and its content
matches the recorded size and SHA-256. Anything else (stale, truncated,
corrupt, foreign) is reported and rebuilt, never loaded: feeding a runtime
a wrong state would make it answer from someone else's prompt, or crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger(__name__)
FORMAT_VERSION = 1


def fingerprint_file(path: Path, sample_bytes: int = 1 << 20) -> str:
    """A cheap identity for a multi-gigabyte model file.

    Hashing a whole 2 GB model at every start would cost seconds; its size
    plus its first and last megabyte tell two model files apart in practice.
    """
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(sample_bytes))
        if size > sample_bytes:
            handle.seek(max(size - sample_bytes, sample_bytes))
            digest.update(handle.read(sample_bytes))
    return digest.hexdigest()


def cache_key(**parts: Any) -> str:
    """Hash of everything the cached state depends on."""
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


#: Each prompt has a cache of its own, named by its hash: the service's prompts
#: (chat only, or with the home) ``system-<hash>``, prompts that HTTP clients send
#: ``prefix-<hash>``. Switching between prompts, a Home Assistant reconnect or a
#: restart then loads a saved state instead of overwriting the other prompt's.
SERVICE_CACHE_PREFIX = "system-"
CLIENT_CACHE_PREFIX = "prefix-"
#: How many of each kind are kept per model, the least recently used deleted first.
KEEP_ON_DISK = {SERVICE_CACHE_PREFIX: 4, CLIENT_CACHE_PREFIX: 8}


def service_cache_name(system_prompt: str, tools_json: str | None) -> str:
    """The cache file name for one of the service's own system prompts."""
    return SERVICE_CACHE_PREFIX + cache_key(system=system_prompt, tools=tools_json)[:16]


def client_cache_name(system_prompt: str, tools_json: str | None) -> str:
    """The cache file name for a system prompt and tools that a client sent."""
    name = CLIENT_CACHE_PREFIX + cache_key(system=system_prompt, tools=tools_json)[:16]
    if _LOGGER.isEnabledFor(logging.DEBUG):  # why a client's prompt is not reused
        _LOGGER.debug(
            "%s: system %s, tools %s",
            name,
            cache_key(system=system_prompt)[:16],
            cache_key(tools=tools_json)[:16],
        )
    return name


def forget_least_recent(directory: Path) -> None:
    """Keep the most recently used caches of each kind; delete the rest."""
    for prefix, keep in KEEP_ON_DISK.items():
        saved = sorted(
            directory.glob(f"{prefix}*.json"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for metadata in saved[keep:]:
            PromptCacheFile(directory, metadata.stem).delete()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


class PromptCacheFile:
    """``<directory>/<name>.bin`` plus ``<name>.json`` describing it."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.bin_path = directory / f"{name}.bin"
        self.json_path = directory / f"{name}.json"

    def read_metadata(self) -> dict[str, Any] | None:
        try:
            metadata = json.loads(self.json_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            _LOGGER.warning("Prompt cache metadata %s is unreadable (%s)", self.json_path, err)
            return None
        return metadata if isinstance(metadata, dict) else None

    def read(self, key: str) -> bytes | None:
        """The cached bytes if they are valid for ``key``; None (with a log line) if not."""
        metadata = self.read_metadata()
        if metadata is None:
            if self.bin_path.exists():
                _LOGGER.warning("Prompt cache %s has no valid metadata; rebuilding", self.bin_path)
            return None
        problem = None
        data = b""
        if metadata.get("format") != FORMAT_VERSION or metadata.get("key") != key:
            problem = "it was made for another model, prompt or setting"
        else:
            try:
                data = self.bin_path.read_bytes()
            except OSError as err:
                problem = f"it cannot be read ({err})"
            else:
                if len(data) != metadata.get("size"):
                    problem = f"its size is {len(data)} bytes, not {metadata.get('size')}"
                elif hashlib.sha256(data).hexdigest() != metadata.get("sha256"):
                    problem = "its content does not match its checksum"
        if problem:
            _LOGGER.info("Not using prompt cache %s: %s; rebuilding", self.bin_path, problem)
            return None
        self.touch()
        return data

    def touch(self) -> None:
        """Mark the cache used now, for :func:`forget_least_recent`."""
        with contextlib.suppress(OSError):
            os.utime(self.json_path)

    def write(self, key: str, data: bytes, **info: Any) -> None:
        """Atomically replace the cache; metadata last, so a crash leaves no valid pair."""
        with contextlib.suppress(FileNotFoundError):
            self.json_path.unlink()
        _atomic_write(self.bin_path, data)
        self._write_metadata(key, len(data), hashlib.sha256(data).hexdigest(), info)

    def writing_path(self) -> Path:
        """Where a runtime that writes its own cache file should write it.

        Invalidates the current pair first; :meth:`adopt` then moves the new
        file into place, so the pair is never half written.
        """
        with contextlib.suppress(FileNotFoundError):
            self.json_path.unlink()
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / f".{self.name}.bin.writing"

    def adopt(self, written: Path, key: str, **info: Any) -> None:
        """Record a cache file a runtime wrote at :meth:`writing_path`."""
        digest = hashlib.sha256()
        size = 0
        with written.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
        os.replace(written, self.bin_path)
        self._write_metadata(key, size, digest.hexdigest(), info)

    def integrity(self) -> str:
        """'ok', or what is wrong, judged by the file alone (no key needed)."""
        metadata = self.read_metadata()
        if metadata is None:
            return "no metadata"
        try:
            data = self.bin_path.read_bytes()
        except OSError as err:
            return f"unreadable ({err.strerror or err})"
        if len(data) != metadata.get("size"):
            return "truncated or grown"
        if hashlib.sha256(data).hexdigest() != metadata.get("sha256"):
            return "checksum mismatch"
        return "ok"

    def is_valid(self, key: str) -> bool:
        return self.read(key) is not None

    def _write_metadata(self, key: str, size: int, sha256: str, info: dict[str, Any]) -> None:
        metadata = {
            "format": FORMAT_VERSION,
            "name": self.name,
            "key": key,
            "size": size,
            "sha256": sha256,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **info,
        }
        _atomic_write(self.json_path, json.dumps(metadata, indent=2).encode("utf-8"))

    def delete(self) -> None:
        for path in (self.json_path, self.bin_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def saved_caches(cache_dir: Path) -> list[PromptCacheFile]:
    """Every prompt cache under ``cache_dir`` (``<model>/<name>.json`` and its ``.bin``)."""
    if not cache_dir.is_dir():
        return []
    return [
        PromptCacheFile(folder, metadata.stem)
        for folder in sorted(p for p in cache_dir.iterdir() if p.is_dir())
        for metadata in sorted(folder.glob("*.json"))
    ]


def describe_cache(cache: PromptCacheFile) -> dict[str, Any]:
    """What the cache command and the HTTP API list of one cache."""
    metadata = cache.read_metadata() or {}
    return {
        "model": cache.directory.name,
        "name": cache.name,
        "size": metadata.get("size", 0),
        "tokens": metadata.get("tokens"),
        "source": metadata.get("source"),
        "created": metadata.get("created"),
        "state": cache.integrity(),
    }


def delete_saved(cache_dir: Path, model: str | None, name: str | None) -> list[PromptCacheFile]:
    """Delete the caches of ``model`` named ``name`` (None: any); the ones deleted."""
    doomed = [
        cache
        for cache in saved_caches(cache_dir)
        if (model is None or cache.directory.name == model) and (name is None or cache.name == name)
    ]
    for cache in doomed:
        cache.delete()
    return doomed
