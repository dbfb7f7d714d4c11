/* sample.cu — the sampling steps on the device, one block per row of logits:
 * greedy argmax; Hugging Face's temperature / top-k / top-p warpers with the
 * semantics of worker/engine/sample.c; and the inverse-CDF draw with a
 * uniform number from the engine's counter-based generator.
 *
 * Selection without sorting: the k-th largest value and the top-p cut are
 * found by bisection over order-preserving integer keys of the values (32
 * bits for values, 64 bits for (value, index) pairs, the order of the CPU's
 * stable ascending sort), each step one block-wide count or double sum. */
#include "cuda_internal.cuh"

#include <math.h>

#define SAMPLE_THREADS 1024

/* Order-preserving map of a float to uint32 (negative floats reversed). */
__device__ __forceinline__ uint32_t fkey(float f)
{
    uint32_t u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* argmax of r[0, vocab), lowest index on ties; every thread gets it. */
__device__ int block_argmax(const float *r, int vocab)
{
    __shared__ float bv[SAMPLE_THREADS / 32];
    __shared__ int bi[SAMPLE_THREADS / 32];
    float v = -INFINITY;
    int idx = -1;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x)
        if (idx < 0 || r[i] > v) v = r[i], idx = i; /* strided walk: indices ascend */
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, v, o);
        int oi = __shfl_xor_sync(0xffffffffu, idx, o);
        bool take = oi >= 0 && (idx < 0 || ov > v || (ov == v && oi < idx));
        if (take) v = ov, idx = oi;
    }
    __syncthreads();
    if ((threadIdx.x & 31) == 0) bv[threadIdx.x >> 5] = v, bi[threadIdx.x >> 5] = idx;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < (int)(blockDim.x >> 5); w++) {
            if (bi[w] >= 0 && (bi[0] < 0 || bv[w] > bv[0] || (bv[w] == bv[0] && bi[w] < bi[0])))
                bv[0] = bv[w], bi[0] = bi[w];
        }
    }
    __syncthreads();
    return bi[0] < 0 ? 0 : bi[0];
}

__global__ void greedy_k(int32_t *ids, const float *logits, int vocab)
{
    int best = block_argmax(logits + (size_t)blockIdx.x * vocab, vocab);
    if (threadIdx.x == 0) ids[blockIdx.x] = best;
}

