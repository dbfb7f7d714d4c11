/* matmul.cu — projections through cuBLAS. Row-major y[n, m] = x[n, k] W^T
 * with W [m, k] is, in cuBLAS's column-major terms, y^T (m x n) =
 * op_T(W) (m x k) * x^T (k x n): one cublasGemmEx with lda = ldb = k, ldc = m.
 * Accumulation is fp32 (CUBLAS_COMPUTE_32F, no TF32). cuBLAS needs A and B of
 * one type, so for BF16/F16 weights x is first rounded to that type in
 * scratch (what a PyTorch model in bf16 does to its activations). */
#include "cuda_internal.cuh"

template <typename T> __global__ void round_to(T *dst, const float *src, size_t n);
template <> __global__ void round_to<__half>(__half *dst, const float *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2half_rn(src[i]);
}
template <> __global__ void round_to<__nv_bfloat16>(__nv_bfloat16 *dst, const float *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

static unsigned grid_for(size_t n)
{
    size_t b = (n + 255) / 256;
    return (unsigned)(b > 4096 ? 4096 : (b ? b : 1));
}

int mg_cuda_matmul(mg_cuda_ctx *c, float *y, const float *x, const void *W, mg_dtype wt, int n,
                   int k, int m, bool accumulate, mg_error *err)
{
    if (!mg__float_dtype(wt))
        return mg_error_set(err, MG_EUNSUPPORTED, "cuda matmul: weights of dtype %s",
                            mg_dtype_name(wt));
    if (n <= 0 || m <= 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    const void *B = x;
    cudaDataType_t t = CUDA_R_32F;
    if (wt != MG_DTYPE_F32) {
        size_t nx = (size_t)n * k;
        int rc = mg__cuda_scratch(c, &c->scratch, &c->scratch_bytes, nx * 2, err);
        if (rc < 0) return rc;
        if (wt == MG_DTYPE_BF16) {
            round_to<__nv_bfloat16>
                <<<grid_for(nx), 256, 0, c->stream>>>((__nv_bfloat16 *)c->scratch, x, nx);
            t = CUDA_R_16BF;
        } else {
            round_to<__half><<<grid_for(nx), 256, 0, c->stream>>>((__half *)c->scratch, x, nx);
            t = CUDA_R_16F;
        }
        MG_CUDA_LAUNCHED(err);
        B = c->scratch;
    }
    MG_CUBLAS_CHECK(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, W, t, k, B, t,
                                 k, &beta, y, CUDA_R_32F, m, CUBLAS_COMPUTE_32F,
                                 CUBLAS_GEMM_DEFAULT),
                    err);
    return 0;
}
