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
#endif

#endif
