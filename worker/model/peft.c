/* peft.c — LoRA experts from tensor names: PEFT adapters (LoRA, rsLoRA,
 * rank/alpha patterns, DoRA, AdaLoRA), one folder or several sub-folders as
 * one expert set, and the tensor-name parsing the DyLoRA-MoE layouts share.
 * Which modules an expert adapts is read from the tensor names, not from
 * target_modules (DyLoRA-MoE's configs list junk module names there). */
#include "internal.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <oniguruma.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_log.h"

/* ---- Python-style regex (oniguruma, Python syntax) -------------------------- */

static pthread_once_t onig_once = PTHREAD_ONCE_INIT;
static void init_onig(void)
{
    OnigEncoding enc = ONIG_ENCODING_UTF8;
    onig_initialize(&enc, 1);
}

/* Python's re.match(pattern, s): anchored at the start only. */
static bool re_match(const char *pattern, const char *s)
{
    regex_t *re = NULL;
    OnigErrorInfo einfo;
    pthread_once(&onig_once, init_onig);
    const UChar *pat = (const UChar *)pattern;
    if (onig_new(&re, pat, pat + strlen(pattern), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                 ONIG_SYNTAX_PYTHON, &einfo) != ONIG_NORMAL)
        return false;
    const UChar *str = (const UChar *)s, *end = str + strlen(s);
    int r = onig_match(re, str, end, str, NULL, ONIG_OPTION_NONE);
    onig_free(re);
    return r >= 0; /* re.match: anchored at the start; the pattern's $ anchors the end */
}

int mg__pattern_value(const json_t *patterns, const char *s, const json_t **out, mg_error *err)
{
    *out = NULL;
    if (!json_is_object(patterns)) return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patterns, k, v)
    {
        /* PEFT get_pattern_key: re.match(rf"(.*\.)?({key})$", name). The
         * pattern is built on the stack so memory pressure cannot turn a
         * match into a silent miss. */
        char p[4096];
        int n = snprintf(p, sizeof p, "(.*\\.)?(%s)$", k);
        if (n < 0 || (size_t)n >= sizeof p)
            return mg_error_set(err, MG_EUNSUPPORTED, "pattern key \"%.64s...\" is too long", k);
        if (re_match(p, s)) {
            *out = v;
            return 0;
        }
    }
    return 0;
}

/* ---- tensor names → (layer, proj, part) ---------------------------------------- */

typedef enum part { PART_A, PART_B, PART_E, PART_MAG } part;

/* Parses "<...>.layers.<L>.<self_attn|mlp>.<proj>.<lora_X>[.<adapter>][.weight]".
 * Returns 1 when it is a LoRA tensor of `adapter` (NULL: no adapter infix),
 * 0 when it is not a LoRA tensor or belongs to another adapter, <0 on a LoRA
 * tensor moegen cannot use. */
