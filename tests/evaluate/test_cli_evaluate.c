/* test_cli_evaluate.c — `moegen evaluate` and `moegen sanitize` as a user
 * runs them: exit codes, the one-line errors, the table, the output files. */
#include <sys/wait.h>

#include "ev_test_util.h"
#include "mg_dataset.h"

#define MOEGEN MG_BINARY_DIR "/moegen"

/* Runs a shell command line; returns the exit status, output in *out. */
static int sh(const char *cmd, char *out, size_t cap)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(cli_evaluate, prints_the_table_and_writes_results)
{
    char dir[] = "/tmp/mg-evcli-XXXXXX", cmd[2048], out[8192], path[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/run.jsonl", dir);
    char *a = ev_record("HumanEval/0", "def f(x):\n    return x\n");
    char text[1024];
    snprintf(text, sizeof text, "%s\n%s\n", a, G_OK);
    free(a);
    write_text(path, text);
    snprintf(cmd, sizeof cmd,
             "XDG_CACHE_HOME=%s/cache %s evaluate --dataset humaneval --dataset-path %s "
             "--samples %s --parallel 2 --quiet",
             dir, MOEGEN, PROBE_DATASET, path);
    cr_assert_eq(sh(cmd, out, sizeof out), 0, "%s", out);
    cr_assert_str_eq(out, "humaneval (base tests)\npass@1:\t1.000\n"
                          "humaneval+ (base + extra tests)\npass@1:\t1.000\n");
    char res[300];
    snprintf(res, sizeof res, "%s/run.eval_results.json", dir);
    cr_assert_eq(access(res, R_OK), 0);
    /* A second run loads the existing file instead of re-running. */
    cr_assert_eq(sh(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "pass@1:\t1.000") != NULL);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(cli_evaluate, bad_input_is_one_line_and_exit_2)
{
    char dir[] = "/tmp/mg-evcli-XXXXXX", cmd[2048], out[8192], path[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/part.jsonl", dir);
    write_text(path, G_OK "\n");
    snprintf(cmd, sizeof cmd,
             "%s evaluate --dataset humaneval --dataset-path %s --samples %s --quiet", MOEGEN,
             PROBE_DATASET, path);
    cr_assert_eq(sh(cmd, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "moegen evaluate: ") == out, "%s", out);
    cr_assert(strstr(out, "1 task(s) of the dataset have no sample: HumanEval/0\n") != NULL, "%s",
              out);
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "not one line: %s", out);
    snprintf(path, sizeof path, "%s/x.json", dir);
    snprintf(cmd, sizeof cmd, "%s evaluate --dataset humaneval --samples %s", MOEGEN, path);
    cr_assert_eq(sh(cmd, out, sizeof out), 2);
    cr_assert(strstr(out, "moegen evaluate: --samples: '") == out, "%s", out);
    cr_assert(strstr(out, "' is not a .jsonl file\n") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "%s evaluate --dataset humaneval", MOEGEN);
    cr_assert_eq(sh(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s evaluate --dataset nope --samples a.jsonl", MOEGEN);
    cr_assert_eq(sh(cmd, out, sizeof out), 2);
    cr_assert(strstr(out, "--dataset: 'nope'") != NULL, "%s", out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(cli_sanitize, writes_the_sanitized_file)
{
    char dir[] = "/tmp/mg-evcli-XXXXXX", cmd[2048], out[8192], path[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/chat.jsonl", dir);
    char *a = ev_record("HumanEval/0", "Sure:\n```python\ndef f(x):\n    return x\n```\nDone.");
    char text[1024];
    snprintf(text, sizeof text, "%s\n%s\n", a,
             "{\"task_id\": \"HumanEval/1\", \"completion\": \"    return a / b\\n\"}");
    free(a);
    write_text(path, text);
    snprintf(cmd, sizeof cmd, "%s sanitize --samples %s --dataset humaneval --dataset-path %s",
             MOEGEN, path, PROBE_DATASET);
    cr_assert_eq(sh(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "Sanitized 2 out of 2 files.") != NULL, "%s", out);
    char res[300], buf[2048] = {0};
    snprintf(res, sizeof res, "%s/chat-sanitized.jsonl", dir);
    FILE *f = fopen(res, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    /* completion records become prompt + "\n" + completion, then sanitized */
    cr_assert_str_eq(buf,
                     "{\"task_id\": \"HumanEval/0\", \"solution\": \"def f(x):\\n    return x\"}\n"
                     "{\"task_id\": \"HumanEval/1\", \"solution\": \"def g(a, b):\\n    "
                     "\\\"\\\"\\\"Returns a / b.\\\"\\\"\\\"\\n\\n    return a / b\"}\n");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A custom HumanEval-format dataset (the embedded example) is scored with its
 * own test + check(entry_point); the path may be relative. */
Test(cli_evaluate, custom_dataset_runs_its_own_tests)
{
    mg_dataset ds;
    mg_error err = {0};
    cr_assert_eq(mg_dataset_read_file(MG_SOURCE_DIR "/examples/tasks.jsonl", "custom", &ds, &err),
                 0, "%s", err.msg);
    char dir[] = "/tmp/mg-evcli-XXXXXX", cmd[4096], out[8192], path[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/run.jsonl", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (size_t i = 0; i < ds.n_tasks; i++) {
        const mg_task *t = &ds.tasks[i];
        char sol[8192];
        /* The second task gets a wrong body: 7 of 8 pass. */
        snprintf(sol, sizeof sol, "%s%s", t->prompt,
                 i == 1 ? "    return None\n" : t->canonical_solution);
        char *rec = ev_record(t->task_id, sol);
        fprintf(f, "%s\n", rec);
        free(rec);
    }
    fclose(f);
    cr_assert_eq(ds.n_tasks, 8);
    mg_dataset_free(&ds);
    snprintf(cmd, sizeof cmd,
             "cd %s && %s evaluate --dataset custom --dataset-path examples/tasks.jsonl "
             "--samples %s --parallel 2 --quiet",
             MG_SOURCE_DIR, MOEGEN, path);
    cr_assert_eq(sh(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "pass@1:\t0.875"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s evaluate --dataset custom --samples %s", MOEGEN, path);
    cr_assert_eq(sh(cmd, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "--dataset custom needs --dataset-path"), "%s", out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
