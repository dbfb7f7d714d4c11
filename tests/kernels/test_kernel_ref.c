/* test_kernel_ref.c — the scalar references (which the engine calls directly
 * for the ops that have no optimized twin yet) against the same formulas
 * evaluated in double precision, so a reference that is wrong cannot pass by
 * agreeing with itself. Tolerances are a few fp32 ulps of the result's scale. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>

#include "kt_util.h"

#define EPS ((double)FLT_EPSILON)

Test(ref, rmsnorm_llama_and_gemma)
{
    uint64_t seed = 1;
    const int dims[] = {1, 7, 64, 576, 2048};
    const mg_dtype dts[] = {MG_DTYPE_F32, MG_DTYPE_F16, MG_DTYPE_BF16};
    for (size_t di = 0; di < 5; di++) {
        for (size_t t = 0; t < 3; t++) {
            for (int add_one = 0; add_one < 2; add_one++) {
                int n = 3, d = dims[di];
                float *x = malloc((size_t)n * d * sizeof *x);
                kt_fill(x, (size_t)n * d, &seed, 4.0f);
                void *w = kt_weights(dts[t], (size_t)d, &seed, 1.5f);
                float *w32 = malloc((size_t)d * sizeof *w32);
                mg_k_to_f32(w32, w, dts[t], (size_t)d);
                float *y = kt_guarded((size_t)n * d);
                mg_k_rmsnorm(y, x, w, dts[t], n, d, 1e-6f, add_one);
                cr_assert(kt_guard_ok(y, (size_t)n * d));
                for (int i = 0; i < n; i++) {
                    double ss = 0;
                    for (int j = 0; j < d; j++) ss += (double)x[i * d + j] * x[i * d + j];
                    double r = 1.0 / sqrt(ss / d + 1e-6);
                    for (int j = 0; j < d; j++) {
                        double g = add_one ? 1.0 + w32[j] : w32[j];
                        double want = x[i * d + j] * r * g;
                        double tol = 4 * EPS * fabs(x[i * d + j] * r) * (fabs(g) + 1);
                        cr_assert(fabs(y[i * d + j] - want) <= tol, "d=%d j=%d: %.9g vs %.9g", d, j,
                                  y[i * d + j], want);
                    }
                }
                kt_guarded_free(y);
                free(x);
                free(w);
                free(w32);
            }
        }
    }
}

Test(ref, rope_rotate_half)
{
    uint64_t seed = 2;
    const int n_tok = 4, n_heads = 3, hd = 16;
    float inv_freq[8];
    for (int i = 0; i < 8; i++) inv_freq[i] = (float)pow(10000.0, -2.0 * i / hd);
    int32_t pos[4] = {0, 1, 17, 4095};
    float x[4 * 3 * 16], y[4 * 3 * 16];
    kt_fill(x, sizeof x / sizeof *x, &seed, 2.0f);
    for (int sc = 0; sc < 2; sc++) {
        float scale = sc ? 1.25f : 1.0f;
        memcpy(y, x, sizeof x);
        if (sc)
            mg_k_rope_scaled(y, n_tok, n_heads, hd, inv_freq, pos, scale);
        else
            mg_k_rope(y, n_tok, n_heads, hd, inv_freq, pos);
        for (int t = 0; t < n_tok; t++) {
            for (int h = 0; h < n_heads; h++) {
                const float *v = x + (t * n_heads + h) * hd;
                const float *o = y + (t * n_heads + h) * hd;
                for (int i = 0; i < hd / 2; i++) {
                    double f = (float)pos[t] * inv_freq[i]; /* the fp32 angle, as torch */
                    double c = cos(f) * scale, s = sin(f) * scale;
                    double a = v[i], b = v[i + hd / 2];
                    double tol = 4 * EPS * (fabs(a) + fabs(b)) * scale;
                    cr_assert(fabs(o[i] - (a * c - b * s)) <= tol, "t=%d i=%d", t, i);
                    cr_assert(fabs(o[i + hd / 2] - (b * c + a * s)) <= tol, "t=%d i=%d", t, i);
                }
            }
        }
    }
    /* position 0 is the identity */
    memcpy(y, x, sizeof x);
    int32_t zero[4] = {0, 0, 0, 0};
    mg_k_rope(y, n_tok, n_heads, hd, inv_freq, zero);
    cr_assert(memcmp(x, y, sizeof x) == 0);
}

