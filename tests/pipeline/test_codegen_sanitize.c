/* test_codegen_sanitize.c — codegen's <id>.jsonl holds the sanitized solutions
 * and <id>.raw.jsonl the raw ones, as evalplus.codegen writes them:
 *
 *   - chat prompts (the llama fixture with a chat template) and base prompts
 *     (the peft-lora fixture): the .jsonl is byte for byte what
 *     `moegen sanitize` makes of the .raw.jsonl, computed independently;
 *   - a chat run SIGKILLed at random moments and resumed ends with both files
 *     byte-identical to an uninterrupted run's;
 *   - no python3: exit 2 with one line before any worker starts, no files;
 *   - a sanitizer that crashes or hangs stops the run with a clear error.
 * Needs ../shared for the HumanEval+ slice (skips without it). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../fake_python.h"
#include "mg_coordinator.h"
#include "pipeline_test_util.h"

#define MOEGEN MG_BINARY_DIR "/moegen"
#define PEFT   MG_SOURCE_DIR "/tests/fixtures/models/peft-lora"
#define HEPLUS MG_SHARED_DIR "/datasets/HumanEvalPlus-v0.1.10.jsonl.gz"

static void need_shared(void)
{
    if (access(HEPLUS, R_OK) != 0) cr_skip_test("needs ../shared/datasets/HumanEvalPlus-v0.1.10");
}

/* Starts `moegen codegen` on HumanEval/0..5, 2 samples each, seeded; output
 * and errors go to <root>.log (or to `errfd` when >= 0). envp NULL: ours. */
static pid_t start(const char *model, const char *root, const char *const *extra, char *const *envp,
                   int errfd)
{
    const char *argv[48] = {
        MOEGEN,           "codegen", "--model",    model, "--dataset",        "humaneval",
        "--dataset-path", HEPLUS,    "--id-range", "0,6", "--n-samples",      "2",
        "--temperature",  "0.8",     "--seed",     "3",   "--max-new-tokens", "64",
        "--root",         root,      "--quiet"};
    int a = 21;
    for (int i = 0; extra && extra[i]; i++) argv[a++] = extra[i];
    argv[a] = NULL;
    return pl_spawn(argv, root, envp, errfd);
}

/* <root>/humaneval/<stem><suffix> for the output of `model` (named as typed). */
static void out_path(char *buf, size_t cap, const char *root, const char *model, const char *suffix)
{
    const char *m = model;
    while (*m == '/' || *m == '.') m++;
    char stem[600];
    size_t k = 0;
    for (; *m && k + 3 < sizeof stem; m++) {
        if (*m == '/') {
            stem[k++] = '-';
            stem[k++] = '-';
        } else {
            stem[k++] = *m;
        }
    }
    stem[k] = 0;
    snprintf(buf, cap, "%s/humaneval/%s_hf_temp_0.8%s", root, stem, suffix);
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *c = text; c && *c; c++) n += *c == '\n';
    return n;
}

/* The .jsonl equals `moegen sanitize` of the .raw.jsonl; returns how many
 * records the sanitizer changed. */
static int check_sanitized(const char *root, const char *model)
{
    char raw[1200], clean[1200], indep[1200];
    out_path(raw, sizeof raw, root, model, ".raw.jsonl");
    out_path(clean, sizeof clean, root, model, ".jsonl");
    out_path(indep, sizeof indep, root, model, ".raw-sanitized.jsonl");
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execl(MOEGEN, MOEGEN, "sanitize", "--samples", raw, "--dataset", "humaneval",
              "--dataset-path", HEPLUS, (char *)NULL);
        _exit(127);
    }
    cr_assert_eq(pl_wait_status(pid), 0, "moegen sanitize %s", raw);
    size_t la, lb;
    char *a = pl_slurp(clean, &la), *b = pl_slurp(indep, &lb), *r = pl_slurp(raw, NULL);
    cr_assert(a && b && r, "%s", clean);
    cr_assert_eq(count_lines(a), 12, "%s", clean);
    cr_assert(la == lb && !memcmp(a, b, la), "%s is not moegen sanitize of its raw twin", clean);
    int changed = 0;
    for (char *x = a, *y = r; *x && *y;) {
        char *nx = strchr(x, '\n'), *ny = strchr(y, '\n');
        changed += (nx - x) != (ny - y) || memcmp(x, y, (size_t)(nx - x)) != 0;
        x = nx + 1;
        y = ny + 1;
    }
    free(a);
    free(b);
    free(r);
    return changed;
}

Test(codegen_sanitize, chat_jsonl_is_the_sanitized_raw_file, .timeout = 300)
{
    need_shared();
    char *m = pl_chat_model(), *root = pl_make_dir("mg-cgsan");
    const char *extra[] = {"--workers", "2", NULL};
    cr_assert_eq(pl_wait_status(start(m, root, extra, NULL, -1)), 0, "see %s.log", root);
    int changed = check_sanitized(root, m);
    /* The fixture's random text is rarely code: with this seed the sanitizer
     * cuts 3 of the 12 (multi-line) answers, so a .jsonl that skipped it fails. */
    cr_assert_gt(changed, 0, "no record was changed by the sanitizer");
    char raw[1200];
    out_path(raw, sizeof raw, root, m, ".raw.jsonl");
    char *r = pl_slurp(raw, NULL);
    cr_assert_null(strstr(r, "\"solution\": \"from typing import List"),
                   "chat solutions are the completion only");
    free(r);
    pl_remove_dir(root);
    pl_remove_dir(m);
}

Test(codegen_sanitize, base_jsonl_is_the_sanitized_raw_file, .timeout = 300)
{
    need_shared();
    char *root = pl_make_dir("mg-cgsan");
    cr_assert_eq(pl_wait_status(start(PEFT, root, NULL, NULL, -1)), 0, "see %s.log", root);
    check_sanitized(root, PEFT);
    pl_remove_dir(root);
}

