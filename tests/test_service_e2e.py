"""End to end: the real service, the real Wyoming client, the real embedded model."""

import asyncio
import time

from wyoming.client import AsyncClient
from wyoming.info import Describe, Info

from rk_assist.service import Service
from rk_assist.tools.client import ask, describe

from .conftest import LONG_ANSWER_PROMPT, wait_idle


async def test_describe_advertises_a_streaming_handle_program(service: Service, uri: str):
    info, _seconds = await describe(uri)
    assert len(info.handle) == 1
    program = info.handle[0]
    assert program.name == "rk-assist" and program.installed
    assert program.supports_handled_streaming is True
    assert program.version and program.description
    assert program.models[0].name == "smollm2-135m"
    assert program.models[0].languages == ["en", "de", "fr", "es", "it", "nl"]


async def test_transcript_streams_events_in_order_and_echoes_context(service: Service, uri: str):
    await wait_idle(service)
    context = {"conversation_id": "order-test", "device_id": "satellite-1"}
    result = await ask(uri, "What is the capital of France?", context=context, language="en")
    types = result.event_types
    assert types[0] == "handled-start"
    assert types[-2:] == ["handled", "handled-stop"]
    assert set(types[1:-2]) == {"handled-chunk"} and len(types) >= 4
    assert result.events[0].data.get("context") == context
    assert result.context == context
    assert result.text == "".join(result.chunks)
    assert "Paris" in result.text
    stats = service.worker.last_stats
    assert stats is not None and stats.generated_tokens > 0 and stats.stop_reason == "end"
    # The system prompt's state was reused, not recomputed.
    assert stats.reused_tokens >= service.worker.runtime.prefix_tokens


async def test_describe_answers_within_a_second_while_generating(service: Service, uri: str):
    await wait_idle(service)
    answer = asyncio.create_task(ask(uri, LONG_ANSWER_PROMPT))
    while not service.worker.busy:
        await asyncio.sleep(0.01)
    latencies = []
    while not answer.done():
        was_busy = service.worker.busy
        async with AsyncClient.from_uri(uri, read_timeout=5) as client:
            started = time.perf_counter()
            await client.write_event(Describe().event())
            event = await client.read_event()
            elapsed = time.perf_counter() - started
        assert event is not None and Info.is_type(event.type)
        if was_busy and service.worker.busy:
            latencies.append(elapsed)
        await asyncio.sleep(0.05)
    result = await answer
    assert result.handled
    assert latencies, "no describe was answered while the model was generating"
    # Home Assistant gives up on a service that takes more than a second.
    assert max(latencies) < 1.0


async def test_describe_on_the_same_connection_during_a_generation(service: Service, uri: str):
    await wait_idle(service)
    from wyoming.asr import Transcript

    async with AsyncClient.from_uri(uri, read_timeout=60) as client:
        await client.write_event(Transcript(text=LONG_ANSWER_PROMPT).event())
        first = await client.read_event()
        assert first is not None and first.type == "handled-start"
        await client.write_event(Describe().event())
        seen = []
        while True:
            event = await client.read_event()
            assert event is not None
            seen.append(event.type)
            if event.type == "handled-stop":
                break
    assert "info" in seen
    assert seen.index("info") < seen.index("handled")


async def test_conversation_is_remembered_across_turns(service: Service, uri: str):
    await wait_idle(service)
    context = {"conversation_id": "memory-test"}
    first = await ask(uri, "My name is Alice and my cat is called Whiskers.", context=context)
    assert first.handled
    first_prompt = service.worker.last_stats.prompt_tokens
    second = await ask(uri, "What is my cat called?", context=context)
    assert second.handled
    stats = service.worker.last_stats
    history = service.assistant.conversations.history("memory-test")
    assert [m.content for m in history[0] if m.role == "user"] == [
        "My name is Alice and my cat is called Whiskers."
    ]
    assert [m.content for m in history[0] if m.role == "assistant"] == [first.text]
    assert len(history) == 2
    # The second prompt carries the whole first turn, and its model state was reused.
    assert stats.prompt_tokens > first_prompt
    assert stats.reused_tokens > first_prompt - 20
    # A different conversation starts fresh.
    await ask(uri, "What is my cat called?", context={"conversation_id": "other"})
    assert service.worker.last_stats.prompt_tokens < stats.prompt_tokens


async def test_client_that_disconnects_aborts_its_generation(service: Service, uri: str):
    await wait_idle(service)
    from wyoming.asr import Transcript

    client = AsyncClient.from_uri(uri, read_timeout=60)
    await client.connect()
    await client.write_event(Transcript(text=LONG_ANSWER_PROMPT).event())
    event = await client.read_event()
    assert event is not None and event.type == "handled-start"
    await client.disconnect()
    await wait_idle(service)
    stats = service.worker.last_stats
    assert stats.stop_reason == "aborted"
    assert stats.generated_tokens < service.config.max_tokens
    # And the model serves the next client normally.
    result = await ask(uri, "Say hello.")
    assert result.handled and result.text
