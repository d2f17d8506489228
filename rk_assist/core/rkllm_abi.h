/*
 * The types of Rockchip's rkllm.h, written from its documented layouts (the
 * headers of runtime 1.2.3 and 1.3.0, as core/structs.py mirrors them), for the
 * two ABIs rk-assist speaks: build with -DRKLLM_ABI=12 (runtime 1.2.1 to 1.2.3) or
 * -DRKLLM_ABI=13 (1.3.x). Every size and offset the Python core also checks is
 * asserted here, so the emulated runtime and the test double cannot drift from
 * the real library's layout.
 */
#ifndef RK_ASSIST_RKLLM_ABI_H
#define RK_ASSIST_RKLLM_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef RKLLM_ABI
#error "build with -DRKLLM_ABI=12 or -DRKLLM_ABI=13"
#endif

typedef void *LLMHandle;
typedef enum { RKLLM_RUN_NORMAL = 0, RKLLM_RUN_WAITING = 1, RKLLM_RUN_FINISH = 2, RKLLM_RUN_ERROR = 3 } LLMCallState;
typedef enum { RKLLM_INPUT_PROMPT = 0, RKLLM_INPUT_TOKEN = 1, RKLLM_INPUT_EMBED = 2, RKLLM_INPUT_MULTIMODAL = 3 } RKLLMInputType;

typedef struct {
    int32_t base_domain_id;
    int8_t embed_flash;
    int8_t enabled_cpus_num;
    uint32_t enabled_cpus_mask;
    uint8_t n_batch;
    int8_t use_cross_attn;
    uint8_t reserved[104];
} RKLLMExtendParam;

typedef struct {
    const char *model_path;
    int32_t max_context_len;
    int32_t max_new_tokens;
    int32_t top_k;
    int32_t n_keep;
    float top_p;
    float temperature;
    float repeat_penalty;
    float frequency_penalty;
    float presence_penalty;
    int32_t mirostat;
    float mirostat_tau;
    float mirostat_eta;
    bool skip_special_token;
#if RKLLM_ABI == 13
    bool ignore_eos_token;
#endif
    bool is_async;
#if RKLLM_ABI == 12
    const char *img_start;
    const char *img_end;
    const char *img_content;
#endif
    RKLLMExtendParam extend_param;
} RKLLMParam;

typedef struct { const char *lora_adapter_path; const char *lora_adapter_name; float scale; } RKLLMLoraAdapter;
typedef struct { float *embed; size_t n_tokens; } RKLLMEmbedInput;
typedef struct { int32_t *input_ids; size_t n_tokens; } RKLLMTokenInput;
#if RKLLM_ABI == 12
typedef struct {
    char *prompt; float *image_embed; size_t n_image_tokens; size_t n_image; size_t image_width; size_t image_height;
} RKLLMMultiModalInput;
#else
typedef struct { char *prompt; uint8_t image_and_video[136]; } RKLLMMultiModalInput;
#endif

typedef struct {
    const char *role;
    bool enable_thinking;
    RKLLMInputType input_type;
    union {
        const char *prompt_input;
        RKLLMEmbedInput embed_input;
        RKLLMTokenInput token_input;
        RKLLMMultiModalInput multimodal_input;
    };
} RKLLMInput;

typedef struct { const char *lora_adapter_name; } RKLLMLoraParam;
typedef struct { int save_prompt_cache; const char *prompt_cache_path; } RKLLMPromptCacheParam;
typedef struct { float *encoder_k_cache; float *encoder_v_cache; float *encoder_mask; int32_t *encoder_pos; int num_tokens; } RKLLMCrossAttnParam;

#if RKLLM_ABI == 13
typedef struct {
    int32_t top_k; float top_p; float temperature; float repeat_penalty; float frequency_penalty;
    float presence_penalty; int32_t mirostat; float mirostat_tau; float mirostat_eta;
} RKLLMSamplingParam;
#endif

typedef struct {
    int mode;
    RKLLMLoraParam *lora_params;
    RKLLMPromptCacheParam *prompt_cache_params;
#if RKLLM_ABI == 13
    RKLLMSamplingParam *sampling_params;
#endif
    int keep_history;
#if RKLLM_ABI == 13
    int32_t max_new_tokens;
#endif
} RKLLMInferParam;

