/* test_codegen.c — `moegen codegen` end to end: worker processes over shm
 * rings on a tiny fixture model (tests/fixtures/models/peft-lora: a LoRA
 * adapter on a 2-layer llama with a byte-level BPE tokenizer) and a slice of
 * HumanEval+ from ../shared.
 *
 *   - EvalPlus format: names, records, every selected task present, in order;
 *   - SIGKILL the coordinator at 5 random moments, resume: byte-identical;
 *   - SIGKILL a worker mid-run: completes, nothing lost or duplicated;
 *   - SIGINT: exit 130, resume: byte-identical;
 *   - 1 vs 3 workers (and batch sizes) byte-identical; shards + merge too;
 *   - nothing left in /dev/shm; bad flags exit 2 with one line.
 * The reference for "identical" is an uninterrupted run with --seed. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mg_dataset.h"
#include "pipeline_test_util.h"

#define MOEGEN    MG_BINARY_DIR "/moegen"
#define MODEL     MG_SOURCE_DIR "/tests/fixtures/models/peft-lora"
#define HEPLUS    MG_SHARED_DIR "/datasets/HumanEvalPlus-v0.1.10.jsonl.gz"
#define N_TASKS   6
#define N_SAMPLES 2

static void need_shared(void)
{
    if (access(HEPLUS, R_OK) != 0) cr_skip_test("needs ../shared/datasets/HumanEvalPlus-v0.1.10");
}

/* Starts `moegen codegen` on the standard slice with extra flags; stdout and
 * stderr go to <root>.log. */
static pid_t start(const char *root, const char *const *extra)
{
    const char *argv[64];
    int a = 0;
    const char *base[] = {MOEGEN,
                          "codegen",
                          "--model",
                          MODEL,
                          "--dataset",
                          "humaneval",
                          "--dataset-path",
                          HEPLUS,
                          "--id-range",
                          "0,6",
                          "--n-samples",
                          "2",
                          "--temperature",
                          "0.8",
                          "--seed",
                          "11",
                          "--max-new-tokens",
                          "24",
                          "--strategies",
                          "base,single:0",
                          "--root",
                          root,
                          NULL};
    for (int i = 0; base[i]; i++) argv[a++] = base[i];
    for (int i = 0; extra && extra[i]; i++) argv[a++] = extra[i];
    argv[a] = NULL;
    return pl_spawn(argv, root, NULL, -1);
}

static int run(const char *root, const char *const *extra)
{
    return pl_wait_status(start(root, extra));
}

/* Names of the .jsonl files (sorted) under <root>/humaneval. */
static int list_outputs(const char *root, char names[][512], int cap)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/humaneval", root);
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort), k = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(ents[i]->d_name);
        if (l > 6 && !strcmp(ents[i]->d_name + l - 6, ".jsonl") && k < cap)
            snprintf(names[k++], 512, "%s", ents[i]->d_name);
        free(ents[i]);
    }
    if (n > 0) free(ents);
    return k;
}

/* Every .jsonl (sanitized and raw) of `a` equals the one in `b`, byte for byte. */
static void assert_same_outputs(const char *a, const char *b)
{
    char na[16][512], nb[16][512];
    int ka = list_outputs(a, na, 16), kb = list_outputs(b, nb, 16);
    cr_assert_eq(ka, 4, "two strategies, two files each (got %d in %s)", ka, a);
    cr_assert_eq(ka, kb);
    for (int i = 0; i < ka; i++) {
        cr_assert_str_eq(na[i], nb[i]);
        char pa[1100], pb[1100];
        snprintf(pa, sizeof pa, "%s/humaneval/%s", a, na[i]);
        snprintf(pb, sizeof pb, "%s/humaneval/%s", b, nb[i]);
        size_t la, lb;
        char *x = pl_slurp(pa, &la), *y = pl_slurp(pb, &lb);
        cr_assert(x && y);
        cr_assert(la == lb && !memcmp(x, y, la), "%s differs from %s", pa, pb);
        free(x);
        free(y);
    }
}

/* Segments of dead processes that were already there when the test began
 * (an earlier crash on this machine) are not this test's doing. */
