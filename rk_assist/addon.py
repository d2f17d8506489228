"""The Home Assistant add-on's options, mapped onto the service's configuration.

The add-on's run script only starts ``python3 -m rk_assist --addon-options
/data/options.json``; everything else happens here, in Python, so it is
tested like the rest. Every value goes through the same validators as the
command line, and a bad one stops start-up with a line naming the add-on
option as the user sees it in the UI.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import DEFAULT_LANGUAGES, ServiceConfig, build_config
from .core.library import LIBRARY_NAME, find_library
from .defaults import HTTP_URI, WYOMING_PORT, WYOMING_URI
from .errors import AddonError, RkllmLibraryError

_LOGGER = logging.getLogger(__name__)

# Where things live inside the add-on container (relative to --addon-root).
CONFIG_DIR = "config"  # addon_config: the user's system.txt, editable from the host
CACHE_DIR = "data/cache"  # prompt caches: rebuilt when missing, excluded from backups
SHARE_DIR = "share/rk-assist"
MODELS_DIR = SHARE_DIR + "/models"
USER_LIBRARY = SHARE_DIR + "/" + LIBRARY_NAME  # a librkllmrt.so the user provides
IMAGE_LIBRARY = "usr/lib/" + LIBRARY_NAME  # the one the image build fetched (aarch64)

# add-on option -> service option; the value passes the service option's validator.
OPTION_MAP = {
    "model": "model",
    "runtime": "runtime",
    "language": "languages",
    "context_length": "context_length",
    "temperature": "temperature",
    "max_answer_tokens": "max_tokens",
    "conversation_memory": "history_turns",
    "home_control": "home_control",
    "api_key": "api_key",
    "debug_logging": "debug",
}


def read_options(path: Path) -> dict[str, Any]:
    try:
        options = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise AddonError(f"add-on options file not found: {path}") from err
    except (OSError, ValueError) as err:
        raise AddonError(f"cannot read the add-on options {path}: {err}") from err
    if not isinstance(options, dict):
        raise AddonError(f"the add-on options {path} are not a JSON object")
    return options


def options_to_values(options: Mapping[str, Any], root: Path) -> dict[str, Any]:
    """Service option values from the add-on's options and its fixed layout."""
    unknown = sorted(set(options) - set(OPTION_MAP))
    if unknown:
        raise AddonError(f"unknown add-on option {unknown[0]!r}")
    values: dict[str, Any] = {
        "uri": WYOMING_URI,
        "http_uri": HTTP_URI,
        "config_dir": str(root / CONFIG_DIR),
        "cache_dir": str(root / CACHE_DIR),
        "models_dir": str(root / MODELS_DIR),
        # A known model named in the options is fetched from its publisher on the first
        # start (kept in /share between updates); the service answers meanwhile.
        "pull": True,
    }
    for addon_name, service_name in OPTION_MAP.items():
        value = options.get(addon_name)
        if value is None or value == "":
            continue  # unset: the service's default
        if addon_name == "context_length" and value == 0:
            continue  # 0: chosen per model
        values[service_name] = value if isinstance(value, str | bool) else str(value)
    given = [x.strip() for x in str(values.get("languages", "")).split(",") if x.strip()]
    if given:
        # The add-on's language answers when a request names none; the default ones
        # stay advertised too, so a pipeline in any of them can pick rk-assist.
        values["languages"] = ",".join([*given, *(x for x in DEFAULT_LANGUAGES if x not in given)])
    return values


def rkllm_library(root: Path) -> Path | None:
    """The user's library in /share first (any runtime version), then the image's."""
    for candidate in (root / USER_LIBRARY, root / IMAGE_LIBRARY):
        if candidate.is_file():
            return candidate
    try:
        return find_library(None)
    except RkllmLibraryError:
        return None


def addon_config(
    options_path: Path, root: Path = Path("/"), overrides: Mapping[str, Any] | None = None
) -> ServiceConfig:
    """The service configuration for the add-on; ``overrides`` are command-line values."""
    options = read_options(options_path)
    values = options_to_values(options, root)
    library = rkllm_library(root)
    if library is not None:
        values["rkllm_library"] = str(library)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    names = {service: f"the add-on option '{addon}'" for addon, service in OPTION_MAP.items()}
    config = build_config(values, environ={}, source_names=names)
    return _fall_back_to_cpu_without_npu(config, library)


def _fall_back_to_cpu_without_npu(config: ServiceConfig, library: Path | None) -> ServiceConfig:
    if library is not None or config.runtime == "cpu":
        return config
    wants_npu = config.runtime == "rkllm" or (
        config.model is not None and config.model.lower().endswith(".rkllm")
    )
    if config.runtime == "auto" and not wants_npu and config.model is not None:
        from .models.library import ModelLibrary

        try:
            wants_npu = ModelLibrary(config.models_dir).find(config.model).runtime == "rkllm"
        except Exception:  # an unknown model is reported when the service plans it
            wants_npu = False
    if not wants_npu:
        return config
    _LOGGER.warning(
        "No %s found (put Rockchip's RKLLM runtime in /share/rk-assist/, or use an aarch64 "
        "image): running the embedded model on the CPU instead of %s on the NPU",
        LIBRARY_NAME,
        config.model or "a model",
    )
    from dataclasses import replace

    return replace(config, runtime="cpu", model=None)


def discovery_payload(hostname: str | None = None) -> dict[str, str]:
    """What the add-on announces to Home Assistant's Wyoming integration."""
    return {"uri": f"tcp://{hostname or socket.gethostname()}:{WYOMING_PORT}"}


def main(argv: list[str]) -> int:
    """``rk-assist addon-discovery``: the payload, as JSON, for the add-on's start script."""
    print(json.dumps(discovery_payload(argv[0] if argv else None)))
    return 0
