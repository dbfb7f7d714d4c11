/* Download-and-cache against a local HTTP server (tests/datasets/http_server.py):
 * a good download lands atomically in the cache; a truncated or wrong file and
 * a 404 are rejected and leave nothing in the cache folder. Never the internet. */
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include "ds_test_util.h"
#include "mg_dataset.h"

typedef struct server {
    pid_t pid;
    int to_child, from_child;
    char *root;
    char url[128];
} server;

static void server_start(server *s)
{
    s->root = ds_tmpdir();
    int in[2], out[2];
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    s->pid = fork();
    cr_assert_geq(s->pid, 0);
    if (s->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]), close(out[0]);
        execlp("python3", "python3", MG_SOURCE_DIR "/tests/datasets/http_server.py", s->root,
               (char *)NULL);
        _exit(127);
    }
    close(in[0]), close(out[1]);
    s->to_child = in[1];
    /* Read up to the newline, and keep our end open until the server stops
     * (closing it early can kill the server with SIGPIPE/BrokenPipeError). */
    s->from_child = out[0];
    char buf[32] = "";
    size_t n = 0;
    while (n < sizeof buf - 1 && !memchr(buf, '\n', n)) {
        ssize_t r = read(out[0], buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    if (!memchr(buf, '\n', n)) cr_skip_test("python3 is needed for the local HTTP server");
    buf[n] = '\0';
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", atoi(buf));
}

static void server_stop(server *s)
{
    close(s->to_child);
    close(s->from_child);
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    free(s->root);
}

/* Puts data at <root>/<rel>, creating folders. */
static void serve(server *s, const char *rel, const void *data, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", s->root, rel);
    for (char *q = path + strlen(s->root) + 1; *q; q++)
        if (*q == '/') {
            *q = '\0';
            mkdir(path, 0755);
            *q = '/';
        }
    ds_write(path, data, n);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static char *cache_setup(void)
{
    char *c = ds_tmpdir();
    setenv("XDG_CACHE_HOME", c, 1);
    unsetenv("HUMANEVAL_OVERRIDE_PATH");
    unsetenv("MBPP_OVERRIDE_PATH");
    return c;
}

Test(download, good_download_is_cached_then_reused)
{
    NEED_SHARED();
    server s;
    server_start(&s);
    char *cache = cache_setup();
    size_t n;
    char *gz = ds_slurp(SHARED_DS "/MbppPlus-v0.2.0.jsonl.gz", &n);
    serve(&s, "evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz", gz, n);
    char base[256];
    snprintf(base, sizeof base, "%s/redirect", s.url); /* through a 302, as GitHub */
    setenv(MG_EVALPLUS_RELEASE_URL_ENV, base, 1);
    mg_dataset_params p = mg_dataset_default_params();
    p.name = "mbpp";
    mg_dataset ds;
    mg_error err = {0};
    cr_assert_eq(mg_dataset_open(&p, &ds, &err), 0, "%s", err.msg);
    cr_assert_eq(ds.n_tasks, 378);
    cr_assert_str_eq(ds.hash, "ee43ecabebf20deef4bb776a405ac5b1");
    char want[512];
    snprintf(want, sizeof want, "%s/evalplus/MbppPlus-v0.2.0.jsonl", cache);
    cr_assert_str_eq(ds.path, want);
    mg_dataset_free(&ds);
    snprintf(want, sizeof want, "%s/evalplus", cache);
    cr_assert_eq(count_entries(want), 1, "only the cache file, no temporary left");
    /* Second open reads the cache: the server is gone. */
    server_stop(&s);
    p.allow_download = false;
    cr_assert_eq(mg_dataset_open(&p, &ds, &err), 0, "%s", err.msg);
    cr_assert_eq(ds.n_tasks, 378);
    mg_dataset_free(&ds);
    free(gz), free(cache);
}

static void expect_rejected(server *s, const char *cache, const char *name, bool mini, int want_rc,
                            const char *want_msg)
{
    setenv(MG_EVALPLUS_RELEASE_URL_ENV, s->url, 1);
    mg_dataset_params p = mg_dataset_default_params();
    p.name = name;
    p.mini = mini;
    mg_dataset ds;
    mg_error err = {0};
    cr_assert_eq(mg_dataset_open(&p, &ds, &err), want_rc, "%s", err.msg);
    cr_assert(strstr(err.msg, want_msg), "'%s' not in: %s", want_msg, err.msg);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/evalplus", cache);
    cr_assert_eq(count_entries(dir), 0, "nothing may be left in %s", dir);
}

Test(download, corrupt_wrong_and_missing_files_leave_no_cache)
{
    server s;
    server_start(&s);
    char *cache = cache_setup();
    const char *text = "{\"task_id\": \"HumanEval/0\", \"prompt\": \"def f():\\n\"}\n";
    size_t zn;
    unsigned char *z = ds_gzip(text, strlen(text), &zn);
    /* Truncated transfer of the main file. */
    serve(&s, "evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz", z,
          zn / 2);
    expect_rejected(&s, cache, "humaneval", false, MG_EFORMAT, "truncated gzip");
    /* A whole, valid file that is not the release (MD5 differs). */
    serve(&s,
          "evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus-Mini.jsonl.gz", z,
          zn);
    expect_rejected(&s, cache, "humaneval", true, MG_ECHECKSUM, "expected 401e75ad");
    /* Not gzip at all (an HTML error page served with 200). */
    serve(&s, "openai/human-eval/raw/master/data/HumanEval.jsonl.gz", "<html>", 6);
    expect_rejected(&s, cache, "humaneval-orig", false, MG_ECHECKSUM, "MD5");
    /* 404. */
    expect_rejected(&s, cache, "mbpp", false, MG_EHTTP, "404");
    server_stop(&s);
    free(z), free(cache);
}

Test(download, unreachable_server)
{
    char *cache = cache_setup();
    mg_error err = {0};
    /* Port 1 on localhost: connection refused, no network needed. */
    cr_assert_eq(
        mg_dataset_download("http://127.0.0.1:1/x.jsonl.gz", "/nonexistent/never", NULL, &err),
        MG_EHTTP);
    cr_assert(strstr(err.msg, "download failed"), "%s", err.msg);
    free(cache);
}
