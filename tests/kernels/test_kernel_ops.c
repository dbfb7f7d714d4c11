/* test_kernel_ops.c — every optimized CPU kernel against its scalar `_ref`
 * twin, in the spirit of ggml's test-backend-ops: one table of cases (op,
 * dtype, shape), inputs from a fixed seed, outputs in guarded buffers, and
 * each case checked for NaN/Inf, NMSE and a per-element error bound.
 *
 * Tolerances. Both sides compute in fp32 from the same fp32 products; they
 * differ only in summation order (the AVX2 kernel sums 8 lanes, then across
 * lanes, and splits k into blocks). Such sums differ by at most about
 * sqrt(k) * eps * sum|x_l w_l| in practice (Higham, ch. 4), so the per-element
 * bound below is 4 * sqrt(k) * eps * sum|x_l w_l| and NMSE must be <= 1e-10. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include <stdio.h>

#include "kt_util.h"

typedef struct mm_case {
    int n, k, m;
} mm_case;

/* Shapes: 1s, sizes just off multiples of 8/16 (tile and vector tails), the
 * decode case (n = 1) and batched/prefill cases (n = 2..64) at model shapes,
 * k past the weight chunk (1024/2048) for n > 3, x over 512 KiB ({64, 2100},
 * {40, 4100}: k split into L2-sized blocks), and k = 0 (an empty sum). */
static const mm_case mm_cases[] = {
    {1, 1, 1},     {1, 7, 5},     {1, 8, 8},     {1, 9, 17},     {1, 16, 33},   {2, 15, 3},
    {3, 33, 17},   {4, 64, 12},   {5, 100, 9},   {7, 1023, 13},  {1, 576, 192}, {4, 576, 67},
    {16, 96, 70},  {17, 129, 31}, {64, 576, 24}, {2, 2051, 9},   {6, 2500, 21}, {1, 4100, 36},
    {33, 1025, 5}, {64, 40, 130}, {9, 1536, 40}, {1, 2048, 257}, {64, 2100, 9}, {40, 4100, 5},
    {2, 0, 3},     {5, 0, 9},
};

static const mg_dtype dtypes[] = {MG_DTYPE_F32, MG_DTYPE_F16, MG_DTYPE_BF16};

/* sum_l |x_l w_l| for output (i, j), in double. */
static double abs_dot(const float *x, const void *W, mg_dtype t, int k, int i, int j)
{
    double s = 0;
    for (int l = 0; l < k; l++) {
        float w;
        size_t idx = (size_t)j * k + l;
        if (t == MG_DTYPE_F32)
            w = ((const float *)W)[idx];
        else if (t == MG_DTYPE_F16)
            w = mg_f16_to_f32(((const uint16_t *)W)[idx]);
        else
            w = mg_bf16_to_f32(((const uint16_t *)W)[idx]);
        s += fabs((double)x[(size_t)i * k + l] * w);
    }
    return s;
}

/* Runs the whole table through mg_k_matmul (whatever path is selected) and
 * compares with mg_k_matmul_ref. */
