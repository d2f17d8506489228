"""The Ollama API, as the ``ollama`` Python client that Home Assistant pins uses it.

Home Assistant's Ollama integration streams the reply into text-to-speech
and runs the tool calls itself: it lists models (``/api/tags``, polled every
30 s), pulls one it does not see, and chats (``/api/chat``, NDJSON lines that
each carry ``message.role``; the last says ``done``).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..output.calls import ToolCall
from ..runtimes.base import GenerationStats
from .chat import ReplyPiece, run_chat, whole_reply
from .front import hung_up
from .schemas import MODEL_ONLY, ollama_chat, validated

if TYPE_CHECKING:
    from .front import Front

#: The Ollama API version whose behaviour this follows (its clients may compare it).
OLLAMA_API_VERSION = "0.12.0"


def routes(front: Front) -> list[web.RouteDef]:
    api = OllamaApi(front)
    return [
        web.get("/", api.root),
        web.get("/api/version", api.version),
        web.get("/api/tags", api.tags),
        web.get("/api/ps", api.running),
        web.post("/api/show", api.show),
        web.post("/api/pull", api.pull),
        web.post("/api/chat", api.chat),
    ]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _call(call: ToolCall) -> dict[str, Any]:
    return {"function": {"name": call.name, "arguments": call.arguments}}


def _done(stats: GenerationStats, total_ns: int) -> dict[str, Any]:
    return {
        "done": True,
        "done_reason": "length" if stats.stop_reason == "length" else "stop",
        "total_duration": total_ns,
        "load_duration": 0,
        "prompt_eval_count": stats.prompt_tokens,
        "prompt_eval_duration": int(stats.prefill_ms * 1e6),
        "eval_count": stats.generated_tokens,
        "eval_duration": int(stats.generate_ms * 1e6),
    }


class OllamaApi:
    def __init__(self, front: Front) -> None:
        self.front = front

    async def root(self, _request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running (rk-assist)")

    async def version(self, _request: web.Request) -> web.Response:
        return web.json_response({"version": OLLAMA_API_VERSION})

    async def tags(self, _request: web.Request) -> web.Response:
        models = [self._model(info) for info in self.front.models()]
        return web.json_response({"models": models})

    async def running(self, _request: web.Request) -> web.Response:
        loaded = self.front.loaded_model()
        entry = {**self._model(loaded), "expires_at": "9999-12-31T23:59:59Z", "size_vram": 0}
        return web.json_response({"models": [entry]})

    async def show(self, request: web.Request) -> web.Response:
        body = validated(MODEL_ONLY, await self.front.json_body(request))
        info = self.front.find_model(body.get("model") or body["name"])
        capabilities = ["completion", "tools"]
        if info.thinking:
            capabilities.append("thinking")
        return web.json_response(
            {
                "modelfile": f"# {info.name}: served by rk-assist from {info.file}",
                "parameters": "",
                "template": "",
                "details": self._details(info),
                "model_info": {"general.context_length": info.context_length},
                "capabilities": capabilities,
                "modified_at": info.modified_at,
            }
        )

    async def pull(self, request: web.Request) -> web.StreamResponse:
        """Success for a model it has; over HTTP nothing is downloaded (say how to get one)."""
        body = validated(MODEL_ONLY, await self.front.json_body(request))
        self.front.find_model(body.get("model") or body["name"])
        if body.get("stream", True) is False:
            return web.json_response({"status": "success"})
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        await response.write(b'{"status":"success"}\n')
        await response.write_eof()
        return response

    async def chat(self, request: web.Request) -> web.StreamResponse:
        chat = ollama_chat(await self.front.json_body(request))
        model = await self.front.serve_model(request, chat.model)
        base = {"model": model}
        if not chat.messages:  # Ollama's way of loading a model: nothing to say
            return web.json_response(
                {**base, "created_at": _now(), "message": {"role": "assistant", "content": ""}}
                | {"done": True, "done_reason": "load"}
            )
        started = time.perf_counter_ns()
        pieces = run_chat(
            self.front.worker,
            chat,
            *self.front.chat_defaults(),
            language=await self.front.reply_language(chat),
            getting_ready=self.front.getting_ready,
        )
        first = await anext(pieces)  # a full line (BusyError) fails here, before any header
        if not chat.stream:
            return await self._whole(first, pieces, base, started)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        piece: ReplyPiece | None = first
        try:
            while piece is not None:
                line = {**base, "created_at": _now(), "message": self._message(piece)}
                if piece.stats is not None:
                    line |= _done(piece.stats, time.perf_counter_ns() - started)
                else:
                    line["done"] = False
                await response.write(json.dumps(line).encode() + b"\n")
                piece = await anext(pieces, None)
        except ConnectionError as err:
            return hung_up(request, response, err)
        except Exception as err:  # after the headers, an error is a line of its own
            await response.write(json.dumps({"error": self.front.describe_error(err)}).encode())
        finally:
            await pieces.aclose()
        await response.write_eof()
        return response

    async def _whole(self, first: ReplyPiece, pieces, base: dict[str, Any], started: int):
        whole = await whole_reply(first, pieces)
        return web.json_response(
            {**base, "created_at": _now(), "message": self._message(whole)}
            | _done(whole.stats or GenerationStats(), time.perf_counter_ns() - started)
        )

    @staticmethod
    def _message(piece: ReplyPiece) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": piece.content}
        if piece.thinking:
            message["thinking"] = piece.thinking
        if piece.tool_calls:
            message["tool_calls"] = [_call(call) for call in piece.tool_calls]
        return message

    def _model(self, info) -> dict[str, Any]:
        return {
            "name": info.name,
            "model": info.name,
            "modified_at": info.modified_at,
            "size": info.size,
            "digest": info.digest,
            "details": self._details(info),
        }

    @staticmethod
    def _details(info) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": info.format,
            "family": "",
            "families": None,
            "parameter_size": "",
            "quantization_level": "",
        }
