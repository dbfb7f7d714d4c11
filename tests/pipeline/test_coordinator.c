/* test_coordinator.c — the coordinator library without a model: crash
 * handling with a worker program that dies at once, and shard merging's
 * refusals. (End-to-end runs are in test_codegen.c.) */
#include "mg_coordinator.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    cr_assert_eq(mg_merge_shards(out, rev, 2, &err), MG_EFORMAT);
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
