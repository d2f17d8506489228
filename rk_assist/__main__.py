"""``rk-assist``: run the service; ``ask``, ``bench`` and ``npu-check`` are for people."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence

from .assistant.prompt import PromptFileError
from .config import parse_service_args
from .runtimes.base import RuntimeFailure

_LOGGER = logging.getLogger("rk_assist")


def setup_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "ask":
        from .client import main as ask_main

        return ask_main(argv[1:])
    if argv and argv[0] == "npu-check":
        from .npu_check import main as npu_check_main

        setup_logging(debug=False)
        return npu_check_main(argv[1:])
    if argv and argv[0] == "models":
        from .models.cli import main as models_main

        setup_logging(debug=False)
        return models_main(argv[1:])
    if argv and argv[0] == "cache":
        from .cache_cli import main as cache_main

        setup_logging(debug=False)
        return cache_main(argv[1:])
    if argv and argv[0] == "eval":
        from .evaluation import main as eval_main

        logging.basicConfig(level=logging.WARNING)
        return eval_main(argv[1:])
    if argv and argv[0] == "addon-discovery":
        import json

        from .addon import discovery_payload

        print(json.dumps(discovery_payload()))
        return 0
    if argv and argv[0] == "bench-http":
        from .bench_http import main as bench_http_main

        return bench_http_main(argv[1:])
    if argv and argv[0] == "bench":
        from .bench import main as bench_main

        return bench_main(argv[1:])

    config = parse_service_args(argv)
    setup_logging(config.debug)
    from .service import serve

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(config))
    except (RuntimeFailure, PromptFileError) as err:
        # One line a person can act on, not a traceback.
        print(f"rk-assist: {err}", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
