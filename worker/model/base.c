/* base.c — base models: resolving a name to a folder (local path or the
 * Hugging Face cache), reading merged weights (single or sharded,
 * safetensors or torch .bin) and binding them to the decoder layout. */
#include "internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mg_hfpaths.h"
#include "mg_log.h"

/* ---- name → folder -------------------------------------------------------- */

/* The hub cache as huggingface_hub names it (common/mg_hfpaths.h). */
static char *hub_cache_dir(void)
{
    char dir[4096];
    return mg_hf_hub_cache(dir, sizeof dir) ? strdup(dir) : NULL;
}

int mg__resolve_base(const char *name, char **out_dir, mg_error *err)
{
    *out_dir = NULL;
    if (mg__is_dir(name)) {
        *out_dir = strdup(name);
        return *out_dir ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    char *cache = hub_cache_dir();
    char repo[512];
    /* models--ORG--NAME: the hub cache's folder name for repo "ORG/NAME". */
    size_t o = (size_t)snprintf(repo, sizeof repo, "models--");
    for (const char *p = name; *p && o + 3 < sizeof repo; p++) {
        if (*p == '/') {
            repo[o++] = '-';
            repo[o++] = '-';
        } else {
            repo[o++] = *p;
        }
    }
    repo[o] = 0;
    int rc = MG_ENOENT;
    char where[1200];
    snprintf(where, sizeof where, "%s/%s/refs/main", cache ? cache : "(no cache: HOME unset)",
             repo);
    if (cache && strchr(name, '/') && !strstr(name, "..")) {
        char ref_path[1100];
        snprintf(ref_path, sizeof ref_path, "%s/%s/refs/main", cache, repo);
        FILE *f = fopen(ref_path, "r");
        if (f) {
            char rev[128] = {0};
            size_t n = fread(rev, 1, sizeof rev - 1, f);
            fclose(f);
            while (n && (rev[n - 1] == '\n' || rev[n - 1] == '\r' || rev[n - 1] == ' ')) n--;
            rev[n] = 0;
            bool ok = n > 0 && !strchr(rev, '/') && strcmp(rev, "..") != 0;
            char snap[1400];
            snprintf(snap, sizeof snap, "%s/%s/snapshots/%s", cache, repo, rev);
            if (ok && mg__is_dir(snap)) {
                *out_dir = strdup(snap);
                rc = *out_dir ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
                free(cache);
                return rc;
            }
            snprintf(where, sizeof where, "%s (refs/main names a missing snapshot)", snap);
        }
    }
    free(cache);
    return mg_error_set(err, MG_ENOENT,
                        "base model '%s' not found: not a local folder, and no Hugging Face "
                        "cache entry at %s (pass "
                        "--base-model PATH or set HF_HUB_CACHE)",
                        name, where);
}

/* ---- merged weight files ------------------------------------------------------ */

static int load_index(mg_model_storage *s, const char *dir, const char *index_name, bool st,
                      mg__tset *ts, mg_error *err)
{
    char *ip = mg__join(dir, index_name);
    if (!ip) return mg_error_set(err, MG_ENOMEM, "out of memory");
    json_t *idx = NULL;
    int rc = mg__json_load(ip, &idx, err);
    if (rc < 0) goto done;
    const json_t *wm = json_object_get(idx, "weight_map");
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        rc = mg_error_set(err, MG_EFORMAT, "%s: missing or empty \"weight_map\"", ip);
        goto done;
    }
    /* Load each shard once, in first-mention order. */
    json_t *seen = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)wm, k, v)
    {
        const char *fn = json_string_value(v);
        if (!fn || !*fn || strchr(fn, '/') || strcmp(fn, "..") == 0) {
            rc = mg_error_set(err, MG_EFORMAT, "%s: weight_map[\"%s\"] is not a file name", ip, k);
            break;
        }
        if (json_object_get(seen, fn)) continue;
        if (json_object_set_new(seen, fn, json_true()) < 0) {
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
            break;
        }
        char *sp = mg__join(dir, fn);
        if (!sp) {
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
            break;
        }
        if (!mg__is_file(sp)) {
            rc = mg_error_set(err, MG_ENOENT, "%s: shard %s listed in %s is missing", sp, fn,
                              index_name);
            free(sp);
            break;
        }
        if (st) {
            rc = mg__st_load(s, sp, ts, err);
        } else {
            mg__pk_arena a = {0};
            rc = mg__pt_load(s, sp, ts, &a, NULL, err);
            mg__pk_free_all(&a);
        }
        free(sp);
        if (rc < 0) break;
    }
    json_decref(seen);
    if (rc < 0) goto done;
    if ((rc = mg__tset_finish(ts, err)) < 0) goto done;
    /* Every tensor the index names must be in the shard it names. */
    json_object_foreach((json_t *)wm, k, v)
    {
        const mg__tentry *e = mg__tset_find(ts, k);
        const char *fn = json_string_value(v);
        size_t fl = strlen(fn), el = e ? strlen(e->file) : 0;
        if (!e || el < fl || strcmp(e->file + el - fl, fn) != 0) {
            rc = mg_error_set(err, MG_EFORMAT, "%s: tensor '%s' is not in shard %s", ip, k, fn);
            goto done;
        }
    }
