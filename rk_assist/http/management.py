"""Prompt caches and the loaded model, managed over HTTP (as rkllama and RockchipLlama allow).

These change what the service holds for everyone, so without ``--api-key``
they answer only peers on this machine; with a key, the key is the guard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import voluptuous as vol
from aiohttp import web

from ..errors import HttpError
from ..runtimes.base import ChatMessage
from ..runtimes.prompt_cache import delete_saved, describe_cache, saved_caches
from .chat import ChatRequest, run_chat
from .schemas import MODEL_ONLY, validated

if TYPE_CHECKING:
    from .front import Front

_BUILD = vol.Schema(
    {
        vol.Optional("system", default=None): vol.Any(None, str),
        vol.Optional("tools", default=None): vol.Any(None, list),
    },
    extra=vol.ALLOW_EXTRA,
)


def routes(front: Front) -> list[web.RouteDef]:
    api = Management(front)
    return [
        web.get("/v1/cache", api.list_caches),
        web.post("/v1/cache", api.build_cache),
        web.delete("/v1/cache/{model}/{name}", api.delete_cache),
        web.post("/v1/models/load", api.load_model),
    ]


class Management:
    def __init__(self, front: Front) -> None:
        self.front = front

    def _guard(self, request: web.Request) -> None:
        if not self.front.may_manage(request):
            raise HttpError(
                403, "cache and model management answer only this machine unless --api-key is set"
            )

    async def list_caches(self, request: web.Request) -> web.Response:
        self._guard(request)
        caches = [describe_cache(cache) for cache in saved_caches(self.front.cache_dir)]
        return web.json_response({"caches": caches})

    async def build_cache(self, request: web.Request) -> web.Response:
        """Prefill a client's system prompt and tools now, so its first request is fast."""
        self._guard(request)
        body = validated(_BUILD, await self.front.json_body(request))
        system, _max = self.front.chat_defaults()
        messages = (ChatMessage("system", body["system"] or system), ChatMessage("user", "."))
        chat = ChatRequest(
            model=self.front.serving().entry.name,
            messages=messages,
            tools=tuple(body["tools"] or ()),
            max_tokens=1,
        )
        stats = None
        async for piece in run_chat(self.front.worker, chat, system, 1):
            stats = piece.stats or stats
        reused = stats.reused_tokens if stats else 0
        return web.json_response(
            {"status": "ready", "prompt_tokens": stats.prompt_tokens if stats else 0}
            | {"reused_tokens": reused}
        )

    async def delete_cache(self, request: web.Request) -> web.Response:
        self._guard(request)
        model, name = request.match_info["model"], request.match_info["name"]
        deleted = [str(cache.bin_path) for cache in delete_saved(self.front.cache_dir, model, name)]
        if not deleted:
            raise HttpError(404, f"no prompt cache {name!r} for model {model!r}")
        return web.json_response({"deleted": deleted})

    async def load_model(self, request: web.Request) -> web.Response:
        self._guard(request)
        body = validated(MODEL_ONLY, await self.front.json_body(request))
        name = await self.front.serve_model(request, body.get("model") or body["name"])
        plan = self.front.serving()
        return web.json_response(
            {"model": name, "runtime": self.front.worker.runtime.name}
            | {"context_length": plan.context.length}
        )
