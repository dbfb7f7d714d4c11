/* test_kernel_pool.c — the kernel thread pool: every index of every run
 * exactly once, for many runs in a row (the generation-tagged claim counter
 * must not hand a late worker an index of a newer run), and a pooled matmul.
 * test_kernel_pool_tsan.c repeats the stress for the ThreadSanitizer build. */
#include <criterion/criterion.h>
#include <stdatomic.h>

#include "kt_util.h"

typedef struct pool_probe {
    atomic_int hits[1000];
} pool_probe;

static void probe_fn(int i, void *arg)
{
    pool_probe *p = arg;
    atomic_fetch_add(&p->hits[i], 1);
}

Test(kpool, every_index_once_across_many_runs)
{
    for (int threads = 1; threads <= 4; threads++) {
        mg_kpool *pool = NULL;
        cr_assert_eq(mg_kpool_new(threads, &pool, NULL), 0);
        cr_assert_eq(mg_kpool_size(pool), threads);
        static pool_probe probe;
        for (int run = 0; run < 300; run++) {
            int n = (run * 37) % 1000 + 1;
            for (int i = 0; i < 1000; i++) atomic_store(&probe.hits[i], 0);
            mg_kpool_run(pool, n, probe_fn, &probe);
            for (int i = 0; i < 1000; i++)
                cr_assert_eq(atomic_load(&probe.hits[i]), i < n ? 1 : 0, "threads=%d n=%d i=%d",
                             threads, n, i);
        }
        mg_kpool_free(pool);
    }
    mg_kpool_free(NULL);
    mg_kpool *p0 = NULL;
    cr_assert_eq(mg_kpool_new(0, &p0, NULL), 0); /* all cores */
    cr_assert_geq(mg_kpool_size(p0), 1);
    mg_kpool_free(p0);
    mg_error err = {0};
    cr_assert_eq(mg_kpool_new(-1, &p0, &err), MG_EINVAL);
    cr_assert_null(p0);
}

/* Tiny jobs back to back with more threads than cores: workers are often
 * late, which is the case the claim counter's generation tag is for. */
Test(kpool, oversubscribed_tiny_jobs)
{
    mg_kpool *pool = NULL;
    cr_assert_eq(mg_kpool_new(6, &pool, NULL), 0);
    static pool_probe probe;
    for (int run = 0; run < 3000; run++) {
        int n = run % 7 + 2;
        for (int i = 0; i < n; i++) atomic_store(&probe.hits[i], 0);
        mg_kpool_run(pool, n, probe_fn, &probe);
        for (int i = 0; i < n; i++) cr_assert_eq(atomic_load(&probe.hits[i]), 1, "run %d", run);
    }
    mg_kpool_free(pool);
}

Test(kpool, pooled_matmul_matches_ref)
{
    uint64_t seed = 11;
    const int n = 3, k = 300, m = 257;
    float *x = malloc(sizeof(float) * n * k), *y = malloc(sizeof(float) * n * m),
          *yr = malloc(sizeof(float) * n * m);
    kt_fill(x, (size_t)n * k, &seed, 1.0f);
    void *W = kt_weights(MG_DTYPE_BF16, (size_t)m * k, &seed, 1.0f);
    mg_kpool *pool = NULL;
    cr_assert_eq(mg_kpool_new(4, &pool, NULL), 0);
    for (int r = 0; r < 20; r++) mg_k_matmul(pool, y, x, W, MG_DTYPE_BF16, n, k, m, false);
    mg_k_matmul_ref(yr, x, W, MG_DTYPE_BF16, n, k, m, false);
    cr_assert(kt_nmse(y, yr, (size_t)n * m) <= 1e-10);
    mg_kpool_free(pool);
    free(x), free(y), free(yr), free(W);
}