static int parse_name(const char *name, const char *adapter, int n_layers, int *layer, int *proj,
                      part *pt, const char *file, mg_error *err)
{
    const char *lp = strstr(name, ".lora_");
    if (!lp) return 0;
    const char *kind = lp + 1, *rest = strchr(kind, '.');
    size_t kl = rest ? (size_t)(rest - kind) : strlen(kind);
    if (kl == 6 && strncmp(kind, "lora_A", 6) == 0)
        *pt = PART_A;
    else if (kl == 6 && strncmp(kind, "lora_B", 6) == 0)
        *pt = PART_B;
    else if (kl == 6 && strncmp(kind, "lora_E", 6) == 0)
        *pt = PART_E;
    else if (kl == 21 && strncmp(kind, "lora_magnitude_vector", 21) == 0)
        *pt = PART_MAG;
    else
        return mg_error_set(err, MG_EUNSUPPORTED, "%s: tensor '%s': %.*s is not supported", file,
                            name, (int)kl, kind);
    /* what follows the part: "", ".weight", ".<adapter>", ".<adapter>.weight" */
    char tail[256] = "";
    if (rest) snprintf(tail, sizeof tail, "%s", rest + 1);
    size_t tl = strlen(tail);
    if (strcmp(tail, "weight") == 0)
        tail[0] = 0;
    else if (tl > 7 && strcmp(tail + tl - 7, ".weight") == 0)
        tail[tl - 7] = 0;
    if (adapter) {
        if (strcmp(tail, adapter) != 0) return 0;
    } else if (tail[0]) {
        return mg_error_set(err, MG_EFORMAT,
                            "%s: tensor '%s' carries an adapter name ('%s') where PEFT strips it",
                            file, name, tail);
    }
    /* module path: ...layers.<L>.<blk>.<proj> just before ".lora_" */
    char mod[512];
    size_t ml = (size_t)(lp - name);
    if (ml >= sizeof mod) return mg_error_set(err, MG_EFORMAT, "%s: tensor name too long", file);
    memcpy(mod, name, ml);
    mod[ml] = 0;
    char *dot = strrchr(mod, '.');
    if (!dot) goto unknown;
    *proj = -1;
    for (int p = 0; p < MG_PROJ_COUNT; p++)
        if (strcmp(dot + 1, mg_proj_name(p)) == 0) *proj = p;
    if (*proj < 0) goto unknown;
    *dot = 0;
    char *blk = strrchr(mod, '.');
    if (!blk || strcmp(blk + 1, *proj <= MG_PROJ_O ? "self_attn" : "mlp") != 0) goto unknown;
    *blk = 0;
    char *ls = strrchr(mod, '.');
    if (!ls) goto unknown;
    char *endp;
    long l = strtol(ls + 1, &endp, 10);
    if (endp == ls + 1 || *endp) goto unknown;
    *ls = 0;
    size_t rl = strlen(mod);
    if (rl < 6 || strcmp(mod + rl - 6, "layers") != 0 || (rl > 6 && mod[rl - 7] != '.'))
        goto unknown;
    if (l < 0 || l >= n_layers)
        return mg_error_set(err, MG_ESHAPE,
                            "%s: tensor '%s' is for layer %ld; the base model "
                            "has %d layers",
                            file, name, l, n_layers);
    *layer = (int)l;
    return 1;
unknown:
    return mg_error_set(err, MG_EUNSUPPORTED,
                        "%s: tensor '%s' adapts a module moegen does not run (only the q/k/v/o "
                        "and gate/up/down projections of decoder layers)",
                        file, name);
}

static int shape_err(mg_error *err, const mg__tentry *e, const char *want)
{
    char got[96] = "";
    size_t o = 0;
    for (int i = 0; i < e->t.ndim && o < sizeof got - 24; i++)
        o += (size_t)snprintf(got + o, sizeof got - o, "%s%lld", i ? ", " : "",
                              (long long)e->t.shape[i]);
    return mg_error_set(err, MG_ESHAPE, "%s: tensor '%s' has shape [%s]; %s", e->file, e->t.name,
                        got, want);
}