done:
    json_decref(idx);
    free(ip);
    return rc;
}

int mg__load_merged_files(mg_model_storage *s, const char *dir, mg__tset *ts, mg_error *err)
{
    static const struct {
        const char *file;
        bool index, st;
    } kinds[] = {{"model.safetensors", false, true},
                 {"model.safetensors.index.json", true, true},
                 {"pytorch_model.bin", false, false},
                 {"pytorch_model.bin.index.json", true, false}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        bool exists = mg__file_in(dir, kinds[i].file);
        char *p = exists ? mg__join(dir, kinds[i].file) : NULL;
        if (exists && !p) return mg_error_set(err, MG_ENOMEM, "out of memory");
        int rc = 0;
        if (exists) {
            if (kinds[i].index)
                rc = load_index(s, dir, kinds[i].file, kinds[i].st, ts, err);
            else if (kinds[i].st)
                rc = mg__st_load(s, p, ts, err);
            else {
                /* .bin state dicts need no pickle values after loading. */
                mg__pk_arena a = {0};
                rc = mg__pt_load(s, p, ts, &a, NULL, err);
                mg__pk_free_all(&a);
            }
            if (rc == 0 && !ts->sorted) rc = mg__tset_finish(ts, err);
        }
        free(p);
        if (exists) return rc;
    }
    return mg_error_set(err, MG_ENOENT,
                        "%s: no model weights (looked for model.safetensors, "
                        "model.safetensors.index.json, pytorch_model.bin, "
                        "pytorch_model.bin.index.json)",
                        dir);
}

/* ---- binding weights to the layout ---------------------------------------------- */

typedef struct binder {
    const mg__tset *ts;
    const char *prefix;
    const char *where;
    mg_error *err;
} binder;

static int check(binder *b, const mg__tentry *e, mg_tensor *out, int ndim, int64_t d0, int64_t d1)
{
    if (!e->supported || !mg__dtype_is_float(e->t.dtype))
        return mg_error_set(b->err, MG_EUNSUPPORTED,
                            "%s: tensor '%s' has dtype %s (F32, F16, "
                            "BF16 or F64 expected)",
                            e->file, e->t.name, e->dtype_name);
    bool ok = e->t.ndim == ndim && e->t.shape[0] == d0 && (ndim < 2 || e->t.shape[1] == d1);
    if (!ok) {
        char got[96] = "";
        size_t o = 0;
        for (int i = 0; i < e->t.ndim && o < sizeof got - 24; i++)
            o += (size_t)snprintf(got + o, sizeof got - o, "%s%lld", i ? ", " : "",
                                  (long long)e->t.shape[i]);
        if (ndim == 1)
            return mg_error_set(b->err, MG_ESHAPE,
                                "%s: tensor '%s' has shape [%s], the config needs [%lld]", e->file,
                                e->t.name, got, (long long)d0);
        return mg_error_set(b->err, MG_ESHAPE,
                            "%s: tensor '%s' has shape [%s], the config needs [%lld, %lld]",
                            e->file, e->t.name, got, (long long)d0, (long long)d1);
    }
    *out = e->t;
    return 0;
}

