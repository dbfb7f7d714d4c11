/* json.dumps, str.isspace/strip and repr(float) against fixtures made by
 * CPython (tools/make_json_goldens.py). */
#include "ds_test_util.h"
#include "mg_dataset.h"

#define GOLDEN MG_SOURCE_DIR "/tests/datasets/golden"

static char *dumps(const char *s, size_t n)
{
    mg_sbuf b = {0};
    mg_error err = {0};
    cr_assert_eq(mg_json_dumps_string(&b, s, n, &err), 0, "%s", err.msg);
    return b.data;
}

/* Next '\n'-terminated line of buf (advances *pos); NULL at the end. */
static char *next_line(char *buf, size_t len, size_t *pos)
{
    if (*pos >= len) return NULL;
    char *s = buf + *pos;
    char *nl = memchr(s, '\n', len - *pos);
    cr_assert_not_null(nl);
    *nl = '\0';
    *pos = (size_t)(nl - buf) + 1;
    return s;
}

static void check_dataset(const char *ds_file, const char *golden, size_t n_tasks)
{
    NEED_SHARED();
    mg_dataset ds;
    mg_error err = {0};
    cr_assert_eq(mg_dataset_read_file(ds_file, "x", &ds, &err), 0, "%s", err.msg);
    cr_assert_eq(ds.n_tasks, n_tasks);
    char *g;
    size_t gn, pos = 0;
    cr_assert_eq(mg_read_maybe_gz(golden, &g, &gn, &err), 0, "%s", err.msg);
    mg_prompt_params pp = {.dataset = "humaneval", .direct_completion = true};
    for (size_t i = 0; i < ds.n_tasks; i++) {
        mg_task *t = &ds.tasks[i];
        char *want = next_line(g, gn, &pos);
        char *got = dumps(t->prompt, strlen(t->prompt));
        cr_assert_str_eq(got, want, "%s prompt", t->task_id);
        free(got);
        want = next_line(g, gn, &pos);
        got = dumps(t->canonical_solution, strlen(t->canonical_solution));
        cr_assert_str_eq(got, want, "%s canonical_solution", t->task_id);
        free(got);
        /* A whole sample record, from the direct-completion prompt. */
        want = next_line(g, gn, &pos);
        char *prompt;
        cr_assert_eq(mg_prompt_build(&pp, t, &prompt, &err), 0);
        mg_sbuf sol = {0}, rec = {0};
        mg_sbuf_append(&sol, prompt, strlen(prompt));
        mg_sbuf_append(&sol, t->canonical_solution, strlen(t->canonical_solution));
        cr_assert_eq(mg_json_dumps_record(&rec, t->task_id, sol.data, sol.len, &err), 0);
        cr_assert_eq(rec.data[rec.len - 1], '\n');
        rec.data[rec.len - 1] = '\0';
        cr_assert_str_eq(rec.data, want, "%s record", t->task_id);
        free(prompt);
        mg_sbuf_free(&sol);
        mg_sbuf_free(&rec);
    }
    cr_assert_null(next_line(g, gn, &pos), "golden has more lines than the dataset");
    free(g);
    mg_dataset_free(&ds);
}

Test(json, humanevalplus_prompts_solutions_records)
{
    check_dataset(SHARED_DS "/HumanEvalPlus-v0.1.10.jsonl.gz", GOLDEN "/humanevalplus_dumps.txt.gz",
                  164);
}

Test(json, mbppplus_prompts_solutions_records)
{
    check_dataset(SHARED_DS "/MbppPlus-v0.2.0.jsonl.gz", GOLDEN "/mbppplus_dumps.txt.gz", 378);
}

static size_t unhex(const char *h, char *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (char)v;
    }
    return n;
}

Test(json, escapes_match_python)
{
    size_t n, pos = 0, cases = 0;
    char *g = ds_slurp(GOLDEN "/escapes.txt", &n);
    cr_assert_not_null(g);
    for (char *line; (line = next_line(g, n, &pos));) {
        char *tab = strchr(line, '\t');
        cr_assert_not_null(tab);
        *tab = '\0';
        char raw[1024];
        size_t rn = unhex(line, raw);
        char *got = dumps(raw, rn);
        cr_assert_str_eq(got, tab + 1, "input %s", line);
        free(got);
        cases++;
    }
    cr_assert_geq(cases, 50);
    free(g);
}

