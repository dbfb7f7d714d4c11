/* matmul.c — run-time dispatch of the matmul to the best kernel this CPU
 * runs, the split of W's rows across the thread pool, and the batched
 * multi-LoRA op built on the matmul. */
#include "cpu_internal.h"

#include <string.h>

static bool force_scalar;

static bool have_avx2(void)
{
#if defined(__x86_64__)
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                 __builtin_cpu_supports("f16c");
    }
    return cached == 1;
#else
    return false;
#endif
}

bool mg__use_avx2(void)
{
    return !force_scalar && have_avx2();
}

const char *mg_k_cpu_isa(void)
{
    return mg__use_avx2() ? "avx2" : "scalar";
}

void mg_k_cpu_force_scalar(bool force)
{
    force_scalar = force;
}

/* The portable kernel (CPUs without AVX2, and non-x86): 4 rows of W at a
 * time are widened to fp32 one chunk of k at a time into a stack buffer and
 * reused by every row of x; the dot products keep 8 independent partial
 * sums, a loop shape compilers vectorize for the baseline ISA (SSE2, NEON)
 * without reassociating anything. Chunks add into y, so y's element is the
 * sum over chunks of 8-lane partial sums: summation order differs from the
 * reference, as the tests allow. */
#define PORT_KC 256
#define PORT_NW 4

static float dot8(const float *a, const float *b, int n)
{
    float acc[8] = {0};
    int l = 0;
    for (; l + 8 <= n; l += 8)
        for (int u = 0; u < 8; u++) acc[u] += a[l + u] * b[l + u];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; l < n; l++) s += a[l] * b[l];
    return s;
}

void mg__matmul_rows_scalar(const mg__mm_args *a, int j0, int j1)
{
    float wbuf[PORT_NW][PORT_KC];
    size_t es = mg_dtype_size(a->wt);
    for (int j = j0; j < j1; j += PORT_NW) {
        int nw = j1 - j < PORT_NW ? j1 - j : PORT_NW;
        int k0 = 0;
        do { /* at least once: k = 0 still writes y = 0 */
            int len = a->k - k0 < PORT_KC ? a->k - k0 : PORT_KC;
            bool add = a->accumulate || k0 > 0;
            for (int p = 0; p < nw; p++)
                mg_k_to_f32(wbuf[p], (const char *)a->W + ((size_t)(j + p) * a->k + k0) * es, a->wt,
                            (size_t)len);
            for (int i = 0; i < a->n; i++) {
                const float *xi = a->x + (size_t)i * a->k + k0;
                float *yi = a->y + (size_t)i * a->m + j;
                for (int p = 0; p < nw; p++) {
                    float s = dot8(xi, wbuf[p], len);
                    yi[p] = add ? yi[p] + s : s;
                }
            }
            k0 += len;
        } while (k0 < a->k);
    }
}

/* One parallel run of one or more matmuls over the same x: the rows of all
 * ops' W, concatenated, are cut into items; item `it` belongs to the op o
 * with first_item[o] <= it < first_item[o + 1]. */
typedef struct mm_job {
    mg__mm_args a[MG_K_MM_MULTI];
    int first_item[MG_K_MM_MULTI + 1];
    int n_ops, rows_per_item;
    void (*rows)(const mg__mm_args *a, int j0, int j1);
} mm_job;

static void mm_item(int it, void *vp)
{
    const mm_job *job = vp;
    int o = 0;
    while (it >= job->first_item[o + 1]) o++;
    int j0 = (it - job->first_item[o]) * job->rows_per_item;
    int j1 = j0 + job->rows_per_item;
    if (j1 > job->a[o].m) j1 = job->a[o].m;
    job->rows(&job->a[o], j0, j1);
}

/* Runs job->a[0 .. n_ops) (each with m > 0). Writes y rows with stride m
 * (not contiguous per block), so the row split needs no reduction and each
 * output element has one writer. */
