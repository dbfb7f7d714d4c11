/* cmd_inspect.c — `moegen inspect`: loads a model folder through the model
 * store and prints what it found: format, base model and where it was found,
 * architecture, experts and router. Nothing runs; it is how a user checks
 * that moegen reads their files the way the reference stack does. */
#include "mg_cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "mg_log.h"
#include "mg_model.h"
#include "mg_sources.h"

static const char *dtype_str(mg_dtype t)
{
    static const char *n[] = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"};
    return (unsigned)t < MG_DTYPE_COUNT ? n[t] : "?";
}

static const char *rope_str(mg_rope_type t)
{
    switch (t) {
    case MG_ROPE_LINEAR:
        return "linear";
    case MG_ROPE_DYNAMIC:
        return "dynamic";
    case MG_ROPE_LLAMA3:
        return "llama3";
    default:
        return "default";
    }
}

static json_t *shape_json(const mg_tensor *t)
{
    json_t *a = json_array();
    for (int i = 0; i < t->ndim; i++) json_array_append_new(a, json_integer(t->shape[i]));
    return a;
}

/* Per expert: which projections it adapts, over how many modules, and the
 * range of ranks and scalings (rank_pattern / alpha_pattern make them vary). */
typedef struct expert_summary {
    int n_modules;
    bool proj[MG_PROJ_COUNT];
    int r_min, r_max;
    float s_min, s_max;
    mg_dtype dtype;
} expert_summary;

static expert_summary summarize(const mg_model *m, const mg_expert *e)
{
    expert_summary s = {.r_min = 0, .dtype = MG_DTYPE_F32};
    for (int i = 0; i < m->config.n_layers * MG_PROJ_COUNT; i++) {
        const mg_lora_module *mod = &e->modules[i];
        if (!mod->A.data) continue;
        if (!s.n_modules || mod->r < s.r_min) s.r_min = mod->r;
        if (!s.n_modules || mod->r > s.r_max) s.r_max = mod->r;
        if (!s.n_modules || mod->scaling < s.s_min) s.s_min = mod->scaling;
        if (!s.n_modules || mod->scaling > s.s_max) s.s_max = mod->scaling;
        s.dtype = mod->A.dtype;
        s.proj[i % MG_PROJ_COUNT] = true;
        s.n_modules++;
    }
    return s;
}

/* --tensors: every tensor the model store bound, with the role it plays, so
 * a user can see which stored name became e.g. the lm_head. */
typedef void (*tensor_cb)(const char *role, const mg_tensor *t, void *ud);

static void each_tensor(const mg_model *m, tensor_cb cb, void *ud)
{
    char role[96];
    cb("embed", &m->embed, ud);
    cb("final_norm", &m->final_norm, ud);
    cb("lm_head", &m->lm_head, ud);
    for (int l = 0; l < m->config.n_layers; l++) {
        snprintf(role, sizeof role, "layer %d attn_norm", l);
        cb(role, &m->layers[l].attn_norm, ud);
        snprintf(role, sizeof role, "layer %d ffn_norm", l);
        cb(role, &m->layers[l].ffn_norm, ud);
        for (int p = 0; p < MG_PROJ_COUNT; p++) {
            snprintf(role, sizeof role, "layer %d %s", l, mg_proj_name(p));
            cb(role, &m->layers[l].proj[p], ud);
            snprintf(role, sizeof role, "layer %d %s bias", l, mg_proj_name(p));
            if (m->layers[l].bias[p].data) cb(role, &m->layers[l].bias[p], ud);
        }
    }
    for (int e = 0; e < m->n_experts; e++)
        for (int i = 0; i < m->config.n_layers * MG_PROJ_COUNT; i++) {
            const mg_lora_module *mod = &m->experts[e].modules[i];
            if (!mod->A.data) continue;
            const char *parts[] = {"A", "B", "E", "magnitude"};
            const mg_tensor *ts[] = {&mod->A, &mod->B, &mod->E, &mod->magnitude};
            for (int k = 0; k < 4; k++) {
                if (!ts[k]->data) continue;
                snprintf(role, sizeof role, "%s layer %d %s %s", m->experts[e].name,
                         i / MG_PROJ_COUNT, mg_proj_name(i % MG_PROJ_COUNT), parts[k]);
                cb(role, ts[k], ud);
            }
        }
    if (m->has_router) {
        cb("router weight", &m->router.weight, ud);
        cb("router bias", &m->router.bias, ud);
    }
    for (int i = 0; m->xlora && i < m->xlora->n_mlp_layers; i++) {
        snprintf(role, sizeof role, "xlora classifier %d weight", i);
        cb(role, &m->xlora->w[i], ud);
        snprintf(role, sizeof role, "xlora classifier %d bias", i);
        cb(role, &m->xlora->b[i], ud);
    }
}

