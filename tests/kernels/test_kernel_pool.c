/* test_kernel_pool.c — the kernel thread pool: every index of every run
 * exactly once, for many runs in a row (the generation-tagged claim counter
 * must not hand a late worker an index of a newer run), and a pooled matmul.
 * test_kernel_pool_tsan.c repeats the stress for the ThreadSanitizer build. */
#include <criterion/criterion.h>
#include <pthread.h>
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

/* An item that itself runs a pooled loop: must not deadlock, every inner
 * index once per outer index. */
typedef struct nest {
    mg_kpool *pool;
    atomic_int inner[16][32];
} nest;

typedef struct nest_arg {
    nest *ns;
    int i;
} nest_arg;

static void inner_fn(int j, void *arg)
{
    nest_arg *na = arg;
    atomic_fetch_add(&na->ns->inner[na->i][j], 1);
}

static void outer_fn(int i, void *arg)
{
    nest_arg na = {arg, i};
    mg_kpool_run(na.ns->pool, 32, inner_fn, &na);
}

Test(kpool, nested_runs_inline)
{
    static nest ns;
    cr_assert_eq(mg_kpool_new(3, &ns.pool, NULL), 0);
    for (int rep = 0; rep < 50; rep++) {
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 32; j++) atomic_store(&ns.inner[i][j], 0);
        mg_kpool_run(ns.pool, 16, outer_fn, &ns);
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 32; j++) cr_assert_eq(atomic_load(&ns.inner[i][j]), 1);
    }
    mg_kpool_free(ns.pool);
}

/* Two threads dispatching on one pool at once: both get complete results. */
typedef struct racer {
    mg_kpool *pool;
    pool_probe probe;
    int ok;
} racer;

static void *race_main(void *arg)
{
    racer *r = arg;
    r->ok = 1;
    for (int run = 0; run < 500; run++) {
        int n = run % 50 + 2;
        for (int i = 0; i < n; i++) atomic_store(&r->probe.hits[i], 0);
        mg_kpool_run(r->pool, n, probe_fn, &r->probe);
        for (int i = 0; i < n; i++)
            if (atomic_load(&r->probe.hits[i]) != 1) r->ok = 0;
    }
    return NULL;
}

Test(kpool, concurrent_callers)
{
    mg_kpool *pool = NULL;
    cr_assert_eq(mg_kpool_new(3, &pool, NULL), 0);
    static racer r[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        r[i].pool = pool;
        cr_assert_eq(pthread_create(&t[i], NULL, race_main, &r[i]), 0);
    }
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    cr_assert(r[0].ok && r[1].ok);
    mg_kpool_free(pool);
}
