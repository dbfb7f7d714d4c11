/* cmd_bench_kernels.c — `moegen bench-kernels`: GFLOP/s and effective GB/s of
 * mg_k_matmul on the projection shapes of SmolLM2-135M and codegemma-2b for
 * F32/BF16/F16 weights at several batch sizes, next to the machine's memory
 * bandwidth measured the same way (STREAM-like copy/triad and a read-only
 * sweep, split across the same thread pool). A benchmark, not a test: the
 * numbers go to docs/perf/kernels.md with the command and the machine; the
 * reference (torch) is tools/bench_kernels_ref.py run in the same session. */
#include "mg_cli.h"
#include "mg_kernels.h"
#ifdef MOEGEN_HAVE_CUDA
#include "mg_kernels_cuda.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- matmul ------------------------------------------------------------------- */

typedef struct shape {
    const char *name;
    int m, k; /* W is [m, k] */
} shape;

static const shape shapes[] = {
    {"smollm2-135m.q_proj", 576, 576},     {"smollm2-135m.up_proj", 1536, 576},
    {"smollm2-135m.down_proj", 576, 1536}, {"codegemma-2b.q_proj", 2048, 2048},
    {"codegemma-2b.up_proj", 16384, 2048}, {"codegemma-2b.down_proj", 2048, 16384},
};

static void fill_weights(void *W, mg_dtype t, size_t n)
{
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        float v = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.1f;
        if (t == MG_DTYPE_F32)
            ((float *)W)[i] = v;
        else if (t == MG_DTYPE_F16)
            ((uint16_t *)W)[i] = mg_f32_to_f16(v);
        else
            ((uint16_t *)W)[i] = mg_f32_to_bf16(v);
    }
}

/* Decode-step attention (one query per head against n_kv cached positions)
 * at SmolLM2 and codegemma head layouts: the scalar reference, the AVX2
 * kernel on one thread, and the pooled kernel. */
typedef void (*attn_fn)(mg_kpool *pool, float *out, const float *q, const float *k, const float *v,
                        int n_kv, int nh, int kvh, int hd, float *scratch);
static void att_ref(mg_kpool *pool, float *out, const float *q, const float *k, const float *v,
                    int n_kv, int nh, int kvh, int hd, float *scratch)
{
    mg_k_attention_ref(out, q, k, v, 1, n_kv, n_kv - 1, nh, kvh, hd, 0.125f, 0, scratch);
}
static void att_opt(mg_kpool *pool, float *out, const float *q, const float *k, const float *v,
                    int n_kv, int nh, int kvh, int hd, float *scratch)
{
    mg_k_attention(out, q, k, v, 1, n_kv, n_kv - 1, nh, kvh, hd, 0.125f, 0, scratch);
}
static void att_pool(mg_kpool *pool, float *out, const float *q, const float *k, const float *v,
                     int n_kv, int nh, int kvh, int hd, float *scratch)
{
    mg_k_attention_pool(pool, out, q, k, v, 1, n_kv, n_kv - 1, nh, kvh, hd, 0.125f, 0, scratch);
}

static int bench_attention(mg_kpool *pool, long min_ms, bool json)
{
    static const struct {
        const char *name;
        int nh, kvh, hd;
    } layouts[] = {{"smollm2-135m", 9, 3, 64}, {"codegemma-2b", 8, 1, 256}};
    static const int lens[] = {256, 2048};
    static const struct {
        const char *name;
        attn_fn fn;
    } impls[] = {{"ref", att_ref}, {"opt", att_opt}, {"pool", att_pool}};
    if (!json) printf("\n%-24s %5s %-5s %10s\n", "attention (decode)", "n_kv", "impl", "time_us");
    for (int l = 0; l < 2; l++) {
        for (int n = 0; n < 2; n++) {
            int nh = layouts[l].nh, kvh = layouts[l].kvh, hd = layouts[l].hd, nkv = lens[n];
            float *q = malloc(sizeof(float) * nh * hd), *o = malloc(sizeof(float) * nh * hd);
            float *k = malloc(sizeof(float) * nkv * kvh * hd),
                  *v = malloc(sizeof(float) * nkv * kvh * hd);
            float *scr = malloc(sizeof(float) * nkv * mg_kpool_size(pool));
            if (!q || !o || !k || !v || !scr) {
                free(q), free(o), free(k), free(v), free(scr);
                mg_cli_error("bench-kernels", "out of memory for the attention benchmark");
                return MG_EXIT_FAIL;
            }
            for (int i = 0; i < nh * hd; i++) q[i] = (float)(i % 11) * 0.1f;
            for (size_t i = 0; i < (size_t)nkv * kvh * hd; i++)
                k[i] = (float)(i % 13) * 0.05f, v[i] = (float)(i % 7) * 0.1f;
            for (int m = 0; m < 3; m++) {
                double best = 1e30, total = 0;
                for (int calls = 0; total < min_ms * 1e-3 || calls < 3; calls++) {
                    double t0 = now_s();
                    impls[m].fn(pool, o, q, k, v, nkv, nh, kvh, hd, scr);
                    double t = now_s() - t0;
                    total += t;
                    if (t < best) best = t;
                }
                if (json)
                    printf("{\"op\":\"attention_decode\",\"layout\":\"%s\",\"n_kv\":%d,"
                           "\"impl\":\"%s\",\"time_us\":%.2f}\n",
                           layouts[l].name, nkv, impls[m].name, best * 1e6);
                else
                    printf("%-24s %5d %-5s %10.1f\n", layouts[l].name, nkv, impls[m].name,
                           best * 1e6);
            }
            free(q), free(o), free(k), free(v), free(scr);
        }
    }
    return MG_EXIT_OK;
}

