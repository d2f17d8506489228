"""Home Assistant's Ollama path with a real Qwen: its tools called, structured, never spoken.

Home Assistant's Ollama integration offers its own tools (``intent__HassTurnOn``
and friends) and runs the calls itself. With the 0.5B Qwen that script/setup
installs, a device command must come back as a structured tool call under
the name Home Assistant offered, through the real ``ollama`` and ``openai``
clients; skipped where the model is not installed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import ollama
import openai
import pytest

from rk_assist.config import build_config
from rk_assist.service import Service, create_service

from .test_http_api import HA_SYSTEM, HA_TOOLS
from .test_recorded_ha import recorded

MODEL = Path(__file__).parent.parent / "models" / "qwen2.5-0.5b" / "model.gguf"
pytestmark = [
    pytest.mark.qwen,
    pytest.mark.skipif(not MODEL.is_file(), reason="script/models qwen2.5-0.5b not run"),
]


@pytest.fixture(scope="module")
async def qwen(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    base = tmp_path_factory.mktemp("qwen-http")
    config = build_config(
        {
            "uri": "tcp://127.0.0.1:0",
            "http_uri": "http://127.0.0.1:0",
            "model": str(MODEL),
            "home_control": "off",  # Home Assistant runs the calls on this path
            "config_dir": str(base / "config"),
            "cache_dir": str(base / "cache"),
            "context_length": "8192",  # Home Assistant's recorded prompt is 3,700 tokens
            "temperature": "0",
            "max_tokens": "64",
        },
        environ={},
    )
    service = await create_service(config)
    await service.start()
    yield service
    await service.stop()


def url_of(service: Service) -> str:
    assert service.http is not None
    return f"http://127.0.0.1:{service.http.port}"


async def test_a_device_command_comes_back_as_home_assistants_own_tool_call(qwen):
    client = ollama.AsyncClient(host=url_of(qwen))
    model = qwen.plan.entry.name
    messages = [
        {"role": "system", "content": HA_SYSTEM},
        {"role": "user", "content": "turn on the kitchen light"},
    ]
    parts = [
        part
        async for part in await client.chat(
            model=model, messages=messages, tools=HA_TOOLS, stream=True, options={"temperature": 0}
        )
    ]
    calls = [call for part in parts for call in part.message.tool_calls or ()]
    spoken = "".join(part.message.content or "" for part in parts)
    assert [call.function.name for call in calls] == ["intent__HassTurnOn"], (calls, spoken)
    assert calls[0].function.arguments.get("name", "").lower() == "kitchen light"
    assert "{" not in spoken and "HassTurnOn" not in spoken
    assert parts[-1].done

    # Home Assistant ran it; the result goes back and the model answers in words.
    messages += [
        {"role": "assistant", "content": "", "tool_calls": [calls[0].model_dump()]},
        {"role": "tool", "content": json.dumps({"data": {"success": [{"name": "Kitchen Light"}]}})},
    ]
    answer = await client.chat(
        model=model, messages=messages, tools=HA_TOOLS, stream=False, options={"temperature": 0}
    )
    # The 0.5B often echoes the result's JSON here: that is the model's answer (content),
    # not a call; what matters is that the round trip is read and answered.
    assert answer.done and answer.message.role == "assistant"
    assert answer.message.content.strip() or answer.message.tool_calls
    assert answer.prompt_eval_count > 200  # the whole conversation, tools and all


async def test_the_openai_client_gets_the_call_with_arguments_as_a_json_string(qwen):
    client = openai.AsyncOpenAI(base_url=f"{url_of(qwen)}/v1", api_key="unused")
    stream = await client.chat.completions.create(
        model=qwen.plan.entry.name,
        messages=[
            {"role": "system", "content": HA_SYSTEM},
            {"role": "user", "content": "turn off the porch light"},
        ],
        tools=HA_TOOLS,
        stream=True,
        temperature=0,
    )
    chunks = [chunk async for chunk in stream]
    calls = [
        call
        for chunk in chunks
        if chunk.choices
        for call in chunk.choices[0].delta.tool_calls or ()
    ]
    assert [call.function.name for call in calls] == ["intent__HassTurnOff"]
    assert json.loads(calls[0].function.arguments)["name"].lower() == "porch light"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_a_device_exposed_since_computes_the_overview_again_not_the_tools(qwen):
    # Home Assistant's recorded prompt: 3,000 of its 3,700 tokens are its tools, which
    # Qwen's template writes after the system text. A device exposed since changes the
    # overview; the tools and instructions before it are not computed again.
    system, tools = recorded("openai-chat.json")
    client = openai.AsyncOpenAI(base_url=f"{url_of(qwen)}/v1", api_key="unused")

    async def usage(prompt: str) -> tuple[int, int]:
        answer = await client.chat.completions.create(
            model=qwen.plan.entry.name,
            messages=[
                {"role": "system", "content": prompt},
                {"role": "user", "content": "what is the capital of France"},
            ],
            tools=list(tools),
            temperature=0,
        )
        assert answer.usage is not None and answer.usage.prompt_tokens_details is not None
        return answer.usage.prompt_tokens, answer.usage.prompt_tokens_details.cached_tokens

    full, _ = await usage(system)
    shown = "- names: Shopping list\n"
    assert shown in system
    exposed = system.replace(shown, "- names: Reading Lamp\n  domain: light\n" + shown)
    tokens, cached = await usage(exposed)
    assert tokens > full
    assert (tokens - cached) * 5 < full, (tokens, cached, full)

    # Restarted, the service finds the new prompt whole on disk, its overview included:
    # only the request is computed.
    restarted = await create_service(qwen.config)
    await restarted.start()
    try:
        client = openai.AsyncOpenAI(base_url=f"{url_of(restarted)}/v1", api_key="unused")
        again, cached = await usage(exposed)
    finally:
        await restarted.stop()
    assert again == tokens
    assert again - cached < 30, (again, cached)
