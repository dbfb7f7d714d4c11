/* internal.h — private declarations shared by the engine's files.
 *
 * Data flow: engine.c schedules requests into "segments" (a run of tokens for
 * one KV-cache row), the backend's forward() runs all segments of a step as
 * one batch, and engine.c turns the resulting logits / hidden states into
 * routing decisions and tokens (sample.c).
 */
#ifndef MG_ENGINE_INTERNAL_H
#define MG_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "mg_engine.h"
#include "mg_kernels.h"
#include "mg_model.h"

/* One KV cache: a sequence run under one fixed set of adapters. Layout per
 * layer: k[l][pos][kv_heads * head_dim], same for v. */
typedef struct mg__row {
    float *k, *v;
    int cap;    /* positions allocated */
    int n_past; /* positions filled */
    float *w;   /* [n_experts] expert weights applied to every token of the row */
} mg__row;

/* What a segment wants back from the forward pass. */
enum {
    MG__WANT_LAST_LOGITS = 1, /* logits of the segment's last token -> logits[vocab] */
    MG__WANT_ALL_LOGITS = 2,  /* logits of every token -> logits[n * vocab] */
    MG__WANT_HIDDEN = 4,      /* final-norm hidden states of every token -> hidden[n * H] */
};

typedef struct mg__segment {
    mg__row *row;
    const int32_t *ids; /* [n] tokens appended at row->n_past */
    int n;
    const float *tok_w; /* [n, n_experts] per-token expert weights, or NULL: row->w */
    int want;
    float *logits; /* caller-owned, sized per `want` */
    float *hidden; /* caller-owned [n, H] */
    /* [n, n_layers * MG_PROJ_COUNT, n_experts] per-token weights of each
     * adapted module (layer l, projection p at l * MG_PROJ_COUNT + p), or
     * NULL: tok_w / row->w for every module. X-LoRA's layerwise scalings;
     * a backend that lacks it refuses a segment that sets it. */
    const float *mod_w;
} mg__segment;

/* The backend interface a CPU or CUDA implementation provides: one batched
 * forward over segments (each appends its tokens to its row's cache). */
typedef struct mg__backend mg__backend;
typedef struct mg__backend_vt {
    const char *name;
    int (*forward)(mg__backend *b, mg__segment *segs, int n_segs, mg_error *err);
    int (*row_init)(mg__backend *b, mg__row *row, int cap, mg_error *err);
    void (*row_free)(mg__backend *b, mg__row *row);
    /* dst := src (positions, weights, cache contents); dst->cap >= src->n_past. */
    void (*row_copy)(mg__backend *b, mg__row *dst, const mg__row *src);
    void (*free)(mg__backend *b);
} mg__backend_vt;

struct mg__backend {
    const mg__backend_vt *vt;
};

/* A backend linked into some binaries only (CUDA, in moegen-cuda):
 * registered once at process start, before any engine exists
 * (mg_engine_cuda_register); mg_engine_new picks it by params.device. */
typedef struct mg__backend_factory {
    const char *name;
    int (*device_count)(int *n, mg_error *err);
    int (*create)(const mg_model *m, const mg_engine_params *p, int merge_expert, mg__backend **out,
                  mg_error *err);
} mg__backend_factory;
void mg__register_backend(mg_device_kind kind, const mg__backend_factory *f);

/* The CPU backend. merge_expert >= 0 folds that expert into fp32 copies of
 * the adapted base weights (the row weight for it must then be 0). */
int mg__cpu_backend_new(const mg_model *m, int n_threads, int merge_expert, mg__backend **out,
                        mg_error *err);

/* X-LoRA (strategy.c), as PEFT's XLoraModel. Expert weights of the scaling
 * pass: every expert at scaling_pass_value, after top-k / softmax-top-k,
 * times global_scaling_weight; w[n_experts]. */
void mg__xlora_pass_weights(const mg_model *m, float *w);
/* Weights per token the scalings take: n_experts, or n_layers *
 * MG_PROJ_COUNT * n_experts with layerwise_scalings (a segment's mod_w). */
size_t mg__xlora_weights_per_token(const mg_model *m);
/* The classifier over the scaling pass's final-norm states hidden[n, H]:
 * softmax(logits / T), top-k, softmax over the kept, times
 * global_scaling_weight, into w[n, weights_per_token]. */
int mg__xlora_scalings(const mg_model *m, const float *hidden, int n, float *w, mg_error *err);

/* Per-token activation widths, which size the backends' scratch buffers:
 * hidden, intermediate, query and key/value widths, and the widest of the
 * module inputs/outputs (LoRA gathers, the o/down outputs). */
typedef struct mg__widths {
    size_t H, I, QD, KD, wide;
} mg__widths;

static inline mg__widths mg__model_widths(const mg_model_config *c)
{
    mg__widths w = {(size_t)c->hidden_size, (size_t)c->intermediate_size,
                    (size_t)c->n_heads * (size_t)c->head_dim,
                    (size_t)c->n_kv_heads * (size_t)c->head_dim, 0};
    w.wide = w.H > w.QD ? w.H : w.QD;
    if (w.I > w.wide) w.wide = w.I;
    return w;
}

/* RoPE inverse frequencies as transformers computes them (float32 from the
 * int64 arange), including linear / llama3 scaling and dynamic NTK for a
 * given sequence length. inv_freq[head_dim / 2]. */
void mg__rope_inv_freq(const mg_model_config *c, int seq_len, float *inv_freq);

#endif /* MG_ENGINE_INTERNAL_H */
