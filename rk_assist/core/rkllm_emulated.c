/*
 * librkllmrt.so emulated on llama.cpp: Rockchip's RKLLM C API, run on the CPU.
 *
 * What the NPU runs, a machine without one cannot; everything around it can
 * be the same. This library exports the functions rk-assist's ctypes core
 * binds, with the documented struct layouts of one ABI (build with
 * -DRKLLM_ABI=12 or 13), and does what the runtime does with them on top of
 * libllama: rkllm_init loads the GGUF its model_path names; rkllm_run takes
 * prompt or token input and calls back on a thread of its own, one token at
 * a time (NORMAL, WAITING for a split UTF-8 character, FINISH with perf,
 * ERROR); keep_history keeps the KV cache, and without it a matching prefix
 * is reused; the chat template and rkllm_set_function_tools are applied as
 * Qwen's own template writes them; prompt caches are saved after a run and
 * loaded by rkllm_load_prompt_cache; rkllm_abort stops a prefill or a
 * generation; GET_LOGITS hands the last token's logits to the callback. What
 * it cannot do (hidden layers, LoRA, multimodal and embedding input, cross
 * attention) fails with -1 and an "E rkllm:" line, as the runtime fails.
 *
 * It tells its version the way the real library does: the banner it prints
 * at init is in the file. It is only ever used when asked for by name
 * (--rkllm-library emulated), never found in place of a real library.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "llama.h"
#include "rkllm_abi.h"

#ifndef EMULATED_VERSION
#if RKLLM_ABI == 12
#define EMULATED_VERSION "1.2.3"
#else
#define EMULATED_VERSION "1.3.0"
#endif
#endif

static const char version_banner[] =
    "I rkllm: rkllm-runtime version: " EMULATED_VERSION
    ", rknpu driver version: 0.9.8, platform: EMULATED (llama.cpp on the CPU)";

/* Qwen's chat format, the runtime's template for the models rk-assist serves. */
#define DEFAULT_SYSTEM "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
#define DEFAULT_PREFIX "<|im_start|>user\n"
#define DEFAULT_POSTFIX "<|im_end|>\n<|im_start|>assistant\n"
#define PENALTY_LAST_N 64

typedef struct {
    RKLLMParam param;
    char *model_path;
    struct llama_model *model;
    struct llama_context *ctx;
    const struct llama_vocab *vocab;
    int n_vocab;
    LLMResultCallback callback;
    void *userdata;
    char *system, *prefix, *postfix; /* the chat template */
    char *tool_response;             /* the tag around tool results (set_function_tools) */
    llama_token *kv;                 /* the tokens whose state is in the KV cache, in order */
    int n_kv, cap_kv;
    int n_system;                    /* how many of them are the system block */
    int system_tokens;               /* the system block's length in tokens, kept with it */
    atomic_int abort_requested;
    atomic_int running;
    pthread_mutex_t lock;            /* one call on the model at a time */
    pthread_t async_thread;
    int async_joinable;
} EmulatedLLM;

typedef struct {
    EmulatedLLM *llm;
    const RKLLMInput *input;
    RKLLMInferParam infer;
    int has_infer;
    char *cache_path;
    void *userdata;
    int max_new_tokens;
    float temperature, top_p, repeat_penalty, frequency_penalty, presence_penalty;
    int top_k;
    /* owned copies, for a run that outlives rkllm_run_async's caller */
    RKLLMInput input_copy;
    char *role_copy, *prompt_copy;
    int32_t *tokens_copy;
    int status;
} RunJob;

