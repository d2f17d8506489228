"""The HTTP front door: Ollama's and OpenAI's APIs over the same model worker as Wyoming.

On aiohttp, Home Assistant's own HTTP library. It is a room of its own: it
reads requests, asks the service for models and the worker for answers,
and writes replies; it knows nothing of Wyoming or of the home. Every error
is an answer with a status and a message naming the problem, and the
server keeps serving: a full line is a 503, a bad body a 400 naming the
field, a client that hangs up stops its generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..config import STOP_GRACE_S
from ..connection_budget import ConnectionBudget
from ..home.request_words import reads_as_other
from ..models.library import ModelLibrary
from ..models.select import embedded_entry
from ..runtimes.base import PromptTooLongError, RuntimeFailure
from ..runtimes.worker import BusyError, ModelWorker
from . import health, management, ollama_api, openai_api
from .chat import ChatRequest, RequestError
from .connections import listen, quiet_parse_errors
from .errors import HttpError, ModelNotFoundError

if TYPE_CHECKING:
    from ..service import Service

_LOGGER = logging.getLogger(__name__)
#: Home Assistant's prompt for a large home with its tools is ~100 kB; this leaves room.
MAX_BODY_BYTES = 4 << 20
#: Seconds a connection may take to send its request's headers (aiohttp applies its
#: keep-alive timeout from the moment a connection opens) and to stay idle between requests.
HEADER_TIMEOUT_S = 30.0
#: Seconds a request's body may take to arrive once its headers have.
BODY_TIMEOUT_S = 30.0
LOCAL_PEERS = frozenset({"127.0.0.1", "::1", None})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ModelInfo:
    """A model as the HTTP APIs list it."""

    name: str
    file: Path
    size: int
    format: str  # "gguf" or "rkllm"
    modified: float
    thinking: bool = False
    context_length: int | None = None

    @property
    def modified_at(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.modified))

    @property
    def created(self) -> int:
        return int(self.modified)

    @property
    def digest(self) -> str:
        """An identity for the file as it is now: its name, size and modification time."""
        return hashlib.sha256(f"{self.file.name}:{self.size}:{self.modified}".encode()).hexdigest()


def _info(name: str, path: Path, size: int, thinking: bool = False, context: int | None = None):
    fmt = "rkllm" if path.suffix == ".rkllm" else "gguf"
    return ModelInfo(name, path, size, fmt, path.stat().st_mtime, thinking, context)


class HttpFront:
    """Serves the HTTP APIs for one service."""

    def __init__(
        self,
        service: Service,
        host: str,
        port: int,
        api_key: str | None,
        budget: ConnectionBudget,
        remote_model_switch: bool = False,
    ) -> None:
        self.service = service
        self.host, self.requested_port = host, port
        self._api_key = api_key
        self._budget = budget
        self._remote_model_switch = remote_model_switch
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()  # requests being answered
        self.port: int | None = None
        self.app = web.Application(
            middlewares=[self._errors, self._auth], client_max_size=MAX_BODY_BYTES
        )
        self.app.add_routes(ollama_api.routes(self))
        self.app.add_routes(openai_api.routes(self))
        self.app.add_routes(management.routes(self))
        self.app.add_routes(health.routes(self))

    @property
    def worker(self) -> ModelWorker:
        return self.service.worker

    async def start(self) -> None:
        # Cancelling a handler when its client hangs up is what stops the generation.
        self._runner = web.AppRunner(
            self.app,
            handler_cancellation=True,
            access_log=None,
            keepalive_timeout=HEADER_TIMEOUT_S,
            shutdown_timeout=1.0,  # stop() has ended every request by then
        )
        await self._runner.setup()
        quiet_parse_errors()
        server = self._runner.server
        assert server is not None
        self._listener = await listen(server, self._budget, self.host, self.requested_port)
        self.port = self._listener.sockets[0].getsockname()[1]
        _LOGGER.info("HTTP API (Ollama, OpenAI) on http://%s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening; answers already streaming get ``STOP_GRACE_S``, then are cut.

        aiohttp's own shutdown waits its timeout twice (once for the handlers,
        once after cancelling only their body reads), past the few seconds a
        stop may take, so requests still running after the grace are cancelled
        here, which aborts their generations.
        """
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._in_flight:
            _done, late = await asyncio.wait(set(self._in_flight), timeout=STOP_GRACE_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- what the APIs ask of the service ------------------------------------

    def loaded_model(self) -> ModelInfo:
        plan = self.service.plan
        entry = plan.entry
        return _info(entry.name, entry.path, entry.size, entry.thinking, plan.context.length)

    def models(self) -> list[ModelInfo]:
        """The loaded model first, then every usable model in the library."""
        loaded = self.loaded_model()
        found = [loaded]
        entries = ModelLibrary(self.service.config.models_dir).scan()
        with contextlib.suppress(RuntimeFailure):  # the embedded model, when installed
            entries.append(embedded_entry())
        for entry in entries:
            if entry.problem is None and all(info.name != entry.name for info in found):
                found.append(_info(entry.name, entry.path, entry.size, entry.thinking))
        return found

    def find_model(self, wanted: str) -> ModelInfo:
        name = wanted.removesuffix(":latest")
        if name == self.service.plan.entry.name:  # every chat names it: no library scan
            return self.loaded_model()
        for info in self.models():
            if info.name == name:
                return info
        raise ModelNotFoundError(
            f"model '{wanted}' not found; rk-assist never downloads models: install one with "
            "'rk-assist models install NAME' or put it in the models folder"
        )

    async def serve_model(self, request: web.Request, wanted: str) -> str:
        """The name of the model that will answer, switching to it if it is another one.

        A switch stops every client's answers for seconds, so, as with the
        management endpoints, only this machine or a holder of the API key may
        cause one (unless ``--remote-model-switch``); others are told which
        model is loaded.
        """
        info = self.find_model(wanted)
        loaded = self.service.plan.entry.name
        if info.name != loaded:
            if not (self._remote_model_switch or self.may_manage(request)):
                raise HttpError(
                    403,
                    f"this service is serving '{loaded}'; only this machine (or a request "
                    f"with the API key) may switch it to '{info.name}': ask for '{loaded}'",
                )
            await self.service.use_model(info.name)
        return info.name

    async def reply_language(self, chat: ChatRequest) -> str:
        """The language of the request, for the service's own sentences.

        HTTP requests carry none (Home Assistant's Ollama and llama_cpp doors
        send the transcript alone): the service's language, unless the person's
        words read clearly as another language it serves ("Schalte das Licht
        aus" to an English-first service is answered in German).
        """
        configured = self.service.config.language
        said = next((m.content for m in reversed(chat.messages) if m.role == "user"), "")
        other = await asyncio.to_thread(reads_as_other, said, configured)
        return other if other and other in self.service.config.languages else configured

    def chat_defaults(self) -> tuple[str, int]:
        """The system prompt for clients that send none, and the longest answer."""
        return self.service.system_prompt, self.service.assistant.settings.max_new_tokens

    async def json_body(self, request: web.Request) -> Any:
        try:
            async with asyncio.timeout(BODY_TIMEOUT_S):
                raw = await request.read()
        except TimeoutError:
            raise HttpError(
                408, f"the request body did not arrive within {BODY_TIMEOUT_S:g} s"
            ) from None
        try:
            return json.loads(raw or b"{}")
        except (ValueError, RecursionError) as err:
            raise RequestError("", f"the body is not JSON ({str(err)[:120]})") from err

    def describe_error(self, err: BaseException) -> str:
        if isinstance(err, BusyError):
            return f"the model is busy: {err}; try again shortly"
        if isinstance(err, RuntimeFailure | RequestError | ModelNotFoundError):
            return str(err)
        return f"internal error: {type(err).__name__}"

    def is_local(self, request: web.Request) -> bool:
        return request.remote in LOCAL_PEERS

    def may_manage(self, request: web.Request) -> bool:
        """Cache and model management: this machine, or anyone once a key guards the API
        (the auth middleware has checked it by then)."""
        return self.has_api_key or self.is_local(request)

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    # -- middlewares -----------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._api_key is None or request.path == health.PATH:
            return await handler(request)
        given = request.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        # aiohttp hands non-UTF-8 header bytes over as surrogates: compare the bytes sent.
        sent = token.strip().encode("utf-8", "surrogateescape")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent, self._api_key.encode()):
            raise HttpError(401, "a valid 'Authorization: Bearer <api key>' header is required")
        return await handler(request)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            return await handler(request)
        except HttpError as err:
            return self._error(request, err.status, err.message)
        except RequestError as err:
            return self._error(request, 400, str(err))
        except ModelNotFoundError as err:
            return self._error(request, 404, str(err))
        except BusyError as err:
            return self._error(request, 503, self.describe_error(err))
        except PromptTooLongError as err:
            return self._error(request, 400, str(err))
        except RuntimeFailure as err:
            _LOGGER.error("Generation failed for an HTTP client: %s", err)
            return self._error(request, 500, str(err))
        except web.HTTPException as err:
            if err.status >= 400:
                return self._error(request, err.status, err.reason)
            raise
        finally:
            self._in_flight.discard(task)

    @staticmethod
    def _error(request: web.Request, status: int, message: str) -> web.Response:
        if request.path.startswith("/v1/"):
            kind = "invalid_request_error" if status < 500 else "server_error"
            body: dict[str, Any] = {"error": {"message": message, "type": kind, "code": status}}
        else:
            body = {"error": message}
        response = web.json_response(body, status=status)
        if status == 408:  # the rest of a late body may still come: not a new request
            response.force_close()
        return response
