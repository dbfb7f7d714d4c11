/* softmax.cu — in-place row softmax, one block per row: max, exp(x - max),
 * sum, multiply by 1/sum (the CPU reference's steps). */
#include "cuda_internal.cuh"

#include <math.h>

__global__ void softmax_k(float *x, int d)
{
    float *r = x + (size_t)blockIdx.x * d;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < d; j += blockDim.x) mx = fmaxf(mx, r[j]);
    mx = mg_block_max(mx, -INFINITY);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        float e = expf(r[j] - mx);
        r[j] = e;
        sum += e;
    }
    sum = mg_block_sum(sum);
    float inv = 1.0f / sum;
    for (int j = threadIdx.x; j < d; j += blockDim.x) r[j] = __fmul_rn(r[j], inv);
}

int mg_cuda_softmax(mg_cuda_ctx *c, float *x, int n, int d, mg_error *err)
{
    if (n <= 0 || d <= 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    softmax_k<<<n, 256, 0, c->stream>>>(x, d);
    MG_CUDA_LAUNCHED(err);
    return 0;
}