/* The X-LoRA classifier, or JSON null: its layers' shapes and PEFT's options. */
static json_t *xlora_json(const mg_model *m)
{
    const mg_xlora *x = m->xlora;
    if (!x) return json_null();
    json_t *layers = json_array();
    for (int i = 0; i < x->n_mlp_layers; i++)
        json_array_append_new(layers, json_pack("{s:o, s:o}", "weight", shape_json(&x->w[i]),
                                                "bias", shape_json(&x->b[i])));
    return json_pack("{s:o, s:i, s:b, s:b, s:b, s:i, s:f, s:f, s:f}", "layers", layers, "modules",
                     x->n_modules, "layerwise_scalings", x->layerwise_scalings, "enable_softmax",
                     x->enable_softmax, "enable_softmax_topk", x->enable_softmax_topk, "top_k_lora",
                     x->top_k_lora, "softmax_temperature", (double)x->softmax_temperature,
                     "scaling_pass_value", (double)x->scaling_pass_value, "global_scaling_weight",
                     (double)x->global_scaling_weight);
}

static void print_xlora(const mg_model *m)
{
    const mg_xlora *x = m->xlora;
    if (!x) return;
    printf("xlora:        classifier");
    for (int i = 0; i < x->n_mlp_layers; i++)
        printf("%s[%lld, %lld]", i ? " -> " : " ", (long long)x->w[i].shape[0],
               (long long)x->w[i].shape[1]);
    printf(" over %d modules, scalings %s, softmax %s (temperature %g)%s, top_k %d%s,\n",
           x->n_modules, x->layerwise_scalings ? "per module" : "global",
           x->enable_softmax ? "on" : "off", (double)x->softmax_temperature,
           x->enable_softmax_topk ? " + over the kept" : "", x->top_k_lora,
           x->top_k_lora ? "" : " (all)");
    printf("              scaling pass value %g, global scaling weight %g\n",
           (double)x->scaling_pass_value, (double)x->global_scaling_weight);
}

static void print_tensor(const char *role, const mg_tensor *t, void *ud)
{
    printf("  %-28s %-5s [", role, dtype_str(t->dtype));
    for (int i = 0; i < t->ndim; i++) printf("%s%lld", i ? ", " : "", (long long)t->shape[i]);
    printf("] %s\n", t->name ? t->name : "");
}

