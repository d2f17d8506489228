"""The HTTP front, driven by the real clients Home Assistant and OpenAI users run.

The ``ollama`` client is the version Home Assistant pins (0.6.2) and is used
the way its Ollama integration uses it; the ``openai`` client is the official
one. Both talk to the session's real service (embedded model, real socket).
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import ollama
import openai
import pytest

from rk_assist.connection_budget import ConnectionBudget
from rk_assist.http.chat import made_up_fact
from rk_assist.http.server import HttpFront
from rk_assist.runtimes.base import ChatMessage
from rk_assist.service import Service
from rk_assist.tools.client import describe

from .conftest import LONG_ANSWER_PROMPT, wait_idle

pytestmark = pytest.mark.model

# Home Assistant 2026.9's tools, as its Ollama integration sends them.
HA_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "intent__HassTurnOn",
            "description": "Turns on/opens/presses a device or entity",
            "parameters": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "area": {"type": "string"},
                    "domain": {"type": "array", "items": {"type": "string"}},
                },
                "required": [],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "intent__HassTurnOff",
            "description": "Turns off/closes a device or entity",
            "parameters": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "area": {"type": "string"}},
                "required": [],
            },
        },
    },
]
HA_SYSTEM = (
    "You are a voice assistant for Home Assistant.\n"
    "Answer questions about the world truthfully. Answer in plain text. Keep it simple.\n"
    "An overview of the areas and the devices in this smart home:\n"
    "- names: Kitchen Light\n  domain: light\n  areas: Kitchen\n"
    "- names: Porch Light\n  domain: light\n  areas: Outside\n"
)


def base_url(service: Service) -> str:
    assert service.http is not None and service.http.port
    return f"http://127.0.0.1:{service.http.port}"


def model_name(service: Service) -> str:
    return service.plan.entry.name


async def test_ollama_client_lists_the_loaded_model_as_home_assistant_does(service):
    client = ollama.AsyncClient(host=base_url(service))
    listed = await client.list()
    names = [model.model for model in listed.models]
    assert names[0] == model_name(service)
    assert listed.models[0].size > 1_000_000
    running = await client.ps()
    assert running.models[0].model == model_name(service)
    shown = await client.show(model_name(service))
    assert "tools" in shown.capabilities
    pulled = await client.pull(model_name(service))
    assert pulled.status == "success"
    with pytest.raises(ollama.ResponseError) as refused:
        await client.pull("llama3.2:70b")
    assert refused.value.status_code == 404
    assert "does not download" in refused.value.error and "models pull" in refused.value.error


async def test_ollama_chat_streams_lines_that_each_carry_a_role(service):
    await wait_idle(service)
    client = ollama.AsyncClient(host=base_url(service))
    parts = []
    async for part in await client.chat(
        model=model_name(service),
        messages=[
            {"role": "system", "content": HA_SYSTEM},
            # An answer of several clauses: with tools on offer, content streams a
            # clause at a time (a clause naming a tool is never spoken).
            {"role": "user", "content": "Tell me three facts about Paris. Use three sentences."},
        ],
        tools=HA_TOOLS,
        stream=True,
        keep_alive=-1,
        options={"num_ctx": 8192, "temperature": 0},
        think=False,
    ):
        parts.append(part)
    assert len(parts) >= 2, ("the answer streams in pieces", parts[-1].message.content)
    assert all(part.message.role == "assistant" for part in parts)
    assert [part.done for part in parts] == [False] * (len(parts) - 1) + [True]
    last = parts[-1]
    assert last.done_reason in ("stop", "length")
    assert last.eval_count > 0 and last.prompt_eval_count > 50
    text = "".join(part.message.content or "" for part in parts)
    assert text.strip(), "the model said something"
    assert "<tool_call>" not in text


async def test_ollama_chat_whole_answer_and_a_tool_round_trip(service):
    """Home Assistant sends the call it ran and its result back; the model answers from them."""
    await wait_idle(service)
    client = ollama.AsyncClient(host=base_url(service))
    response = await client.chat(
        model=f"{model_name(service)}:latest",
        messages=[
            {"role": "system", "content": HA_SYSTEM},
            {"role": "user", "content": "turn on the kitchen light"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "function": {
                            "name": "intent__HassTurnOn",
                            "arguments": {"name": "Kitchen Light"},
                        }
                    }
                ],
            },
            {
                "role": "tool",
                "content": json.dumps({"error": True, "error_text": "The area does not exist"}),
            },
        ],
        tools=HA_TOOLS,
        stream=False,
        options={"temperature": 0, "num_predict": 40},
    )
    assert response.done and response.message.role == "assistant"
    assert response.message.content.strip() or response.message.tool_calls
    # The round trip reached the model in Qwen's own format (the chat template wrote it).
    assert response.prompt_eval_count > 100


async def _after_turning_on_the_kitchen_light(service: Service, said: str) -> ollama.ChatResponse:
    """Home Assistant's next request once it has carried the model's call out."""
    await wait_idle(service)
    client = ollama.AsyncClient(host=base_url(service))
    call = {"function": {"name": "intent__HassTurnOn", "arguments": {"name": "Kitchen Light"}}}
    done = {"data": {"success": [{"name": "Kitchen Light", "id": "light.kitchen"}]}}
    return await client.chat(
        model=model_name(service),
        messages=[
            {"role": "system", "content": HA_SYSTEM},
            {"role": "user", "content": said},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "content": json.dumps(done)},
        ],
        tools=HA_TOOLS,
        stream=False,
    )


async def test_a_round_of_actions_done_is_answered_with_home_assistants_sentence(service):
    """Every call carried out: Home Assistant's own words, and the model is not asked."""
    response = await _after_turning_on_the_kitchen_light(service, "turn on the kitchen light")
    assert response.message.content == "Turned on the light"
    assert not response.message.tool_calls and response.prompt_eval_count == 0