/* Binds prefix+name (or, for a LoRA-wrapped module, its base_layer). */
static int bind(binder *b, const char *name, const char *wrapped_name, bool optional,
                mg_tensor *out, int ndim, int64_t d0, int64_t d1)
{
    char full[512];
    snprintf(full, sizeof full, "%s%s", b->prefix, name);
    const mg__tentry *e = mg__tset_find(b->ts, full);
    if (!e && wrapped_name) {
        snprintf(full, sizeof full, "%s%s", b->prefix, wrapped_name);
        e = mg__tset_find(b->ts, full);
    }
    if (!e) {
        memset(out, 0, sizeof *out);
        if (optional) return 0;
        snprintf(full, sizeof full, "%s%s", b->prefix, name);
        return mg_error_set(b->err, MG_EFORMAT, "%s: missing tensor '%s'", b->where, full);
    }
    return check(b, e, out, ndim, d0, d1);
}

int mg__load_base(mg_model *m, const mg__tset *ts, const char *prefix, bool wrapped, mg_error *err)
{
    const mg_model_config *c = &m->config;
    binder b = {ts, prefix, ts->n ? ts->e[0].file : m->base_path, err};
    int64_t H = c->hidden_size, V = c->vocab_size, I = c->intermediate_size;
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    int rc;
    if ((rc = bind(&b, "model.embed_tokens.weight", NULL, false, &m->embed, 2, V, H)) < 0 ||
        (rc = bind(&b, "model.norm.weight", NULL, false, &m->final_norm, 1, H, 0)) < 0)
        return rc;
    /* A tied model stores no lm_head; DyLoRA-MoE unties it and saves a clone,
     * which is what its own forward pass uses. */
    if ((rc = bind(&b, "lm_head.weight", NULL, c->tie_word_embeddings, &m->lm_head, 2, V, H)) < 0)
        return rc;
    if (!m->lm_head.data || (c->tie_word_embeddings && !wrapped)) m->lm_head = m->embed;
    m->layers = mg__keep(m->storage, calloc((size_t)c->n_layers, sizeof *m->layers));
    if (!m->layers) return mg_error_set(err, MG_ENOMEM, "out of memory");
    const int64_t out_dim[MG_PROJ_COUNT] = {q, kv, kv, H, I, I, H};
    const int64_t in_dim[MG_PROJ_COUNT] = {H, H, H, q, H, H, I};
    for (int l = 0; l < c->n_layers; l++) {
        mg_layer_weights *L = &m->layers[l];
        char n[256], w[256];
        snprintf(n, sizeof n, "model.layers.%d.input_layernorm.weight", l);
        if ((rc = bind(&b, n, NULL, false, &L->attn_norm, 1, H, 0)) < 0) return rc;
        snprintf(n, sizeof n, "model.layers.%d.post_attention_layernorm.weight", l);
        if ((rc = bind(&b, n, NULL, false, &L->ffn_norm, 1, H, 0)) < 0) return rc;
        for (int p = 0; p < MG_PROJ_COUNT; p++) {
            const char *blk = p <= MG_PROJ_O ? "self_attn" : "mlp";
            snprintf(n, sizeof n, "model.layers.%d.%s.%s.weight", l, blk, mg_proj_name(p));
            snprintf(w, sizeof w, "model.layers.%d.%s.%s.base_layer.weight", l, blk,
                     mg_proj_name(p));
            if ((rc = bind(&b, n, wrapped ? w : NULL, false, &L->proj[p], 2, out_dim[p],
                           in_dim[p])) < 0)
                return rc;
            /* Qwen2 always has q/k/v biases; other archs when attention_bias /
             * mlp_bias say so. Bind whatever bias is stored, then insist on
             * the ones the architecture requires. */
            snprintf(n, sizeof n, "model.layers.%d.%s.%s.bias", l, blk, mg_proj_name(p));
            snprintf(w, sizeof w, "model.layers.%d.%s.%s.base_layer.bias", l, blk, mg_proj_name(p));
            bool required = c->arch == MG_ARCH_QWEN2 && p <= MG_PROJ_V;
            if ((rc = bind(&b, n, wrapped ? w : NULL, !required, &L->bias[p], 1, out_dim[p], 0)) <
                0)
                return rc;
        }
    }
    return 0;
}

