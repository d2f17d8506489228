"""Assemble the service from its rooms: models, runtime, worker, assistant, Wyoming server."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from wyoming.event import Event
from wyoming.server import AsyncServer, AsyncTcpServer

from .assistant.conversations import ConversationStore
from .assistant.pipeline import Assistant, AssistantSettings
from .assistant.prompt import load_system_prompt
from .config import ServiceConfig
from .models.select import ModelPlan, create_runtime, max_tokens_for, plan_model
from .runtimes.worker import ModelWorker
from .wyoming.handler import AssistEventHandler, ConnectionBudget, HandlerSettings
from .wyoming.info import build_info

_LOGGER = logging.getLogger(__name__)


@dataclass
class Service:
    """A loaded, ready-to-serve assistant and the server that exposes it."""

    config: ServiceConfig
    plan: ModelPlan
    worker: ModelWorker
    assistant: Assistant
    server: AsyncServer
    system_prompt: str
    info_event: Event = field(init=False)
    budget: ConnectionBudget = field(init=False)
    _swap_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def __post_init__(self) -> None:
        self.budget = ConnectionBudget(limit=self.config.max_connections)
        self._refresh_info()

    @property
    def port(self) -> int | None:
        """The bound TCP port (useful with port 0)."""
        if isinstance(self.server, AsyncTcpServer) and self.server._server is not None:
            return self.server._server.sockets[0].getsockname()[1]
        return None

    def handler_factory(self, reader, writer) -> AssistEventHandler:
        return AssistEventHandler(
            reader,
            writer,
            service=self,
            assistant=self.assistant,
            settings=HandlerSettings(
                max_text_chars=self.config.max_text, default_language=self.config.language
            ),
            budget=self.budget,
        )

    async def start(self) -> None:
        """Start listening without blocking (tests, benchmark)."""
        await self.server.start(self.handler_factory)

    async def serve_forever(self) -> None:
        await self.server.run(self.handler_factory)

    async def stop(self) -> None:
        await self.server.stop()
        await self.worker.close()

    async def use_model(self, wanted: str) -> ModelPlan:
        """Switch to another model; if it cannot load, the current one stays."""
        async with self._swap_lock:
            # Reading model metadata and tokenizers takes a while: not on the event loop.
            plan = await asyncio.to_thread(plan_model, self.config, wanted)
            runtime = await asyncio.to_thread(create_runtime, plan, self.config)
            _LOGGER.info("Switching from %s to %s", self.plan.entry.name, plan.entry.name)
            await self.worker.swap(runtime, self.system_prompt)
            self.plan = plan
            self.assistant.settings = AssistantSettings(
                language=self.config.language,
                max_new_tokens=max_tokens_for(self.config, plan.entry),
            )
            self._refresh_info()
            _LOGGER.info("Now serving %s", plan.entry.name)
            return plan

    def _refresh_info(self) -> None:
        info = build_info(
            self.plan.entry.name,
            self.worker.runtime.name,
            list(self.config.languages),
            self.plan.embedded,
        )
        self.info_event = info.event()


async def create_service(config: ServiceConfig) -> Service:
    """Load everything; raises on a missing model or prompt file, before listening."""
    plan = plan_model(config)
    system_prompt = load_system_prompt(config.config_dir)
    runtime = create_runtime(plan, config)
    worker = ModelWorker(runtime, max_waiting=config.queue_size)
    _LOGGER.info("Loading %s on %s", plan.entry.name, runtime.name)
    await worker.load(system_prompt)
    assistant = Assistant(
        worker=worker,
        system_prompt=system_prompt,
        conversations=ConversationStore(
            max_turns=config.history_turns, idle_seconds=config.history_idle
        ),
        settings=AssistantSettings(
            language=config.language, max_new_tokens=max_tokens_for(config, plan.entry)
        ),
    )
    server = AsyncServer.from_uri(config.uri)
    return Service(config, plan, worker, assistant, server, system_prompt)


async def serve(config: ServiceConfig) -> None:
    service = await create_service(config)
    _LOGGER.info("Ready on %s", config.uri)
    try:
        await service.serve_forever()
    finally:
        await service.worker.close()
        _LOGGER.info("Stopped")
