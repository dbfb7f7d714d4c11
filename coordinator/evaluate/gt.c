/* gt.c — the expected outputs of the canonical solutions, computed once per
 * dataset hash (as EvalPlus's ~/.cache/evalplus/<hash>.pkl) and stored per
 * task so that a sample's process loads only its own task. The dataset's
 * code runs in the same sandbox as samples (a --dataset-path file is input
 * like any other), split in chunks across `parallel` processes. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ev_internal.h"
#include "mg_log.h"

typedef struct gt_job {
    const char *python, *dataset_path, *kind, *outdir;
    size_t first, last;
    int rc;
    mg_error err;
} gt_job;

/* Splits "<index> <name> <nbytes>\n<bytes>" frames into files. */
static int write_frames(const gt_job *j, const ev_buf *ev, mg_error *err)
{
    size_t pos = 0;
    while (pos < ev->len) {
        const char *nl = memchr(ev->data + pos, '\n', ev->len - pos);
        if (!nl) return mg_error_set(err, MG_EPROTO, "evaluate: ground truth: torn frame header");
        size_t index = 0, nbytes = 0;
        char name[8] = {0};
        if (sscanf(ev->data + pos, "%zu %7s %zu", &index, name, &nbytes) != 3 ||
            (strcmp(name, "meta") && strcmp(name, "base") && strcmp(name, "plus") &&
             strcmp(name, "inp")) ||
            index < j->first || index >= j->last)
            return mg_error_set(err, MG_EPROTO, "evaluate: ground truth: bad frame header");
        pos = (size_t)(nl - ev->data) + 1;
        if (nbytes > ev->len - pos)
            return mg_error_set(err, MG_EPROTO, "evaluate: ground truth: truncated frame");
        char path[4096];
        snprintf(path, sizeof path, "%s/%zu.%s", j->outdir, index, name);
        int rc = mg_write_file_atomic(path, ev->data + pos, nbytes, err);
        if (rc < 0) return rc;
        pos += nbytes;
    }
    return 0;
}

