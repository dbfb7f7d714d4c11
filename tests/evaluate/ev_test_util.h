/* ev_test_util.h — runs a handful of samples through mg_evaluate_file against
 * the synthetic two-task dataset in fixtures/probe_dataset.jsonl
 * (HumanEval/0: f(x) -> x; HumanEval/1: g(a, b) -> a / b) and reads the
 * statuses back from the results file. */
#ifndef EV_TEST_UTIL_H
#define EV_TEST_UTIL_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mg_evaluate.h"

#define PROBE_DATASET MG_SOURCE_DIR "/tests/evaluate/fixtures/probe_dataset.jsonl"
#define G_OK          "{\"task_id\": \"HumanEval/1\", \"solution\": \"def g(a, b):\\n    return a / b\\n\"}"

typedef struct ev_run {
    char dir[256];
    char samples[300];
    json_t *results;
    double seconds;
    int rc;
    mg_error err;
    mg_evaluate_summary sum;
} ev_run;

static inline double ev_test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The sanitizer goldens (fixtures/sanitize_cases.jsonl, from evalplus's
 * tree-sitter sanitizer): {code, entry_point, expected} records; returns how
 * many were read into recs (the caller json_decref()s them). */
static inline size_t ev_load_sanitize_cases(json_t **recs, size_t cap)
{
    FILE *f = fopen(MG_SOURCE_DIR "/tests/evaluate/fixtures/sanitize_cases.jsonl", "r");
    cr_assert_not_null(f);
    size_t n = 0;
    static char line[1 << 16];
    while (n < cap && fgets(line, sizeof line, f)) {
        json_error_t je;
        recs[n] = json_loads(line, 0, &je);
        cr_assert_not_null(recs[n], "%s", je.text);
        n++;
    }
    fclose(f);
    cr_assert_gt(n, 30);
    return n;
}

/* Writes `lines` (JSONL records) and evaluates them. `tweak` may adjust the
 * parameters (NULL: min_time_limit 1 s, 1 GiB memory, 2 at once). */
static inline void ev_run_samples(ev_run *r, const char *const *lines, size_t n,
                                  void (*tweak)(mg_evaluate_params *))
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "/tmp/mg-evtest-XXXXXX");
    cr_assert_not_null(mkdtemp(r->dir));
    snprintf(r->samples, sizeof r->samples, "%s/s.jsonl", r->dir);
    FILE *f = fopen(r->samples, "w");
    cr_assert_not_null(f);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s\n", lines[i]);
    fclose(f);
    mg_evaluate_params p = mg_evaluate_default_params();
    p.dataset = "humaneval";
    p.dataset_path = PROBE_DATASET;
    p.samples = r->samples;
    p.cache_dir = MG_BINARY_DIR "/evaluate-test-cache";
    p.parallel = 2;
    p.min_time_limit = 1.0;
    p.max_memory = 1ll << 30;
    p.quiet = true;
    if (tweak) tweak(&p);
    double t0 = ev_test_now();
    r->rc = mg_evaluate_file(&p, &r->sum, &r->err);
    r->seconds = ev_test_now() - t0;
    if (r->rc == 0) {
        json_error_t je;
        r->results = json_load_file(r->sum.results_path, 0, &je);
        cr_assert_not_null(r->results, "results file unreadable: %s", je.text);
    }
}

/* Sample #i of task `tid` (order of appearance). */
static inline json_t *ev_rec(const ev_run *r, const char *tid, size_t i)
{
    json_t *arr = json_object_get(json_object_get(r->results, "eval"), tid);
    return json_array_get(arr, i);
}

static inline const char *ev_status(const ev_run *r, const char *tid, size_t i, const char *which)
{
    return json_string_value(json_object_get(ev_rec(r, tid, i), which));
}

static inline void ev_run_free(ev_run *r)
{
    json_decref(r->results);
    mg_evaluate_summary_free(&r->sum);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", r->dir);
}

/* A JSONL record (malloc'd) for task `tid` with the program `code`. */
static inline char *ev_record(const char *tid, const char *code)
{
    json_t *o = json_pack("{s:s, s:s}", "task_id", tid, "solution", code);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Evaluates one HumanEval/0 program (plus a correct HumanEval/1). */
static inline void ev_run_f(ev_run *r, const char *code, void (*tweak)(mg_evaluate_params *))
{
    char *rec = ev_record("HumanEval/0", code);
    const char *lines[] = {rec, G_OK};
    ev_run_samples(r, lines, 2, tweak);
    free(rec);
    cr_assert_eq(r->rc, 0, "evaluate failed: %s", r->err.msg);
    cr_assert_str_eq(ev_status(r, "HumanEval/1", 0, "base_status"), "pass");
}

#endif /* EV_TEST_UTIL_H */
