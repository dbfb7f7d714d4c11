/* xlora.c — X-LoRA folders (PEFT's XLoraModel) as one mg_model: the LoRA
 * experts plus the classifier that mixes them.
 *
 * Layout (what PEFT's PeftModel.from_pretrained reads; PEFT 0.21.2's own
 * save_pretrained does not write it faithfully, see
 * tests/fixtures/models/README.md):
 *   adapter_config.json        peft_type XLORA, "adapters": {name: path},
 *                              the classifier's shape and options
 *   adapter_model.safetensors  (or .bin) the classifier,
 *                              "...internal_xlora_classifier.layers.<i>.{weight,bias}"
 *   <name>/                    one PEFT LoRA folder per adapter, in the
 *                              order of "adapters" (PEFT names them 0, 1, ...)
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_log.h"

#define CLS_KEY "internal_xlora_classifier.layers."

/* ---- adapter_config.json ------------------------------------------------------ */

static int get_bool(const json_t *cfg, const char *path, const char *key, bool def, bool *out,
                    mg_error *err)
{
    const json_t *v = json_object_get(cfg, key);
    *out = def;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v))
        return mg_error_set(err, MG_EFORMAT, "%s: \"%s\" must be true or false", path, key);
    *out = json_is_true(v);
    return 0;
}

static int get_float(const json_t *cfg, const char *path, const char *key, double def, float *out,
                     mg_error *err)
{
    const json_t *v = json_object_get(cfg, key);
    *out = (float)def;
    if (!v) return 0;
    if (!json_is_number(v))
        return mg_error_set(err, MG_EFORMAT, "%s: \"%s\" must be a number", path, key);
    *out = (float)json_number_value(v);
    return 0;
}