static void json_tensor(const char *role, const mg_tensor *t, void *ud)
{
    json_array_append_new((json_t *)ud,
                          json_pack("{s:s, s:s?, s:s, s:o}", "role", role, "name", t->name, "dtype",
                                    dtype_str(t->dtype), "shape", shape_json(t)));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static json_t *to_json(const mg_model *m, double load_s)
{
    const mg_model_config *c = &m->config;
    json_t *eos = json_array();
    for (int i = 0; i < c->n_eos; i++)
        json_array_append_new(eos, json_integer(c->eos_token_ids[i]));
    json_t *arch = json_pack(
        "{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:{s:s, s:f, s:f, s:f, s:i}, "
        "s:s, s:b, s:b, s:b, s:b, s:i, s:i, s:i, s:o, s:s, s:s}",
        "model_type", c->model_type, "vocab_size", c->vocab_size, "hidden_size", c->hidden_size,
        "intermediate_size", c->intermediate_size, "num_hidden_layers", c->n_layers,
        "num_attention_heads", c->n_heads, "num_key_value_heads", c->n_kv_heads, "head_dim",
        c->head_dim, "max_position_embeddings", c->max_position_embeddings, "rms_norm_eps",
        (double)c->rms_norm_eps, "rope_theta", (double)c->rope_theta, "rope_scaling", "type",
        rope_str(c->rope_scaling.type), "factor", (double)c->rope_scaling.factor, "low_freq_factor",
        (double)c->rope_scaling.low_freq_factor, "high_freq_factor",
        (double)c->rope_scaling.high_freq_factor, "original_max_position_embeddings",
        c->rope_scaling.original_max_position_embeddings, "activation",
        c->act == MG_ACT_SILU ? "silu" : "gelu_pytorch_tanh", "tie_word_embeddings",
        c->tie_word_embeddings, "attention_bias", c->attention_bias, "norm_add_one",
        c->norm_add_one, "scale_embeddings", c->scale_embeddings, "sliding_window",
        c->sliding_window, "bos_token_id", c->bos_token_id, "pad_token_id", c->pad_token_id,
        "eos_token_ids", eos, "torch_dtype", dtype_str(c->torch_dtype), "weights_dtype",
        dtype_str(m->embed.dtype));
    json_t *experts = json_array();
    for (int i = 0; i < m->n_experts; i++) {
        const mg_expert *e = &m->experts[i];
        expert_summary s = summarize(m, e);
        json_t *targets = json_array();
        for (int p = 0; p < MG_PROJ_COUNT; p++)
            if (s.proj[p]) json_array_append_new(targets, json_string(mg_proj_name(p)));
        json_array_append_new(
            experts,
            json_pack("{s:s, s:s, s:i, s:f, s:b, s:b, s:i, s:i, s:f, s:f, s:o, s:i, s:s, s:s*}",
                      "name", e->name, "kind", e->kind == MG_EXPERT_ADALORA ? "adalora" : "lora",
                      "r", e->r, "alpha", (double)e->alpha, "use_rslora", e->use_rslora, "use_dora",
                      e->use_dora, "r_min", s.r_min, "r_max", s.r_max, "scaling_min",
                      (double)s.s_min, "scaling_max", (double)s.s_max, "target_modules", targets,
                      "modules", s.n_modules, "dtype", dtype_str(s.dtype), "source", e->source));
    }
    json_t *router = json_null();
    if (m->has_router)
        router =
            json_pack("{s:o, s:o, s:i, s:f, s:s}", "weight", shape_json(&m->router.weight), "bias",
                      shape_json(&m->router.bias), "top_k", m->router.top_k, "temperature",
                      (double)m->router.temperature, "dtype", dtype_str(m->router.weight.dtype));
    return json_pack("{s:s, s:s, s:s, s:s, s:s*, s:o, s:i, s:o, s:o, s:o, s:f}", "model", m->path,
                     "format", mg_model_format_name(m->format), "base_model", m->base_name,
                     "base_path", m->base_path, "tokenizer", m->tokenizer_path, "architecture",
                     arch, "n_experts", m->n_experts, "experts", experts, "router", router, "xlora",
                     xlora_json(m), "load_seconds", load_s);
}

static void print_text(const mg_model *m, double load_s)
{
    const mg_model_config *c = &m->config;
    printf("model:        %s\n", m->path);
    printf("format:       %s\n", mg_model_format_name(m->format));
    printf("base model:   %s (found at %s)\n", m->base_name, m->base_path);
    printf("tokenizer:    %s\n", m->tokenizer_path ? m->tokenizer_path : "(none)");
    printf("architecture: %s: vocab %d, hidden %d, ffn %d, layers %d, heads %d (kv %d), "
           "head_dim %d, %s\n",
           c->model_type, c->vocab_size, c->hidden_size, c->intermediate_size, c->n_layers,
           c->n_heads, c->n_kv_heads, c->head_dim,
           c->act == MG_ACT_SILU ? "silu" : "gelu_pytorch_tanh");
    printf("              rope %s theta %g", rope_str(c->rope_scaling.type), (double)c->rope_theta);
    if (c->rope_scaling.type != MG_ROPE_DEFAULT)
        printf(" factor %g", (double)c->rope_scaling.factor);
    printf(", rms_norm_eps %g%s%s%s", (double)c->rms_norm_eps,
           c->tie_word_embeddings ? ", tied embeddings" : "",
           c->attention_bias ? ", attention bias" : "", c->norm_add_one ? ", norm (1 + w)" : "");
    if (c->sliding_window) printf(", sliding window %d", c->sliding_window);
    printf("\n              bos %d, pad %d, eos", c->bos_token_id, c->pad_token_id);
    for (int i = 0; i < c->n_eos; i++) printf("%s%d", i ? "," : " ", c->eos_token_ids[i]);
    printf(", weights %s\n", dtype_str(m->embed.dtype));
    printf("experts:      %d\n", m->n_experts);
    for (int i = 0; i < m->n_experts; i++) {
        const mg_expert *e = &m->experts[i];
        expert_summary s = summarize(m, e);
        printf("  %s: %s%s%s r %d alpha %g", e->name,
               e->kind == MG_EXPERT_ADALORA ? "adalora" : "lora", e->use_rslora ? " rslora" : "",
               e->use_dora ? " dora" : "", e->r, (double)e->alpha);
        if (s.n_modules == 0) {
            printf(", no modules (zero delta)\n");
            continue;
        }
        if (s.r_min != s.r_max) printf(" (ranks %d-%d)", s.r_min, s.r_max);
        if (s.s_min == s.s_max)
            printf(", scaling %g", (double)s.s_min);
        else
            printf(", scaling %g-%g", (double)s.s_min, (double)s.s_max);
        printf(", targets");
        const char *sep = " ";
        for (int p = 0; p < MG_PROJ_COUNT; p++)
            if (s.proj[p]) printf("%s%s", sep, mg_proj_name(p)), sep = ",";
        printf(" (%d modules), %s\n", s.n_modules, dtype_str(s.dtype));
        if (e->source) printf("      from %s\n", e->source);
    }
    if (m->has_router)
        printf("router:       gate weight [%lld, %lld] + bias [%lld], top_k %d, temperature %g, "
               "%s\n",
               (long long)m->router.weight.shape[0], (long long)m->router.weight.shape[1],
               (long long)m->router.bias.shape[0], m->router.top_k, (double)m->router.temperature,
               dtype_str(m->router.weight.dtype));
    else
        printf("router:       none\n");
    print_xlora(m);
    printf("loaded in:    %.3f s\n", load_s);
}

static int run(int argc, char **argv)
{
    const char *model = NULL, *base = NULL, *adapter = NULL, *wandb = NULL;
    bool as_json = false, tensors = false;
    const mg_opt opts[] = {
        {"model", MG_OPT_STRING, &model, "PATH",
         "model folder or Hub id ORG/NAME[@REV] (required unless --wandb-artifact)"},
        {"wandb-artifact", MG_OPT_STRING, &wandb, "E/P/N:V",
         "load a W&B artifact (its best_model/ when present) instead of --model"},
        {"base-model", MG_OPT_STRING, &base, "NAME",
         "base model folder or hub name (default: from config.json / adapter_config.json)"},
        {"adapter-path", MG_OPT_STRING, &adapter, "PATH",
         "adapter folder; overrides --model as in the reference provider (default: none)"},
        {"json", MG_OPT_FLAG, &as_json, NULL,
         "print one JSON object instead of text (default: off)"},
        {"tensors", MG_OPT_FLAG, &tensors, NULL,
         "also list every bound tensor: role, dtype, shape, stored name (default: off)"},
        {0}};
    int rc = mg_cli_parse("inspect",
                          "--model PATH [--base-model B] [--adapter-path P] [--json] [--tensors]",
                          opts, argc, argv, NULL);
    if (rc) return rc > 0 ? MG_EXIT_OK : MG_EXIT_USAGE;
    if (!model && !adapter && !wandb) {
        mg_cli_error("inspect", "--model PATH is required");
        return MG_EXIT_USAGE;
    }
    mg_error err = {0};
    char *dir = NULL;
    if ((model || wandb) && mg_source_resolve_model(model, wandb, &dir, &err) < 0) {
        mg_cli_error("inspect", "%s", err.msg);
        return err.code == MG_ENOENT || err.code == MG_EINVAL ? MG_EXIT_USAGE : MG_EXIT_FAIL;
    }
    mg_model_params p = mg_model_default_params();
    p.path = dir;
    p.base_model = base;
    p.adapter_path = adapter;
    p.resolve_base = mg_source_resolve_base_cb;
    mg_model *m = NULL;
    double t0 = now_s();
    rc = mg_model_load(&p, &m, &err);
    double load_s = now_s() - t0;
    free(dir);
    if (rc < 0) {
        mg_cli_error("inspect", "%s", err.msg);
        return rc == MG_ENOMEM || rc == MG_EIO ? MG_EXIT_FAIL : MG_EXIT_USAGE;
    }
    if (as_json) {
        json_t *j = to_json(m, load_s);
        if (j && tensors) {
            json_t *list = json_array();
            each_tensor(m, json_tensor, list);
            json_object_set_new(j, "tensors", list);
        }
        char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(9)) : NULL;
        if (s) printf("%s\n", s);
        free(s);
        json_decref(j);
        if (!s) {
            mg_model_free(m);
            mg_cli_error("inspect", "out of memory");
            return MG_EXIT_FAIL;
        }
    } else {
        print_text(m, load_s);
        if (tensors) {
            printf("tensors:\n");
            each_tensor(m, print_tensor, NULL);
        }
    }
    mg_model_free(m);
    return MG_EXIT_OK;
}

const mg_command mg_cmd_inspect = {"inspect", "show how moegen reads a model folder", run};
