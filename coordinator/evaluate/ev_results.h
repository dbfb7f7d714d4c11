/* ev_results.h — EvalPlus's results JSON and pass@k (results.c). */
#ifndef MG_EV_RESULTS_H
#define MG_EV_RESULTS_H

#include "ev_pool.h"
#include "mg_dataset.h"
#include "mg_evaluate.h"

typedef struct ev_results_in {
    const mg_dataset *dataset;
    const char *kind;
    const ev_sample *samples;
    size_t n_samples;
    const char *gt_dir; /* for the failing inputs' text; NULL in humaneval-orig */
    bool base_only, test_details;
} ev_results_in;

/* Writes the results file (atomically; an existing file becomes .bak when
 * overwriting) and fills the summary. */
int ev_results_write(const ev_results_in *in, const char *path, bool overwrite,
                     mg_evaluate_summary *out, mg_error *err);
/* Reads an existing results file and computes pass@k from its statuses. */
int ev_results_load(const char *path, bool with_plus, mg_evaluate_summary *out, mg_error *err);

/* pass@k over tasks from per-task (n, c); fills up to 3 entries. */
int ev_pass_at_k(const int *n, const int *c, size_t n_tasks, mg_pass_at_k *out);

void ev_samples_free(ev_sample *s, size_t n);

#endif /* MG_EV_RESULTS_H */
