/* Sample files: exact records, torn-line repair, per-task counts, errors. */
#include <fcntl.h>
#include <sys/wait.h>

#include "ds_test_util.h"
#include "mg_dataset.h"

Test(sample_file, paths_and_output_id)
{
    char *dir = ds_tmpdir();
    char *path, *raw;
    mg_error err = {0};
    char *id = mg_output_id("./ckpt/m/", "hf", 0.8);
    cr_assert_str_eq(id, "ckpt--m_hf_temp_0.8");
    cr_assert_eq(mg_sample_paths(dir, "humaneval", id, &path, &raw, &err), 0, "%s", err.msg);
    char want[512];
    snprintf(want, sizeof want, "%s/humaneval/ckpt--m_hf_temp_0.8.jsonl", dir);
    cr_assert_str_eq(path, want);
    snprintf(want, sizeof want, "%s/humaneval/ckpt--m_hf_temp_0.8.raw.jsonl", dir);
    cr_assert_str_eq(raw, want);
    struct stat st;
    snprintf(want, sizeof want, "%s/humaneval", dir);
    cr_assert_eq(stat(want, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    free(path), free(raw), free(id);
    /* Python's replace() hits every ".jsonl" in the path, root included. */
    snprintf(want, sizeof want, "%s/a.jsonl.d", dir);
    cr_assert_eq(mg_sample_paths(want, "mbpp", "m", &path, &raw, &err), 0);
    cr_assert(strstr(raw, "/a.raw.jsonl.d/mbpp/m.raw.jsonl"), "%s", raw);
    free(path), free(raw), free(dir);
}

Test(sample_file, append_exact_bytes_and_counts)
{
    char *dir = ds_tmpdir();
    char *p = ds_path(dir, "s.jsonl");
    mg_sample_file *f;
    mg_error err = {0};
    cr_assert_eq(mg_sample_file_open(p, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_sample_file_count(f, "A/0"), 0);
    cr_assert_eq(mg_sample_file_append(f, "A/0", "def f():\n\treturn \"\xc3\xa9\"\n", &err), 0);
    cr_assert_eq(mg_sample_file_append(f, "A/0", "", &err), 0);
    cr_assert_eq(mg_sample_file_append(f, "A/1", "\xf0\x9f\x98\x80", &err), 0);
    cr_assert_eq(mg_sample_file_append(f, "A/1", "bad \xff", &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, "task A/1") && strstr(err.msg, p), "%s", err.msg);
    cr_assert_eq(mg_sample_file_count(f, "A/0"), 2);
    cr_assert_eq(mg_sample_file_count(f, "A/1"), 1);
    mg_sample_file_close(f);
    char *d = ds_slurp(p, NULL);
    cr_assert_str_eq(
        d, "{\"task_id\": \"A/0\", \"solution\": \"def f():\\n\\treturn \\\"\\u00e9\\\"\\n\"}\n"
           "{\"task_id\": \"A/0\", \"solution\": \"\"}\n"
           "{\"task_id\": \"A/1\", \"solution\": \"\\ud83d\\ude00\"}\n");
    free(d);
    /* Reopening reads the counts back. */
    cr_assert_eq(mg_sample_file_open(p, &f, &err), 0);
    cr_assert_eq(mg_sample_file_count(f, "A/0"), 2);
    cr_assert_eq(mg_sample_file_count(f, "A/1"), 1);
    cr_assert_eq(mg_sample_file_count(f, "A/2"), 0);
    cr_assert_eq(mg_sample_file_n_tasks(f), 2);
    cr_assert_eq(mg_sample_file_n_records(f), 3);
    mg_sample_file_close(f);
    free(p), free(dir);
}

Test(sample_file, torn_last_line_is_cut)
{
    char *dir = ds_tmpdir();
    char *p = ds_path(dir, "s.jsonl");
    const char *whole = "{\"task_id\": \"A/0\", \"solution\": \"x\"}\n\n"
                        "{\"task_id\": \"A/0\", \"solution\": \"y\"}\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s{\"task_id\": \"A/1\", \"solu", whole);
    ds_write(p, buf, strlen(buf));
    mg_sample_file *f;
    mg_error err = {0};
    cr_assert_eq(mg_sample_file_open(p, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_sample_file_count(f, "A/0"), 2);
    cr_assert_eq(mg_sample_file_count(f, "A/1"), 0);
    cr_assert_eq(mg_sample_file_append(f, "A/1", "z", &err), 0);
    mg_sample_file_close(f);
    char *d = ds_slurp(p, NULL);
    snprintf(buf, sizeof buf, "%s{\"task_id\": \"A/1\", \"solution\": \"z\"}\n", whole);
    cr_assert_str_eq(d, buf);
    free(d);
    /* A complete record without its newline is also cut (it may not be whole). */
    ds_write(p, "{\"task_id\": \"A/0\", \"solution\": \"x\"}", 36);
    cr_assert_eq(mg_sample_file_open(p, &f, &err), 0);
    cr_assert_eq(mg_sample_file_n_records(f), 0);
    mg_sample_file_close(f);
    size_t n;
    d = ds_slurp(p, &n);
    cr_assert_eq(n, 0);
    free(d), free(p), free(dir);
}

Test(sample_file, bad_existing_file)
{
    char *dir = ds_tmpdir();
    char *p = ds_path(dir, "s.jsonl");
    ds_write(p, "{\"task_id\": \"A/0\", \"solution\": \"x\"}\nnot json\n", 45);
    mg_sample_file *f;
    mg_error err = {0};
    cr_assert_eq(mg_sample_file_open(p, &f, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, ":2: malformed JSON"), "%s", err.msg);
    ds_write(p, "{\"solution\": \"x\"}\n", 18);
    cr_assert_eq(mg_sample_file_open(p, &f, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, ":1: record without"), "%s", err.msg);
    /* Python's json.loads extensions are fine in other fields. */
    const char *ext = "{\"task_id\": \"A/0\", \"solution\": \"x\", \"score\": NaN, \"n\": "
                      "123456789012345678901234567890}\n";
    ds_write(p, ext, strlen(ext));
    cr_assert_eq(mg_sample_file_open(p, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_sample_file_count(f, "A/0"), 1);
    mg_sample_file_close(f);
    char *missing = ds_path(dir, "no/such/dir/s.jsonl");
    cr_assert_eq(mg_sample_file_open(missing, &f, &err), MG_ENOENT);
    free(missing), free(p), free(dir);
}

Test(sample_file, second_writer_is_refused)
{
    char *dir = ds_tmpdir();
    char *p = ds_path(dir, "s.jsonl");
    mg_sample_file *f;
    mg_error err = {0};
    cr_assert_eq(mg_sample_file_open(p, &f, &err), 0);
    pid_t pid = fork();
    if (pid == 0) {
        mg_sample_file *g;
        _exit(mg_sample_file_open(p, &g, &err) == MG_EAGAIN ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    mg_sample_file_close(f);
    free(p), free(dir);
}

Test(sample_file, truncate_records_updates_counts)
{
    char *dir = ds_tmpdir();
    char *p = ds_path(dir, "s.jsonl");
    mg_sample_file *f;
    mg_error err = {0};
    cr_assert_eq(mg_sample_file_open(p, &f, &err), 0);
    const char *ids[] = {"A/0", "A/0", "A/1", "A/2"};
    for (int i = 0; i < 4; i++) cr_assert_eq(mg_sample_file_append(f, ids[i], "s", &err), 0);
    cr_assert_str_eq(mg_sample_file_record_task(f, 2), "A/1");
    cr_assert_null(mg_sample_file_record_task(f, 4));
    cr_assert_eq(mg_sample_file_truncate_records(f, 1, &err), 0);
    cr_assert_eq(mg_sample_file_count(f, "A/0"), 1);
    cr_assert_eq(mg_sample_file_count(f, "A/1"), 0);
    cr_assert_eq(mg_sample_file_n_tasks(f), 1);
    cr_assert_eq(mg_sample_file_append(f, "A/2", "t", &err), 0);
    cr_assert_eq(mg_sample_file_n_tasks(f), 2);
    mg_sample_file_close(f);
    char *d = ds_slurp(p, NULL);
    cr_assert_str_eq(d, "{\"task_id\": \"A/0\", \"solution\": \"s\"}\n"
                        "{\"task_id\": \"A/2\", \"solution\": \"t\"}\n");
    free(d), free(p), free(dir);
}

Test(sample_file, pair_drops_records_without_twin)
{
    char *dir = ds_tmpdir();
    char *m = ds_path(dir, "x.jsonl"), *r = ds_path(dir, "x.raw.jsonl");
    const char *rec0 = "{\"task_id\": \"A/0\", \"solution\": \"s\"}\n";
    const char *rec1 = "{\"task_id\": \"A/1\", \"solution\": \"s\"}\n";
    char both[256];
    snprintf(both, sizeof both, "%s%s", rec0, rec1);
    /* EvalPlus writes sanitized then raw: a crash in between leaves main longer. */
    ds_write(m, both, strlen(both));
    ds_write(r, rec0, strlen(rec0));
    mg_sample_pair sp;
    mg_error err = {0};
    cr_assert_eq(mg_sample_pair_open(m, r, &sp, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_sample_file_count(sp.main, "A/1"), 0);
    cr_assert_eq(mg_sample_file_n_records(sp.main), 1);
    cr_assert_eq(mg_sample_pair_append(&sp, "A/1", "sanitized", "raw \xe2\x9c\x93", &err), 0);
    /* A bad raw solution takes the sanitized record back. */
    cr_assert_eq(mg_sample_pair_append(&sp, "A/2", "ok", "bad \xff", &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, "task A/2"), "%s", err.msg);
    cr_assert_eq(mg_sample_file_count(sp.main, "A/2"), 0);
    mg_sample_pair_close(&sp);
    char *dm = ds_slurp(m, NULL), *dr = ds_slurp(r, NULL);
    snprintf(both, sizeof both, "%s{\"task_id\": \"A/1\", \"solution\": \"sanitized\"}\n", rec0);
    cr_assert_str_eq(dm, both);
    snprintf(both, sizeof both, "%s{\"task_id\": \"A/1\", \"solution\": \"raw \\u2713\"}\n", rec0);
    cr_assert_str_eq(dr, both);
    free(dm), free(dr);
    /* Different task sequences: not a pair. */
    ds_write(r, rec1, strlen(rec1));
    cr_assert_eq(mg_sample_pair_open(m, r, &sp, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, "not a pair"), "%s", err.msg);
    cr_assert_null(sp.main);
    free(m), free(r), free(dir);
}
