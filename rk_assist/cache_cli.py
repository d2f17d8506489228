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

from .assistant.prompt import PromptFileError, load_system_prompt
from .config import ConfigError, ServiceConfig, add_service_arguments, build_config
from .home.model import HomeFileError, load_home
from .home.prompt import HOME_TOOLS_JSON, home_prompt
from .models.select import create_runtime, plan_model
from .runtimes.base import RuntimeFailure
from .runtimes.prompt_cache import PromptCacheFile, service_cache_name
from .runtimes.worker import ModelWorker


def cache_files(cache_dir: Path) -> list[PromptCacheFile]:
    if not cache_dir.is_dir():
        return []
    return [
        PromptCacheFile(folder, metadata.stem)
        for folder in sorted(p for p in cache_dir.iterdir() if p.is_dir())
        for metadata in sorted(folder.glob("*.json"))
    ]


def list_caches(cache_dir: Path) -> int:
    files = cache_files(cache_dir)
    if not files:
        print(f"No prompt caches in {cache_dir}")
        return 0
    print(f"{'model':<24} {'name':<23} {'size':>9} {'tokens':>7}  {'created':<25} state")
    for cache in files:
        metadata = cache.read_metadata() or {}
        size = metadata.get("size", 0)
        print(
            f"{cache.directory.name:<24} {cache.name:<23} {size / 1e6:>6.1f} MB "
            f"{metadata.get('tokens', '-')!s:>7}  {metadata.get('created', '-'):<25} "
            f"{cache.integrity()}"
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
    doomed = [
        cache
        for cache in cache_files(cache_dir)
        if (model is None or cache.directory.name == model) and (name is None or cache.name == name)
    ]
    for cache in doomed:
        cache.delete()
        print(f"deleted {cache.bin_path}")
    if not doomed:
        print("nothing to delete")
    return 0


async def build_cache(config: ServiceConfig) -> int:
    if not config.prompt_cache:
        print("rk-assist cache build: --no-prompt-cache leaves nothing to build", file=sys.stderr)
        return 2
    plan = plan_model(config)
    worker = ModelWorker(create_runtime(plan, config))
    system_prompt, tools = load_system_prompt(config.config_dir), None
    if config.home_file is not None and config.home_control != "off":
        # The same prompt the service will use with this home, so its cache is ready.
        home = load_home(config.home_file)
        system_prompt, tools = home_prompt(system_prompt, home), HOME_TOOLS_JSON
    await worker.load(system_prompt, tools)
    source = worker.runtime.prefix_source
    await worker.close()
    cache = PromptCacheFile(
        config.cache_dir / plan.entry.name, service_cache_name(system_prompt, tools)
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
