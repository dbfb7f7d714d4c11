/* limits.c — the machine's limits for the benchmarks: memory bandwidth and
 * fp32 FMA peak, measured through the kernel pool
 * the way the kernels use it, for the "how far from the bound" figures
 * (moegen bench --bandwidth, moegen bench-kernels). Bandwidth is STREAM-like:
 * copy (a = b), triad (a = b + 3c) and a read-only sweep (sum of b), each
 * best of `reps`, arrays split into contiguous parts across the pool. */
#include "cpu_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bw_job {
    int kind; /* 0 copy, 1 triad, 2 read */
    double *a, *b, *c;
    size_t n;
    int parts;
    unsigned long long sink[64]; /* one slot per part, keeps the read live */
} bw_job;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void bw_part(int p, void *vp)
{
    bw_job *j = vp;
    size_t lo = j->n * (size_t)p / (size_t)j->parts, hi = j->n * (size_t)(p + 1) / (size_t)j->parts;
    if (j->kind == 0) {
        memcpy(j->a + lo, j->b + lo, (hi - lo) * sizeof(double));
    } else if (j->kind == 1) {
        for (size_t i = lo; i < hi; i++) j->a[i] = j->b[i] + 3.0 * j->c[i];
    } else {
        /* An integer sum vectorizes without -ffast-math and never makes the
         * adds the limit (a float sum with few accumulators can). */
        const unsigned long long *w = (const unsigned long long *)(j->b + lo);
        unsigned long long s = 0;
        for (size_t i = 0; i < hi - lo; i++) s += w[i];
        j->sink[p % 64] += s;
    }
}

static double bw_best(mg_kpool *pool, bw_job *j, int kind, int reps)
{
    j->kind = kind;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        mg_kpool_run(pool, j->parts, bw_part, j);
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    double arrays = kind == 0 ? 2.0 : kind == 1 ? 3.0 : 1.0;
    return arrays * (double)j->n * sizeof(double) / best / 1e9;
}

int mg_k_membw(mg_kpool *pool, size_t array_bytes, int reps, mg_k_membw_result *out, mg_error *err)
{
    bw_job j = {.n = array_bytes / sizeof(double)};
    if (j.n == 0 || reps <= 0)
        return mg_error_set(err, MG_EINVAL, "memory bandwidth: %zu-byte arrays, %d repetitions",
                            array_bytes, reps);
    j.a = malloc(j.n * sizeof(double));
    j.b = malloc(j.n * sizeof(double));
    j.c = malloc(j.n * sizeof(double));
    int rc = 0;
    if (!j.a || !j.b || !j.c) {
        rc = mg_error_set(err, MG_ENOMEM, "memory bandwidth: cannot allocate 3 x %zu bytes",
                          array_bytes);
        goto done;
    }
    int nt = mg_kpool_size(pool);
    j.parts = nt * 4 < 64 ? nt * 4 : 64;
    for (size_t i = 0; i < j.n; i++) j.a[i] = 0, j.b[i] = (double)i, j.c[i] = 1.0;
    out->copy_gbs = bw_best(pool, &j, 0, reps);
    out->triad_gbs = bw_best(pool, &j, 1, reps);
    out->read_gbs = bw_best(pool, &j, 2, reps);
done:
    free(j.a);
    free(j.b);
    free(j.c);
    return rc;
}

double mg_k_peak_gflops(mg_kpool *pool)
{
#if defined(__x86_64__)
    if (mg__use_avx2()) {
        /* Best of 5 runs of ~50 ms each at ~3 GHz: long enough to hold the
         * clock at its sustained rate, short enough for a benchmark header. */
        double best = 0;
        for (int r = 0; r < 5; r++) {
            double f = mg__fma_flops_avx2(pool, 12L << 20, now_s);
            if (f > best) best = f;
        }
        return best / 1e9;
    }
#endif
    (void)pool;
    return -1;
}
