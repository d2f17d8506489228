"""The OpenAI chat completions API (``/v1``), for Extended OpenAI Conversation and friends.

Streaming is server-sent events: one ``chat.completion.chunk`` per piece,
tool calls as deltas whose ``arguments`` is a JSON string (the OpenAI spec),
usage last when asked for, then ``[DONE]``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..output.calls import ToolCall
from ..runtimes.base import GenerationStats
from .chat import ReplyPiece, run_chat, whole_reply
from .front import hung_up
from .schemas import openai_chat

if TYPE_CHECKING:
    from .front import Front


def routes(front: Front) -> list[web.RouteDef]:
    api = OpenAiApi(front)
    return [
        web.get("/v1/models", api.models),
        web.post("/v1/chat/completions", api.completions),
    ]


def _usage(stats: GenerationStats) -> dict[str, int]:
    return {
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.generated_tokens,
        "total_tokens": stats.prompt_tokens + stats.generated_tokens,
        "prompt_tokens_details": {"cached_tokens": stats.reused_tokens},
    }


def _finish_reason(stats: GenerationStats, called: bool) -> str:
    if called:
        return "tool_calls"
    return "length" if stats.stop_reason == "length" else "stop"


def _calls(calls: list[ToolCall], first_index: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "index": first_index + number,
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
        }
        for number, call in enumerate(calls)
    ]


class OpenAiApi:
    def __init__(self, front: Front) -> None:
        self.front = front

    async def models(self, _request: web.Request) -> web.Response:
        data = [
            {"id": info.name, "object": "model", "created": info.created, "owned_by": "rk-assist"}
            for info in self.front.models()
        ]
        return web.json_response({"object": "list", "data": data})

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await self.front.json_body(request)
        chat = openai_chat(body)
        model = await self.front.serve_model(request, chat.model)
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "created": int(time.time()),
            "model": model,
        }
        pieces = run_chat(
            self.front.worker,
            chat,
            *self.front.chat_defaults(),
            language=await self.front.reply_language(chat),
            getting_ready=self.front.getting_ready,
        )
        first = await anext(pieces)  # a full line (BusyError) fails here, before any header
        if not chat.stream:
            return await self._whole(first, pieces, base)
        usage_wanted = bool((body.get("stream_options") or {}).get("include_usage"))
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        chunk = {**base, "object": "chat.completion.chunk"}

        async def send(payload: dict[str, Any] | str) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            await response.write(f"data: {text}\n\n".encode())

        piece: ReplyPiece | None = first
        calls = 0
        try:
            await send({**chunk, "choices": [_choice({"role": "assistant", "content": ""})]})
            while piece is not None:
                if piece.content:
                    await send({**chunk, "choices": [_choice({"content": piece.content})]})
                # One call a chunk, as OpenAI streams them: Home Assistant's llama_cpp
                # integration reads only the first call of each chunk.
                for call in _calls(piece.tool_calls, calls):
                    await send({**chunk, "choices": [_choice({"tool_calls": [call]})]})
                calls += len(piece.tool_calls)
                if piece.stats is not None:
                    reason = _finish_reason(piece.stats, calls > 0)
                    await send({**chunk, "choices": [_choice({}, reason)]})
                    if usage_wanted:
                        await send({**chunk, "choices": [], "usage": _usage(piece.stats)})
                piece = await anext(pieces, None)
        except ConnectionError as err:
            return hung_up(request, response, err)
        except Exception as err:  # after the headers, an error is an event of its own
            await send({"error": {"message": self.front.describe_error(err), "type": "server"}})
        finally:
            await pieces.aclose()
        await send("[DONE]")
        await response.write_eof()
        return response

    async def _whole(self, first: ReplyPiece, pieces, base: dict[str, Any]) -> web.Response:
        whole = await whole_reply(first, pieces)
        calls, stats = whole.tool_calls, whole.stats or GenerationStats()
        message: dict[str, Any] = {"role": "assistant", "content": whole.content or None}
        if calls:
            message["tool_calls"] = [
                {key: value for key, value in call.items() if key != "index"}
                for call in _calls(calls)
            ]
        elif message["content"] is None:
            message["content"] = ""
        return web.json_response(
            {
                **base,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": _finish_reason(stats, bool(calls)),
                    }
                ],
                "usage": _usage(stats),
            }
        )


def _choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "finish_reason": finish_reason}