static void mm_run(mg_kpool *pool, mm_job *job)
{
    job->rows = mg__matmul_rows_scalar;
#if defined(__x86_64__)
    if (mg__use_avx2()) job->rows = mg__matmul_rows_avx2;
#endif
    long total_m = 0;
    for (int o = 0; o < job->n_ops; o++) total_m += job->a[o].m;
    int threads = mg_kpool_size(pool);
    /* Small problems run on the caller alone: waking threads costs more. */
    if (threads <= 1 || 2.0 * job->a[0].n * (double)job->a[0].k * (double)total_m < 2e5) {
        for (int o = 0; o < job->n_ops; o++) job->rows(&job->a[o], 0, job->a[o].m);
        return;
    }
    /* About four items per thread balances uneven progress; items are
     * multiples of 8 rows so the kernels' row tiles stay whole. */
    int items = threads * 4;
    int rpi = (int)((total_m + items - 1) / items);
    rpi = (rpi + 7) & ~7;
    job->rows_per_item = rpi;
    job->first_item[0] = 0;
    for (int o = 0; o < job->n_ops; o++)
        job->first_item[o + 1] = job->first_item[o] + (job->a[o].m + rpi - 1) / rpi;
    mg_kpool_run(pool, job->first_item[job->n_ops], mm_item, job);
}

static bool mm_dtype_ok(mg_dtype t)
{
    return t == MG_DTYPE_F32 || t == MG_DTYPE_F16 || t == MG_DTYPE_BF16;
}

void mg_k_matmul(mg_kpool *pool, float *y, const float *x, const void *W, mg_dtype wt, int n, int k,
                 int m, bool accumulate)
{
    MG_ASSERT(mm_dtype_ok(wt));
    if (n <= 0 || m <= 0) return;
    mm_job job = {.a = {{y, x, W, wt, n, k, m, accumulate}}, .n_ops = 1};
    mm_run(pool, &job);
}

void mg_k_matmul_multi(mg_kpool *pool, const float *x, int n, int k, const mg_k_mm_op *ops,
                       int n_ops)
{
    MG_ASSERT(n_ops >= 0 && n_ops <= MG_K_MM_MULTI);
    if (n <= 0) return;
    mm_job job = {.n_ops = 0};
    for (int o = 0; o < n_ops; o++) {
        MG_ASSERT(mm_dtype_ok(ops[o].wt));
        if (ops[o].m > 0)
            job.a[job.n_ops++] =
                (mg__mm_args){ops[o].y, x, ops[o].W, ops[o].wt, n, k, ops[o].m, false};
    }
    if (job.n_ops) mm_run(pool, &job);
}

/* ---- batched multi-LoRA -------------------------------------------------------- */

static int lora_rmax(const mg_k_lora_expert *experts, int n_experts)
{
    int r = 0;
    for (int e = 0; e < n_experts; e++)
        if (experts[e].r > r) r = experts[e].r;
    return r;
}

size_t mg_k_lora_scratch_floats(int n, int in, int out, const mg_k_lora_expert *experts,
                                int n_experts)
{
    size_t rmax = (size_t)lora_rmax(experts, n_experts);
    return (size_t)n * ((size_t)in + rmax + (size_t)out);
}

void mg_k_lora(mg_kpool *pool, float *y, const float *x, int n, int in, int out,
               const mg_k_lora_expert *experts, int n_experts, const float *gate, float *scratch)
{
    int rmax = lora_rmax(experts, n_experts);
    float *xg = scratch;             /* [cnt, in]  rows gathered for one expert */
    float *t = xg + (size_t)n * in;  /* [cnt, r]   A x */
    float *u = t + (size_t)n * rmax; /* [cnt, out] B (A x) */
    for (int e = 0; e < n_experts; e++) {
        const mg_k_lora_expert *ex = &experts[e];
        if (!ex->A || !ex->B || ex->r <= 0) continue;
        int cnt = 0;
        for (int i = 0; i < n; i++) {
            if (gate[(size_t)i * n_experts + e] == 0.0f) continue;
            memcpy(xg + (size_t)cnt * in, x + (size_t)i * in, (size_t)in * sizeof *x);
            cnt++;
        }
        if (cnt == 0) continue;
        mg_k_matmul(pool, t, xg, ex->A, ex->dt, cnt, in, ex->r, false);
        mg_k_matmul(pool, u, t, ex->B, ex->dt, cnt, ex->r, out, false);
        int c = 0;
        for (int i = 0; i < n; i++) {
            float g = gate[(size_t)i * n_experts + e];
            if (g == 0.0f) continue;
            float s = g * ex->scaling;
            float *yi = y + (size_t)i * out;
            const float *ui = u + (size_t)c * out;
            for (int o = 0; o < out; o++) yi[o] += ui[o] * s;
            c++;
        }
    }
}