static void fail(const char *what) { fprintf(stderr, "E rkllm: %s\n", what); }

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static float resident_mb(void) {
    long pages = 0, resident = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (statm) {
        if (fscanf(statm, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(statm);
    }
    return (float)resident * (float)sysconf(_SC_PAGESIZE) / (1024.0f * 1024.0f);
}

static char *dup_or_empty(const char *text) { return strdup(text ? text : ""); }

static void replace(char **slot, const char *value) {
    free(*slot);
    *slot = dup_or_empty(value);
}

/* Tokens of `text`, special tokens read as such; `*count` of them, in a buffer the caller frees. */
static llama_token *tokenize(EmulatedLLM *llm, const char *text, int add_special, int *count) {
    int length = (int)strlen(text);
    int cap = length + 8;
    llama_token *tokens = malloc((size_t)cap * sizeof(llama_token));
    int n = llama_tokenize(llm->vocab, text, length, tokens, cap, add_special, true);
    if (n < 0) {
        cap = -n;
        tokens = realloc(tokens, (size_t)cap * sizeof(llama_token));
        n = llama_tokenize(llm->vocab, text, length, tokens, cap, add_special, true);
    }
    *count = n;
    return tokens;
}

/* A new system block, and its length in tokens (what clear_kv_cache(keep_system_prompt) keeps),
 * counted once here rather than at every run. */
static void set_system(EmulatedLLM *llm, char *system) {
    free(llm->system);
    llm->system = system;
    free(tokenize(llm, system, 0, &llm->system_tokens));
}

RKLLMParam rkllm_createDefaultParam(void) {
    RKLLMParam param;
    memset(&param, 0, sizeof(param));
    param.max_context_len = 512;
    param.max_new_tokens = 512;
    param.top_k = 40;
    param.n_keep = -1;
    param.top_p = 0.9f;
    param.temperature = 0.8f;
    param.repeat_penalty = 1.1f;
    param.mirostat_tau = 5.0f;
    param.mirostat_eta = 0.1f;
    param.extend_param.n_batch = 1;
    return param;
}

static void quiet_log(enum ggml_log_level level, const char *text, void *data) {
    (void)data;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static bool abort_requested(void *data) { return atomic_load(&((EmulatedLLM *)data)->abort_requested) != 0; }

/* The cores the runtime may use, as many as this machine has. */
static int thread_count(const RKLLMParam *param) {
    const char *forced = getenv("RKLLM_EMULATED_THREADS");
    if (forced && atoi(forced) > 0) return atoi(forced);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int wanted = param->extend_param.enabled_cpus_num > 0 ? param->extend_param.enabled_cpus_num : 4;
    if (online > 0 && wanted > online) wanted = (int)online;
    return wanted > 0 ? wanted : 1;
}

static int init_common(LLMHandle *handle, RKLLMParam *param, LLMResultCallback callback, void *userdata) {
    if (!handle || !param) { fail("null handle or param"); return -1; }
    *handle = NULL;
    fprintf(stderr, "%s\n", version_banner);
    if (!callback) { fail("callback is NULL"); return -1; }
    if (!param->model_path) { fail("model_path is NULL"); return -1; }
    if (param->max_context_len <= 0 || param->max_new_tokens == 0) {
        fail("invalid max_new_tokens or max_context_len");
        return -1;
    }
    if (param->top_k < 0 || param->top_k > 1000 || !(param->top_p > 0.0f && param->top_p <= 1.0f)) {
        fail("invalid sampling parameters (start from rkllm_createDefaultParam)");
        return -1;
    }
    llama_log_set(quiet_log, NULL);
    llama_backend_init();
    struct llama_model_params model_params = llama_model_default_params();
    model_params.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(param->model_path, model_params);
    if (!model) {
        fprintf(stderr, "E RKNN: failed to open model file %s\nE rkllm: load model file error!\n",
                param->model_path);
        return -1;
    }
    int limit = llama_model_n_ctx_train(model);
    if (limit > 0 && param->max_context_len > limit) {
        fprintf(stderr, "E rkllm: max_context[%d] must be less than the model's max_context_limit[%d]\n",
                param->max_context_len, limit);
        llama_model_free(model);
        return -1;
    }
    struct llama_context_params ctx_params = llama_context_default_params();
    ctx_params.n_ctx = (uint32_t)param->max_context_len;
    ctx_params.n_batch = ctx_params.n_ctx < 512 ? ctx_params.n_ctx : 512;
    ctx_params.n_threads = ctx_params.n_threads_batch = thread_count(param);
    struct llama_context *ctx = llama_init_from_model(model, ctx_params);
    if (!ctx) {
        fail("cannot create the model's context");
        llama_model_free(model);
        return -1;
    }
    EmulatedLLM *llm = calloc(1, sizeof(EmulatedLLM));
    llm->param = *param;
    llm->model_path = strdup(param->model_path);
    llm->param.model_path = llm->model_path;
    llm->model = model;
    llm->ctx = ctx;
    llm->vocab = llama_model_get_vocab(model);
    llm->n_vocab = llama_vocab_n_tokens(llm->vocab);
    llm->callback = callback;
    llm->userdata = userdata;
    set_system(llm, strdup(DEFAULT_SYSTEM));
    llm->prefix = strdup(DEFAULT_PREFIX);
    llm->postfix = strdup(DEFAULT_POSTFIX);
    llm->tool_response = strdup("tool_response");
    llm->cap_kv = param->max_context_len + 8;
    llm->kv = calloc((size_t)llm->cap_kv, sizeof(llama_token));
    pthread_mutex_init(&llm->lock, NULL);
    llama_set_abort_callback(ctx, abort_requested, llm);
    *handle = llm;
    return 0;
}

#if RKLLM_ABI == 12
int rkllm_init(LLMHandle *handle, RKLLMParam *param, LLMResultCallback callback) {
    return init_common(handle, param, callback, NULL);
}
#else
int rkllm_init(LLMHandle *handle, RKLLMParam *param, RKLLMCallback *callback) {
    if (!callback) { fail("callback struct is NULL"); return -1; }
    return init_common(handle, param, callback->result_callback, callback->result_userdata);
}
#endif

/* The most tokens the KV cache may hold: what init was asked for (llama.cpp may round up). */
static int context_limit(const EmulatedLLM *llm) {
    int n_ctx = (int)llama_n_ctx(llm->ctx);
    return n_ctx < llm->param.max_context_len ? n_ctx : llm->param.max_context_len;
}

/* Forget the KV cache from position `keep` on. */
static void truncate_kv(EmulatedLLM *llm, int keep) {
    if (keep < 0) keep = 0;
    if (keep >= llm->n_kv) return;
    llama_memory_seq_rm(llama_get_memory(llm->ctx), 0, keep, -1);
    llm->n_kv = keep;
    if (llm->n_system > keep) llm->n_system = keep;
}

int rkllm_set_chat_template(LLMHandle handle, const char *system, const char *prefix, const char *postfix) {
    EmulatedLLM *llm = handle;
    if (!llm) return -1;
    pthread_mutex_lock(&llm->lock);
    set_system(llm, dup_or_empty(system));
    replace(&llm->prefix, prefix);
    replace(&llm->postfix, postfix);
    pthread_mutex_unlock(&llm->lock);
    return 0;
}

/* Append the top-level values of a JSON array, one a line, as Qwen's template lists tools. */
static int list_tools(const char *tools, char *out, size_t size) {
    size_t used = 0;
    int depth = 0, in_string = 0, escaped = 0;
    const char *start = NULL;
    for (const char *c = tools; *c; c++) {
        if (in_string) {
            if (escaped) escaped = 0;
            else if (*c == '\\') escaped = 1;
            else if (*c == '"') in_string = 0;
            continue;
        }
        if (*c == '"') { in_string = 1; continue; }
        if (*c == '{' || *c == '[') {
            if (depth == 1 && *c == '{') start = c;
            depth++;
        } else if (*c == '}' || *c == ']') {
            depth--;
            if (depth == 1 && start && *c == '}') {
                int length = (int)(c - start + 1);
                int wrote = snprintf(out + used, size - used, "\n%.*s", length, start);
                if (wrote < 0 || (size_t)wrote >= size - used) return -1;
                used += (size_t)wrote;
                start = NULL;
            }
        }
    }
    return depth == 0 && !in_string ? 0 : -1;
}

int rkllm_set_function_tools(LLMHandle handle, const char *system_prompt, const char *tools,
                             const char *tool_response_str) {
    EmulatedLLM *llm = handle;
    if (!llm || !tools) return -1;
    while (*tools == ' ' || *tools == '\n') tools++;
    if (tools[0] != '[') { fail("tools must be a JSON array"); return -1; }
    size_t size = strlen(system_prompt ? system_prompt : "") + 2 * strlen(tools) + 1024;
    char *listed = calloc(1, size);
    if (list_tools(tools, listed, size) != 0) {
        fail("tools is not a valid JSON array");
        free(listed);
        return -1;
    }
    char *system = malloc(size + strlen(listed));
    /* Qwen2.5's chat template, with the tools given. */
    sprintf(system,
            "<|im_start|>system\n%s\n\n# Tools\n\nYou may call one or more functions to assist with the "
            "user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n"
            "<tools>%s\n</tools>\n\nFor each function call, return a json object with function name and "
            "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
            "<function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n",
            system_prompt ? system_prompt : "", listed);
    pthread_mutex_lock(&llm->lock);
    set_system(llm, system);
    replace(&llm->tool_response, tool_response_str && *tool_response_str ? tool_response_str : "tool_response");
    pthread_mutex_unlock(&llm->lock);
    free(listed);
    return 0;
}

static int emit_text(RunJob *job, const char *bytes, int length, LLMCallState state, int32_t token) {
    char piece[256];
    if (length >= (int)sizeof(piece)) length = (int)sizeof(piece) - 1;
    memcpy(piece, bytes, (size_t)length);
    piece[length] = '\0';
    RKLLMResult result;
    memset(&result, 0, sizeof(result)); /* perf is valid only on FINISH */
    result.text = piece;
    result.token_id = token;
    return job->llm->callback(&result, job->userdata, state);
}

static void emit_state(RunJob *job, LLMCallState state, const RKLLMPerfStat *perf) {
    RKLLMResult result;
    memset(&result, 0, sizeof(result));
    result.token_id = -1;
    if (perf) result.perf = *perf;
    job->llm->callback(&result, job->userdata, state);
}

/* Evaluate tokens at the end of the KV cache in batches; 0, or -1 when aborted or failed. */
static int evaluate(EmulatedLLM *llm, const llama_token *tokens, int count) {
    int batch_size = (int)llama_n_batch(llm->ctx);
    for (int at = 0; at < count; at += batch_size) {
        int n = count - at < batch_size ? count - at : batch_size;
        if (atomic_load(&llm->abort_requested)) return -1;
        struct llama_batch batch = llama_batch_get_one((llama_token *)tokens + at, n);
        if (llama_decode(llm->ctx, batch) != 0) {
            /* An aborted batch may have left cells behind: the cache holds what kv says. */
            llama_memory_seq_rm(llama_get_memory(llm->ctx), 0, llm->n_kv, -1);
            return -1;
        }
        memcpy(llm->kv + llm->n_kv, tokens + at, (size_t)n * sizeof(llama_token));
        llm->n_kv += n;
    }
    return 0;
}

/* How many bytes at the end of `text` begin a UTF-8 character not yet complete. */
static int incomplete_utf8(const char *text, int length) {
    for (int back = 1; back <= 3 && back <= length; back++) {
        unsigned char c = (unsigned char)text[length - back];
        if ((c & 0xC0) == 0x80) continue;
        int need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

/* The text a PROMPT input stands for: the template around it, the system block at a fresh start. */
static char *prompt_text(EmulatedLLM *llm, const char *role, const char *prompt, int continuing) {
    /* Continuing an answer: close its turn as Qwen's template does ("<|im_end|>" and a line). */
    const char *lead = llm->system;
    if (continuing) {
        int ended = llm->n_kv > 0 && llama_vocab_is_eog(llm->vocab, llm->kv[llm->n_kv - 1]);
        lead = llm->n_kv <= llm->n_system ? "" : ended ? "\n" : "<|im_end|>\n";
    }
    size_t size = strlen(lead) + strlen(llm->prefix) + strlen(prompt) + strlen(llm->postfix) +
                  2 * strlen(llm->tool_response) + 128;
    char *text = malloc(size);
    if (strcmp(role, "tool") == 0) {
        /* Qwen's template: the results in a user turn, wrapped in the tag. */
        snprintf(text, size, "%s<|im_start|>user\n<%s>\n%s\n</%s><|im_end|>\n<|im_start|>assistant\n", lead,
                 llm->tool_response, prompt, llm->tool_response);
    } else {
        snprintf(text, size, "%s%s%s%s", lead, llm->prefix, prompt, llm->postfix);
    }
    return text;
}

static struct llama_sampler *make_sampler(const RunJob *job, int n_vocab) {
    struct llama_sampler *chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(chain, llama_sampler_init_penalties(n_vocab, PENALTY_LAST_N, job->repeat_penalty,
                                                                job->frequency_penalty, job->presence_penalty));
    if (job->temperature <= 0.0f) {
        llama_sampler_chain_add(chain, llama_sampler_init_greedy());
        return chain;
    }
    if (job->top_k > 0) llama_sampler_chain_add(chain, llama_sampler_init_top_k(job->top_k));
    llama_sampler_chain_add(chain, llama_sampler_init_top_p(job->top_p, 1));
    llama_sampler_chain_add(chain, llama_sampler_init_temp(job->temperature));
    llama_sampler_chain_add(chain, llama_sampler_init_dist(0));
    return chain;
}

/* The input as tokens: PROMPT through the template, TOKEN as given. NULL on input it cannot take. */
static llama_token *input_tokens(RunJob *job, int keep_history, int *count, int *n_system) {
    EmulatedLLM *llm = job->llm;
    const RKLLMInput *input = job->input;
    const char *role = input->role ? input->role : "user";
    if (strcmp(role, "user") != 0 && strcmp(role, "tool") != 0) {
        fail("role must be \"user\" or \"tool\"");
        return NULL;
    }
    if (input->input_type == RKLLM_INPUT_TOKEN) {
        const RKLLMTokenInput *given = &input->token_input;
        if (!given->input_ids || given->n_tokens == 0) { fail("token input is empty"); return NULL; }
        llama_token *tokens = malloc(given->n_tokens * sizeof(llama_token));
        for (size_t i = 0; i < given->n_tokens; i++) {
            if (given->input_ids[i] < 0 || given->input_ids[i] >= llm->n_vocab) {
                fail("token id out of the vocabulary");
                free(tokens);
                return NULL;
            }
            tokens[i] = given->input_ids[i];
        }
        *count = (int)given->n_tokens;
        return tokens;
    }
    if (input->input_type != RKLLM_INPUT_PROMPT) {
        fail("embedding and multimodal input need the NPU runtime; the emulated runtime takes prompts and tokens");
        return NULL;
    }
    int continuing = keep_history && llm->n_kv > 0;
    char *text = prompt_text(llm, role, input->prompt_input ? input->prompt_input : "", continuing);
    llama_token *tokens = tokenize(llm, text, !continuing && llm->n_kv == 0, count);
    if (!continuing) *n_system = llm->system_tokens; /* the run starts with the system block */
    free(text);
    return tokens;
}

static int save_prompt_cache(RunJob *job) {
    EmulatedLLM *llm = job->llm;
    if (!job->cache_path) return 0;
    size_t wrote = llama_state_seq_save_file(llm->ctx, job->cache_path, 0, llm->kv, (size_t)llm->n_kv);
    if (wrote == 0) {
        fail("cannot write the prompt cache file");
        return -1;
    }
    return 0;
}

/* GENERATE: sample until the end of the turn, the token limit, an abort or a callback's "pause". */
static int generate(RunJob *job, RKLLMPerfStat *perf) {
    EmulatedLLM *llm = job->llm;
    struct llama_sampler *sampler = make_sampler(job, llm->n_vocab);
    for (int i = llm->n_kv > PENALTY_LAST_N ? llm->n_kv - PENALTY_LAST_N : 0; i < llm->n_kv; i++)
        llama_sampler_accept(sampler, llm->kv[i]);
    char pending[64];
    int n_pending = 0;
    double started = now_ms();
    int generated = 0, status = 0;
    while (generated < job->max_new_tokens) {
        if (atomic_load(&llm->abort_requested)) break;
        if (llm->n_kv + 1 > context_limit(llm)) break;
        llama_token token = llama_sampler_sample(sampler, llm->ctx, -1);
        int end = llama_vocab_is_eog(llm->vocab, token);
        if (evaluate(llm, &token, 1) != 0) {
            if (!atomic_load(&llm->abort_requested)) status = -1;
            break;
        }
        if (end) break;
        char piece[128];
        int length = llama_token_to_piece(llm->vocab, token, piece, sizeof(piece), 0,
                                          !llm->param.skip_special_token);
        if (length < 0) length = 0;
        generated++;
        if (n_pending + length > (int)sizeof(pending)) n_pending = 0;
        memcpy(pending + n_pending, piece, (size_t)length);
        n_pending += length;
        int waiting = incomplete_utf8(pending, n_pending);
        int rc = emit_text(job, piece, length, waiting ? RKLLM_RUN_WAITING : RKLLM_RUN_NORMAL, token);
        if (!waiting) n_pending = 0;
        if (rc != 0) break; /* 1: pause; the emulated runtime ends the run there */
    }
    llama_sampler_free(sampler);
    perf->generate_time_ms = (float)(now_ms() - started);
    perf->generate_tokens = generated;
    return status;
}

/* GET_LOGITS: the last input token's logits, to the callback, valid only during it. */
static int hand_logits(RunJob *job) {
    EmulatedLLM *llm = job->llm;
    float *logits = llama_get_logits_ith(llm->ctx, -1);
    if (!logits) { fail("no logits for the input"); return -1; }
    RKLLMResult result;
    memset(&result, 0, sizeof(result));
    result.token_id = -1;
    result.logits.logits = logits;
    result.logits.vocab_size = llm->n_vocab;
    result.logits.num_tokens = 1;
    job->llm->callback(&result, job->userdata, RKLLM_RUN_NORMAL);
    return 0;
}

/* The run ends in the ERROR state: the callback hears it, rkllm_run returns -1. */
static void *run_failed(RunJob *job, const char *what) {
    if (what) fail(what);
    emit_state(job, RKLLM_RUN_ERROR, NULL);
    job->status = -1;
    return NULL;
}

static void *run_thread(void *arg) {
    RunJob *job = arg;
    EmulatedLLM *llm = job->llm;
    int mode = job->has_infer ? job->infer.mode : RKLLM_INFER_GENERATE;
    int keep_history = job->has_infer ? job->infer.keep_history : 0;
    if (mode == RKLLM_INFER_GET_LAST_HIDDEN_LAYER) return run_failed(job, "GET_LAST_HIDDEN_LAYER needs the NPU runtime");
    int count = 0, n_system = -1;
    llama_token *tokens = input_tokens(job, keep_history, &count, &n_system);
    if (!tokens) return run_failed(job, NULL);
    /* keep_history: the input continues what the cache holds. Without it the runtime still
     * reuses the longest prefix of its KV cache that the input shares. */
    int skip = 0;
    if (!keep_history) {
        while (skip < llm->n_kv && skip < count && llm->kv[skip] == tokens[skip]) skip++;
        if (skip == count) skip--; /* the last input token is evaluated again: its logits */
        truncate_kv(llm, skip);
        skip = llm->n_kv;
    }
    const llama_token *todo = tokens + skip;
    int n_todo = count - skip;
    if (llm->n_kv + n_todo + 1 > context_limit(llm)) {
        fprintf(stderr, "E rkllm: the input is %d tokens, more than max_context_len %d allows\n",
                llm->n_kv + n_todo, llm->param.max_context_len);
        free(tokens);
        return run_failed(job, NULL);
    }
    RKLLMPerfStat perf;
    memset(&perf, 0, sizeof(perf));
    double started = now_ms();
    int evaluated = evaluate(llm, todo, n_todo);
    free(tokens);
    perf.prefill_time_ms = (float)(now_ms() - started);
    perf.prefill_tokens = n_todo;
    if (n_system >= 0 && n_system <= llm->n_kv) llm->n_system = n_system;
    if (evaluated != 0) {
        if (!atomic_load(&llm->abort_requested)) return run_failed(job, "the model failed to evaluate the input");
    } else {
        if (save_prompt_cache(job) != 0) return run_failed(job, NULL);
        int status = mode == RKLLM_INFER_GET_LOGITS ? hand_logits(job) : generate(job, &perf);
        if (status != 0) return run_failed(job, "the model failed while generating");
    }
    perf.memory_usage_mb = resident_mb();
    emit_state(job, RKLLM_RUN_FINISH, &perf);
    job->status = 0;
    return NULL;
}

static void free_job(RunJob *job) {
    free(job->cache_path);
    free(job->role_copy);
    free(job->prompt_copy);
    free(job->tokens_copy);
    free(job);
}

/* A run that owns copies of its input, so rkllm_run_async may return before it ends. */
static RunJob *make_job(EmulatedLLM *llm, RKLLMInput *input, RKLLMInferParam *infer, void *userdata) {
    RunJob *job = calloc(1, sizeof(RunJob));
    job->llm = llm;
    job->userdata = userdata;
    job->input_copy = *input;
    if (input->role) job->input_copy.role = job->role_copy = strdup(input->role);
    if (input->input_type == RKLLM_INPUT_PROMPT && input->prompt_input)
        job->input_copy.prompt_input = job->prompt_copy = strdup(input->prompt_input);
    if (input->input_type == RKLLM_INPUT_TOKEN && input->token_input.input_ids) {
        size_t bytes = input->token_input.n_tokens * sizeof(int32_t);
        job->tokens_copy = malloc(bytes ? bytes : 1);
        memcpy(job->tokens_copy, input->token_input.input_ids, bytes);
        job->input_copy.token_input.input_ids = job->tokens_copy;
    }
    job->input = &job->input_copy;
    RKLLMParam *param = &llm->param;
    job->max_new_tokens = param->max_new_tokens > 0 ? param->max_new_tokens : 1 << 30;
    job->temperature = param->temperature;
    job->top_p = param->top_p;
    job->top_k = param->top_k;
    job->repeat_penalty = param->repeat_penalty;
    job->frequency_penalty = param->frequency_penalty;
    job->presence_penalty = param->presence_penalty;
    if (infer) {
        job->infer = *infer;
        job->has_infer = 1;
        if (infer->prompt_cache_params && infer->prompt_cache_params->save_prompt_cache &&
            infer->prompt_cache_params->prompt_cache_path)
            job->cache_path = strdup(infer->prompt_cache_params->prompt_cache_path);
#if RKLLM_ABI == 13
        if (infer->sampling_params) {
            const RKLLMSamplingParam *s = infer->sampling_params;
            job->temperature = s->temperature;
            job->top_p = s->top_p;
            job->top_k = s->top_k;
            job->repeat_penalty = s->repeat_penalty;
            job->frequency_penalty = s->frequency_penalty;
            job->presence_penalty = s->presence_penalty;
        }
        if (infer->max_new_tokens > 0) job->max_new_tokens = infer->max_new_tokens;
#endif
    }
    return job;
}

static int check_run(EmulatedLLM *llm, RKLLMInput *input, RKLLMInferParam *infer) {
    if (!llm || !input) { fail("null handle or input"); return -1; }
    if (infer && (infer->mode < 0 || infer->mode > 2)) { fail("invalid infer mode"); return -1; }
    if (infer && infer->keep_history != 0 && infer->keep_history != 1) { fail("invalid keep_history"); return -1; }
    if (infer && infer->lora_params) { fail("LoRA adapters need the NPU runtime"); return -1; }
    return 0;
}

static void *async_run(void *arg) {
    RunJob *job = arg;
    EmulatedLLM *llm = job->llm;
    pthread_t thread;
    pthread_create(&thread, NULL, run_thread, job);
    pthread_join(thread, NULL);
    atomic_store(&llm->running, 0);
    pthread_mutex_unlock(&llm->lock);
    free_job(job);
    return NULL;
}

int rkllm_run(LLMHandle handle, RKLLMInput *input, RKLLMInferParam *infer, void *userdata) {
    EmulatedLLM *llm = handle;
    if (check_run(llm, input, infer) != 0) return -1;
    pthread_mutex_lock(&llm->lock);
    if (llm->async_joinable) {
        pthread_join(llm->async_thread, NULL);
        llm->async_joinable = 0;
    }
    atomic_store(&llm->abort_requested, 0);
    atomic_store(&llm->running, 1);
    RunJob *job = make_job(llm, input, infer, userdata);
    pthread_t thread;
    pthread_create(&thread, NULL, run_thread, job); /* callbacks come from this thread */
    pthread_join(thread, NULL);
    int status = job->status;
    free_job(job);
    atomic_store(&llm->running, 0);
    pthread_mutex_unlock(&llm->lock);
    return status;
}

int rkllm_run_async(LLMHandle handle, RKLLMInput *input, RKLLMInferParam *infer, void *userdata) {
    EmulatedLLM *llm = handle;
    if (!llm || !llm->param.is_async) { fail("rkllm_run_async needs is_async"); return -1; }
    if (check_run(llm, input, infer) != 0) return -1;
    pthread_mutex_lock(&llm->lock); /* released by the run when it ends */
    if (llm->async_joinable) pthread_join(llm->async_thread, NULL);
    atomic_store(&llm->abort_requested, 0);
    atomic_store(&llm->running, 1);
    RunJob *job = make_job(llm, input, infer, userdata);
    pthread_create(&llm->async_thread, NULL, async_run, job);
    llm->async_joinable = 1;
    return 0;
}

int rkllm_abort(LLMHandle handle) {
    EmulatedLLM *llm = handle;
    if (!llm) return -1;
    atomic_store(&llm->abort_requested, 1);
    return 0;
}

int rkllm_is_running(LLMHandle handle) {
    EmulatedLLM *llm = handle;
    return llm ? atomic_load(&llm->running) : 0;
}

int rkllm_load_prompt_cache(LLMHandle handle, const char *path) {
    EmulatedLLM *llm = handle;
    if (!llm || !path) return -1;
    if (access(path, R_OK) != 0) { fprintf(stderr, "E rkllm: cannot open prompt cache %s\n", path); return -1; }
    pthread_mutex_lock(&llm->lock);
    truncate_kv(llm, 0);
    size_t count = 0;
    size_t read = llama_state_seq_load_file(llm->ctx, path, 0, llm->kv, (size_t)llm->cap_kv, &count);
    int status = 0;
    if (read == 0) {
        fail("invalid prompt cache file");
        llama_memory_clear(llama_get_memory(llm->ctx), true);
        llm->n_kv = 0;
        status = -1;
    } else {
        llm->n_kv = (int)count;
        llm->n_system = llm->system_tokens <= llm->n_kv ? llm->system_tokens : 0;
    }
    pthread_mutex_unlock(&llm->lock);
    return status;
}

int rkllm_release_prompt_cache(LLMHandle handle) {
    EmulatedLLM *llm = handle;
    if (!llm) return -1;
    pthread_mutex_lock(&llm->lock);
    truncate_kv(llm, 0);
    llm->n_system = 0;
    pthread_mutex_unlock(&llm->lock);
    return 0;
}

int rkllm_clear_kv_cache(LLMHandle handle, int keep_system_prompt, int *start_pos, int *end_pos) {
    EmulatedLLM *llm = handle;
    if (!llm) return -1;
    if (start_pos || end_pos) { fail("range clears need keep_history=0 while paused"); return -1; }
    pthread_mutex_lock(&llm->lock);
    truncate_kv(llm, keep_system_prompt ? llm->n_system : 0);
    if (!keep_system_prompt) llm->n_system = 0;
    pthread_mutex_unlock(&llm->lock);
    return 0;
}

int rkllm_get_kv_cache_size(LLMHandle handle, int *sizes) {
    EmulatedLLM *llm = handle;
    if (!llm || !sizes) return -1;
    int batches = llm->param.extend_param.n_batch > 0 ? llm->param.extend_param.n_batch : 1;
    for (int i = 0; i < batches; i++) sizes[i] = llm->n_kv;
    return 0;
}

int rkllm_load_lora(LLMHandle handle, RKLLMLoraAdapter *adapter) {
    (void)handle;
    (void)adapter;
    fail("LoRA adapters need the NPU runtime");
    return -1;
}

int rkllm_set_cross_attn_params(LLMHandle handle, RKLLMCrossAttnParam *params) {
    (void)handle;
    (void)params;
    fail("cross attention needs the NPU runtime");
    return -1;
}

int rkllm_destroy(LLMHandle handle) {
    EmulatedLLM *llm = handle;
    if (!llm) return -1;
    if (llm->async_joinable) {
        atomic_store(&llm->abort_requested, 1);
        pthread_join(llm->async_thread, NULL);
    }
    if (atomic_load(&llm->running)) { fail("rkllm_destroy while running"); return -1; }
    llama_free(llm->ctx);
    llama_model_free(llm->model);
    free(llm->model_path); free(llm->system); free(llm->prefix); free(llm->postfix);
    free(llm->tool_response); free(llm->kv);
    pthread_mutex_destroy(&llm->lock);
    free(llm);
    return 0;
}
