/* sanitizer.c — one long-lived sanitizer process: the embedded sanitize.py in
 * the evaluation sandbox, fed one request per line and answering in order
 * (protocol in sanitize.py's header). codegen drives it from its libuv loop
 * through the two fds; mg_sanitize() drives it with poll(2).
 *
 * The text is untrusted (model output): the script only parses it with
 * `ast`, and still runs sandboxed (no network, read-only file system, no
 * processes, no signals to others), with the sandbox's PR_SET_PDEATHSIG so it
 * dies with us. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ev_internal.h"
#include "mg_evaluate.h"

#define SAN_HELLO      "moegen-sanitize 1\n"
#define SAN_MAX_ANSWER ((size_t)256 << 20) /* far above any 768-token sample */
#define SAN_START_S    60.0                /* python's start-up, on a loaded machine */

struct mg_sanitizer {
    ev_proc proc;
    char work[4096]; /* the sandbox's working folder until it is removed */
    bool work_gone;  /* removed once the child is running in it */
    ev_buf out;      /* requests not yet written */
    size_t out_off;  /* bytes of `out` already written */
    ev_buf in;       /* bytes read, not yet parsed into answers */
    char **answers;  /* parsed answers, not yet taken (a FIFO) */
    size_t a_head, a_len, a_cap;
    size_t submitted;  /* requests submitted */
    size_t answered;   /* answers parsed */
    double progress_t; /* last answer, or when the queue became non-empty */
    bool eof;
};

/* write(2) that cannot raise SIGPIPE in a library: blocks it around the call
 * and takes a SIGPIPE this write caused back off the thread. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigset_t pending;
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    ssize_t w = write(fd, buf, n);
    int e = errno;
    if (w < 0 && e == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return w;
}

/* The tail of what the child wrote on stdout/stderr (a traceback), one line. */
static void child_log(mg_sanitizer *s, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    char chunk[4096];
    while (s->proc.out_fd >= 0 && (r = read(s->proc.out_fd, chunk, sizeof chunk)) > 0) {
        for (ssize_t i = 0; i < r; i++) {
            if (n + 1 >= cap) { /* keep the end: that is where the exception is */
                memmove(buf, buf + cap / 2, n - cap / 2);
                n -= cap / 2;
            }
            buf[n++] = chunk[i] == '\n' || chunk[i] == '\r' ? ' ' : chunk[i];
        }
    }
    while (n && buf[n - 1] == ' ') n--;
    buf[n] = '\0';
}

/* The child closed its answer pipe: reap it (a second at most) and say how it ended. */
static int child_gone(mg_sanitizer *s, const char *when, mg_error *err)
{
    char log[600];
    child_log(s, log, sizeof log);
    int st = 0;
    pid_t w = 0;
    for (int i = 0; i < 1000 && s->proc.pid > 0; i++) {
        w = waitpid(s->proc.pid, &st, WNOHANG);
        if (w == s->proc.pid || (w < 0 && errno != EINTR)) break;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    char how[64] = "did not exit";
    if (w == s->proc.pid) {
        s->proc.pid = -1;
        if (WIFEXITED(st))
            snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(st));
        else if (WIFSIGNALED(st))
            snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(st));
    }
    s->eof = true;
    return mg_error_set(err, MG_ECHILD, "sanitize: the python sanitizer %s %s%s%s", how, when,
                        log[0] ? ": " : "", log);
}

