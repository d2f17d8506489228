"""ctypes mirrors of ``rkllm.h`` for the two ABIs rk-assist speaks: "1.2" and "1.3".

Runtime 1.2.1 to 1.2.3 share one layout ("1.2"); 1.3.x broke it ("1.3").
Using one ABI's structs against the other library segfaults, so every struct
size is checked when this module is imported against the size ``rkllm.h``
gives it on aarch64 (LP64): a mismatch is a bug in these definitions and
stops the import, never a warning.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    POINTER,
    Structure,
    Union,
    c_bool,
    c_char_p,
    c_float,
    c_int,
    c_int8,
    c_int32,
    c_size_t,
    c_uint8,
    c_uint32,
    c_void_p,
)
from types import SimpleNamespace

LLMHandle = c_void_p


class LLMCallState:
    NORMAL = 0  # one token
    WAITING = 1  # incomplete UTF-8: keep the bytes, join them with the next
    FINISH = 2  # the run is over; perf statistics are valid only now
    ERROR = 3


class RKLLMInputType:
    PROMPT = 0
    TOKEN = 1
    EMBED = 2
    MULTIMODAL = 3


class RKLLMInferMode:
    GENERATE = 0
    GET_LAST_HIDDEN_LAYER = 1
    GET_LOGITS = 2


class CallbackReturn:
    CONTINUE = 0
    PAUSE = 1
    RELEASE_OUTPUT = 2  # 1.3 only


# -- structs shared by both ABIs ---------------------------------------------


class RKLLMExtendParam(Structure):
    _fields_ = [
        ("base_domain_id", c_int32),
        ("embed_flash", c_int8),
        ("enabled_cpus_num", c_int8),
        ("enabled_cpus_mask", c_uint32),
        ("n_batch", c_uint8),
        ("use_cross_attn", c_int8),
        ("reserved", c_uint8 * 104),
    ]


class RKLLMLoraAdapter(Structure):
    _fields_ = [
        ("lora_adapter_path", c_char_p),
        ("lora_adapter_name", c_char_p),
        ("scale", c_float),
    ]


class RKLLMEmbedInput(Structure):
    _fields_ = [("embed", POINTER(c_float)), ("n_tokens", c_size_t)]


class RKLLMTokenInput(Structure):
    _fields_ = [("input_ids", POINTER(c_int32)), ("n_tokens", c_size_t)]


class RKLLMLoraParam(Structure):
    _fields_ = [("lora_adapter_name", c_char_p)]


class RKLLMPromptCacheParam(Structure):
    _fields_ = [("save_prompt_cache", c_int), ("prompt_cache_path", c_char_p)]


class RKLLMCrossAttnParam(Structure):
    _fields_ = [
        ("encoder_k_cache", POINTER(c_float)),
        ("encoder_v_cache", POINTER(c_float)),
        ("encoder_mask", POINTER(c_float)),
        ("encoder_pos", POINTER(c_int32)),
        ("num_tokens", c_int),
    ]


class RKLLMResultLastHiddenLayer(Structure):
    _fields_ = [("hidden_states", POINTER(c_float)), ("embd_size", c_int), ("num_tokens", c_int)]


class RKLLMResultLogits(Structure):
    _fields_ = [("logits", POINTER(c_float)), ("vocab_size", c_int), ("num_tokens", c_int)]


class RKLLMPerfStat(Structure):
    _fields_ = [
        ("prefill_time_ms", c_float),
        ("prefill_tokens", c_int),
        ("generate_time_ms", c_float),
        ("generate_tokens", c_int),
        ("memory_usage_mb", c_float),
    ]


class RKLLMResult(Structure):
    _fields_ = [
        ("text", c_char_p),
        ("token_id", c_int32),
        ("last_hidden_layer", RKLLMResultLastHiddenLayer),
        ("logits", RKLLMResultLogits),
        ("perf", RKLLMPerfStat),
    ]


# int callback(RKLLMResult *result, void *userdata, LLMCallState state). Declaring
# it as returning void leaves garbage that the runtime may read as "pause".
LLMResultCallback = ctypes.CFUNCTYPE(c_int, POINTER(RKLLMResult), c_void_p, c_int)

_SAMPLING_FIELDS = [
    ("max_context_len", c_int32),
    ("max_new_tokens", c_int32),
    ("top_k", c_int32),  # an int: declaring it float (as one popular server does) is wrong
    ("n_keep", c_int32),
    ("top_p", c_float),
    ("temperature", c_float),
    ("repeat_penalty", c_float),
    ("frequency_penalty", c_float),
    ("presence_penalty", c_float),
    ("mirostat", c_int32),
    ("mirostat_tau", c_float),
    ("mirostat_eta", c_float),
]

# -- ABI 1.2 (runtime 1.2.1 to 1.2.3) ------------------------------------------


class RKLLMParam12(Structure):
    _fields_ = [
        ("model_path", c_char_p),
        *_SAMPLING_FIELDS,
        ("skip_special_token", c_bool),
        ("is_async", c_bool),
        ("img_start", c_char_p),
        ("img_end", c_char_p),
        ("img_content", c_char_p),
        ("extend_param", RKLLMExtendParam),
    ]


class RKLLMMultiModalInput12(Structure):
    _fields_ = [
        ("prompt", c_char_p),
        ("image_embed", POINTER(c_float)),
        ("n_image_tokens", c_size_t),
        ("n_image", c_size_t),
        ("image_width", c_size_t),
        ("image_height", c_size_t),
    ]


class _RKLLMInputUnion12(Union):
    _fields_ = [
        ("prompt_input", c_char_p),
        ("embed_input", RKLLMEmbedInput),
        ("token_input", RKLLMTokenInput),
        ("multimodal_input", RKLLMMultiModalInput12),
    ]


class RKLLMInput12(Structure):
    _anonymous_ = ("input",)
    _fields_ = [
        ("role", c_char_p),
        ("enable_thinking", c_bool),
        ("input_type", c_int),
        ("input", _RKLLMInputUnion12),
    ]


class RKLLMInferParam12(Structure):
    _fields_ = [
        ("mode", c_int),
        ("lora_params", POINTER(RKLLMLoraParam)),
        ("prompt_cache_params", POINTER(RKLLMPromptCacheParam)),
        ("keep_history", c_int),
    ]


# -- ABI 1.3 (runtime 1.3.x) ----------------------------------------------------


class RKLLMParam13(Structure):
    _fields_ = [
        ("model_path", c_char_p),
        *_SAMPLING_FIELDS,
        ("skip_special_token", c_bool),
        ("ignore_eos_token", c_bool),
        ("is_async", c_bool),
        ("extend_param", RKLLMExtendParam),
    ]


class RKLLMMultiModalInput13(Structure):
    """Opaque here: rk-assist sends text only, but the union must have its full size."""

    _fields_ = [("prompt", c_char_p), ("_image_and_video", c_uint8 * 136)]


class _RKLLMInputUnion13(Union):
    _fields_ = [
        ("prompt_input", c_char_p),
        ("embed_input", RKLLMEmbedInput),
        ("token_input", RKLLMTokenInput),
        ("multimodal_input", RKLLMMultiModalInput13),
    ]


class RKLLMInput13(Structure):
    _anonymous_ = ("input",)
    _fields_ = [
        ("role", c_char_p),
        ("enable_thinking", c_bool),
        ("input_type", c_int),
        ("input", _RKLLMInputUnion13),
    ]


class RKLLMSamplingParam(Structure):
    _fields_ = [
        ("top_k", c_int32),
        ("top_p", c_float),
        ("temperature", c_float),
        ("repeat_penalty", c_float),
        ("frequency_penalty", c_float),
        ("presence_penalty", c_float),
        ("mirostat", c_int32),
        ("mirostat_tau", c_float),
        ("mirostat_eta", c_float),
    ]


class RKLLMInferParam13(Structure):
    _fields_ = [
        ("mode", c_int),
        ("lora_params", POINTER(RKLLMLoraParam)),
        ("prompt_cache_params", POINTER(RKLLMPromptCacheParam)),
        ("sampling_params", POINTER(RKLLMSamplingParam)),
        ("keep_history", c_int),
        ("max_new_tokens", c_int32),
    ]


class RKLLMCallback(Structure):
    _fields_ = [
        ("result_callback", LLMResultCallback),
        ("result_userdata", c_void_p),
        ("tokenizer_callback", c_void_p),
        ("tokenizer_userdata", c_void_p),
        ("embed_callback", c_void_p),
        ("embed_userdata", c_void_p),
    ]


ABI_12 = SimpleNamespace(
    name="1.2", Param=RKLLMParam12, Input=RKLLMInput12, InferParam=RKLLMInferParam12
)
ABI_13 = SimpleNamespace(
    name="1.3", Param=RKLLMParam13, Input=RKLLMInput13, InferParam=RKLLMInferParam13
)
ABIS = {"1.2": ABI_12, "1.3": ABI_13}

#: Documented sizes in bytes (aarch64 / LP64).
DOCUMENTED_SIZES: dict[type, int] = {
    RKLLMExtendParam: 120,
    RKLLMLoraAdapter: 24,
    RKLLMEmbedInput: 16,
    RKLLMTokenInput: 16,
    RKLLMLoraParam: 8,
    RKLLMPromptCacheParam: 16,
    RKLLMCrossAttnParam: 40,
    RKLLMResultLastHiddenLayer: 16,
    RKLLMResultLogits: 16,
    RKLLMPerfStat: 20,
    RKLLMResult: 72,
    RKLLMParam12: 208,
    RKLLMMultiModalInput12: 48,
    RKLLMInput12: 64,
    RKLLMInferParam12: 32,
    RKLLMParam13: 184,
    RKLLMMultiModalInput13: 144,
    RKLLMInput13: 160,
    RKLLMSamplingParam: 36,
    RKLLMInferParam13: 40,
    RKLLMCallback: 48,
}


def check_struct_sizes() -> None:
    if ctypes.sizeof(c_void_p) != 8:
        # The documented layouts are LP64's; 32-bit armhf differs and is not supported.
        raise ImportError("the RKLLM bindings need a 64-bit Python (aarch64 or x86-64)")
    wrong = [
        f"{struct.__name__} is {ctypes.sizeof(struct)} bytes, documented {size}"
        for struct, size in DOCUMENTED_SIZES.items()
        if ctypes.sizeof(struct) != size
    ]
    if wrong:
        raise ImportError("RKLLM struct layout bug: " + "; ".join(wrong))


check_struct_sizes()
