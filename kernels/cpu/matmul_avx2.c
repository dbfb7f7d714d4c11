/* matmul_avx2.c — the AVX2/FMA/F16C matmul, compiled with -mavx2 -mfma -mf16c
 * and entered only when the CPU reports those features.
 *
 * y[i, j] = dot(x[i, :], W[j, :]). A tile holds NW rows of W against NX rows
 * of x in NW*NX ymm accumulators (12 for the 4x3 tile: with one W and three x
 * registers that is all 16). Each W vector is loaded once per tile, widened to
 * fp32 in registers (BF16: zero-extend and shift; F16: vcvtph2ps), and used
 * NX times, so memory traffic is the weights' stored size and the FMA chains
 * are independent. For batched inputs the k loop is split into blocks so one
 * block of x stays in L2 while every W tile of the item streams past it. */
#include "cpu_internal.h"

#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

/* k block for n > 3: 64 rows x 1024 x 4 B = 256 KiB of x, resident in L2. */
#define KBLOCK 1024

INLINE __m256 load8(const void *W, size_t idx, mg_dtype dt)
{
    if (dt == MG_DTYPE_F32) return _mm256_loadu_ps((const float *)W + idx);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)W + idx));
    if (dt == MG_DTYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INLINE float load1(const void *W, size_t idx, mg_dtype dt)
{
    if (dt == MG_DTYPE_F32) return ((const float *)W)[idx];
    uint16_t h = ((const uint16_t *)W)[idx];
    return dt == MG_DTYPE_F16 ? mg_f16_to_f32(h) : mg_bf16_to_f32(h);
}

INLINE float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* One NW x NX tile over k in [k0, k1). add: accumulate into y, else store. */
INLINE void tile(const mg__mm_args *a, int j0, int i0, int k0, int k1, bool add, const int NW,
                 const int NX, const mg_dtype dt)
{
    const size_t k = (size_t)a->k;
    __m256 acc[NW][NX];
    for (int p = 0; p < NW; p++)
        for (int q = 0; q < NX; q++) acc[p][q] = _mm256_setzero_ps();
    int l = k0;
    for (; l + 8 <= k1; l += 8) {
        __m256 xv[NX];
        for (int q = 0; q < NX; q++) xv[q] = _mm256_loadu_ps(a->x + (size_t)(i0 + q) * k + l);
        for (int p = 0; p < NW; p++) {
            __m256 w = load8(a->W, (size_t)(j0 + p) * k + l, dt);
            for (int q = 0; q < NX; q++) acc[p][q] = _mm256_fmadd_ps(w, xv[q], acc[p][q]);
        }
    }
    for (int p = 0; p < NW; p++) {
        for (int q = 0; q < NX; q++) {
            float s = hsum(acc[p][q]);
            const float *xr = a->x + (size_t)(i0 + q) * k;
            for (int t = l; t < k1; t++) s += xr[t] * load1(a->W, (size_t)(j0 + p) * k + t, dt);
            float *yo = a->y + (size_t)(i0 + q) * a->m + (j0 + p);
            *yo = add ? *yo + s : s;
        }
    }
}

/* All x rows against W rows [j0, j1) over one k block, tiles in the order
 * that reuses each W tile (in L1) across every x tile. */
INLINE void block(const mg__mm_args *a, int j0, int j1, int k0, int k1, bool add, const mg_dtype dt)
{
    const int n = a->n;
    if (n == 1) {
        int j = j0;
        for (; j + 8 <= j1; j += 8) tile(a, j, 0, k0, k1, add, 8, 1, dt);
        for (; j + 4 <= j1; j += 4) tile(a, j, 0, k0, k1, add, 4, 1, dt);
        for (; j < j1; j++) tile(a, j, 0, k0, k1, add, 1, 1, dt);
        return;
    }
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
        int i = 0;
        for (; i + 3 <= n; i += 3) tile(a, j, i, k0, k1, add, 4, 3, dt);
        if (n - i == 2) tile(a, j, i, k0, k1, add, 4, 2, dt);
        if (n - i == 1) tile(a, j, i, k0, k1, add, 4, 1, dt);
    }
    for (; j < j1; j++) {
        int i = 0;
        for (; i + 3 <= n; i += 3) tile(a, j, i, k0, k1, add, 1, 3, dt);
        for (; i < n; i++) tile(a, j, i, k0, k1, add, 1, 1, dt);
    }
}

INLINE void rows(const mg__mm_args *a, int j0, int j1, const mg_dtype dt)
{
    int kb = a->n > 3 ? KBLOCK : a->k;
    if (kb <= 0) kb = 1;
    for (int k0 = 0; k0 < a->k || k0 == 0; k0 += kb) {
        int k1 = k0 + kb < a->k ? k0 + kb : a->k;
        block(a, j0, j1, k0, k1, a->accumulate || k0 > 0, dt);
        if (a->k == 0) break;
    }
}

static void rows_f32(const mg__mm_args *a, int j0, int j1)
{
    rows(a, j0, j1, MG_DTYPE_F32);
}
static void rows_f16(const mg__mm_args *a, int j0, int j1)
{
    rows(a, j0, j1, MG_DTYPE_F16);
}
static void rows_bf16(const mg__mm_args *a, int j0, int j1)
{
    rows(a, j0, j1, MG_DTYPE_BF16);
}

void mg__matmul_rows_avx2(const mg__mm_args *a, int j0, int j1)
{
    switch (a->wt) {
    case MG_DTYPE_F32:
        rows_f32(a, j0, j1);
        break;
    case MG_DTYPE_F16:
        rows_f16(a, j0, j1);
        break;
    default:
        rows_bf16(a, j0, j1);
        break;
    }
}
