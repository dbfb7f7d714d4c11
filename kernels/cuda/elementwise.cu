/* elementwise.cu — the engine's glue between ops: residual adds, bias rows,
 * row gathers, the KV-cache append and DoRA's recombination. Sums use _rn
 * intrinsics so nvcc does not contract them into FMAs: each step rounds as
 * the CPU backend's (worker/engine/cpu_forward.c) does. */
#include "cuda_internal.cuh"

static unsigned blocks_for(size_t n)
{
    size_t b = (n + 255) / 256;
    return (unsigned)(b > 65535 ? 65535 : (b ? b : 1));
}

#define MG_GRID_LOOP(i, n)                                                                         \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                        \
         i += (size_t)gridDim.x * blockDim.x)

__global__ void add_k(float *y, const float *x, size_t n)
{
    MG_GRID_LOOP(i, n) y[i] = __fadd_rn(y[i], x[i]);
}

__global__ void add_bias_k(float *y, const float *bias, size_t n, int d)
{
    MG_GRID_LOOP(i, n) y[i] = __fadd_rn(y[i], bias[i % (size_t)d]);
}

__global__ void gather_rows_k(float *dst, const float *src, const int32_t *idx, size_t n, int d)
{
    MG_GRID_LOOP(i, n) dst[i] = src[(size_t)idx[i / d] * d + i % d];
}

__global__ void kv_store_k(float *const *k_base, float *const *v_base, const int64_t *stride,
                           int layer, const float *k, const float *v, size_t n, int kd)
{
    MG_GRID_LOOP(i, n)
    {
        size_t t = i / kd, j = i % kd;
        size_t off = (size_t)layer * (size_t)stride[t] + j;
        k_base[t][off] = k[i];
        v_base[t][off] = v[i];
    }
}

__global__ void dora_k(float *y, const float *base, const float *u, const float *mn, const float *w,
                       size_t n, int out)
{
    MG_GRID_LOOP(i, n)
    {
        float wr = w[i / out];
        if (wr == 0.0f) continue;
        float m = mn[i % out];
        float t = __fadd_rn(__fmul_rn(__fsub_rn(m, 1.0f), base[i]), __fmul_rn(m, u[i]));
        y[i] = __fadd_rn(y[i], __fmul_rn(wr, t));
    }
}

int mg_cuda_add(mg_cuda_ctx *c, float *y, const float *x, size_t n, mg_error *err)
{
    if (n == 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    add_k<<<blocks_for(n), 256, 0, c->stream>>>(y, x, n);
    MG_CUDA_LAUNCHED(err);
    return 0;
}

int mg_cuda_add_bias(mg_cuda_ctx *c, float *y, const float *bias, int n, int d, mg_error *err)
{
    size_t total = (size_t)n * d;
    if (total == 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    add_bias_k<<<blocks_for(total), 256, 0, c->stream>>>(y, bias, total, d);
    MG_CUDA_LAUNCHED(err);
    return 0;
}

int mg_cuda_gather_rows(mg_cuda_ctx *c, float *dst, const float *src, const int32_t *idx, int n,
                        int d, mg_error *err)
{
    size_t total = (size_t)n * d;
    if (total == 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    gather_rows_k<<<blocks_for(total), 256, 0, c->stream>>>(dst, src, idx, total, d);
    MG_CUDA_LAUNCHED(err);
    return 0;
}

int mg_cuda_kv_store(mg_cuda_ctx *c, float *const *k_base, float *const *v_base,
                     const int64_t *stride, int layer, const float *k, const float *v, int n,
                     int kd, mg_error *err)
{
    size_t total = (size_t)n * kd;
    if (total == 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    kv_store_k<<<blocks_for(total), 256, 0, c->stream>>>(k_base, v_base, stride, layer, k, v, total,
                                                         kd);
    MG_CUDA_LAUNCHED(err);
    return 0;
}

int mg_cuda_dora(mg_cuda_ctx *c, float *y, const float *base, const float *u, const float *mn,
                 const float *w, int n, int out, mg_error *err)
{
    size_t total = (size_t)n * out;
    if (total == 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    dora_k<<<blocks_for(total), 256, 0, c->stream>>>(y, base, u, mn, w, total, out);
    MG_CUDA_LAUNCHED(err);
    return 0;
}