Test(codegen_sanitize, chat_killed_and_resumed_matches_uninterrupted, .timeout = 600)
{
    need_shared();
    char *m = pl_chat_model(), *ref = pl_make_dir("mg-cgsan"), *root = pl_make_dir("mg-cgsan");
    const char *extra[] = {"--workers", "2", "--batch-size", "2", NULL};
    double t0 = pl_now();
    cr_assert_eq(pl_wait_status(start(m, ref, extra, NULL, -1)), 0, "see %s.log", ref);
    double dur = pl_now() - t0;
    unsigned seed = 777;
    for (int k = 0; k < 4; k++) {
        pid_t pid = start(m, root, extra, NULL, -1);
        seed = seed * 1103515245u + 12345u;
        double frac = 0.1 + 0.85 * (double)((seed >> 8) % 1000) / 1000.0;
        usleep((useconds_t)(frac * dur * 1e6));
        kill(pid, SIGKILL);
        pl_wait_status(pid);
        usleep(100000); /* workers and the sanitizer die with it (PR_SET_PDEATHSIG) */
    }
    cr_assert_eq(pl_wait_status(start(m, root, extra, NULL, -1)), 0, "resume (see %s.log)", root);
    const char *suffixes[] = {".jsonl", ".raw.jsonl"};
    for (int i = 0; i < 2; i++) {
        char pa[1200], pb[1200];
        out_path(pa, sizeof pa, ref, m, suffixes[i]);
        out_path(pb, sizeof pb, root, m, suffixes[i]);
        size_t la, lb;
        char *a = pl_slurp(pa, &la), *b = pl_slurp(pb, &lb);
        cr_assert(a && b);
        cr_assert(la == lb && !memcmp(a, b, la), "%s differs from %s", pb, pa);
        free(a);
        free(b);
    }
    cr_assert_gt(check_sanitized(root, m), 0);
    pl_remove_dir(ref);
    pl_remove_dir(root);
    pl_remove_dir(m);
}

Test(codegen_sanitize, no_python3_fails_up_front_with_one_line, .timeout = 120)
{
    need_shared();
    char *m = pl_chat_model(), *root = pl_make_dir("mg-cgsan");
    int p[2];
    cr_assert_eq(pipe(p), 0);
    char *envp[] = {"PATH=/nonexistent", NULL};
    pid_t pid = start(m, root, NULL, envp, p[1]);
    close(p[1]);
    char e[4096];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof e - 1 && (n = read(p[0], e + got, sizeof e - 1 - got)) > 0)
        got += (size_t)n;
    e[got] = 0;
    close(p[0]);
    cr_assert_eq(pl_wait_status(pid), 2, "%s", e);
    cr_assert(strstr(e, "python3") && strstr(e, "--python PATH"), "%s", e);
    cr_assert_eq(strchr(e, '\n'), e + strlen(e) - 1, "one line: %s", e);
    char path[1200];
    out_path(path, sizeof path, root, m, ".jsonl");
    cr_assert_neq(access(path, F_OK), 0, "a failed run leaves no empty files");
    pl_remove_dir(root);
    pl_remove_dir(m);
}

/* A fake interpreter (../fake_python.h) named python3 in `dir`. */
static char *fake_python(const char *dir, const char *body)
{
    char *path = malloc(strlen(dir) + 16);
    sprintf(path, "%s/python3", dir);
    write_fake_python(path, body);
    return path;
}

Test(codegen_sanitize, a_crashing_sanitizer_stops_the_run, .timeout = 120)
{
    need_shared();
    char *m = pl_chat_model(), *root = pl_make_dir("mg-cgsan");
    char *py = fake_python(m, "read line <&3\necho 'Traceback: boom' >&2\nexit 3");
    const char *extra[] = {"--python", py, NULL};
    cr_assert_eq(pl_wait_status(start(m, root, extra, NULL, -1)), 1, "see %s.log", root);
    char log[600];
    snprintf(log, sizeof log, "%s.log", root);
    char *l = pl_slurp(log, NULL);
    cr_assert(strstr(l, "exited with status 3") && strstr(l, "Traceback: boom"), "%s", l);
    free(l);
    char path[1200];
    out_path(path, sizeof path, root, m, ".jsonl");
    cr_assert_neq(access(path, F_OK), 0, "nothing was written, nothing is left");
    free(py);
    pl_remove_dir(root);
    pl_remove_dir(m);
}

Test(codegen_sanitize, a_hung_sanitizer_stops_the_run, .timeout = 120)
{
    need_shared();
    signal(SIGPIPE, SIG_IGN);
    char *m = pl_chat_model(), *root = pl_make_dir("mg-cgsan");
    char *py = fake_python(m, "exec sleep 600");
    mg_codegen_params p = mg_codegen_default_params();
    p.model = m;
    p.dataset = "humaneval";
    p.dataset_path = HEPLUS;
    p.id_range = "0,2";
    p.greedy = true;
    p.max_new_tokens = 8;
    p.root = root;
    p.exe = MOEGEN;
    p.quiet = true;
    p.python = py;
    p.sanitize_timeout_s = 1;
    mg_error err = {0};
    double t0 = pl_now();
    int rc = mg_codegen_run(&p, NULL, &err);
    cr_assert_eq(rc, MG_ETIMEDOUT, "%d: %s", rc, err.msg);
    cr_assert(strstr(err.msg, "gave no answer in 1 s for HumanEval/0 sample 0"), "%s", err.msg);
    cr_assert_lt(pl_now() - t0, 60.0);
    free(py);
    pl_remove_dir(root);
    pl_remove_dir(m);
}
