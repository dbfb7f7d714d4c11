/* chat.c — chat templates of a model folder, rendered as transformers'
 * apply_chat_template(messages, tokenize=False, add_generation_prompt=...)
 * does: the context holds `messages`, `tools=None`, `documents=None`,
 * `add_generation_prompt` and the tokenizer's special tokens. */
#include "internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SPECIAL[] = {"bos_token", "eos_token", "unk_token",  "pad_token",
                                      "sep_token", "cls_token", "mask_token", NULL};

struct mg_chat_template {
    mg_jinja *tpl;
    char *source;
    char *tokens[8]; /* SPECIAL[i] content, or NULL when unset */
};

/* a special token is a string or an AddedToken object {"content": "..."} */
static const char *token_text(const json_t *v)
{
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_object(v)) {
        const json_t *c = json_object_get(v, "content");
        if (json_is_string(c)) return json_string_value(c);
    }
    return NULL;
}

int mg_chat_template_from_config(const json_t *cfg, const char *where, mg_chat_template **out,
                                 mg_error *err)
{
    *out = NULL;
    if (!json_is_object(cfg)) return mg_error_set(err, MG_EFORMAT, "%s: not a JSON object", where);
    const json_t *ct = json_object_get(cfg, "chat_template");
    const char *src = NULL;
    size_t len = 0;
    if (!ct || json_is_null(ct)) return 0;
    if (json_is_string(ct)) {
        src = json_string_value(ct);
        len = json_string_length(ct);
    } else if (json_is_array(ct)) {
        size_t i;
        const json_t *e;
        json_array_foreach(ct, i, e)
        {
            const json_t *nm = json_object_get(e, "name"), *tp = json_object_get(e, "template");
            if (!json_is_string(nm) || !json_is_string(tp))
                return mg_error_set(err, MG_EFORMAT,
                                    "%s: chat_template[%zu] needs string \"name\" and \"template\"",
                                    where, i);
            if (!strcmp(json_string_value(nm), "default")) {
                src = json_string_value(tp);
                len = json_string_length(tp);
            }
        }
        if (!src)
            return mg_error_set(err, MG_EFORMAT,
                                "%s: chat_template is a list without a \"default\" entry", where);
    } else
        return mg_error_set(err, MG_EFORMAT,
                            "%s: \"chat_template\" must be a string or a list of {name, template}",
                            where);
    mg_chat_template *t = calloc(1, sizeof *t);
    if (!t) return mg_error_set(err, MG_ENOMEM, "out of memory");
    t->source = malloc(len + 1);
    if (!t->source) {
        free(t);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    memcpy(t->source, src, len);
    t->source[len] = 0;
    int rc = mg_jinja_parse(src, len, &t->tpl, err);
    if (rc < 0) {
        mg_error_prefix(err, rc, "%s: chat_template", where);
        mg_chat_template_free(t);
        return rc;
    }
    for (int i = 0; SPECIAL[i]; i++) {
        const char *s = token_text(json_object_get(cfg, SPECIAL[i]));
        if (s && !(t->tokens[i] = strdup(s))) {
            mg_chat_template_free(t);
            return mg_error_set(err, MG_ENOMEM, "out of memory");
        }
    }
    *out = t;
    return 0;
}

/* Template files are a few KiB; anything past this is not a template. */
#define MAX_TEMPLATE_FILE (4u << 20)

/* Reads a whole template file into a new json string. 0 and *out = NULL when
 * the file does not exist. */
static int read_template_file(const char *path, json_t **out, mg_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char *buf = malloc(MAX_TEMPLATE_FILE + 1);
    if (!buf) {
        fclose(f);
        return mg_error_set(err, MG_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, MAX_TEMPLATE_FILE + 1, f);
    bool bad = ferror(f);
    fclose(f);
    int rc = 0;
    if (bad)
        rc = mg_error_set(err, MG_EIO, "%s: read error", path);
    else if (n > MAX_TEMPLATE_FILE)
        rc = mg_error_set(err, MG_EFORMAT, "%s: larger than %u bytes, not a chat template", path,
                          MAX_TEMPLATE_FILE);
    else if (!(*out = json_stringn_nocheck(buf, n)))
        rc = mg_error_set(err, MG_ENOMEM, "%s: out of memory", path);
    free(buf);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The template files transformers' save_pretrained writes beside
 * tokenizer_config.json: chat_template.jinja (the default) and
 * additional_chat_templates/NAME.jinja. As in transformers
 * (tokenization_utils_base), when any exists they replace the config's
 * "chat_template" entirely: one default file becomes the string, several
 * files a list of {name, template} (an additional "default.jinja" wins over
 * chat_template.jinja, as transformers reads it second). */
static int apply_template_files(const char *model_dir, json_t *cfg, mg_error *err)
{
    char path[4096];
    json_t *def = NULL, *list = json_array();
    if (!list) return mg_error_set(err, MG_ENOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/chat_template.jinja", model_dir);
    int rc = read_template_file(path, &def, err);
    snprintf(path, sizeof path, "%s/additional_chat_templates", model_dir);
    DIR *d = rc == 0 ? opendir(path) : NULL;
    char *names[256];
    size_t nn = 0;
    for (struct dirent *e; d && rc == 0 && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len <= 6 || strcmp(e->d_name + len - 6, ".jinja") != 0) continue;
        if (nn == sizeof names / sizeof *names) {
            rc = mg_error_set(err, MG_EFORMAT, "%s: more than %zu templates", path, nn);
            break;
        }
        if (!(names[nn] = strndup(e->d_name, len - 6))) {
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
            break;
        }
        nn++;
    }
    if (d) closedir(d);
    qsort(names, nn, sizeof *names, by_name);
    for (size_t i = 0; i < nn && rc == 0; i++) {
        char file[4400];
        json_t *t = NULL;
        snprintf(file, sizeof file, "%s/%s.jinja", path, names[i]);
        if ((rc = read_template_file(file, &t, err)) < 0 || !t) break;
        if (!strcmp(names[i], "default")) {
            json_decref(def);
            def = t;
        } else if (json_array_append_new(
                       list, json_pack("{s:s, s:o}", "name", names[i], "template", t)) < 0) {
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < nn; i++) free(names[i]);
    if (rc == 0 && def && json_array_size(list) == 0) {
        if (json_object_set(cfg, "chat_template", def) < 0)
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
    } else if (rc == 0 && json_array_size(list) > 0) {
        if (!def) {
            /* transformers raises at apply time: several templates, no default */
            rc = mg_error_set(err, MG_EFORMAT,
                              "%s: chat templates in additional_chat_templates/ but no "
                              "chat_template.jinja: no default template to use (transformers "
                              "refuses too)",
                              model_dir);
        } else if (json_array_append_new(
                       list, json_pack("{s:s, s:O}", "name", "default", "template", def)) < 0 ||
                   json_object_set(cfg, "chat_template", list) < 0) {
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        }
    }
    json_decref(def);
    json_decref(list);
    return rc;
}

int mg_chat_template_load(const char *model_dir, mg_chat_template **out, mg_error *err)
{
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", model_dir);
    json_error_t je;
    /* model_max_length can exceed 64 bits (1e30): read numbers as reals */
    json_t *cfg = json_load_file(path, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
    if (!cfg) {
        FILE *f = fopen(path, "rb");
        if (!f) return mg_error_set(err, MG_ENOENT, "%s: no such file", path);
        fclose(f);
        return mg_error_set(err, MG_EFORMAT, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    }
    /* special_tokens_map.json fills tokens the config lacks */
    char smap[4096];
    snprintf(smap, sizeof smap, "%s/special_tokens_map.json", model_dir);
    json_t *sm = json_load_file(smap, JSON_DECODE_INT_AS_REAL, &je);
    if (json_is_object(sm))
        for (int i = 0; SPECIAL[i]; i++) {
            json_t *have = json_object_get(cfg, SPECIAL[i]);
            json_t *alt = json_object_get(sm, SPECIAL[i]);
            if ((!have || json_is_null(have)) && alt) json_object_set(cfg, SPECIAL[i], alt);
        }
    json_decref(sm);
    int rc = apply_template_files(model_dir, cfg, err);
    if (rc == 0) rc = mg_chat_template_from_config(cfg, path, out, err);
    json_decref(cfg);
    return rc;
}

int mg_chat_template_render_opts(const mg_chat_template *t, const char *const *roles,
                                 const char *const *contents, size_t n, bool add_generation_prompt,
                                 const mg_jinja_options *opt, char **out, mg_error *err)
{
    *out = NULL;
    if (!t) return mg_error_set(err, MG_EINVAL, "no chat template");
    json_t *ctx = json_object(), *msgs = json_array();
    if (!ctx || !msgs) {
        json_decref(ctx);
        json_decref(msgs);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_object();
        json_object_set_new(m, "role", json_string(roles[i]));
        json_object_set_new(m, "content", json_string(contents[i]));
        if (!json_is_string(json_object_get(m, "role")) ||
            !json_is_string(json_object_get(m, "content"))) {
            json_decref(m);
            json_decref(msgs);
            json_decref(ctx);
            return mg_error_set(err, MG_EINVAL, "message %zu: role/content must be UTF-8", i);
        }
        json_array_append_new(msgs, m);
    }
    json_object_set_new(ctx, "messages", msgs);
    json_object_set_new(ctx, "tools", json_null());
    json_object_set_new(ctx, "documents", json_null());
    json_object_set_new(ctx, "add_generation_prompt", json_boolean(add_generation_prompt));
    for (int i = 0; SPECIAL[i]; i++)
        if (t->tokens[i]) json_object_set_new(ctx, SPECIAL[i], json_string(t->tokens[i]));
    size_t len;
    int rc = mg_jinja_render(t->tpl, ctx, opt, out, &len, err);
    json_decref(ctx);
    return rc;
}

int mg_chat_template_render(const mg_chat_template *t, const char *const *roles,
                            const char *const *contents, size_t n, bool add_generation_prompt,
                            char **out, mg_error *err)
{
    return mg_chat_template_render_opts(t, roles, contents, n, add_generation_prompt, NULL, out,
                                        err);
}

const char *mg_chat_template_source(const mg_chat_template *t)
{
    return t ? t->source : NULL;
}

void mg_chat_template_free(mg_chat_template *t)
{
    if (!t) return;
    mg_jinja_free(t->tpl);
    free(t->source);
    for (int i = 0; i < 8; i++) free(t->tokens[i]);
    free(t);
}
