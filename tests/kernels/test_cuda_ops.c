/* test_cuda_ops.c — every CUDA op against the CPU reference (label gpu).
 * Without a usable device every test skips with the reason. Tolerances:
 * fp32 ops differ from the CPU only by summation order and by CUDA's
 * expf/cosf/tanhf (<= 2 ulp), so they are a few ulps of the result's scale;
 * BF16/F16 matmuls are compared with the CPU reference fed the same x rounded
 * to the weight dtype (what cuBLAS multiplies), so they get the fp32 bound. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "kt_util.h"
#include "mg_kernels_cuda.h"

static mg_cuda_ctx *ctx;

static void need_gpu(void)
{
    int n = 0;
    mg_error err = {0};
    mg_cuda_device_count(&n, &err);
    if (n == 0) cr_skip_test("no CUDA device%s%s", err.msg[0] ? ": " : "", err.msg);
    cr_assert_eq(mg_cuda_ctx_new(0, &ctx, &err), 0, "%s", err.msg);
}

static void done_gpu(void)
{
    mg_cuda_ctx_free(ctx);
    ctx = NULL;
}

TestSuite(cuda, .init = need_gpu, .fini = done_gpu);

/* Device copy of a host array. */
static void *up(const void *h, size_t bytes)
{
    void *d = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_cuda_alloc(ctx, bytes, &d, &err), 0, "%s", err.msg);
    if (h) cr_assert_eq(mg_cuda_upload(ctx, d, h, bytes, &err), 0, "%s", err.msg);
    return d;
}

static void down(void *h, const void *d, size_t bytes)
{
    mg_error err = {0};
    cr_assert_eq(mg_cuda_download(ctx, h, d, bytes, &err), 0, "%s", err.msg);
}

/* Runs an op that reports into e_ (pass ERR as its error argument) and
 * fails the test with the op's message. */
#define OK(call)                                                                                   \
    do {                                                                                           \
        mg_error e_ = {0};                                                                         \
        int rc_ = (call);                                                                          \
        cr_assert_eq(rc_, 0, "%s", e_.msg);                                                        \
    } while (0)
#define ERR (&e_)

static void assert_close(const float *got, const float *want, size_t n, double rel, double abs_,
                         const char *what)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(fabs((double)got[i] - want[i]) <= abs_ + rel * fabs(want[i]),
                  "%s: [%zu] %.9g vs %.9g", what, i, got[i], want[i]);
}

Test(cuda, matmul_all_dtypes)
{
    static const int shapes[][3] = {{1, 576, 192}, {4, 33, 17}, {16, 1024, 70}, {64, 257, 129}};
    const mg_dtype dts[] = {MG_DTYPE_F32, MG_DTYPE_BF16, MG_DTYPE_F16};
    uint64_t seed = 1;
    for (int s = 0; s < 4; s++) {
        for (int d = 0; d < 3; d++) {
            for (int acc = 0; acc < 2; acc++) {
                int n = shapes[s][0], k = shapes[s][1], m = shapes[s][2];
                float *x = malloc(sizeof(float) * n * k), *xr = malloc(sizeof(float) * n * k);
                kt_fill(x, (size_t)n * k, &seed, 1.0f);
                for (int i = 0; i < n * k; i++)
                    xr[i] = dts[d] == MG_DTYPE_F32   ? x[i]
                            : dts[d] == MG_DTYPE_F16 ? mg_f16_to_f32(mg_f32_to_f16(x[i]))
                                                     : mg_bf16_to_f32(mg_f32_to_bf16(x[i]));
                void *W = kt_weights(dts[d], (size_t)m * k, &seed, 0.5f);
                float *y = malloc(sizeof(float) * n * m), *yr = malloc(sizeof(float) * n * m);
                kt_fill(yr, (size_t)n * m, &seed, 1.0f);
                float *dx = up(x, sizeof(float) * n * k), *dy = up(yr, sizeof(float) * n * m);
                void *dW = up(W, mg_dtype_size(dts[d]) * m * k);
                OK(mg_cuda_matmul(ctx, dy, dx, dW, dts[d], n, k, m, acc, ERR));
                down(y, dy, sizeof(float) * n * m);
                mg_k_matmul_ref(yr, xr, W, dts[d], n, k, m, acc);
                char what[96];
                snprintf(what, sizeof what, "matmul %s n=%d k=%d m=%d acc=%d",
                         mg_dtype_name(dts[d]), n, k, m, acc);
                /* |x w| <= 0.5 per product: sum|xw| <= k / 2 */
                double bound = 4 * sqrt((double)k) * FLT_EPSILON * (k * 0.5 + 2);
                assert_close(y, yr, (size_t)n * m, 0, bound, what);
                mg_cuda_dealloc(dx), mg_cuda_dealloc(dy), mg_cuda_dealloc(dW);
                free(x), free(xr), free(W), free(y), free(yr);
            }
        }
    }
}

