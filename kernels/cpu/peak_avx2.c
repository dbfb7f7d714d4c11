/* peak_avx2.c — the arithmetic ceiling for the benchmarks: fp32 FMA
 * throughput with 12 independent chains per thread, all in registers (no
 * memory traffic), compiled with -mavx2 -mfma. A matmul or a decode step can
 * be judged against it the way a weight stream is judged against the
 * memory bandwidth (docs/perf/engine.md). */
#include "cpu_internal.h"

#include <immintrin.h>

#define CHAINS 12

static void peak_item(int i, void *arg)
{
    (void)i;
    long iters = *(const long *)arg;
    __m256 acc[CHAINS];
    const __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps((float)c);
    for (long it = 0; it < iters; it++) {
        /* An empty asm naming the accumulators keeps the compiler from
         * folding the loop; the FMAs themselves stay independent. */
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
        __asm__ volatile(""
                         : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]), "+x"(acc[4]),
                           "+x"(acc[5]), "+x"(acc[6]), "+x"(acc[7]), "+x"(acc[8]), "+x"(acc[9]),
                           "+x"(acc[10]), "+x"(acc[11]));
    }
}

double mg__fma_flops_avx2(mg_kpool *pool, long iters, double (*clock)(void))
{
    int n = mg_kpool_size(pool);
    double t = clock();
    mg_kpool_run(pool, n, peak_item, &iters);
    t = clock() - t;
    return (double)n * (double)iters * CHAINS * 8 * 2 / t;
}
