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

/* x up to XFIT_BYTES is used whole; larger x is split along k into blocks
 * of about XBLOCK_BYTES so one block stays in L2 (512 KiB and more per core
 * on current x86) while every W tile of the item streams past it. */
#define XFIT_BYTES   (512u << 10)
#define XBLOCK_BYTES (256u << 10)
/* Larger x is taken in groups of rows of about XROWS_BYTES (at least
 * XROWS_MIN rows, else k is split as above). */
#define XROWS_BYTES (256u << 10)
#define XROWS_MIN   24
/* Up to this many x rows, W is read one row at a time (rowlin_*); from 6
 * rows on, the 4x3 tiles' arithmetic wins (measured, docs/perf/engine.md). */
#define ROWLIN_MAX_N 5

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

/* One NW x NX tile over k in [k0, k1); add: accumulate into y, else store.
 * A macro rather than a function with NW/NX arguments: the accumulator array
 * must have constant dimensions (a VLA would live on the stack), and the
 * unrolled loops must index it with constants to keep it in registers. */
#define DEF_TILE(NW, NX)                                                                           \
    INLINE void tile_##NW##x##NX(const mg__mm_args *a, int j0, int i0, int k0, int k1, bool add,   \
                                 const mg_dtype dt)                                                \
    {                                                                                              \
        const size_t k = (size_t)a->k;                                                             \
        const float *xr[NX];                                                                       \
        size_t wr[NW];                                                                             \
        __m256 acc[NW][NX];                                                                        \
        _Pragma("GCC unroll 8") for (int q = 0; q < NX; q++) xr[q] = a->x + (size_t)(i0 + q) * k;  \
        _Pragma("GCC unroll 8") for (int p = 0; p < NW; p++) wr[p] = (size_t)(j0 + p) * k;         \
        _Pragma("GCC unroll 8") for (int p = 0; p < NW; p++)                                       \
            _Pragma("GCC unroll 8") for (int q = 0; q < NX; q++) acc[p][q] = _mm256_setzero_ps();  \
        int l = k0;                                                                                \
        for (; l + 8 <= k1; l += 8) {                                                              \
            __m256 xv[NX];                                                                         \
            _Pragma("GCC unroll 8") for (int q = 0; q < NX; q++) xv[q] =                           \
                _mm256_loadu_ps(xr[q] + l);                                                        \
            _Pragma("GCC unroll 8") for (int p = 0; p < NW; p++)                                   \
            {                                                                                      \
                __m256 w = load8(a->W, wr[p] + (size_t)l, dt);                                     \
                _Pragma("GCC unroll 8") for (int q = 0; q < NX; q++) acc[p][q] =                   \
                    _mm256_fmadd_ps(w, xv[q], acc[p][q]);                                          \
            }                                                                                      \
        }                                                                                          \
        for (int p = 0; p < NW; p++) {                                                             \
            for (int q = 0; q < NX; q++) {                                                         \
                float s = hsum(acc[p][q]);                                                         \
                for (int t = l; t < k1; t++) s += xr[q][t] * load1(a->W, wr[p] + (size_t)t, dt);   \
                float *yo = a->y + (size_t)(i0 + q) * a->m + (j0 + p);                             \
                *yo = add ? *yo + s : s;                                                           \
            }                                                                                      \
        }                                                                                          \
    }

DEF_TILE(4, 1)
DEF_TILE(1, 1)
DEF_TILE(4, 3)
DEF_TILE(4, 2)
DEF_TILE(1, 3)
DEF_TILE(2, 4)

/* The W rows and columns the next wtile4 chunk reads: the next chunk of the
 * same 4 rows, else the first chunk of the next 4 rows (below j1). */
typedef struct next_span {
    const char *row0; /* first byte of the first row's span */
    size_t row_bytes, stride, lines;
    int n_rows;
} next_span;

INLINE next_span next_chunk(const mg__mm_args *a, int j, int j1, int c1, int k0, int k1, int chunk,
                            const mg_dtype dt)
{
    const size_t es = mg_dtype_size(dt), k = (size_t)a->k;
    next_span s = {0};
    int jn = j, cs = c1;
    if (c1 >= k1) {
        jn = j + 4;
        cs = k0;
    }
    if (jn >= j1) return s;
    int ce = k1 - cs > chunk ? cs + chunk : k1;
    s.n_rows = j1 - jn < 4 ? j1 - jn : 4;
    s.row0 = (const char *)a->W + ((size_t)jn * k + (size_t)cs) * es;
    s.row_bytes = (size_t)(ce - cs) * es;
    s.stride = k * es;
    s.lines = (s.row_bytes + 63) / 64;
    return s;
}