/* An integer in [lo, hi]; absent or null gives def. */
static int get_int(const json_t *cfg, const char *path, const char *key, int def, int lo, int hi,
                   int *out, mg_error *err)
{
    const json_t *v = json_object_get(cfg, key);
    *out = def;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return mg_error_set(err, MG_EFORMAT, "%s: \"%s\" must be an integer in [%d, %d]", path, key,
                            lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

static int parse_config(const json_t *c, const char *path, mg_xlora *x, int *depth, int *size,
                        int *hidden, mg_error *err)
{
    int rc = 0;
    rc = rc < 0 ? rc : get_int(c, path, "xlora_depth", 1, 1, MG_XLORA_MAX_LAYERS, depth, err);
    rc = rc < 0 ? rc : get_int(c, path, "xlora_size", 2048, 1, 1 << 20, size, err);
    rc = rc < 0 ? rc : get_int(c, path, "hidden_size", 4096, 1, 1 << 20, hidden, err);
    rc = rc < 0 ? rc : get_int(c, path, "top_k_lora", 0, 1, 1 << 20, &x->top_k_lora, err);
    rc = rc < 0 ? rc : get_bool(c, path, "layerwise_scalings", false, &x->layerwise_scalings, err);
    rc = rc < 0 ? rc : get_bool(c, path, "enable_softmax", true, &x->enable_softmax, err);
    rc =
        rc < 0 ? rc : get_bool(c, path, "enable_softmax_topk", false, &x->enable_softmax_topk, err);
    rc = rc < 0
             ? rc
             : get_bool(c, path, "use_trainable_adapters", false, &x->use_trainable_adapters, err);
    rc = rc < 0 ? rc : get_float(c, path, "softmax_temperature", 1.0, &x->softmax_temperature, err);
    rc = rc < 0 ? rc : get_float(c, path, "scaling_pass_value", 0.0, &x->scaling_pass_value, err);
    rc = rc < 0 ? rc
                : get_float(c, path, "global_scaling_weight", 1.0, &x->global_scaling_weight, err);
    if (rc < 0) return rc;
    if (!(x->softmax_temperature != 0.0f))
        return mg_error_set(err, MG_EFORMAT, "%s: \"softmax_temperature\" must not be 0", path);
    return 0;
}

/* ---- adapters ----------------------------------------------------------------------- */

/* The folder of adapter `name` with path `val`: <dir>/<name> as PEFT's save
 * writes it, else `val` relative to <dir>, else `val` as given. *out is
 * NULL when there is none. */
static int adapter_dir(const char *dir, const char *name, const char *val, char **out,
                       mg_error *err)
{
    *out = NULL;
    if (mg__dir_in(dir, name))
        *out = mg__join(dir, name);
    else if (val && *val && val[0] != '/' && mg__dir_in(dir, val))
        *out = mg__join(dir, val);
    else if (val && *val && mg__is_dir(val))
        *out = strdup(val);
    else
        return 0;
    return *out ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
}

static int load_experts(mg_model *m, const char *dir, const char *path, const json_t *adapters,
                        mg_error *err)
{
    size_t ne = json_object_size(adapters);
    if (!json_is_object(adapters) || ne == 0)
        return mg_error_set(err, MG_EFORMAT,
                            "%s: \"adapters\" must be a non-empty object {name: folder}", path);
    m->experts = mg__keep(m->storage, calloc(ne, sizeof *m->experts));
    if (!m->experts) return mg_error_set(err, MG_ENOMEM, "out of memory");
    const char *name;
    json_t *val;
    int rc = 0;
    json_object_foreach((json_t *)adapters, name, val)
    {
        const char *v = json_string_value(val);
        char *sub;
        if ((rc = adapter_dir(dir, name, v, &sub, err)) < 0) return rc;
        if (!sub)
            return mg_error_set(err, MG_ENOENT,
                                "%s: adapter \"%s\": no folder %s/%s%s%s (PEFT's layout has one "
                                "LoRA folder per adapter)",
                                path, name, dir, name, v ? " nor " : "", v ? v : "");
        mg__tset ts = {0};
        mg_expert *e = &m->experts[m->n_experts];
        rc = mg__peft_load_expert(m, sub, name, e, &ts, NULL, err);
        m->n_experts++; /* so mg_model_free releases its names */
        mg__tset_free(&ts);
        if (rc == 0 && (e->kind != MG_EXPERT_LORA || e->use_dora))
            rc = mg_error_set(err, MG_EUNSUPPORTED,
                              "%s: adapter \"%s\" is %s; X-LoRA runs plain LoRA experts only (as "
                              "PEFT's XLoraLinearLayer)",
                              path, name, e->use_dora ? "DoRA" : "AdaLoRA");
        free(sub);
        if (rc < 0) return rc;
    }
    return 0;
}

/* PEFT numbers its LoRA modules in module order, counting a module when any
 * adapter targets it. */
static int number_modules(mg_model *m, mg_xlora *x, mg_error *err)
{
    int nm = m->config.n_layers * MG_PROJ_COUNT;
    x->module_index = mg__keep(m->storage, malloc(sizeof(int) * (size_t)(nm ? nm : 1)));
    if (!x->module_index) return mg_error_set(err, MG_ENOMEM, "out of memory");
    x->n_modules = 0;
    for (int i = 0; i < nm; i++) {
        bool any = false;
        for (int e = 0; e < m->n_experts; e++) any |= m->experts[e].modules[i].A.data != NULL;
        x->module_index[i] = any ? x->n_modules++ : -1;
    }
    return 0;
}

/* ---- the classifier ------------------------------------------------------------------- */

/* Index i of "...internal_xlora_classifier.layers.<i>.<part>", or -1. */
static int cls_index(const char *name, const char **part)
{
    const char *k = strstr(name, CLS_KEY);
    if (!k) return -1;
    k += strlen(CLS_KEY);
    int i = 0, nd = 0;
    while (*k >= '0' && *k <= '9' && nd < 4) i = i * 10 + (*k++ - '0'), nd++;
    if (nd == 0 || *k != '.') return -1;
    *part = k + 1;
    return i;
}

static int shape_is(const mg_tensor *t, int ndim, int64_t d0, int64_t d1)
{
    return t->ndim == ndim && t->shape[0] == d0 && (ndim == 1 || t->shape[1] == d1);
}

static int load_classifier(mg_model *m, const char *dir, mg_xlora *x, int depth, int size,
                           mg_error *err)
{
    mg__tset ts = {0};
    int rc = mg__peft_load_weights(m->storage, dir, &ts, err);
    if (rc < 0) goto done;
    /* Sequential indices of the Linear layers (ReLU and Dropout take the
     * others), ascending. */
    int idx[MG_XLORA_MAX_LAYERS], n = 0;
    for (int i = 0; i < ts.n; i++) {
        const mg__tentry *t = &ts.e[i];
        const char *part = NULL;
        int li = cls_index(t->t.name, &part);
        if (li < 0) {
            if (strstr(t->t.name, "internal_xlora_classifier.layers.")) {
                rc = mg_error_set(err, MG_EFORMAT,
                                  "%s: tensor '%s' has no layer index (PEFT 0.21.2's X-LoRA "
                                  "save_pretrained drops it; the classifier cannot be rebuilt)",
                                  t->file, t->t.name);
                goto done;
            }
            mg_warn("%s: ignoring tensor '%s' (not part of the X-LoRA classifier)", t->file,
                    t->t.name);
            continue;
        }
        if (strcmp(part, "weight") != 0 && strcmp(part, "bias") != 0) {
            rc = mg_error_set(err, MG_EFORMAT, "%s: unexpected classifier tensor '%s'", t->file,
                              t->t.name);
            goto done;
        }
        if (!t->supported || !mg__dtype_is_float(t->t.dtype)) {
            rc = mg_error_set(err, MG_EUNSUPPORTED, "%s: tensor '%s' has dtype %s", t->file,
                              t->t.name, t->dtype_name);
            goto done;
        }
        int j = 0;
        while (j < n && idx[j] < li) j++;
        if (j < n && idx[j] == li) continue;
        if (n == MG_XLORA_MAX_LAYERS) {
            rc = mg_error_set(err, MG_EFORMAT, "%s: more classifier layers than xlora_depth %d",
                              t->file, depth);
            goto done;
        }
        memmove(idx + j + 1, idx + j, sizeof(int) * (size_t)(n - j));
        idx[j] = li;
        n++;
    }
    char file[64];
    snprintf(file, sizeof file, "adapter_model%s", ts.n ? "" : " (empty)");
    if (n != depth) {
        rc = mg_error_set(err, MG_EFORMAT,
                          "%s/%s: the classifier has %d linear layer%s; xlora_depth says %d", dir,
                          file, n, n == 1 ? "" : "s", depth);
        goto done;
    }
    int E = m->n_experts, H = m->config.hidden_size;
    int64_t out_last = (int64_t)E * (x->layerwise_scalings ? x->n_modules : 1);
    for (int j = 0; j < n; j++) {
        const mg__tentry *w = NULL, *b = NULL;
        for (int i = 0; i < ts.n; i++) {
            const char *part = NULL;
            if (cls_index(ts.e[i].t.name, &part) != idx[j]) continue;
            if (!strcmp(part, "weight")) w = &ts.e[i];
            if (!strcmp(part, "bias")) b = &ts.e[i];
        }
        const mg__tentry *any = w ? w : b;
        if (!w || !b) {
            rc = mg_error_set(err, MG_EFORMAT, "%s: classifier layer %d has no %s", any->file,
                              idx[j], w ? "bias" : "weight");
            goto done;
        }
        int64_t in = j == 0 ? H : size, out = j == n - 1 ? out_last : size;
        if (!shape_is(&w->t, 2, out, in) || !shape_is(&b->t, 1, out, 0)) {
            rc = mg_error_set(err, MG_ESHAPE,
                              "%s: classifier layer %d is weight %s [%lld, %lld], bias [%lld]; "
                              "expected [%lld, %lld] and [%lld] (hidden %d, xlora_size %d, %d "
                              "experts, %d LoRA modules%s)",
                              w->file, idx[j], w->t.name, (long long)w->t.shape[0],
                              (long long)(w->t.ndim > 1 ? w->t.shape[1] : 0),
                              (long long)b->t.shape[0], (long long)out, (long long)in,
                              (long long)out, H, size, E, x->n_modules,
                              x->layerwise_scalings ? ", layerwise" : "");
            goto done;
        }
        x->w[j] = w->t;
        x->b[j] = b->t;
    }
    x->n_mlp_layers = n;
done:
    mg__tset_free(&ts);
    return rc;
}

/* ---- entry ------------------------------------------------------------------------------ */

int mg__xlora_load(mg_model *m, const mg_model_params *p, const char *dir, const json_t *acfg,
                   mg_error *err)
{
    m->format = MG_FORMAT_XLORA;
    char *path = mg__join(dir, "adapter_config.json");
    mg_xlora *x = calloc(1, sizeof *x);
    int rc = 0, depth = 1, size = 0, hidden = 0;
    if (!path || !x) {
        free(x);
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        goto done;
    }
    m->xlora = x; /* freed by mg_model_free */
    if ((rc = parse_config(acfg, path, x, &depth, &size, &hidden, err)) < 0) goto done;
    mg__tset base_ts = {0};
    rc = mg__base_open(m, p, NULL, acfg, true, &base_ts, err);
    mg__tset_free(&base_ts);
    if (rc < 0) goto done;
    if (hidden != m->config.hidden_size) {
        rc = mg_error_set(err, MG_ESHAPE, "%s: hidden_size %d, but the base model's is %d", path,
                          hidden, m->config.hidden_size);
        goto done;
    }
    if ((rc = load_experts(m, dir, path, json_object_get(acfg, "adapters"), err)) < 0) goto done;
    if (x->top_k_lora > m->n_experts) {
        rc = mg_error_set(err, MG_EFORMAT, "%s: top_k_lora %d exceeds the %d adapters", path,
                          x->top_k_lora, m->n_experts);
        goto done;
    }
    if (x->scaling_pass_value != 0.0f && x->top_k_lora > 0 && x->top_k_lora < m->n_experts)
        mg_warn("%s: the scaling pass gives every adapter %g and top_k_lora keeps %d of them: "
                "PEFT keeps whichever torch.topk returns for the tie, moegen the first %d",
                path, (double)x->scaling_pass_value, x->top_k_lora, x->top_k_lora);
    if ((rc = number_modules(m, x, err)) < 0) goto done;
    rc = load_classifier(m, dir, x, depth, size, err);
done:
    free(path);
    return rc;
}
