/* cuda_internal.cuh — what the .cu files share: the error-check macros, the
 * context's layout, dtype loads and launch helpers. Not a public header. */
#ifndef MG_CUDA_INTERNAL_CUH
#define MG_CUDA_INTERNAL_CUH

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "mg_kernels_cuda.h"

/* Evaluates a CUDA runtime call; on failure returns MG_ECUDA from the
 * enclosing function with the statement, function, file, line and device. */
#define MG_CUDA_CHECK(stmt, err)                                                                   \
    do {                                                                                           \
        cudaError_t mg_e_ = (stmt);                                                                \
        if (mg_e_ != cudaSuccess)                                                                  \
            return mg__cuda_fail((err), #stmt, __func__, __FILE__, __LINE__,                       \
                                 cudaGetErrorName(mg_e_), cudaGetErrorString(mg_e_));              \
    } while (0)

#define MG_CUBLAS_CHECK(stmt, err)                                                                 \
    do {                                                                                           \
        cublasStatus_t mg_s_ = (stmt);                                                             \
        if (mg_s_ != CUBLAS_STATUS_SUCCESS)                                                        \
            return mg__cuda_fail((err), #stmt, __func__, __FILE__, __LINE__,                       \
                                 cublasGetStatusName(mg_s_), cublasGetStatusString(mg_s_));        \
    } while (0)

/* After a kernel launch: reports a bad launch configuration at once. */
#define MG_CUDA_LAUNCHED(err) MG_CUDA_CHECK(cudaGetLastError(), err)

int mg__cuda_fail(mg_error *err, const char *stmt, const char *func, const char *file, int line,
                  const char *name, const char *text);

struct mg_cuda_ctx {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    /* Scratch, grown with cudaMalloc when an op needs more (never shrunk). */
    void *scratch;
    size_t scratch_bytes;
    void *scratch2;
    size_t scratch2_bytes;
    bool pool_ready; /* the default mempool keeps freed blocks (alloc_async) */
};

/* Makes ctx's device current and *buf at least `bytes` long. */
int mg__cuda_scratch(mg_cuda_ctx *c, void **buf, size_t *have, size_t bytes, mg_error *err);
int mg__cuda_use(mg_cuda_ctx *c, mg_error *err);

/* Element i of a weight array of dtype DT, as fp32. */
template <int DT> __device__ __forceinline__ float mg_load(const void *p, size_t i);
template <> __device__ __forceinline__ float mg_load<MG_DTYPE_F32>(const void *p, size_t i)
{
    return static_cast<const float *>(p)[i];
}
template <> __device__ __forceinline__ float mg_load<MG_DTYPE_F16>(const void *p, size_t i)
{
    return __half2float(static_cast<const __half *>(p)[i]);
}
template <> __device__ __forceinline__ float mg_load<MG_DTYPE_BF16>(const void *p, size_t i)
{
    return __bfloat162float(static_cast<const __nv_bfloat16 *>(p)[i]);
}

static inline bool mg__float_dtype(mg_dtype t)
{
    return t == MG_DTYPE_F32 || t == MG_DTYPE_F16 || t == MG_DTYPE_BF16;
}

/* Block-wide sum and max of one value per thread (blockDim.x a multiple of
 * 32, at most 1024); every thread gets the result. */
template <typename T> __device__ __forceinline__ T mg_warp_sum(T v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
template <typename T> __device__ __forceinline__ T mg_warp_max(T v)
{
    for (int o = 16; o > 0; o >>= 1) {
        T w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    return v;
}
template <typename T> __device__ T mg_block_sum(T v)
{
    __shared__ T part[32];
    __syncthreads(); /* part may still be read by a previous call */
    v = mg_warp_sum(v);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
    __syncthreads();
    int nw = blockDim.x >> 5;
    v = (int)threadIdx.x < nw ? part[threadIdx.x] : T(0);
    if (threadIdx.x < 32) v = mg_warp_sum(v);
    if (threadIdx.x == 0) part[0] = v;
    __syncthreads();
    return part[0];
}
template <typename T> __device__ T mg_block_max(T v, T lowest)
{
    __shared__ T part[32];
    __syncthreads();
    v = mg_warp_max(v);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
    __syncthreads();
    int nw = blockDim.x >> 5;
    v = (int)threadIdx.x < nw ? part[threadIdx.x] : lowest;
    if (threadIdx.x < 32) v = mg_warp_max(v);
    if (threadIdx.x == 0) part[0] = v;
    __syncthreads();
    return part[0];
}

#endif
