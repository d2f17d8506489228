"""``rk-assist cache``: list, build and delete the saved prompt states.

``build`` loads the model exactly as the service would and prepares the
system prompt, so the service's first start on a board is not the slow one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from ..config import ServiceConfig, add_service_arguments, build_config
from ..errors import ConfigError, HomeFileError, PromptFileError, RuntimeFailure
from ..home.model import load_home
from ..runtimes.prompt_cache import (
    PromptCacheFile,
    delete_saved,
    describe_cache,
    saved_caches,
    service_cache_name,
)
from ..stack import build_stack


def list_caches(cache_dir: Path) -> int:
    caches = [describe_cache(cache) for cache in saved_caches(cache_dir)]
    if not caches:
        print(f"No prompt caches in {cache_dir}")
        return 0
    print(f"{'model':<24} {'name':<23} {'size':>9} {'tokens':>7}  {'created':<25} state")
    for cache in caches:
        tokens, created = (
            "-" if cache[key] is None else str(cache[key]) for key in ("tokens", "created")
        )
        print(
            f"{cache['model']:<24} {cache['name']:<23} {cache['size'] / 1e6:>6.1f} MB "
            f"{tokens:>7}  {created:<25} {cache['state']}"
        )
    return 0


def delete_caches(cache_dir: Path, model: str | None, name: str | None, everything: bool) -> int:
    if model is None and name is None and not everything:
        print(
            "rk-assist cache delete: name what to delete with --model and/or --name, "
            "or --all to delete every cache",
            file=sys.stderr,
        )
        return 2
    doomed = delete_saved(cache_dir, model, name)
    for cache in doomed:
        print(f"deleted {cache.bin_path}")
    if not doomed:
        print("nothing to delete")
    return 0


async def build_cache(config: ServiceConfig) -> int:
    if not config.prompt_cache:
        print("rk-assist cache build: --no-prompt-cache leaves nothing to build", file=sys.stderr)
        return 2
    home = None
    if config.home_file is not None and config.home_control != "off":
        # The same prompt the service will use with this home, so its cache is ready.
        home = load_home(config.home_file)
    stack = build_stack(config, home=(lambda: home) if home is not None else None)
    await stack.load()
    source = stack.worker.runtime.prefix_source
    system_prompt, tools = stack.assistant.prompt_and_tools()
    await stack.worker.close()
    cache = PromptCacheFile(
        config.cache_dir / stack.plan.entry.name, service_cache_name(system_prompt, tools)
    )
    state = "was already up to date" if source == "disk" else "built"
    print(f"{cache.bin_path}: {state} ({cache.integrity()})")
    return 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="rk-assist cache",
        description="The saved model states of system prompts (cache/<model>/*.bin).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="{list,delete,build}")
    for name, help_text in (
        ("list", "list the caches and whether each is intact"),
        ("delete", "delete caches by model and/or name, or --all"),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        action.add_argument("--cache-dir", default="cache", help="the cache folder (cache)")
        if name == "delete":
            action.add_argument("--model", help="only this model's caches (its friendly name)")
            action.add_argument("--name", help="only caches of this name (system, prefix-...)")
            action.add_argument("--all", action="store_true", help="every cache of every model")
    build = actions.add_parser(
        "build",
        help="prepare the service's system prompt now, with the service's options",
        description="Load the model as the service would and save its system prompt's state, "
        "so the service's first start is not the slow one.",
    )
    add_service_arguments(build)
    args = parser.parse_args(argv)
    if args.action == "list":
        return list_caches(Path(args.cache_dir))
    if args.action == "delete":
        return delete_caches(Path(args.cache_dir), args.model, args.name, args.all)
    values = {k: v for k, v in vars(args).items() if k != "action"}
    try:
        config = build_config(values)
        return asyncio.run(build_cache(config))
    except (ConfigError, RuntimeFailure, PromptFileError, HomeFileError) as err:
        print(f"rk-assist cache build: {err}", file=sys.stderr)
        return 1
