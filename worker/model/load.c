/* load.c — mg_model_load: format detection in the reference provider's order,
 * dispatch to the loaders, the optional one-time dtype conversion, and
 * mg_model_free. */
#include "internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_log.h"

const char *mg_proj_name(mg_proj p)
{
    static const char *names[MG_PROJ_COUNT] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                               "gate_proj", "up_proj", "down_proj"};
    return (unsigned)p < MG_PROJ_COUNT ? names[p] : "?";
}

const char *mg_model_format_name(mg_model_format f)
{
    switch (f) {
    case MG_FORMAT_MERGED:
        return "merged";
    case MG_FORMAT_PEFT:
        return "peft";
    case MG_FORMAT_XLORA:
        return "x-lora";
    case MG_FORMAT_DYLORA_BEST:
        return "dylora-moe (best_model)";
    case MG_FORMAT_DYLORA_CHECKPOINT:
        return "dylora-moe (checkpoint)";
    case MG_FORMAT_DYLORA_LEGACY:
        return "dylora-moe (legacy model.safetensors)";
    }
    return "?";
}

mg_model_params mg_model_default_params(void)
{
    mg_model_params p = {0};
    p.dtype = -1;
    return p;
}

void mg_model_free(mg_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_experts; i++) {
        free(m->experts[i].name);
        free(m->experts[i].source);
    }
    free(m->xlora);
    free(m->path);
    free(m->base_path);
    free(m->base_name);
    free(m->tokenizer_path);
    mg__storage_free(m->storage);
    free(m);
}

/* ---- dtype conversion ---------------------------------------------------------- */

typedef struct conv_cache {
    const void *from[64];
    const void *to[64];
    int n;
} conv_cache;

static int convert(mg_model *m, mg_tensor *t, mg_dtype to, conv_cache *cc, mg_error *err)
{
    if (!t->data || t->dtype == to || !mg__dtype_is_float(t->dtype)) return 0;
    for (int i = 0; i < cc->n; i++)
        if (cc->from[i] == t->data) {
            t->data = cc->to[i];
            t->dtype = to;
            return 0;
        }
    size_t n = (size_t)mg_tensor_numel(t);
    void *dst = mg__keep(m->storage, malloc(n ? n * mg__dtype_size(to) : 1));
    if (!dst) return mg_error_set(err, MG_ENOMEM, "converting '%s': out of memory", t->name);
    mg__convert(dst, to, t->data, t->dtype, n);
    mg__storage_drop_range(m->storage, t->data, n * mg__dtype_size(t->dtype));
    /* Tied weights share one buffer; remember the last few so they stay shared. */
    if (cc->n < 64) {
        cc->from[cc->n] = t->data;
        cc->to[cc->n++] = dst;
    }
    t->data = dst;
    t->dtype = to;
    return 0;
}

static int convert_all(mg_model *m, mg_dtype to, mg_error *err)
{
    conv_cache cc = {.n = 0};
    int rc = 0;
    rc |= convert(m, &m->embed, to, &cc, err);
    rc |= convert(m, &m->lm_head, to, &cc, err);
    rc |= convert(m, &m->final_norm, to, &cc, err);
    for (int l = 0; l < m->config.n_layers && rc == 0; l++) {
        mg_layer_weights *L = &m->layers[l];
        rc |= convert(m, &L->attn_norm, to, &cc, err);
        rc |= convert(m, &L->ffn_norm, to, &cc, err);
        for (int p = 0; p < MG_PROJ_COUNT; p++) {
            rc |= convert(m, &L->proj[p], to, &cc, err);
            rc |= convert(m, &L->bias[p], to, &cc, err);
        }
    }
    for (int e = 0; e < m->n_experts && rc == 0; e++)
        for (int i = 0; i < m->config.n_layers * MG_PROJ_COUNT; i++) {
            mg_lora_module *mod = &m->experts[e].modules[i];
            rc |= convert(m, &mod->A, to, &cc, err);
            rc |= convert(m, &mod->B, to, &cc, err);
            rc |= convert(m, &mod->E, to, &cc, err);
            rc |= convert(m, &mod->magnitude, to, &cc, err);
        }
    for (int j = 0; m->xlora && j < m->xlora->n_mlp_layers && rc == 0; j++) {
        rc |= convert(m, &m->xlora->w[j], to, &cc, err);
        rc |= convert(m, &m->xlora->b[j], to, &cc, err);
    }
    if (m->has_router) {
        rc |= convert(m, &m->router.weight, to, &cc, err);
        rc |= convert(m, &m->router.bias, to, &cc, err);
    }
    return rc ? MG_ENOMEM : 0;
}

/* ---- detection ------------------------------------------------------------------- */

static bool is_dylora_config(const json_t *cfg)
{
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    const char *ot = json_string_value(json_object_get(cfg, "_dylora_original_type"));
    return (mt && strcmp(mt, "dylora-moe") == 0) || (ot && strcmp(ot, "dylora-moe") == 0);
}

static bool any_file(const char *dir, const char *const *names)
{
    for (; *names; names++)
        if (mg__file_in(dir, *names)) return true;
    return false;
}