async def _asked(service: Service, said: str, system: str = HA_SYSTEM) -> ollama.ChatResponse:
    """A new request as Home Assistant's Ollama integration sends it."""
    await wait_idle(service)
    client = ollama.AsyncClient(host=base_url(service))
    return await client.chat(
        model=model_name(service),
        messages=[{"role": "system", "content": system}, {"role": "user", "content": said}],
        tools=HA_TOOLS,
        stream=False,
        options={"num_predict": 8},
    )


async def test_a_remark_is_acknowledged_and_nothing_is_called(service):
    """Seen in a real Home Assistant: "I turned the ceiling fan off earlier" turned it off."""
    response = await _asked(service, "I turned the porch light off earlier")
    assert response.message.content == "All right."
    assert not response.message.tool_calls and response.prompt_eval_count == 0


async def test_an_order_to_unlock_that_names_nothing_asks_to_name_it(service):
    """The model's words are held back; no call named a lock: the question is the answer."""
    lock = HA_SYSTEM + "- names: Front Door\n  domain: lock\n"
    response = await _asked(service, "unlock the door", lock)
    assert response.message.content.startswith("For locks, doors and gates, please say plainly")
    assert not response.message.tool_calls


def test_a_number_about_the_home_stands_only_on_a_tool_result():
    """Home Assistant's prompt holds no states: a number comes from its live context."""
    asked = [
        ChatMessage("system", HA_SYSTEM),
        ChatMessage("user", "how bright is the porch light"),
    ]
    made_up = made_up_fact(asked, "en")
    assert made_up is not None and made_up("The Porch Light is at 30%.")
    assert not made_up("Seven times eight is 56.")
    read = [*asked, ChatMessage("tool", '{"result": "Porch Light: brightness 30%"}')]
    assert not made_up_fact(read, "en")("The Porch Light is at 30%.")


async def test_a_request_in_another_served_language_is_answered_in_it(service):
    """HTTP requests carry no language: the person's own words tell it (German here)."""
    said = "Schalte bitte das Licht in der Küche ein"
    response = await _after_turning_on_the_kitchen_light(service, said)
    assert "eingeschaltet" in response.message.content.lower()