static void *gt_thread(void *arg)
{
    gt_job *j = arg;
    char first[32], last[32];
    snprintf(first, sizeof first, "%zu", j->first);
    snprintf(last, sizeof last, "%zu", j->last);
    char *argv[] = {(char *)j->python,
                    "-I",
                    "-B",
                    "-c",
                    (char *)mg_ev_harness_py,
                    "gt",
                    (char *)j->dataset_path,
                    (char *)j->kind,
                    first,
                    last,
                    NULL};
    char work[4096];
    snprintf(work, sizeof work, "%s/w%zu", j->outdir, j->first);
    if (mkdir(work, 0700) < 0) {
        j->rc = mg_error_set(&j->err, mg_err_from_errno(errno), "%s: %s", work, strerror(errno));
        return NULL;
    }
    ev_sbx_params p = {.python = j->python,
                       .argv = argv,
                       .workdir = work,
                       .mem_bytes = -1,
                       .cpu_seconds = 3600,
                       .file_bytes = 64ll << 20};
    ev_buf ev = {0}, out = {0};
    int st = 0;
    j->rc = ev_run_collect(&p, 3600.0, &ev, (size_t)4 << 30, &out, &st, &j->err);
    if (j->rc == MG_ETIMEDOUT)
        mg_error_set(&j->err, MG_ETIMEDOUT, "evaluate: ground truth for tasks %zu..%zu timed out",
                     j->first, j->last);
    else if (j->rc == 0 && st != 0) {
        /* Python's traceback (last line) says which task broke. */
        const char *msg = out.data ? out.data : "";
        size_t n = out.len;
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) n--;
        size_t s = n;
        while (s && msg[s - 1] != '\n') s--;
        j->rc = mg_error_set(&j->err, MG_ECHILD,
                             "evaluate: computing expected outputs of tasks %zu..%zu failed "
                             "(status %d): %.*s",
                             j->first, j->last, st, (int)(n - s), msg + s);
    } else if (j->rc == 0)
        j->rc = write_frames(j, &ev, &j->err);
    rmdir(work);
    ev_rmtree(work);
    ev_buf_free(&ev);
    ev_buf_free(&out);
    return NULL;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int ev_gt_ensure(const char *python, const char *cache_root, const char *dataset_path,
                 const char *kind, const char *hash, size_t n_tasks, int parallel, bool quiet,
                 char **dir, mg_error *err)
{
    char final[4096], marker[4200], tmp[4200];
    snprintf(final, sizeof final, "%s/evalplus-gt/v2-%s-%s", cache_root, hash, kind);
    snprintf(marker, sizeof marker, "%s/complete", final);
    *dir = NULL;
    if (exists(marker)) {
        *dir = strdup(final);
        return *dir ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    char parent[4200];
    snprintf(parent, sizeof parent, "%s/evalplus-gt", cache_root);
    int rc = mg_mkdirs(parent, 0700, err);
    if (rc < 0) return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", final, (long)getpid());
    ev_rmtree(tmp);
    if (mkdir(tmp, 0700) < 0)
        return mg_error_set(err, mg_err_from_errno(errno), "%s: %s", tmp, strerror(errno));
    if (!quiet)
        mg_info("evaluate: computing expected outputs of %zu %s tasks (cached in %s)", n_tasks,
                kind, final);
    double t0 = ev_now();
    size_t nj = parallel < 1 ? 1 : (size_t)parallel;
    if (nj > n_tasks) nj = n_tasks ? n_tasks : 1;
    /* More chunks than workers evens out slow tasks; the pool runs nj at once. */
    size_t n_chunks = nj * 3 < n_tasks ? nj * 3 : (n_tasks ? n_tasks : 1);
    gt_job *jobs = calloc(n_chunks, sizeof *jobs);
    pthread_t *th = calloc(n_chunks, sizeof *th);
    if (!jobs || !th) {
        free(jobs);
        free(th);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    for (size_t c = 0; c < n_chunks; c++)
        jobs[c] = (gt_job){
            python, dataset_path, kind, tmp, n_tasks * c / n_chunks, n_tasks * (c + 1) / n_chunks,
            0,      {0}};
    rc = 0;
    for (size_t start = 0; start < n_chunks; start += nj) {
        size_t end = start + nj < n_chunks ? start + nj : n_chunks;
        for (size_t c = start; c < end; c++)
            if (pthread_create(&th[c], NULL, gt_thread, &jobs[c]) != 0) {
                jobs[c].rc = mg_error_set(&jobs[c].err, MG_EAGAIN, "cannot start a thread");
                th[c] = 0;
            }
        for (size_t c = start; c < end; c++)
            if (th[c]) pthread_join(th[c], NULL);
        for (size_t c = start; c < end && !rc; c++)
            if (jobs[c].rc < 0) {
                rc = jobs[c].rc;
                if (err) *err = jobs[c].err;
            }
        if (rc) break;
    }
    free(jobs);
    free(th);
    for (size_t i = 0; !rc && i < n_tasks; i++) {
        char f[4300];
        snprintf(f, sizeof f, "%s/%zu.meta", tmp, i);
        if (!exists(f))
            rc = mg_error_set(err, MG_EPROTO, "evaluate: no expected outputs for task #%zu", i);
    }
    if (!rc) {
        snprintf(marker, sizeof marker, "%s/complete", tmp);
        rc = mg_write_file_atomic(marker, hash, strlen(hash), err);
    }
    if (!rc && rename(tmp, final) < 0) {
        /* Someone else finished first: theirs is as good. */
        snprintf(marker, sizeof marker, "%s/complete", final);
        if (!exists(marker))
            rc = mg_error_set(err, mg_err_from_errno(errno), "%s: %s", final, strerror(errno));
    }
    ev_rmtree(tmp);
    if (rc) return rc;
    if (!quiet) mg_info("evaluate: expected outputs computed in %.1f s", ev_now() - t0);
    *dir = strdup(final);
    return *dir ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
}
