"""``GET /health``: whether this board can take work now, for a load balancer.

A balancer in front of several boards (HAProxy, see ``rk_assist/data/haproxy.cfg``)
checks this every second or two. "ready" (idle) and "busy" (generating, with
room in its waiting line) answer 200: the board takes the request, and a
least-connections balancer already prefers the idle one. "full" (the line is
full, a request would get a 503 anyway), "loading" (a model is being
switched), "stuck" (the model has made no progress for ``--stuck-after``
seconds: a hung runtime, which only a restart clears) and "stopping" answer
503, so the balancer sends new work elsewhere until the board recovers. It
carries no secret, so it answers without the API key: a balancer's check
should not need one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .front import Front

PATH = "/health"
_CAN_TAKE_WORK = ("ready", "busy")


def routes(front: Front) -> list[web.RouteDef]:
    async def health(_request: web.Request) -> web.Response:
        report = front.health()
        status = 200 if report["status"] in _CAN_TAKE_WORK else 503
        return web.json_response(report, status=status)

    return [web.get(PATH, health)]
