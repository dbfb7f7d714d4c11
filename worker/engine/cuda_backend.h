/* cuda_backend.h — the CUDA backend's state, shared by cuda_backend.c
 * (weights, rows, lifetime) and cuda_forward.c (the batched forward). */
#ifndef MG_ENGINE_CUDA_BACKEND_H
#define MG_ENGINE_CUDA_BACKEND_H

#include "internal.h"
#include "mg_kernels_cuda.h"

/* One layer's weights on the device, in their stored dtype (norms and
 * projections) or fp32 (biases, converted once). */
typedef struct cu_layer {
    const void *attn_norm, *ffn_norm;
    mg_dtype attn_norm_dt, ffn_norm_dt;
    const void *proj[MG_PROJ_COUNT];
    mg_dtype proj_dt[MG_PROJ_COUNT];
    const float *bias[MG_PROJ_COUNT]; /* NULL when the projection has none */
} cu_layer;

typedef struct cuda_backend {
    mg__backend base;
    const mg_model *m;
    mg_cuda_ctx *ctx;
    int merge_expert; /* run unmerged: every token weights this expert 1 */
    /* Weights (device). */
    const void *embed, *lm_head, *final_norm;
    cu_layer *layers;       /* [L] */
    mg_k_lora_expert *lora; /* [L * P * E]: A/B device pointers (AdaLoRA: A * E, fp32) */
    const float **dora_mn;  /* [L * P * E] magnitude / ||W + s B A||_row, or NULL */
    void **allocs;          /* every weight buffer, freed with the backend */
    int n_allocs, cap_allocs;
    size_t weight_bytes;
    /* KV caches: rows are allocated from the device pool within a budget
     * fixed from the free memory left after the weights. */
    size_t kv_budget, kv_used;
    /* A row_copy failure (the interface cannot return it): the next forward
     * reports it. */
    int sticky_rc;
    mg_error sticky;
    /* Device scratch, grown to the largest step. */
    int cap_n;
    float *x, *xn, *q, *k, *v, *att, *o, *g, *u, *base_out, *lora_tmp;
    float *logits;
    size_t cap_logits;
    void *meta; /* per-step arrays (ids, positions, cache pointers), uploaded at once */
    size_t cap_meta;
    /* Host scratch. */
    char *h_meta;
    size_t cap_h_meta;
    float *tw;   /* [cap_n, E] per-token expert weights, batch order */
    float *gate; /* [cap_n, E] one expert's column (DoRA) */
    float *h_w;  /* [cap_n] */
    int *order;  /* segment indices: decodes first, then prompt chunks */
    int *t0;     /* [n_segs] first token of each segment in batch order */
    int cap_segs;
    float *inv_freq; /* [head_dim / 2 + 1] host */
} cuda_backend;

/* cuda_forward.c */
int mg__cuda_forward(mg__backend *bb, mg__segment *segs, int n_segs, mg_error *err);

#endif
