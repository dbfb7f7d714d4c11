/* tok_config.c — mg_tokenizer_load: tokenizer.json plus tokenizer_config.json,
 * special_tokens_map.json and generation_config.json; the transformers encode
 * rules; accessors and free. */
#include "internal.h"
#include "tok_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A token given as "text" or as an AddedToken object {"content": ...}. */
static int token_string(json_t *v, const char *file, const char *key, char **out, mg_error *err)
{
    if (!v || json_is_null(v)) return 0;
    json_t *s = json_is_object(v) ? json_object_get(v, "content") : v;
    if (!json_is_string(s))
        return mg_error_set(err, MG_EFORMAT, "%s: %s: expected a string or an AddedToken object",
                            file, key);
    free(*out);
    *out = strdup(json_string_value(s));
    return *out ? 0 : mg_error_set(err, MG_ENOMEM, "%s: out of memory", file);
}

static int opt_bool(json_t *o, const char *key, const char *file, int *out, mg_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v))
        return mg_error_set(err, MG_EFORMAT, "%s: %s: expected true or false", file, key);
    *out = json_is_true(v);
    return 0;
}

/* Loads dir/name when it exists; *root stays NULL when it does not. */
static int load_optional(const char *dir, const char *name, json_t **root, char *path,
                         size_t path_size, mg_error *err)
{
    snprintf(path, path_size, "%s/%s", dir, name);
    *root = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    char *data;
    size_t len;
    int rc = mg__tok_read_file(path, &data, &len, err);
    if (rc < 0) return rc;
    *root = mg__tok_parse_json(data, len, path, JSON_DECODE_INT_AS_REAL, err);
    free(data);
    if (!*root) return MG_EFORMAT;
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return mg_error_set(err, MG_EFORMAT, "%s: expected a JSON object", path);
    }
    return 0;
}

static int parse_config(mg_tokenizer *t, const char *dir, int *legacy, int *add_prefix_space,
                        mg_error *err)
{
    char path[4096];
    json_t *cfg = NULL, *stm = NULL, *gen = NULL;
    int rc = load_optional(dir, "tokenizer_config.json", &cfg, path, sizeof path, err);
    if (rc < 0) return rc;
    if (cfg) {
        if ((rc = token_string(json_object_get(cfg, "bos_token"), path, "bos_token", &t->bos_token,
                               err)) < 0 ||
            (rc = token_string(json_object_get(cfg, "eos_token"), path, "eos_token", &t->eos_token,
                               err)) < 0 ||
            (rc = token_string(json_object_get(cfg, "pad_token"), path, "pad_token", &t->pad_token,
                               err)) < 0 ||
            (rc = opt_bool(cfg, "add_bos_token", path, &t->add_bos_token, err)) < 0 ||
            (rc = opt_bool(cfg, "add_eos_token", path, &t->add_eos_token, err)) < 0 ||
            (rc = opt_bool(cfg, "legacy", path, legacy, err)) < 0 ||
            (rc = opt_bool(cfg, "add_prefix_space", path, add_prefix_space, err)) < 0)
            goto out;
        json_t *mml = json_object_get(cfg, "model_max_length");
        if (mml && !json_is_null(mml)) {
            double x = json_is_number(mml) ? json_number_value(mml) : -1.0;
            if (!(x >= 0)) {
                rc = mg_error_set(err, MG_EFORMAT, "%s: model_max_length: expected a number >= 0",
                                  path);
                goto out;
            }
            t->model_max_length = x >= 9.2e18 ? INT64_MAX : (int64_t)x;
        }
        json_t *cls = json_object_get(cfg, "tokenizer_class");
        if (json_is_string(cls) && !(t->tokenizer_class = strdup(json_string_value(cls)))) goto oom;
    }
    if ((rc = load_optional(dir, "special_tokens_map.json", &stm, path, sizeof path, err)) < 0)
        goto out;
    if (stm) {
        if (!t->bos_token && (rc = token_string(json_object_get(stm, "bos_token"), path,
                                                "bos_token", &t->bos_token, err)) < 0)
            goto out;
        if (!t->eos_token && (rc = token_string(json_object_get(stm, "eos_token"), path,
                                                "eos_token", &t->eos_token, err)) < 0)
            goto out;
    }
    if (stm && !t->pad_token &&
        (rc = token_string(json_object_get(stm, "pad_token"), path, "pad_token", &t->pad_token,
                           err)) < 0)
        goto out;
    t->bos_id = t->bos_token ? mg_tokenizer_token_id(t, t->bos_token, strlen(t->bos_token)) : -1;
    t->pad_id = t->pad_token ? mg_tokenizer_token_id(t, t->pad_token, strlen(t->pad_token)) : -1;
    if ((rc = load_optional(dir, "generation_config.json", &gen, path, sizeof path, err)) < 0)
        goto out;
    json_t *eos = gen ? json_object_get(gen, "eos_token_id") : NULL;
    if (eos && !json_is_null(eos)) {
        size_t n = json_is_array(eos) ? json_array_size(eos) : 1;
        t->eos_ids = malloc((n ? n : 1) * sizeof *t->eos_ids);
        if (!t->eos_ids) goto oom;
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_is_array(eos) ? json_array_get(eos, i) : eos;
            double x = json_is_number(v) ? json_number_value(v) : -1.0;
            if (x < 0 || x >= t->n_ids || x != (double)(int32_t)x) {
                rc = mg_error_set(err, MG_EFORMAT, "%s: eos_token_id: expected token ids", path);
                goto out;
            }
            t->eos_ids[i] = (int32_t)x;
        }
        t->n_eos = (int)n;
    } else if (t->eos_token) {
        int32_t id = mg_tokenizer_token_id(t, t->eos_token, strlen(t->eos_token));
        if (id >= 0) {
            t->eos_ids = malloc(sizeof *t->eos_ids);
            if (!t->eos_ids) goto oom;
            t->eos_ids[0] = id;
            t->n_eos = 1;
        }
    }