/* Slice `part` of `parts` of the next chunk's cache lines, into L1. */
INLINE void prefetch_part(const next_span *s, int part, int parts)
{
    size_t lo = s->lines * (size_t)part / (size_t)parts;
    size_t hi = s->lines * (size_t)(part + 1) / (size_t)parts;
    for (int r = 0; r < s->n_rows; r++)
        for (size_t c = lo; c < hi; c++)
            _mm_prefetch(s->row0 + (size_t)r * s->stride + c * 64, _MM_HINT_T1);
}

/* Every x row against the 4 W rows [j, j + 4) over [k0, k1). With more than
 * one x tile the 4 rows are walked in chunks that stay in L1 (16 KiB of
 * weights), so only the chunk's first x tile reads them from memory. Without
 * help that tile waits on 4 interleaved streams while the core idles, which
 * cost about half the throughput of a prefill; so each x tile also
 * prefetches a slice of the next chunk (into L2), and the memory traffic
 * overlaps the arithmetic. (Spreading those prefetches one line per loop
 * iteration instead of a burst per tile measured no better.) */
INLINE void wtile4(const mg__mm_args *a, int j, int j1, int k0, int k1, bool add, const mg_dtype dt)
{
    const int n = a->n;
    int chunk = k1 - k0;
    if (n > 3) chunk = dt == MG_DTYPE_F32 ? 1024 : 2048;
    const int parts = n / 3 > 0 ? n / 3 : 1;
    int c0 = k0;
    do {
        int c1 = k1 - c0 > chunk ? c0 + chunk : k1;
        bool ad = add || c0 > k0;
        next_span nx = next_chunk(a, j, j1, c1, k0, k1, chunk, dt);
        int part = 0;
        int i = 0;
        /* With 16-bit weights, when n leaves a remainder of 1 after the 4x3
         * tiles (n = 7, 10, ..., 16), the last 4 rows go through two 2x4
         * tiles (8 FMA chains each) instead of 4x3 + 4x1 (the 4x1 tail has
         * only 4 chains and is FMA-latency-bound): 10-25% faster when
         * measured at n = 4. With F32 weights the extra x loads make 2x4
         * slower, so F32 keeps 4x3 + 4x1. */
        int n3 = (dt != MG_DTYPE_F32 && n % 3 == 1) ? n - 4 : n;
        for (; i + 3 <= n3; i += 3) {
            if (part < parts) prefetch_part(&nx, part++, parts);
            tile_4x3(a, j, i, c0, c1, ad, dt);
        }
        while (part < parts) prefetch_part(&nx, part++, parts);
        if (n3 != n) {
            tile_2x4(a, j, i, c0, c1, ad, dt);
            tile_2x4(a, j + 2, i, c0, c1, ad, dt);
            i += 4;
        }
        if (n - i == 2) tile_4x2(a, j, i, c0, c1, ad, dt);
        if (n - i == 1) tile_4x1(a, j, i, c0, c1, ad, dt);
        c0 = c1;
    } while (c0 < k1);
}

/* Few x rows (decode at batch 1 to 5): W rows [j0, j1) one after the other,
 * each against all NX x rows with U accumulators per x row (NX * U >= 4
 * independent FMA chains, enough at this arithmetic intensity). Walking W
 * strictly front to back keeps these kernels at the memory bandwidth:
 * reading 4 or 8 rows side by side (a W tile, as the larger-batch path does)
 * makes as many interleaved streams inside each 4 KiB page, which the
 * hardware prefetcher follows badly — measured on Zen 4 at n = 1, 8 rows
 * side by side streamed 26-40 GB/s where one row at a time reached 50-57
 * GB/s (docs/perf/engine.md). x (NX rows) stays in L1. */
