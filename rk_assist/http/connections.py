"""The HTTP door's listening socket, with a cap on connections in all and per address.

aiohttp accepts every connection and keeps an idle one for an hour by default;
on a LAN one host could hold hundreds and starve Home Assistant. Each accepted
connection passes the same :class:`~rk_assist.connection_budget.ConnectionBudget`
as Wyoming's before aiohttp sees it; a refused one gets a plain 503 and is
closed. The first request's headers must arrive within aiohttp's keep-alive
timeout, which it also applies from the moment a connection opens. Malformed
requests are logged as one counted line a minute, as refusals are.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from ..connection_budget import LOG_EVERY_S, ConnectionBudget

_REFUSED = (
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    "Connection: close\r\nContent-Length: {length}\r\n\r\n{body}"
)


def refusal_response(why: str) -> bytes:
    body = json.dumps({"error": f"too many connections ({why}); try again later"})
    return _REFUSED.format(length=len(body.encode()), body=body).encode()


class GuardedProtocol(asyncio.Protocol):
    """Hands a connection to aiohttp's protocol only if the budget has room for it."""

    def __init__(self, inner: asyncio.Protocol, budget: ConnectionBudget) -> None:
        self._inner: asyncio.Protocol | None = inner
        self._budget = budget
        self._peer: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._peer = transport.get_extra_info("peername")
        refusal = self._budget.try_take(self._peer)
        if refusal is not None:
            self._inner = None
            assert isinstance(transport, asyncio.Transport)
            transport.write(refusal_response(refusal))
            transport.close()
            return
        assert self._inner is not None
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._inner is None:
            return
        self._budget.give_back(self._peer)
        inner, self._inner = self._inner, None
        inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


async def listen(
    protocols: Callable[[], asyncio.Protocol], budget: ConnectionBudget, host: str, port: int
) -> asyncio.Server:
    """A listening server whose connections go through ``budget`` to ``protocols()``."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: GuardedProtocol(protocols(), budget), host or None, port, reuse_address=True
    )


class ParseErrorLog(logging.Filter):
    """aiohttp logs each malformed request as a ten-line traceback at ERROR; a probe or a
    confused client would fill the log. They become one warning line a minute, counted."""

    def __init__(self) -> None:
        super().__init__()
        self._logged_at = -LOG_EVERY_S
        self._count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        self._count += 1
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY_S:
            return False
        record.msg = "Malformed HTTP request from %s: %s (%d since the last such line)"
        record.args = (*(record.args or ("?",))[:1], _one_line(error), self._count)
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        self._logged_at, self._count = now, 0
        return True


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200]


_PARSE_ERRORS = ParseErrorLog()


def quiet_parse_errors() -> None:
    """Install :class:`ParseErrorLog` on aiohttp's server logger (once)."""
    logger = logging.getLogger("aiohttp.server")
    if _PARSE_ERRORS not in logger.filters:
        logger.addFilter(_PARSE_ERRORS)
