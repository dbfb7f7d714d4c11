/* `moegen prompts` end to end: byte-exact output against what the evalplus
 * package builds (tools/make_json_goldens.py), chat templates, and bad input
 * (exit 2, one stderr line naming the file and line, nothing on stdout). */
#include <fcntl.h>
#include <sys/wait.h>

#include "ds_test_util.h"
#include "mg_dataset.h"

#define MOEGEN MG_BINARY_DIR "/moegen"
#define GOLDEN MG_SOURCE_DIR "/tests/datasets/golden"
#define TOKS   MG_SHARED_DIR "/tokenizers"

typedef struct result {
    int status;
    char *out, *err;
    size_t out_n;
} result;

/* Runs moegen with argv (NULL-terminated); env is "NAME=VALUE" pairs to set. */
static result run_moegen(const char *const *argv, const char *const *env)
{
    char *dir = ds_tmpdir();
    char *o = ds_path(dir, "out"), *e = ds_path(dir, "err");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fo, 1), dup2(fe, 2);
        setenv("XDG_CACHE_HOME", dir, 1);                             /* never the user's cache */
        setenv(MG_EVALPLUS_RELEASE_URL_ENV, "http://127.0.0.1:1", 1); /* never the internet */
        unsetenv("HUMANEVAL_OVERRIDE_PATH");
        unsetenv("MBPP_OVERRIDE_PATH");
        for (const char *const *v = env; v && *v; v++) putenv((char *)*v);
        const char *args[64] = {MOEGEN};
        int n = 1;
        for (const char *const *a = argv; *a && n < 63; a++) args[n++] = *a;
        args[n] = NULL;
        execv(MOEGEN, (char **)args);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    result r = {0};
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    r.out = ds_slurp(o, &r.out_n);
    r.err = ds_slurp(e, NULL);
    unlink(o), unlink(e), rmdir(dir);
    free(o), free(e), free(dir);
    return r;
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

static char *golden_gz(const char *path, size_t *n)
{
    char *d;
    mg_error err = {0};
    cr_assert_eq(mg_read_maybe_gz(path, &d, n, &err), 0, "%s", err.msg);
    return d;
}

