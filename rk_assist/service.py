"""Assemble the service from its rooms: runtime, worker, assistant, Wyoming server."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from wyoming.server import AsyncServer, AsyncTcpServer

from .assistant.conversations import ConversationStore
from .assistant.pipeline import Assistant, AssistantSettings
from .assistant.prompt import load_system_prompt
from .config import ServiceConfig
from .runtimes.base import ModelFileError, Runtime
from .runtimes.embedded import embedded_model_path
from .runtimes.llama_cpp import LlamaCppRuntime, LlamaCppSettings, check_gguf_file
from .runtimes.rkllm import RkllmRuntime, RkllmSettings, check_rkllm_file
from .runtimes.worker import ModelWorker
from .wyoming.handler import AssistEventHandler, ConnectionBudget, HandlerSettings
from .wyoming.info import build_info

_LOGGER = logging.getLogger(__name__)


def create_runtime(config: ServiceConfig) -> tuple[Runtime, bool]:
    """The configured runtime, and whether it runs the embedded default model."""
    if config.runtime == "rkllm":
        if config.model is None:
            raise ModelFileError("--runtime rkllm needs --model PATH to an .rkllm model file")
        check_rkllm_file(config.model)
        return RkllmRuntime(
            RkllmSettings(
                model_path=config.model,
                library_path=config.rkllm_library,
                abi=config.rkllm_abi,
                context_length=config.context_length,
                max_new_tokens=config.max_tokens,
                temperature=config.temperature,
                top_p=config.top_p,
                top_k=config.top_k,
                n_keep=config.rkllm_n_keep,
                cpu_mask=config.rkllm_cpu_mask,
                embed_flash=config.rkllm_embed_flash,
                cache_dir=config.cache_dir if config.prompt_cache else None,
                prefix_cache=config.prompt_cache,
            )
        ), False
    embedded = config.model is None
    model_path = embedded_model_path() if embedded else config.model
    assert model_path is not None
    check_gguf_file(model_path)  # before anything else is written or loaded
    runtime = LlamaCppRuntime(
        LlamaCppSettings(
            model_path=model_path,
            context_length=config.context_length,
            threads=config.threads,
            temperature=config.temperature,
            top_p=config.top_p,
            top_k=config.top_k,
            cache_dir=config.cache_dir if config.prompt_cache else None,
            prefix_cache=config.prompt_cache,
        )
    )
    return runtime, embedded


@dataclass
class Service:
    """A loaded, ready-to-serve assistant and the server that exposes it."""

    config: ServiceConfig
    worker: ModelWorker
    assistant: Assistant
    server: AsyncServer
    handler_factory: partial

    @property
    def port(self) -> int | None:
        """The bound TCP port (useful with port 0)."""
        if isinstance(self.server, AsyncTcpServer) and self.server._server is not None:
            return self.server._server.sockets[0].getsockname()[1]
        return None

    async def start(self) -> None:
        """Start listening without blocking (tests, benchmark)."""
        await self.server.start(self.handler_factory)

    async def serve_forever(self) -> None:
        await self.server.run(self.handler_factory)

    async def stop(self) -> None:
        await self.server.stop()
        await self.worker.close()


async def create_service(config: ServiceConfig) -> Service:
    """Load everything; raises on a missing model or prompt file, before listening."""
    runtime, embedded = create_runtime(config)
    system_prompt = load_system_prompt(config.config_dir)
    worker = ModelWorker(runtime, max_waiting=config.queue_size)
    _LOGGER.info("Loading %s on %s", runtime.model_name, runtime.name)
    await worker.load(system_prompt)
    assistant = Assistant(
        worker=worker,
        system_prompt=system_prompt,
        conversations=ConversationStore(
            max_turns=config.history_turns, idle_seconds=config.history_idle
        ),
        settings=AssistantSettings(language=config.language, max_new_tokens=config.max_tokens),
    )
    info = build_info(runtime.model_name, runtime.name, list(config.languages), embedded)
    factory = partial(
        AssistEventHandler,
        info=info,
        assistant=assistant,
        settings=HandlerSettings(max_text_chars=config.max_text, default_language=config.language),
        budget=ConnectionBudget(limit=config.max_connections),
    )
    server = AsyncServer.from_uri(config.uri)
    return Service(config, worker, assistant, server, factory)


async def serve(config: ServiceConfig) -> None:
    service = await create_service(config)
    _LOGGER.info("Ready on %s", config.uri)
    try:
        await service.serve_forever()
    finally:
        await service.worker.close()
        _LOGGER.info("Stopped")