static void check_matmul_table(mg_kpool *pool, const char *path)
{
    uint64_t seed = 42;
    for (size_t c = 0; c < sizeof mm_cases / sizeof *mm_cases; c++) {
        for (size_t d = 0; d < 3; d++) {
            for (int acc = 0; acc < 2; acc++) {
                mm_case mc = mm_cases[c];
                mg_dtype t = dtypes[d];
                size_t ny = (size_t)mc.n * mc.m;
                float *x = malloc((size_t)mc.n * mc.k * sizeof *x);
                kt_fill(x, (size_t)mc.n * mc.k, &seed, 1.0f);
                void *W = kt_weights(t, (size_t)mc.m * mc.k, &seed, 0.5f);
                float *y = kt_guarded(ny), *yr = kt_guarded(ny);
                for (size_t i = 0; i < ny; i++) y[i] = yr[i] = (float)i * 0.25f - 3.0f;
                mg_k_matmul(pool, y, x, W, t, mc.n, mc.k, mc.m, acc);
                mg_k_matmul_ref(yr, x, W, t, mc.n, mc.k, mc.m, acc);
                char what[128];
                snprintf(what, sizeof what, "%s matmul %s n=%d k=%d m=%d acc=%d", path,
                         mg_dtype_name(t), mc.n, mc.k, mc.m, acc);
                cr_assert(kt_guard_ok(y, ny), "%s: wrote outside y", what);
                double nmse = kt_nmse(y, yr, ny);
                cr_assert(nmse <= 1e-10, "%s: nmse %g", what, nmse);
                for (int i = 0; i < mc.n; i++) {
                    for (int j = 0; j < mc.m; j++) {
                        size_t o = (size_t)i * mc.m + j;
                        cr_assert(isfinite(y[o]), "%s: y[%d,%d] not finite", what, i, j);
                        double bound = 4 * sqrt((double)mc.k) * FLT_EPSILON *
                                       (abs_dot(x, W, t, mc.k, i, j) + (acc ? fabsf(yr[o]) : 0));
                        cr_assert(fabs((double)y[o] - yr[o]) <= bound + 1e-30,
                                  "%s: y[%d,%d] = %.9g, ref %.9g", what, i, j, y[o], yr[o]);
                    }
                }
                kt_guarded_free(y);
                kt_guarded_free(yr);
                free(x);
                free(W);
            }
        }
    }
}

Test(matmul, table_selected_isa_single_thread)
{
    mg_k_cpu_force_scalar(false);
    check_matmul_table(NULL, mg_k_cpu_isa());
}

Test(matmul, table_selected_isa_pool)
{
    mg_k_cpu_force_scalar(false);
    mg_kpool *pool = NULL;
    cr_assert_eq(mg_kpool_new(3, &pool, NULL), 0);
    check_matmul_table(pool, mg_k_cpu_isa());
    mg_kpool_free(pool);
}

Test(matmul, table_scalar_pool)
{
    mg_k_cpu_force_scalar(true);
    mg_kpool *pool = NULL;
    cr_assert_eq(mg_kpool_new(2, &pool, NULL), 0);
    check_matmul_table(pool, "scalar");
    mg_kpool_free(pool);
    mg_k_cpu_force_scalar(false);
}

/* mg_k_matmul_multi must give each op exactly (bit for bit) what mg_k_matmul
 * gives it alone: the kernels compute every output element the same way
 * whatever rows an item holds, so the fused run changes only scheduling. */
static void check_multi(mg_kpool *pool)
{
    static const int ns[] = {1, 2, 5, 16, 64};
    static const int ms[][3] = {{576, 192, 192}, {7, 0, 33}, {1, 1, 1}, {130, 9, 64}};
    uint64_t seed = 7;
    for (size_t d = 0; d < 3; d++) {
        for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
            for (size_t b = 0; b < sizeof ms / sizeof *ms; b++) {
                int n = ns[a], k = b == 1 ? 1029 : 96;
                float *x = malloc((size_t)n * k * sizeof *x);
                kt_fill(x, (size_t)n * k, &seed, 1.0f);
                mg_k_mm_op ops[3];
                float *alone[3];
                for (int o = 0; o < 3; o++) {
                    int m = ms[b][o];
                    ops[o] = (mg_k_mm_op){kt_guarded((size_t)n * m),
                                          kt_weights(dtypes[d], (size_t)m * k, &seed, 0.5f),
                                          dtypes[d], m};
                    alone[o] = malloc(((size_t)n * m + 1) * sizeof(float));
                    mg_k_matmul(pool, alone[o], x, ops[o].W, dtypes[d], n, k, m, false);
                }
                mg_k_matmul_multi(pool, x, n, k, ops, 3);
                for (int o = 0; o < 3; o++) {
                    size_t ny = (size_t)n * ops[o].m;
                    cr_assert(kt_guard_ok(ops[o].y, ny), "multi op %d wrote outside y", o);
                    cr_assert(memcmp(ops[o].y, alone[o], ny * sizeof(float)) == 0,
                              "multi %s n=%d k=%d op %d (m=%d) differs from mg_k_matmul",
                              mg_dtype_name(dtypes[d]), n, k, o, ops[o].m);
                    kt_guarded_free(ops[o].y);
                    free((void *)ops[o].W);
                    free(alone[o]);
                }
                free(x);
            }
        }
    }
}

