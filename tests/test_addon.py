"""The Home Assistant add-on: its files follow the Supervisor's rules and reach the service."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import ollama
import pytest
import yaml

from rk_assist.addon import OPTION_MAP, addon_config, discovery_payload, options_to_values
from rk_assist.errors import AddonError, ConfigError
from rk_assist.tools.client import ask, describe

from .rkllm_double import write_model
from .test_cli import free_port, run_command

ROOT = Path(__file__).parent.parent
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
TRANSLATIONS = yaml.safe_load((ROOT / "translations" / "en.yaml").read_text())
S6 = ROOT / "rootfs" / "etc" / "s6-overlay" / "s6-rc.d"
SCRIPTS = [S6 / "rk_assist" / "run", S6 / "rk_assist" / "finish", S6 / "discovery" / "run"]

# The Supervisor's option schema syntax.
SCHEMA_TYPE = re.compile(
    r"^(str|bool|email|url|password|port|device(\(.*\))?|match\(.+\)"
    r"|list\([^|()]+(\|[^|()]+)*\)|int(\((-?\d+)?,(-?\d+)?\))?"
    r"|float(\((-?[\d.]+)?,(-?[\d.]+)?\))?)\??$"
)


def default_matches(kind: str, value) -> bool:
    kind = kind.rstrip("?")
    if kind.startswith("list("):
        return value in kind[5:-1].split("|")
    bounds = re.match(r"(int|float)\((.*),(.*)\)", kind)
    if bounds:
        number = int if bounds.group(1) == "int" else float
        low, high = (number(b) if b else None for b in bounds.group(2, 3))
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and ((low is None or value >= low) and (high is None or value <= high))
        )
    return {"str": str, "bool": bool, "int": int, "float": float}.get(kind, str) is type(value) or (
        kind == "float" and isinstance(value, int)
    )


def test_config_has_what_the_supervisor_requires():
    for key in ("name", "version", "slug", "description", "arch"):
        assert CONFIG[key], key
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert CONFIG["version"] == pyproject["project"]["version"]
    assert CONFIG["slug"] == "rk_assist"
    assert CONFIG["arch"] == ["aarch64", "amd64"]
    assert CONFIG["init"] is False
    assert CONFIG["discovery"] == ["wyoming"]
    assert CONFIG["homeassistant_api"] is True
    assert CONFIG["ports"] == {"10500/tcp": 10500, "11434/tcp": 11434}
    assert {"addon_config:rw", "share:rw"} <= set(CONFIG["map"])
    assert all(device.startswith("/dev/dri/") for device in CONFIG["devices"])
    assert CONFIG["backup_exclude"]


def test_schema_syntax_and_defaults():
    schema, options = CONFIG["schema"], CONFIG["options"]
    for name, kind in schema.items():
        assert SCHEMA_TYPE.match(kind), f"{name}: {kind}"
        assert name in options or kind.endswith("?"), f"{name} has no default"
        if name in options and not (kind.endswith("?") and options[name] == ""):
            assert default_matches(kind, options[name]), f"{name}={options[name]!r} vs {kind}"
    assert set(options) <= set(schema)


def test_every_option_has_a_translation_and_the_port_too():
    configuration = TRANSLATIONS["configuration"]
    for name in CONFIG["schema"]:
        assert configuration[name]["name"] and configuration[name]["description"], name
    assert set(configuration) == set(CONFIG["schema"])
    assert TRANSLATIONS["network"]["10500/tcp"] and TRANSLATIONS["network"]["11434/tcp"]


def test_build_files_cover_every_architecture():
    build = yaml.safe_load((ROOT / "build.yaml").read_text())
    assert set(build["build_from"]) == set(CONFIG["arch"])
    assert all("base-debian" in image for image in build["build_from"].values())
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM ${BUILD_FROM}" in dockerfile and "HEALTHCHECK" in dockerfile
    assert "--describe" in dockerfile  # the health check asks describe over the port
    assert re.fullmatch(r"[0-9a-f]{40}", build["args"]["RKLLM_BLOB"])


def test_the_dockerfile_checksum_is_a_git_blob_id(tmp_path: Path):
    sample = tmp_path / "librkllmrt.so"
    sample.write_bytes(b"\x7fELF not really a library\x00\x01" * 100)
    snippet = re.search(r'actual="\$\( (.*?) \| cut', (ROOT / "Dockerfile").read_text()).group(1)
    snippet = snippet.replace("/usr/lib/librkllmrt.so", str(sample)) + " | cut -d' ' -f1"
    ours = subprocess.run(["bash", "-c", snippet], capture_output=True, text=True, check=True)
    git = subprocess.run(
        ["git", "hash-object", str(sample)], capture_output=True, text=True, check=True
    )
    assert ours.stdout.strip() == git.stdout.strip()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shell_scripts_parse_and_pass_shellcheck(script: Path):
    assert script.stat().st_mode & 0o111, "not executable"
    subprocess.run(["bash", "-n", str(script)], check=True)
    shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    result = subprocess.run(
        [shellcheck, "--severity=style", str(script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_s6_services_are_wired():
    assert (S6 / "rk_assist" / "type").read_text().strip() == "longrun"
    assert (S6 / "discovery" / "type").read_text().strip() == "oneshot"
    assert (S6 / "discovery" / "up").read_text().strip() == "/etc/s6-overlay/s6-rc.d/discovery/run"
    assert (S6 / "discovery" / "dependencies.d" / "rk_assist").exists()
    assert (S6 / "user" / "contents.d" / "rk_assist").exists()
    assert (S6 / "user" / "contents.d" / "discovery").exists()
    assert "--addon-options /data/options.json" in (S6 / "rk_assist" / "run").read_text()


def test_every_option_reaches_the_service(tmp_path: Path):
    assert set(OPTION_MAP) == set(CONFIG["schema"])
    changed = {
        "model": "qwen",
        "runtime": "cpu",
        "language": "de,en",
        "context_length": 2048,
        "temperature": 0.7,
        "max_answer_tokens": 100,
        "conversation_memory": 3,
        "home_control": "off",
        "debug_logging": True,
    }
    options = tmp_path / "data" / "options.json"
    options.parent.mkdir(parents=True)
    options.write_text(json.dumps(changed))
    config = addon_config(options, tmp_path)
    assert (config.model, config.runtime) == ("qwen", "cpu")
    assert config.languages == ("de", "en", "fr", "es", "it", "nl")  # the defaults stay advertised
    assert (config.context_length, config.temperature, config.max_tokens) == (2048, 0.7, 100)
    assert (config.history_turns, config.debug, config.home_control) == (3, True, "off")
    assert config.uri == "tcp://0.0.0.0:10500"
    assert config.models_dir == tmp_path / "share" / "rk-assist" / "models"
    assert config.config_dir == tmp_path / "config"
    assert config.cache_dir == tmp_path / "data" / "cache"
    defaults = addon_config(_write(tmp_path / "d.json", CONFIG["options"]), tmp_path)
    assert defaults.model is None and defaults.context_length is None  # "" and 0: automatic


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperature": "hot"}, "the add-on option 'temperature'"),
        ({"max_answer_tokens": 0}, "the add-on option 'max_answer_tokens'"),
        ({"runtime": "gpu"}, "the add-on option 'runtime'"),
        ({"language": " , "}, "the add-on option 'language'"),
        ({"colour": "blue"}, "unknown add-on option 'colour'"),
    ],
)
def test_bad_options_are_refused_with_the_option_name(tmp_path: Path, options, message):
    # The configuration's own error, named in the add-on's words.
    with pytest.raises(ConfigError, match=re.escape(message)):
        addon_config(_write(tmp_path / "o.json", options), tmp_path)


def test_unreadable_options_file(tmp_path: Path):
    with pytest.raises(AddonError, match="not found"):
        addon_config(tmp_path / "missing.json", tmp_path)
    (tmp_path / "bad.json").write_text("{ nope")
    with pytest.raises(AddonError, match="cannot read"):
        addon_config(tmp_path / "bad.json", tmp_path)


def test_without_the_npu_library_an_rkllm_model_falls_back_to_the_cpu(
    tmp_path: Path, caplog, rkllm_doubles
):
    models = tmp_path / "share" / "rk-assist" / "models" / "qwen3-0.6b"
    models.mkdir(parents=True)
    write_model(models / "Qwen3-0.6B-w8a8-rk3588.rkllm")
    options = _write(tmp_path / "o.json", {"model": "qwen3-0.6b"})
    config = addon_config(options, tmp_path)
    assert config.runtime == "cpu" and config.model is None
    assert "No librkllmrt.so found" in caplog.text
    shutil.copyfile(rkllm_doubles["1.2"], tmp_path / "share" / "rk-assist" / "librkllmrt.so")
    config = addon_config(options, tmp_path)
    assert config.model == "qwen3-0.6b" and config.runtime == "auto"
    assert config.rkllm_library == tmp_path / "share" / "rk-assist" / "librkllmrt.so"


def test_discovery_payload_is_what_the_wyoming_integration_reads():
    payload = discovery_payload("a0d7b954-rk-assist")
    uri = urlparse(payload["uri"])  # Home Assistant's config flow parses it like this
    assert (uri.scheme, uri.hostname, uri.port) == ("tcp", "a0d7b954-rk-assist", 10500)


async def test_discovery_command_prints_json():
    code, out, _ = await run_command("addon-discovery")
    assert code == 0 and urlparse(json.loads(out)["uri"]).port == 10500


async def test_service_starts_from_options_json_like_the_run_script(tmp_path: Path, rkllm_doubles):
    share = tmp_path / "share" / "rk-assist"
    write_model(_mkdir(share / "models" / "qwen3-0.6b") / "Qwen3-0.6B-w8a8-rk3588.rkllm")
    shutil.copyfile(rkllm_doubles["1.3"], share / "librkllmrt.so")
    options = _write(
        tmp_path / "data" / "options.json", {**CONFIG["options"], "model": "qwen3-0.6b"}
    )
    uri = f"tcp://127.0.0.1:{free_port()}"
    http_port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rk_assist",
        "--addon-options",
        str(options),
        "--addon-root",
        str(tmp_path),
        "--uri",
        uri,
        "--http-uri",
        f"http://127.0.0.1:{http_port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(300):
            try:
                info, _ = await describe(uri, timeout=1)
                break
            except OSError:
                await asyncio.sleep(0.1)
        assert info.handle[0].models[0].name == "qwen3-0.6b"
        result = await ask(uri, "Hello there?")
        assert result.handled and "You said" in result.text
        assert (tmp_path / "config" / "system.txt").is_file()
        assert len(list((tmp_path / "data" / "cache" / "qwen3-0.6b").glob("system-*.bin"))) == 1
        # The HTTP API answers too, on the NPU runtime (its faithful double here).
        client = ollama.AsyncClient(host=f"http://127.0.0.1:{http_port}")
        assert (await client.list()).models[0].model == "qwen3-0.6b"
        reply = await client.chat(
            model="qwen3-0.6b", messages=[{"role": "user", "content": "Hello there?"}]
        )
        assert "You said" in reply.message.content
    finally:
        process.terminate()
        await asyncio.wait_for(process.communicate(), 30)


def test_options_to_values_leaves_unset_options_to_the_service(tmp_path: Path):
    values = options_to_values({"model": "", "context_length": 0, "temperature": 0.3}, tmp_path)
    assert "model" not in values and "context_length" not in values
    assert values["temperature"] == "0.3"


def _write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_a_known_model_in_the_options_is_fetched_on_the_first_start(tmp_path: Path):
    """The add-on's Model option takes a known name; the service fetches it from its
    publisher into /share (kept between updates) and answers meanwhile."""
    options = _write(tmp_path / "data" / "options.json", {"model": "qwen2.5-1.5b"})
    config = addon_config(options, tmp_path)
    assert config.pull and config.model == "qwen2.5-1.5b"
    assert config.models_dir == tmp_path / "share" / "rk-assist" / "models"
