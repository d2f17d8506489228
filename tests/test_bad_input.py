"""Bad input gets a clear answer or a clean refusal, and nobody else notices."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from rk_assist.connection_budget import ConnectionBudget
from rk_assist.service import Service
from rk_assist.tools.client import ask, describe
from rk_assist.wyoming.handler import (
    SAY_BUSY,
    SAY_NO_TEXT,
    SAY_NOTHING_HEARD,
    SAY_STILL_ANSWERING,
    SAY_TOO_LONG,
    AssistEventHandler,
    HandlerSettings,
)

from .conftest import LONG_ANSWER_PROMPT, RawConnection, wait_idle

TERMINAL = {"handled", "not-handled"}


async def assert_still_serving(service: Service, uri: str) -> None:
    info, _ = await describe(uri)
    assert info.handle


async def test_malformed_json_closes_only_that_connection(service: Service, uri: str):
    bystander = await RawConnection.open(service)
    bad = await RawConnection.open(service)
    await bad.send(b"{this is not json\n")
    events = await bad.read_until_closed(timeout=5)
    assert [e["type"] for e in events] == ["error"]
    assert "not valid JSON" in events[0]["data"]["text"]
    await bystander.send_event("describe")
    assert (await bystander.read_event())["type"] == "info"
    await bystander.close()
    await assert_still_serving(service, uri)


async def test_invalid_utf8_is_refused_cleanly(service: Service, uri: str):
    bad = await RawConnection.open(service)
    await bad.send(b'{"type": "transcript", "data": {"text": "caf\xe9 \xff"}}\n')
    events = await bad.read_until_closed(timeout=5)
    assert [e["type"] for e in events] == ["error"]
    assert "UTF-8" in events[0]["data"]["text"]
    await assert_still_serving(service, uri)


async def test_lone_surrogates_in_valid_json_are_answered(service: Service, uri: str):
    await wait_idle(service)
    conn = await RawConnection.open(service)
    await conn.send(b'{"type": "transcript", "data": {"text": "hello \\ud800 there"}}\n')
    events = []
    while (event := await conn.read_event()) and event["type"] != "handled-stop":
        events.append(event)
        if event["type"] == "not-handled":
            break
    assert any(e["type"] in TERMINAL for e in events)
    await conn.close()


async def test_unknown_event_type_closes_only_that_connection(service: Service, uri: str):
    bad = await RawConnection.open(service)
    await bad.send_event("run-satellite", {"x": 1})
    events = await bad.read_until_closed(timeout=5)
    assert [e["type"] for e in events] == ["error"]
    assert "run-satellite" in events[0]["data"]["text"]
    await assert_still_serving(service, uri)


async def test_oversized_event_data_is_refused(service: Service, uri: str):
    bad = await RawConnection.open(service)
    await bad.send(json.dumps({"type": "transcript", "data_length": 50_000_000}).encode() + b"\n")
    events = await bad.read_until_closed(timeout=5)
    assert [e["type"] for e in events] == ["error"]
    await assert_still_serving(service, uri)


async def test_empty_transcript_gets_a_spoken_answer(service: Service, uri: str):
    for text in ("", "   \n "):
        result = await ask(uri, text, context={"conversation_id": "e"})
        assert result.event_types == ["not-handled"]
        assert result.text == SAY_NOTHING_HEARD
        assert result.context == {"conversation_id": "e"}


async def test_transcript_without_text_gets_a_spoken_answer(service: Service, uri: str):
    conn = await RawConnection.open(service)
    await conn.send_event("transcript", {"context": {"conversation_id": "t"}})
    event = await conn.read_event()
    assert event == {
        "type": "not-handled",
        "data": {"text": SAY_NO_TEXT, "context": {"conversation_id": "t"}},
    }
    await conn.send_event("describe")  # the connection is still usable
    assert (await conn.read_event())["type"] == "info"
    await conn.close()


async def test_100kb_transcript_is_refused_without_touching_the_model(service: Service, uri: str):
    await wait_idle(service)
    before = service.worker.last_stats
    result = await ask(uri, "turn on the light " * 6000)
    assert len("turn on the light " * 6000) > 100_000
    assert result.event_types == ["not-handled"]
    assert result.text == SAY_TOO_LONG
    assert service.worker.last_stats is before
    await assert_still_serving(service, uri)


async def test_second_transcript_on_a_busy_connection_is_declined(service: Service, uri: str):
    await wait_idle(service)
    conn = await RawConnection.open(service)
    await conn.send_event("transcript", {"text": LONG_ANSWER_PROMPT})
    await conn.send_event("transcript", {"text": "And another thing?", "context": {"n": 2}})
    events = []
    while (event := await conn.read_event()) is not None:
        events.append(event)
        if event["type"] == "handled-stop":
            break
    declined = [e for e in events if e["type"] == "not-handled"]
    assert declined == [
        {"type": "not-handled", "data": {"text": SAY_STILL_ANSWERING, "context": {"n": 2}}}
    ]
    assert [e["type"] for e in events].count("handled") == 1
    await conn.close()


async def test_flood_of_transcripts_each_gets_exactly_one_answer(service: Service, uri: str):
    await wait_idle(service)
    count = 12  # one generating, queue_size=2 waiting, the rest refused at once
    results = await asyncio.gather(
        *(ask(uri, f"Say the number {n}.", context={"n": n}) for n in range(count))
    )
    for n, result in enumerate(results):
        terminal = [t for t in result.event_types if t in TERMINAL]
        assert len(terminal) == 1, result.event_types
        assert result.context == {"n": n}
    handled = [r for r in results if r.handled]
    busy = [r for r in results if not r.handled]
    assert 1 <= len(handled) <= 1 + service.config.queue_size + 1
    assert busy and all(r.text == SAY_BUSY for r in busy)
    await wait_idle(service)
    result = await ask(uri, "Say hello.")
    assert result.handled


async def test_flood_of_connections_is_capped_and_recovers(service: Service, uri: str):
    limit = service.config.max_connections
    conns = [await RawConnection.open(service) for _ in range(limit + 5)]
    await asyncio.sleep(0.2)
    refused = 0
    for conn in conns:
        try:
            event = await conn.read_event(timeout=0.2)
        except TimeoutError:
            continue
        assert event["type"] == "error" and event["data"]["code"] == "too-many-connections"
        refused += 1
    # One address stops short of the last quarter, which is kept for addresses with none.
    assert refused == 5 + service.budget.reserved
    for conn in conns:
        await conn.close()
    await asyncio.sleep(0.2)
    await assert_still_serving(service, uri)


async def test_deeply_nested_json_gets_an_error_event(service: Service, uri: str):
    bad = await RawConnection.open(service)
    await bad.send(b'{"type": "x", "data": ' + b"[" * 30000 + b"]" * 30000 + b"}\n")
    events = await bad.read_until_closed(timeout=5)
    assert [e["type"] for e in events] == ["error"]
    assert "nested too deeply" in events[0]["data"]["text"]
    await assert_still_serving(service, uri)


@contextlib.asynccontextmanager
async def handler_server(
    service: Service, budget: ConnectionBudget, **settings: float
) -> AsyncIterator[int]:
    """The real handler on its own socket, with short deadlines; yields its port."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = AssistEventHandler(
            reader,
            writer,
            service=service,
            assistant=service.assistant,
            settings=HandlerSettings(**settings),
            budget=budget,
        )
        await handler.run()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def connect(port: int, source: str = "127.0.0.1") -> RawConnection:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    return RawConnection(reader, writer)