out:
    json_decref(cfg);
    json_decref(stm);
    json_decref(gen);
    return rc;
oom:
    rc = mg_error_set(err, MG_ENOMEM, "%s: out of memory", dir);
    goto out;
}

/* transformers v5's AutoTokenizer: LlamaTokenizer (unless tokenizer.json is
 * byte-level, then TokenizersBackend) and GemmaTokenizer rebuild their own
 * pipeline and put BOS/EOS per add_bos_token/add_eos_token; every other class
 * runs tokenizer.json as it is (encode with add_special_tokens=True). */
static int setup_transformers(mg_tokenizer *t, const char *json, size_t len, int legacy,
                              int add_prefix_space, mg_error *err)
{
    const char *cls = t->tokenizer_class ? t->tokenizer_class : "";
    size_t cl = strlen(cls);
    char base[128];
    snprintf(base, sizeof base, "%.*s",
             (int)(cl >= 4 && !strcmp(cls + cl - 4, "Fast") ? cl - 4 : cl), cls);
    bool byte_level = memmem(json, len, "\"ByteLevel\"", 11) != NULL;
    t->tf_mode = MG__TF_BACKEND;
    int rc;
    if ((!strcmp(base, "LlamaTokenizer") || !strcmp(base, "CodeLlamaTokenizer")) && !byte_level) {
        t->tf_mode = MG__TF_LLAMA;
        mg__tok_pre *p = &t->tf_pre;
        p->kind = MG_PRE_METASPACE;
        p->replacement = 0x2581;
        p->repl_len = mg__tok_utf8_encode(0x2581, p->repl_utf8);
        p->split = false;
        bool aps = add_prefix_space != 0; /* default true */
        p->prepend = !aps ? MG_PREPEND_NEVER : legacy == 1 ? MG_PREPEND_ALWAYS : MG_PREPEND_FIRST;
    } else if (!strcmp(base, "GemmaTokenizer")) {
        t->tf_mode = MG__TF_GEMMA;
        t->tf_norm.kind = MG_NORM_REPLACE;
        if ((rc = mg__tok_regex_compile(&t->tf_norm.pattern, " ", 1, true, err)) < 0) return rc;
        if (!(t->tf_norm.content = strdup("\xE2\x96\x81"))) return MG_ENOMEM;
        t->tf_norm.content_len = 3;
        t->tf_pre.kind = MG_PRE_SPLIT;
        t->tf_pre.behavior = MG_SPLIT_MERGED_PREV;
        if ((rc = mg__tok_regex_compile(&t->tf_pre.pattern, " ", 1, true, err)) < 0) return rc;
        t->tf_pre.has_pattern = true;
    } else {
        return 0;
    }
    bool bos = t->add_bos_token != 0 && t->bos_id >= 0; /* default true for these classes */
    int32_t eos_id =
        t->eos_token ? mg_tokenizer_token_id(t, t->eos_token, strlen(t->eos_token)) : -1;
    bool eos = t->add_eos_token == 1 && eos_id >= 0;
    t->tf_post = calloc(3, sizeof *t->tf_post);
    if (!t->tf_post) return MG_ENOMEM;
    t->n_tf_post = 3; /* until filled, so an error path frees what exists */
    size_t n = 0;
    if (bos) {
        if (!(t->tf_post[n].ids = malloc(sizeof(int32_t)))) return MG_ENOMEM;
        t->tf_post[n].ids[0] = t->bos_id;
        t->tf_post[n++].n_ids = 1;
    }
    t->tf_post[n++].is_sequence = true;
    if (eos) {
        if (!(t->tf_post[n].ids = malloc(sizeof(int32_t)))) return MG_ENOMEM;
        t->tf_post[n].ids[0] = eos_id;
        t->tf_post[n++].n_ids = 1;
    }
    t->n_tf_post = n;
    return 0;
}

