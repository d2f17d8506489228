"""The HTTP front door: Ollama's and OpenAI's APIs over the same model worker as Wyoming.

On aiohttp, Home Assistant's own HTTP library. It is a room of its own: it
reads requests, asks the service (through ``front.ServiceControl``) for
models and the worker for answers, and writes replies; it knows nothing of
Wyoming. Every error is an answer with a status and a message naming the
problem (one table: ``front.ERROR_STATUS``), and the server keeps serving:
a full line is a 503, a bad body a 400 naming the field, a client that
hangs up stops its generation.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..connection_budget import ConnectionBudget
from ..defaults import STOP_GRACE_S
from ..errors import HttpError, ModelNotFoundError, RkAssistError, RuntimeFailure
from . import health, management, ollama_api, openai_api
from .connections import listen, quiet_parse_errors
from .front import Front, ServiceControl, error_answer

_LOGGER = logging.getLogger(__name__)
#: Home Assistant's prompt for a large home with its tools is ~100 kB; this leaves room.
MAX_BODY_BYTES = 4 << 20
#: Seconds a connection may take to send its request's headers (aiohttp applies its
#: keep-alive timeout from the moment a connection opens) and to stay idle between requests.
HEADER_TIMEOUT_S = 30.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HttpFront(Front):
    """Serves the HTTP APIs for one service."""

    def __init__(
        self,
        service: ServiceControl,
        host: str,
        port: int,
        api_key: str | None,
        budget: ConnectionBudget,
        remote_model_switch: bool = False,
    ) -> None:
        super().__init__(service, api_key, remote_model_switch)
        self.host, self.requested_port = host, port
        self._budget = budget
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
        except RkAssistError as err:
            if isinstance(err, RuntimeFailure) and error_answer(err)[0] >= 500:
                _LOGGER.error("Generation failed for an HTTP client: %s", err)
            elif isinstance(err, ModelNotFoundError):  # the client's setting, not our fault
                _LOGGER.warning("%s %s: %s", request.method, request.path, err)
            return self._error(request, *error_answer(err))
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
