"""Assemble the service from its rooms: models, runtime, worker, assistant, Wyoming server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from wyoming.event import Event
from wyoming.server import AsyncServer, AsyncStdioServer, AsyncTcpServer

from .assistant.pipeline import Assistant
from .config import ServiceConfig
from .connection_budget import ConnectionBudget
from .defaults import STOP_LIMIT_S
from .errors import PullError, RuntimeFailure
from .home.request_words import load_words
from .home.sentences import load_sentences
from .home.services import execute
from .home.source import HomeSource, home_source
from .http.front import ChatDefaults
from .http.server import HttpFront
from .models.fetching import ModelFetch, fetched_or_to_fetch
from .models.library import ModelEntry, ModelLibrary
from .models.select import ModelPlan, create_runtime, embedded_entry, max_tokens_for, plan_model
from .runtimes.worker import ModelWorker
from .stack import build_stack
from .wyoming.handler import AssistEventHandler, HandlerSettings
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
    home: HomeSource | None = None
    #: The model the user named, still being downloaded (--pull); None once served.
    fetching: ModelFetch | None = None
    http: HttpFront | None = field(default=None, init=False)
    info_event: Event = field(init=False)
    budget: ConnectionBudget = field(init=False)
    _swap_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _prompt_task: asyncio.Task[None] | None = field(default=None, init=False)
    _prompt_again: bool = field(default=False, init=False)
    #: Learning the languages' sentences at start; held so the task is not collected.
    _warming: asyncio.Task[None] | None = field(default=None, init=False)
    _stop_requested: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _fetch_task: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        config = self.config
        self.budget = ConnectionBudget(config.max_connections, config.max_connections_per_peer)
        if config.http_uri is not None:
            host, _, port = config.http_uri.removeprefix("http://").rpartition(":")
            self.http = HttpFront(
                self,
                host.strip("[]"),
                int(port),
                config.api_key,
                ConnectionBudget(
                    config.max_connections, config.max_connections_per_peer, door="HTTP"
                ),
                remote_model_switch=config.remote_model_switch,
            )
        self._refresh_info()

    @property
    def port(self) -> int | None:
        """The bound TCP port (useful with port 0)."""
        # wyoming keeps the bound socket to itself; with port 0 only it knows the port.
        if isinstance(self.server, AsyncTcpServer) and self.server._server is not None:
            return self.server._server.sockets[0].getsockname()[1]
        return None

    # -- what the doors ask of the service (wyoming.handler.ModelControl,
    #    http.front.ServiceControl) -----------------------------------------

    @property
    def cache_dir(self) -> Path:
        return self.config.cache_dir

    def model_library(self) -> list[ModelEntry]:
        """Every model in the models folder, and the embedded one where it is installed."""
        entries = ModelLibrary(self.config.models_dir).scan()
        with contextlib.suppress(RuntimeFailure):
            entries.append(embedded_entry())
        return entries

    def chat_defaults(self) -> ChatDefaults:
        return ChatDefaults(
            system_prompt=self.system_prompt,
            max_new_tokens=self.assistant.settings.max_new_tokens,
            language=self.config.language,
            languages=tuple(self.config.languages),
        )

    def handler_factory(self, reader, writer) -> AssistEventHandler:
        return AssistEventHandler(
            reader,
            writer,
            service=self,
            assistant=self.assistant,
            settings=HandlerSettings(
                max_text_chars=self.config.max_text,
                default_language=self.config.language,
                idle_timeout=self.config.idle_timeout,
                read_timeout=self.config.read_timeout,
            ),
            budget=self.budget,
        )

    async def start(self) -> None:
        """Start listening without blocking; :meth:`stop_requested` waits for the end."""
        if self.home is not None:
            # Home Assistant's sentences load in a fraction of a second per language:
            # off the loop, before the first request needs them.
            self._warming = asyncio.create_task(
                asyncio.to_thread(_learn_languages, self.config.languages)
            )
            await self.home.start()
        if self.http is not None:
            await self.http.start()
        if self.fetching is not None:
            self._fetch_task = asyncio.create_task(self._fetch_model(self.fetching))
        if isinstance(self.server, AsyncStdioServer):
            # stdio has no listener: its one connection is served as a task, and the
            # service ends with it.
            stdio = asyncio.create_task(self.server.run(self.handler_factory))
            stdio.add_done_callback(lambda _task: self.request_stop())
        else:
            await self.server.start(self.handler_factory)

    def request_stop(self) -> None:
        """Begin stopping (SIGTERM): health says "stopping" from now on."""
        self._stop_requested.set()

    @property
    def stopping(self) -> bool:
        """A stop began: the health report turns away new work from then on."""
        return self._stop_requested.is_set()

    async def stop_requested(self) -> None:
        await self._stop_requested.wait()

    def health(self) -> dict[str, object]:
        """Whether this board can take work now, for a load balancer (``GET /health``)."""
        worker = self.worker
        if self.stopping:
            status = "stopping"
        elif self._swap_lock.locked() or self.fetching is not None:
            status = "loading"
        elif worker.stalled_for > self.config.stuck_after:
            status = "stuck"
        elif worker.full:
            status = "full"
        else:
            status = "busy" if worker.busy else "ready"
        return {
            "status": status,
            "model": self.plan.entry.name,
            "running": 1 if worker.busy else 0,
            "queue_depth": worker.waiting,
            "queue_limit": worker.max_waiting,
            "generations": worker.generations,
            "stalled_s": round(worker.stalled_for, 1),
        }

    async def stop(self) -> None:
        """Stop serving: answers under way get ``STOP_GRACE_S`` to finish, then are ended
        (a Wyoming turn with a spoken not-handled); then the model is released."""
        self.request_stop()
        if self._fetch_task is not None and self.fetching is not None:
            self.fetching.stop()  # the thread ends at its next block; the next start resumes
            with contextlib.suppress(Exception):
                await self._fetch_task
        await asyncio.gather(
            self.server.stop(),  # each Wyoming connection's stop(): see AssistEventHandler
            self.http.stop() if self.http is not None else asyncio.sleep(0),
        )
        if self.home is not None:
            await self.home.stop()
        await self.worker.close()

    async def use_model(self, wanted: str) -> ModelPlan:
        """Switch to another model; if it cannot load, the current one stays."""
        async with self._swap_lock:
            # Reading model metadata and tokenizers takes a while: not on the event loop.
            plan = await asyncio.to_thread(plan_model, self.config, wanted)
            runtime = await asyncio.to_thread(create_runtime, plan, self.config)
            _LOGGER.info("Switching from %s to %s", self.plan.entry.name, plan.entry.name)
            await self.worker.swap(runtime, *self.assistant.prompt_and_tools())
            self.plan = plan
            self.assistant.answer_up_to(max_tokens_for(self.config, plan.entry))
            self._refresh_info()
            _LOGGER.info("Now serving %s", plan.entry.name)
            return plan

    async def _fetch_model(self, fetch: ModelFetch) -> None:
        """Download the model the user named, then serve it; the default serves meanwhile."""
        loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(
                fetch.run,
                self.config.models_dir,
                lambda: loop.call_soon_threadsafe(self._refresh_info),
            )
            await self.use_model(fetch.plan.folder)
        except (PullError, RuntimeFailure) as err:
            if not self.stopping:
                _LOGGER.error(
                    "Could not get %s ready: %s; serving %s instead",
                    fetch.name,
                    err,
                    self.plan.entry.name,
                )
        finally:
            self.fetching = None
            self._refresh_info()

    def home_changed(self) -> None:
        """The exposed home changed: prepare the new prompt now, not on the next request.

        Requests keep the old prompt until the new state is ready; calls are
        always checked against the current home, so a device that is no longer
        exposed is never acted on, even before the prompt catches up.
        """
        if self._prompt_task is not None and not self._prompt_task.done():
            self._prompt_again = True
            return
        self.assistant.preparing_prompt(True)
        self._prompt_task = asyncio.create_task(self._prepare_home_prompt())

    async def _prepare_home_prompt(self) -> None:
        try:
            await self._prepare_home_prompts()
        finally:
            self.assistant.preparing_prompt(False)

    async def _prepare_home_prompts(self) -> None:
        while True:
            self._prompt_again = False
            home = self.assistant.current_home()
            started = asyncio.get_running_loop().time()
            try:
                await self.worker.prepare(*self.assistant.prompt_and_tools(home))
            except Exception as err:
                _LOGGER.error("Could not prepare the prompt for the changed home: %s", err)
                return
            self.assistant.prompt_prepared_for(home)
            self._refresh_info()
            _LOGGER.info(
                "Prompt prepared for %d exposed entities in %.1f s",
                len(home.entities) if home else 0,
                asyncio.get_running_loop().time() - started,
            )
            if not self._prompt_again:
                return

    def _refresh_info(self) -> None:
        info = build_info(
            self.plan.entry.name,
            self.worker.runtime.name,
            list(self.config.languages),
            self.plan.embedded,
            # Advertised once the home's prompt is ready: not while Home Assistant is
            # still connecting, and never after it refused the token (no home then).
            home_control=self.assistant.home_ready,
            getting_ready=self.fetching.describe() if self.fetching is not None else None,
        )
        self.info_event = info.event()


def _learn_languages(languages: tuple[str, ...]) -> None:
    load_sentences(languages)
    load_words(languages)


async def create_service(config: ServiceConfig) -> Service:
    """Load everything; raises on a missing model or prompt file, before listening."""
    config, fetch = fetched_or_to_fetch(config)
    start_with = config
    if fetch is not None:
        # The default model answers until the named one is fetched; the service keeps
        # the user's choices (runtime, library) for the switch.
        start_with = replace(config, model=None, runtime="cpu")
    on_change: list[Callable[[], None]] = []  # the service, once it exists
    home = (
        home_source(
            config.home_file,
            config.ha_url,
            config.ha_token,
            on_change=lambda _home: [callback() for callback in on_change],
        )
        if config.home_control != "off"
        else None
    )
    if config.home_control == "off":
        _LOGGER.info("Home control is off: chat only")
    stack = build_stack(
        start_with,
        home=(lambda: home.home) if home is not None else None,
        executor=_service_executor(home) if config.home_control == "services" else None,
    )
    _LOGGER.info("Loading %s on %s", stack.plan.entry.name, stack.worker.runtime.name)
    # A home known now (a file) is part of the prompt prepared at load; one read
    # from Home Assistant later is prepared as soon as it arrives.
    await stack.load()
    server = AsyncServer.from_uri(config.uri)
    service = Service(
        config,
        stack.plan,
        stack.worker,
        stack.assistant,
        server,
        stack.assistant.system_prompt,
        home,
        fetch,
    )
    on_change.append(service.home_changed)
    return service


def _service_executor(home: HomeSource | None):
    """The services mode's executor: Home Assistant's services over the websocket."""
    if home is None:
        return None
    connection = home.connection
    call = connection.call_service if connection is not None else None
    if call is None:
        _LOGGER.warning("Home control 'services' needs Home Assistant; actions will fail")

    async def run(actions, current_home):
        return await execute(actions, current_home, call)

    return run


async def serve(config: ServiceConfig) -> None:
    """Run until SIGTERM or Ctrl-C, then stop gracefully."""
    service = await create_service(config)

    def stop_on_signal() -> None:
        # SIGTERM (the add-on's stop, systemd, a balancer's drain): report
        # "stopping" to health checks at once; answers already streaming over
        # HTTP finish before the server closes.
        _LOGGER.info("Stopping on SIGTERM")
        service.request_stop()

    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        loop.add_signal_handler(signal.SIGTERM, stop_on_signal)
    try:
        await service.start()
        _LOGGER.info("Ready on %s", config.uri)
        await service.stop_requested()
    finally:
        try:
            async with asyncio.timeout(STOP_LIMIT_S):
                await service.stop()
        except TimeoutError:
            # The model's thread is stuck inside the runtime (a hung NPU call): the
            # interpreter would wait for it forever at exit. A supervisor restarts us.
            _LOGGER.error("Could not stop within %g s; exiting anyway", STOP_LIMIT_S)
            logging.shutdown()
            os._exit(1)
        _LOGGER.info("Stopped")