#ifdef MOEGEN_HAVE_CUDA
/* The same table on GPU 0 through mg_cuda_matmul (cuBLAS), next to the
 * device's copy bandwidth (cudaMemcpy device to device, read + write). */
static int bench_cuda(const char *only, bool quick, long min_ms, bool json)
{
    int ndev = 0;
    mg_error err = {0};
    mg_cuda_device_count(&ndev, &err);
    if (ndev == 0) {
        mg_cli_error("bench-kernels", "--cuda: no CUDA device%s%s", err.msg[0] ? ": " : "",
                     err.msg);
        return MG_EXIT_FAIL;
    }
    char name[256];
    size_t fb = 0, tb = 0;
    mg_cuda_ctx *c = NULL;
    if (mg_cuda_device_info(0, name, sizeof name, &fb, &tb, &err) < 0 ||
        mg_cuda_ctx_new(0, &c, &err) < 0) {
        mg_cli_error("bench-kernels", "--cuda: %s", err.msg);
        return MG_EXIT_FAIL;
    }
    int status = MG_EXIT_OK;
    size_t bw_bytes = (size_t)1 << 30;
    void *a = NULL, *b = NULL;
    double best = 1e30;
    if (mg_cuda_alloc(c, bw_bytes, &a, &err) < 0 || mg_cuda_alloc(c, bw_bytes, &b, &err) < 0)
        goto fail;
    for (int r = 0; r < 10; r++) {
        double t0 = now_s();
        if (mg_cuda_copy(c, a, b, bw_bytes, &err) < 0 || mg_cuda_sync(c, &err) < 0) goto fail;
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    mg_cuda_dealloc(a), mg_cuda_dealloc(b);
    a = b = NULL;
    if (json)
        printf("{\"op\":\"cuda_memory\",\"device\":\"%s\",\"copy_gbs\":%.1f}\n", name,
               2.0 * bw_bytes / best / 1e9);
    else
        printf("\ncuda device 0: %s, %.1f GiB; copy bandwidth %.1f GB/s (read + write)\n", name,
               tb / 1073741824.0, 2.0 * bw_bytes / best / 1e9);
    static const mg_dtype dts[] = {MG_DTYPE_F32, MG_DTYPE_BF16, MG_DTYPE_F16};
    static const int ns[] = {1, 16, 64, 256};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const shape *sh = &shapes[s];
        if (only && !strstr(sh->name, only)) continue;
        if (quick && strncmp(sh->name, "smollm2", 7) != 0) continue;
        for (size_t d = 0; d < 3; d++) {
            size_t wn = (size_t)sh->m * sh->k, wbytes = wn * mg_dtype_size(dts[d]);
            void *W = malloc(wbytes), *dW = NULL, *dx = NULL, *dy = NULL;
            if (!W) goto fail;
            fill_weights(W, dts[d], wn);
            int rc = mg_cuda_alloc(c, wbytes, &dW, &err);
            if (rc == 0) rc = mg_cuda_upload(c, dW, W, wbytes, &err);
            free(W);
            if (rc == 0) rc = mg_cuda_alloc(c, (size_t)256 * sh->k * sizeof(float), &dx, &err);
            if (rc == 0) rc = mg_cuda_alloc(c, (size_t)256 * sh->m * sizeof(float), &dy, &err);
            for (int bi = 0; rc == 0 && bi < 4; bi++) {
                int nn = ns[bi];
                rc = mg_cuda_matmul(c, dy, dx, dW, dts[d], nn, sh->k, sh->m, false, &err);
                if (rc == 0) rc = mg_cuda_sync(c, &err);
                double bt = 1e30, total = 0;
                int reps = 1;
                while (rc == 0 && total < min_ms * 1e-3) {
                    double t0 = now_s();
                    for (int r = 0; rc == 0 && r < reps; r++)
                        rc = mg_cuda_matmul(c, dy, dx, dW, dts[d], nn, sh->k, sh->m, false, &err);
                    if (rc == 0) rc = mg_cuda_sync(c, &err);
                    double t = now_s() - t0;
                    total += t;
                    if (t / reps < bt) bt = t / reps;
                    if (t < 0.02) reps *= 2;
                }
                if (rc < 0) break;
                double gflops = 2.0 * nn * sh->k * (double)sh->m / bt / 1e9;
                if (json)
                    printf("{\"op\":\"cuda_matmul\",\"shape\":\"%s\",\"dtype\":\"%s\",\"n\":%d,"
                           "\"time_us\":%.2f,\"gflops\":%.1f,\"weight_gbs\":%.1f}\n",
                           sh->name, mg_dtype_name(dts[d]), nn, bt * 1e6, gflops,
                           wbytes / bt / 1e9);
                else
                    printf("cuda %-24s %-5s %3d %10.1f %9.1f %9.1f\n", sh->name,
                           mg_dtype_name(dts[d]), nn, bt * 1e6, gflops, wbytes / bt / 1e9);
                fflush(stdout);
            }
            mg_cuda_dealloc(dW), mg_cuda_dealloc(dx), mg_cuda_dealloc(dy);
            if (rc < 0) goto fail;
        }
    }
    mg_cuda_ctx_free(c);
    return status;
fail:
    mg_cuda_dealloc(a), mg_cuda_dealloc(b);
    mg_cli_error("bench-kernels", "--cuda: %s", err.msg[0] ? err.msg : "out of host memory");
    mg_cuda_ctx_free(c);
    return MG_EXIT_FAIL;
}
#endif

