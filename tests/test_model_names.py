import pytest

from rk_assist.models.names import context_from_name, friendly_name, friendly_names


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm", "qwen3-0.6b"),
        ("Qwen2.5-1.5B-Instruct-rk3588-w8a8.rkllm", "qwen2.5-1.5b"),
        ("Qwen2.5-3B-Instruct_W8A8_G128_RK3576.rkllm", "qwen2.5-3b"),
        ("DeepSeek-R1-Distill-Qwen-1.5B_W8A8_RK3588.rkllm", "deepseek-r1-distill-qwen-1.5b"),
        ("Qwen3-4B-rk3588-w8a8-opt-1-hybrid-ratio-0.0.rkllm", "qwen3-4b"),
        ("Qwen3-1.7B-w8a8-rk3588.rkllm", "qwen3-1.7b"),
        ("qwen2.5-1.5b-instruct-q4_k_m.gguf", "qwen2.5-1.5b"),
        ("Qwen3-1.7B-Q8_0.gguf", "qwen3-1.7b"),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-135m"),
        ("gemma-3-1b-it-IQ3_XXS.gguf", "gemma-3-1b"),
        ("TinyLlama-1.1B-Chat-v1.0.Q4_K_M.gguf", "tinyllama-1.1b-v1.0"),
        ("Llama-3.2-1B-Instruct-f16.gguf", "llama-3.2-1b"),
    ],
)
def test_real_world_file_names(filename, name):
    assert friendly_name(filename) == name


def test_collisions_keep_what_tells_files_apart():
    names = friendly_names(
        [
            "Qwen3-0.6B-w8a8-rk3588.rkllm",
            "Qwen3-0.6B-w8a8-rk3576.rkllm",
            "Qwen3-0.6B-w4a16-rk3588.rkllm",
            "Qwen3-1.7B-w8a8-rk3588.rkllm",
        ]
    )
    assert names["Qwen3-1.7B-w8a8-rk3588.rkllm"] == "qwen3-1.7b"
    trio = [names[f] for f in names if "0.6B" in f]
    assert len(set(trio)) == 3 and all(n.startswith("qwen3-0.6b-") for n in trio)
    assert "rk3576" in names["Qwen3-0.6B-w8a8-rk3576.rkllm"]
    assert "w4a16" in names["Qwen3-0.6B-w4a16-rk3588.rkllm"]


def test_a_gguf_and_an_rkllm_of_one_model_are_told_apart():
    names = friendly_names(["Qwen3-0.6B-w8a8-rk3588.rkllm", "Qwen3-0.6B-Q4_K_M.gguf"])
    assert len(set(names.values())) == 2


def test_context_tag():
    assert context_from_name("Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm") == 16384
    assert context_from_name("model-ctx4k.rkllm") == 4096
    assert context_from_name("Qwen2.5-1.5B-Instruct-rk3588-w8a8.rkllm") is None