static char shm_before[256][96];
static int n_shm_before;

static void shm_snapshot(void)
{
    DIR *d = opendir("/dev/shm");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && n_shm_before < 256)
        if (!strncmp(e->d_name, "moegen-", 7))
            snprintf(shm_before[n_shm_before++], sizeof shm_before[0], "%s", e->d_name);
    closedir(d);
}

static int shm_leftovers(void)
{
    DIR *d = opendir("/dev/shm");
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    /* Only segments of processes that no longer exist count: other tests
     * may run at the same time. */
    while ((e = readdir(d))) {
        long pid;
        if (sscanf(e->d_name, "moegen-%ld-", &pid) != 1 || kill((pid_t)pid, 0) == 0) continue;
        bool old = false;
        for (int i = 0; i < n_shm_before && !old; i++) old = !strcmp(shm_before[i], e->d_name);
        n += !old;
    }
    closedir(d);
    return n;
}

TestSuite(pipeline, .init = shm_snapshot);

static void reference(char **root)
{
    *root = pl_make_dir("mg-pipeline");
    cr_assert_eq(run(*root, NULL), 0, "reference run failed (see %s.log)", *root);
}

Test(pipeline, evalplus_format_two_workers, .timeout = 300)
{
    need_shared();
    char *root = pl_make_dir("mg-pipeline");
    const char *extra[] = {"--workers", "2", NULL};
    cr_assert_eq(run(root, extra), 0, "see %s.log", root);
    char names[16][512];
    int k = list_outputs(root, names, 16);
    cr_assert_eq(k, 4);
    /* File names: EvalPlus's id with the strategy joined to the model part. */
    cr_assert(strstr(names[0], "peft-lora--base_hf_temp_0.8.jsonl"), "%s", names[0]);
    cr_assert(strstr(names[1], "peft-lora--base_hf_temp_0.8.raw.jsonl"), "%s", names[1]);
    cr_assert(strstr(names[2], "peft-lora--single-0_hf_temp_0.8.jsonl"), "%s", names[2]);

    mg_dataset ds;
    mg_error err = {0};
    mg_dataset_params dp = mg_dataset_default_params();
    dp.name = "humaneval";
    dp.path = HEPLUS;
    dp.id_range = "0,6";
    cr_assert_eq(mg_dataset_open(&dp, &ds, &err), 0, "%s", err.msg);
    cr_assert_eq(ds.n_tasks, N_TASKS);
    for (int f = 0; f < k; f++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/humaneval/%s", root, names[f]);
        char *text = pl_slurp(path, NULL);
        char *line = text, *nl;
        int i = 0;
        while ((nl = strchr(line, '\n'))) {
            *nl = 0;
            /* Exactly {"task_id": ..., "solution": ...} in that order, json.dumps spacing. */
            cr_assert(!strncmp(line, "{\"task_id\": \"", 13), "%s:%d: %s", path, i + 1, line);
            cr_assert(strstr(line, "\", \"solution\": \""), "%s:%d", path, i + 1);
            json_error_t je;
            json_t *j = json_loads(line, 0, &je);
            cr_assert_not_null(j, "%s:%d: %s", path, i + 1, je.text);
            cr_assert_eq(json_object_size(j), 2);
            const mg_task *t = &ds.tasks[i / N_SAMPLES];
            cr_assert_str_eq(json_string_value(json_object_get(j, "task_id")), t->task_id,
                             "%s:%d: tasks in dataset order, n consecutive lines each", path,
                             i + 1);
            /* Direct completion (no chat template): the raw solution is
             * prompt.strip() + "\n" + ...; the .jsonl holds it sanitized
             * (test_codegen_sanitize.c checks that against moegen sanitize). */
            const char *sol = json_string_value(json_object_get(j, "solution"));
            size_t s0, s1;
            mg_py_strip(t->prompt, strlen(t->prompt), &s0, &s1);
            if (strstr(names[f], ".raw.jsonl")) {
                cr_assert(!strncmp(sol, t->prompt + s0, s1 - s0) && sol[s1 - s0] == '\n',
                          "%s:%d: solution starts with the prompt", path, i + 1);
                cr_assert_null(strchr(sol + (s1 - s0), '\t'), "tabs become spaces");
            }
            json_decref(j);
            line = nl + 1;
            i++;
        }
        cr_assert_eq(*line, 0, "%s ends with a newline", path);
        cr_assert_eq(i, N_TASKS * N_SAMPLES, "%s: %d records", path, i);
        free(text);
    }
    /* The summary JSON sits next to each output. */
    char sp[1100];
    snprintf(sp, sizeof sp, "%s/humaneval/%.*s.summary.json", root,
             (int)(strlen(names[0]) - strlen(".jsonl")), names[0]);
    json_error_t je;
    json_t *s = json_load_file(sp, 0, &je);
    cr_assert_not_null(s, "%s: %s", sp, je.text);
    cr_assert_eq(json_integer_value(json_object_get(s, "samples")), N_TASKS * N_SAMPLES);
    cr_assert_str_eq(json_string_value(json_object_get(s, "strategy")), "base");
    json_decref(s);
    mg_dataset_free(&ds);
    cr_assert_eq(shm_leftovers(), 0);

    /* A rerun finds everything cached and changes nothing. */
    char *again = pl_slurp(sp, NULL);
    cr_assert_eq(run(root, extra), 0);
    free(again);
    char *ref;
    reference(&ref);
    assert_same_outputs(root, ref);
    pl_remove_dir(root);
    pl_remove_dir(ref);
}