Test(cuda, rmsnorm_rope_act_softmax_embedding)
{
    uint64_t seed = 2;
    enum { N = 5, D = 576, V = 50 };
    float x[N * D], y[N * D], yr[N * D];
    kt_fill(x, N * D, &seed, 3.0f);
    const mg_dtype dts[] = {MG_DTYPE_F32, MG_DTYPE_BF16, MG_DTYPE_F16};
    float *dx = up(x, sizeof x), *dy = up(NULL, sizeof y);
    for (int d = 0; d < 3; d++) {
        for (int add_one = 0; add_one < 2; add_one++) {
            void *w = kt_weights(dts[d], D, &seed, 1.0f);
            void *dw = up(w, mg_dtype_size(dts[d]) * D);
            OK(mg_cuda_rmsnorm(ctx, dy, dx, dw, dts[d], N, D, 1e-5f, add_one, ERR));
            down(y, dy, sizeof y);
            mg_k_rmsnorm(yr, x, w, dts[d], N, D, 1e-5f, add_one);
            assert_close(y, yr, N * D, 4 * FLT_EPSILON, 1e-30, "rmsnorm");
            mg_cuda_dealloc(dw);
            free(w);
        }
    }
    /* rope: 5 tokens x 9 heads x 64 */
    float inv[32];
    for (int i = 0; i < 32; i++) inv[i] = (float)pow(10000.0, -i / 32.0);
    int32_t pos[N] = {0, 1, 2, 100, 2047};
    float *dinv = up(inv, sizeof inv);
    int32_t *dpos = up(pos, sizeof pos);
    memcpy(yr, x, sizeof x);
    OK(mg_cuda_rope(ctx, dx, N, 9, 64, dinv, dpos, 1.0f, ERR));
    down(y, dx, sizeof y);
    mg_k_rope(yr, N, 9, 64, inv, pos);
    assert_close(y, yr, N * 9 * 64, 8 * FLT_EPSILON, 8 * FLT_EPSILON * 3, "rope");
    OK(mg_cuda_upload(ctx, dx, x, sizeof x, ERR));
    /* silu / gelu on the first half of x with the second half as up */
    size_t h = N * D / 2;
    OK(mg_cuda_silu_mul(ctx, dy, dx, dx + h, h, ERR));
    down(y, dy, sizeof(float) * h);
    mg_k_silu_mul(yr, x, x + h, h);
    assert_close(y, yr, h, 8 * FLT_EPSILON, 1e-30, "silu_mul");
    OK(mg_cuda_gelu_tanh_mul(ctx, dy, dx, dx + h, h, ERR));
    down(y, dy, sizeof(float) * h);
    mg_k_gelu_tanh_mul(yr, x, x + h, h);
    assert_close(y, yr, h, 8 * FLT_EPSILON, 8 * FLT_EPSILON * 9, "gelu_tanh_mul");
    /* softmax in place */
    OK(mg_cuda_softmax(ctx, dx, N, D, ERR));
    down(y, dx, sizeof y);
    memcpy(yr, x, sizeof x);
    mg_k_softmax(yr, N, D);
    /* the row sum is a tree on the GPU, sequential on the CPU: the sums differ
     * by up to ~sqrt(D) eps relative, and every element carries 1/sum */
    assert_close(y, yr, N * D, (4 * sqrt((double)D) + 8) * FLT_EPSILON, 1e-30, "softmax");
    /* embedding, with one out-of-range id */
    void *table = kt_weights(MG_DTYPE_BF16, (size_t)V * 64, &seed, 1.0f);
    void *dtab = up(table, 2 * V * 64);
    int32_t ids[4] = {3, 0, 49, 50};
    int32_t *dids = up(ids, sizeof ids);
    OK(mg_cuda_embedding(ctx, dy, dtab, MG_DTYPE_BF16, V, 64, dids, 4, 8.0f, ERR));
    down(y, dy, sizeof(float) * 4 * 64);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 64; j++) {
            float want =
                ids[i] < V ? mg_bf16_to_f32(((uint16_t *)table)[ids[i] * 64 + j]) * 8.0f : 0.0f;
            cr_assert_eq(y[i * 64 + j], want, "embedding row %d col %d", i, j);
        }
    mg_cuda_dealloc(dtab), mg_cuda_dealloc(dids), mg_cuda_dealloc(dinv), mg_cuda_dealloc(dpos);
    mg_cuda_dealloc(dx), mg_cuda_dealloc(dy);
    free(table);
}

