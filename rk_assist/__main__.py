"""``rk-assist``: run the service, or one of the subcommands in ``COMMANDS``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import ServiceConfig, add_service_arguments, build_config
from .errors import ConfigError

_LOGGER = logging.getLogger("rk_assist")


@dataclass(frozen=True)
class Command:
    """A subcommand: ``module.main(argv)`` runs it after logging is set up at ``log_level``."""

    name: str
    module: str
    help: str
    log_level: int = logging.INFO


COMMANDS: tuple[Command, ...] = (
    Command(
        "ask",
        "tools.client",
        "send one sentence to a running service, print the answer",
        logging.WARNING,
    ),
    Command(
        "models", "tools.models_cli", "list the model library, install a packaged model, switch"
    ),
    Command("cache", "tools.cache_cli", "list, build or delete saved prompt states"),
    Command("eval", "tools.evaluation", "score home control on a synthetic home", logging.WARNING),
    Command("bench", "tools.bench", "latency figures over a real socket, with and without caches"),
    Command(
        "bench-http", "tools.bench_http", "Home Assistant's HTTP request stream vs llama_cpp.server"
    ),
    Command(
        "bench-soak", "tools.bench_soak", "many turns from 4 clients; the service's memory (RSS)"
    ),
    Command(
        "bench-hangups",
        "tools.bench_hangups",
        "clients hanging up at random; how soon the model is free",
    ),
    Command(
        "bench-retry",
        "tools.bench_retry",
        "a client that gives up on a long prompt and retries; when it is answered",
    ),
    Command("bench-history", "tools.bench_history", "time to fit 10 to 10,000 turns of history"),
    Command(
        "bench-threads", "tools.bench_threads", "llama.cpp speed by thread count, idle and loaded"
    ),
    Command("bench-scale", "tools.bench_scale", "throughput of 1 and 2 instances behind HAProxy"),
    Command(
        "haproxy-config", "tools.scale_out", "print an HAProxy configuration for several boards"
    ),
    Command("npu-check", "tools.npu_check", "check the RKLLM runtime and NPU on a board"),
    Command("addon-discovery", "addon", "print the add-on's discovery payload (for its scripts)"),
)


#: Secrets that can be given more safely, and how.
SECRET_FLAGS = {
    "--api-key": "RK_ASSIST_API_KEY or --api-key-file",
    "--ha-token": "RK_ASSIST_HA_TOKEN",
}


def secrets_on_command_line(argv: Sequence[str]) -> list[str]:
    """The secret options among ``argv``: visible to every local user in ``ps``."""
    return [
        flag
        for flag in SECRET_FLAGS
        if any(arg == flag or arg.startswith(flag + "=") for arg in argv)
    ]


def setup_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def service_parser(prog: str = "rk-assist") -> argparse.ArgumentParser:
    width = max(len(command.name) for command in COMMANDS)
    listing = "\n".join(f"  {c.name:<{width}}  {c.help}" for c in COMMANDS)
    parser = argparse.ArgumentParser(
        prog=prog,
        description="The voice-assistant brain for Home Assistant: a Wyoming conversation "
        "service (and an Ollama/OpenAI-compatible HTTP API) running a small model on the "
        "Rockchip NPU or the CPU. With no subcommand it runs the service.",
        epilog=f"subcommands ('rk-assist NAME --help' for each):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_service_arguments(parser)
    parser.add_argument(
        "--addon-options",
        metavar="FILE",
        help="run as the Home Assistant add-on with these options (/data/options.json)",
    )
    parser.add_argument("--addon-root", default="/", help=argparse.SUPPRESS)
    return parser


def parse_service_args(argv: Sequence[str], environ=None, prog: str = "rk-assist") -> ServiceConfig:
    """The service's configuration from the command line, or one line and exit 2."""
    parser = service_parser(prog)
    values = vars(parser.parse_args(argv))
    addon_options, addon_root = values.pop("addon_options"), values.pop("addon_root")
    try:
        if addon_options:
            from .addon import addon_config

            return addon_config(Path(addon_options), Path(addon_root), values)
        return build_config(values, environ)
    except ConfigError as err:
        parser.exit(2, f"{prog}: error: {err}\n")
    raise AssertionError("unreachable")


def run_service(argv: Sequence[str]) -> int:
    from .errors import HomeFileError, PromptFileError, RuntimeFailure
    from .service import serve

    config = parse_service_args(argv)
    setup_logging(logging.DEBUG if config.debug else logging.INFO)
    for flag in secrets_on_command_line(argv):
        _LOGGER.warning(
            "%s was given on the command line, where every local user can read it in the "
            "process list; use %s instead",
            flag,
            SECRET_FLAGS[flag],
        )
    try:
        with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
            asyncio.run(serve(config))
    except (RuntimeFailure, PromptFileError, HomeFileError) as err:
        # One line a person can act on, not a traceback.
        print(f"rk-assist: {err}", file=sys.stderr)
        return 1
    return 0


def keep_files_unwritable_by_others() -> None:
    """Folders 0755 and files 0644 or tighter, whatever umask we inherit.

    The cache, the models and ``system.txt`` shape what the model says and
    does; under a umask of 000 every local user could rewrite them. Clearing
    the group and other write bits in the umask covers every file we (and
    llama.cpp) create, without a mode at each call.
    """
    os.umask(os.umask(0o022) | 0o022)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    keep_files_unwritable_by_others()
    for command in COMMANDS:
        if argv and argv[0] == command.name:
            setup_logging(command.log_level)
            module = importlib.import_module(f".{command.module}", __package__)
            return module.main(argv[1:])
    return run_service(argv)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
