"""Bad input gets a clear answer or a clean refusal, and nobody else notices."""

import asyncio
import json

from rk_assist.client import ask, describe
from rk_assist.service import Service
from rk_assist.wyoming.handler import (
    SAY_BUSY,
    SAY_NO_TEXT,
    SAY_NOTHING_HEARD,
    SAY_STILL_ANSWERING,
    SAY_TOO_LONG,
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
    assert refused == 5
    for conn in conns:
        await conn.close()
    await asyncio.sleep(0.2)
    await assert_still_serving(service, uri)