Test(cuda, attention_prefill_and_decode)
{
    static const int cases[][7] = {
        /* n_q, n_kv, q_pos0, heads, kv_heads, head_dim, window */
        {5, 5, 0, 4, 4, 16, 0},      {3, 300, 297, 8, 1, 256, 0}, {7, 7, 0, 4, 2, 64, 3},
        {1, 600, 599, 6, 2, 128, 0}, {2, 20, 18, 2, 1, 4, 5},
    };
    uint64_t seed = 3;
    for (int c = 0; c < 5; c++) {
        const int *a = cases[c];
        size_t nq = (size_t)a[0] * a[3] * a[5], nk = (size_t)a[1] * a[4] * a[5];
        float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4);
        float *o = malloc(nq * 4), *orf = malloc(nq * 4), *scr = malloc((size_t)a[1] * 4);
        kt_fill(q, nq, &seed, 2.0f), kt_fill(k, nk, &seed, 2.0f), kt_fill(v, nk, &seed, 1.0f);
        float *dq = up(q, nq * 4), *dk = up(k, nk * 4), *dv = up(v, nk * 4),
              *dout = up(NULL, nq * 4);
        float scale = 1.0f / sqrtf((float)a[5]);
        OK(mg_cuda_attention_prefill(ctx, dout, dq, dk, dv, a[0], a[1], a[2], a[3], a[4], a[5],
                                     scale, a[6], ERR));
        down(o, dout, nq * 4);
        mg_k_attention(orf, q, k, v, a[0], a[1], a[2], a[3], a[4], a[5], scale, a[6], scr);
        /* |v| < 1, so outputs are below 1; sums over n_kv keys in different
         * orders (and the GPU's online rescaling) differ by ~sqrt(n_kv) eps */
        assert_close(o, orf, nq, 0, 8 * sqrt((double)a[1]) * FLT_EPSILON, "attention prefill");
        mg_cuda_dealloc(dq), mg_cuda_dealloc(dk), mg_cuda_dealloc(dv), mg_cuda_dealloc(dout);
        free(q), free(k), free(v), free(o), free(orf), free(scr);
    }
    /* decode: three sequences with caches of different lengths */
    enum { S = 3, H = 8, KVH = 2, HD = 64, CAP = 40 };
    int32_t lens[S] = {1, 17, 40};
    float *kc[S], *vc[S], *dkc[S], *dvc[S];
    float q[S * H * HD], o[S * H * HD], orf[S * H * HD], scr[CAP];
    kt_fill(q, sizeof q / 4, &seed, 2.0f);
    for (int s = 0; s < S; s++) {
        kc[s] = malloc(CAP * KVH * HD * 4), vc[s] = malloc(CAP * KVH * HD * 4);
        kt_fill(kc[s], CAP * KVH * HD, &seed, 2.0f), kt_fill(vc[s], CAP * KVH * HD, &seed, 1.0f);
        dkc[s] = up(kc[s], CAP * KVH * HD * 4), dvc[s] = up(vc[s], CAP * KVH * HD * 4);
    }
    float **dkp = up(dkc, sizeof dkc), **dvp = up(dvc, sizeof dvc);
    int32_t *dlens = up(lens, sizeof lens);
    float *dq = up(q, sizeof q), *dout = up(NULL, sizeof o);
    float scale = 0.125f;
    OK(mg_cuda_attention_decode(ctx, dout, dq, (const float *const *)dkp, (const float *const *)dvp,
                                dlens, S, H, KVH, HD, scale, 0, ERR));
    down(o, dout, sizeof o);
    for (int s = 0; s < S; s++)
        mg_k_attention(orf + s * H * HD, q + s * H * HD, kc[s], vc[s], 1, lens[s], lens[s] - 1, H,
                       KVH, HD, scale, 0, scr);
    assert_close(o, orf, S * H * HD, 0, 8 * sqrt((double)CAP) * FLT_EPSILON, "attention decode");
    for (int s = 0; s < S; s++) {
        mg_cuda_dealloc(dkc[s]), mg_cuda_dealloc(dvc[s]);
        free(kc[s]), free(vc[s]);
    }
    mg_cuda_dealloc(dkp), mg_cuda_dealloc(dvp), mg_cuda_dealloc(dlens);
    mg_cuda_dealloc(dq), mg_cuda_dealloc(dout);
}