Test(matmul, multi_equals_separate)
{
    mg_k_cpu_force_scalar(false);
    check_multi(NULL);
    mg_kpool *pool = NULL;
    cr_assert_eq(mg_kpool_new(3, &pool, NULL), 0);
    check_multi(pool);
    mg_k_cpu_force_scalar(true);
    check_multi(pool);
    mg_k_cpu_force_scalar(false);
    mg_kpool_free(pool);
}

Test(matmul, avx2_selected_when_supported)
{
    mg_k_cpu_force_scalar(false);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
          __builtin_cpu_supports("f16c")))
        cr_skip_test("CPU lacks AVX2/FMA/F16C: only the scalar path is tested");
    cr_assert_str_eq(mg_k_cpu_isa(), "avx2");
#else
    cr_skip_test("not x86-64: only the scalar path exists");
#endif
}

/* NaN and inf in x must reach exactly the outputs they feed, in both paths
 * (a kernel that skips work or mixes rows would lose or spread them). */
Test(matmul, nan_inf_propagate)
{
    uint64_t seed = 7;
    const int n = 5, k = 37, m = 19;
    for (size_t d = 0; d < 3; d++) {
        float x[5 * 37];
        kt_fill(x, (size_t)n * k, &seed, 1.0f);
        x[1 * k + 3] = NAN;
        x[3 * k + 36] = INFINITY; /* with random-sign weights: +-inf per output */
        void *W = kt_weights(dtypes[d], (size_t)m * k, &seed, 1.0f);
        float y[5 * 19], yr[5 * 19];
        mg_k_matmul(NULL, y, x, W, dtypes[d], n, k, m, false);
        mg_k_matmul_ref(yr, x, W, dtypes[d], n, k, m, false);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                float a = y[i * m + j], b = yr[i * m + j];
                if (i == 1)
                    cr_assert(isnan(a) && isnan(b), "row 1 must be NaN");
                else if (i == 3)
                    cr_assert(isinf(a) && a == b, "row 3 must be the same inf");
                else
                    cr_assert(isfinite(a) && isfinite(b));
            }
        }
        free(W);
    }
}

/* ---- batched multi-LoRA ------------------------------------------------------- */

typedef struct lora_case {
    int n, in, out, n_experts;
    int r[4];
    const char *gates; /* per row: one char per expert, '0' off, '1' on, 'h' 0.5, 'm' -0.25 */
} lora_case;

static const lora_case lora_cases[] = {
    {1, 16, 8, 1, {4}, "1"},
    {1, 64, 48, 3, {8, 8, 8}, "010"},
    {4,
     33,
     17,
     2,
     {3, 5},
     "10"
     "01"
     "11"
     "00"},
    {5,
     100,
     70,
     4,
     {16, 0, 8, 1},
     "1111"
     "0100"
     "hm00"
     "0011"
     "0000"},
    {16, 96, 64, 3, {16, 16, 16}, "100010001100010001100010001100010001100010001100"},
    {3,
     576,
     192,
     2,
     {16, 32},
     "1h"
     "m1"
     "01"},
};

static float gate_of(char c)
{
    return c == '1' ? 1.0f : c == 'h' ? 0.5f : c == 'm' ? -0.25f : 0.0f;
}