__global__ void sample_k(int32_t *ids, float *logits, int vocab, float temperature, int top_k,
                         float top_p, const double *u)
{
    float *r = logits + (size_t)blockIdx.x * vocab;
    const int tid = threadIdx.x, nt = blockDim.x;
    if (temperature > 0.0f && temperature != 1.0f) {
        for (int i = tid; i < vocab; i += nt) r[i] = __fdiv_rn(r[i], temperature);
        __syncthreads();
    }
    if (top_k > 0 && top_k < vocab) {
        /* Largest key K with #{i : key_i >= K} >= top_k is the k-th value. */
        uint32_t K = 0;
        for (int bit = 31; bit >= 0; bit--) {
            uint32_t cand = K | (1u << bit);
            int cnt = 0;
            for (int i = tid; i < vocab; i += nt) cnt += fkey(r[i]) >= cand;
            if (mg_block_sum(cnt) >= top_k) K = cand;
        }
        /* Compare values, not keys, as the CPU does (-0 and +0 are equal). */
        float kth = __uint_as_float((K & 0x80000000u) ? (K & 0x7fffffffu) : ~K);
        for (int i = tid; i < vocab; i += nt)
            if (r[i] < kth) r[i] = -INFINITY;
        __syncthreads();
    }
    int best = block_argmax(r, vocab);
    float mx = r[best];
    if (top_p < 1.0f) {
        double sum = 0;
        for (int i = tid; i < vocab; i += nt) sum += (double)expf(r[i] - mx);
        sum = mg_block_sum(sum);
        float thresh = (float)(1.0 - (double)top_p);
        /* Sorted ascending by (value, index), cum(K) = mass of the pairs with
         * key <= K. Find the largest K with (float)cum(K) <= thresh; every
         * pair up to it is removed, except the largest pair of all. */
        unsigned long long K = 0;
        bool any = false;
        for (int bit = 63; bit >= 0; bit--) {
            unsigned long long cand = K | (1ull << bit);
            double cum = 0;
            for (int i = tid; i < vocab; i += nt) {
                unsigned long long key = ((unsigned long long)fkey(r[i]) << 32) | (unsigned)i;
                if (key <= cand) cum += (double)(float)((double)expf(r[i] - mx) / sum);
            }
            cum = mg_block_sum(cum);
            if ((float)cum <= thresh) K = cand, any = true;
        }
        /* The largest pair (max value, highest index among ties) stays. */
        unsigned long long top = 0;
        for (int i = tid; i < vocab; i += nt) {
            unsigned long long key = ((unsigned long long)fkey(r[i]) << 32) | (unsigned)i;
            top = key > top ? key : top;
        }
        top = mg_block_max(top, 0ull);
        if (any) {
            for (int i = tid; i < vocab; i += nt) {
                unsigned long long key = ((unsigned long long)fkey(r[i]) << 32) | (unsigned)i;
                if (key <= K && key != top) r[i] = -INFINITY;
            }
        }
        __syncthreads();
    }
    /* Inverse CDF in index order: each thread owns a contiguous chunk; an
     * exclusive scan of the chunk sums gives each chunk's starting mass, and
     * the first index whose running mass exceeds u * total wins. */
    __shared__ double pre[SAMPLE_THREADS];
    __shared__ double total;
    __shared__ int found;
    int chunk = (vocab + nt - 1) / nt;
    int c0 = tid * chunk < vocab ? tid * chunk : vocab;
    int c1 = c0 + chunk < vocab ? c0 + chunk : vocab;
    double local = 0;
    int last_local = -1;
    for (int i = c0; i < c1; i++) {
        if (r[i] == -INFINITY) continue;
        local += (double)expf(r[i] - mx);
        last_local = i;
    }
    pre[tid] = local;
    __syncthreads();
    if (tid == 0) { /* sequential exclusive scan: nt adds once per draw */
        double run = 0;
        for (int t = 0; t < nt; t++) {
            double v = pre[t];
            pre[t] = run;
            run += v;
        }
        total = run;
        found = 0x7fffffff;
    }
    __syncthreads();
    double target = u[blockIdx.x] * total;
    double cum = pre[tid];
    for (int i = c0; i < c1; i++) {
        if (r[i] == -INFINITY) continue;
        cum += (double)expf(r[i] - mx);
        if (cum > target) {
            atomicMin(&found, i); /* the lowest crossing over all chunks wins */
            break;
        }
    }
    int last = mg_block_max(last_local, -1);
    __syncthreads();
    if (tid == 0) ids[blockIdx.x] = found != 0x7fffffff ? found : (last >= 0 ? last : best);
}

int mg_cuda_sample_greedy(mg_cuda_ctx *c, int32_t *ids_out, const float *logits, int n, int vocab,
                          mg_error *err)
{
    if (n <= 0 || vocab <= 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    greedy_k<<<n, SAMPLE_THREADS, 0, c->stream>>>(ids_out, logits, vocab);
    MG_CUDA_LAUNCHED(err);
    return 0;
}

int mg_cuda_sample(mg_cuda_ctx *c, int32_t *ids_out, float *logits, int n, int vocab,
                   float temperature, int top_k, float top_p, const double *u, mg_error *err)
{
    if (n <= 0 || vocab <= 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    sample_k<<<n, SAMPLE_THREADS, 0, c->stream>>>(ids_out, logits, vocab, temperature, top_k, top_p,
                                                  u);
    MG_CUDA_LAUNCHED(err);
    return 0;
}