int mg__expert_fill(mg_model *m, mg_expert *e, const mg__lora_src *src, mg_error *err)
{
    int nl = m->config.n_layers, nm = nl * MG_PROJ_COUNT;
    e->modules = mg__keep(m->storage, calloc((size_t)nm, sizeof *e->modules));
    const mg__tentry **parts = calloc((size_t)nm * 4, sizeof *parts);
    if (!e->modules || !parts) {
        free(parts);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (int i = 0; i < src->ts->n; i++) {
        const mg__tentry *t = &src->ts->e[i];
        int layer = 0, proj = 0;
        part pt = PART_A;
        rc = parse_name(t->t.name, src->adapter, nl, &layer, &proj, &pt, t->file, err);
        if (rc < 0) goto done;
        if (rc == 0) continue;
        rc = 0;
        if (!t->supported || !mg__dtype_is_float(t->t.dtype)) {
            rc = mg_error_set(err, MG_EUNSUPPORTED, "%s: tensor '%s' has dtype %s", t->file,
                              t->t.name, t->dtype_name);
            goto done;
        }
        parts[(layer * MG_PROJ_COUNT + proj) * 4 + pt] = t;
    }
    for (int l = 0; l < nl; l++)
        for (int p = 0; p < MG_PROJ_COUNT; p++) {
            int idx = l * MG_PROJ_COUNT + p;
            const mg__tentry *A = parts[idx * 4 + PART_A], *B = parts[idx * 4 + PART_B],
                             *E = parts[idx * 4 + PART_E], *M = parts[idx * 4 + PART_MAG];
            if (!A && !B && !E && !M) continue;
            const mg__tentry *any = A ? A : B ? B : E ? E : M;
            if (!A || !B) {
                rc = mg_error_set(err, MG_EFORMAT, "%s: layer %d %s has lora_%s but no lora_%s",
                                  any->file, l, mg_proj_name(p), A ? "A" : "B", A ? "B" : "A");
                goto done;
            }
            /* AdaLoRA's budget allocation can prune a module to rank 0: PEFT
             * saves [0, in] / [out, 0] tensors, a zero delta. */
            if (src->adalora && A->t.ndim == 2 && A->t.shape[0] == 0 && B->t.ndim == 2 &&
                B->t.shape[1] == 0)
                continue;
            const mg_tensor *W = &m->layers[l].proj[p];
            int64_t out = W->shape[0], in = W->shape[1];
            char want[160];
            if (A->t.ndim != 2 || A->t.shape[1] != in || A->t.shape[0] < 1) {
                snprintf(want, sizeof want,
                         "the base %s takes %lld inputs, so lora_A must be "
                         "[r, %lld]",
                         mg_proj_name(p), (long long)in, (long long)in);
                rc = shape_err(err, A, want);
                goto done;
            }
            int64_t r = A->t.shape[0];
            if (B->t.ndim != 2 || B->t.shape[0] != out || B->t.shape[1] != r) {
                snprintf(want, sizeof want, "lora_B must be [%lld, %lld] (base %s out × r)",
                         (long long)out, (long long)r, mg_proj_name(p));
                rc = shape_err(err, B, want);
                goto done;
            }
            if (src->adalora != (E != NULL)) {
                rc = mg_error_set(err, MG_EFORMAT, "%s: layer %d %s: lora_E %s", any->file, l,
                                  mg_proj_name(p),
                                  src->adalora ? "missing for AdaLoRA" : "present but not AdaLoRA");
                goto done;
            }
            if (E && !(E->t.ndim == 2 && E->t.shape[0] == r && E->t.shape[1] == 1)) {
                snprintf(want, sizeof want, "lora_E must be [%lld, 1]", (long long)r);
                rc = shape_err(err, E, want);
                goto done;
            }
            if (M && !(M->t.ndim == 1 && M->t.shape[0] == out)) {
                snprintf(want, sizeof want, "lora_magnitude_vector must be [%lld]", (long long)out);
                rc = shape_err(err, M, want);
                goto done;
            }
            if (e->use_dora != (M != NULL)) {
                rc = mg_error_set(err, MG_EFORMAT, "%s: layer %d %s: DoRA magnitude %s", any->file,
                                  l, mg_proj_name(p),
                                  e->use_dora ? "missing (use_dora is true)"
                                              : "present but use_dora is false");
                goto done;
            }
            /* Rank and alpha as PEFT builds the layer: rank_pattern /
             * alpha_pattern keyed on the module's name in the base model. */
            char key[256];
            snprintf(key, sizeof key, "model.layers.%d.%s.%s", l,
                     p <= MG_PROJ_O ? "self_attn" : "mlp", mg_proj_name(p));
            const json_t *cfg = src->adapter_config;
            int r_cfg = src->r;
            double alpha = src->alpha;
            if (cfg && !src->adalora) {
                const json_t *rv, *av;
                if ((rc = mg__pattern_value(json_object_get(cfg, "rank_pattern"), key, &rv, err)) <
                        0 ||
                    (rc = mg__pattern_value(json_object_get(cfg, "alpha_pattern"), key, &av, err)) <
                        0)
                    goto done;
                if (json_is_integer(rv)) r_cfg = (int)json_integer_value(rv);
                if (json_is_number(av)) alpha = json_number_value(av);
            }
            if ((cfg && !src->adalora) || src->require_r) {
                if (r != r_cfg) {
                    snprintf(want, sizeof want, "the adapter config gives %s rank %d", key, r_cfg);
                    rc = shape_err(err, A, want);
                    goto done;
                }
            }
            mg_lora_module *mod = &e->modules[idx];
            mod->A = A->t;
            mod->B = B->t;
            if (E) mod->E = E->t;
            if (M) mod->magnitude = M->t;
            mod->r = (int)r;
            if (src->adalora) {
                /* AdaLoRA: (x @ (A*E)^T @ B^T) * alpha / (ranknum + 1e-5), ranknum = r
                 * as an fp32 tensor; alpha <= 0 means r. */
                double a = alpha > 0 ? alpha : (double)r;
                mod->scaling = (float)(a / (double)((float)r + 1e-5f));
            } else {
                mod->scaling =
                    (float)(src->use_rslora ? alpha / sqrt((double)r) : alpha / (double)r);
            }
        }
done:
    free(parts);
    return rc;
}

/* ---- PEFT adapter folders ------------------------------------------------------------- */

int mg__peft_load_weights(mg_model_storage *s, const char *dir, mg__tset *ts, mg_error *err)
{
    char *st = mg__join(dir, "adapter_model.safetensors");
    char *bin = mg__join(dir, "adapter_model.bin");
    int rc;
    if (!st || !bin)
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
    else if (mg__is_file(st))
        rc = mg__st_load(s, st, ts, err);
    else if (mg__is_file(bin)) {
        mg__pk_arena a = {0};
        rc = mg__pt_load(s, bin, ts, &a, NULL, err);
        mg__pk_free_all(&a);
    } else
        rc = mg_error_set(err, MG_ENOENT,
                          "%s: no adapter weights (adapter_model.safetensors or "
                          "adapter_model.bin)",
                          dir);
    free(st);
    free(bin);
    if (rc == 0) rc = mg__tset_finish(ts, err);
    return rc;
}

int mg__peft_load_expert(mg_model *m, const char *dir, const char *name, mg_expert *e, mg__tset *ts,
                         json_t **cfg_out, mg_error *err)
{
    char *cp = mg__join(dir, "adapter_config.json");
    if (!cp) return mg_error_set(err, MG_ENOMEM, "out of memory");
    json_t *cfg = NULL;
    int rc = mg__json_load(cp, &cfg, err);
    if (rc < 0) goto done;
    const char *type = json_string_value(json_object_get(cfg, "peft_type"));
    if (!type) {
        rc = mg_error_set(err, MG_EFORMAT, "%s: missing \"peft_type\"", cp);
        goto done;
    }
    bool adalora = strcmp(type, "ADALORA") == 0;
    if (!adalora && strcmp(type, "LORA") != 0) {
        rc = mg_error_set(err, MG_EUNSUPPORTED,
                          "%s: peft_type \"%s\" is not supported (LORA, ADALORA)", cp, type);
        goto done;
    }
    const json_t *mts = json_object_get(cfg, "modules_to_save");
    if (json_is_array(mts) && json_array_size(mts) > 0) {
        rc = mg_error_set(err, MG_EUNSUPPORTED,
                          "%s: modules_to_save (%s, ...) is not supported: the adapter replaces "
                          "whole modules",
                          cp, json_string_value(json_array_get(mts, 0)) ?: "?");
        goto done;
    }
    const char *bias = json_string_value(json_object_get(cfg, "bias"));
    if ((bias && strcmp(bias, "none") != 0) || json_is_true(json_object_get(cfg, "lora_bias"))) {
        rc = mg_error_set(err, MG_EUNSUPPORTED,
                          "%s: trained biases (bias \"%s\") are not "
                          "supported",
                          cp, bias ? bias : "lora_bias");
        goto done;
    }
    /* Features that change what the model computes beyond B A x: refused
     * rather than silently run as plain LoRA. */
    static const char *const changes_model[] = {"layer_replication", "alora_invocation_tokens",
                                                "target_parameters"};
    for (size_t i = 0; i < sizeof changes_model / sizeof changes_model[0]; i++) {
        const json_t *v = json_object_get(cfg, changes_model[i]);
        if (v && !json_is_null(v) && !(json_is_array(v) && json_array_size(v) == 0)) {
            rc =
                mg_error_set(err, MG_EUNSUPPORTED, "%s: %s is not supported", cp, changes_model[i]);
            goto done;
        }
    }
    if (json_is_true(json_object_get(cfg, "fan_in_fan_out")))
        mg_warn("%s: fan_in_fan_out is true but the target modules are nn.Linear; PEFT sets it "
                "to false, and so does moegen",
                cp);
    const json_t *r = json_object_get(cfg, "r"), *al = json_object_get(cfg, "lora_alpha");
    e->name = strdup(name);
    e->source = strdup(dir);
    if (!e->name || !e->source) {
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        goto done;
    }
    e->kind = adalora ? MG_EXPERT_ADALORA : MG_EXPERT_LORA;
    e->r = json_is_integer(r) ? (int)json_integer_value(r) : 8;
    if (adalora && json_is_integer(json_object_get(cfg, "init_r")))
        e->r = (int)json_integer_value(json_object_get(cfg, "init_r"));
    e->alpha = json_is_number(al) ? (float)json_number_value(al) : 8.0f;
    e->use_rslora = json_is_true(json_object_get(cfg, "use_rslora"));
    e->use_dora = json_is_true(json_object_get(cfg, "use_dora"));
    if ((rc = mg__peft_load_weights(m->storage, dir, ts, err)) < 0) goto done;
    mg__lora_src src = {.ts = ts,
                        .adapter_config = cfg,
                        .alpha = e->alpha,
                        .r = e->r,
                        .use_rslora = e->use_rslora,
                        .adalora = adalora};
    rc = mg__expert_fill(m, e, &src, err);
done:
    free(cp);
    if (rc == 0 && cfg_out)
        *cfg_out = cfg;
    else
        json_decref(cfg);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Sub-folders of dir holding adapter_config.json, sorted by name. Returns 0
 * or MG_ENOMEM (then *out is NULL). */
static int adapter_subdirs(const char *dir, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    int cap = 0, rc = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char ac[PATH_MAX];
        int len = snprintf(ac, sizeof ac, "%s/%s/adapter_config.json", dir, de->d_name);
        if (len < 0 || (size_t)len >= sizeof ac || !mg__is_file(ac)) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            char **p = realloc(*out, (size_t)cap * sizeof *p);
            if (!p) {
                rc = MG_ENOMEM;
                break;
            }
            *out = p;
        }
        if (!((*out)[*n] = strdup(de->d_name))) {
            rc = MG_ENOMEM;
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc < 0) {
        free_names(*out, *n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    if (*n) qsort(*out, (size_t)*n, sizeof **out, cmp_str);
    return 0;
}

int mg__peft_has_subadapters(const char *dir)
{
    char **names;
    int n;
    if (adapter_subdirs(dir, &names, &n) < 0) return 1; /* let the loader report it */
    free_names(names, n);
    return n;
}

int mg__peft_load(mg_model *m, const mg_model_params *p, const char *dir, mg_error *err)
{
    char **names = NULL;
    int n = 0, rc = 0;
    char *single = mg__join(dir, "adapter_config.json");
    if (!single) return mg_error_set(err, MG_ENOMEM, "out of memory");
    bool one = mg__is_file(single);
    char *first = NULL;
    json_t *acfg = NULL;
    if (!one && adapter_subdirs(dir, &names, &n) < 0) {
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        goto done;
    }
    if (!one && n == 0) {
        rc = mg_error_set(err, MG_ENOENT, "%s: no adapter_config.json", dir);
        goto done;
    }
    /* The base comes from the (first) adapter's config. */
    if (one) {
        first = strdup(single);
    } else {
        char *sub = mg__join(dir, names[0]);
        first = sub ? mg__join(sub, "adapter_config.json") : NULL;
        free(sub);
    }
    if (!first) {
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = mg__json_load(first, &acfg, err)) < 0) goto done;
    const char *type = json_string_value(json_object_get(acfg, "peft_type"));
    if (type && strcmp(type, "XLORA") == 0) {
        if (one)
            rc = mg__xlora_load(m, p, dir, acfg, err);
        else
            rc = mg_error_set(err, MG_EUNSUPPORTED,
                              "%s: an X-LoRA model inside an expert set is not supported (pass "
                              "its folder as --model)",
                              first);
        goto done;
    }
    mg__tset base_ts = {0};
    rc = mg__base_open(m, p, NULL, acfg, true, &base_ts, err);
    mg__tset_free(&base_ts);
    if (rc < 0) goto done;
    int ne = one ? 1 : n;
    m->experts = mg__keep(m->storage, calloc((size_t)ne, sizeof *m->experts));
    if (!m->experts) {
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < ne && rc == 0; i++) {
        char *sub = one ? strdup(dir) : mg__join(dir, names[i]);
        const char *nm = one ? "default" : names[i];
        mg__tset ts = {0};
        rc = sub ? mg__peft_load_expert(m, sub, nm, &m->experts[i], &ts, NULL, err)
                 : mg_error_set(err, MG_ENOMEM, "out of memory");
        m->n_experts = i + 1; /* so mg_model_free releases names */
        mg__tset_free(&ts);
        free(sub);
    }
done:
    json_decref(acfg);
    free(first);
    free(single);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}
