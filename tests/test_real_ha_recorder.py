"""script/test-ha's recorder: Home Assistant's requests kept, the answer streamed through."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web

from tests.real_ha.processes import free_port
from tests.real_ha.recorder import recording


async def test_requests_are_kept_and_answers_pass_chunk_by_chunk(tmp_path):

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        await response.write(b'{"message": "first"}\n')
        await asyncio.sleep(0.2)
        await response.write(b'{"message": "second"}\n')
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/api/chat", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    target, port = free_port(), free_port()
    await web.TCPSite(runner, "127.0.0.1", target).start()
    log = tmp_path / "requests.jsonl"
    body = {"model": "qwen", "messages": [{"role": "system", "content": "Static Context"}]}
    try:
        async with recording(target, port, log), aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/api/chat", json=body) as answer:
                first = await answer.content.readline()
                # The first line arrives before the server wrote the second: still a stream.
                assert json.loads(first) == {"message": "first"}
                assert not answer.content.at_eof()
                rest = await answer.content.read()
            assert json.loads(rest) == {"message": "second"}
    finally:
        await runner.cleanup()
    kept = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(entry["path"], entry["body"]) for entry in kept] == [("/api/chat", body)]
