/*
 * A test double for Rockchip's librkllmrt.so, for machines without an NPU.
 *
 * Built twice by the test suite: -DFAKE_ABI=12 (runtime 1.2.x layout) and
 * -DFAKE_ABI=13 (runtime 1.3.x layout). It exports the runtime's functions
 * with the documented struct layouts (checked below with static asserts),
 * reads every parameter at its documented offset, and fails loudly, the way
 * a confused runtime would, when a value it receives is off. Behaviour that
 * matters to a caller is reproduced: the callback runs on the runtime's own
 * thread one token at a time, a multi-byte character is split across a
 * WAITING callback, perf is filled only on FINISH, abort is honoured, prompt
 * caches are written and read, the runtime reuses a matching KV prefix, tool
 * calls come back as <tool_call> blocks, and a too long prompt is an error.
 *
 * The "model" is a text file: the line RKLLM-FAKE-MODEL, then key=value
 * lines (max_context_limit=N). Its answers are deterministic text.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FAKE_ABI
#error "build with -DFAKE_ABI=12 or -DFAKE_ABI=13"
#endif
#ifndef FAKE_VERSION
#if FAKE_ABI == 12
#define FAKE_VERSION "1.2.3"
#else
#define FAKE_VERSION "1.3.0"
#endif
#endif

/* The banner the real runtime prints at init; it also carries the version in the file. */
static const char version_banner[] =
    "I rkllm: rkllm-runtime version: " FAKE_VERSION ", rknpu driver version: 0.9.8, platform: FAKE";

#define RKLLM_ABI FAKE_ABI
#include "rkllm_abi.h"

#define CACHE_MAGIC "RKLLM-FAKE-PROMPT-CACHE\n"
#define MODEL_MAGIC "RKLLM-FAKE-MODEL\n"
#define BYTES_PER_TOKEN 4

typedef struct {
    RKLLMParam param;
    char *model_path;
    int max_context_limit;
    LLMResultCallback callback;
    void *userdata;
    char *system, *prefix, *postfix; /* chat template */
    char *tools;
    char *kv;            /* text whose state is in the KV cache */
    char *system_text;   /* the part clear_kv_cache(keep_system_prompt=1) keeps */
    atomic_int abort_requested;
    atomic_int running;
    pthread_mutex_t lock; /* one run at a time, like the real runtime */
} FakeLLM;

typedef struct {
    FakeLLM *llm;
    const RKLLMInput *input;
    const RKLLMInferParam *infer;
    void *userdata;
    int max_new_tokens;
    int status;
} RunJob;

static void fail(const char *what) { fprintf(stderr, "E rkllm: %s\n", what); }

static char *dup_or_empty(const char *text) { return strdup(text ? text : ""); }

static int token_count(size_t bytes) { return (int)((bytes + BYTES_PER_TOKEN - 1) / BYTES_PER_TOKEN); }

static long env_long(const char *name, long fallback) {
    const char *value = getenv(name);
    return value && *value ? strtol(value, NULL, 10) : fallback;
}