Test(pipeline, one_vs_three_workers_identical, .timeout = 300)
{
    need_shared();
    char *ref;
    reference(&ref); /* 1 worker, batch 8 */
    char *root = pl_make_dir("mg-pipeline");
    const char *extra[] = {"--workers", "3", "--batch-size", "1", NULL};
    cr_assert_eq(run(root, extra), 0, "see %s.log", root);
    assert_same_outputs(ref, root);
    cr_assert_eq(shm_leftovers(), 0);
    pl_remove_dir(ref);
    pl_remove_dir(root);
}

Test(pipeline, sigkill_coordinator_five_times_then_resume, .timeout = 600)
{
    need_shared();
    char *ref = pl_make_dir("mg-pipeline");
    double t0 = pl_now();
    const char *extra[] = {"--workers", "2", "--batch-size", "2", NULL};
    cr_assert_eq(run(ref, extra), 0);
    double dur = pl_now() - t0;
    char *root = pl_make_dir("mg-pipeline");
    unsigned seed = 12345;
    for (int k = 0; k < 5; k++) {
        pid_t pid = start(root, extra);
        seed = seed * 1103515245u + 12345u;
        /* A moment anywhere from start-up to near the end of a full run. */
        double frac = 0.05 + 0.9 * (double)((seed >> 8) % 1000) / 1000.0;
        usleep((useconds_t)(frac * dur * 1e6));
        kill(pid, SIGKILL);
        pl_wait_status(pid);
        usleep(100000); /* workers die with it (PR_SET_PDEATHSIG) */
    }
    cr_assert_eq(run(root, extra), 0, "resume failed (see %s.log)", root);
    assert_same_outputs(ref, root);
    cr_assert_eq(shm_leftovers(), 0);
    pl_remove_dir(ref);
    pl_remove_dir(root);
}

/* Is `pid` a `moegen worker` (not the sanitizer's sandbox, also a child)? */
static bool is_worker(int pid)
{
    char p[64], cmd[256];
    snprintf(p, sizeof p, "/proc/%d/cmdline", pid);
    FILE *f = fopen(p, "r");
    if (!f) return false;
    size_t n = fread(cmd, 1, sizeof cmd - 1, f);
    fclose(f);
    cmd[n] = 0;
    size_t a0 = strlen(cmd);
    return a0 + 1 < n && !strcmp(cmd + a0 + 1, "worker");
}