#define DEF_ROWLIN(NX, U)                                                                          \
    INLINE void rowlin_##NX(const mg__mm_args *a, int j0, int j1, int k0, int k1, bool add,        \
                            const mg_dtype dt)                                                     \
    {                                                                                              \
        const float *xr[NX];                                                                       \
        _Pragma("GCC unroll 8") for (int q = 0; q < NX; q++) xr[q] = a->x + (size_t)q * a->k;      \
        for (int j = j0; j < j1; j++) {                                                            \
            const size_t w0 = (size_t)j * (size_t)a->k;                                            \
            __m256 acc[NX][U];                                                                     \
            _Pragma("GCC unroll 8") for (int q = 0; q < NX; q++)                                   \
                _Pragma("GCC unroll 8") for (int u = 0; u < U; u++) acc[q][u] =                    \
                    _mm256_setzero_ps();                                                           \
            int l = k0;                                                                            \
            for (; l + 8 * U <= k1; l += 8 * U) {                                                  \
                _Pragma("GCC unroll 8") for (int u = 0; u < U; u++)                                \
                {                                                                                  \
                    __m256 w = load8(a->W, w0 + (size_t)(l + 8 * u), dt);                          \
                    _Pragma("GCC unroll 8") for (int q = 0; q < NX; q++) acc[q][u] =               \
                        _mm256_fmadd_ps(w, _mm256_loadu_ps(xr[q] + l + 8 * u), acc[q][u]);         \
                }                                                                                  \
            }                                                                                      \
            for (; l + 8 <= k1; l += 8) {                                                          \
                __m256 w = load8(a->W, w0 + (size_t)l, dt);                                        \
                _Pragma("GCC unroll 8") for (int q = 0; q < NX; q++) acc[q][0] =                   \
                    _mm256_fmadd_ps(w, _mm256_loadu_ps(xr[q] + l), acc[q][0]);                     \
            }                                                                                      \
            for (int q = 0; q < NX; q++) {                                                         \
                __m256 t = acc[q][0];                                                              \
                for (int u = 1; u < U; u++) t = _mm256_add_ps(t, acc[q][u]);                       \
                float s = hsum(t);                                                                 \
                for (int r = l; r < k1; r++) s += xr[q][r] * load1(a->W, w0 + (size_t)r, dt);      \
                float *yo = a->y + (size_t)q * a->m + j;                                           \
                *yo = add ? *yo + s : s;                                                           \
            }                                                                                      \
        }                                                                                          \
    }

DEF_ROWLIN(1, 4)
DEF_ROWLIN(2, 2)
DEF_ROWLIN(3, 2)
DEF_ROWLIN(4, 2)
DEF_ROWLIN(5, 1)

/* All x rows against W rows [j0, j1) over one k block. */
INLINE void block(const mg__mm_args *a, int j0, int j1, int k0, int k1, bool add, const mg_dtype dt)
{
    const int n = a->n;
    switch (n <= ROWLIN_MAX_N ? n : 0) {
    case 1:
        rowlin_1(a, j0, j1, k0, k1, add, dt);
        return;
    case 2:
        rowlin_2(a, j0, j1, k0, k1, add, dt);
        return;
    case 3:
        rowlin_3(a, j0, j1, k0, k1, add, dt);
        return;
    case 4:
        rowlin_4(a, j0, j1, k0, k1, add, dt);
        return;
    case 5:
        rowlin_5(a, j0, j1, k0, k1, add, dt);
        return;
    default:
        break;
    }
    int j = j0;
    for (; j + 4 <= j1; j += 4) wtile4(a, j, j1, k0, k1, add, dt);
    for (; j < j1; j++) {
        int i = 0;
        for (; i + 3 <= n; i += 3) tile_1x3(a, j, i, k0, k1, add, dt);
        for (; i < n; i++) tile_1x1(a, j, i, k0, k1, add, dt);
    }
}

INLINE void rows(const mg__mm_args *a, int j0, int j1, const mg_dtype dt)
{
    if (a->k == 0) { /* empty sum: y = 0 (or unchanged when accumulating) */
        block(a, j0, j1, 0, 0, a->accumulate, dt);
        return;
    }
    const size_t row_bytes = (size_t)a->k * sizeof(float);
    /* x too big for L2 (a long prefill chunk): take it XROWS_BYTES worth of
     * rows at a time, each group against all of this item's W rows over the
     * whole of k. The W rows are then read once per group (from L2 when the
     * item's rows fit there), but every tile keeps its long k loop: splitting
     * k instead cost 30-45% at n >= 256 (short tiles, y re-read per block). */
    if ((size_t)a->n * row_bytes > XFIT_BYTES && row_bytes * XROWS_MIN <= XROWS_BYTES) {
        int nb = (int)(XROWS_BYTES / row_bytes) / 3 * 3;
        for (int i0 = 0; i0 < a->n; i0 += nb) {
            mg__mm_args g = *a;
            g.n = a->n - i0 < nb ? a->n - i0 : nb;
            g.x = a->x + (size_t)i0 * (size_t)a->k;
            g.y = a->y + (size_t)i0 * (size_t)a->m;
            block(&g, j0, j1, 0, a->k, a->accumulate, dt);
        }
        return;
    }
    /* Split k only when even a group of rows does not fit in L2; otherwise a
     * split only breaks the weight rows into short strided runs the
     * prefetcher follows badly. */
    int kb = a->k;
    if ((size_t)a->n * a->k * sizeof(float) > XFIT_BYTES) {
        kb = (int)(XBLOCK_BYTES / sizeof(float) / (size_t)a->n) & ~7;
        if (kb < 256) kb = 256;
    }
    for (int k0 = 0; k0 < a->k; k0 += kb) {
        int k1 = a->k - k0 > kb ? k0 + kb : a->k;
        block(a, j0, j1, k0, k1, a->accumulate || k0 > 0, dt);
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
