/* test_template_corpus.c — every case of ../shared/chat-templates/hfjs-*.jsonl.
 * Where Jinja2 agrees with huggingface.js the render must equal `expected`
 * byte for byte; otherwise it must equal `jinja2_output`, or fail when the
 * reference raised (`jinja2_error`). The strftime_now clock is pinned to
 * 2025-07-10T12:00:00 as the corpus README says. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mg_template.h"

typedef struct counts {
    int total, pass, agree_total, agree_pass, differ_total, differ_pass;
} counts;

/* the context of cases that carry none (golden/random.jsonl) */
static json_t *shared_context;

/* name -> template of ../shared/chat-templates/hfjs-e2e.jsonl, for goldens
 * that reuse those templates by name */
static json_t *e2e_templates;

static void load_e2e_templates(void)
{
    e2e_templates = json_object();
    FILE *f = fopen(MG_SHARED_DIR "/chat-templates/hfjs-e2e.jsonl", "r");
    cr_assert(f);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *c = json_loads(line, 0, &je);
        cr_assert(c, "hfjs-e2e.jsonl: %s", je.text);
        json_object_set(e2e_templates, json_string_value(json_object_get(c, "name")),
                        json_object_get(c, "template"));
        json_decref(c);
    }
    free(line);
    fclose(f);
}

/* Renders one case. ctx_text: the context as JSON text when jansson cannot
 * hold it (NUL bytes in keys), else NULL and the context comes from `c`. */
static int run_case(json_t *c, const char *ctx_text, counts *k, FILE *log)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    json_t *tpl = json_object_get(c, "template");
    if (!tpl)
        tpl = json_object_get(e2e_templates, json_string_value(json_object_get(c, "e2e_case")));
    if (!json_is_string(tpl)) {
        fprintf(log ? log : stderr, "FAIL %s: no template\n", name);
        k->total++;
        return 0;
    }
    json_t *ctx = json_object_get(c, "context");
    if (!ctx) ctx = shared_context;
    bool agrees = json_is_true(json_object_get(c, "jinja2_agrees"));
    const char *want = NULL;
    size_t want_len = 0;
    bool want_error = false;
    const char *want_exc = json_string_value(json_object_get(c, "jinja2_error"));
    if (agrees) {
        want = json_string_value(json_object_get(c, "expected"));
        want_len = json_string_length(json_object_get(c, "expected"));
    } else if (json_is_string(json_object_get(c, "jinja2_output"))) {
        want = json_string_value(json_object_get(c, "jinja2_output"));
        want_len = json_string_length(json_object_get(c, "jinja2_output"));
    } else
        want_error = json_object_get(c, "jinja2_error") != NULL;
    k->total++;
    if (agrees)
        k->agree_total++;
    else
        k->differ_total++;

    mg_jinja_options o = mg_jinja_default_options();
    o.fixed_now = true;
    o.now = 1752148800; /* 2025-07-10T12:00:00Z */
    mg_error err = {0};
    mg_jinja *t = NULL;
    char *out = NULL;
    size_t out_len = 0;
    int rc = mg_jinja_parse(json_string_value(tpl), json_string_length(tpl), &t, &err);
    if (rc == 0 && ctx_text)
        rc = mg_jinja_render_json(t, ctx_text, strlen(ctx_text), &o, &out, &out_len, &err);
    else if (rc == 0)
        rc = mg_jinja_render(t, ctx, &o, &out, &out_len, &err);
    mg_jinja_free(t);
    bool ok;
    if (want_error) {
        /* the same exception class (the text before ':'), e.g. TypeError,
         * and for raise_exception the template's own message */
        size_t cls = strcspn(want_exc, ":");
        char exc[128];
        snprintf(exc, sizeof exc, " %.*s:", (int)(cls < 100 ? cls : 100), want_exc);
        ok = rc < 0 && strstr(err.msg, exc);
        if (ok && !strncmp(want_exc, "TemplateError: ", 15)) ok = strstr(err.msg, want_exc) != NULL;
    } else
        ok = rc == 0 && want && out_len == want_len && !memcmp(out, want, want_len);
    if (ok) {
        k->pass++;
        if (agrees)
            k->agree_pass++;
        else
            k->differ_pass++;
    } else if (log) {
        fprintf(log, "FAIL %s: rc=%d err=%s\n  got:  %.300s\n  want: %.300s\n", name, rc,
                rc < 0 ? err.msg : "", out ? out : "(none)", want ? want : "(error)");
    }
    free(out);
    return ok;
}

