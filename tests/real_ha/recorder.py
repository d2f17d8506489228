"""What Home Assistant sends to rk-assist's HTTP doors, kept as it was sent.

Home Assistant's Ollama and llama_cpp integrations talk to rk-assist through
this pass-through, which writes every request body (the real prompt, tools and
history of Home Assistant 2026.11) to a JSON-lines file and hands the answer
back chunk by chunk as it comes, so that streaming stays streaming. The eval's
HTTP door replays these recordings (``tests/real_ha/recorded/``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

#: What a pass-through must not copy from one side to the other.
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "host", "content-encoding"}


@contextlib.asynccontextmanager
async def recording(target_port: int, port: int, log: Path) -> AsyncIterator[None]:
    """Serve on ``port`` whatever ``target_port`` serves, writing each request to ``log``."""
    # No total limit: Home Assistant waits for the model as long as it takes; so does this.
    session = aiohttp.ClientSession(
        auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None)
    )

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if body:
            with contextlib.suppress(ValueError), log.open("a", encoding="utf-8") as out:
                entry = {"time": time.time(), "path": request.path, "body": json.loads(body)}
                out.write(json.dumps(entry) + "\n")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with session.request(
            request.method,
            f"http://127.0.0.1:{target_port}{request.path_qs}",
            data=body or None,
            headers=headers,
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP_HEADERS:
                    response.headers[key] = value
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()
        await session.close()
