/* cpu_internal.h — what the dispatcher (matmul.c) and the per-ISA files
 * share. Not a public header: the engine uses mg_kernels.h only. */
#ifndef MG_KERNELS_CPU_INTERNAL_H
#define MG_KERNELS_CPU_INTERNAL_H

#include "mg_kernels.h"

/* One unit of a parallel matmul: output columns [j0, j1) (rows of W) for all
 * n rows of x. Each ISA provides one with the same contract. */
typedef struct mg__mm_args {
    float *y;
    const float *x;
    const void *W;
    mg_dtype wt;
    int n, k, m;
    bool accumulate;
} mg__mm_args;

void mg__matmul_rows_scalar(const mg__mm_args *a, int j0, int j1);
#if defined(__x86_64__)
void mg__matmul_rows_avx2(const mg__mm_args *a, int j0, int j1);
/* FLOP/s of `iters` rounds of 12 independent 8-wide FMAs on every pool thread. */
double mg__fma_flops_avx2(mg_kpool *pool, long iters, double (*clock)(void));

#endif

/* Attention's arguments, as mg_k_attention takes them. Row r of the work is
 * query r / n_heads, head r % n_heads; each row needs n_kv floats of scratch. */
typedef struct mg__attn_args {
    float *out;
    const float *q, *k, *v;
    int n_q, n_kv, q_pos0, n_heads, n_kv_heads, head_dim;
    float scale;
    int window;
} mg__attn_args;

void mg__attention_row_scalar(const mg__attn_args *a, int i, int h, float *scratch);
#if defined(__x86_64__)
void mg__attention_row_avx2(const mg__attn_args *a, int i, int h, float *scratch);
#endif
/* Whether the AVX2 kernels may run (detected and not forced off). */
bool mg__use_avx2(void);

#endif