Test(json, invalid_utf8_is_rejected)
{
    static const char *const bad[] = {
        "\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mg_sbuf b = {0};
        mg_error err = {0};
        cr_assert_eq(mg_json_dumps_string(&b, bad[i], strlen(bad[i]), &err), MG_EFORMAT);
        cr_assert(strstr(err.msg, "invalid UTF-8"));
        mg_sbuf_free(&b);
        cr_assert_eq(mg_json_dumps_record(&b, "T/1", bad[i], strlen(bad[i]), &err), MG_EFORMAT);
        cr_assert(strstr(err.msg, "task T/1"), "%s", err.msg);
        cr_assert_eq(b.len, 0);
        mg_sbuf_free(&b);
    }
}

static void utf8(uint32_t c, char *o, size_t *n)
{
    if (c < 0x80)
        o[0] = (char)c, *n = 1;
    else if (c < 0x800)
        o[0] = (char)(0xc0 | c >> 6), o[1] = (char)(0x80 | (c & 63)), *n = 2;
    else if (c < 0x10000)
        o[0] = (char)(0xe0 | c >> 12), o[1] = (char)(0x80 | (c >> 6 & 63)),
        o[2] = (char)(0x80 | (c & 63)), *n = 3;
    else
        o[0] = (char)(0xf0 | c >> 18), o[1] = (char)(0x80 | (c >> 12 & 63)),
        o[2] = (char)(0x80 | (c >> 6 & 63)), o[3] = (char)(0x80 | (c & 63)), *n = 4;
}

Test(json, strip_matches_python_isspace_everywhere)
{
    size_t n, pos = 0;
    char *g = ds_slurp(GOLDEN "/py_isspace.txt", &n);
    cr_assert_not_null(g);
    static unsigned char space[0x110000 / 8];
    memset(space, 0, sizeof space);
    for (char *line; (line = next_line(g, n, &pos));) {
        unsigned long c = strtoul(line, NULL, 16);
        space[c / 8] |= (unsigned char)(1u << (c % 8));
    }
    free(g);
    for (uint32_t c = 0; c < 0x110000; c++) {
        if (c >= 0xd800 && c <= 0xdfff) continue;
        char s[8] = "x";
        size_t k;
        utf8(c, s + 1, &k);
        s[1 + k] = 'y';
        size_t a, b;
        mg_py_strip(s + 1, k, &a, &b);
        int is_space = (space[c / 8] >> (c % 8)) & 1;
        cr_assert_eq(a == b, is_space, "U+%04X", c);
        mg_py_strip(s, k + 2, &a, &b); /* inner characters are kept */
        cr_assert(a == 0 && b == k + 2);
    }
}

Test(json, output_ids_match_python)
{
    size_t n, pos = 0, cases = 0;
    char *g = ds_slurp(GOLDEN "/output_ids.txt", &n);
    cr_assert_not_null(g);
    for (char *line; (line = next_line(g, n, &pos));) {
        char *f[4];
        f[0] = line;
        for (int i = 1; i < 4; i++) {
            f[i] = strchr(f[i - 1], '\t');
            cr_assert_not_null(f[i]);
            *f[i]++ = '\0';
        }
        double t = strtod(f[2], NULL);
        char *id = mg_output_id(f[0], f[1], t);
        cr_assert_str_eq(id, f[3], "model %s temperature %s", f[0], f[2]);
        free(id);
        cases++;
    }
    cr_assert_geq(cases, 600);
    free(g);
}

Test(json, output_id_from_command_line_text)
{
    /* What python-fire hands EvalPlus: ints stay ints, the rest is float(). */
    static const char *const c[][2] = {
        {"1", "m_hf_temp_1"},        {"0", "m_hf_temp_0"},       {"+2", "m_hf_temp_2"},
        {"-0", "m_hf_temp_0"},       {"1_0", "m_hf_temp_10"},    {"00", "m_hf_temp_0"},
        {"1.0", "m_hf_temp_1.0"},    {"0.8", "m_hf_temp_0.8"},   {".50", "m_hf_temp_0.5"},
        {"1e-5", "m_hf_temp_1e-05"}, {"2.", "m_hf_temp_2.0"},    {"1_0.2_5", "m_hf_temp_10.25"},
        {"-0.0", "m_hf_temp_-0.0"},  {"1E2", "m_hf_temp_100.0"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char *id = mg_output_id_arg("m", "hf", c[i][0]);
        cr_assert_not_null(id, "%s", c[i][0]);
        cr_assert_str_eq(id, c[i][1], "temperature text %s", c[i][0]);
        free(id);
    }
    static const char *const bad[] = {"", "01", "1__0", "_1", "0x10", "inf", "nan", "1e", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_null(mg_output_id_arg("m", "hf", bad[i]), "%s", bad[i]);
}