Test(cli_prompts, humanevalplus_base_prompts_byte_exact)
{
    NEED_SHARED();
    const char *a[] = {"prompts",
                       "--dataset",
                       "humaneval",
                       "--dataset-path",
                       SHARED_DS "/HumanEvalPlus-v0.1.10.jsonl.gz",
                       NULL};
    result r = run_moegen(a, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    size_t gn;
    char *g = golden_gz(GOLDEN "/prompts_humaneval.jsonl.gz", &gn);
    cr_assert_eq(r.out_n, gn);
    cr_assert(!memcmp(r.out, g, gn), "output differs from evalplus's prompts");
    free(g);
    result_free(&r);
}

Test(cli_prompts, mbppplus_through_override_variable_byte_exact)
{
    NEED_SHARED();
    const char *a[] = {"prompts", "--dataset", "mbpp", NULL};
    const char *env[] = {"MBPP_OVERRIDE_PATH=" SHARED_DS "/MbppPlus-v0.2.0.jsonl.gz", NULL};
    result r = run_moegen(a, env);
    cr_assert_eq(r.status, 0, "%s", r.err);
    size_t gn;
    char *g = golden_gz(GOLDEN "/prompts_mbpp.jsonl.gz", &gn);
    cr_assert_eq(r.out_n, gn);
    cr_assert(!memcmp(r.out, g, gn), "output differs from evalplus's prompts");
    free(g);
    result_free(&r);
}

/* The first n lines of golden text. */
static size_t first_lines(const char *g, int n)
{
    const char *p = g;
    for (int i = 0; i < n; i++) p = strchr(p, '\n') + 1;
    return (size_t)(p - g);
}

Test(cli_prompts, selection_and_model_without_template)
{
    NEED_SHARED();
    size_t gn;
    char *g = golden_gz(GOLDEN "/prompts_humaneval.jsonl.gz", &gn);
    const char *env[] = {"HUMANEVAL_OVERRIDE_PATH=" SHARED_DS "/HumanEvalPlus-v0.1.10.jsonl.gz",
                         NULL};
    /* mistral's tokenizer_config.json has no chat template: base prompts. */
    const char *a[] = {"prompts", "--dataset", "humaneval",     "--id-range",
                       "0,3",     "--model",   TOKS "/mistral", NULL};
    result r = run_moegen(a, env);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(r.out_n, first_lines(g, 3));
    cr_assert(!memcmp(r.out, g, r.out_n));
    result_free(&r);
    /* --force-base-prompt ignores a template. */
    const char *b[] = {
        "prompts",    "--dataset",   "humaneval", "--task_ids",  "HumanEval/1,HumanEval/0",
        "--task-ids", "HumanEval/2", "--model",   TOKS "/qwen3", "--force-base-prompt",
        NULL};
    r = run_moegen(b, env);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(r.out_n, first_lines(g, 3));
    cr_assert(!memcmp(r.out, g, r.out_n));
    result_free(&r);
    free(g);
}

static void check_chat_with(const char *tok, const char *golden, const char *ip, const char *rp,
                            const char *he_range, const char *mbpp_range)
{
    char gpath[512], mdir[512];
    snprintf(gpath, sizeof gpath, GOLDEN "/%s", golden);
    snprintf(mdir, sizeof mdir, TOKS "/%s", tok);
    size_t gn;
    char *g = ds_slurp(gpath, &gn);
    cr_assert_not_null(g);
    const char *env[] = {"HUMANEVAL_OVERRIDE_PATH=" SHARED_DS "/HumanEvalPlus-v0.1.10.jsonl.gz",
                         "MBPP_OVERRIDE_PATH=" SHARED_DS "/MbppPlus-v0.2.0.jsonl.gz", NULL};
    const char *ds[2][2] = {{"humaneval", he_range}, {"mbpp", mbpp_range}};
    char want[16384];
    for (int k = 0; k < 2; k++) {
        /* Custom prefixes are appended only when given (NULL ends argv early). */
        const char *a[] = {
            "prompts", "--dataset",         ds[k][0], "--id-range",
            ds[k][1],  "--model",           mdir,     ip ? "--instruction-prefix" : NULL,
            ip,        "--response-prefix", rp,       NULL};
        result r = run_moegen(a, env);
#ifdef MG_HAVE_TEMPLATE
        cr_assert_eq(r.status, 0, "%s: %s", tok, r.err);
        /* Golden lines carry a leading "dataset" key the command does not print. */
        size_t w = 0;
        char prefix[64];
        snprintf(prefix, sizeof prefix, "{\"dataset\": \"%s\", ", ds[k][0]);
        for (const char *p = g; *p;) {
            const char *nl = strchr(p, '\n');
            if (!strncmp(p, prefix, strlen(prefix))) {
                size_t len = (size_t)(nl + 1 - p) - strlen(prefix);
                want[w++] = '{';
                memcpy(want + w, p + strlen(prefix), len);
                w += len;
            }
            p = nl + 1;
        }
        cr_assert_eq(r.out_n, w, "%s %s", tok, ds[k][0]);
        cr_assert(!memcmp(r.out, want, w), "%s %s: chat prompts differ from evalplus", tok,
                  ds[k][0]);
#else
        (void)want;
        cr_assert_eq(r.status, 1, "%s", r.err);
        cr_assert(strstr(r.err, "not supported in this build yet"), "%s", r.err);
        cr_assert_eq(r.out_n, 0);
#endif
        result_free(&r);
    }
    free(g);
}

static void check_chat(const char *tok)
{
    char g[128];
    snprintf(g, sizeof g, "chat_prompts_%s.jsonl", tok);
    check_chat_with(tok, g, NULL, NULL, "0,3", "2,5");
}

Test(cli_prompts, chat_prompts_custom_prefixes)
{
    NEED_SHARED();
    check_chat_with("qwen3", "chat_prompts_qwen3_prefixes.jsonl",
                    "\xc3\x89"
                    "cris le code \xe2\x9c\x93:",
                    "Voil\xc3\xa0 \xf0\x9f\x90\x8d", "0,2", "2,4");
}

Test(cli_prompts, chat_prompts_qwen3)
{
    NEED_SHARED();
    check_chat("qwen3");
}
Test(cli_prompts, chat_prompts_llama3)
{
    NEED_SHARED();
    check_chat("llama3");
}
Test(cli_prompts, chat_prompts_gemma3)
{
    NEED_SHARED();
    check_chat("gemma3");
}
Test(cli_prompts, chat_prompts_deepseek_v3)
{
    NEED_SHARED();
    check_chat("deepseek_v3");
}

static void expect_usage_error(const char *file_content, size_t n, int gz, const char *want)
{
    char *dir = ds_tmpdir();
    char *p = ds_path(dir, "d.jsonl");
    if (file_content) {
        if (gz) {
            size_t zn;
            unsigned char *z = ds_gzip(file_content, n, &zn);
            ds_write(p, z, zn / 2); /* truncated */
            free(z);
        } else {
            ds_write(p, file_content, n);
        }
    }
    const char *a[] = {"prompts", "--dataset", "humaneval", "--dataset-path", p, NULL};
    result r = run_moegen(a, NULL);
    cr_assert_eq(r.status, 2, "status %d: %s", r.status, r.err);
    cr_assert_eq(r.out_n, 0, "no partial stdout");
    cr_assert(strstr(r.err, p) && strstr(r.err, want), "'%s' not in: %s", want, r.err);
    char *nl = strchr(r.err, '\n');
    cr_assert(nl && nl[1] == '\0', "one line: %s", r.err);
    result_free(&r);
    free(p), free(dir);
}

#define GOOD "{\"task_id\": \"T/0\", \"prompt\": \"def f():\\n\"}\n"

Test(cli_prompts, bad_input_exit_2_one_line_no_stdout)
{
    expect_usage_error(NULL, 0, 0, "No such file");
    const char bad_json[] = GOOD "\n{\"task_id\": \"T/2\", \"prompt\": \n";
    expect_usage_error(bad_json, sizeof bad_json - 1, 0, ":3: malformed JSON");
    const char no_id[] = GOOD "{\"prompt\": \"x\"}\n";
    expect_usage_error(no_id, sizeof no_id - 1, 0, ":2: missing \"task_id\"");
    const char dup[] = GOOD GOOD;
    expect_usage_error(dup, sizeof dup - 1, 0, ":2: duplicate task_id");
    const char big[] = GOOD "{\"task_id\": \"T/1\", \"prompt\": \"a long enough prompt here\"}\n";
    expect_usage_error(big, sizeof big - 1, 1, "truncated gzip");
}

Test(cli_prompts, usage_errors)
{
    const char *a[] = {"prompts", NULL};
    result r = run_moegen(a, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--dataset is required"));
    result_free(&r);
    const char *b[] = {"prompts", "--dataset", "apps", NULL};
    r = run_moegen(b, NULL);
    cr_assert_eq(r.status, 2);
    result_free(&r);
    const char *c[] = {"prompts", "--dataset", "mbpp", "--mini", NULL};
    r = run_moegen(c, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--mini"), "%s", r.err);
    result_free(&r);
    const char *d[] = {"prompts", "--help", NULL};
    r = run_moegen(d, NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "--dataset-path"));
    result_free(&r);
    /* Not cached, download refused by the (closed) local port: a failure, not usage. */
    const char *e[] = {"prompts", "--dataset", "humaneval", NULL};
    r = run_moegen(e, NULL);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_eq(r.out_n, 0);
    result_free(&r);
    const char *f[] = {"prompts", "--dataset", "humaneval", "--no-download", NULL};
    r = run_moegen(f, NULL);
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "downloads are off"));
    result_free(&r);
}

Test(cli_prompts, example_tasks)
{
    const char *a[] = {"prompts",
                       "--dataset",
                       "humaneval",
                       "--dataset-path",
                       MG_SOURCE_DIR "/examples/tasks.jsonl",
                       NULL};
    result r = run_moegen(a, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    size_t lines = 0;
    for (size_t i = 0; i < r.out_n; i++) lines += r.out[i] == '\n';
    cr_assert(lines >= 6 && lines <= 8, "%zu tasks", lines);
    cr_assert(!strncmp(r.out, "{\"task_id\": \"Moegen/0\", \"prompt\": \"", 35));
    result_free(&r);
}

Test(cli_prompts, example_tasks_pass_their_own_tests)
{
    /* python3 (standard library only) runs each canonical solution against its check(). */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 %s/tests/datasets/check_examples.py %s/examples/tasks.jsonl",
             MG_SOURCE_DIR, MG_SOURCE_DIR);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char buf[64] = "";
    cr_assert_not_null(fgets(buf, sizeof buf, p));
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cr_assert_eq(atoi(buf), 8);
}
