"""``rk-assist models pull``: the real ``huggingface_hub`` client against a stand-in of the Hub.

The stand-in (tests/hf_standin.py) answers in the Hub's shapes; faults are the
ones downloads meet at home: a cut connection, the storage host down, bytes
that do not match the published hash, a full disk. After each, what is in the
models folder must be a whole, checked model or nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import ollama
import pytest

from rk_assist.config import build_config
from rk_assist.errors import PullError
from rk_assist.models.board import Board, detect_board, soc_from_compatible
from rk_assist.models.hub import (
    KNOWN_MODELS,
    PARTIAL_DIR,
    HubFile,
    KnownModel,
    plan_known,
    plan_pull,
    pull,
)
from rk_assist.models.library import ModelLibrary
from rk_assist.models.packaged import PACKAGED_MODELS, is_installed, model_path
from rk_assist.service import create_service
from rk_assist.tools.client import ask, describe

from .hf_standin import HubStandIn
from .rkllm_double import write_model
from .tokenizer_files import write_tokenizer_files

ROOT = Path(__file__).parent.parent
OFF_BOARD = Board(None, None, None, None)
RK3588 = Board("rk3588", "1.2.3", "1.2", Path("/usr/lib/librkllmrt.so"))
RK3576 = Board("rk3576", "1.2.3", "1.2", Path("/usr/lib/librkllmrt.so"))
MB = 1 << 20


@pytest.fixture
def hub():
    with HubStandIn() as standin:
        yield standin


def model_bytes(size: int, seed: int = 1) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


def repo_with(hub: HubStandIn, data: bytes, repo: str = "someone/tiny-GGUF") -> KnownModel:
    hub.add(repo, "tiny-q4_k_m.gguf", data)
    return KnownModel("tiny", "test", HubFile(repo, "tiny-q4_k_m.gguf"))


def nothing_installed(models: Path) -> bool:
    return not [entry for entry in ModelLibrary(models).scan()]


def run_cli(*args: str, endpoint: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rk_assist", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "HF_ENDPOINT": endpoint, "PYTHONPATH": str(ROOT), **env},
        timeout=300,
        check=False,
    )


# -- choosing what to fetch ---------------------------------------------------------------------


def test_the_soc_is_read_from_the_device_tree(tmp_path: Path):
    assert soc_from_compatible(b"xunlong,orangepi-5\0rockchip,rk3588s\0") == "rk3588"
    assert soc_from_compatible(b"radxa,rock-5b\0rockchip,rk3588\0") == "rk3588"
    assert soc_from_compatible(b"armsom,sige5\0rockchip,rk3576\0") == "rk3576"
    assert soc_from_compatible(b"raspberrypi,5-model-b\0brcm,bcm2712\0") is None
    assert soc_from_compatible(b"rockchip,rk3566\0") is None  # no NPU rk-assist can use


def test_the_board_is_the_device_tree_and_the_library_version(tmp_path: Path, rkllm_doubles):
    compatible = tmp_path / "compatible"
    compatible.write_bytes(b"xunlong,orangepi-5\0rockchip,rk3588s\0")
    board = detect_board(compatible, rkllm_doubles["1.2"])
    assert (board.soc, board.runtime_abi) == ("rk3588", "1.2")
    assert board.npu_ready
    assert detect_board(compatible, rkllm_doubles["1.3"]).runtime_abi == "1.3"
    assert not detect_board(tmp_path / "absent", rkllm_doubles["1.2"]).npu_ready


def test_a_known_model_is_the_gguf_off_a_board_and_the_npu_build_on_one():
    model = KNOWN_MODELS["qwen2.5-1.5b"]
    gguf = plan_known(model, OFF_BOARD)
    assert (gguf.folder, gguf.saved_as) == ("qwen2.5-1.5b", "model.gguf")
    assert gguf.model.repo == "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF"
    assert gguf.model.sha256 == PACKAGED_MODELS["qwen2.5-1.5b"].sha256
    npu = plan_known(model, RK3588)
    assert npu.folder == "qwen2.5-1.5b-rk3588"
    assert npu.saved_as.endswith(".rkllm") and "rk3588" in npu.saved_as
    # The tokenizer comes first, the model last: the folder is a model only when whole.
    assert [saved for _item, saved in npu.files] == [
        "tokenizer.json",
        "tokenizer_config.json",
        npu.saved_as,
    ]
    # An RK3576 has no known build of it: the GGUF, saying why; asked for .rkllm, an error.
    other = plan_known(model, RK3576)
    assert other.saved_as == "model.gguf" and "rk3576" in other.why
    with pytest.raises(PullError, match=r"no known .rkllm build of qwen2.5-1.5b for this board"):
        plan_known(model, RK3576, "rkllm")
    # The same runtime generation only: an RK3588 with runtime 1.3 cannot load a 1.2 file.
    assert plan_known(model, Board("rk3588", "1.3.0", "1.3", None)).saved_as == "model.gguf"


def test_a_repository_named_alone_gives_its_one_model_file_for_this_machine(hub):
    hub.add("q/Model-GGUF", "model-q8_0.gguf", b"a" * 100)
    hub.add("q/Model-GGUF", "model-q4_k_m.gguf", b"b" * 100)
    hub.add("q/Model-GGUF", "README.md", b"readme")
    plan = plan_pull("q/Model-GGUF", OFF_BOARD, endpoint=hub.endpoint)
    assert plan.model.filename == "model-q4_k_m.gguf" and plan.folder == "model"
    hub.add("c/Model-rk", "model-rk3588-w8a8.rkllm", b"c" * 100)
    hub.add("c/Model-rk", "model-rk3576-w4a16.rkllm", b"d" * 100)
    hub.add("c/Model-rk", "tokenizer.json", b"{}")
    chosen = plan_pull("c/Model-rk", RK3576, endpoint=hub.endpoint)
    assert chosen.model.filename == "model-rk3576-w4a16.rkllm"
    assert [saved for _item, saved in chosen.extras] == ["tokenizer.json"]
    with pytest.raises(PullError, match="name the one to pull"):
        plan_pull("c/Model-rk", OFF_BOARD, "rkllm", endpoint=hub.endpoint)
    with pytest.raises(PullError, match="neither a known model"):
        plan_pull("not-a-repo", OFF_BOARD)


# -- fetching --------------------------------------------------------------------------------


def test_a_pull_puts_the_checked_file_in_place_and_the_token_stays_on_the_hub(
    hub, tmp_path: Path, caplog
):
    data = model_bytes(3 * MB)
    model = repo_with(hub, data)
    caplog.set_level(logging.DEBUG)
    path = pull(plan_known(model, OFF_BOARD), tmp_path, endpoint=hub.endpoint, token="hf_s3cret")
    assert path == tmp_path / "tiny" / "model.gguf"
    assert path.read_bytes() == data
    assert [entry.name for entry in ModelLibrary(tmp_path).scan()] == ["tiny"]
    assert not (tmp_path / PARTIAL_DIR).exists()
    sent = {host.split(":")[0]: auth for host, auth in hub.authorizations}
    assert sent["127.0.0.1"] == "Bearer hf_s3cret"  # the Hub's own host
    assert sent["localhost"] is None  # never to the storage host it redirects to
    assert "hf_s3cret" not in caplog.text
    # Again: the file is there and checked; nothing is fetched.
    fetched = len(hub.ranges_asked())
    assert pull(plan_known(model, OFF_BOARD), tmp_path, endpoint=hub.endpoint) == path
    assert len(hub.ranges_asked()) == fetched


def test_a_connection_cut_mid_file_resumes_where_it_stopped(hub, tmp_path: Path):
    data = model_bytes(12 * MB)
    model = repo_with(hub, data)
    # The client keeps what it read in 10 MiB blocks: cut after 11 MiB, it asks for the rest.
    hub.faults.plan = [("cut", 11 * MB)]
    path = pull(plan_known(model, OFF_BOARD), tmp_path, endpoint=hub.endpoint)
    assert path.read_bytes() == data
    assert hub.ranges_asked() == [None, f"bytes={10 * MB}-"]


def test_a_pull_stopped_by_a_failure_resumes_on_the_next_pull(hub, tmp_path: Path):
    data = model_bytes(12 * MB)
    model = repo_with(hub, data)
    hub.faults.plan = [("cut", 11 * MB), ("down", 0)]
    with pytest.raises(PullError, match=r"stopped at 10 of 13 MB .*the same command resumes it"):
        pull(plan_known(model, OFF_BOARD), tmp_path, endpoint=hub.endpoint)
    assert nothing_installed(tmp_path)
    kept = list((tmp_path / PARTIAL_DIR).iterdir())
    assert [p.stat().st_size for p in kept] == [10 * MB]
    path = pull(plan_known(model, OFF_BOARD), tmp_path, endpoint=hub.endpoint)
    assert path.read_bytes() == data
    assert hub.ranges_asked()[-1] == f"bytes={10 * MB}-"
    assert not (tmp_path / PARTIAL_DIR).exists()


def test_bytes_that_do_not_match_the_published_hash_are_refused(hub, tmp_path: Path):
    model = repo_with(hub, model_bytes(2 * MB))
    hub.faults.plan = [("corrupt", 0)]
    with pytest.raises(PullError, match=r"not the published .*nothing was installed"):
        pull(plan_known(model, OFF_BOARD), tmp_path, endpoint=hub.endpoint)
    assert nothing_installed(tmp_path)
    assert not list((tmp_path / PARTIAL_DIR).glob("*"))


def test_a_file_the_publisher_changed_is_refused_before_downloading(hub, tmp_path: Path):
    hub.add("someone/tiny-GGUF", "tiny-q4_k_m.gguf", model_bytes(MB))
    pinned = KnownModel(
        "tiny", "test", HubFile("someone/tiny-GGUF", "tiny-q4_k_m.gguf", sha256="ab" * 32)
    )
    with pytest.raises(PullError, match="the publisher changed the file"):
        pull(plan_known(pinned, OFF_BOARD), tmp_path, endpoint=hub.endpoint)
    assert hub.ranges_asked() == []
    assert nothing_installed(tmp_path)


def test_missing_files_repositories_and_hosts_are_said_plainly(hub, tmp_path: Path):
    hub.add("someone/tiny-GGUF", "other.gguf", b"x")
    missing = KnownModel("t", "t", HubFile("someone/tiny-GGUF", "tiny-q4_k_m.gguf"))
    with pytest.raises(PullError, match=r"someone/tiny-GGUF has no file tiny-q4_k_m.gguf"):
        pull(plan_known(missing, OFF_BOARD), tmp_path, endpoint=hub.endpoint)
    nowhere = KnownModel("t", "t", HubFile("nobody/nothing", "x.gguf"))
    with pytest.raises(PullError, match="no repository nobody/nothing"):
        pull(plan_known(nowhere, OFF_BOARD), tmp_path, endpoint=hub.endpoint)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(PullError, match=f"cannot reach http://127.0.0.1:{port}"):
        pull(plan_known(missing, OFF_BOARD), tmp_path, endpoint=f"http://127.0.0.1:{port}")
    assert nothing_installed(tmp_path)


def test_a_tokenizer_kept_in_git_is_checked_by_its_blob_id(hub, tmp_path: Path):
    folder = write_tokenizer_files(tmp_path / "made")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        hub.add("c/Tiny-rk3588", name, (folder / name).read_bytes(), lfs=False)
    model_file = write_model(tmp_path / "Tiny-rk3588-w8a8.rkllm")
    hub.add("c/Tiny-rk3588", model_file.name, model_file.read_bytes(), lfs=True)
    plan = plan_pull("c/Tiny-rk3588", RK3588, endpoint=hub.endpoint)
    path = pull(plan, tmp_path / "models", endpoint=hub.endpoint)
    entry = ModelLibrary(tmp_path / "models").find(plan.folder)
    assert entry.path == path and entry.runtime == "rkllm"
    assert entry.tokenizer_dir == path.parent


# -- the disk -------------------------------------------------------------------------------


def _small_disk_command(size_mb: int, disk: Path, script: str) -> list[str] | None:
    """A shell in a mount namespace with a tmpfs of ``size_mb`` at ``disk`` (no root needed)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    probe = subprocess.run(
        [unshare, "--user", "--map-root-user", "--mount", "true"], capture_output=True
    )
    if probe.returncode != 0:
        return None
    disk.mkdir(parents=True, exist_ok=True)
    return [
        unshare,
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        f"mount -t tmpfs -o size={size_mb}m tmpfs {disk} && {script}",
    ]


