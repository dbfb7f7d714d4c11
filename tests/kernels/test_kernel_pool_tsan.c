/* test_kernel_pool_tsan.c — the thread pool's stress as a plain program (no
 * Criterion, which cannot start under ThreadSanitizer), so tools/test.sh's
 * TSan pass checks the pool's atomics and hand-offs. Exit status 0 = pass. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "mg_kernels.h"

static atomic_int hits[64];
static int plain[64]; /* written by the items, read by the caller: needs the pool's ordering */

static mg_kpool *g_pool;
static atomic_int nested_hits[8][16];

static void nested_inner(int j, void *arg)
{
    atomic_fetch_add(&nested_hits[*(int *)arg][j], 1);
}

static void nested_outer(int i, void *arg)
{
    (void)arg;
    mg_kpool_run(g_pool, 16, nested_inner, &i);
}

static atomic_int race_hits[2][64];
static void race_item(int i, void *arg)
{
    atomic_fetch_add(&((atomic_int *)arg)[i], 1);
}

static void *racer(void *arg)
{
    atomic_int *h = arg;
    for (int run = 0; run < 300; run++) mg_kpool_run(g_pool, 64, race_item, h);
    return NULL;
}

static void item(int i, void *arg)
{
    (void)arg;
    atomic_fetch_add(&hits[i], 1);
    plain[i] += i;
}

int main(void)
{
    mg_kpool *pool = NULL;
    if (mg_kpool_new(4, &pool, NULL) < 0) return 1;
    for (int run = 0; run < 2000; run++) {
        int n = run % 63 + 2;
        for (int i = 0; i < n; i++) atomic_store(&hits[i], 0), plain[i] = 0;
        mg_kpool_run(pool, n, item, NULL);
        for (int i = 0; i < n; i++) {
            if (atomic_load(&hits[i]) != 1 || plain[i] != i) {
                fprintf(stderr, "run %d: index %d ran %d times\n", run, i, atomic_load(&hits[i]));
                mg_kpool_free(pool);
                return 1;
            }
        }
    }
    /* Nested: an item running a pooled loop runs it inline. */
    g_pool = pool;
    mg_kpool_run(pool, 8, nested_outer, NULL);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 16; j++)
            if (atomic_load(&nested_hits[i][j]) != 1) {
                fprintf(stderr, "nested: [%d][%d] ran %d times\n", i, j,
                        atomic_load(&nested_hits[i][j]));
                mg_kpool_free(pool);
                return 1;
            }
    /* Two threads dispatching at once. */
    pthread_t th[2];
    for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, racer, race_hits[t]);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 64; i++)
            if (atomic_load(&race_hits[t][i]) != 300) {
                fprintf(stderr, "concurrent: caller %d index %d ran %d times\n", t, i,
                        atomic_load(&race_hits[t][i]));
                mg_kpool_free(pool);
                return 1;
            }
    /* A pooled matmul: the outputs the workers write are read by the caller. */
    enum { N = 2, K = 64, M = 130 };
    static float x[N * K], y[N * M], yr[N * M], w[M * K];
    for (int i = 0; i < N * K; i++) x[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < M * K; i++) w[i] = (float)(i % 5) * 0.25f;
    for (int r = 0; r < 50; r++) mg_k_matmul(pool, y, x, w, MG_DTYPE_F32, N, K, M, false);
    mg_k_matmul_ref(yr, x, w, MG_DTYPE_F32, N, K, M, false);
    for (int i = 0; i < N * M; i++) {
        if (y[i] != yr[i]) { /* small integers: exact in any summation order */
            fprintf(stderr, "matmul mismatch at %d: %g vs %g\n", i, y[i], yr[i]);
            mg_kpool_free(pool);
            return 1;
        }
    }
    mg_kpool_free(pool);
    puts("kernel pool: ok");
    return 0;
}