/* Children of `parent` that are workers. */
static int worker_pids(pid_t parent, pid_t *out, int cap)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < cap) {
        char p[300];
        snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        int pid, ppid;
        char comm[64], state;
        bool child = fscanf(f, "%d (%63[^)]) %c %d", &pid, comm, &state, &ppid) == 4 &&
                     ppid == parent && state != 'Z';
        fclose(f);
        if (child && is_worker(pid)) out[n++] = pid;
    }
    if (d) closedir(d);
    return n;
}

/* Lines written so far to the raw file of the "base" strategy (0 when absent). */
static int raw_lines(const char *root)
{
    char names[16][512];
    int k = list_outputs(root, names, 16), n = 0;
    for (int i = 0; i < k; i++) {
        if (!strstr(names[i], "--base_") || !strstr(names[i], ".raw.jsonl")) continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/humaneval/%s", root, names[i]);
        char *t = pl_slurp(p, NULL);
        for (char *c = t; c && *c; c++) n += *c == '\n';
        free(t);
    }
    return n;
}

Test(pipeline, sigkill_worker_mid_run, .timeout = 300)
{
    need_shared();
    char *ref;
    reference(&ref);
    char *root = pl_make_dir("mg-pipeline");
    const char *extra[] = {"--workers", "2", "--batch-size", "2", NULL};
    pid_t pid = start(root, extra);
    pid_t w[8];
    int n = 0;
    for (int i = 0; i < 5000 && n == 0; i++) {
        usleep(1000);
        n = worker_pids(pid, w, 8);
    }
    cr_assert_gt(n, 0, "no worker appeared");
    /* Once as it starts (so a restart surely happens, however fast the
     * machine), then again while samples are being written, if still running. */
    kill(w[0], SIGKILL);
    for (int i = 0; i < 5000 && raw_lines(root) == 0; i++) usleep(1000);
    n = worker_pids(pid, w, 8);
    if (n > 0 && raw_lines(root) < N_TASKS * N_SAMPLES) kill(w[n - 1], SIGKILL);
    cr_assert_eq(pl_wait_status(pid), 0, "the run recovers (see %s.log)", root);
    assert_same_outputs(ref, root);
    char log[600];
    snprintf(log, sizeof log, "%s.log", root);
    char *l = pl_slurp(log, NULL);
    cr_assert(strstr(l, "restarting it"), "the coordinator said it restarted the worker");
    free(l);
    cr_assert_eq(shm_leftovers(), 0);
    pl_remove_dir(ref);
    pl_remove_dir(root);
}

Test(pipeline, sigint_exits_130_and_resumes, .timeout = 300)
{
    need_shared();
    char *ref;
    reference(&ref);
    char *root = pl_make_dir("mg-pipeline");
    pid_t pid = start(root, NULL);
    pid_t w[8];
    for (int i = 0; i < 500 && worker_pids(pid, w, 8) == 0; i++) usleep(2000);
    usleep(200000);
    kill(pid, SIGINT);
    int st = pl_wait_status(pid);
    cr_assert(st == 130 || st == 0, "status %d", st); /* 0: it had already finished */
    cr_assert_eq(run(root, NULL), 0);
    assert_same_outputs(ref, root);
    pl_remove_dir(ref);
    pl_remove_dir(root);
}