Test(cuda, lora_per_row_experts)
{
    enum { N = 4, IN = 96, OUT = 80, E = 3 };
    const int r[E] = {8, 16, 4};
    const mg_dtype dts[] = {MG_DTYPE_F32, MG_DTYPE_BF16, MG_DTYPE_F16};
    const float gate[N * E] = {1, 0, 0, 0, 1, 0, 0.5f, 0, -0.25f, 0, 0, 0};
    uint64_t seed = 4;
    for (int d = 0; d < 3; d++) {
        mg_k_lora_expert ex[E], dex[E];
        void *hb[2 * E], *db[2 * E];
        for (int e = 0; e < E; e++) {
            hb[2 * e] = kt_weights(dts[d], (size_t)r[e] * IN, &seed, 0.3f);
            hb[2 * e + 1] = kt_weights(dts[d], (size_t)OUT * r[e], &seed, 0.3f);
            db[2 * e] = up(hb[2 * e], mg_dtype_size(dts[d]) * r[e] * IN);
            db[2 * e + 1] = up(hb[2 * e + 1], mg_dtype_size(dts[d]) * OUT * r[e]);
            ex[e] = (mg_k_lora_expert){hb[2 * e], hb[2 * e + 1], dts[d], r[e], 2.0f};
            dex[e] = (mg_k_lora_expert){db[2 * e], db[2 * e + 1], dts[d], r[e], 2.0f};
        }
        float x[N * IN], y[N * OUT], yr[N * OUT];
        kt_fill(x, N * IN, &seed, 1.0f), kt_fill(yr, N * OUT, &seed, 1.0f);
        float *dx = up(x, sizeof x), *dy = up(yr, sizeof yr);
        OK(mg_cuda_lora(ctx, dy, dx, N, IN, OUT, dex, E, gate, ERR));
        down(y, dy, sizeof y);
        mg_k_lora_ref(yr, x, N, IN, OUT, ex, E, gate);
        assert_close(y, yr, N * OUT, 1e-5, 1e-5, "lora");
        for (int e = 0; e < 2 * E; e++) mg_cuda_dealloc(db[e]), free(hb[e]);
        mg_cuda_dealloc(dx), mg_cuda_dealloc(dy);
    }
}

/* The CPU semantics of worker/engine/sample.c, restated: HF's warpers, then
 * the inverse-CDF draw in index order. */
