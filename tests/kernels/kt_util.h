/* kt_util.h — helpers shared by the kernel tests: a deterministic RNG, guarded
 * output buffers and error metrics. */
#ifndef KT_UTIL_H
#define KT_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg_kernels.h"

/* splitmix64: reproducible inputs without libc's rand state. */
static inline uint64_t kt_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static inline float kt_uniform(uint64_t *s)
{
    return (float)((kt_next(s) >> 40) * (1.0 / (1ull << 24)) * 2.0 - 1.0);
}

static inline void kt_fill(float *x, size_t n, uint64_t *s, float scale)
{
    for (size_t i = 0; i < n; i++) x[i] = kt_uniform(s) * scale;
}

/* Fills a weight array of dtype t with values that are exact in t. */
static inline void *kt_weights(mg_dtype t, size_t n, uint64_t *s, float scale)
{
    void *w = malloc(n * mg_dtype_size(t) + 1);
    for (size_t i = 0; i < n; i++) {
        float v = kt_uniform(s) * scale;
        if (t == MG_DTYPE_F32)
            ((float *)w)[i] = v;
        else if (t == MG_DTYPE_F16)
            ((uint16_t *)w)[i] = mg_f32_to_f16(v);
        else
            ((uint16_t *)w)[i] = mg_f32_to_bf16(v);
    }
    return w;
}

/* A float buffer with KT_GUARD canary floats on each side: writing outside
 * [0, n) changes a canary, which kt_guard_ok detects (ASan would only catch
 * writes past the allocation). */
#define KT_GUARD  16
#define KT_CANARY 1234.5f
static inline float *kt_guarded(size_t n)
{
    float *b = malloc((n + 2 * KT_GUARD) * sizeof *b);
    for (size_t i = 0; i < n + 2 * KT_GUARD; i++) b[i] = KT_CANARY;
    return b + KT_GUARD;
}
static inline int kt_guard_ok(const float *p, size_t n)
{
    for (int i = 1; i <= KT_GUARD; i++)
        if (p[-i] != KT_CANARY || p[n + (size_t)i - 1] != KT_CANARY) return 0;
    return 1;
}
static inline void kt_guarded_free(float *p)
{
    if (p) free(p - KT_GUARD);
}

/* Normalised mean squared error of a against the reference b (ggml's NMSE). */
static inline double kt_nmse(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

#endif
