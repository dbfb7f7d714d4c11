/* pipeline_test_util.h — helpers shared by the codegen end-to-end tests:
 * scratch folders, starting moegen, child status, whole-file reads, and a chat model (the llama
 * fixture with a chat template, so codegen builds chat prompts). */
#ifndef PIPELINE_TEST_UTIL_H
#define PIPELINE_TEST_UTIL_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A fresh folder under /tmp (malloc'd); pl_remove_dir removes it and <dir>.log. */
static inline char *pl_make_dir(const char *prefix)
{
    char *d = malloc(strlen(prefix) + 16);
    sprintf(d, "/tmp/%s-XXXXXX", prefix);
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static inline void pl_remove_dir(char *d)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s.log'", d, d);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", d);
    free(d);
}

static inline double pl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Exit status, or 128 + signal. */
static inline int pl_wait_status(pid_t pid)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Starts `argv` (argv[0] the program) with stdout appended to <root>.log and
 * stderr too, or to `errfd` when >= 0; envp NULL: this process's. */
static inline pid_t pl_spawn(const char *const *argv, const char *root, char *const *envp,
                             int errfd)
{
    char log[512];
    snprintf(log, sizeof log, "%s.log", root);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) dup2(fd, 1);
        if (errfd >= 0)
            dup2(errfd, 2);
        else if (fd >= 0)
            dup2(fd, 2);
        if (envp)
            execve(argv[0], (char *const *)argv, envp);
        else
            execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* The whole file, NUL-terminated (NULL when it cannot be opened). */
static inline char *pl_slurp(const char *path, size_t *len)
{
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return b;
}

/* A copy (symlinks) of tests/fixtures/models/llama whose tokenizer has a chat
 * template; remove with pl_remove_dir. */
static inline char *pl_chat_model(void)
{
    char *m = pl_make_dir("mg-chatmodel");
    const char *files[] = {"config.json", "generation_config.json", "model.safetensors",
                           "tokenizer.json"};
    for (int i = 0; i < 4; i++) {
        char src[600], dst[600];
        snprintf(src, sizeof src, "%s/tests/fixtures/models/llama/%s", MG_SOURCE_DIR, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", m, files[i]);
        cr_assert_eq(symlink(src, dst), 0);
    }
    char tc[600];
    snprintf(tc, sizeof tc, "%s/tokenizer_config.json", m);
    FILE *f = fopen(tc, "w");
    fputs("{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"chat_template\": \"{% for m in "
          "messages %}<|{{ m['role'] }}|>\\n{{ m['content'] }}\\n{% endfor %}\"}",
          f);
    fclose(f);
    return m;
}

#endif /* PIPELINE_TEST_UTIL_H */
