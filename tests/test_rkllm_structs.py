"""The ctypes layouts against every size and offset in docs/rkllm-runtime.md."""

import ctypes

import pytest

from rk_assist.core import structs as s

# (struct, field, offset) as documented, aarch64 / LP64.
DOCUMENTED_OFFSETS = [
    (s.RKLLMExtendParam, "base_domain_id", 0),
    (s.RKLLMExtendParam, "embed_flash", 4),
    (s.RKLLMExtendParam, "enabled_cpus_num", 5),
    (s.RKLLMExtendParam, "enabled_cpus_mask", 8),
    (s.RKLLMExtendParam, "n_batch", 12),
    (s.RKLLMExtendParam, "use_cross_attn", 13),
    (s.RKLLMExtendParam, "reserved", 14),
    (s.RKLLMParam12, "model_path", 0),
    (s.RKLLMParam12, "max_context_len", 8),
    (s.RKLLMParam12, "max_new_tokens", 12),
    (s.RKLLMParam12, "top_k", 16),
    (s.RKLLMParam12, "n_keep", 20),
    (s.RKLLMParam12, "top_p", 24),
    (s.RKLLMParam12, "temperature", 28),
    (s.RKLLMParam12, "repeat_penalty", 32),
    (s.RKLLMParam12, "frequency_penalty", 36),
    (s.RKLLMParam12, "presence_penalty", 40),
    (s.RKLLMParam12, "mirostat", 44),
    (s.RKLLMParam12, "mirostat_tau", 48),
    (s.RKLLMParam12, "mirostat_eta", 52),
    (s.RKLLMParam12, "skip_special_token", 56),
    (s.RKLLMParam12, "is_async", 57),
    (s.RKLLMParam12, "img_start", 64),
    (s.RKLLMParam12, "img_end", 72),
    (s.RKLLMParam12, "img_content", 80),
    (s.RKLLMParam12, "extend_param", 88),
    (s.RKLLMLoraAdapter, "lora_adapter_path", 0),
    (s.RKLLMLoraAdapter, "lora_adapter_name", 8),
    (s.RKLLMLoraAdapter, "scale", 16),
    (s.RKLLMEmbedInput, "embed", 0),
    (s.RKLLMEmbedInput, "n_tokens", 8),
    (s.RKLLMTokenInput, "input_ids", 0),
    (s.RKLLMTokenInput, "n_tokens", 8),
    (s.RKLLMMultiModalInput12, "prompt", 0),
    (s.RKLLMMultiModalInput12, "image_embed", 8),
    (s.RKLLMMultiModalInput12, "n_image_tokens", 16),
    (s.RKLLMMultiModalInput12, "n_image", 24),
    (s.RKLLMMultiModalInput12, "image_width", 32),
    (s.RKLLMMultiModalInput12, "image_height", 40),
    (s.RKLLMInput12, "role", 0),
    (s.RKLLMInput12, "enable_thinking", 8),
    (s.RKLLMInput12, "input_type", 12),
    (s.RKLLMInput12, "input", 16),
    (s.RKLLMLoraParam, "lora_adapter_name", 0),
    (s.RKLLMPromptCacheParam, "save_prompt_cache", 0),
    (s.RKLLMPromptCacheParam, "prompt_cache_path", 8),
    (s.RKLLMCrossAttnParam, "encoder_k_cache", 0),
    (s.RKLLMCrossAttnParam, "encoder_v_cache", 8),
    (s.RKLLMCrossAttnParam, "encoder_mask", 16),
    (s.RKLLMCrossAttnParam, "encoder_pos", 24),
    (s.RKLLMCrossAttnParam, "num_tokens", 32),
    (s.RKLLMInferParam12, "mode", 0),
    (s.RKLLMInferParam12, "lora_params", 8),
    (s.RKLLMInferParam12, "prompt_cache_params", 16),
    (s.RKLLMInferParam12, "keep_history", 24),
    (s.RKLLMResultLastHiddenLayer, "hidden_states", 0),
    (s.RKLLMResultLastHiddenLayer, "embd_size", 8),
    (s.RKLLMResultLastHiddenLayer, "num_tokens", 12),
    (s.RKLLMResultLogits, "logits", 0),
    (s.RKLLMResultLogits, "vocab_size", 8),
    (s.RKLLMResultLogits, "num_tokens", 12),
    (s.RKLLMPerfStat, "prefill_time_ms", 0),
    (s.RKLLMPerfStat, "prefill_tokens", 4),
    (s.RKLLMPerfStat, "generate_time_ms", 8),
    (s.RKLLMPerfStat, "generate_tokens", 12),
    (s.RKLLMPerfStat, "memory_usage_mb", 16),
    (s.RKLLMResult, "text", 0),
    (s.RKLLMResult, "token_id", 8),
    (s.RKLLMResult, "last_hidden_layer", 16),
    (s.RKLLMResult, "logits", 32),
    (s.RKLLMResult, "perf", 48),
    # ABI 1.3
    (s.RKLLMParam13, "mirostat_eta", 52),
    (s.RKLLMParam13, "skip_special_token", 56),
    (s.RKLLMParam13, "ignore_eos_token", 57),
    (s.RKLLMParam13, "is_async", 58),
    (s.RKLLMParam13, "extend_param", 60),
    (s.RKLLMInput13, "input", 16),
    (s.RKLLMSamplingParam, "top_k", 0),
    (s.RKLLMSamplingParam, "top_p", 4),
    (s.RKLLMSamplingParam, "temperature", 8),
    (s.RKLLMSamplingParam, "repeat_penalty", 12),
    (s.RKLLMSamplingParam, "frequency_penalty", 16),
    (s.RKLLMSamplingParam, "presence_penalty", 20),
    (s.RKLLMSamplingParam, "mirostat", 24),
    (s.RKLLMSamplingParam, "mirostat_tau", 28),
    (s.RKLLMSamplingParam, "mirostat_eta", 32),
    (s.RKLLMInferParam13, "mode", 0),
    (s.RKLLMInferParam13, "lora_params", 8),
    (s.RKLLMInferParam13, "prompt_cache_params", 16),
    (s.RKLLMInferParam13, "sampling_params", 24),
    (s.RKLLMInferParam13, "keep_history", 32),
    (s.RKLLMInferParam13, "max_new_tokens", 36),
    (s.RKLLMCallback, "result_callback", 0),
    (s.RKLLMCallback, "result_userdata", 8),
    (s.RKLLMCallback, "tokenizer_callback", 16),
    (s.RKLLMCallback, "tokenizer_userdata", 24),
    (s.RKLLMCallback, "embed_callback", 32),
    (s.RKLLMCallback, "embed_userdata", 40),
]