async def test_openai_client_streams_and_lists(service):
    await wait_idle(service)
    client = openai.AsyncOpenAI(base_url=f"{base_url(service)}/v1", api_key="unused")
    models = await client.models.list()
    assert model_name(service) in [model.id for model in models.data]
    stream = await client.chat.completions.create(
        model=model_name(service),
        messages=[
            {"role": "system", "content": HA_SYSTEM},
            {"role": "user", "content": "Say hello to me."},
        ],
        tools=HA_TOOLS,
        stream=True,
        stream_options={"include_usage": True},
        temperature=0,
        max_tokens=40,
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasons = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert text.strip()
    assert reasons and reasons[-1] in ("stop", "length", "tool_calls")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    whole = await client.chat.completions.create(
        model=model_name(service),
        messages=[{"role": "user", "content": "Say hello to me."}],
        temperature=0,
        max_tokens=40,
    )
    assert whole.choices[0].message.content and whole.usage.prompt_tokens > 0


async def test_bad_bodies_get_a_400_that_names_the_field(service, caplog):
    async with aiohttp.ClientSession() as session:
        url = base_url(service)
        cases = [
            ("/api/chat", b"{not json", "not JSON"),
            ("/api/chat", json.dumps({"model": "x"}).encode(), "messages"),
            (
                "/api/chat",
                json.dumps(
                    {"model": "x", "messages": [{"role": "robot", "content": "hi"}]}
                ).encode(),
                "messages[0].role",
            ),
            (
                "/v1/chat/completions",
                json.dumps(
                    {"model": "x", "messages": [{"role": "user", "content": "hi"}], "tools": [{}]}
                ).encode(),
                "tools[0]",
            ),
            ("/api/chat", b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        ]
        for path, body, named in cases:
            async with session.post(url + path, data=body) as response:
                assert response.status == 400, (path, body[:40])
                payload = await response.json()
                message = (
                    payload["error"] if path.startswith("/api") else payload["error"]["message"]
                )
                assert named in message, (named, message)
        async with session.post(
            url + "/api/chat",
            json={"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]},
        ) as response:
            assert response.status == 404
    # A client's setting, said once as a warning; no error, no traceback.
    unknown = [r for r in caplog.records if "no-such-model" in r.getMessage()]
    assert [r.levelname for r in unknown] == ["WARNING"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_a_client_that_hangs_up_stops_its_generation_and_others_go_on(service):
    await wait_idle(service)
    url = base_url(service) + "/api/chat"
    body = {
        "model": model_name(service),
        "messages": [{"role": "user", "content": LONG_ANSWER_PROMPT}],
        "options": {"num_predict": 2000},
    }
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        await response.content.readline()
        # describe and the model list answer at once while the model is generating.
        started = time.perf_counter()
        await describe(f"tcp://127.0.0.1:{service.port}")
        async with session.get(base_url(service) + "/api/tags") as tags:
            assert tags.status == 200
        assert time.perf_counter() - started < 1.0
        assert service.worker.busy
        response.close()  # hang up mid-answer
    await wait_idle(service, timeout=10)
    assert service.worker.last_stats is not None
    assert service.worker.last_stats.stop_reason == "aborted"
    client = ollama.AsyncClient(host=base_url(service))
    again = await client.chat(
        model=model_name(service),
        messages=[{"role": "user", "content": "hi"}],
        options={"num_predict": 8},
    )
    assert again.done


async def test_a_full_line_is_a_503_not_a_wait(service):
    await wait_idle(service)
    url = base_url(service) + "/api/chat"
    body = {
        "model": model_name(service),
        "messages": [{"role": "user", "content": LONG_ANSWER_PROMPT}],
        "stream": False,
        "options": {"num_predict": 400},
    }
    async with aiohttp.ClientSession() as session:
        running = [asyncio.create_task(session.post(url, json=body)) for _ in range(3)]
        deadline = time.perf_counter() + 30
        while service.worker.waiting < service.config.queue_size:
            assert time.perf_counter() < deadline
            await asyncio.sleep(0.02)
        async with session.post(url, json=body) as refused:
            assert refused.status == 503
            assert "busy" in (await refused.json())["error"]
        # A balancer's check sees the same: this board cannot take work now.
        async with session.get(base_url(service) + "/health") as health:
            assert health.status == 503
            report = await health.json()
            assert report["status"] == "full"
            assert report["queue_depth"] == report["queue_limit"] == service.config.queue_size
            assert report["running"] == 1
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    await wait_idle(service, timeout=30)
    async with (
        aiohttp.ClientSession() as session,
        session.get(base_url(service) + "/health") as health,
    ):
        assert health.status == 200
        assert (await health.json())["status"] == "ready"


async def test_health_reports_busy_while_generating_and_counts_answers(service):
    await wait_idle(service)
    url = base_url(service)
    body = {
        "model": model_name(service),
        "messages": [{"role": "user", "content": LONG_ANSWER_PROMPT}],
        "options": {"num_predict": 2000},
    }
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/health") as health:
            before = (await health.json())["generations"]
        async with session.post(url + "/api/chat", json=body) as response:
            await response.content.readline()
            async with session.get(url + "/health") as health:
                assert health.status == 200  # busy, but its line has room
                report = await health.json()
            assert report["status"] == "busy"
            assert report["model"] == model_name(service)
            response.close()
        await wait_idle(service, timeout=10)
        client = ollama.AsyncClient(host=url)
        await client.chat(
            model=model_name(service),
            messages=[{"role": "user", "content": "hi"}],
            options={"num_predict": 4},
        )
        async with session.get(url + "/health") as health:
            # The aborted answer does not count; the finished one does.
            assert (await health.json())["generations"] == before + 1


async def test_an_api_key_guards_everything_and_never_reaches_the_log(service, caplog):
    key = "s3cret-key-for-the-test"
    front = HttpFront(service, "127.0.0.1", 0, key, ConnectionBudget(8, 8, door="HTTP"))
    await front.start()
    try:
        url = f"http://127.0.0.1:{front.port}"
        with pytest.raises(ollama.ResponseError) as refused:
            await ollama.AsyncClient(host=url).list()
        assert refused.value.status_code == 401
        guarded = ollama.AsyncClient(host=url, headers={"Authorization": f"Bearer {key}"})
        assert (await guarded.list()).models
        wrong = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="not-the-key")
        with pytest.raises(openai.AuthenticationError):
            await wrong.models.list()
        # A balancer's health check carries no key; the report holds no secret.
        async with aiohttp.ClientSession() as session, session.get(url + "/health") as health:
            assert health.status == 200
            assert key not in await health.text()
    finally:
        await front.stop()
    assert key not in caplog.text


async def test_cache_management_answers_local_peers(service):
    await wait_idle(service)
    async with aiohttp.ClientSession() as session:
        url = base_url(service)
        async with session.post(
            url + "/v1/cache", json={"system": HA_SYSTEM, "tools": HA_TOOLS}
        ) as built:
            assert built.status == 200
            assert (await built.json())["prompt_tokens"] > 50
        async with session.get(url + "/v1/cache") as listed:
            caches = (await listed.json())["caches"]
        client_caches = [c for c in caches if c["name"].startswith("prefix-")]
        assert client_caches and all(c["state"] == "ok" for c in client_caches)
        doomed = client_caches[0]
        async with session.delete(f"{url}/v1/cache/{doomed['model']}/{doomed['name']}") as gone:
            assert gone.status == 200
        async with session.delete(f"{url}/v1/cache/{doomed['model']}/{doomed['name']}") as gone:
            assert gone.status == 404


async def test_openai_stream_sends_one_call_a_chunk(service):
    """Home Assistant's llama_cpp integration reads the first call of each chunk only:
    "turn on the kitchen light and the porch light" turned on the kitchen light alone."""
    await wait_idle(service)
    client = openai.AsyncOpenAI(base_url=f"{base_url(service)}/v1", api_key="unused")
    stream = await client.chat.completions.create(
        model=model_name(service),
        messages=[
            {"role": "system", "content": HA_SYSTEM},
            {"role": "user", "content": "turn on the kitchen light and the porch light"},
        ],
        tools=HA_TOOLS,
        stream=True,
        temperature=0,
    )
    chunks = [chunk async for chunk in stream]
    calls = [
        c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls
    ]
    assert [len(batch) for batch in calls] == [1, 1]
    assert [batch[0].index for batch in calls] == [0, 1]
    assert {json.loads(b[0].function.arguments)["name"] for b in calls} == {
        "Kitchen Light",
        "Porch Light",
    }
