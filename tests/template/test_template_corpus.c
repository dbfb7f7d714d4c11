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

/* Renders one case. ctx_text: the context as JSON text when jansson cannot
 * hold it (NUL bytes in keys), else NULL and the context comes from `c`. */
static int run_case(json_t *c, const char *ctx_text, counts *k, FILE *log)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    json_t *tpl = json_object_get(c, "template");
    json_t *ctx = json_object_get(c, "context");
    bool agrees = json_is_true(json_object_get(c, "jinja2_agrees"));
    const char *want = NULL;
    size_t want_len = 0;
    bool want_error = false;
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
    if (want_error)
        ok = rc < 0 && err.msg[0];
    else
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
             55);
}

Test(template_corpus, hfjs_e2e)
{
    run_file("hfjs-e2e.jsonl", 53);
}

Test(template_corpus, hfjs_features)
{
    run_file("hfjs-features.jsonl", 157);
}