async def test_silent_and_stalled_connections_are_closed(service: Service):
    budget = ConnectionBudget(limit=8, per_peer=8)
    async with handler_server(service, budget, idle_timeout=0.3, read_timeout=0.3) as port:
        silent = await connect(port)
        events = await silent.read_until_closed(timeout=5)
        assert [e["data"]["code"] for e in events] == ["idle-timeout"]
        half = await connect(port)
        await half.send(b'{"type": "transcr')  # and nothing more
        events = await half.read_until_closed(timeout=5)
        assert [e["data"]["code"] for e in events] == ["bad-event"]
        assert "did not arrive within 0.3 s" in events[0]["data"]["text"]
        # A client waiting for a long answer is not idle.
        await wait_idle(service)
        waiting = await connect(port)
        await waiting.send_event("transcript", {"text": LONG_ANSWER_PROMPT})
        types = []
        while (event := await waiting.read_event(timeout=60)) and event["type"] not in TERMINAL:
            types.append(event["type"])
        assert event is not None and event["type"] in TERMINAL, types
        await waiting.close()
        for _ in range(100):  # the server sees the last close a moment later
            if budget.open == 0:
                break
            await asyncio.sleep(0.05)
    assert budget.open == 0 and not budget.by_host


async def test_one_address_cannot_take_every_connection(service: Service, caplog):
    budget = ConnectionBudget(limit=6, per_peer=2)
    async with handler_server(service, budget) as port:
        mine = [await connect(port, "127.0.0.2") for _ in range(4)]
        refused = []
        for conn in mine[2:]:
            event = await conn.read_event(timeout=5)
            refused.append(event["data"]["code"])
        assert refused == ["too-many-connections"] * 2
        # Another address still gets in and is answered.
        other = await connect(port, "127.0.0.1")
        await other.send_event("describe")
        assert (await other.read_event(timeout=5))["type"] == "info"
        for conn in [*mine, other]:
            await conn.close()
    # Two refusals, one log line.
    refusals = [r for r in caplog.records if "Refusing" in r.getMessage()]
    assert len(refusals) == 1
