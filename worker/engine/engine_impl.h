/* engine_impl.h — the engine's private state, shared by engine.c (requests
 * and steps), share.c (prompt sharing) and validate.c (model checks). */
#ifndef MG_ENGINE_IMPL_H
#define MG_ENGINE_IMPL_H

#include "internal.h"

typedef enum { PH_WAIT, PH_ROUTE, PH_PROMPT, PH_DECODE } mg__phase;

#define MAX_ROWS 64

typedef struct mg__seq {
    mg_request req;
    int32_t *prompt;
    int n_rows;
    mg__row rows[MAX_ROWS];
    bool has_aux; /* mix: base-model row giving the gates */
    mg__row aux;
    mg__phase ph;
    int fed;    /* prompt tokens fed in the current pass */
    int expert; /* chosen expert, -1 when mixed or none */
    int n_gen;
    int32_t next; /* token to feed in the next decode step */
    bool cancel;
    int64_t *votes;      /* router [E] */
    double *nll;         /* best [E] */
    float *logits;       /* [n_rows, V] last-position logits */
    float *chunk_logits; /* best: [n_rows, chunk, V] */
    float *hidden;       /* router / mix: [chunk, H] */
    float *tok_w;        /* mix: [chunk, E] */
    int seg_n;           /* tokens in this step's segments */
    int chunk_cap;       /* prompt tokens per step at most (best: bounded by V * E) */
    int one_hot;         /* the fixed expert the strategy resolved to, or -1 */
    bool route;          /* router with E > 1: a routing pass first */
    int want_rows;       /* rows the strategy needs (allocated at admission) */
    int cap;             /* KV positions per row */
    bool started;        /* some prompt token has been scheduled */
    bool primed;         /* prompt done by cloning a twin; first token pending */
} mg__seq;

/* A finished prompt pass kept for requests still waiting for a batch slot:
 * the samples of a task admitted later copy it instead of prefilling. */
typedef struct mg__snap {
    int32_t *prompt;
    int n_prompt;
    mg_strategy_kind kind;
    int one_hot;
    int n_rows;
    mg__row rows[MAX_ROWS];
    bool has_aux;
    mg__row aux;
    float *logits; /* [n_rows, V] */
    int expert;
} mg__snap;

#define MAX_SNAPS 8

struct mg_engine {
    const mg_model *m;
    mg_engine_params p;
    mg__backend *be;
    mg__seq **seqs; /* live sequences, admission order */
    int n_seqs, cap_seqs;
    mg_token_event *pend; /* events not yet delivered */
    int n_pend, cap_pend;
    mg__segment *segs;
    int cap_segs;
    mg_engine_stats stats;
    mg__snap *snaps[MAX_SNAPS];
    int n_snaps;
    float *scores; /* [V] */
    float *rlog;   /* router logits scratch */
    int cap_rlog;
};

int mg__validate_model(const mg_model *m, mg_error *err);

/* Prompt sharing (share.c): the samples of a task prefill once. */
bool mg__has_running_twin(const mg_engine *e, const mg__seq *t);
void mg__share_prompt(mg_engine *e, mg__seq *s);
void mg__clone_from_snapshot(mg_engine *e, mg__seq *t);
void mg__prune_snapshots(mg_engine *e);
void mg__snap_free(mg_engine *e, mg__snap *p);

#endif