typedef struct { float *hidden_states; int embd_size; int num_tokens; } RKLLMResultLastHiddenLayer;
typedef struct { float *logits; int vocab_size; int num_tokens; } RKLLMResultLogits;
typedef struct { float prefill_time_ms; int prefill_tokens; float generate_time_ms; int generate_tokens; float memory_usage_mb; } RKLLMPerfStat;
typedef struct {
    const char *text;
    int32_t token_id;
    RKLLMResultLastHiddenLayer last_hidden_layer;
    RKLLMResultLogits logits;
    RKLLMPerfStat perf;
} RKLLMResult;

typedef int (*LLMResultCallback)(RKLLMResult *result, void *userdata, LLMCallState state);
#if RKLLM_ABI == 13
typedef struct {
    LLMResultCallback result_callback; void *result_userdata;
    void *tokenizer_callback; void *tokenizer_userdata;
    void *embed_callback; void *embed_userdata;
} RKLLMCallback;
#endif

/* The documented layouts (aarch64 / LP64). */
_Static_assert(sizeof(RKLLMExtendParam) == 120, "RKLLMExtendParam");
_Static_assert(offsetof(RKLLMExtendParam, enabled_cpus_mask) == 8, "enabled_cpus_mask");
_Static_assert(offsetof(RKLLMExtendParam, n_batch) == 12, "n_batch");
_Static_assert(offsetof(RKLLMParam, top_k) == 16, "top_k");
_Static_assert(offsetof(RKLLMParam, top_p) == 24, "top_p");
_Static_assert(offsetof(RKLLMParam, mirostat_eta) == 52, "mirostat_eta");
_Static_assert(offsetof(RKLLMParam, skip_special_token) == 56, "skip_special_token");
_Static_assert(sizeof(RKLLMResult) == 72, "RKLLMResult");
_Static_assert(offsetof(RKLLMResult, perf) == 48, "perf");
_Static_assert(sizeof(RKLLMPerfStat) == 20, "RKLLMPerfStat");
_Static_assert(offsetof(RKLLMInput, input_type) == 12, "input_type");
_Static_assert(offsetof(RKLLMInput, prompt_input) == 16, "prompt_input");
_Static_assert(sizeof(RKLLMPromptCacheParam) == 16, "RKLLMPromptCacheParam");
#if RKLLM_ABI == 12
_Static_assert(sizeof(RKLLMParam) == 208, "RKLLMParam 1.2");
_Static_assert(offsetof(RKLLMParam, img_start) == 64, "img_start");
_Static_assert(offsetof(RKLLMParam, extend_param) == 88, "extend_param 1.2");
_Static_assert(sizeof(RKLLMInput) == 64, "RKLLMInput 1.2");
_Static_assert(sizeof(RKLLMInferParam) == 32, "RKLLMInferParam 1.2");
_Static_assert(offsetof(RKLLMInferParam, keep_history) == 24, "keep_history 1.2");
#else
_Static_assert(sizeof(RKLLMParam) == 184, "RKLLMParam 1.3");
_Static_assert(offsetof(RKLLMParam, is_async) == 58, "is_async 1.3");
_Static_assert(offsetof(RKLLMParam, extend_param) == 60, "extend_param 1.3");
_Static_assert(sizeof(RKLLMInput) == 160, "RKLLMInput 1.3");
_Static_assert(sizeof(RKLLMSamplingParam) == 36, "RKLLMSamplingParam");
_Static_assert(sizeof(RKLLMInferParam) == 40, "RKLLMInferParam 1.3");
_Static_assert(offsetof(RKLLMInferParam, keep_history) == 32, "keep_history 1.3");
_Static_assert(offsetof(RKLLMInferParam, max_new_tokens) == 36, "max_new_tokens 1.3");
_Static_assert(sizeof(RKLLMCallback) == 48, "RKLLMCallback");
#endif

typedef enum { RKLLM_INFER_GENERATE = 0, RKLLM_INFER_GET_LAST_HIDDEN_LAYER = 1, RKLLM_INFER_GET_LOGITS = 2 } RKLLMInferMode;

#endif
