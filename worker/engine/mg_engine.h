/* mg_engine.h — the inference engine: a loaded mg_model plus a stream of
 * requests in, tokens out.
 *
 * Sequences join and leave the batch between steps (continuous batching).
 * Each request carries its own routing strategy and sampling parameters, so
 * sequences with different strategies share one batch: every target module
 * adds sum_e w_e * scaling_e * B_e (A_e x) with per-row expert weights.
 *
 *     mg_engine *e;
 *     mg_engine_params ep = mg_engine_default_params();
 *     mg_engine_new(model, &ep, &e, &err);
 *     mg_request r = {.id = 1, .prompt_ids = ids, .n_prompt = n, ...};
 *     mg_engine_submit(e, &r, &err);
 *     while (mg_engine_active(e) > 0) {
 *         mg_token_event ev[64]; int n_ev;
 *         mg_engine_step(e, ev, 64, &n_ev, &err);   // one decode step for all
 *         for each ev: stream ev.token of request ev.id; stop strings -> mg_engine_cancel
 *     }
 *     mg_engine_free(e);
 *
 * Randomness is counter-based, keyed by (seed, task_key, sample_index, step),
 * so a sample's tokens never depend on batch composition or worker count.
 * Not thread-safe: one engine per worker thread of control.
 */
#ifndef MG_ENGINE_H
#define MG_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "mg_error.h"
#include "mg_model.h"

/* ---- routing strategies ------------------------------------------------------ */

typedef enum mg_strategy_kind {
    MG_STRATEGY_ROUTER,      /* DyLoRA-MoE generate: routing pass, majority vote, one expert */
    MG_STRATEGY_SINGLE,      /* single:N */
    MG_STRATEGY_BEST,        /* lowest prompt NLL expert */
    MG_STRATEGY_ENSEMBLE,    /* average next-token distributions of all experts */
    MG_STRATEGY_ROUND_ROBIN, /* sample i uses expert i mod E */
    MG_STRATEGY_MIX,         /* per-token soft mixture (training semantics; beyond the reference) */
    MG_STRATEGY_XLORA,       /* X-LoRA classifier scalings */
    MG_STRATEGY_BASE         /* no adapters */
} mg_strategy_kind;

typedef struct mg_strategy {
    mg_strategy_kind kind;
    int expert; /* for SINGLE */
} mg_strategy;

/* Parses "router", "single:2", "best", ... Unknown strings fail with a message
 * listing the valid forms. Does not need a model. */
int mg_strategy_parse(const char *s, mg_strategy *out, mg_error *err);
/* Writes the canonical spelling ("single:2") into buf. */
const char *mg_strategy_format(const mg_strategy *s, char *buf, int cap);
/* Refuses a strategy that does not fit the model (single:N out of range,
 * ensemble on a model without experts, ...). */
int mg_strategy_check(const mg_strategy *s, const mg_model *m, mg_error *err);

/* ---- requests and events ----------------------------------------------------- */

typedef struct mg_sampling {
    bool greedy;       /* argmax; the other fields are ignored */
    float temperature; /* > 0 when sampling */
    int top_k;         /* 0 = off; Hugging Face's default is 50 */
    float top_p;       /* 1.0 = off; EvalPlus uses 0.95 */
    uint64_t seed;
} mg_sampling;

typedef struct mg_request {
    uint64_t id;               /* caller's handle, unique among live requests */
    const int32_t *prompt_ids; /* copied by submit */
    int n_prompt;
    int max_new_tokens; /* default 768 */
    mg_strategy strategy;
    mg_sampling sampling;
    uint64_t task_key;     /* stable hash of the task id (for the RNG) */
    uint32_t sample_index; /* which sample of the task (RNG, round_robin) */
    /* Optional, caller-owned [vocab] buffer: receives the scores the first
     * generated token was chosen from (the raw logits; for ensemble the log
     * of the averaged distribution). Must stay valid until the request's
     * first token event. NULL = not wanted. */
    float *first_logits;
    bool ignore_eos; /* run to max_new_tokens (benchmarks) */
} mg_request;

typedef enum mg_finish {
    MG_FINISH_NONE, /* still running */
    MG_FINISH_EOS,
    MG_FINISH_LENGTH, /* max_new_tokens or context full */
    MG_FINISH_CANCEL  /* mg_engine_cancel (e.g. a stop string was seen) */
} mg_finish;

typedef struct mg_token_event {
    uint64_t id;
    int32_t token;    /* -1 when the event only reports a finish */
    mg_finish finish; /* != NONE on the sequence's last event */
    int n_prompt, n_generated;
    int expert; /* expert generating (router: the voted one); -1 for base, ensemble, mix */
} mg_token_event;

/* Where the forward pass runs. The CPU backend is always there; the CUDA
 * backend lives in the library mg_engine_cuda, linked only into the
 * `moegen-cuda` binary (cuBLAS costs every process that links it ~0.5 s and
 * 200 MB at start), which registers it at start-up (mg_engine_cuda.h). */