RKLLMParam rkllm_createDefaultParam(void) {
    RKLLMParam param;
    memset(&param, 0, sizeof(param));
    param.model_path = NULL;
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

static int check_sampling(int32_t top_k, float top_p, float temperature, float repeat_penalty) {
    if (top_k < 0 || top_k > 1000) {
        fprintf(stderr, "E rkllm: invalid top_k %d (an int32 at offset 16; was a float passed?)\n", top_k);
        return -1;
    }
    if (!(top_p > 0.0f && top_p <= 1.0f)) { fail("invalid top_p"); return -1; }
    if (!(temperature >= 0.0f && temperature <= 10.0f)) { fail("invalid temperature"); return -1; }
    if (!(repeat_penalty >= 0.5f && repeat_penalty <= 10.0f)) { fail("invalid repeat_penalty"); return -1; }
    return 0;
}

static int read_model(FakeLLM *llm) {
    FILE *file = fopen(llm->model_path, "rb");
    if (!file) { fprintf(stderr, "E RKNN: failed to open model file %s\n", llm->model_path); return -1; }
    char line[256];
    if (!fgets(line, sizeof(line), file) || strcmp(line, MODEL_MAGIC) != 0) {
        fclose(file);
        fail("invalid rknn llm model magic");
        fprintf(stderr, "E RKNN: load model file error!\n");
        return -1;
    }
    llm->max_context_limit = 4096;
    while (fgets(line, sizeof(line), file)) {
        sscanf(line, "max_context_limit=%d", &llm->max_context_limit);
    }
    fclose(file);
    return 0;
}

static int init_common(LLMHandle *handle, RKLLMParam *param, LLMResultCallback callback, void *userdata) {
    if (!handle || !param) { fail("null handle or param"); return -1; }
    *handle = NULL;
    fprintf(stderr, "%s\n", version_banner);
    if (!callback) { fail("callback is NULL"); return -1; }
    if (!param->model_path) { fail("model_path is NULL"); return -1; }
    if (check_sampling(param->top_k, param->top_p, param->temperature, param->repeat_penalty) != 0) return -1;
    if (param->extend_param.n_batch < 1 || param->extend_param.n_batch > 100) {
        fprintf(stderr, "E rkllm: invalid n_batch %u (start from rkllm_createDefaultParam)\n",
                param->extend_param.n_batch);
        return -1;
    }
    if (param->extend_param.embed_flash != 0 && param->extend_param.embed_flash != 1) { fail("invalid embed_flash"); return -1; }
    if (param->extend_param.enabled_cpus_mask &&
        __builtin_popcount(param->extend_param.enabled_cpus_mask) != param->extend_param.enabled_cpus_num) {
        fail("enabled_cpus_num does not match enabled_cpus_mask");
        return -1;
    }
    for (size_t i = 0; i < sizeof(param->extend_param.reserved); i++) {
        if (param->extend_param.reserved[i]) { fail("extend_param.reserved is not zero"); return -1; }
    }
    if (param->max_new_tokens == 0 || param->max_context_len <= 0) { fail("invalid max_new_tokens or max_context_len"); return -1; }
    {
        /* Bools are single bytes at fixed offsets; anything but 0 or 1 there means a layout slip. */
        const unsigned char *raw = (const unsigned char *)param;
        if (raw[offsetof(RKLLMParam, is_async)] > 1 || raw[offsetof(RKLLMParam, skip_special_token)] > 1) {
            fail("invalid bool in RKLLMParam (wrong struct layout?)");
            return -1;
        }
    }
    FakeLLM *llm = calloc(1, sizeof(FakeLLM));
    llm->param = *param;
    llm->model_path = strdup(param->model_path);
    llm->param.model_path = llm->model_path;
    if (read_model(llm) != 0) { free(llm->model_path); free(llm); return -1; }
    if (param->max_context_len > llm->max_context_limit) {
        fprintf(stderr, "E rkllm: max_context[%d] must be less than the model's max_context_limit[%d]\n",
                param->max_context_len, llm->max_context_limit);
        free(llm->model_path);
        free(llm);
        return -1;
    }
    if (param->n_keep >= param->max_context_len) { fail("n_keep must be less than max_context_len"); free(llm->model_path); free(llm); return -1; }
    llm->callback = callback;
    llm->userdata = userdata;
    llm->system = strdup("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n");
    llm->prefix = strdup("<|im_start|>user\n");
    llm->postfix = strdup("<|im_end|>\n<|im_start|>assistant\n");
    llm->tools = NULL;
    llm->kv = strdup("");
    llm->system_text = strdup("");
    pthread_mutex_init(&llm->lock, NULL);
    *handle = llm;
    return 0;
}

#if FAKE_ABI == 12
int rkllm_init(LLMHandle *handle, RKLLMParam *param, LLMResultCallback callback) {
    return init_common(handle, param, callback, NULL);
}
#else
int rkllm_init(LLMHandle *handle, RKLLMParam *param, RKLLMCallback *callback) {
    if (!callback) { fail("callback struct is NULL"); return -1; }
    return init_common(handle, param, callback->result_callback, callback->result_userdata);
}
#endif

static void replace(char **slot, const char *value) { free(*slot); *slot = dup_or_empty(value); }

int rkllm_set_chat_template(LLMHandle handle, const char *system, const char *prefix, const char *postfix) {
    FakeLLM *llm = handle;
    if (!llm) return -1;
    pthread_mutex_lock(&llm->lock);
    replace(&llm->system, system);
    replace(&llm->prefix, prefix);
    replace(&llm->postfix, postfix);
    pthread_mutex_unlock(&llm->lock);
    return 0;
}

int rkllm_set_function_tools(LLMHandle handle, const char *system_prompt, const char *tools, const char *tool_response_str) {
    FakeLLM *llm = handle;
    (void)tool_response_str;
    if (!llm || !tools || tools[0] != '[') { fail("tools must be a JSON array"); return -1; }
    pthread_mutex_lock(&llm->lock);
    free(llm->system);
    size_t size = strlen(system_prompt ? system_prompt : "") + strlen(tools) + 64;
    llm->system = malloc(size);
    snprintf(llm->system, size, "<|im_start|>system\n%s\n<tools>%s</tools><|im_end|>\n",
             system_prompt ? system_prompt : "", tools);
    replace(&llm->tools, tools);
    pthread_mutex_unlock(&llm->lock);
    return 0;
}

static size_t common_prefix(const char *a, const char *b) {
    size_t n = 0;
    while (a[n] && a[n] == b[n]) n++;
    return n;
}

/* Tools reach a model through set_function_tools, or listed in its system prompt. */
static bool offers_tools(FakeLLM *llm) {
    return llm->tools || (llm->system && strstr(llm->system, "HassTurnOn"));
}

/* The answer the fake "model" writes for a prompt. */
static char *compose_answer(FakeLLM *llm, const char *role, const char *prompt) {
    const char *user = prompt;
    const char *marker = strstr(prompt, "<|im_start|>user\n");
    while (marker) { user = marker + strlen("<|im_start|>user\n"); marker = strstr(user, "<|im_start|>user\n"); }
    /* Tool results rendered as a message of the conversation read like a role="tool" run. */
    const char *tool = strstr(user, "<|im_start|>tool\n");
    if (tool) { user = tool + strlen("<|im_start|>tool\n"); role = "tool"; }
    char *text = strdup(user);
    char *end = strstr(text, "<|im_end|>");
    if (end) *end = '\0';
    size_t size = strlen(text) + 512;
    char *answer = malloc(size);
    char lower[512];
    size_t i;
    for (i = 0; text[i] && i < sizeof(lower) - 1; i++) lower[i] = (char)tolower((unsigned char)text[i]);
    lower[i] = '\0';
    if (role && strcmp(role, "tool") == 0) {
        /* Read the results out in words, as a model would: no brackets to speak. */
        for (char *c = text; *c; c++) if (strchr("{}[]\"", *c)) *c = ' ';
        snprintf(answer, size, "Done, the tool said %s.", text);
    } else if (offers_tools(llm) && (strstr(lower, "turn on") || strstr(lower, "turn off"))) {
        bool on = strstr(lower, "turn on") != NULL;
        const char *name = on ? strstr(lower, "turn on") + 7 : strstr(lower, "turn off") + 8;
        while (*name == ' ') name++;
        if (strncmp(name, "the ", 4) == 0) name += 4;
        char target[200];
        snprintf(target, sizeof(target), "%s", name);
        size_t len = strlen(target);
        while (len && strchr(".?! ", target[len - 1])) target[--len] = '\0';
        /* "X and Y": one call per device, as Qwen writes them. */
        size_t used = 0;
        char *item = target;
        while (item) {
            char *next = strstr(item, " and ");
            if (next) { *next = '\0'; next += 5; if (strncmp(next, "the ", 4) == 0) next += 4; }
            used += (size_t)snprintf(answer + used, size - used,
                                     "%s<tool_call>\n{\"name\": \"%s\", \"arguments\": {\"name\": \"%s\"}}\n</tool_call>",
                                     used ? "\n" : "", on ? "HassTurnOn" : "HassTurnOff", item);
            item = next;
        }
    } else if (offers_tools(llm) && strncmp(lower, "pause ", 6) == 0) {
        /* "pause the music" as the 0.5B Qwen writes it: whatever follows is the name. */
        char target[200];
        snprintf(target, sizeof(target), "%s", lower + 6 + (strncmp(lower + 6, "the ", 4) == 0 ? 4 : 0));
        size_t len = strlen(target);
        while (len && strchr(".?! ", target[len - 1])) target[--len] = '\0';
        snprintf(answer, size, "<tool_call>\n{\"name\": \"HassMediaPause\", \"arguments\": {\"name\": \"%s\"}}\n</tool_call>", target);
    } else if (strstr(lower, "fail midway")) {
        /* A runtime fault after a few tokens: see run_thread. */
        snprintf(answer, size, "Sure, I will. Then the runtime breaks down here.");
    } else if (strstr(lower, "long story")) {
        free(answer);
        size = 64 * 48;
        answer = malloc(size);
        size_t used = (size_t)snprintf(answer, size, "Once upon a time,");
        for (int n = 1; n <= 60; n++) used += (size_t)snprintf(answer + used, size - used, " the dragon baked loaf number %d.", n);
    } else {
        snprintf(answer, size, "You said: %s. It is 21°C inside, naïve café.", text);
    }
    free(text);
    return answer;
}

static int emit(FakeLLM *llm, void *userdata, const char *text, size_t length, LLMCallState state, int32_t token_id) {
    char piece[64];
    if (length >= sizeof(piece)) length = sizeof(piece) - 1;
    memcpy(piece, text, length);
    piece[length] = '\0';
    RKLLMResult result;
    memset(&result, 0, sizeof(result)); /* perf stays zero: it is valid only on FINISH */
    result.text = piece;
    result.token_id = token_id;
    int rc = llm->callback(&result, userdata, state);
    if (rc < 0 || rc > 2) {
        fprintf(stderr, "E rkllm: callback returned %d; it must return 0, 1 or 2 (declared void?)\n", rc);
        atomic_store(&llm->abort_requested, 1);
    }
    return rc;
}

static void *run_thread(void *arg) {
    RunJob *job = arg;
    FakeLLM *llm = job->llm;
    const RKLLMInput *input = job->input;
    const char *role = input->role ? input->role : "user";
    if (strcmp(role, "user") != 0 && strcmp(role, "tool") != 0) {
        fail("role must be \"user\" or \"tool\"");
        job->status = -1;
        return NULL;
    }
    if (input->input_type != RKLLM_INPUT_PROMPT) {
        fail("the fake runtime only takes PROMPT input");
        job->status = -1;
        return NULL;
    }
    const char *prompt = input->prompt_input ? input->prompt_input : "";
    size_t full_size = strlen(llm->system) + strlen(llm->prefix) + strlen(prompt) + strlen(llm->postfix) + 1;
    char *full = malloc(full_size);
    int keep_history = job->infer ? job->infer->keep_history : 0;
    if (keep_history && llm->kv[0]) {
        snprintf(full, full_size, "%s%s%s", llm->prefix, prompt, llm->postfix);
        char *joined = malloc(strlen(llm->kv) + strlen(full) + 1);
        strcpy(joined, llm->kv);
        strcat(joined, full);
        free(full);
        full = joined;
    } else {
        snprintf(full, full_size, "%s%s%s%s", llm->system, llm->prefix, prompt, llm->postfix);
    }
    int total_tokens = token_count(strlen(full));
    size_t reused_bytes = common_prefix(llm->kv, full);
    int reused_tokens = (int)(reused_bytes / BYTES_PER_TOKEN);
    int prefill_tokens = total_tokens - reused_tokens;
    RKLLMResult result;
    if (total_tokens + 1 > llm->param.max_context_len) {
        fprintf(stderr, "E rkllm: the prompt is %d tokens, more than max_context_len %d\n", total_tokens,
                llm->param.max_context_len);
        memset(&result, 0, sizeof(result));
        llm->callback(&result, job->userdata, RKLLM_RUN_ERROR);
        free(full);
        job->status = -1;
        return NULL;
    }
    long prefill_us = env_long("FAKE_RKLLM_PREFILL_US_PER_TOKEN", 200);
    for (int t = 0; t < prefill_tokens && !atomic_load(&llm->abort_requested); t++) usleep((useconds_t)prefill_us);
    free(llm->kv);
    llm->kv = strdup(full);
    if (llm->system_text[0] == '\0') replace(&llm->system_text, llm->system);
    if (job->infer && job->infer->prompt_cache_params && job->infer->prompt_cache_params->save_prompt_cache) {
        const char *path = job->infer->prompt_cache_params->prompt_cache_path;
        FILE *file = path ? fopen(path, "wb") : NULL;
        if (!file) {
            fail("cannot write the prompt cache file");
        } else {
            fputs(CACHE_MAGIC, file);
            fputs(full, file);
            fclose(file);
        }
    }
    /* The model reads its whole context; a tool result is answered from the result itself. */
    char *answer = compose_answer(llm, role, strcmp(role, "tool") == 0 ? prompt : full);
    long token_us = env_long("FAKE_RKLLM_TOKEN_US", 2000);
    int generated = 0;
    size_t at = 0, length = strlen(answer);
    int fail_after = strstr(answer, "the runtime breaks down") ? 4 : -1;
    while (at < length && generated < job->max_new_tokens && !atomic_load(&llm->abort_requested)) {
        if (generated == fail_after) {
            fail("NPU job timed out");
            memset(&result, 0, sizeof(result));
            llm->callback(&result, job->userdata, RKLLM_RUN_ERROR);
            free(answer);
            free(full);
            job->status = -1;
            return NULL;
        }
        /* A token is a word with its leading space, or a markup piece. */
        size_t end = at + 1;
        while (end < length && answer[end] != ' ' && answer[end] != '\n' && end - at < 12) end++;
        /* Split a multi-byte character: its first byte goes out WAITING. */
        size_t split = 0;
        for (size_t k = at; k < end; k++) {
            if (((unsigned char)answer[k] & 0xC0) == 0xC0) { split = k + 1; break; }
        }
        if (split) {
            emit(llm, job->userdata, answer + at, split - at, RKLLM_RUN_WAITING, 1000 + generated);
            usleep((useconds_t)token_us);
            at = split;
            while (end < length && ((unsigned char)answer[end] & 0xC0) == 0x80) end++;
        }
        emit(llm, job->userdata, answer + at, end - at, RKLLM_RUN_NORMAL, 1000 + generated);
        generated++;
        at = end;
        usleep((useconds_t)token_us);
    }
    memset(&result, 0, sizeof(result));
    result.token_id = -1;
    result.perf.prefill_time_ms = (float)prefill_tokens * (float)prefill_us / 1000.0f;
    result.perf.prefill_tokens = prefill_tokens;
    result.perf.generate_time_ms = (float)generated * (float)token_us / 1000.0f;
    result.perf.generate_tokens = generated;
    result.perf.memory_usage_mb = 321.5f;
    llm->callback(&result, job->userdata, RKLLM_RUN_FINISH);
    free(answer);
    free(full);
    job->status = 0;
    return NULL;
}

static int run_common(LLMHandle handle, RKLLMInput *input, RKLLMInferParam *infer, void *userdata) {
    FakeLLM *llm = handle;
    if (!llm || !input) { fail("null handle or input"); return -1; }
    if (infer && (infer->mode < 0 || infer->mode > 2)) { fail("invalid infer mode"); return -1; }
    if (infer && infer->keep_history != 0 && infer->keep_history != 1) { fail("invalid keep_history"); return -1; }
    int max_new = llm->param.max_new_tokens > 0 ? llm->param.max_new_tokens : 1 << 30;
#if FAKE_ABI == 13
    if (infer && infer->sampling_params) {
        RKLLMSamplingParam *s = infer->sampling_params;
        if (check_sampling(s->top_k, s->top_p, s->temperature, s->repeat_penalty) != 0) return -1;
    }
    if (infer && infer->max_new_tokens > 0) max_new = infer->max_new_tokens;
#endif
    pthread_mutex_lock(&llm->lock);
    atomic_store(&llm->abort_requested, 0);
    atomic_store(&llm->running, 1);
    RunJob job = {llm, input, infer, userdata, max_new, 0};
    pthread_t thread;
    pthread_create(&thread, NULL, run_thread, &job); /* callbacks come from this thread */
    pthread_join(thread, NULL);
    atomic_store(&llm->running, 0);
    pthread_mutex_unlock(&llm->lock);
    return job.status;
}

int rkllm_run(LLMHandle handle, RKLLMInput *input, RKLLMInferParam *infer, void *userdata) {
    return run_common(handle, input, infer, userdata);
}

int rkllm_run_async(LLMHandle handle, RKLLMInput *input, RKLLMInferParam *infer, void *userdata) {
    FakeLLM *llm = handle;
    if (!llm || !llm->param.is_async) { fail("rkllm_run_async needs is_async"); return -1; }
    return run_common(handle, input, infer, userdata);
}

int rkllm_abort(LLMHandle handle) {
    FakeLLM *llm = handle;
    if (!llm) return -1;
    atomic_store(&llm->abort_requested, 1);
    return 0;
}

int rkllm_is_running(LLMHandle handle) {
    FakeLLM *llm = handle;
    return llm ? atomic_load(&llm->running) : 0;
}

int rkllm_load_prompt_cache(LLMHandle handle, const char *path) {
    FakeLLM *llm = handle;
    if (!llm || !path) return -1;
    FILE *file = fopen(path, "rb");
    if (!file) { fprintf(stderr, "E rkllm: cannot open prompt cache %s\n", path); return -1; }
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *data = calloc(1, (size_t)size + 1);
    size_t got = fread(data, 1, (size_t)size, file);
    fclose(file);
    size_t magic = strlen(CACHE_MAGIC);
    if (got < magic || memcmp(data, CACHE_MAGIC, magic) != 0) {
        fail("invalid prompt cache file");
        free(data);
        return -1;
    }
    pthread_mutex_lock(&llm->lock);
    replace(&llm->kv, data + magic);
    pthread_mutex_unlock(&llm->lock);
    free(data);
    return 0;
}

int rkllm_release_prompt_cache(LLMHandle handle) {
    FakeLLM *llm = handle;
    if (!llm) return -1;
    pthread_mutex_lock(&llm->lock);
    replace(&llm->kv, "");
    pthread_mutex_unlock(&llm->lock);
    return 0;
}

int rkllm_clear_kv_cache(LLMHandle handle, int keep_system_prompt, int *start_pos, int *end_pos) {
    FakeLLM *llm = handle;
    if (!llm) return -1;
    if (start_pos || end_pos) { fail("range clears need keep_history=0 while paused"); return -1; }
    pthread_mutex_lock(&llm->lock);
    replace(&llm->kv, keep_system_prompt ? llm->system_text : "");
    pthread_mutex_unlock(&llm->lock);
    return 0;
}

int rkllm_get_kv_cache_size(LLMHandle handle, int *sizes) {
    FakeLLM *llm = handle;
    if (!llm || !sizes) return -1;
    for (int i = 0; i < llm->param.extend_param.n_batch; i++) sizes[i] = token_count(strlen(llm->kv));
    return 0;
}

int rkllm_load_lora(LLMHandle handle, RKLLMLoraAdapter *adapter) {
    if (!handle || !adapter || !adapter->lora_adapter_path) return -1;
    return access(adapter->lora_adapter_path, R_OK) == 0 ? 0 : -1;
}

int rkllm_set_cross_attn_params(LLMHandle handle, RKLLMCrossAttnParam *params) {
    return handle && params ? 0 : -1;
}

int rkllm_destroy(LLMHandle handle) {
    FakeLLM *llm = handle;
    if (!llm) return -1;
    if (atomic_load(&llm->running)) { fail("rkllm_destroy while running"); return -1; }
    free(llm->model_path); free(llm->system); free(llm->prefix); free(llm->postfix);
    free(llm->tools); free(llm->kv); free(llm->system_text);
    pthread_mutex_destroy(&llm->lock);
    free(llm);
    return 0;
}
