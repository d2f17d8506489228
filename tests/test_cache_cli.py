"""``rk-assist cache list|build|delete`` and cache invalidation by every kind of change."""

from __future__ import annotations

import json
import re
import shutil
import threading
from pathlib import Path

from rk_assist.runtimes.base import ChatMessage, GenerationRequest
from rk_assist.runtimes.embedded import embedded_model_path
from rk_assist.runtimes.llama_cpp import LlamaCppRuntime, LlamaCppSettings

from .conftest import EMBEDDED
from .test_cli import run_command

# Qwen's way of offering tools, reduced: they are part of the system block.
TOOLS_TEMPLATE = (
    "{% for m in messages %}{% if loop.first and m.role == 'system' %}<|im_start|>system\n"
    "{{ m.content }}{% if tools %}\n# Tools\n<tools>{% for t in tools %}{{ t | tojson }}"
    "{% endfor %}</tools>{% endif %}<|im_end|>\n{% else %}<|im_start|>{{ m.role }}\n"
    "{{ m.content }}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TOOLS = json.dumps(
    [
        {
            "type": "function",
            "function": {
                "name": "HassTurnOn",
                "description": "Turn on a device",
                "parameters": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        }
    ]
)


async def test_build_list_and_delete(tmp_path: Path):
    cache_dir, config_dir = tmp_path / "cache", tmp_path / "config"
    args = ["--cache-dir", str(cache_dir), "--config-dir", str(config_dir), "--model", EMBEDDED]
    code, out, err = await run_command("cache", "build", *args)
    assert code == 0, err
    assert re.search(r"/system-[0-9a-f]{16}\.bin: built \(ok\)$", out.strip())
    code, out, _ = await run_command("cache", "build", *args)
    assert "was already up to date (ok)" in out
    code, out, _ = await run_command("cache", "list", "--cache-dir", str(cache_dir))
    row = [line for line in out.splitlines() if line.startswith("smollm2-135m")]
    assert len(row) == 1 and row[0].split()[1].startswith("system-") and row[0].endswith(" ok")
    (bin_path,) = (cache_dir / "smollm2-135m").glob("system-*.bin")
    bin_path.write_bytes(bin_path.read_bytes()[:100])
    code, out, _ = await run_command("cache", "list", "--cache-dir", str(cache_dir))
    assert "truncated or grown" in out
    code, _, err = await run_command("cache", "delete", "--cache-dir", str(cache_dir))
    assert code == 2 and "--all" in err and bin_path.exists()  # never everything unasked
    code, out, _ = await run_command(
        "cache", "delete", "--cache-dir", str(cache_dir), "--model", "smollm2-135m"
    )
    assert code == 0 and "deleted" in out
    assert not bin_path.exists()
    code, out, _ = await run_command("cache", "list", "--cache-dir", str(cache_dir))
    assert "No prompt caches" in out


def load(model: Path, cache_dir: Path, system: str = "You are brief.", tools: str | None = None):
    runtime = LlamaCppRuntime(
        LlamaCppSettings(
            model_path=model,
            cache_dir=cache_dir,
            name="m",
            temperature=0.0,
            chat_template=TOOLS_TEMPLATE,
        )
    )
    runtime.load()
    runtime.prepare_system_prompt(system, tools)
    source = runtime.prefix_source
    runtime.close()
    return source


def test_each_kind_of_change_rebuilds_the_cache(tmp_path: Path):
    model = tmp_path / "m.gguf"
    shutil.copyfile(embedded_model_path(), model)
    cache_dir = tmp_path / "cache"
    assert load(model, cache_dir) == "built"
    assert load(model, cache_dir) == "disk"
    assert load(model, cache_dir, system="You are verbose.") == "built"  # the prompt
    assert load(model, cache_dir, system="You are verbose.") == "disk"
    assert load(model, cache_dir, system="You are verbose.", tools=TOOLS) == "built"  # the tools
    with model.open("r+b") as handle:  # the model file (same name, other weights)
        handle.seek(model.stat().st_size - 16)
        handle.write(b"\x00" * 16)
    assert load(model, cache_dir, system="You are verbose.", tools=TOOLS) == "built"


def test_tools_are_part_of_the_cached_prefix():
    runtime = LlamaCppRuntime(
        LlamaCppSettings(
            model_path=embedded_model_path(), temperature=0.0, chat_template=TOOLS_TEMPLATE
        )
    )
    runtime.load()
    runtime.prepare_system_prompt("You control a home.", TOOLS)
    assert "HassTurnOn" in runtime.prefix_text
    assert runtime.prefix_text.endswith("<|im_end|>\n<|im_start|>")
    pieces: list[str] = []
    request = GenerationRequest(
        system_prompt="You control a home.",
        tools_json=TOOLS,
        turn=(ChatMessage("user", "hi"),),
        max_new_tokens=4,
    )
    stats = runtime.generate(request, pieces.append, threading.Event())
    assert stats.reused_tokens == runtime.prefix_tokens  # tools were not prefilled again
    runtime.close()
