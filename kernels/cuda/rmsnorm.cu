/* rmsnorm.cu — LlamaRMSNorm / GemmaRMSNorm, one block per row: the mean of
 * squares summed in double (as the CPU reference), x * rsqrt(var + eps) with
 * IEEE division and square root, then * w or * (1 + w). */
#include "cuda_internal.cuh"

template <int DT>
__global__ void rmsnorm_k(float *y, const float *x, const void *w, int d, float eps, bool add_one)
{
    const float *xi = x + (size_t)blockIdx.x * d;
    float *yi = y + (size_t)blockIdx.x * d;
    double ss = 0.0;
    for (int j = threadIdx.x; j < d; j += blockDim.x) ss += (double)xi[j] * xi[j];
    ss = mg_block_sum(ss);
    float var = (float)(ss / d);
    float r = 1.0f / sqrtf(var + eps);
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        float wj = mg_load<DT>(w, (size_t)j);
        float g = add_one ? 1.0f + wj : wj;
        yi[j] = __fmul_rn(__fmul_rn(xi[j], r), g);
    }
}

int mg_cuda_rmsnorm(mg_cuda_ctx *c, float *y, const float *x, const void *w, mg_dtype wt, int n,
                    int d, float eps, bool add_one, mg_error *err)
{
    if (n <= 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    switch (wt) {
    case MG_DTYPE_F32:
        rmsnorm_k<MG_DTYPE_F32><<<n, 256, 0, c->stream>>>(y, x, w, d, eps, add_one);
        break;
    case MG_DTYPE_F16:
        rmsnorm_k<MG_DTYPE_F16><<<n, 256, 0, c->stream>>>(y, x, w, d, eps, add_one);
        break;
    case MG_DTYPE_BF16:
        rmsnorm_k<MG_DTYPE_BF16><<<n, 256, 0, c->stream>>>(y, x, w, d, eps, add_one);
        break;
    default:
        return mg_error_set(err, MG_EUNSUPPORTED, "cuda rmsnorm: weight dtype %s",
                            mg_dtype_name(wt));
    }
    MG_CUDA_LAUNCHED(err);
    return 0;
}
