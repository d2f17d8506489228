import re
import subprocess
import sys
from pathlib import Path

import pytest

from rk_assist.config import build_config
from rk_assist.errors import ConfigError


def test_defaults():
    config = build_config({}, environ={})
    assert config.uri == "tcp://0.0.0.0:10500"
    assert config.model is None
    assert config.config_dir == Path("config")
    assert config.cache_dir == Path("cache")
    assert config.languages == ("en", "de", "fr", "es", "it", "nl") and config.language == "en"
    assert config.prompt_cache is True
    assert config.runtime == "auto" and config.rkllm_abi == "auto"
    assert config.context_length is None and config.explicit == frozenset()
    assert config.rkllm_cpu_mask == 0xF0 and config.rkllm_embed_flash is True


def test_rkllm_options():
    config = build_config(
        {"runtime": "rkllm", "rkllm_cpu_mask": "0x0F", "rkllm_embed_flash": False},
        environ={"RK_ASSIST_RKLLM_LIBRARY": "/opt/rk/librkllmrt.so", "RK_ASSIST_RKLLM_ABI": "1.3"},
    )
    assert config.runtime == "rkllm" and config.rkllm_abi == "1.3"
    assert config.rkllm_library == Path("/opt/rk/librkllmrt.so")
    assert config.rkllm_cpu_mask == 0x0F and config.rkllm_embed_flash is False


def test_environment_overrides_default_and_command_line_overrides_environment():
    environ = {
        "RK_ASSIST_TEMPERATURE": "0.7",
        "RK_ASSIST_LANGUAGES": "de, en",
        "RK_ASSIST_PROMPT_CACHE": "false",
        "RK_ASSIST_MODEL": "/m/x.gguf",
    }
    config = build_config({}, environ=environ)
    assert config.temperature == 0.7
    assert config.languages == ("de", "en") and config.language == "de"
    assert config.prompt_cache is False
    assert config.model == "/m/x.gguf"
    assert config.explicit == {"model", "languages", "temperature", "prompt_cache"}
    config = build_config({"temperature": "0.1"}, environ=environ)
    assert config.temperature == 0.1


@pytest.mark.parametrize(
    ("cli", "environ", "expected"),
    [
        ({"temperature": "hot"}, {}, "--temperature"),
        ({}, {"RK_ASSIST_TEMPERATURE": "9"}, "RK_ASSIST_TEMPERATURE"),
        ({"uri": "http://x:1"}, {}, "--uri"),
        ({"uri": "tcp://host:99999"}, {}, "--uri"),
        ({"context_length": "12"}, {}, "--context-length"),
        ({"languages": " , "}, {}, "--languages"),
        ({}, {"RK_ASSIST_DEBUG": "maybe"}, "RK_ASSIST_DEBUG"),
        ({"runtime": "gpu"}, {}, "--runtime"),
        ({"rkllm_cpu_mask": "big"}, {}, "--rkllm-cpu-mask"),
        ({}, {"RK_ASSIST_RKLLM_ABI": "1.1"}, "RK_ASSIST_RKLLM_ABI"),
    ],
)
def test_invalid_values_name_the_option(cli, environ, expected):
    with pytest.raises(ConfigError, match=expected):
        build_config(cli, environ=environ)


def test_wrong_value_stops_startup_with_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "rk_assist", "--max-tokens", "lots"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "RK_ASSIST_URI": "tcp://127.0.0.1:1"},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--max-tokens" in lines[0] and "'lots'" in lines[0]


@pytest.mark.parametrize(
    ("cli", "allowed"),
    [
        ({"threads": "0"}, "expected a whole number from 1 to 256"),
        ({"temperature": "hot"}, "expected a number from 0 to 2"),
        ({"ha_url": "http://x"}, "expected ws://HOST:8123/api/websocket"),
        ({"idle_timeout": "0"}, "expected a number from 1 to 86400"),
    ],
)
def test_a_refused_value_says_what_is_allowed(cli, allowed):
    with pytest.raises(ConfigError, match=allowed):
        build_config(cli, environ={})


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rk_assist", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_help_lists_every_subcommand_and_no_empty_defaults():
    from rk_assist.__main__ import COMMANDS

    shown = run_cli("--help").stdout
    for command in COMMANDS:
        assert f"  {command.name} " in shown
    assert "(default: None)" not in shown and "``" not in shown
    # Switches read as what they do.
    words = " ".join(shown.split())
    assert "--no-prompt-cache compute the system prompt on every turn instead of reusing" in words
    cache_help = run_cli("cache", "--help").stdout
    assert "build" in cache_help and "delete" in cache_help
    for command in COMMANDS:
        assert "``" not in run_cli(command.name, "--help").stdout, command.name


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """stderr without the log lines (start-up may log, say, writing the default prompt)."""
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if not re.match(r"\d{4}-\d\d-\d\d ", line)]


def test_bad_home_file_is_one_line(tmp_path):
    config = ["--config-dir", str(tmp_path / "config"), "--http-uri", "none"]
    missing = run_cli("--home-file", str(tmp_path / "nope.yaml"), *config)
    assert missing.returncode == 1
    assert error_lines(missing) == [
        f"rk-assist: cannot read the home file {tmp_path / 'nope.yaml'}: No such file or directory"
    ]
    broken = tmp_path / "broken.yaml"
    broken.write_text("entities: [\n")
    result = run_cli("--home-file", str(broken), *config)
    lines = error_lines(result)
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "is not valid YAML" in lines[0] and "line 2" in lines[0]


def test_the_licence_is_an_spdx_string_so_installing_prints_no_deprecation():
    import tomllib

    project = tomllib.loads(Path("pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"


def test_the_api_key_can_come_from_a_file_and_a_key_on_the_command_line_is_flagged(tmp_path):
    from rk_assist.__main__ import secrets_on_command_line

    key_file = tmp_path / "key"
    key_file.write_text("from-a-file-123\nignored\n")
    assert build_config({"api_key_file": str(key_file)}, environ={}).api_key == "from-a-file-123"
    with pytest.raises(ConfigError, match="not both"):
        build_config({"api_key_file": str(key_file), "api_key": "another-key"}, environ={})
    (tmp_path / "short").write_text("abc\n")
    with pytest.raises(ConfigError, match="shorter than 8"):
        build_config({"api_key_file": str(tmp_path / "short")}, environ={})
    with pytest.raises(ConfigError, match="cannot read an API key"):
        build_config({"api_key_file": str(tmp_path / "missing")}, environ={})
    argv = ["--uri", "tcp://0.0.0.0:1", "--api-key=abcdefgh", "--ha-token", "t"]
    assert secrets_on_command_line(argv) == ["--api-key", "--ha-token"]
    assert secrets_on_command_line(["--api-key-file", "/run/key"]) == []
