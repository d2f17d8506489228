"""A client that gives up during a long prefill: what was computed is kept (issue 33).

Home Assistant's integrations (and test harnesses) wait a while, hang up and
send the same messages again. Each hang-up aborts the prefill at once, as it
must, but the batches already computed stay: the retry resumes there, a
request that comes meanwhile is served first, and an idle model finishes the
cut block and saves it. Driven over the real HTTP door of the session's
service (embedded model, real socket, the official OpenAI client).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest

from rk_assist.runtimes.prompt_cache import client_cache_name
from rk_assist.service import Service

from .conftest import wait_idle
from .test_cli import run_command

pytestmark = pytest.mark.model


def long_system(tag: str) -> str:
    """A client's system block of about 1,700 tokens, its own for each test (``tag``)."""
    return f"You control the {tag} home. Its devices:\n" + "\n".join(
        f"- light.room_{n}: the ceiling light of room {n}, off" for n in range(90)
    )


def messages(system: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "What is the capital of France?"},
    ]


def base_url(service: Service) -> str:
    assert service.http is not None and service.http.port
    return f"http://127.0.0.1:{service.http.port}"


@contextlib.asynccontextmanager
async def counting_batches(service: Service) -> AsyncIterator[list[int]]:
    """Count the prefill's progress reports (one a batch), as the worker receives them."""
    runtime = service.worker.runtime
    seen = [0]
    original = runtime.on_progress

    def progress() -> None:
        seen[0] += 1
        original()

    runtime.on_progress = progress
    try:
        yield seen
    finally:
        runtime.on_progress = original


async def hang_up_during_prefill(service: Service, system: str, after_batches: int) -> int:
    """Send the long prompt, hang up after some batches; the tokens the model kept."""
    body = {
        "model": service.plan.entry.name,
        "messages": messages(system),
        "stream": True,
        "max_tokens": 16,
    }

    async def ask() -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.post(base_url(service) + "/v1/chat/completions", json=body) as response,
        ):
            await response.content.read()

    before = service.worker.last_stats
    async with counting_batches(service) as seen:
        task = asyncio.create_task(ask())
        deadline = asyncio.get_running_loop().time() + 120
        while seen[0] < after_batches:
            assert not task.done(), "the prefill ended before the hang-up"
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        task.cancel()  # the client gives up: its connection closes
        await asyncio.gather(task, return_exceptions=True)
        while service.worker.last_stats is before:  # the model let go of the cut request
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
    stats = service.worker.last_stats
    assert stats is not None and stats.stop_reason == "aborted" and stats.generated_tokens == 0
    kept = stats.reused_tokens + stats.prefill_tokens
    assert 0 < kept < stats.prompt_tokens  # cut in the middle of the block
    return kept


async def ask_again(service: Service, system: str, max_tokens: int = 8) -> tuple[str, int]:
    client = openai.AsyncOpenAI(base_url=base_url(service) + "/v1", api_key="unused")
    answer = await client.chat.completions.create(
        model=service.plan.entry.name, messages=messages(system), max_tokens=max_tokens
    )
    details = answer.usage.prompt_tokens_details
    return answer.choices[0].message.content or "", details.cached_tokens


async def test_a_retry_resumes_where_the_hang_up_cut_and_a_request_meanwhile_goes_first(
    service: Service,
):
    await wait_idle(service)
    system = long_system("first")
    kept = await hang_up_during_prefill(service, system, after_batches=2)
    # Another client arrives: it is served at once, before the cut block is finished.
    client = openai.AsyncOpenAI(base_url=base_url(service) + "/v1", api_key="unused")
    other = await client.chat.completions.create(
        model=service.plan.entry.name,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=4,
    )
    assert other.choices[0].message.content
    assert service.worker.runtime.cut_prefix is not None
    # The first client retries with the same messages: it resumes at least where it was cut.
    text, cached = await ask_again(service, system)
    assert text and cached >= kept
    assert service.worker.runtime.cut_prefix is None


async def test_an_idle_model_finishes_and_saves_the_cut_block(service: Service):
    await wait_idle(service)
    system = long_system("second")
    kept = await hang_up_during_prefill(service, system, after_batches=1)
    deadline = asyncio.get_running_loop().time() + 120
    while service.worker.runtime.cut_prefix is not None or service.worker.finishing_cut_prefix:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    assert service.worker.background_finished >= 1
    saved = service.config.cache_dir / service.worker.runtime.model_name
    name = client_cache_name(system, None)
    assert json.loads((saved / f"{name}.json").read_text())["source"] == "client prompt"
    text, cached = await ask_again(service, system)
    assert text and cached >= service.worker.runtime.prefix_tokens > kept


async def test_bench_retry_reports_each_try_and_the_resume():
    """``rk-assist bench-retry`` on the embedded model: a client that gives up after 4 s."""
    code, out, err = await run_command(
        "bench-retry",
        "--model",
        "smollm2-135m",
        "--extra-devices",
        "0",
        "--give-up",
        "4",
        "--retries",
        "20",
        "--max-tokens",
        "8",
        timeout=600,
    )
    assert code == 0, out + err
    tries = re.findall(r"^attempt (\d+): (gave up|answered)", out, re.MULTILINE)
    assert tries and tries[-1][1] == "answered"
    assert f"answered on attempt {tries[-1][0]}" in out
    answered = re.search(r"prompt (\d+) tokens, (\d+) of them found computed", out)
    assert answered is not None
    if len(tries) > 1:  # it was cut at least once: the retry resumed, and the log says so
        assert int(answered[2]) > 0
        assert "kept after a hang-up" in out and "resumed at token" in out