Test(pipeline, shards_merge_to_the_unsharded_file, .timeout = 300)
{
    need_shared();
    char *ref;
    reference(&ref);
    char *root = pl_make_dir("mg-pipeline");
    const char *s0[] = {"--shard", "0/2", NULL}, *s1[] = {"--shard", "1/2", NULL};
    cr_assert_eq(run(root, s0), 0);
    cr_assert_eq(run(root, s1), 0);
    char names[16][512];
    int k = list_outputs(root, names, 16);
    cr_assert_eq(k, 8, "2 strategies x 2 shards x (sanitized + raw)");
    /* Merge each strategy's sanitized pair; merge handles the raw twins. */
    char *merged = pl_make_dir("mg-pipeline");
    char mdir[600];
    snprintf(mdir, sizeof mdir, "%s/humaneval", merged);
    mkdir(mdir, 0755);
    char rnames[16][512];
    int rk = list_outputs(ref, rnames, 16);
    for (int i = 0; i < rk; i++) {
        if (strstr(rnames[i], ".raw.jsonl")) continue;
        char stem[512];
        snprintf(stem, sizeof stem, "%.*s", (int)(strlen(rnames[i]) - 6), rnames[i]);
        char in0[1200], in1[1200], out[1200];
        snprintf(in0, sizeof in0, "%s/humaneval/%s_shard-0-of-2.jsonl", root, stem);
        snprintf(in1, sizeof in1, "%s/humaneval/%s_shard-1-of-2.jsonl", root, stem);
        snprintf(out, sizeof out, "%s/humaneval/%s.jsonl", merged, stem);
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            execl(MOEGEN, MOEGEN, "merge", "--output", out, in0, in1, (char *)NULL);
            _exit(127);
        }
        cr_assert_eq(pl_wait_status(pid), 0, "merge %s", stem);
    }
    assert_same_outputs(ref, merged);
    pl_remove_dir(ref);
    pl_remove_dir(root);
    pl_remove_dir(merged);
}

static int run_cli(const char *const *argv, char *errbuf, size_t cap)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 2);
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execv(MOEGEN, (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t n;
    while (got < cap - 1 && (n = read(p[0], errbuf + got, cap - 1 - got)) > 0) got += (size_t)n;
    errbuf[got] = 0;
    close(p[0]);
    return pl_wait_status(pid);
}

Test(pipeline, bad_input_exits_2_with_one_line, .timeout = 60)
{
    char e[4096];
    const char *a1[] = {MOEGEN,      "codegen", "--model", MODEL, "--dataset",
                        "humaneval", "--shard", "3/2",     NULL};
    cr_assert_eq(run_cli(a1, e, sizeof e), 2);
    cr_assert(strstr(e, "--shard 3/2"), "%s", e);
    cr_assert_eq(strchr(e, '\n'), e + strlen(e) - 1, "one line: %s", e);
    const char *a2[] = {MOEGEN, "codegen", "--dataset", "humaneval", NULL};
    cr_assert_eq(run_cli(a2, e, sizeof e), 2);
    cr_assert(strstr(e, "--model"), "%s", e);
    char *root = pl_make_dir("mg-pipeline");
    const char *a3[] = {MOEGEN,
                        "codegen",
                        "--model",
                        MODEL,
                        "--dataset",
                        "custom",
                        "--dataset-path",
                        "/nonexistent/tasks.jsonl",
                        "--root",
                        root,
                        NULL};
    cr_assert_eq(run_cli(a3, e, sizeof e), 2);
    cr_assert(strstr(e, "/nonexistent/tasks.jsonl"), "%s", e);
    const char *a4[] = {MOEGEN, "merge", "--output", "/tmp/x.jsonl", NULL};
    cr_assert_eq(run_cli(a4, e, sizeof e), 2);
    /* The backend is part of a file name. */
    const char *a5[] = {MOEGEN,   "codegen", "--model",   MODEL, "--dataset", "humaneval",
                        "--root", root,      "--backend", "a/b", NULL};
    cr_assert_eq(run_cli(a5, e, sizeof e), 2);
    cr_assert(strstr(e, "--backend 'a/b'"), "%s", e);
    cr_assert_eq(strchr(e, '\n'), e + strlen(e) - 1, "one line: %s", e);
    /* A range error names the one flag and its range. */
    const char *a6[] = {MOEGEN,   "codegen", "--model",   MODEL, "--dataset", "humaneval",
                        "--root", root,      "--workers", "0",   NULL};
    cr_assert_eq(run_cli(a6, e, sizeof e), 2);
    cr_assert(strstr(e, "--workers 0: out of range 1..256"), "%s", e);
    cr_assert_null(strstr(e, "n-samples"), "%s", e);
    const char *a7[] = {MOEGEN,   "codegen", "--model",    MODEL, "--dataset", "humaneval",
                        "--root", root,      "--task-ids", "",    NULL};
    cr_assert_eq(run_cli(a7, e, sizeof e), 2);
    cr_assert(strstr(e, "--task-ids '': no task id given"), "%s", e);
    const char *g1[] = {MOEGEN, "generate",  "--model", MODEL, "--prompt",
                        "x",    "--threads", "100000",  NULL};
    cr_assert_eq(run_cli(g1, e, sizeof e), 2);
    cr_assert(strstr(e, "--threads 100000: out of range 0..1024"), "%s", e);
    cr_assert_null(strstr(e, "top-k"), "%s", e);
    const char *b1[] = {MOEGEN, "bench", "--model", MODEL, "--gen-tokens", "1", NULL};
    cr_assert_eq(run_cli(b1, e, sizeof e), 2);
    cr_assert(strstr(e, "--gen-tokens 1: out of range 2..100000"), "%s", e);
    cr_assert_eq(strchr(e, '\n'), e + strlen(e) - 1, "one line: %s", e);
    pl_remove_dir(root);
}

/* A copy of the llama fixture whose tokenizer has a chat template: codegen
 * must build chat prompts (solution = completion only) unless
 * --force-base-prompt asks for direct completion (solution = prompt + ...). */
Test(pipeline, chat_template_and_force_base_prompt, .timeout = 300)
{
    need_shared();
    char *m = pl_chat_model();
    for (int force = 0; force < 2; force++) {
        char *root = pl_make_dir("mg-pipeline");
        const char *argv[] = {MOEGEN,
                              "codegen",
                              "--model",
                              m,
                              "--dataset",
                              "humaneval",
                              "--dataset-path",
                              HEPLUS,
                              "--id-range",
                              "0,2",
                              "--greedy",
                              "--max-new-tokens",
                              "8",
                              "--root",
                              root,
                              "--quiet",
                              force ? "--force-base-prompt" : NULL,
                              NULL};
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            execv(MOEGEN, (char *const *)argv);
            _exit(127);
        }
        cr_assert_eq(pl_wait_status(pid), 0);
        char names[4][512];
        cr_assert_eq(list_outputs(root, names, 4), 2);
        char path[1200];
        snprintf(path, sizeof path, "%s/humaneval/%s", root, names[1]); /* the raw file */
        cr_assert(strstr(names[1], ".raw.jsonl"), "%s", names[1]);
        char *text = pl_slurp(path, NULL);
        bool starts_with_prompt = strstr(text, "\"solution\": \"from typing import List") != NULL;
        cr_assert_eq(starts_with_prompt, force == 1, "force=%d: %.200s", force, text);
        free(text);
        pl_remove_dir(root);
    }
    pl_remove_dir(m);
}

