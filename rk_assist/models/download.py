"""Fetching one file from the Hugging Face Hub so that only a whole, checked file is ever kept.

The Hub's client (``huggingface_hub``) does the talking: the endpoint and token,
the metadata HEAD, redirects to the storage host, retries and the ranged GET.
Around it, what a model at home needs: the SHA-256 the Hub publishes (an LFS
file's ETag; a file kept in git is checked by its blob id), free space first,
the bytes so far kept under a name of the file's hash so a later pull resumes
them, a full disk said plainly, and the file moved into place only when whole.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import PullError
from .packaged import file_digest, mark_verified, verified_before

_LOGGER = logging.getLogger(__name__)

#: Room left free beyond the file itself: a full disk breaks the cache, logs and HA.
SPARE_BYTES = 64 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_GIT_SHA1 = re.compile(r"^[0-9a-f]{40}$")
DEFAULT_ENDPOINT = "https://huggingface.co"


def hub_endpoint(endpoint: str | None = None) -> str:
    """The Hub asked: the one given, else ``HF_ENDPOINT`` as it is now, else huggingface.co.

    Read at each pull, not when huggingface_hub was imported, so that every request of
    one pull (listing, metadata, bytes) and its messages name the same host.
    """
    return endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT


@dataclass(frozen=True)
class HubFile:
    repo: str
    filename: str
    revision: str = "main"
    sha256: str | None = None  # our table's, where we have one; the Hub's is always checked


class LoggedProgress:
    """Progress as log lines (every 10 %), for the add-on's log where no terminal draws bars.

    ``huggingface_hub`` builds it with tqdm's arguments; ``report`` gets the
    fraction done, for the service to say while it waits.
    """

    def __init__(
        self,
        *,
        total: int | None = None,
        initial: int = 0,
        desc: str = "",
        report: Callable[[float], None] | None = None,
        **_ignored: Any,
    ) -> None:
        self.total = total
        self.done = initial
        self.desc = desc
        self._report = report
        self._logged_tenth = -1
        self.update(0)

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.total:
            return
        fraction = min(self.done / self.total, 1.0)
        if self._report is not None:
            self._report(fraction)
        tenth = int(fraction * 10)
        if tenth != self._logged_tenth:
            self._logged_tenth = tenth
            _LOGGER.info(
                "Downloading %s: %d%% of %.0f MB", self.desc, fraction * 100, self.total / 1e6
            )

    def update_transfer(self, n: int) -> None:  # counted by update() already
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> LoggedProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _progress_class(report: Callable[[float], None] | None) -> Any:
    """A bar on a terminal (huggingface_hub's own), log lines elsewhere."""
    if report is None and sys.stderr.isatty():
        return None
    return lambda **kwargs: LoggedProgress(report=report, **kwargs)


def _same_host(a: str, b: str) -> bool:
    first, second = urlparse(a), urlparse(b)
    return (first.scheme, first.netloc) == (second.scheme, second.netloc)


def hub_error(err: Exception, repo: str, filename: str | None, endpoint: str) -> str:
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{repo}:{filename}" if filename else repo
    if isinstance(err, GatedRepoError):
        return f"{repo} is gated: accept its terms on the Hub and set HF_TOKEN"
    if isinstance(err, RepositoryNotFoundError):
        return f"no repository {repo} on the Hub (or it is private: set HF_TOKEN)"
    if isinstance(err, RevisionNotFoundError):
        return f"{repo} has no such revision"
    if isinstance(err, EntryNotFoundError):
        return f"{repo} has no file {filename}"
    if isinstance(err, HfHubHTTPError):
        status = err.response.status_code if err.response is not None else "?"
        return f"the Hub answered {status} for {where}"
    return f"cannot reach {endpoint} for {where} ({type(err).__name__}: {err})"


def _file_digest(path: Path, git_blob: bool) -> str:
    if not git_blob:
        return file_digest(path, hashlib.sha256())
    # A file kept in git (not LFS): the Hub's ETag is its git blob id.
    return file_digest(path, hashlib.sha1(f"blob {path.stat().st_size}\0".encode()))


@dataclass(frozen=True)
class FileOnHub:
    location: str  # where the bytes are (a CDN for LFS files)
    size: int
    sha256: str | None  # the Hub's, for an LFS file
    git_sha1: str | None  # the Hub's, for a file kept in git


def _look_up(item: HubFile, endpoint: str, token: str | None) -> FileOnHub:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(item.repo, item.filename, revision=item.revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=token, endpoint=endpoint)
    except Exception as err:
        raise PullError(hub_error(err, item.repo, item.filename, endpoint)) from err
    etag = (meta.etag or "").lower()
    sha256 = etag if _SHA256.match(etag) else None
    git_sha1 = etag if _GIT_SHA1.match(etag) else None
    if meta.size is None or not (sha256 or git_sha1):
        raise PullError(
            f"the Hub gave no size or checksum for {item.repo}:{item.filename}; refusing an "
            "unchecked file"
        )
    if item.sha256 and sha256 and item.sha256 != sha256:
        raise PullError(
            f"{item.repo}:{item.filename} on the Hub has SHA-256 {sha256}, not the {item.sha256} "
            "rk-assist knows for it: the publisher changed the file; refusing it"
        )
    return FileOnHub(meta.location, meta.size, sha256 or item.sha256, git_sha1)


def _free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def fetch_file(
    item: HubFile,
    target: Path,
    partial_dir: Path,
    *,
    endpoint: str,
    token: str | None = None,
    report: Callable[[float], None] | None = None,
) -> Path:
    """Put the Hub's file at ``target``, checked; resumes bytes a cut pull left behind."""
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    if item.sha256 and target.is_file() and verified_before(target, item.sha256):
        _LOGGER.info("%s is already in place and checked", target)
        return target  # no need to ask the Hub: the table's hash was checked before
    found = _look_up(item, endpoint, token)
    expected = found.sha256 or found.git_sha1
    assert expected is not None
    if target.is_file() and verified_before(target, expected):
        _LOGGER.info("%s is already in place and checked", target)
        return target
    partial_dir.mkdir(parents=True, exist_ok=True)
    partial = partial_dir / f"{expected}.part"
    have = partial.stat().st_size if partial.is_file() else 0
    if have > found.size:
        partial.unlink()
        have = 0
    needed = found.size - have + SPARE_BYTES
    free = _free_bytes(partial_dir)
    if free < needed:
        raise PullError(
            f"not enough free space in {partial_dir.parent}: {item.filename} needs "
            f"{(found.size - have) / 1e6:.0f} MB more (and {SPARE_BYTES >> 20} MB spare), "
            f"{free / 1e6:.0f} MB free"
        )
    if have:
        _LOGGER.info("Resuming %s at %.0f of %.0f MB", item.filename, have / 1e6, found.size / 1e6)
    # The token goes to the Hub only, never to the storage host a file redirects to.
    headers = build_hf_headers(token=token if _same_host(found.location, endpoint) else False)
    try:
        with partial.open("ab") as out:
            http_get(
                found.location,
                out,
                resume_size=have,
                headers=headers,
                expected_size=found.size,
                displayed_filename=item.filename,
                tqdm_class=_progress_class(report),
            )
    except Exception as err:
        if getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
            partial.unlink(missing_ok=True)
            raise PullError(
                f"the disk filled up while writing {item.filename} in {partial_dir.parent}; "
                "the partial file was removed: free some space and pull again"
            ) from err
        done = partial.stat().st_size if partial.is_file() else 0
        if isinstance(err, OSError) and done >= found.size:  # all there yet wrong
            partial.unlink(missing_ok=True)
        raise PullError(
            f"the download of {item.filename} stopped at {done / 1e6:.0f} of "
            f"{found.size / 1e6:.0f} MB ({_short(err)}); the same command resumes it"
        ) from err
    actual = _file_digest(partial, git_blob=found.sha256 is None)
    if actual != expected:
        partial.unlink(missing_ok=True)
        raise PullError(
            f"{item.filename} arrived with checksum {actual}, not the published {expected}; "
            "it was removed, nothing was installed"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, target)
    mark_verified(target, expected)
    return target


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
