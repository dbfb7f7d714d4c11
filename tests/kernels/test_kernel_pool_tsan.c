/* test_kernel_pool_tsan.c — the thread pool's stress as a plain program (no
 * Criterion, which cannot start under ThreadSanitizer), so tools/test.sh's
 * TSan pass checks the pool's atomics and hand-offs. Exit status 0 = pass. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "mg_kernels.h"

static atomic_int hits[64];
static int plain[64]; /* written by the items, read by the caller: needs the pool's ordering */

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
