/* internal.h — private declarations shared by the coordinator's files:
 *   outputs.c  per-strategy sample files, resume, in-order writing, summaries
 *   pool.c     worker processes: spawn, rings, messages, restarts
 *   codegen.c  the run: dataset, prompts, job queue, dispatch, signals, progress
 *   merge.c    joining shard files
 */
#ifndef MG_COORD_INTERNAL_H
#define MG_COORD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mg_coordinator.h"
#include "mg_dataset.h"
#include "mg_ring.h"

/* ---- outputs (one per strategy) ------------------------------------------------------- */

/* One finished sample: the raw solution (.raw.jsonl) and the sanitized one (.jsonl). */
typedef struct cg_record {
    char *raw, *clean;
} cg_record;

typedef struct cg_output {
    char *strategy; /* sent to workers: "router", "single:1", or "default" */
    char *label;    /* for tables: the strategy, or "default" */
    char *id, *path, *raw_path, *summary_path;
    mg_sample_file *f, *raw;
    int *have;           /* [n_tasks] records already on disk per task (capped at n) */
    cg_record **pending; /* [n_tasks][n] finished samples waiting for their turn */
    size_t cur_task;     /* write cursor: next (task, sample) to append */
    int cur_sample;
    long existing, generated, total; /* samples on disk before / written now / wanted */
    long prompt_tokens, gen_tokens;
    long finish[5];            /* by mg_msg_finish */
    long *expert_hist;         /* [MG_MSG_MAX_EXPERTS + 1]; last = no expert */
    int max_expert_seen;       /* highest expert index in expert_hist */
    bool created, created_raw; /* this run created the file (O_EXCL): removed again if a
                                * failed run leaves it empty */
    bool opened;               /* mg__output_open() finished: locks held, counts valid */
} cg_output;

/* Opens (creating) and locks the two files, parses both, cuts the one with a
 * record its twin lacks (a crash between the two appends) and counts what is
 * already there. On failure nothing is cut and `opened` stays false. */
int mg__output_open(cg_output *o, const mg_codegen_params *p, const mg_dataset *ds,
                    const size_t *tasks, size_t n_tasks, mg_error *err);
/* Stores a finished sample (takes ownership of both solutions: raw for
 * .raw.jsonl, clean for .jsonl) and appends every record pair that is now
 * next in order. */
int mg__output_put(cg_output *o, const mg_dataset *ds, const size_t *tasks, size_t n_tasks, int n,
                   size_t task, uint32_t sample, char *raw, char *clean, mg_error *err);
bool mg__output_complete(const cg_output *o, size_t n_tasks);
/* Writes <id>.summary.json (temporary file + rename). */
int mg__output_summary(const cg_output *o, double wall_s, int n_tasks, mg_error *err);
/* Removes the files this run created if they are still empty (a run that
 * failed before writing anything); call before mg__output_close. */
void mg__output_discard_created(cg_output *o);
void mg__output_close(cg_output *o, size_t n_tasks, int n);

/* ---- the run ------------------------------------------------------------------------- */

/* A unit of work: some sample indices of one task for one strategy. */
typedef struct cg_chunk {
    size_t task; /* index into run->tasks */
    int out;     /* index into run->outputs */
    int n;
    uint32_t idx[];
} cg_chunk;

typedef struct cg_slot {
    mg_sbuf text;
    bool done;
    bool cancel_sent;
} cg_slot;

/* A request in flight at one worker. */
typedef struct cg_req {
    uint64_t req_id;
    cg_chunk *chunk;
    int n_done;
    cg_slot slot[];
} cg_req;

typedef struct cg_run cg_run;

/* A finished sample at the sanitizer, in submit order (= answer order). */
typedef struct cg_sanreq {
    struct cg_sanreq *next;
    int out;
    size_t task;
    uint32_t sample;
    char *raw;
} cg_sanreq;

typedef struct mg_sanitizer mg_sanitizer;

/* One worker slot; `proc` is the current incarnation (NULL between them). */
typedef struct cg_proc cg_proc;
typedef struct cg_worker {
    cg_run *run;
    int index;
    cg_proc *proc;
    bool ready;
    cg_req **inflight;
    int n_inflight, cap_inflight;
    int inflight_samples;
    int crashes_in_row;
    long samples_done;
    long tokens_done;
    int restarts;
} cg_worker;

struct cg_run {
    const mg_codegen_params *p;
    uv_loop_t *loop;
    mg_dataset ds;
    size_t *tasks; /* selected dataset indices (after --shard) */
    size_t n_tasks;
    int n; /* samples per task (after the greedy override) */
    cg_output *outputs;
    int n_outputs;
    /* prompts, built once the first worker says where its tokenizer is */
    bool prompts_ready;
    bool direct;
    char **prompts; /* [n_tasks] */
    mg_strlist stops;
    size_t max_stop;
    /* the sanitizer: every finished sample goes through it before its record
     * pair is written (.jsonl sanitized, .raw.jsonl raw, as EvalPlus) */
    mg_sanitizer *san;
    uv_poll_t san_rd, san_wr; /* its answer pipe (always watched) and request pipe */
    bool san_polls;           /* both polls initialised (closed with the run's handles) */
    bool san_wr_on;
    cg_sanreq *sq_head, *sq_tail; /* submitted, not yet answered */
    /* queue of chunks not yet sent (a deque: re-queued chunks go first) */
    cg_chunk **queue;
    size_t q_head, q_len, q_cap;
    long samples_left; /* not yet finished (queued or in flight) */
    uint64_t next_req_id;
    cg_worker *workers;
    int n_workers;
    int per_worker_cap; /* samples in flight per worker */
    /* ending */
    bool stopping;
    int result; /* 0, MG_EINTERRUPTED, or the fatal error */
    mg_error fatal;
    uv_signal_t sigint, sigterm;
    uv_timer_t progress, kill_timer;
    bool kill_timer_on;
    int open_handles; /* run-level handles not yet closed */
    int n_procs;      /* worker incarnations whose handles are not yet closed */
    bool closing;     /* run-level handles are being closed */
    double t0;
    long tokens_at_last, gen_tokens_total;
    double last_progress_t;
    bool tty;
    char exe[4096];
};

/* pool.c */
int mg__pool_start_worker(cg_run *run, cg_worker *w, mg_error *err);
/* Sends the next chunks to worker w while it has room (and the ring too). */
void mg__pool_dispatch(cg_run *run, cg_worker *w);
/* Asks every worker to stop (SHUTDOWN, then SIGKILL after a grace period). */
void mg__pool_stop_all(cg_run *run);
bool mg__pool_all_gone(const cg_run *run);
void mg__pool_kill(cg_proc *pr); /* SIGKILL now */

/* codegen.c callbacks used by pool.c */
void mg__run_fail(cg_run *run, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int mg__run_prepare_prompts(cg_run *run, const char *tokenizer_dir, mg_error *err);
cg_chunk *mg__run_pop_chunk(cg_run *run);
void mg__run_push_front(cg_run *run, cg_chunk *c);
void mg__run_sample_done(cg_run *run, cg_worker *w, cg_req *rq, uint32_t slot,
                         const mg_msg_done *d);
void mg__run_maybe_finish(cg_run *run);
double mg__now(void);

#endif
