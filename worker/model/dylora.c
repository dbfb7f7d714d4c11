/* dylora.c — the three DyLoRA-MoE layouts its training code writes
 * (../shared/notes/dylora-moe.md §1):
 *   best_model/     peft_adapters/expert_K.pt (torch.save'd dicts, adapter
 *                   name in the keys) + dylo_moe_state/router.pt
 *   checkpoint-N/   peft_adapters/expert_K/expert_K/ PEFT folders +
 *                   router.safetensors
 *   legacy          one model.safetensors with foundation_model.* + router.gate.*
 * r, alpha and the expert count come from config.json the way the reference
 * provider reads them (_dylora_* first, then the plain names, then 16/32/4). */
#include "internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_log.h"

static int cfg_int(const json_t *cfg, const char *a, const char *b, int dflt)
{
    const json_t *v = json_object_get(cfg, a);
    if (!json_is_integer(v)) v = json_object_get(cfg, b);
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

static double cfg_num(const json_t *cfg, const char *a, const char *b, double dflt)
{
    const json_t *v = json_object_get(cfg, a);
    if (!json_is_number(v)) v = json_object_get(cfg, b);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

static char *path3(const char *a, const char *b, const char *c)
{
    char *ab = mg__join(a, b);
    char *abc = ab ? mg__join(ab, c) : NULL;
    free(ab);
    return abc;
}

/* Router tensors: weight [E, H], bias [E]. */
static int set_router(mg_model *m, const mg__tentry *w, const mg__tentry *b, const char *where,
                      mg_error *err)
{
    if (!w || !b)
        return mg_error_set(err, MG_EFORMAT, "%s: router needs a gate weight and bias", where);
    int64_t E = m->n_experts, H = m->config.hidden_size;
    if (!w->supported || !mg__dtype_is_float(w->t.dtype) || !b->supported ||
        !mg__dtype_is_float(b->t.dtype))
        return mg_error_set(err, MG_EUNSUPPORTED, "%s: router tensors must be floating point",
                            where);
    if (w->t.ndim != 2 || w->t.shape[0] != E || w->t.shape[1] != H)
        return mg_error_set(err, MG_ESHAPE,
                            "%s: router weight '%s' must be [%lld, %lld] (experts × hidden)",
                            w->file, w->t.name, (long long)E, (long long)H);
    if (b->t.ndim != 1 || b->t.shape[0] != E)
        return mg_error_set(err, MG_ESHAPE, "%s: router bias '%s' must be [%lld]", b->file,
                            b->t.name, (long long)E);
    m->router.weight = w->t;
    m->router.bias = b->t;
    m->has_router = true;
    /* DynamicHybridRouter's defaults; router.pt overrides them. */
    m->router.top_k = 1;
    m->router.temperature = 2.0f;
    return 0;
}

/* dylo_moe_state/router.pt: {gate_state_dict: {weight, bias}, top_k, temperature, ...} */
static int load_router_pt(mg_model *m, const char *path, mg_error *err)
{
    mg__tset ts = {0};
    mg__pk_arena a = {0};
    mg__pk *root = NULL;
    int rc = mg__pt_load(m->storage, path, &ts, &a, &root, err);
    if (rc == 0) rc = mg__tset_finish(&ts, err);
    if (rc == 0)
        rc = set_router(m, mg__tset_find(&ts, "gate_state_dict.weight"),
                        mg__tset_find(&ts, "gate_state_dict.bias"), path, err);
    if (rc == 0) {
        const mg__pk *k = mg__pk_get(root, "top_k"), *t = mg__pk_get(root, "temperature");
        if (k && k->kind == MG__PK_INT && k->i >= 1 && k->i <= m->n_experts)
            m->router.top_k = (int)k->i;
        if (t && t->kind == MG__PK_FLOAT) m->router.temperature = (float)t->f;
        if (t && t->kind == MG__PK_INT) m->router.temperature = (float)t->i;
    }
    mg__pk_free_all(&a);
    mg__tset_free(&ts);
    return rc;
}

static int expert_names(mg_model *m, int E, mg_error *err)
{
    m->experts = mg__keep(m->storage, calloc((size_t)(E ? E : 1), sizeof *m->experts));
    if (!m->experts) return mg_error_set(err, MG_ENOMEM, "out of memory");
    m->n_experts = E;
    for (int k = 0; k < E; k++) {
        char n[32];
        snprintf(n, sizeof n, "expert_%d", k);
        m->experts[k].name = strdup(n);
        if (!m->experts[k].name) return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    return 0;
}

static int empty_modules(mg_model *m, mg_expert *e, mg_error *err)
{
    e->modules = mg__keep(m->storage,
                          calloc((size_t)m->config.n_layers * MG_PROJ_COUNT, sizeof *e->modules));
    return e->modules ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
}

static int load_best(mg_model *m, const char *dir, const json_t *cfg, int E, int r, double alpha,
                     mg_error *err)
{
    int rc = expert_names(m, E, err);
    for (int k = 0; k < E && rc == 0; k++) {
        mg_expert *e = &m->experts[k];
        char fn[64];
        snprintf(fn, sizeof fn, "expert_%d.pt", k);
        char *p = path3(dir, "peft_adapters", fn);
        if (!p) return mg_error_set(err, MG_ENOMEM, "out of memory");
        e->r = r;
        e->alpha = (float)alpha;
        e->source = p;
        if (!mg__is_file(p)) {
            mg_warn("%s: missing; expert_%d is a zero delta (as the reference loads it)", p, k);
            rc = empty_modules(m, e, err);
            continue;
        }
        mg__tset ts = {0};
        mg__pk_arena a = {0};
        rc = mg__pt_load(m->storage, p, &ts, &a, NULL, err);
        mg__pk_free_all(&a);
        if (rc == 0) rc = mg__tset_finish(&ts, err);
        if (rc == 0 && ts.n == 0)
            mg_warn("%s: empty; expert_%d is a zero delta (as the reference loads it)", p, k);
        mg__lora_src src = {
            .ts = &ts, .adapter = e->name, .alpha = (float)alpha, .r = r, .require_r = true};
        if (rc == 0) rc = mg__expert_fill(m, e, &src, err);
        mg__tset_free(&ts);
    }
    if (rc < 0) return rc;
    char *rp = path3(dir, "dylo_moe_state", "router.pt");
    if (!rp) return mg_error_set(err, MG_ENOMEM, "out of memory");
    if (mg__is_file(rp))
        rc = load_router_pt(m, rp, err);
    else if (E > 1)
        mg_warn("%s: missing; no router (the reference would route with a random one)", rp);
    free(rp);
    (void)cfg;
    return rc;
}

static int load_checkpoint(mg_model *m, const char *dir, int E, mg_error *err)
{
    int rc = expert_names(m, E, err);
    for (int k = 0; k < E && rc == 0; k++) {
        mg_expert *e = &m->experts[k];
        /* PEFT nests a non-default adapter one level deeper: expert_K/expert_K/. */
        char *outer = path3(dir, "peft_adapters", e->name);
        char *inner = outer ? mg__join(outer, e->name) : NULL;
        char *ac = inner ? mg__join(inner, "adapter_config.json") : NULL;
        char *ac2 = outer ? mg__join(outer, "adapter_config.json") : NULL;
        if (!ac || !ac2) {
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        } else if (mg__is_file(ac) || mg__is_file(ac2)) {
            const char *d = mg__is_file(ac) ? inner : outer;
            char *name = e->name;
            e->name = NULL;
            mg__tset ts = {0};
            rc = mg__peft_load_expert(m, d, name, e, &ts, NULL, err);
            free(name);
            mg__tset_free(&ts);
        } else {
            mg_warn("%s: no adapter; %s is a zero delta", inner, e->name);
            e->source = strdup(outer);
            rc = e->source ? empty_modules(m, e, err)
                           : mg_error_set(err, MG_ENOMEM, "out of memory");
        }
        free(outer);
        free(inner);
        free(ac);
        free(ac2);
    }
    if (rc < 0) return rc;
    char *rs = mg__join(dir, "router.safetensors");
    char *rp = path3(dir, "dylo_moe_state", "router.pt");
    if (!rs || !rp) {
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
    } else if (mg__is_file(rs)) {
        mg__tset ts = {0};
        rc = mg__st_load(m->storage, rs, &ts, err);
        if (rc == 0) rc = mg__tset_finish(&ts, err);
        if (rc == 0)
            rc = set_router(m, mg__tset_find(&ts, "gate.weight"), mg__tset_find(&ts, "gate.bias"),
                            rs, err);
        mg__tset_free(&ts);
    } else if (mg__is_file(rp)) {
        rc = load_router_pt(m, rp, err);
    } else if (E > 1) {
        mg_warn("%s: missing; no router (the reference would route with a random one)", rs);
    }
    free(rs);
    free(rp);
    return rc;
}

static int load_legacy(mg_model *m, const mg_model_params *p, const char *dir, json_t *cfg, int E,
                       int r, double alpha, mg_error *err)
{
    /* Configs from Oct 21 on hold the full base config (model_type the base's,
     * or restored from _dylora_original_type): then the file is
     * self-contained. A minimal config only names the base model. */
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    int rc;
    if (json_object_get(cfg, "hidden_size") && mt && strcmp(mt, "dylora-moe") != 0) {
        char *cp = mg__join(dir, "config.json");
        rc = cp ? mg__config_parse(cfg, cp, &m->config, err)
                : mg_error_set(err, MG_ENOMEM, "out of memory");
        free(cp);
        if (rc < 0) return rc;
        mg__config_generation(&m->config, dir);
        const char *bn = p->base_model
                             ? p->base_model
                             : json_string_value(json_object_get(cfg, "base_model_name_or_path"));
        m->base_name = strdup(bn ? bn : "(embedded)");
        m->base_path = strdup(dir);
        if (!m->base_name || !m->base_path) return mg_error_set(err, MG_ENOMEM, "out of memory");
    } else {
        mg__tset none = {0};
        if ((rc = mg__base_open(m, p, cfg, NULL, false, &none, err)) < 0) return rc;
        free(m->base_path);
        m->base_path = strdup(dir); /* the weights come from model.safetensors */
        if (!m->base_path) return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    char *st = mg__join(dir, "model.safetensors");
    mg__tset ts = {0};
    rc = st ? mg__st_load(m->storage, st, &ts, err) : mg_error_set(err, MG_ENOMEM, "oom");
    if (rc == 0) rc = mg__tset_finish(&ts, err);
    if (rc == 0) rc = mg__load_base(m, &ts, "foundation_model.base_model.model.", true, err);
    if (rc == 0) rc = expert_names(m, E, err);
    for (int k = 0; k < E && rc == 0; k++) {
        mg_expert *e = &m->experts[k];
        e->r = r;
        e->alpha = (float)alpha;
        e->source = strdup(st);
        if (!e->source) {
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
            break;
        }
        mg__lora_src src = {
            .ts = &ts, .adapter = e->name, .alpha = (float)alpha, .r = r, .require_r = true};
        rc = mg__expert_fill(m, e, &src, err);
    }
    if (rc == 0) {
        char *rp = path3(dir, "dylo_moe_state", "router.pt");
        if (!rp)
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        else if (mg__is_file(rp))
            rc = load_router_pt(m, rp, err);
        else if (mg__tset_find(&ts, "router.gate.weight"))
            rc = set_router(m, mg__tset_find(&ts, "router.gate.weight"),
                            mg__tset_find(&ts, "router.gate.bias"), st, err);
        else if (E > 1)
            mg_warn("%s: no router.gate.* and no dylo_moe_state/router.pt; no router", st);
        free(rp);
    }
    mg__tset_free(&ts);
    free(st);
    return rc;
}

/* 1 + the highest K of the peft_adapters/expert_K entries. */
static int count_expert_dirs(const char *pa)
{
    DIR *d = opendir(pa);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        int k;
        char tail;
        if (sscanf(de->d_name, "expert_%d%c", &k, &tail) == 1 && k >= 0 && k < 1024 && k + 1 > n)
            n = k + 1;
    }
    if (d) closedir(d);
    return n;
}

int mg__dylora_load(mg_model *m, const mg_model_params *p, const char *dir, json_t *cfg,
                    mg_error *err)
{
    json_t *empty = NULL;
    if (!cfg) cfg = empty = json_object();
    int E = cfg_int(cfg, "_dylora_num_experts", "num_experts", 0);
    int r = cfg_int(cfg, "_dylora_lora_r", "lora_r", 16);
    double alpha = cfg_num(cfg, "_dylora_lora_alpha", "lora_alpha", 32.0);
    int rc = 0;
    char *pa = mg__join(dir, "peft_adapters"), *ms = mg__join(dir, "model.safetensors");
    if (!pa || !ms) {
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        goto done;
    }
    if (E < 0 || E > 1024 || r < 1) {
        rc = mg_error_set(err, MG_EFORMAT, "%s/config.json: bad expert count %d or rank %d", dir, E,
                          r);
        goto done;
    }
    if (mg__is_dir(pa)) {
        /* Which peft_adapters/ flavour: expert_K.pt files or expert_K/ folders. */
        bool files = mg__file_in(pa, "expert_0.pt");
        int nd = count_expert_dirs(pa);
        if (!files && nd > 0) files = !mg__dir_in(pa, "expert_0");
        if (!E) E = files ? 4 : nd;
        if ((rc = mg__set_tokenizer(m, dir, err)) < 0) goto done;
        mg__tset base_ts = {0};
        rc = mg__base_open(m, p, cfg, NULL, true, &base_ts, err);
        mg__tset_free(&base_ts);
        if (rc < 0) goto done;
        if (files) {
            m->format = MG_FORMAT_DYLORA_BEST;
            rc = load_best(m, dir, cfg, E, r, alpha, err);
        } else {
            m->format = MG_FORMAT_DYLORA_CHECKPOINT;
            rc = load_checkpoint(m, dir, E, err);
        }
    } else if (mg__is_file(ms)) {
        m->format = MG_FORMAT_DYLORA_LEGACY;
        if (!E) E = 4;
        if ((rc = mg__set_tokenizer(m, dir, err)) < 0) goto done;
        rc = load_legacy(m, p, dir, cfg, E, r, alpha, err);
    } else {
        rc = mg_error_set(err, MG_ENOENT,
                          "%s: DyLoRA-MoE folder has neither peft_adapters/ (best_model or "
                          "checkpoint layout) nor model.safetensors (legacy layout)",
                          dir);
    }
done:
    free(pa);
    free(ms);
    json_decref(empty);
    return rc;
}