static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}
typedef struct {
    float v;
    int i;
} vi;
static int cmp_vi(const void *a, const void *b)
{
    const vi *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v ? 1 : (x->i > y->i) - (x->i < y->i);
}
static int cpu_sample(float *s, int n, float t, int top_k, float top_p, double u)
{
    if (t != 1.0f)
        for (int i = 0; i < n; i++) s[i] /= t;
    if (top_k > 0 && top_k < n) {
        float *tmp = malloc(sizeof(float) * n);
        memcpy(tmp, s, sizeof(float) * n);
        qsort(tmp, n, sizeof(float), cmp_desc);
        float kth = tmp[top_k - 1];
        free(tmp);
        for (int i = 0; i < n; i++)
            if (s[i] < kth) s[i] = -INFINITY;
    }
    if (top_p < 1.0f) {
        vi *v = malloc(sizeof(vi) * n);
        for (int i = 0; i < n; i++) v[i] = (vi){s[i], i};
        qsort(v, n, sizeof(vi), cmp_vi);
        float mx = v[n - 1].v;
        double sum = 0, cum = 0;
        for (int i = 0; i < n; i++) sum += (double)expf(v[i].v - mx);
        float th = (float)(1.0 - (double)top_p);
        for (int i = 0; i < n - 1; i++) {
            cum += (double)(float)((double)expf(v[i].v - mx) / sum);
            if ((float)cum <= th) s[v[i].i] = -INFINITY;
        }
        free(v);
    }
    int best = 0;
    for (int i = 1; i < n; i++)
        if (s[i] > s[best]) best = i;
    double sum = 0, cum = 0;
    for (int i = 0; i < n; i++) sum += (double)expf(s[i] - s[best]);
    int last = best;
    for (int i = 0; i < n; i++) {
        if (s[i] == -INFINITY) continue;
        cum += (double)expf(s[i] - s[best]);
        last = i;
        if (cum > u * sum) return i;
    }
    return last;
}

Test(cuda, sampling_matches_cpu)
{
    enum { R = 6, V = 5000 };
    static float lg[R * V], work[R * V], back[R * V];
    uint64_t seed = 5;
    kt_fill(lg, R * V, &seed, 6.0f);
    lg[2 * V + 17] = lg[2 * V + 4000] = 50.0f; /* a tie for greedy: the lower index wins */
    float *dl = up(lg, sizeof lg);
    int32_t *dids = up(NULL, sizeof(int32_t) * R), ids[R];
    OK(mg_cuda_sample_greedy(ctx, dids, dl, R, V, ERR));
    down(ids, dids, sizeof ids);
    for (int r = 0; r < R; r++) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (lg[r * V + i] > lg[r * V + best]) best = i;
        cr_assert_eq(ids[r], best, "greedy row %d", r);
    }
    const struct {
        float t;
        int k;
        float p;
    } cfg[] = {{1.0f, 0, 1.0f}, {0.8f, 50, 0.95f}, {0.2f, 0, 0.95f}, {1.3f, 7, 1.0f}};
    const double us[R] = {0.0, 0.123, 0.5, 0.77, 0.999, 0.31};
    double *du = up(us, sizeof us);
    for (int c = 0; c < 4; c++) {
        OK(mg_cuda_upload(ctx, dl, lg, sizeof lg, ERR));
        OK(mg_cuda_sample(ctx, dids, dl, R, V, cfg[c].t, cfg[c].k, cfg[c].p, du, ERR));
        down(ids, dids, sizeof ids);
        down(back, dl, sizeof back);
        memcpy(work, lg, sizeof lg);
        for (int r = 0; r < R; r++) {
            int want = cpu_sample(work + r * V, V, cfg[c].t, cfg[c].k, cfg[c].p, us[r]);
            cr_assert_eq(ids[r], want, "config %d row %d: %d vs %d", c, r, ids[r], want);
            for (int i = 0; i < V; i++) /* the warped logits themselves */
                cr_assert(!!isinf(work[r * V + i]) == !!isinf(back[r * V + i]),
                          "config %d row %d: token %d filtered differently", c, r, i);
        }
    }
    mg_cuda_dealloc(dl), mg_cuda_dealloc(dids), mg_cuda_dealloc(du);
}

Test(cuda, errors_carry_context)
{
    mg_error err = {0};
    void *p = NULL;
    /* an impossible allocation: MG_ENOMEM with the device's free memory */
    int rc = mg_cuda_alloc(ctx, (size_t)1 << 62, &p, &err);
    cr_assert_eq(rc, MG_ENOMEM, "%d %s", rc, err.msg);
    cr_assert(strstr(err.msg, "device 0") != NULL, "%s", err.msg);
    mg_cuda_ctx *bad = NULL;
    cr_assert_eq(mg_cuda_ctx_new(1 << 20, &bad, &err), MG_EINVAL);
    cr_assert_eq(mg_cuda_matmul(ctx, NULL, NULL, NULL, MG_DTYPE_I32, 1, 1, 1, false, &err),
                 MG_EUNSUPPORTED);
}
