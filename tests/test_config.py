import subprocess
import sys
from pathlib import Path

import pytest

from rk_assist.config import ConfigError, build_config


def test_defaults():
    config = build_config({}, environ={})
    assert config.uri == "tcp://0.0.0.0:10500"
    assert config.model is None
    assert config.config_dir == Path("config")
    assert config.cache_dir == Path("cache")
    assert config.languages == ("en",) and config.language == "en"
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