/* ---- the base model of an adapter or DyLoRA-MoE folder ------------------------------- */

static bool has_tokenizer(const char *dir)
{
    return mg__file_in(dir, "tokenizer.json");
}

int mg__set_tokenizer(mg_model *m, const char *dir, mg_error *err)
{
    if (m->tokenizer_path || !has_tokenizer(dir)) return 0;
    m->tokenizer_path = strdup(dir);
    return m->tokenizer_path ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
}

int mg__base_open(mg_model *m, const mg_model_params *p, const json_t *model_cfg,
                  const json_t *adapter_cfg, bool want_weights, mg__tset *ts, mg_error *err)
{
    const char *name = p->base_model;
    if (!name) name = json_string_value(json_object_get(model_cfg, "base_model_name_or_path"));
    if (!name) name = json_string_value(json_object_get(adapter_cfg, "base_model_name_or_path"));
    if (!name || !*name) {
        name = "google/codegemma-2b";
        mg_warn("%s: no base model named (--base-model, config.json or adapter_config.json); "
                "using %s as the reference provider does",
                m->path, name);
    }
    m->base_name = strdup(name);
    if (!m->base_name) return mg_error_set(err, MG_ENOMEM, "out of memory");
    char *dir = NULL;
    int rc = mg__resolve_base(name, &dir, err);
    if (rc == MG_ENOENT && name[0] != '/' && !p->base_model) {
        /* moegen extension: a relative name in a config is also tried against
         * the model folder (Python would look only in the working directory). */
        char *rel = mg__dir_in(m->path, name) ? mg__join(m->path, name) : NULL;
        if (mg__dir_in(m->path, name) && !rel) return mg_error_set(err, MG_ENOMEM, "out of memory");
        if (rel) {
            free(dir);
            dir = rel;
            rel = NULL;
            rc = 0;
        }
        free(rel);
    }
    if (rc == MG_ENOENT && p->resolve_base) {
        mg_error inner = {0};
        rc = p->resolve_base(p->resolve_ud, name, &dir, &inner);
        if (rc < 0)
            return mg_error_set(err, rc, "base model '%s' for %s: %s", name, m->path, inner.msg);
    }
    if (rc < 0) return rc;
    m->base_path = dir;
    char *cp = mg__join(dir, "config.json");
    json_t *cfg = NULL;
    if (!cp) return mg_error_set(err, MG_ENOMEM, "out of memory");
    rc = mg__json_load(cp, &cfg, err);
    if (rc == 0) rc = mg__config_parse(cfg, cp, &m->config, err);
    json_decref(cfg);
    free(cp);
    if (rc < 0) return rc;
    mg__config_generation(&m->config, dir);
    if ((rc = mg__set_tokenizer(m, dir, err)) < 0) return rc;
    if (!want_weights) return 0;
    if ((rc = mg__load_merged_files(m->storage, dir, ts, err)) < 0) return rc;
    return mg__load_base(m, ts, "", false, err);
}

bool mg__dir_has_tokenizer(const char *dir)
{
    return has_tokenizer(dir);
}