static int run(int argc, char **argv)
{
    long threads = 0, min_ms = 300;
    bool json = false, quick = false, scalar = false, cuda = false;
    const char *only = NULL;
    const mg_opt opts[] = {
        {"threads", MG_OPT_INT, &threads, "N",
         "threads for the kernels and the bandwidth test "
         "(default 0 = all cores)"},
        {"min-ms", MG_OPT_INT, &min_ms, "MS",
         "time each measurement for at least MS ms (default 300)"},
        {"shape", MG_OPT_STRING, &only, "NAME",
         "only shapes whose name contains NAME (default all)"},
        {"quick", MG_OPT_FLAG, &quick, NULL, "SmolLM2 shapes and n = 1, 16 only (default off)"},
        {"scalar", MG_OPT_FLAG, &scalar, NULL, "force the scalar kernels (default: best detected)"},
        {"json", MG_OPT_FLAG, &json, NULL, "one JSON object per line instead of a table"},
        {"cuda", MG_OPT_FLAG, &cuda, NULL,
         "also benchmark the CUDA matmul (cuBLAS) on GPU 0 (default off)"},
        {0},
    };
    int rc = mg_cli_parse("bench-kernels", "[options]", opts, argc, argv, NULL);
    if (rc) return rc > 0 ? MG_EXIT_OK : MG_EXIT_USAGE;
    if (threads < 0 || threads > 1024) {
        mg_cli_error("bench-kernels", "--threads: %ld is not in 0..1024", threads);
        return MG_EXIT_USAGE;
    }
    if (min_ms < 1 || min_ms > 600000) {
        mg_cli_error("bench-kernels", "--min-ms: %ld is not in 1..600000", min_ms);
        return MG_EXIT_USAGE;
    }
#ifndef MOEGEN_HAVE_CUDA
    if (cuda) {
        mg_cli_error("bench-kernels", "--cuda: this binary has no CUDA kernels; run moegen-cuda "
                                      "(built beside moegen when CMake finds nvcc)");
        return MG_EXIT_USAGE;
    }
#endif
    mg_error err = {0};
    mg_kpool *pool = NULL;
    if (mg_kpool_new((int)threads, &pool, &err) < 0) {
        mg_cli_error("bench-kernels", "%s", err.msg);
        return MG_EXIT_FAIL;
    }
    mg_k_cpu_force_scalar(scalar);
    int nt = mg_kpool_size(pool);

    /* Bandwidth: 3 arrays of 256 MiB each (64 MiB with --quick), far beyond any L3. */
    mg_k_membw_result bw;
    if (mg_k_membw(pool, quick ? (size_t)64 << 20 : (size_t)256 << 20, 20, &bw, &err) < 0) {
        mg_cli_error("bench-kernels", "%s", err.msg);
        mg_kpool_free(pool);
        return MG_EXIT_FAIL;
    }
    double gb_copy = bw.copy_gbs, gb_triad = bw.triad_gbs, gb_read = bw.read_gbs;
    double peak = mg_k_peak_gflops(pool);
    if (json) {
        printf("{\"op\":\"memory\",\"threads\":%d,\"isa\":\"%s\",\"copy_gbs\":%.2f,"
               "\"triad_gbs\":%.2f,\"read_gbs\":%.2f,\"peak_gflops\":%.1f}\n",
               nt, mg_k_cpu_isa(), gb_copy, gb_triad, gb_read, peak);
    } else {
        printf("kernels: %s, %d threads\n", mg_k_cpu_isa(), nt);
        printf("memory bandwidth (GB/s, best of 20, %d MiB arrays): copy %.1f  triad %.1f  "
               "read %.1f\n",
               quick ? 64 : 256, gb_copy, gb_triad, gb_read);
        if (peak > 0) printf("fp32 FMA peak: %.1f GFLOP/s\n", peak);
        printf("\n");
        printf("%-24s %-5s %3s %10s %9s %9s\n", "shape [m x k]", "dtype", "n", "time_us", "GFLOP/s",
               "W GB/s");
    }

    static const mg_dtype dts[] = {MG_DTYPE_F32, MG_DTYPE_BF16, MG_DTYPE_F16};
    static const int ns_full[] = {1, 4, 16, 64}, ns_quick[] = {1, 16};
    const int *ns = quick ? ns_quick : ns_full;
    int n_ns = quick ? 2 : 4;
    int status = MG_EXIT_OK;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const shape *sh = &shapes[s];
        if (only && !strstr(sh->name, only)) continue;
        if (quick && strncmp(sh->name, "smollm2", 7) != 0) continue;
        for (size_t d = 0; d < 3; d++) {
            size_t wbytes = (size_t)sh->m * sh->k * mg_dtype_size(dts[d]);
            void *W = malloc(wbytes);
            float *x = malloc((size_t)64 * sh->k * sizeof *x);
            float *y = malloc((size_t)64 * sh->m * sizeof *y);
            if (!W || !x || !y) {
                mg_cli_error("bench-kernels", "out of memory for %s", sh->name);
                free(W), free(x), free(y);
                status = MG_EXIT_FAIL;
                break;
            }
            fill_weights(W, dts[d], (size_t)sh->m * sh->k);
            for (size_t i = 0; i < (size_t)64 * sh->k; i++) x[i] = (float)((i * 7) % 13) * 0.1f;
            for (int b = 0; b < n_ns; b++) {
                int nn = ns[b];
                mg_k_matmul(pool, y, x, W, dts[d], nn, sh->k, sh->m, false); /* warm-up */
                /* Each call timed alone (>= 5 us, far above the clock's
                 * cost) and the best reported: on a shared machine most
                 * calls run undisturbed, and the minimum discards those
                 * another process interrupted. */
                double best = 1e30, total = 0;
                for (int calls = 0; total < min_ms * 1e-3 || calls < 3; calls++) {
                    double t0 = now_s();
                    mg_k_matmul(pool, y, x, W, dts[d], nn, sh->k, sh->m, false);
                    double t = now_s() - t0;
                    total += t;
                    if (t < best) best = t;
                }
                double gflops = 2.0 * nn * sh->k * (double)sh->m / best / 1e9;
                double gbs = (double)wbytes / best / 1e9;
                char nm[64];
                snprintf(nm, sizeof nm, "%s [%dx%d]", sh->name, sh->m, sh->k);
                if (json)
                    printf("{\"op\":\"matmul\",\"shape\":\"%s\",\"m\":%d,\"k\":%d,\"dtype\":\"%s\","
                           "\"n\":%d,\"threads\":%d,\"isa\":\"%s\",\"time_us\":%.2f,"
                           "\"gflops\":%.2f,\"weight_gbs\":%.2f}\n",
                           sh->name, sh->m, sh->k, mg_dtype_name(dts[d]), nn, nt, mg_k_cpu_isa(),
                           best * 1e6, gflops, gbs);
                else
                    printf("%-24s %-5s %3d %10.1f %9.1f %9.1f\n", sh->name, mg_dtype_name(dts[d]),
                           nn, best * 1e6, gflops, gbs);
                fflush(stdout);
            }
            free(W), free(x), free(y);
        }
    }
    if (status == MG_EXIT_OK && !only) status = bench_attention(pool, min_ms, json);
    mg_k_cpu_force_scalar(false);
    mg_kpool_free(pool);
#ifdef MOEGEN_HAVE_CUDA
    if (status == MG_EXIT_OK && cuda) status = bench_cuda(only, quick, min_ms, json);
#endif
    return status;
}

const mg_command mg_cmd_bench_kernels = {
    "bench-kernels", "benchmark the CPU matmul kernels against the memory bandwidth", run};