static int new_tokenizer(mg_tokenizer **out)
{
    mg_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return MG_ENOMEM;
    mg__tok_cache_init(t);
    t->bos_id = -1;
    t->pad_id = -1;
    t->model_max_length = -1;
    t->add_bos_token = -1;
    t->add_eos_token = -1;
    *out = t;
    return 0;
}

int mg_tokenizer_load_json(const char *json, size_t len, const char *name, mg_tokenizer **out,
                           mg_error *err)
{
    *out = NULL;
    mg_tokenizer *t;
    if (new_tokenizer(&t) < 0) return mg_error_set(err, MG_ENOMEM, "%s: out of memory", name);
    int rc = mg__tok_parse_tokenizer_json(t, json, len, name, err);
    if (rc < 0) {
        mg_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int mg_tokenizer_load(const char *dir, mg_tokenizer **out, mg_error *err)
{
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    char *json;
    size_t len;
    int rc = mg__tok_read_file(path, &json, &len, err);
    if (rc < 0) return rc;
    mg_tokenizer *t;
    if ((rc = new_tokenizer(&t)) < 0) {
        free(json);
        return mg_error_set(err, rc, "%s: out of memory", path);
    }
    int legacy = -1, aps = -1;
    if ((rc = mg__tok_parse_tokenizer_json(t, json, len, path, err)) < 0 ||
        (rc = parse_config(t, dir, &legacy, &aps, err)) < 0 ||
        (rc = setup_transformers(t, json, len, legacy, aps, err)) < 0) {
        if (rc == MG_ENOMEM) mg_error_set(err, rc, "%s: out of memory", path);
        free(json);
        mg_tokenizer_free(t);
        return rc;
    }
    free(json);
    *out = t;
    return 0;
}

void mg_tokenizer_free(mg_tokenizer *t)
{
    if (!t) return;
    mg__tok_cache_fini(t);
    free(t->vocab_blob);
    free(t->bmp_ids);
    free(t->id_str);
    free(t->id_len);
    mg__tok_strmap_free(&t->vocab);
    mg__tok_pairmap_free(&t->merges);
    free(t->subword_prefix);
    free(t->word_suffix);
    mg__tok_norm_free(t->normalizer);
    free(t->normalizer);
    mg__tok_pre_free(t->pre);
    free(t->pre);
    mg__tok_dec_free(t->decoder);
    free(t->decoder);
    mg__tok_post_free(t->post, t->n_post);
    for (size_t i = 0; i < t->n_added; i++) {
        if (t->added[i].match != t->added[i].content) free(t->added[i].match);
        free(t->added[i].content);
    }
    free(t->added);
    mg__tok_strmap_free(&t->added_map);
    free(t->added_of_id);
    free(t->special_of_id);
    mg__tok_trie_free(&t->trie_raw);
    mg__tok_trie_free(&t->trie_norm);
    free(t->tokenizer_class);
    free(t->bos_token);
    free(t->eos_token);
    free(t->pad_token);
    free(t->eos_ids);
    mg__tok_norm_free(&t->tf_norm);
    mg__tok_pre_free(&t->tf_pre);
    mg__tok_post_free(t->tf_post, t->n_tf_post);
    free(t);
}

int mg_tokenizer_vocab_size(const mg_tokenizer *t)
{
    return t->n_ids;
}

int mg_tokenizer_bos_id(const mg_tokenizer *t)
{
    return t->bos_id;
}

int mg_tokenizer_pad_id(const mg_tokenizer *t)
{
    return t->pad_id;
}

int64_t mg_tokenizer_model_max_length(const mg_tokenizer *t)
{
    return t->model_max_length;
}

int mg_tokenizer_eos_ids(const mg_tokenizer *t, const int32_t **ids)
{
    *ids = t->eos_ids;
    return t->n_eos;
}

const char *mg_tokenizer_token_text(const mg_tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->n_ids) return NULL;
    int32_t a = t->added_of_id[id];
    if (a >= 0) return t->added[a].content;
    return t->id_str[id];
}

int32_t mg_tokenizer_token_id(const mg_tokenizer *t, const char *token, size_t len)
{
    int32_t id = mg__tok_strmap_get(&t->added_map, token, len);
    return id >= 0 ? id : mg__tok_strmap_get(&t->vocab, token, len);
}

bool mg_tokenizer_is_special(const mg_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_ids && t->special_of_id[id];
}

const char *mg_tokenizer_bos_token(const mg_tokenizer *t)
{
    return t->bos_token;
}

const char *mg_tokenizer_eos_token(const mg_tokenizer *t)
{
    return t->eos_token;
}