typedef enum mg_device_kind { MG_DEVICE_CPU = 0, MG_DEVICE_CUDA = 1 } mg_device_kind;

typedef struct mg_engine_params {
    mg_device_kind device; /* default MG_DEVICE_CPU */
    int device_index;      /* which GPU (CUDA runtime numbering, after CUDA_VISIBLE_DEVICES) */
    int n_threads;         /* 0 = all cores */
    int max_batch;         /* sequences decoded together */
    int max_seq_len;       /* KV positions per sequence at most; 0 = n_prompt + max_new_tokens */
    int prefill_chunk;     /* prompt tokens per step, shared by the prefilling requests */
    /* Merge expert `merge_expert` into the base weights once (fp32 copies of
     * the adapted projections). Requests must then resolve to that expert
     * alone (single:N, round_robin, router on a one-expert model); anything
     * else is refused at submit. */
    bool merge_single;
    int merge_expert; /* used when merge_single */
} mg_engine_params;

mg_engine_params mg_engine_default_params(void);

/* Parses "cpu", "cuda" or "cuda:N" (N = device index, default 0). Errors
 * name the valid forms. Does not check that the device exists. */
int mg_engine_device_parse(const char *s, mg_device_kind *kind, int *index, mg_error *err);
/* How many devices of `kind` this process can run on: 1 for the CPU; for
 * CUDA the visible GPUs (0 when there is none or no driver), or
 * MG_EUNSUPPORTED with "run moegen-cuda" in err when this binary was built
 * without the CUDA backend. */
int mg_engine_device_count(mg_device_kind kind, int *n, mg_error *err);

typedef struct mg_engine mg_engine;

int mg_engine_new(const mg_model *model, const mg_engine_params *p, mg_engine **out, mg_error *err);
void mg_engine_free(mg_engine *e);

/* Queues a request (prompt copied). Refused, with nothing queued, for an empty
 * prompt, an id outside the vocabulary, a live duplicate id, bad sampling
 * values, a prompt that leaves no room under max_seq_len, or a strategy that
 * does not fit the model (mg_strategy_check). Caches are allocated when the
 * request enters the batch, not here. */
int mg_engine_submit(mg_engine *e, const mg_request *r, mg_error *err);
/* Ends a request at the next step with MG_FINISH_CANCEL; unknown ids are ignored. */
void mg_engine_cancel(mg_engine *e, uint64_t id);
/* Number of requests not yet finished. */
int mg_engine_active(const mg_engine *e);
/* Runs one step (prefill chunks and/or one decode step for every running
 * sequence) and reports the new tokens and finishes: one event per generated
 * token, the last carrying the finish. Events that do not fit in max_events
 * are kept and delivered by the next calls (which compute nothing until the
 * backlog is out). Errors: -ENOMEM (a request entering the batch stays
 * queued), MG_ERANGE (internal cache overflow). */
int mg_engine_step(mg_engine *e, mg_token_event *events, int max_events, int *n_events,
                   mg_error *err);

/* ---- statistics --------------------------------------------------------------- */

typedef struct mg_engine_stats {
    int64_t steps;          /* forward passes of mg_engine_step */
    int64_t forward_tokens; /* tokens run through the model (all rows, all passes) */
    int64_t shared_prompts; /* requests whose prompt pass was copied from a twin */
} mg_engine_stats;

/* Counters since mg_engine_new. Requests with the same prompt ids, strategy
 * and fixed expert (the samples of one task) prefill once: the first computes,
 * the others wait for it and copy its KV cache and routing decision. */
void mg_engine_get_stats(const mg_engine *e, mg_engine_stats *out);

/* ---- direct forward (tests, tools) -------------------------------------------- */

/* Runs ids[0..n) through the model in one pass with per-row expert weights
 * `expert_w` ([n_experts]; NULL = base model) and writes the logits of every
 * position into logits[n * vocab] (caller-owned). Independent of the request
 * queue; uses the engine's thread pool. */
int mg_engine_forward_logits(mg_engine *e, const float *expert_w, const int32_t *ids, int n,
                             float *logits, mg_error *err);

/* ---- sampling and RNG (exposed for tests and the coordinator) ------------------- */

/* Counter-based uniform double in [0, 1): a pure function of its arguments
 * (splitmix64 finaliser chained over the four keys; see docs/ENGINE.md). */
double mg_rng_uniform(uint64_t seed, uint64_t task_key, uint32_t sample_index, uint32_t step);

/* Applies Hugging Face's warpers in generate's order (temperature, top-k,
 * top-p) to scores[n] in place; removed entries become -INFINITY. Greedy
 * sampling leaves scores unchanged. Returns -ENOMEM when scratch fails. */
int mg_sampling_warp(const mg_sampling *s, float *scores, int n);
/* Picks a token from scores[n] (already warped): argmax (first of ties) when
 * greedy, else inverse-CDF over softmax(scores) with uniform u. */
int32_t mg_sampling_pick(const mg_sampling *s, const float *scores, int n, double u);

#endif /* MG_ENGINE_H */