Test(ref, silu_and_gelu_tanh)
{
    uint64_t seed = 3;
    enum { N = 4001 };
    static float g[N], u[N], y[N];
    for (int i = 0; i < N; i++) {
        g[i] = -20.0f + 40.0f * i / (N - 1); /* covers both tails */
        u[i] = kt_uniform(&seed) * 3.0f;
    }
    mg_k_silu_mul(y, g, u, N);
    for (int i = 0; i < N; i++) {
        double want = g[i] / (1.0 + exp(-(double)g[i])) * u[i];
        cr_assert(fabs(y[i] - want) <= 4 * EPS * fabs(want) + 1e-30, "silu(%g)", g[i]);
    }
    mg_k_gelu_tanh_mul(y, g, u, N);
    for (int i = 0; i < N; i++) {
        double x = g[i];
        double want = 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))) * u[i];
        /* 1 + tanh(inner) cancels for x << 0 in fp32, as it does in torch's
         * fp32 kernel; the error is then bounded by |x u| eps, not by |want|. */
        double tol = 8 * EPS * (fabs(want) + fabs(x * u[i]) * 0.5);
        cr_assert(fabs(y[i] - want) <= tol, "gelu(%g): %.9g vs %.9g", x, y[i], want);
    }
    /* exact points */
    float z = 0.0f, one = 1.0f, out;
    mg_k_silu_mul(&out, &z, &one, 1);
    cr_assert(out == 0.0f);
    mg_k_gelu_tanh_mul(&out, &z, &one, 1);
    cr_assert(out == 0.0f);
}

Test(ref, softmax_rows)
{
    float x[3][5] = {{1, 2, 3, 4, 5},
                     {1000, 999, -1000, 1000, 0}, /* would overflow without the max */
                     {-INFINITY, 0, -INFINITY, 0, -INFINITY}};
    float in[3][5];
    memcpy(in, x, sizeof x);
    mg_k_softmax(&x[0][0], 3, 5);
    for (int i = 0; i < 3; i++) {
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < 5; j++) mx = fmax(mx, in[i][j]);
        for (int j = 0; j < 5; j++) sum += exp(in[i][j] - mx);
        for (int j = 0; j < 5; j++) {
            double want = exp(in[i][j] - mx) / sum;
            cr_assert(fabs(x[i][j] - want) <= 4 * EPS * want + 1e-45, "row %d col %d", i, j);
        }
    }
    cr_assert(x[2][0] == 0.0f && x[2][1] == 0.5f);
}

typedef struct attn_case {
    int n_q, n_kv, q_pos0, n_heads, n_kv_heads, head_dim, window;
} attn_case;

Test(ref, attention_causal_gqa_window)
{
    static const attn_case cases[] = {
        {1, 1, 0, 1, 1, 8, 0},    /* first token */
        {5, 5, 0, 4, 4, 16, 0},   /* prefill, MHA */
        {1, 9, 8, 8, 2, 8, 0},    /* decode, GQA 4:1 */
        {3, 12, 9, 6, 1, 12, 0},  /* chunked prefill after a prefix, MQA */
        {7, 7, 0, 4, 2, 16, 3},   /* sliding window */
        {2, 20, 18, 2, 1, 4, 5},  /* decode-ish with window */
        {4, 30, 26, 3, 3, 64, 0}, /* head_dim 64 */
    };
    uint64_t seed = 5;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        attn_case a = cases[c];
        size_t nq = (size_t)a.n_q * a.n_heads * a.head_dim;
        size_t nk = (size_t)a.n_kv * a.n_kv_heads * a.head_dim;
        float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4);
        kt_fill(q, nq, &seed, 2.0f);
        kt_fill(k, nk, &seed, 2.0f);
        kt_fill(v, nk, &seed, 1.0f);
        float *out = kt_guarded(nq), *scratch = kt_guarded((size_t)a.n_kv);
        float scale = 1.0f / sqrtf((float)a.head_dim);
        mg_k_attention_ref(out, q, k, v, a.n_q, a.n_kv, a.q_pos0, a.n_heads, a.n_kv_heads,
                           a.head_dim, scale, a.window, scratch);
        cr_assert(kt_guard_ok(out, nq) && kt_guard_ok(scratch, (size_t)a.n_kv), "case %zu", c);
        int group = a.n_heads / a.n_kv_heads;
        for (int i = 0; i < a.n_q; i++) {
            int p = a.q_pos0 + i;
            for (int h = 0; h < a.n_heads; h++) {
                int kh = h / group;
                double w[64], mx = -INFINITY, sum = 0;
                for (int j = 0; j < a.n_kv; j++) {
                    bool vis = j <= p && (a.window <= 0 || p - j < a.window);
                    double s = 0;
                    for (int d = 0; d < a.head_dim; d++)
                        s += (double)q[(i * a.n_heads + h) * a.head_dim + d] *
                             k[(j * a.n_kv_heads + kh) * a.head_dim + d];
                    w[j] = vis ? s * scale : -INFINITY;
                    mx = fmax(mx, w[j]);
                }
                for (int j = 0; j < a.n_kv; j++) sum += (w[j] = exp(w[j] - mx));
                for (int d = 0; d < a.head_dim; d++) {
                    double want = 0;
                    for (int j = 0; j < a.n_kv; j++)
                        want += w[j] / sum * v[(j * a.n_kv_heads + kh) * a.head_dim + d];
                    float got = out[(i * a.n_heads + h) * a.head_dim + d];
                    cr_assert(fabs(got - want) <= 2e-6, "case %zu i=%d h=%d d=%d: %.9g vs %.9g", c,
                              i, h, d, got, want);
                }
            }
        }
        kt_guarded_free(out);
        kt_guarded_free(scratch);
        free(q);
        free(k);
        free(v);
    }
}
