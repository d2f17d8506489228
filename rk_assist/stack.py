"""The model, its worker and the assistant, wired from a configuration in one place.

The service, ``rk-assist eval`` and ``rk-assist cache build`` all stand on
this stack, so what the eval measures and what the cache prepares is what
the service runs: the same model choice, runtime settings, answer length and
prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .assistant.conversations import ConversationStore
from .assistant.pipeline import Assistant, AssistantSettings, Executor
from .assistant.prompt import load_system_prompt
from .config import ServiceConfig
from .home.model import Home
from .models.select import ModelPlan, create_runtime, max_tokens_for, plan_model
from .runtimes.worker import ModelWorker


@dataclass
class Stack:
    """A model chosen and its runtime created, not yet loaded (:meth:`load`)."""

    plan: ModelPlan
    worker: ModelWorker
    assistant: Assistant

    async def load(self) -> None:
        """Load the model with the prompt of the home known now (none: chat only)."""
        await self.worker.load(*self.assistant.prompt_and_tools())


def build_stack(
    config: ServiceConfig,
    *,
    home: Callable[[], Home | None] | None = None,
    executor: Executor | None = None,
    system_prompt: str | None = None,
    **assistant_settings: Any,
) -> Stack:
    """The stack for ``config``; raises on a missing model or prompt file.

    ``home`` says the home as it is now (None: chat only); ``system_prompt``
    replaces ``system.txt`` (the eval's fixed prompt); ``assistant_settings``
    replace the assistant's defaults (the eval's switches).
    """
    plan = plan_model(config)
    prompt = system_prompt if system_prompt is not None else load_system_prompt(config.config_dir)
    worker = ModelWorker(create_runtime(plan, config), max_waiting=config.queue_size)
    settings = AssistantSettings(
        language=config.language, max_new_tokens=max_tokens_for(config, plan.entry)
    )
    assistant = Assistant(
        worker=worker,
        system_prompt=prompt,
        conversations=ConversationStore(
            max_turns=config.history_turns, idle_seconds=config.history_idle
        ),
        settings=replace(settings, **assistant_settings),
        home=home,
        executor=executor,
    )
    return Stack(plan, worker, assistant)