/* Copies every .jsonl of `from` into `to` (same names). */
static void copy_outputs(const char *from, const char *to)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/humaneval' && cp '%s'/humaneval/*.jsonl '%s/humaneval/'", to, from, to);
    cr_assert_eq(system(cmd), 0);
}

/* A crash between the raw and the sanitized append, and torn last lines:
 * the rerun cuts both files back to the same whole records and regenerates. */
Test(pipeline, uneven_and_torn_files_are_repaired, .timeout = 300)
{
    need_shared();
    char *ref;
    reference(&ref);
    char *root = pl_make_dir("mg-pipeline");
    copy_outputs(ref, root);
    char names[16][512];
    int k = list_outputs(root, names, 16);
    cr_assert_eq(k, 4);
    for (int i = 0; i < k; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/humaneval/%s", root, names[i]);
        size_t len;
        char *t = pl_slurp(p, &len);
        /* Sanitized files lose their last 3 records and get half a line; raw
         * files lose 2 records and end torn: the raw one is ahead by one. */
        bool raw = strstr(names[i], ".raw.jsonl") != NULL;
        size_t end = len;
        for (int cut = 0; cut < (raw ? 2 : 3); cut++) {
            end--;
            while (end > 0 && t[end - 1] != '\n') end--;
        }
        size_t torn = end + 17;
        cr_assert_eq(truncate(p, (off_t)torn), 0);
        free(t);
    }
    cr_assert_eq(run(root, NULL), 0, "see %s.log", root);
    assert_same_outputs(ref, root);
    pl_remove_dir(ref);
    pl_remove_dir(root);
}