static int load_merged(mg_model *m, const char *dir, json_t *cfg, mg_error *err)
{
    m->format = MG_FORMAT_MERGED;
    char *cp = mg__join(dir, "config.json");
    if (!cp) return mg_error_set(err, MG_ENOMEM, "out of memory");
    int rc = cfg ? mg__config_parse(cfg, cp, &m->config, err)
                 : mg_error_set(err, MG_ENOENT, "%s: not found (a merged model needs it)", cp);
    free(cp);
    if (rc < 0) return rc;
    mg__config_generation(&m->config, dir);
    m->base_path = strdup(dir);
    m->base_name = strdup(dir);
    if (!m->base_path || !m->base_name) return mg_error_set(err, MG_ENOMEM, "out of memory");
    mg__tset ts = {0};
    rc = mg__load_merged_files(m->storage, dir, &ts, err);
    if (rc == 0) rc = mg__load_base(m, &ts, "", false, err);
    mg__tset_free(&ts);
    return rc;
}

static int detect_and_load(mg_model *m, const mg_model_params *p, const char *dir, int depth,
                           mg_error *err)
{
    json_t *cfg = NULL;
    int rc = 0;
    if (mg__file_in(dir, "config.json")) {
        char *cfgp = mg__join(dir, "config.json");
        if (!cfgp) return mg_error_set(err, MG_ENOMEM, "out of memory");
        rc = mg__json_load(cfgp, &cfg, err);
        free(cfgp);
        if (rc < 0) return rc;
    }
    /* 1. dylo_moe_state/ beside the folder (the legacy run layout). */
    char real[PATH_MAX];
    bool parent_state = false;
    if (realpath(dir, real)) {
        char *slash = strrchr(real, '/');
        if (slash && slash != real) {
            *slash = 0;
            parent_state = mg__dir_in(real, "dylo_moe_state");
        }
    }
    static const char *const merged[] = {"model.safetensors", "model.safetensors.index.json",
                                         "pytorch_model.bin", "pytorch_model.bin.index.json", NULL};
    static const char *const adapter[] = {"adapter_config.json", NULL};
    if (parent_state || (cfg && is_dylora_config(cfg))) {
        rc = mg__dylora_load(m, p, dir, cfg, err); /* 1, 2 */
    } else if (any_file(dir, adapter) || mg__peft_has_subadapters(dir)) {
        m->format = MG_FORMAT_PEFT; /* 3 */
        rc = mg__set_tokenizer(m, dir, err);
        if (rc == 0) rc = mg__peft_load(m, p, dir, err);
    } else if (any_file(dir, merged)) {
        rc = mg__set_tokenizer(m, dir, err);
        if (rc == 0) rc = load_merged(m, dir, cfg, err); /* 4 */
    } else if (depth == 0 && mg__dir_in(dir, "best_model")) {
        /* A W&B artifact root (results_full/): the reference provider and
         * benchmark.py use its best_model/ sub-folder. */
        char *sub = mg__join(dir, "best_model");
        if (!sub) {
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        } else {
            mg_info("%s: no model here; using its best_model/ sub-folder", dir);
            free(m->path);
            m->path = sub;
            rc = detect_and_load(m, p, m->path, 1, err);
        }
    } else {
        rc = mg_error_set(err, MG_ENOENT,
                          "%s: no model found (looked for dylo_moe_state/ in the parent folder, "
                          "config.json with model_type \"dylora-moe\", adapter_config.json, "
                          "adapter sub-folders, model.safetensors[.index.json], "
                          "pytorch_model.bin[.index.json], best_model/)",
                          dir);
    }
    json_decref(cfg);
    return rc;
}

int mg_model_load(const mg_model_params *params, mg_model **out, mg_error *err)
{
    *out = NULL;
    /* --adapter-path overrides the model path, as in the reference provider. */
    const char *dir = params->adapter_path ? params->adapter_path : params->path;
    if (!dir || !*dir) return mg_error_set(err, MG_EINVAL, "no model path given");
    if (!mg__is_dir(dir))
        return mg_error_set(err, mg__is_file(dir) ? MG_EINVAL : MG_ENOENT,
                            "%s: %s (--model takes a model folder)", dir,
                            mg__is_file(dir) ? "is a file, not a folder" : "no such folder");
    if (params->dtype != -1 && params->dtype != MG_DTYPE_F32 && params->dtype != MG_DTYPE_F16 &&
        params->dtype != MG_DTYPE_BF16)
        return mg_error_set(err, MG_EINVAL, "dtype %d: only F32, F16 or BF16", params->dtype);
    mg_model *m = calloc(1, sizeof *m);
    if (!m) return mg_error_set(err, MG_ENOMEM, "out of memory");
    m->storage = calloc(1, sizeof *m->storage);
    m->path = strdup(dir);
    int rc;
    if (!m->storage || !m->path) {
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
    } else {
        size_t n = strlen(m->path);
        while (n > 1 && m->path[n - 1] == '/') m->path[--n] = 0;
        rc = detect_and_load(m, params, m->path, 0, err);
    }
    if (rc == 0 && params->dtype >= 0) rc = convert_all(m, (mg_dtype)params->dtype, err);
    if (rc < 0) {
        mg_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
