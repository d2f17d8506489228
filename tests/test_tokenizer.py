"""A model folder's Hugging Face tokenizer: exact counts, its chat template, thinking off."""

from __future__ import annotations

import threading
from pathlib import Path

import llama_cpp
import pytest

from rk_assist.errors import ModelFileError
from rk_assist.models.tokenizer import HfChatTokenizer
from rk_assist.runtimes.base import ChatMessage, GenerationRequest
from rk_assist.runtimes.embedded import embedded_model_path
from rk_assist.runtimes.rkllm import RkllmRuntime, RkllmSettings

from .tokenizer_files import write_tokenizer_files

# Qwen3's switch, reduced to what matters: thinking off adds an empty think block.
THINKING_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{% endif %}{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    return write_tokenizer_files(tmp_path_factory.mktemp("tokenizer"))


def test_counts_match_the_model_token_for_token(tokenizer_dir: Path):
    tokenizer = HfChatTokenizer(tokenizer_dir)
    llm = llama_cpp.Llama(str(embedded_model_path()), vocab_only=True, verbose=False)
    for text in ("Turn off the kitchen light.", "It's 21°C in the naïve café!", "Ünïcödé 🎉"):
        expected = llm.tokenize(text.encode(), add_bos=False, special=True)
        assert tokenizer.count(text) == len(expected)
    llm.close()


def test_renders_the_model_chat_template(tokenizer_dir: Path):
    tokenizer = HfChatTokenizer(tokenizer_dir)
    text = tokenizer.render(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}], None, False
    )
    assert (
        text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_thinking_is_off_unless_asked_for(tmp_path: Path):
    tokenizer = HfChatTokenizer(write_tokenizer_files(tmp_path, THINKING_TEMPLATE))
    messages = [{"role": "user", "content": "hi"}]
    assert tokenizer.render(messages, None, False).endswith("<think>\n\n</think>\n\n")
    assert "<think>" not in tokenizer.render(messages, None, True)


def test_missing_or_broken_tokenizer_files_are_errors(tmp_path: Path):
    with pytest.raises(ModelFileError, match="cannot load the tokenizer"):
        HfChatTokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{ broken")
    (tmp_path / "tokenizer_config.json").write_text("{}")
    with pytest.raises(ModelFileError):
        HfChatTokenizer(tmp_path)


@pytest.mark.parametrize(("with_tokenizer", "dropped"), [(True, 2), (False, 3)])
def test_npu_runtime_trims_history_by_the_tokenizer_count(
    rkllm_doubles, rkllm_model, tmp_path, with_tokenizer, dropped
):
    tokenizer = HfChatTokenizer(write_tokenizer_files(tmp_path / "tok", THINKING_TEMPLATE))
    runtime = RkllmRuntime(
        RkllmSettings(
            model_path=rkllm_model,
            library_path=rkllm_doubles["1.3"],
            tokenizer=tokenizer if with_tokenizer else None,
            context_length=512,
        )
    )
    runtime.load()
    runtime.prepare_system_prompt("You are terse.")
    pieces: list[str] = []
    long_turn = (ChatMessage("user", "word " * 150), ChatMessage("assistant", "ok " * 150))
    assert 290 <= tokenizer.count("word " * 150 + "ok " * 150) <= 310
    request = GenerationRequest(
        system_prompt="You are terse.",
        turn=(ChatMessage("user", "Hello?"),),
        history=[long_turn] * 3,
        max_new_tokens=64,
    )
    stats = runtime.generate(request, pieces.append, threading.Event())
    # A past turn is about 300 tokens and 448 are left for the prompt: exact counts keep
    # one turn; the three-characters-per-token estimate (400 a turn) keeps none.
    assert stats.history_turns_dropped == dropped
    assert "".join(pieces).startswith("You said: Hello?")
    runtime.close()