/* Reads what is there; parses complete answers into the FIFO. */
static int read_some(mg_sanitizer *s, mg_error *err)
{
    char chunk[65536];
    for (;;) {
        ssize_t r = read(s->proc.ev_fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (r <= 0) {
            char when[96];
            snprintf(when, sizeof when, "after %zu of %zu answers", s->answered, s->submitted);
            return child_gone(s, when, err);
        }
        if (ev_buf_add(&s->in, chunk, (size_t)r) < 0)
            return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    size_t off = 0;
    for (;;) {
        char *nl = memchr(s->in.data + off, '\n', s->in.len - off);
        if (!nl) break;
        char *end;
        errno = 0;
        unsigned long long len = strtoull(s->in.data + off, &end, 10);
        if (end != nl || end == s->in.data + off || errno || len > SAN_MAX_ANSWER)
            return mg_error_set(err, MG_EPROTO, "sanitize: bad answer header from the sanitizer");
        size_t body = (size_t)(nl + 1 - s->in.data);
        if (s->in.len - body < len) break;
        if (s->answered >= s->submitted)
            return mg_error_set(err, MG_EPROTO, "sanitize: an answer nobody asked for");
        char *a = malloc((size_t)len + 1);
        if (!a) return mg_error_set(err, MG_ENOMEM, "out of memory");
        memcpy(a, s->in.data + body, (size_t)len);
        a[len] = '\0';
        if (s->a_len == s->a_cap) {
            size_t cap = s->a_cap ? 2 * s->a_cap : 16;
            char **q = malloc(cap * sizeof *q);
            if (!q) {
                free(a);
                return mg_error_set(err, MG_ENOMEM, "out of memory");
            }
            for (size_t i = 0; i < s->a_len; i++) q[i] = s->answers[(s->a_head + i) % s->a_cap];
            free(s->answers);
            s->answers = q;
            s->a_cap = cap;
            s->a_head = 0;
        }
        s->answers[(s->a_head + s->a_len++) % s->a_cap] = a;
        s->answered++;
        s->progress_t = ev_now();
        off = body + (size_t)len;
    }
    memmove(s->in.data, s->in.data + off, s->in.len - off);
    s->in.len -= off;
    return 0;
}

static int write_some(mg_sanitizer *s, mg_error *err)
{
    while (s->out_off < s->out.len) {
        ssize_t w =
            write_nosigpipe(s->proc.in_fd, s->out.data + s->out_off, s->out.len - s->out_off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (w < 0) {
            char when[96];
            snprintf(when, sizeof when, "before request %zu", s->answered + 1);
            return child_gone(s, when, err);
        }
        s->out_off += (size_t)w;
    }
    s->out.len = s->out_off = 0;
    return 0;
}

int mg_sanitizer_io(mg_sanitizer *s, mg_error *err)
{
    if (s->eof) return mg_error_set(err, MG_ECHILD, "sanitize: the python sanitizer is gone");
    int rc = write_some(s, err);
    if (rc == 0) rc = read_some(s, err);
    return rc;
}

/* Blocks until an answer is ready, the hello line came (hello), or
 * timeout_s passed without one (MG_ETIMEDOUT). */
static int wait_for(mg_sanitizer *s, bool hello, double timeout_s, mg_error *err)
{
    double deadline = ev_now() + timeout_s;
    for (;;) {
        if (hello) {
            if (s->in.len >= strlen(SAN_HELLO)) {
                if (memcmp(s->in.data, SAN_HELLO, strlen(SAN_HELLO)))
                    return mg_error_set(err, MG_EPROTO,
                                        "sanitize: the interpreter did not start the sanitizer "
                                        "(is it python3?)");
                memmove(s->in.data, s->in.data + strlen(SAN_HELLO), s->in.len - strlen(SAN_HELLO));
                s->in.len -= strlen(SAN_HELLO);
                return 0;
            }
        } else if (s->a_len) {
            return 0;
        }
        double left = deadline - ev_now();
        if (left <= 0) return MG_ETIMEDOUT;
        struct pollfd fds[2] = {{s->proc.ev_fd, POLLIN, 0},
                                {s->out_off < s->out.len ? s->proc.in_fd : -1, POLLOUT, 0}};
        int n = poll(fds, 2, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR)
            return mg_error_set(err, mg_err_from_errno(errno), "sanitize: poll: %s",
                                strerror(errno));
        if (n <= 0) continue;
        int rc = 0;
        if (fds[1].revents) rc = write_some(s, err);
        if (rc == 0 && fds[0].revents) {
            if (hello) {
                char chunk[64];
                ssize_t r = read(s->proc.ev_fd, chunk, sizeof chunk);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                    return child_gone(s, "at start-up", err);
                if (r > 0 && ev_buf_add(&s->in, chunk, (size_t)r) < 0)
                    return mg_error_set(err, MG_ENOMEM, "out of memory");
            } else {
                rc = read_some(s, err);
            }
        }
        if (rc < 0) return rc;
    }
}

int mg_sanitizer_wait(mg_sanitizer *s, double timeout_s, mg_error *err)
{
    if (s->a_len) return 0;
    if (s->eof) return mg_error_set(err, MG_ECHILD, "sanitize: the python sanitizer is gone");
    if (s->answered == s->submitted)
        return mg_error_set(err, MG_EINVAL, "sanitize: waiting with nothing asked");
    int rc = wait_for(s, false, timeout_s, err);
    if (rc == MG_ETIMEDOUT)
        rc = mg_error_set(err, MG_ETIMEDOUT,
                          "sanitize: no answer from the python sanitizer in %.0f s (request %zu)",
                          timeout_s, s->answered + 1);
    return rc;
}

int mg_sanitizer_open(const char *python, mg_sanitizer **out, mg_error *err)
{
    *out = NULL;
    char *py = NULL;
    int rc = mg_evaluate_find_python(python, &py, err);
    if (rc < 0) return rc;
    mg_sanitizer *s = calloc(1, sizeof *s);
    if (!s) {
        free(py);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    s->proc.pid = -1;
    s->proc.ev_fd = s->proc.out_fd = s->proc.in_fd = -1;
    const char *t = getenv("TMPDIR");
    snprintf(s->work, sizeof s->work, "%s/moegen-sanitize-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(s->work)) {
        rc = mg_error_set(err, mg_err_from_errno(errno), "%s: %s", s->work, strerror(errno));
        s->work_gone = true;
        goto fail;
    }
    char *argv[] = {py, "-I", "-B", "-c", (char *)mg_ev_sanitize_py, NULL};
    /* One process for a whole run: no CPU-time limit (a wall-clock watchdog
     * per answer instead: mg_sanitizer_waiting_s). */
    ev_sbx_params p = {.python = py,
                       .argv = argv,
                       .workdir = s->work,
                       .input_pipe = true,
                       .mem_bytes = 4ll << 30,
                       .cpu_seconds = LONG_MAX / 2,
                       .file_bytes = 1 << 20};
    if ((rc = ev_sbx_spawn(&p, &s->proc, err)) < 0) goto fail;
    rc = wait_for(s, true, SAN_START_S, err);
    if (rc == MG_ETIMEDOUT)
        rc = mg_error_set(err, rc, "sanitize: %s did not start the sanitizer in %.0f s", py,
                          SAN_START_S);
    if (rc < 0) goto fail;
    /* The interpreter runs (in the folder, or on a tmpfs mounted over it in
     * its own mount namespace): the host folder can go now, so a run killed
     * later leaves nothing behind. */
    if (rmdir(s->work) == 0) s->work_gone = true;
    s->progress_t = ev_now();
    free(py);
    *out = s;
    return 0;
fail:
    free(py);
    mg_sanitizer_close(s);
    return rc;
}

int mg_sanitizer_submit(mg_sanitizer *s, const char *code, const char *entry_point, mg_error *err)
{
    if (s->eof) return mg_error_set(err, MG_ECHILD, "sanitize: the python sanitizer is gone");
    if (s->answered == s->submitted && s->out.len == s->out_off) s->progress_t = ev_now();
    size_t before = s->out.len;
    int rc = ev_buf_add(&s->out, "[", 1);
    if (!rc) rc = ev_buf_json_string(&s->out, code, strlen(code));
    if (!rc) rc = ev_buf_add(&s->out, ", ", 2);
    if (!rc && entry_point) rc = ev_buf_json_string(&s->out, entry_point, strlen(entry_point));
    if (!rc && !entry_point) rc = ev_buf_add(&s->out, "null", 4);
    if (!rc) rc = ev_buf_add(&s->out, "]\n", 2);
    if (rc) {
        s->out.len = before;
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    s->submitted++;
    return 0;
}

int mg_sanitizer_next(mg_sanitizer *s, char **answer)
{
    *answer = NULL;
    if (!s->a_len) return 0;
    *answer = s->answers[s->a_head];
    s->a_head = (s->a_head + 1) % s->a_cap;
    s->a_len--;
    return 1;
}

int mg_sanitizer_fd(const mg_sanitizer *s, bool for_writing)
{
    return for_writing ? s->proc.in_fd : s->proc.ev_fd;
}

bool mg_sanitizer_want_write(const mg_sanitizer *s)
{
    return !s->eof && s->out_off < s->out.len;
}

size_t mg_sanitizer_unanswered(const mg_sanitizer *s)
{
    return s->submitted - s->answered;
}

double mg_sanitizer_waiting_s(const mg_sanitizer *s)
{
    return s->submitted > s->answered ? ev_now() - s->progress_t : 0.0;
}

void mg_sanitizer_close(mg_sanitizer *s)
{
    if (!s) return;
    if (s->proc.pid > 0) ev_sbx_kill(&s->proc);
    if (s->proc.pid > 0 || s->proc.ev_fd >= 0 || s->proc.out_fd >= 0 || s->proc.in_fd >= 0)
        ev_sbx_reap(&s->proc);
    if (!s->work_gone) {
        ev_rmtree(s->work);
        rmdir(s->work);
    }
    while (s->a_len) {
        free(s->answers[s->a_head]);
        s->a_head = (s->a_head + 1) % s->a_cap;
        s->a_len--;
    }
    free(s->answers);
    ev_buf_free(&s->out);
    ev_buf_free(&s->in);
    free(s);
}
