"""Model discovery, per-model settings and context selection."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rk_assist.errors import ModelFileError
from rk_assist.models.context import choose_context, memory_allows
from rk_assist.models.library import ModelLibrary, resolve_model


def touch(path: Path, data: bytes = b"GGUF" + b"\0" * 60) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def library(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    touch(
        models / "qwen3-0.6b" / "Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm",
        b"RKLLM",
    )
    (models / "qwen3-0.6b" / "model.yaml").write_text("thinking: false\ntemperature: 0.5\n")
    touch(models / "Qwen2.5-1.5B-Instruct-rk3588-w8a8.rkllm", b"RKLLM")
    touch(models / "qwen2.5-1.5b-instruct-q4_k_m.gguf")
    touch(models / "notes" / "README.txt", b"not a model")
    return models


def test_folders_and_loose_files_are_found_with_friendly_names(library: Path):
    entries = {e.name: e for e in ModelLibrary(library).scan()}
    assert set(entries) == {"qwen3-0.6b", "qwen2.5-1.5b-rk3588-w8a8", "qwen2.5-1.5b-q4_k_m"}
    folder_model = entries["qwen3-0.6b"]
    assert folder_model.runtime == "rkllm" and folder_model.folder == library / "qwen3-0.6b"
    assert folder_model.settings == {"thinking": False, "temperature": 0.5}
    assert folder_model.context_from_file_name == 16384
    assert entries["qwen2.5-1.5b-q4_k_m"].runtime == "cpu"
    assert entries["qwen2.5-1.5b-q4_k_m"].folder is None


def test_models_are_found_by_friendly_name_or_file_name(library: Path):
    models = ModelLibrary(library)
    assert models.find("QWEN3-0.6B").name == "qwen3-0.6b"
    by_file = models.find("qwen2.5-1.5b-instruct-q4_k_m.gguf")
    assert by_file.name == "qwen2.5-1.5b-q4_k_m"
    assert models.find("Qwen2.5-1.5B-Instruct-rk3588-w8a8").runtime == "rkllm"
    with pytest.raises(ModelFileError, match=r"no model named 'llama'.*available: qwen2\.5"):
        models.find("llama")


def test_a_folder_with_two_models_warns_and_names_the_one_used(tmp_path: Path, caplog):
    folder = tmp_path / "models" / "qwen"
    touch(folder / "b-Q8_0.gguf")
    touch(folder / "a-Q4_0.gguf")
    with caplog.at_level(logging.WARNING):
        entry = ModelLibrary(tmp_path / "models").find("qwen")
    assert entry.path.name == "a-Q4_0.gguf"
    assert "holds 2 model files" in caplog.text and "using a-Q4_0.gguf" in caplog.text
    (folder / "model.yaml").write_text("file: b-Q8_0.gguf\n")
    assert ModelLibrary(tmp_path / "models").find("qwen").path.name == "b-Q8_0.gguf"
    (folder / "model.yaml").write_text("file: c.gguf\n")
    with pytest.raises(ModelFileError, match=r"'c\.gguf', which is not there"):
        ModelLibrary(tmp_path / "models").find("qwen")


def test_a_loose_file_that_collides_with_a_folder_is_renamed(tmp_path: Path):
    touch(tmp_path / "qwen3-1.7b" / "x.gguf")
    touch(tmp_path / "Qwen3-1.7B-Q8_0.gguf")
    names = {e.name for e in ModelLibrary(tmp_path).scan()}
    assert names == {"qwen3-1.7b", "qwen3-1.7b-file"}


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("context_length: lots\n", "context_length"),
        ("runtime: gpu\n", "runtime"),
        ("colour: blue\n", "colour"),
        ("{ nope", "cannot read"),
    ],
)
def test_bad_model_yaml_is_reported_with_the_key(tmp_path: Path, yaml_text, message):
    touch(tmp_path / "m" / "m.gguf")
    (tmp_path / "m" / "model.yaml").write_text(yaml_text)
    with pytest.raises(ModelFileError, match=message):
        ModelLibrary(tmp_path).find("m")


def test_resolve_accepts_paths_and_folders(library: Path):
    loose = library / "qwen2.5-1.5b-instruct-q4_k_m.gguf"
    assert resolve_model(str(loose), Path("elsewhere")).path == loose
    assert resolve_model(str(library / "qwen3-0.6b"), Path("x")).name == "qwen3-0.6b"
    assert resolve_model("qwen3-0.6b", library).runtime == "rkllm"
    with pytest.raises(ModelFileError, match="model file not found"):
        resolve_model(str(library / "gone.gguf"), library)


GB = 1 << 30


@pytest.mark.parametrize(
    ("kwargs", "length", "rule"),
    [
        ({"configured": 2048, "model_setting": 4096}, 2048, "set in the configuration"),
        ({"model_setting": 3000, "file_tag": 16384}, 3000, "set in model.yaml"),
        ({"file_tag": 8192}, 8192, "ctx tag"),
        ({"metadata": 32768}, 32768, "trained context"),
        ({}, 4096, "default"),
    ],
)
def test_context_rules_in_order(kwargs, length, rule):
    choice = choose_context(
        runtime="cpu",
        model_limit=None,
        model_bytes=GB,
        memory_bytes=64 * GB,
        kv_bytes_per_token=28_000,
        **{"configured": None, "model_setting": None, "file_tag": None, "metadata": None, **kwargs},
    )
    assert choice.length == length and rule in choice.rule


def test_context_caps_runtime_limit_model_limit_memory_and_rounding():
    rkllm = choose_context(
        runtime="rkllm",
        configured=20000,
        model_setting=None,
        file_tag=None,
        metadata=None,
        model_limit=None,
        model_bytes=GB,
        memory_bytes=64 * GB,
    )
    assert rkllm.length == 16384 and "RKLLM limit" in rkllm.rule
    tagged = choose_context(
        runtime="rkllm",
        configured=8000,
        model_setting=None,
        file_tag=4096,
        metadata=None,
        model_limit=None,
        model_bytes=GB,
        memory_bytes=64 * GB,
    )
    assert tagged.length == 4096 and "model's limit" in tagged.rule
    odd = choose_context(
        runtime="rkllm",
        configured=1000,
        model_setting=None,
        file_tag=None,
        metadata=None,
        model_limit=None,
        model_bytes=GB,
        memory_bytes=64 * GB,
    )
    assert odd.length == 992 and "multiple of 32" in odd.rule
    small_board = choose_context(
        runtime="cpu",
        configured=None,
        model_setting=None,
        file_tag=None,
        metadata=32768,
        model_limit=32768,
        model_bytes=2 * GB,
        memory_bytes=4 * GB,
        kv_bytes_per_token=100_000,
    )
    assert small_board.length < 32768 and "memory" in small_board.rule
    assert small_board.length == memory_allows(4 * GB, 2 * GB, 100_000)


def test_the_embedded_model_is_listed_and_taken_by_the_name_the_service_reports(
    tmp_path: Path, capsys
):
    from rk_assist.__main__ import main
    from rk_assist.config import build_config
    from rk_assist.models.select import plan_model

    config = build_config({"models_dir": str(tmp_path)}, environ={})
    default = plan_model(config)
    assert default.embedded
    by_name = plan_model(config, default.entry.name)
    assert by_name.embedded and by_name.entry.path == default.entry.path
    assert plan_model(config, default.entry.name + ":latest").embedded
    with pytest.raises(ModelFileError):
        plan_model(config, "no-such-model")

    assert main(["models", "--models-dir", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert default.entry.name in listed and "embedded default" in listed


def test_with_no_model_named_the_packaged_qwen_is_served_where_installed(tmp_path: Path, caplog):
    from rk_assist.config import build_config
    from rk_assist.models.packaged import DEFAULT_PACKAGED
    from rk_assist.models.select import embedded_entry, plan_model

    caplog.set_level(logging.INFO)
    config = build_config({"models_dir": str(tmp_path)}, environ={})
    assert plan_model(config).embedded
    assert "no qwen2.5-0.5b in" in caplog.text and "serving the embedded" in caplog.text
    installed = tmp_path / DEFAULT_PACKAGED
    installed.mkdir()
    # Any GGUF stands in for the Qwen's 491 MB here: what is chosen is the folder.
    (installed / "model.gguf").symlink_to(embedded_entry().path)
    caplog.clear()
    plan = plan_model(config)
    assert plan.entry.name == DEFAULT_PACKAGED and not plan.embedded
    assert "No --model given: serving qwen2.5-0.5b, the packaged Qwen" in caplog.text
    # Named, the embedded model is still served.
    assert plan_model(config, embedded_entry().name).embedded