Test(lora, batched_against_ref)
{
    uint64_t seed = 99;
    mg_kpool *pool = NULL;
    cr_assert_eq(mg_kpool_new(2, &pool, NULL), 0);
    for (size_t c = 0; c < sizeof lora_cases / sizeof *lora_cases; c++) {
        for (size_t d = 0; d < 3; d++) {
            const lora_case *lc = &lora_cases[c];
            mg_k_lora_expert ex[4];
            void *bufs[8] = {0};
            for (int e = 0; e < lc->n_experts; e++) {
                int r = lc->r[e];
                bufs[2 * e] = r ? kt_weights(dtypes[d], (size_t)r * lc->in, &seed, 0.3f) : NULL;
                bufs[2 * e + 1] =
                    r ? kt_weights(dtypes[d], (size_t)lc->out * r, &seed, 0.3f) : NULL;
                ex[e] = (mg_k_lora_expert){bufs[2 * e], bufs[2 * e + 1], dtypes[d], r,
                                           2.0f / (float)(r ? r : 1) + (float)e};
            }
            float *gate = malloc((size_t)lc->n * lc->n_experts * sizeof *gate);
            for (int i = 0; i < lc->n * lc->n_experts; i++) gate[i] = gate_of(lc->gates[i]);
            size_t nx = (size_t)lc->n * lc->in, ny = (size_t)lc->n * lc->out;
            float *x = malloc(nx * sizeof *x);
            kt_fill(x, nx, &seed, 1.0f);
            float *y = kt_guarded(ny), *yr = kt_guarded(ny);
            kt_fill(y, ny, &seed, 1.0f);
            memcpy(yr, y, ny * sizeof *y);
            float *y0 = malloc(ny * sizeof *y0);
            memcpy(y0, y, ny * sizeof *y);
            size_t ns = mg_k_lora_scratch_floats(lc->n, lc->in, lc->out, ex, lc->n_experts);
            float *scratch = kt_guarded(ns);
            mg_k_lora(pool, y, x, lc->n, lc->in, lc->out, ex, lc->n_experts, gate, scratch);
            mg_k_lora_ref(yr, x, lc->n, lc->in, lc->out, ex, lc->n_experts, gate);
            cr_assert(kt_guard_ok(y, ny), "lora case %zu %s: wrote outside y", c,
                      mg_dtype_name(dtypes[d]));
            cr_assert(kt_guard_ok(scratch, ns), "lora case %zu: wrote outside scratch", c);
            double nmse = kt_nmse(y, yr, ny);
            cr_assert(nmse <= 1e-10, "lora case %zu %s: nmse %g", c, mg_dtype_name(dtypes[d]),
                      nmse);
            for (size_t i = 0; i < ny; i++) {
                cr_assert(isfinite(y[i]));
                /* Rows whose gates are all zero must be untouched, bit for bit. */
                int row = (int)(i / (size_t)lc->out), on = 0;
                for (int e = 0; e < lc->n_experts; e++)
                    on |= gate[(size_t)row * lc->n_experts + e] != 0.0f && lc->r[e] > 0;
                if (!on)
                    cr_assert(y[i] == yr[i] && y[i] == y0[i], "lora: idle row %d changed", row);
                cr_assert(fabsf(y[i] - yr[i]) <= 1e-5f * (1.0f + fabsf(yr[i])),
                          "lora case %zu %s: y[%zu] = %.9g, ref %.9g", c, mg_dtype_name(dtypes[d]),
                          i, y[i], yr[i]);
            }
            kt_guarded_free(y);
            kt_guarded_free(yr);
            kt_guarded_free(scratch);
            free(x);
            free(y0);
            free(gate);
            for (int b = 0; b < 8; b++) free(bufs[b]);
        }
    }
    mg_kpool_free(pool);
}

/* ---- attention ------------------------------------------------------------------ */

typedef struct attn_case {
    int n_q, n_kv, q_pos0, n_heads, n_kv_heads, head_dim, window;
} attn_case;

/* head_dim off multiples of 8/16 (vector tails), GQA/MQA, windows, decode
 * and chunked prefill after a prefix. */
static const attn_case attn_cases[] = {
    {1, 1, 0, 1, 1, 8, 0},      {5, 5, 0, 4, 4, 16, 0},      {1, 9, 8, 8, 2, 64, 0},
    {3, 12, 9, 6, 1, 12, 0},    {7, 7, 0, 4, 2, 20, 3},      {2, 20, 18, 2, 1, 4, 5},
    {4, 130, 126, 9, 3, 64, 0}, {1, 300, 299, 8, 1, 256, 0}, {6, 6, 0, 3, 3, 7, 0},
    {16, 40, 24, 2, 2, 24, 10},
};