@pytest.mark.parametrize(
    ("struct", "field", "offset"),
    DOCUMENTED_OFFSETS,
    ids=[f"{st.__name__}.{f}" for st, f, _ in DOCUMENTED_OFFSETS],
)
def test_documented_offset(struct, field, offset):
    assert getattr(struct, field).offset == offset


@pytest.mark.parametrize(
    ("struct", "size"),
    list(s.DOCUMENTED_SIZES.items()),
    ids=[st.__name__ for st in s.DOCUMENTED_SIZES],
)
def test_documented_size(struct, size):
    assert ctypes.sizeof(struct) == size


def test_top_k_is_an_integer_field():
    assert s.RKLLMParam12.top_k.size == 4
    param = s.RKLLMParam12()
    param.top_k = 40
    raw = bytes(param)[16:20]
    assert int.from_bytes(raw, "little") == 40  # not the bits of 40.0f


def test_union_members_overlay_at_offset_16():
    rk_input = s.RKLLMInput13()
    rk_input.prompt_input = b"hello"
    assert rk_input.multimodal_input.prompt == b"hello"


def test_enums_have_the_documented_values():
    assert (
        s.LLMCallState.NORMAL,
        s.LLMCallState.WAITING,
        s.LLMCallState.FINISH,
        s.LLMCallState.ERROR,
    ) == (0, 1, 2, 3)
    assert (
        s.RKLLMInputType.PROMPT,
        s.RKLLMInputType.TOKEN,
        s.RKLLMInputType.EMBED,
        s.RKLLMInputType.MULTIMODAL,
    ) == (0, 1, 2, 3)
    assert (
        s.RKLLMInferMode.GENERATE,
        s.RKLLMInferMode.GET_LAST_HIDDEN_LAYER,
        s.RKLLMInferMode.GET_LOGITS,
    ) == (0, 1, 2)
