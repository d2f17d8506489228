"""Service configuration: command-line options, environment overrides, one schema.

Each option can be given on the command line or as ``RK_ASSIST_<NAME>`` in
the environment (the command line wins), and every value, wherever it came
from, goes through the same voluptuous schema, so a wrong value stops
start-up with one line that names the option and where it was set.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import voluptuous as vol

from . import defaults
from .errors import ConfigError
from .home.phrases import LANGUAGES as PHRASE_LANGUAGES

ENV_PREFIX = "RK_ASSIST_"
RUNTIMES = ("auto", "cpu", "rkllm")
RKLLM_ABIS = ("auto", "1.2", "1.3")


@dataclass(frozen=True)
class ServiceConfig:
    uri: str
    model: str | None
    models_dir: Path
    runtime: str
    rkllm_library: Path | None
    rkllm_abi: str
    rkllm_cpu_mask: int
    rkllm_n_keep: int
    rkllm_embed_flash: bool
    rkllm_grammar: bool
    config_dir: Path
    cache_dir: Path
    languages: tuple[str, ...]
    context_length: int | None
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    threads: int | None
    history_turns: int
    history_idle: float
    max_text: int
    queue_size: int
    max_connections: int
    max_connections_per_peer: int
    idle_timeout: float
    read_timeout: float
    prompt_cache: bool
    debug: bool
    home_control: str = "intents"
    home_file: Path | None = None
    ha_url: str | None = None
    ha_token: str | None = field(default=None, repr=False)  # a secret: never in logs
    http_uri: str | None = None
    api_key: str | None = field(default=None, repr=False)  # a secret: never in logs
    state_cache_mb: int = 256
    remote_model_switch: bool = False
    pull: bool = False
    stuck_after: float = 60.0
    #: The options set on the command line or in the environment, not defaulted.
    explicit: frozenset[str] = frozenset()

    @property
    def language(self) -> str:
        """The reply language when a request names none."""
        return self.languages[0]


def _uri(value: Any) -> str:
    value = str(value)
    scheme, _, rest = value.partition("://")
    if scheme not in ("tcp", "unix", "stdio") or (scheme != "stdio" and not rest):
        raise vol.Invalid("expected tcp://HOST:PORT, unix://PATH or stdio://")
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise vol.Invalid("expected tcp://HOST:PORT with a port from 0 to 65535")
    return value


def _http_uri(value: Any) -> str | None:
    value = str(value)
    if value.lower() in ("", "none", "off"):
        return None
    scheme, _, rest = value.partition("://")
    host, _, port = rest.rstrip("/").rpartition(":")
    if scheme != "http" or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise vol.Invalid("expected http://HOST:PORT, or none to turn the HTTP API off")
    return f"http://{host}:{int(port)}"


#: Advertised unless told otherwise: the request's own language is answered in (Home
#: Assistant's sentences and confirmations for it, the model told to reply in it), and
#: these are the ones every sentence of rk-assist's own is written in (home/phrases.py).
DEFAULT_LANGUAGES = PHRASE_LANGUAGES


def _languages(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    languages = tuple(item.strip() for item in items if str(item).strip())
    if not languages:
        raise vol.Invalid("expected at least one language code, such as en")
    for language in languages:
        if not language.replace("-", "").replace("_", "").isalnum() or len(language) > 16:
            raise vol.Invalid(f"{language!r} is not a language code")
    return languages


def _cpu_mask(value: Any) -> int:
    try:
        mask = value if isinstance(value, int) else int(str(value), 0)
    except ValueError as err:
        raise vol.Invalid("expected a CPU bit mask such as 0xF0") from err
    if not 0 < mask <= 0xFFFF:
        raise vol.Invalid("expected a CPU bit mask from 0x1 to 0xFFFF")
    return mask


def _optional(validator: Any) -> Any:
    """None, or a value the validator accepts (its own message when it does not)."""
    schema = vol.Schema(validator)

    def check(value: Any) -> Any:
        return None if value is None else schema(value)

    return check


def _int(low: int, high: int) -> Any:
    allowed = f"expected a whole number from {low} to {high}"
    return vol.All(vol.Coerce(int, msg=allowed), vol.Range(min=low, max=high, msg=allowed))


def _float(low: float, high: float) -> Any:
    allowed = f"expected a number from {low:g} to {high:g}"
    return vol.All(vol.Coerce(float, msg=allowed), vol.Range(min=low, max=high, msg=allowed))


@dataclass(frozen=True)
class Option:
    name: str  # attribute name; the flag is --name-with-dashes
    default: Any
    validator: Any
    help: str
    flag_only: bool = False  # a switch on the command line (store_true)
    metavar: str | None = None
    secret: bool = False  # never echo the value, not even in an error

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


OPTIONS: tuple[Option, ...] = (
    Option("uri", defaults.WYOMING_URI, _uri, "where to listen (tcp://, unix://, stdio://)"),
    Option(
        "model",
        None,
        _optional(vol.All(str, vol.Length(min=1))),
        "model: a name in --models-dir, or a .gguf/.rkllm file or model folder path "
        "(default: the packaged qwen2.5-0.5b where it is installed in --models-dir, as "
        "script/setup does, else the embedded SmolLM2-135M-Instruct)",
        metavar="NAME|PATH",
    ),
    Option(
        "models_dir",
        "models",
        vol.All(str, vol.Length(min=1), vol.Coerce(Path)),
        "folder of models: one folder per model, named as you want to call it",
        metavar="DIR",
    ),
    Option(
        "runtime",
        "auto",
        vol.In(RUNTIMES),
        "inference runtime: auto (by model file), cpu (llama.cpp, GGUF) or rkllm (NPU)",
    ),
    Option(
        "rkllm_library",
        None,
        _optional(vol.All(str, vol.Length(min=1), vol.Coerce(Path))),
        "path of librkllmrt.so (default: $RKLLM_LIBRARY, then the usual library folders)",
        metavar="PATH",
    ),
    Option(
        "rkllm_abi",
        "auto",
        vol.In(RKLLM_ABIS),
        "RKLLM ABI: auto (read from the library), 1.2 (runtime 1.2.1-1.2.3) or 1.3",
    ),
    Option(
        "rkllm_cpu_mask",
        "0xF0",
        _cpu_mask,
        "CPUs the RKLLM runtime may use, as a bit mask (0xF0: the big cores 4-7)",
    ),
    Option(
        "rkllm_n_keep",
        -1,
        _int(-1, defaults.RKLLM_MAX_CONTEXT),
        "tokens the RKLLM runtime keeps when its context overflows (-1: its default)",
    ),
    Option(
        "rkllm_embed_flash",
        True,
        vol.Boolean(),
        "load the model's embedding table into memory instead of reading it from flash "
        "(faster, needs more memory)",
        flag_only=True,
    ),
    Option(
        "rkllm_grammar",
        True,
        vol.Boolean(),
        "hold RKLLM answers to the call grammar through the runtime's logits, token by token "
        "(needs the model's vocabulary: vocab.gguf beside the .rkllm; the GGUF itself when "
        "emulated)",
        flag_only=True,
    ),
    Option(
        "config_dir",
        "config",
        vol.All(str, vol.Length(min=1), vol.Coerce(Path)),
        "folder of system.txt, the editable system prompt",
        metavar="DIR",
    ),
    Option(
        "cache_dir",
        "cache",
        vol.All(str, vol.Length(min=1), vol.Coerce(Path)),
        "folder of saved prompt states, cache/<model>/system-<hash>.bin",
        metavar="DIR",
    ),
    Option(
        "languages",
        ",".join(DEFAULT_LANGUAGES),
        _languages,
        "comma-separated languages to advertise (a pipeline in another language cannot pick "
        "rk-assist); the first is the reply language when a request names none",
        metavar="LANG[,LANG...]",
    ),
    Option(
        "context_length",
        None,
        _optional(_int(256, 131072)),
        "context window in tokens (default: chosen per model and memory)",
    ),
    Option("max_tokens", defaults.MAX_NEW_TOKENS, _int(8, 8192), "longest answer in tokens"),
    Option(
        "temperature", defaults.TEMPERATURE, _float(0.0, 2.0), "sampling temperature (0 is greedy)"
    ),
    Option("top_p", defaults.TOP_P, _float(0.01, 1.0), "nucleus sampling threshold"),
    Option("top_k", defaults.TOP_K, _int(0, 1000), "sample from the k most likely tokens (0: all)"),
    Option(
        "threads",
        None,
        _optional(_int(1, 256)),
        "CPU threads for llama.cpp (default: every core but one, which holds up under "
        "a competing load)",
    ),
    Option(
        "history_turns",
        defaults.HISTORY_TURNS,
        _int(0, 100),
        "past turns remembered per conversation",
    ),
    Option(
        "history_idle",
        defaults.HISTORY_IDLE_S,
        _float(0.0, 86400.0),
        "seconds of silence after which a conversation is forgotten",
    ),
    Option(
        "max_text",
        defaults.MAX_TEXT_CHARS,
        _int(1, 100000),
        "longest transcript accepted, in characters",
    ),
    Option(
        "queue_size",
        defaults.QUEUE_SIZE,
        _int(0, 1000),
        "requests that may wait while the model is busy",
    ),
    Option(
        "max_connections",
        64,
        _int(1, 10000),
        "open connections accepted at once by each door (Wyoming, HTTP); a quarter is kept "
        "for addresses that hold none yet",
    ),
    Option(
        "max_connections_per_peer",
        16,
        _int(1, 10000),
        "open connections each door accepts from one address, so one host cannot lock out others",
    ),
    Option(
        "idle_timeout",
        defaults.IDLE_TIMEOUT_S,
        _float(1.0, 86400.0),
        "seconds a Wyoming connection may stay silent while no answer is running",
        metavar="SECONDS",
    ),
    Option(
        "read_timeout",
        defaults.READ_TIMEOUT_S,
        _float(0.5, 600.0),
        "seconds one Wyoming event may take to arrive once it has begun",
        metavar="SECONDS",
    ),
    Option(
        "http_uri",
        defaults.HTTP_URI,
        _http_uri,
        "where the Ollama- and OpenAI-compatible HTTP API listens (none: off)",
        metavar="URL",
    ),
    Option(
        "api_key",
        None,
        _optional(vol.All(str, vol.Length(min=8))),
        "a bearer token every HTTP request must carry (better given as RK_ASSIST_API_KEY); "
        "without one, cache and model management answer only local peers",
        metavar="KEY",
        secret=True,
    ),
    Option(
        "api_key_file",
        None,
        _optional(vol.All(str, vol.Length(min=1), vol.Coerce(Path))),
        "read the API key from this file (its first line); safer than --api-key, which every "
        "local user can read in the process list",
        metavar="PATH",
    ),
    Option(
        "remote_model_switch",
        False,
        vol.Boolean(),
        "let any HTTP client switch the loaded model by naming another one in a chat (by "
        "default only this machine, or a request with the API key, may)",
        flag_only=True,
    ),
    Option(
        "pull",
        False,
        vol.Boolean(),
        "when --model is a known model (see rk-assist models pull) not yet in --models-dir, "
        "fetch it from its publisher while the service starts; until it is ready, requests "
        "are told so",
        flag_only=True,
    ),
    Option(
        "stuck_after",
        60.0,
        _float(1.0, 86400.0),
        "seconds without progress after which a running generation counts as stuck: "
        "/health answers 503 'stuck' so a load balancer moves on",
        metavar="SECONDS",
    ),
    Option(
        "state_cache_mb",
        256,
        _int(0, 65536),
        "memory for saved model states of recent prompts and conversations (CPU runtime)",
        metavar="MB",
    ),
    Option(
        "prompt_cache",
        True,
        vol.Boolean(),
        "compute the system prompt on every turn instead of reusing its saved state "
        "(for measuring; slower)",
        flag_only=True,
    ),
    Option("debug", False, vol.Boolean(), "log debug messages", flag_only=True),
    Option(
        "home_control",
        "intents",
        vol.In(("intents", "services", "off")),
        "intents: tool calls go to Home Assistant as intents, which speaks its confirmation; "
        "services: rk-assist calls the services itself and the model answers; off: chat only",
    ),
    Option(
        "home_file",
        None,
        _optional(vol.All(str, vol.Length(min=1), vol.Coerce(Path))),
        "a YAML description of the home to control, instead of reading Home Assistant",
        metavar="PATH",
    ),
    Option(
        "ha_url",
        None,
        _optional(
            vol.All(
                str,
                vol.Match(
                    r"^wss?://[^/\s]+(/\S*)?$",
                    msg="expected ws://HOST:8123/api/websocket (or wss:// for TLS)",
                ),
            )
        ),
        "Home Assistant's websocket API, such as ws://homeassistant.local:8123/api/websocket",
        metavar="URL",
    ),
    Option(
        "ha_token",
        None,
        _optional(vol.All(str, vol.Length(min=1))),
        "a long-lived access token for --ha-url (better given as RK_ASSIST_HA_TOKEN)",
        metavar="TOKEN",
        secret=True,
    ),
)


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every option; defaults stay unset so environment values can fill them."""
    for option in OPTIONS:
        env_help = f" [env {option.env}]"
        if option.flag_only and option.default is True:
            parser.add_argument(
                "--no-" + option.flag[2:],
                dest=option.name,
                action="store_false",
                default=None,
                help=f"{option.help}{env_help}",
            )
        elif option.flag_only:
            parser.add_argument(
                option.flag,
                dest=option.name,
                action="store_true",
                default=None,
                help=f"{option.help}{env_help}",
            )
        else:
            # Options whose default is "chosen for you" say so in their own words.
            default = "" if option.default is None else f" (default: {option.default})"
            parser.add_argument(
                option.flag,
                dest=option.name,
                default=None,
                metavar=option.metavar,
                help=f"{option.help}{default}{env_help}",
            )