Test(attention, avx2_and_pool_against_ref)
{
    uint64_t seed = 13;
    mg_kpool *pool = NULL;
    cr_assert_eq(mg_kpool_new(3, &pool, NULL), 0);
    for (size_t c = 0; c < sizeof attn_cases / sizeof *attn_cases; c++) {
        attn_case a = attn_cases[c];
        size_t nq = (size_t)a.n_q * a.n_heads * a.head_dim;
        size_t nk = (size_t)a.n_kv * a.n_kv_heads * a.head_dim;
        float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4);
        kt_fill(q, nq, &seed, 2.0f);
        kt_fill(k, nk, &seed, 2.0f);
        kt_fill(v, nk, &seed, 1.0f);
        float *ref = kt_guarded(nq), *out = kt_guarded(nq), *outp = kt_guarded(nq);
        size_t ns = (size_t)mg_kpool_size(pool) * a.n_kv;
        float *scr = kt_guarded(ns);
        float scale = 1.0f / sqrtf((float)a.head_dim);
        mg_k_attention_ref(ref, q, k, v, a.n_q, a.n_kv, a.q_pos0, a.n_heads, a.n_kv_heads,
                           a.head_dim, scale, a.window, scr);
        mg_k_attention(out, q, k, v, a.n_q, a.n_kv, a.q_pos0, a.n_heads, a.n_kv_heads, a.head_dim,
                       scale, a.window, scr);
        cr_assert(kt_guard_ok(scr, (size_t)a.n_kv), "case %zu: scratch overrun", c);
        mg_k_attention_pool(pool, outp, q, k, v, a.n_q, a.n_kv, a.q_pos0, a.n_heads, a.n_kv_heads,
                            a.head_dim, scale, a.window, scr);
        cr_assert(kt_guard_ok(out, nq) && kt_guard_ok(outp, nq) && kt_guard_ok(scr, ns),
                  "case %zu: wrote outside a buffer", c);
        /* outputs are convex combinations of v (|v| < 1): absolute bound */
        for (size_t i = 0; i < nq; i++) {
            cr_assert(isfinite(out[i]) && isfinite(outp[i]));
            cr_assert(fabsf(out[i] - ref[i]) <= 1e-6f, "case %zu [%zu]: %.9g vs %.9g", c, i, out[i],
                      ref[i]);
            cr_assert(out[i] == outp[i], "case %zu [%zu]: pooled result differs", c, i);
        }
        kt_guarded_free(ref), kt_guarded_free(out), kt_guarded_free(outp), kt_guarded_free(scr);
        free(q), free(k), free(v);
    }
    mg_kpool_free(pool);
}

/* The bandwidth measurement both benchmarks quote: positive figures on small
 * arrays, and a clear error for arrays or repetitions that measure nothing. */
Test(membw, measures_and_rejects_empty)
{
    mg_kpool *pool = NULL;
    cr_assert_eq(mg_kpool_new(2, &pool, NULL), 0);
    mg_k_membw_result r = {0};
    mg_error err = {0};
    cr_assert_eq(mg_k_membw(pool, (size_t)1 << 20, 2, &r, &err), 0, "%s", err.msg);
    cr_assert(r.copy_gbs > 0 && r.triad_gbs > 0 && r.read_gbs > 0, "copy %g triad %g read %g",
              r.copy_gbs, r.triad_gbs, r.read_gbs);
    cr_assert_eq(mg_k_membw(pool, 4, 2, &r, &err), MG_EINVAL);
    cr_assert(strstr(err.msg, "memory bandwidth"), "message: %s", err.msg);
    cr_assert_eq(mg_k_membw(pool, (size_t)1 << 20, 0, &r, &err), MG_EINVAL);
    mg_kpool_free(pool);
}

/* The FMA ceiling: a positive figure with the AVX2 kernels, -1 (unknown) when
 * only the portable ones run. */
Test(membw, peak_gflops)
{
    mg_kpool *pool = NULL;
    cr_assert_eq(mg_kpool_new(2, &pool, NULL), 0);
    mg_k_cpu_force_scalar(true);
    cr_assert_eq(mg_k_peak_gflops(pool), -1.0);
    mg_k_cpu_force_scalar(false);
    double p = mg_k_peak_gflops(pool);
    if (strcmp(mg_k_cpu_isa(), "avx2") == 0)
        cr_assert(p > 0, "peak %g", p);
    else
        cr_assert_eq(p, -1.0);
    mg_kpool_free(pool);
}
