"""A known model fetched while the service already answers: the add-on's first start.

The add-on's user picks a model by name in the UI; on the first start it is not
on the disk yet, and a gigabyte takes minutes. Home Assistant must still find
the service (discovery, ``describe``) and a person who asks meanwhile must hear
why nothing happens, not silence. So the service starts on what it has (the
packaged or embedded model), says it is getting ready, and switches to the
fetched model once it is whole and checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import ServiceConfig
from ..errors import FetchStopped
from .board import detect_board
from .hub import KNOWN_MODELS, PullPlan, plan_known, pull
from .packaged import verified_before

_LOGGER = logging.getLogger(__name__)


@dataclass
class ModelFetch:
    name: str  # as the user named it ("qwen2.5-1.5b")
    plan: PullPlan
    fraction: float = 0.0
    _stopped: bool = field(default=False, init=False)

    @property
    def percent(self) -> int:
        return int(self.fraction * 100)

    def describe(self) -> str:
        return f"getting {self.name} ready: downloading from the Hugging Face Hub, {self.percent}%"

    def stop(self) -> None:
        self._stopped = True

    def run(self, models_dir: Path, on_progress: Callable[[], None]) -> Path:
        """Download on this (worker) thread; ``on_progress`` is called at each new percent."""

        def report(fraction: float) -> None:
            if self._stopped:
                raise FetchStopped(f"the download of {self.name} was stopped")
            before = self.percent
            self.fraction = fraction
            if self.percent != before:
                on_progress()

        return pull(self.plan, models_dir, report=report)


def fetched_or_to_fetch(config: ServiceConfig) -> tuple[ServiceConfig, ModelFetch | None]:
    """The configuration to start with, and the fetch still to do (None: nothing to fetch).

    A known model already pulled is served from its folder (on a board, the
    .rkllm build's); one not yet there is to be fetched while the service
    starts on its default model.
    """
    known = KNOWN_MODELS.get((config.model or "").lower())
    if not config.pull or known is None:
        return config, None
    board = detect_board(library=config.rkllm_library)
    wanted = "gguf" if config.runtime == "cpu" else "auto"
    plan = plan_known(known, board, wanted)
    target = config.models_dir / plan.folder / plan.saved_as
    if target.is_file() and verified_before(target, plan.model.sha256):
        return replace(config, model=plan.folder), None
    _LOGGER.info(
        "%s is not in %s yet: fetching %s:%s (%s) while serving the default model",
        known.name,
        config.models_dir,
        plan.model.repo,
        plan.model.filename,
        plan.why,
    )
    return config, ModelFetch(known.name, plan)