/* jansson rejects NUL bytes in object keys (two tojson cases have one). Such a
 * line is loaded with the key renamed, and its context is passed as text:
 * the line's own "context" value, cut out of the raw line. */
static json_t *load_line(const char *line, char **ctx_text)
{
    *ctx_text = NULL;
    json_error_t je;
    json_t *c = json_loads(line, JSON_ALLOW_NUL, &je);
    if (c) return c;
    const char *p = strstr(line, "\"context\": ");
    const char *q = strstr(line, ", \"expected\": ");
    if (!p || !q || q < p) return NULL;
    p += strlen("\"context\": ");
    *ctx_text = strndup(p, (size_t)(q - p));
    /* the rest of the line without the context */
    size_t head = (size_t)(p - line);
    char *rest = malloc(strlen(line) + 8);
    memcpy(rest, line, head);
    strcpy(rest + head, "{}");
    strcat(rest, q);
    c = json_loads(rest, JSON_ALLOW_NUL, &je);
    free(rest);
    return c;
}

static void run_path(const char *path, const char *file, int expect_total)
{
    FILE *f = fopen(path, "r");
    cr_assert(f);
    char *line = NULL;
    size_t cap = 0;
    counts k = {0};
    while (getline(&line, &cap, f) > 0) {
        char *ctx_text;
        json_t *c = load_line(line, &ctx_text);
        cr_assert(c, "%s: bad JSON line", file);
        run_case(c, ctx_text, &k, stderr);
        json_decref(c);
        free(ctx_text);
    }
    free(line);
    fclose(f);
    fprintf(stderr, "%s: %d/%d pass (jinja2_agrees: %d/%d, reference differs: %d/%d)\n", file,
            k.pass, k.total, k.agree_pass, k.agree_total, k.differ_pass, k.differ_total);
    cr_expect_eq(k.total, expect_total, "%s: case count changed", file);
    cr_expect_eq(k.pass, k.total, "%s: %d of %d cases differ from Jinja2", file, k.total - k.pass,
                 k.total);
}

static void run_file(const char *file, int expect_total)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/chat-templates/%s", MG_SHARED_DIR, file);
    if (access(path, R_OK) != 0) cr_skip_test("needs ../shared/chat-templates");
    run_path(path, file, expect_total);
}

/* goldens made by tools/template_feature_goldens.py with Python Jinja2 */
Test(template_corpus, features_extra)
{
    run_path(MG_SOURCE_DIR "/tests/template/golden/features_extra.jsonl", "features_extra.jsonl",
             67);
}

/* random templates from a small grammar, rendered by Jinja2
 * (tools/template_random_goldens.py), all with golden/random_context.json */
Test(template_corpus, random_differential)
{
    json_error_t je;
    shared_context =
        json_load_file(MG_SOURCE_DIR "/tests/template/golden/random_context.json", 0, &je);
    cr_assert(shared_context, "random_context.json: %s", je.text);
    run_path(MG_SOURCE_DIR "/tests/template/golden/random.jsonl", "random.jsonl", 300);
    json_decref(shared_context);
}

/* the real templates of hfjs-e2e.jsonl on the EvalPlus conversation and a
 * system + user turn, rendered by Jinja2 (tools/template_feature_goldens.py) */
Test(template_corpus, e2e_conversations)
{
    if (access(MG_SHARED_DIR "/chat-templates/hfjs-e2e.jsonl", R_OK) != 0)
        cr_skip_test("needs ../shared/chat-templates");
    load_e2e_templates();
    run_path(MG_SOURCE_DIR "/tests/template/golden/e2e_conversations.jsonl",
             "e2e_conversations.jsonl", 106);
    json_decref(e2e_templates);
}

Test(template_corpus, hfjs_e2e)
{
    run_file("hfjs-e2e.jsonl", 53);
}

Test(template_corpus, hfjs_features)
{
    run_file("hfjs-features.jsonl", 157);
}
