/* test_coordinator.c — the coordinator library without a model: crash
 * handling with a worker program that dies at once, and shard merging's
 * refusals. (End-to-end runs are in test_codegen.c.) */
#include "mg_coordinator.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmpdir(void)
{
    char *d = strdup("/tmp/mg-coord-XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void rm_tree(char *d)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    cr_assert_eq(system(cmd), 0);
    free(d);
}

Test(coordinator, crashing_workers_stop_the_run, .timeout = 60)
{
    signal(SIGPIPE, SIG_IGN);
    char *d = tmpdir();
    char tasks[600], exe[600], root[600];
    snprintf(tasks, sizeof tasks, "%s/tasks.jsonl", d);
    snprintf(exe, sizeof exe, "%s/fake-moegen", d);
    snprintf(root, sizeof root, "%s/out", d);
    write_file(tasks, "{\"task_id\": \"T/0\", \"prompt\": \"def f():\\n\"}\n", 0644);
    /* Started as `fake-moegen worker ...`: says something and dies. */
    write_file(exe, "#!/bin/sh\necho 'fake worker: no model here' >&2\nexit 3\n", 0755);
    mg_codegen_params p = mg_codegen_default_params();
    p.model = d;
    p.dataset = "custom";
    p.dataset_path = tasks;
    p.root = root;
    p.n_workers = 2;
    p.exe = exe;
    p.quiet = true;
    mg_error err = {0};
    mg_codegen_result res;
    int rc = mg_codegen_run(&p, &res, &err);
    cr_assert_eq(rc, MG_ECHILD, "%s", err.msg);
    cr_assert(strstr(err.msg, "exited with status 3, 3 times in a row"), "%s", err.msg);
    cr_assert_eq(res.samples_written, 0);
    /* Nothing was generated: the files this run created are gone again. */
    char out[900];
    snprintf(out, sizeof out, "%s/custom", root);
    DIR *dir = opendir(out);
    cr_assert_not_null(dir);
    struct dirent *e;
    while ((e = readdir(dir))) cr_assert(e->d_name[0] == '.', "left behind: %s", e->d_name);
    closedir(dir);
    rm_tree(d);
}

Test(coordinator, output_ids_name_strategy_and_shard)
{
    mg_codegen_params p = mg_codegen_default_params();
    p.model = "./runs/best_model/";
    p.temperature = 0.8;
    char *id = mg_codegen_output_id(&p, NULL);
    cr_assert_str_eq(id, "runs--best_model_hf_temp_0.8");
    free(id);
    id = mg_codegen_output_id(&p, "single:1");
    cr_assert_str_eq(id, "runs--best_model--single-1_hf_temp_0.8");
    free(id);
    p.shard_index = 2;
    p.shard_count = 4;
    p.backend = "vllm";
    p.temperature = 0;
    id = mg_codegen_output_id(&p, "router");
    cr_assert_str_eq(id, "runs--best_model--router_vllm_temp_0.0_shard-2-of-4");
    free(id);
    /* --temperature as typed: an int stays an int, as EvalPlus (python-fire). */
    p.shard_count = 1;
    p.temperature = 1;
    p.temperature_arg = "1";
    id = mg_codegen_output_id(&p, NULL);
    cr_assert_str_eq(id, "runs--best_model_vllm_temp_1");
    free(id);
    p.temperature_arg = "1.0";
    id = mg_codegen_output_id(&p, NULL);
    cr_assert_str_eq(id, "runs--best_model_vllm_temp_1.0");
    free(id);
}

#define REC(t, s) "{\"task_id\": \"" t "\", \"solution\": \"" s "\"}\n"

Test(coordinator, merge_interleaves_and_refuses_bad_shards)
{
    char *d = tmpdir();
    char s0[600], s1[600], out[600];
    snprintf(s0, sizeof s0, "%s/a_shard-0-of-2.jsonl", d);
    snprintf(s1, sizeof s1, "%s/a_shard-1-of-2.jsonl", d);
    snprintf(out, sizeof out, "%s/a.jsonl", d);
    write_file(s0, REC("T/0", "x") REC("T/0", "y") REC("T/2", "z") REC("T/2", "w"), 0644);
    write_file(s1, REC("T/1", "a") REC("T/1", "b"), 0644);
    const char *in[] = {s0, s1};
    mg_error err = {0};
    cr_assert_eq(mg_merge_shards(out, in, 2, &err), 0, "%s", err.msg);
    FILE *f = fopen(out, "r");
    char buf[1024] = {0};
    cr_assert_gt(fread(buf, 1, sizeof buf - 1, f), 0);
    fclose(f);
    cr_assert_str_eq(buf, REC("T/0", "x") REC("T/0", "y") REC("T/1", "a") REC("T/1", "b")
                              REC("T/2", "z") REC("T/2", "w"));
    /* Wrong order: shard 1 given first. */
    const char *rev[] = {s1, s0};
    unlink(out);
    cr_assert_eq(mg_merge_shards(out, rev, 2, &err), MG_EUSAGE);
    cr_assert(strstr(err.msg, "wrong order"), "%s", err.msg);
    cr_assert_neq(access(out, F_OK), 0, "nothing written");
    /* A torn last line. */
    write_file(s1, REC("T/1", "a") "{\"task_id\": \"T/1\", \"sol", 0644);
    cr_assert_eq(mg_merge_shards(out, in, 2, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, "no newline"), "%s", err.msg);
    /* A task split into two runs of lines. */
    write_file(s1, REC("T/1", "a") REC("T/3", "b") REC("T/1", "c"), 0644);
    cr_assert_eq(mg_merge_shards(out, in, 2, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, "two separate runs"), "%s", err.msg);
    /* Not a record. */
    write_file(s1, "[1, 2]\n", 0644);
    cr_assert_eq(mg_merge_shards(out, in, 2, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, ":1: not a sample record"), "%s", err.msg);
    cr_assert_eq(mg_merge_shards(s0, in, 2, &err), MG_EUSAGE);
    rm_tree(d);
}

/* The inputs must be shards 0..N-1 of one run, once each, in order. */
Test(coordinator, merge_refuses_duplicate_missing_and_misnamed_shards)
{
    char *d = tmpdir();
    char s[3][600], out[600], c0[600], c1[600];
    const char *text[3] = {REC("T/0", "x") REC("T/3", "y"), REC("T/1", "a"), REC("T/2", "b")};
    for (int i = 0; i < 3; i++) {
        snprintf(s[i], sizeof s[i], "%s/a_shard-%d-of-3.jsonl", d, i);
        write_file(s[i], text[i], 0644);
    }
    snprintf(out, sizeof out, "%s/a.jsonl", d);
    mg_error err = {0};
    /* The same shard twice. */
    const char *twice[] = {s[0], s[0], s[2]};
    cr_assert_eq(mg_merge_shards(out, twice, 3, &err), MG_EUSAGE);
    cr_assert(strstr(err.msg, "given twice"), "%s", err.msg);
    /* A missing shard: 2 files of 3. */
    const char *missing[] = {s[0], s[2]};
    cr_assert_eq(mg_merge_shards(out, missing, 2, &err), MG_EUSAGE);
    cr_assert(strstr(err.msg, "a_shard-0-of-3.jsonl: shard 0 of 3, but 2 shard file(s)"), "%s",
              err.msg);
    /* Names that disagree with each other. */
    snprintf(c1, sizeof c1, "%s/a_shard-1-of-4.jsonl", d);
    write_file(c1, text[1], 0644);
    const char *mixed[] = {s[0], c1, s[2]};
    cr_assert_eq(mg_merge_shards(out, mixed, 3, &err), MG_EUSAGE);
    cr_assert(strstr(err.msg, "a_shard-1-of-4.jsonl: shard of 4"), "%s", err.msg);
    /* Wrong order. */
    const char *order[] = {s[0], s[2], s[1]};
    cr_assert_eq(mg_merge_shards(out, order, 3, &err), MG_EUSAGE);
    cr_assert(strstr(err.msg, "a_shard-2-of-3.jsonl: shard 2 given at position 1"), "%s", err.msg);
    /* Names without _shard-I-of-N: a copy of shard 0 is caught by its tasks. */
    snprintf(c0, sizeof c0, "%s/copy0.jsonl", d);
    snprintf(c1, sizeof c1, "%s/copy1.jsonl", d);
    write_file(c0, text[0], 0644);
    write_file(c1, text[0], 0644);
    const char *copies[] = {c0, c1};
    cr_assert_eq(mg_merge_shards(out, copies, 2, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, "copy1.jsonl: task T/0 is also in"), "%s", err.msg);
    cr_assert_neq(access(out, F_OK), 0, "nothing written");
    /* The right inputs still merge. */
    const char *ok[] = {s[0], s[1], s[2]};
    cr_assert_eq(mg_merge_shards(out, ok, 3, &err), 0, "%s", err.msg);
    rm_tree(d);
}

/* ---- resume safety: open failures, corrupt files, locks ------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 16);
    cr_assert_not_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

typedef struct resume_case {
    char *d;
    char tasks[600], exe[600], root[600], path[900], raw[900];
    mg_codegen_params p;
} resume_case;

/* A custom dataset of one task, a worker that dies at once, and the paths of
 * the output files (folders made) that `main` and `raw` are written to. */
static void resume_setup(resume_case *c, const char *main_text, const char *raw_text)
{
    signal(SIGPIPE, SIG_IGN);
    c->d = tmpdir();
    snprintf(c->tasks, sizeof c->tasks, "%s/tasks.jsonl", c->d);
    snprintf(c->exe, sizeof c->exe, "%s/fake-moegen", c->d);
    snprintf(c->root, sizeof c->root, "%s/out", c->d);
    write_file(c->tasks, "{\"task_id\": \"T/0\", \"prompt\": \"def f():\\n\"}\n", 0644);
    write_file(c->exe, "#!/bin/sh\necho 'fake worker: no model here' >&2\nexit 3\n", 0755);
    c->p = mg_codegen_default_params();
    c->p.model = c->d;
    c->p.dataset = "custom";
    c->p.dataset_path = c->tasks;
    c->p.root = c->root;
    c->p.n_workers = 1;
    c->p.n_samples = 4;
    c->p.exe = c->exe;
    c->p.quiet = true;
    char *id = mg_codegen_output_id(&c->p, NULL);
    snprintf(c->path, sizeof c->path, "%s/custom/%s.jsonl", c->root, id);
    snprintf(c->raw, sizeof c->raw, "%s/custom/%s.raw.jsonl", c->root, id);
    free(id);
    char dir[700];
    snprintf(dir, sizeof dir, "%s/custom", c->root);
    cr_assert_eq(mkdir(c->root, 0755), 0);
    cr_assert_eq(mkdir(dir, 0755), 0);
    if (main_text) write_file(c->path, main_text, 0644);
    if (raw_text) write_file(c->raw, raw_text, 0644);
}

/* Runs codegen expecting `want` with `msg` in the error, and both files
 * byte for byte as they were. */
static void resume_expect(resume_case *c, int want, const char *msg)
{
    char *before = slurp(c->path), *before_raw = slurp(c->raw);
    mg_error err = {0};
    mg_codegen_result res;
    int rc = mg_codegen_run(&c->p, &res, &err);
    cr_assert_eq(rc, want, "rc %d: %s", rc, err.msg);
    cr_assert(strstr(err.msg, msg), "%s", err.msg);
    char *after = slurp(c->path), *after_raw = slurp(c->raw);
    cr_assert_not_null(after, "%s was removed", c->path);
    cr_assert_not_null(after_raw, "%s was removed", c->raw);
    cr_assert_str_eq(after, before);
    cr_assert_str_eq(after_raw, before_raw);
    free(before);
    free(before_raw);
    free(after);
    free(after_raw);
    rm_tree(c->d);
}

Test(coordinator, resume_refuses_a_garbage_line_and_cuts_nothing, .timeout = 60)
{
    resume_case c;
    resume_setup(&c, REC("T/0", "a") "garbage\n" REC("T/0", "b"),
                 REC("T/0", "a") REC("T/0", "b") REC("T/0", "c"));
    resume_expect(&c, MG_EFORMAT, ":2: malformed JSON");
}

Test(coordinator, resume_refuses_wrong_types_and_cuts_nothing, .timeout = 60)
{
    resume_case c;
    resume_setup(&c, REC("T/0", "a") "{\"task_id\": 5, \"solution\": []}\n",
                 REC("T/0", "a") REC("T/0", "b"));
    resume_expect(&c, MG_EFORMAT, ":2: record without a string");
}

Test(coordinator, resume_counts_records_not_lines, .timeout = 60)
{
    /* Blank lines are skipped (as EvalPlus's resume): 2 records in each file,
     * nothing to cut; the fake worker then fails the run. */
    resume_case c;
    resume_setup(&c, "\n" REC("T/0", "a") "\n  \n" REC("T/0", "b"),
                 REC("T/0", "a") REC("T/0", "b"));
    resume_expect(&c, MG_ECHILD, "exited with status 3");
}

Test(coordinator, resume_cuts_only_the_record_with_no_twin, .timeout = 60)
{
    resume_case c;
    resume_setup(&c, REC("T/0", "a") REC("T/0", "b"),
                 REC("T/0", "a") REC("T/0", "b") REC("T/0", "c"));
    mg_error err = {0};
    mg_codegen_result res;
    cr_assert_eq(mg_codegen_run(&c.p, &res, &err), MG_ECHILD, "%s", err.msg);
    char *raw = slurp(c.raw), *main_text = slurp(c.path);
    cr_assert_str_eq(raw, REC("T/0", "a") REC("T/0", "b"));
    cr_assert_str_eq(main_text, REC("T/0", "a") REC("T/0", "b"));
    free(raw);
    free(main_text);
    rm_tree(c.d);
}

Test(coordinator, a_second_run_on_locked_files_fails_cleanly, .timeout = 60)
{
    /* Another run holds the raw file's lock (these files are its own, still
     * empty): one error, nothing removed, nothing cut. */
    resume_case c;
    resume_setup(&c, "", "");
    int fd = open(c.raw, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    resume_expect(&c, MG_EAGAIN, "another process is writing");
    close(fd);
}

Test(coordinator, a_failed_run_keeps_empty_files_it_did_not_create, .timeout = 60)
{
    resume_case c;
    resume_setup(&c, "", "");
    resume_expect(&c, MG_ECHILD, "exited with status 3");
}