def test_a_model_larger_than_the_free_space_is_refused_before_downloading(hub, tmp_path):
    hub.add("someone/big-GGUF", "big-q4_k_m.gguf", model_bytes(24 * MB))
    disk = tmp_path / "disk"
    command = _small_disk_command(
        80, disk, f"{sys.executable} -m rk_assist models --models-dir {disk} pull someone/big-GGUF"
    )
    if command is None:
        pytest.skip("no user namespaces here to mount a small disk in")
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_ENDPOINT": hub.endpoint, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "not enough free space" in result.stderr and "MB free" in result.stderr
    assert hub.ranges_asked() == []


def test_a_disk_that_fills_up_mid_download_leaves_no_model(hub, tmp_path):
    hub.add("someone/tiny-GGUF", "tiny-q4_k_m.gguf", model_bytes(8 * MB))
    hub.faults.slow = 2.0  # time for something else to fill the disk
    disk = tmp_path / "disk"
    partial = disk / PARTIAL_DIR
    script = (
        f"({sys.executable} -m rk_assist models --models-dir {disk} pull someone/tiny-GGUF "
        f"2>{tmp_path}/err; echo $? > {tmp_path}/rc) & "
        f"while [ ! -d {partial} ]; do sleep 0.05; done; "
        f"dd if=/dev/zero of={disk}/filler bs=1M 2>/dev/null; wait; "
        f"ls -A {disk} > {tmp_path}/left; ls -A {partial} >> {tmp_path}/left 2>/dev/null; true"
    )
    command = _small_disk_command(72, disk, script)
    if command is None:
        pytest.skip("no user namespaces here to mount a small disk in")
    subprocess.run(
        command,
        env={**os.environ, "HF_ENDPOINT": hub.endpoint, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=True,
    )
    err = (tmp_path / "err").read_text()
    assert (tmp_path / "rc").read_text().strip() == "1", err
    assert "the disk filled up" in err and "partial file was removed" in err
    # Only the filler and the empty partial folder: no model, no half file.
    assert sorted((tmp_path / "left").read_text().split()) == [PARTIAL_DIR, "filler"]


# -- end to end: the command, and the model it installs serving ---------------------------------


def chat_config(tmp_path: Path, model: str, models: Path, **extra: str):
    """A service of the model, chat only, on a free port: enough to see it answer."""
    values = {
        "uri": "tcp://127.0.0.1:0",
        "model": model,
        "models_dir": str(models),
        "config_dir": str(tmp_path / "config"),
        "cache_dir": str(tmp_path / "cache"),
        "home_control": "off",
        "temperature": "0",
        "max_tokens": "32",
    }
    return build_config({**values, **extra}, environ={})


def installed_packaged() -> list[str]:
    return [
        name for name in PACKAGED_MODELS if is_installed(ROOT / "models", PACKAGED_MODELS[name])
    ]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=pytest.mark.skipif(
                name not in installed_packaged(),
                reason=f"script/models {name} installs its packaged copy to publish",
            ),
        )
        for name in PACKAGED_MODELS
    ],
)
async def test_the_pull_command_installs_a_known_qwen_that_serves(hub, tmp_path: Path, name):
    known = KNOWN_MODELS[name].gguf
    # The stand-in publishes the very bytes Qwen publishes (the packaged copy, same hash).
    hub.add(
        known.repo, known.filename, model_path(ROOT / "models", PACKAGED_MODELS[name]).read_bytes()
    )
    models = tmp_path / "models"
    result = await asyncio.to_thread(
        run_cli,
        "models",
        "--models-dir",
        str(models),
        "pull",
        name,
        endpoint=hub.endpoint,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"serve it with --model {name}" in result.stdout
    assert "Downloading" in result.stderr and "100%" in result.stderr
    assert is_installed(models, PACKAGED_MODELS[name])
    service = await create_service(chat_config(tmp_path, name, models))
    await service.start()
    try:
        assert service.plan.entry.path == models / name / "model.gguf"
        answer = await ask(f"tcp://127.0.0.1:{service.port}", "What is the capital of France?")
        assert "Paris" in answer.text
    finally:
        await service.stop()


@pytest.mark.skipif(
    "qwen2.5-0.5b" not in installed_packaged(), reason="script/setup installs the 0.5B Qwen"
)
async def test_a_service_asked_to_pull_answers_getting_ready_then_serves_the_model(
    hub, tmp_path: Path, monkeypatch
):
    """The add-on's first start: Home Assistant finds the service at once, a request
    meanwhile hears why nothing happens, and the model serves once fetched."""
    known = KNOWN_MODELS["qwen2.5-0.5b"].gguf
    hub.add(
        known.repo,
        known.filename,
        model_path(ROOT / "models", PACKAGED_MODELS["qwen2.5-0.5b"]).read_bytes(),
    )
    hub.faults.slow = 4.0
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    models = tmp_path / "models"
    config = chat_config(
        tmp_path, "qwen2.5-0.5b", models, pull="true", http_uri="http://127.0.0.1:0"
    )
    service = await create_service(config)
    await service.start()
    uri = f"tcp://127.0.0.1:{service.port}"
    try:
        while not hub.ranges_asked():
            await asyncio.sleep(0.05)
        info, _seconds = await describe(uri)
        handle = info.handle[0]
        assert handle.installed and "getting qwen2.5-0.5b ready" in handle.models[0].description
        waiting = await ask(uri, "What is the capital of France?", language="de")
        assert not waiting.handled
        assert "heruntergeladen" in waiting.text
        # Home Assistant's Ollama integration hears the same, naming the model it chose.
        assert service.http is not None
        client = ollama.AsyncClient(host=f"http://127.0.0.1:{service.http.port}")
        chat = await client.chat(
            model="qwen2.5-0.5b", messages=[{"role": "user", "content": "Hello there"}]
        )
        assert "getting ready" in chat.message.content
        for _ in range(1200):
            if service.fetching is None:
                break
            await asyncio.sleep(0.1)
        assert service.plan.entry.name == "qwen2.5-0.5b"
        assert service.plan.entry.path == models / "qwen2.5-0.5b" / "model.gguf"
        info, _seconds = await describe(uri)
        assert info.handle[0].models[0].description.startswith("qwen2.5-0.5b on")
        answer = await ask(uri, "What is the capital of France?")
        assert "Paris" in answer.text
    finally:
        await service.stop()
    # The next start serves it from the disk, asking the Hub nothing.
    asked = len(hub.requests)
    again = await create_service(config)
    try:
        assert again.fetching is None and again.plan.entry.name == "qwen2.5-0.5b"
        assert len(hub.requests) == asked
    finally:
        await again.stop()