def build_config(
    cli_values: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    source_names: Mapping[str, str] | None = None,
) -> ServiceConfig:
    """Merge command line, environment and defaults, validating each value.

    ``source_names`` renames where a value came from in error messages (the
    add-on names its own options).
    """
    environ = os.environ if environ is None else environ
    source_names = source_names or {}
    values: dict[str, Any] = {}
    explicit: set[str] = set()
    for option in OPTIONS:
        raw = cli_values.get(option.name)
        source = source_names.get(option.name, option.flag)
        if raw is None and option.env in environ:
            raw, source = environ[option.env], f"{option.env} in the environment"
            if option.default is None and raw == "":
                raw = None
        if raw is not None:
            explicit.add(option.name)
        if raw is None:
            raw, source = option.default, f"the default of {option.flag}"
            if raw is None:
                values[option.name] = None
                continue
        try:
            values[option.name] = vol.Schema(option.validator)(raw)
        except vol.Invalid as err:
            shown = "(hidden)" if option.secret else repr(raw)
            raise ConfigError(f"invalid value {shown} for {source}: {err.msg}") from err
    key_file = values.pop("api_key_file")
    if key_file is not None:
        if values["api_key"] is not None:
            raise ConfigError("give the API key once: --api-key or --api-key-file, not both")
        values["api_key"] = _read_key_file(key_file)
    return ServiceConfig(**values, explicit=frozenset(explicit))


def _read_key_file(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read an API key from {path} (--api-key-file): {err}") from err
    key = lines[0].strip() if lines else ""
    if len(key) < 8:
        raise ConfigError(f"the API key in {path} (--api-key-file) is shorter than 8 characters")
    return key
