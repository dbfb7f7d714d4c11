/* ev_internal.h — pieces shared by the files of mg_evaluate (not public). */
#ifndef MG_EV_INTERNAL_H
#define MG_EV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "mg_error.h"
#include "mg_fs.h" /* mg_mkdirs, mg_write_file_atomic */

/* The embedded scripts (generated from harness.py / sanitize.py by CMake). */
extern const char mg_ev_harness_py[];
extern const char mg_ev_sanitize_py[];

/* ---- sandbox.c ----------------------------------------------------------------- */

typedef struct ev_sbx_params {
    const char *python;  /* absolute path of the interpreter */
    char *const *argv;   /* argv for execve, argv[0] == python, NULL-terminated */
    const char *workdir; /* an empty host folder: the tmpfs mount point, or the cwd */
    const void *input;   /* bytes the child reads on fd 3 (may be NULL) */
    size_t input_len;
    bool input_pipe;      /* instead of `input`: fd 3 is a pipe whose write end the caller
                             gets in ev_proc.in_fd (a long-lived child fed as it goes) */
    long long mem_bytes;  /* RLIMIT_AS / RLIMIT_DATA; -1 none */
    long cpu_seconds;     /* RLIMIT_CPU */
    long long file_bytes; /* RLIMIT_FSIZE and the tmpfs size */
} ev_sbx_params;

typedef struct ev_proc {
    pid_t pid;  /* leader of its own process group */
    int ev_fd;  /* read end of the child's fd 4 */
    int out_fd; /* read end of the child's fd 1 and 2 */
    int in_fd;  /* write end of the child's fd 3 with input_pipe, else -1 */
} ev_proc;

/* Forks the sandboxed child. All fds returned are non-blocking, close-on-exec. */
int ev_sbx_spawn(const ev_sbx_params *p, ev_proc *out, mg_error *err);
/* SIGKILL to the child's process group (namespaces die with their init). */
void ev_sbx_kill(const ev_proc *p);
/* Waits for the child, closes the fds; returns the wait status. */
int ev_sbx_reap(ev_proc *p);
bool ev_sbx_namespaces(void);

/* Removes a folder tree (the fallback mode's working folders). */
void ev_rmtree(const char *path);

/* ---- small helpers --------------------------------------------------------------- */

typedef struct ev_buf {
    char *data;
    size_t len, cap;
} ev_buf;
int ev_buf_add(ev_buf *b, const void *p, size_t n);
int ev_buf_printf(ev_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Python json.dumps(s) (ensure_ascii) of a UTF-8 string; invalid UTF-8 bytes
 * are written as \udcXX (Python's surrogateescape). */
int ev_buf_json_string(ev_buf *b, const char *s, size_t len);
/* Python repr() of a float (shortest round-trip). */
int ev_buf_py_float(ev_buf *b, double v);
void ev_buf_free(ev_buf *b);

double ev_now(void);
int ev_read_file(const char *path, char **data, size_t *len, mg_error *err);

/* ---- gt.c ------------------------------------------------------------------------ */

/* Ensures the expected-output cache for the dataset file exists and returns
 * its folder (malloc'd): <cache>/evalplus-gt/v2-<hash>-<kind>/<index>.meta|.base|.plus|.inp */
int ev_gt_ensure(const char *python, const char *cache_root, const char *dataset_path,
                 const char *kind, const char *hash, size_t n_tasks, int parallel, bool quiet,
                 char **dir, mg_error *err);

/* Runs one sandboxed job to completion, collecting fd 4 into `ev` (capped at
 * ev_cap) and fd 1/2 into `out` (capped at 64 KiB); kills it after
 * timeout_s. Returns 0, or MG_ETIMEDOUT. *status gets the wait status. */
int ev_run_collect(const ev_sbx_params *p, double timeout_s, ev_buf *ev, size_t ev_cap, ev_buf *out,
                   int *status, mg_error *err);

#endif /* MG_EV_INTERNAL_H */
