/* Hub and W&B downloads against tests/sources/fake_services.py on 127.0.0.1:
 * fresh cache, loading what was fetched, the cache reused with no request,
 * resumed downloads, and every failure leaving nothing corrupt behind. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mg_model.h"
#include "mg_sources.h"

#define FIX MG_SOURCE_DIR "/tests/fixtures/models"

typedef struct server {
    pid_t pid;
    int port;
    char dir[256]; /* temp folder: cache and log */
    char log[300];
} server;

static server S;

/* Starts the fake services with extra arguments; fills S. */
static void start(const char *const *extra)
{
    snprintf(S.dir, sizeof S.dir, "/tmp/mg-sources-XXXXXX");
    cr_assert_not_null(mkdtemp(S.dir));
    snprintf(S.log, sizeof S.log, "%s/requests.log", S.dir);
    const char *argv[64] = {"python3", MG_SOURCE_DIR "/tests/sources/fake_services.py", "--log",
                            S.log};
    int n = 4;
    for (int i = 0; extra[i]; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    S.pid = fork();
    cr_assert_geq(S.pid, 0);
    if (S.pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[64] = "";
    if (!fgets(line, sizeof line, f) || sscanf(line, "PORT %d", &S.port) != 1)
        cr_skip_test("python3 could not start the fake services");
    fclose(f);
}

static void stop(void)
{
    if (S.pid > 0) {
        kill(S.pid, SIGKILL);
        waitpid(S.pid, NULL, 0);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", S.dir);
    if (S.dir[0]) cr_assert_eq(system(cmd), 0);
}

static mg_hub_params hub(void)
{
    mg_hub_params p = mg_hub_default_params();
    snprintf(p.endpoint, sizeof p.endpoint, "http://127.0.0.1:%d", S.port);
    snprintf(p.cache_dir, sizeof p.cache_dir, "%s/hub", S.dir);
    p.token[0] = 0;
    p.offline = false;
    p.progress = false;
    p.low_speed_secs = 10;
    return p;
}

static mg_wandb_params wandb(const char *key)
{
    mg_wandb_params p = mg_wandb_default_params();
    snprintf(p.base_url, sizeof p.base_url, "http://127.0.0.1:%d", S.port);
    snprintf(p.cache_dir, sizeof p.cache_dir, "%s/wandb", S.dir);
    snprintf(p.api_key, sizeof p.api_key, "%s", key);
    p.progress = false;
    p.low_speed_secs = 10;
    return p;
}

static int log_lines(void)
{
    FILE *f = fopen(S.log, "r");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

static bool log_has(const char *needle)
{
    FILE *f = fopen(S.log, "r");
    if (!f) return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static bool exists(const char *fmt, const char *a, const char *b)
{
    char p[2048];
    snprintf(p, sizeof p, fmt, a, b);
    struct stat st;
    return stat(p, &st) == 0;
}

/* Counts files whose name ends with suffix anywhere under dir. */
static int count_suffix(const char *dir, const char *suffix)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*%s' 2>/dev/null | wc -l", dir, suffix);
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

TestSuite(sources, .fini = stop, .timeout = 60);

Test(sources, repo_ids_and_local_paths)
{
    cr_assert(mg_hub_is_repo_id("google/codegemma-2b"));
    cr_assert(mg_hub_is_repo_id("HuggingFaceTB/SmolLM2-135M-Instruct@main"));
    cr_assert(mg_hub_is_repo_id("gpt2"));
    cr_assert_not(mg_hub_is_repo_id("/abs/path"));
    cr_assert_not(mg_hub_is_repo_id("a/b/c"));
    cr_assert_not(mg_hub_is_repo_id("../x"));
    cr_assert_not(mg_hub_is_repo_id("org/na me"));
    cr_assert_not(mg_hub_is_repo_id(MG_SOURCE_DIR)); /* exists locally */
}

Test(sources, hub_download_then_load_then_cache_only)
{
    start((const char *const[]){"--hub", "tiny-org/llama=" FIX "/llama", NULL});
    mg_hub_params p = hub();
    mg_error err = {0};
    char *dir = NULL;
    cr_assert_eq(mg_hub_snapshot(&p, "tiny-org/llama", &dir, &err), 0, "%s", err.msg);
    cr_assert(exists("%s/%s", dir, "config.json"));
    cr_assert(exists("%s/%s", dir, "model.safetensors"));
    cr_assert(exists("%s/%s", dir, "tokenizer.json"));
    /* Snapshot entries are relative links into blobs/, as huggingface_hub makes them. */
    char link[2048], target[512];
    snprintf(link, sizeof link, "%s/model.safetensors", dir);
    ssize_t n = readlink(link, target, sizeof target - 1);
    cr_assert_gt(n, 0);
    target[n] = 0;
    cr_assert(!strncmp(target, "../../blobs/", 12), "%s", target);
    cr_assert(exists("%s/hub/models--tiny-org--llama/refs/%s", S.dir, "main"));

    mg_model_params mp = mg_model_default_params();
    mp.path = dir;
    mg_model *m = NULL;
    cr_assert_eq(mg_model_load(&mp, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m->config.n_layers, 2);
    mg_model_free(m);

    int before = log_lines();
    char *again = NULL;
    cr_assert_eq(mg_hub_snapshot(&p, "tiny-org/llama", &again, &err), 0, "%s", err.msg);
    cr_assert_str_eq(again, dir);
    cr_assert_eq(log_lines(), before, "a cached snapshot must need no request");
    p.offline = true;
    free(again);
    cr_assert_eq(mg_hub_snapshot(&p, "tiny-org/llama", &again, &err), 0, "%s", err.msg);
    cr_assert_eq(log_lines(), before);
    free(again);
    free(dir);
}

Test(sources, hub_sharded_model_follows_its_index)
{
    start((const char *const[]){"--hub", "tiny-org/llama-sharded=" FIX "/llama-sharded", NULL});
    mg_hub_params p = hub();
    mg_error err = {0};
    char *dir = NULL;
    cr_assert_eq(mg_hub_snapshot(&p, "tiny-org/llama-sharded@main", &dir, &err), 0, "%s", err.msg);
    mg_model_params mp = mg_model_default_params();
    mp.path = dir;
    mg_model *m = NULL;
    cr_assert_eq(mg_model_load(&mp, &m, &err), 0, "%s", err.msg);
    mg_model_free(m);
    free(dir);
}

Test(sources, hub_offline_without_cache_says_where_it_looked)
{
    start((const char *const[]){NULL});
    mg_hub_params p = hub();
    p.offline = true;
    mg_error err = {0};
    char *dir = NULL;
    cr_assert_eq(mg_hub_snapshot(&p, "tiny-org/llama", &dir, &err), MG_ENOENT);
    cr_assert(strstr(err.msg, "HF_HUB_OFFLINE"), "%s", err.msg);
    cr_assert(strstr(err.msg, "models--tiny-org--llama"), "%s", err.msg);
    cr_assert_eq(log_lines(), 0);
}

Test(sources, hub_gated_missing_and_token_never_shown)
{
    start((const char *const[]){"--hub", "test/gated=" FIX "/qwen2", NULL});
    mg_hub_params p = hub();
    mg_error err = {0};
    char *dir = NULL;
    snprintf(p.token, sizeof p.token, "hf_wrong_token_value");
    cr_assert_eq(mg_hub_snapshot(&p, "test/gated", &dir, &err), MG_EACCES);
    cr_assert(strstr(err.msg, "test/gated") && strstr(err.msg, "gated"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "hf_wrong_token_value"), "%s", err.msg);
    cr_assert_eq(mg_hub_snapshot(&p, "nobody/nothing", &dir, &err), MG_ENOENT);
    cr_assert(strstr(err.msg, "nobody/nothing: repository not found"), "%s", err.msg);
    snprintf(p.token, sizeof p.token, "hf_secret");
    cr_assert_eq(mg_hub_snapshot(&p, "test/gated", &dir, &err), 0, "%s", err.msg);
    char *path = NULL;
    cr_assert_eq(mg_hub_file(&p, "test/gated", "main", "nope.json", &path, &err), MG_ENOENT);
    cr_assert(strstr(err.msg, "nope.json: no such file"), "%s", err.msg);
    free(dir);
}

Test(sources, hub_interrupted_download_resumes_with_a_range)
{
    start((const char *const[]){"--hub", "tiny-org/llama=" FIX "/llama", "--fault",
                                "cut:tiny-org/llama/model.safetensors:1000", NULL});
    mg_hub_params p = hub();
    mg_error err = {0};
    char *dir = NULL;
    cr_assert_lt(mg_hub_snapshot(&p, "tiny-org/llama", &dir, &err), 0);
    cr_assert(strstr(err.msg, "model.safetensors"), "%s", err.msg);
    cr_assert_eq(count_suffix(p.cache_dir, ".incomplete"), 1);
    cr_assert_eq(mg_hub_snapshot(&p, "tiny-org/llama", &dir, &err), 0, "%s", err.msg);
    cr_assert(log_has("range=bytes=1000-"));
    cr_assert_eq(count_suffix(p.cache_dir, ".incomplete"), 0);
    mg_model_params mp = mg_model_default_params();
    mp.path = dir;
    mg_model *m = NULL;
    cr_assert_eq(mg_model_load(&mp, &m, &err), 0, "%s", err.msg);
    mg_model_free(m);
    free(dir);
}

Test(sources, hub_wrong_sha256_keeps_nothing)
{
    start((const char *const[]){"--hub", "tiny-org/llama=" FIX "/llama", "--fault",
                                "wrongsha:tiny-org/llama/model.safetensors", NULL});
    mg_hub_params p = hub();
    mg_error err = {0};
    char *dir = NULL;
    cr_assert_eq(mg_hub_snapshot(&p, "tiny-org/llama", &dir, &err), MG_ECHECKSUM);
    cr_assert(strstr(err.msg, "sha256 mismatch"), "%s", err.msg);
    cr_assert_eq(count_suffix(p.cache_dir, ".incomplete"), 0);
    cr_assert_eq(count_suffix(p.cache_dir, "model.safetensors"), 0);
}

Test(sources, hub_slow_response_times_out)
{
    start((const char *const[]){"--hub", "tiny-org/llama=" FIX "/llama", "--fault",
                                "slow:tiny-org/llama/model.safetensors", NULL});
    mg_hub_params p = hub();
    p.low_speed_secs = 2;
    mg_error err = {0};
    char *dir = NULL;
    cr_assert_eq(mg_hub_snapshot(&p, "tiny-org/llama", &dir, &err), MG_ETIMEDOUT, "%s", err.msg);
    cr_assert(strstr(err.msg, "model.safetensors"), "%s", err.msg);
}

Test(sources, wandb_artifact_with_base_from_the_hub)
{
    start((const char *const[]){"--hub", "tiny-org/gemma=" FIX "/gemma", "--wandb",
                                "me/dylo-moe/best-dylora-model-full:v3=" FIX "/dylora-best", NULL});
    mg_wandb_params w = wandb("wb_secret");
    mg_error err = {0};
    char *dir = NULL;
    cr_assert_eq(mg_wandb_fetch(&w, "me/dylo-moe/best-dylora-model-full:v3", &dir, &err), 0, "%s",
                 err.msg);
    size_t n = strlen(dir);
    cr_assert(n > 11 && !strcmp(dir + n - 11, "/best_model"), "%s", dir);
    cr_assert(exists("%s/%s", dir, "peft_adapters/expert_0.pt"));

    mg_hub_params hp = hub();
    char *base = NULL;
    cr_assert_eq(mg_hub_snapshot(&hp, "tiny-org/gemma", &base, &err), 0, "%s", err.msg);
    mg_model_params mp = mg_model_default_params();
    mp.path = dir;
    mp.base_model = base;
    mg_model *m = NULL;
    cr_assert_eq(mg_model_load(&mp, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m->n_experts, 3);
    mg_model_free(m);

    int before = log_lines();
    char *again = NULL;
    cr_assert_eq(mg_wandb_fetch(&w, "me/dylo-moe/best-dylora-model-full:v3", &again, &err), 0);
    cr_assert_str_eq(again, dir);
    cr_assert_eq(log_lines(), before, "a cached artifact must need no request");
    free(again);
    free(base);
    free(dir);
}

Test(sources, wandb_failures_are_one_line_and_leave_no_folder)
{
    start((const char *const[]){"--wandb", "me/p/model:v1=" FIX "/dylora-checkpoint", "--fault",
                                "wrongmd5:me/p/model:v1/checkpoint-10/router.safetensors", NULL});
    mg_error err = {0};
    char *dir = NULL;
    mg_wandb_params bad = wandb("not-the-key");
    cr_assert_eq(mg_wandb_fetch(&bad, "me/p/model:v1", &dir, &err), MG_EACCES);
    cr_assert_null(strstr(err.msg, "not-the-key"), "%s", err.msg);
    mg_wandb_params w = wandb("wb_secret");
    cr_assert_eq(mg_wandb_fetch(&w, "me/p/other:v1", &dir, &err), MG_ENOENT);
    cr_assert(strstr(err.msg, "no such artifact"), "%s", err.msg);
    cr_assert_eq(mg_wandb_fetch(&w, "me/p/model:v1", &dir, &err), MG_ECHECKSUM);
    cr_assert(strstr(err.msg, "MD5 mismatch"), "%s", err.msg);
    cr_assert_eq(count_suffix(w.cache_dir, "router.safetensors"), 0);
    cr_assert_eq(mg_wandb_fetch(&w, "bad-spec", &dir, &err), MG_EINVAL);
    cr_assert(strstr(err.msg, "ENTITY/PROJECT/NAME"), "%s", err.msg);
}

Test(sources, defaults_come_from_the_environment)
{
    char tmp[] = "/tmp/mg-env-XXXXXX";
    cr_assert_not_null(mkdtemp(tmp));
    char path[256];
    snprintf(path, sizeof path, "%s/token", tmp);
    FILE *f = fopen(path, "w");
    fputs("  hf_from_file\n", f);
    fclose(f);
    setenv("HF_HOME", tmp, 1);
    unsetenv("HF_TOKEN");
    unsetenv("HF_HUB_CACHE");
    unsetenv("HUGGINGFACE_HUB_CACHE");
    setenv("HF_ENDPOINT", "http://example.invalid/", 1);
    setenv("HF_HUB_OFFLINE", "1", 1);
    mg_hub_params p = mg_hub_default_params();
    cr_assert_str_eq(p.endpoint, "http://example.invalid");
    cr_assert_str_eq(p.token, "hf_from_file");
    char want[300];
    snprintf(want, sizeof want, "%s/hub", tmp);
    cr_assert_str_eq(p.cache_dir, want);
    cr_assert(p.offline);

    snprintf(path, sizeof path, "%s/netrc", tmp);
    f = fopen(path, "w");
    fputs("machine other.host login x password nope\nmachine api.wandb.ai\n  login user\n"
          "  password wbkey123\n",
          f);
    fclose(f);
    setenv("NETRC", path, 1);
    unsetenv("WANDB_API_KEY");
    unsetenv("WANDB_BASE_URL");
    mg_wandb_params w = mg_wandb_default_params();
    cr_assert_str_eq(w.base_url, "https://api.wandb.ai");
    cr_assert_str_eq(w.api_key, "wbkey123");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    cr_assert_eq(system(cmd), 0);
}

/* The model store asks the Hub client for a base it cannot find locally,
 * as the CLI wires it (mg_model_params.resolve_base). */
Test(sources, model_store_downloads_a_missing_base_through_the_hook)
{
    start((const char *const[]){"--hub", "tiny-org/gemma=" FIX "/gemma", NULL});
    char endpoint[64], cache[400];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", S.port);
    snprintf(cache, sizeof cache, "%s/hub", S.dir);
    setenv("HF_ENDPOINT", endpoint, 1);
    setenv("HF_HUB_CACHE", cache, 1);
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("HF_TOKEN");
    mg_model_params mp = mg_model_default_params();
    mp.path = FIX "/dylora-checkpoint/checkpoint-10"; /* names base "tiny-org/gemma" */
    mg_model *m = NULL;
    mg_error err = {0};
    cr_assert_lt(mg_model_load(&mp, &m, &err), 0, "no hook: the base must not be found");
    mp.resolve_base = mg_source_resolve_base_cb;
    cr_assert_eq(mg_model_load(&mp, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m->n_experts, 3);
    cr_assert(strstr(m->base_path, "models--tiny-org--gemma/snapshots/"), "%s", m->base_path);
    mg_model_free(m);
}
