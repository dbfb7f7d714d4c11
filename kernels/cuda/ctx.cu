/* ctx.cu — devices, contexts (stream + cuBLAS handle + scratch), device
 * memory and the error formatting behind MG_CUDA_CHECK. */
#include "cuda_internal.cuh"

#include <stdlib.h>
#include <string.h>

int mg__cuda_fail(mg_error *err, const char *stmt, const char *func, const char *file, int line,
                  const char *name, const char *text)
{
    int dev = -1;
    if (cudaGetDevice(&dev) != cudaSuccess) dev = -1;
    return mg_error_set(err, MG_ECUDA, "%s:%d: %s: %s failed on device %d: %s (%s)", file, line,
                        func, stmt, dev, name, text);
}

int mg_cuda_device_count(int *n, mg_error *err)
{
    *n = 0;
    int c = 0;
    cudaError_t e = cudaGetDeviceCount(&c);
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) {
        (void)cudaGetLastError(); /* clear the sticky-free error so later calls start clean */
        return 0;
    }
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        /* Other failures (no driver library, a broken install) also mean
         * "no usable GPU" to the caller, but say why. */
        mg_error_set(err, MG_ECUDA, "cudaGetDeviceCount: %s (%s)", cudaGetErrorName(e),
                     cudaGetErrorString(e));
        return 0;
    }
    *n = c;
    return 0;
}

int mg_cuda_device_info(int device, char *name, size_t name_len, size_t *free_bytes,
                        size_t *total_bytes, mg_error *err)
{
    cudaDeviceProp prop;
    MG_CUDA_CHECK(cudaGetDeviceProperties(&prop, device), err);
    if (name && name_len) {
        strncpy(name, prop.name, name_len - 1);
        name[name_len - 1] = '\0';
    }
    MG_CUDA_CHECK(cudaSetDevice(device), err);
    size_t f = 0, t = 0;
    MG_CUDA_CHECK(cudaMemGetInfo(&f, &t), err);
    if (free_bytes) *free_bytes = f;
    if (total_bytes) *total_bytes = t;
    return 0;
}

int mg__cuda_use(mg_cuda_ctx *c, mg_error *err)
{
    MG_CUDA_CHECK(cudaSetDevice(c->device), err);
    return 0;
}

int mg_cuda_ctx_new(int device, mg_cuda_ctx **out, mg_error *err)
{
    *out = NULL;
    int n = 0;
    mg_cuda_device_count(&n, NULL);
    if (device < 0 || device >= n)
        return mg_error_set(err, MG_EINVAL, "cuda: device %d does not exist (%d visible)", device,
                            n);
    mg_cuda_ctx *c = (mg_cuda_ctx *)calloc(1, sizeof *c);
    if (!c) return mg_error_set(err, MG_ENOMEM, "cuda: out of host memory");
    c->device = device;
    int rc = 0;
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        rc = mg__cuda_fail(err, "cudaStreamCreateWithFlags", __func__, __FILE__, __LINE__,
                           cudaGetErrorName(e), cudaGetErrorString(e));
        free(c);
        return rc;
    }
    cublasStatus_t s = cublasCreate(&c->blas);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetStream(c->blas, c->stream);
    /* fp32 GEMMs stay fp32: no TF32 shortcut, the parity tests compare with
     * the CPU's fp32 arithmetic. */
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH);
    if (s != CUBLAS_STATUS_SUCCESS) {
        rc = mg__cuda_fail(err, "cublasCreate", __func__, __FILE__, __LINE__,
                           cublasGetStatusName(s), cublasGetStatusString(s));
        mg_cuda_ctx_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void mg_cuda_ctx_free(mg_cuda_ctx *c)
{
    if (!c) return;
    cudaSetDevice(c->device);
    if (c->blas) cublasDestroy(c->blas);
    if (c->stream) {
        cudaStreamSynchronize(c->stream);
        cudaStreamDestroy(c->stream);
    }
    cudaFree(c->scratch);
    cudaFree(c->scratch2);
    free(c);
}

int mg_cuda_sync(mg_cuda_ctx *c, mg_error *err)
{
    MG_CUDA_CHECK(cudaStreamSynchronize(c->stream), err);
    return 0;
}

int mg__cuda_scratch(mg_cuda_ctx *c, void **buf, size_t *have, size_t bytes, mg_error *err)
{
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    if (*have >= bytes) return 0;
    /* The old buffer may still be in use by queued kernels. */
    MG_CUDA_CHECK(cudaStreamSynchronize(c->stream), err);
    MG_CUDA_CHECK(cudaFree(*buf), err);
    *buf = NULL;
    *have = 0;
    size_t want = bytes < ((size_t)1 << 20) ? ((size_t)1 << 20) : bytes;
    MG_CUDA_CHECK(cudaMalloc(buf, want), err);
    *have = want;
    return 0;
}

/* An allocation the device could not satisfy: MG_ENOMEM with what was free. */
static int alloc_failed(mg_cuda_ctx *c, size_t bytes, mg_error *err)
{
    (void)cudaGetLastError();
    size_t f = 0, t = 0;
    cudaMemGetInfo(&f, &t);
    return mg_error_set(err, MG_ENOMEM,
                        "cuda: cannot allocate %zu bytes on device %d (%zu of %zu free)", bytes,
                        c->device, f, t);
}

int mg_cuda_alloc(mg_cuda_ctx *c, size_t bytes, void **out, mg_error *err)
{
    *out = NULL;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    cudaError_t e = cudaMalloc(out, bytes ? bytes : 1);
    if (e == cudaErrorMemoryAllocation) return alloc_failed(c, bytes, err);
    MG_CUDA_CHECK(e, err);
    return 0;
}

void mg_cuda_dealloc(void *p)
{
    if (p) cudaFree(p);
}

int mg_cuda_upload(mg_cuda_ctx *c, void *dst, const void *src, size_t bytes, mg_error *err)
{
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    MG_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream), err);
    /* src is pageable host memory the caller may reuse at once. */
    MG_CUDA_CHECK(cudaStreamSynchronize(c->stream), err);
    return 0;
}

int mg_cuda_download(mg_cuda_ctx *c, void *dst, const void *src, size_t bytes, mg_error *err)
{
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    MG_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream), err);
    MG_CUDA_CHECK(cudaStreamSynchronize(c->stream), err);
    return 0;
}

int mg_cuda_copy(mg_cuda_ctx *c, void *dst, const void *src, size_t bytes, mg_error *err)
{
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    MG_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->stream), err);
    return 0;
}

int mg_cuda_copy_2d(mg_cuda_ctx *c, void *dst, size_t dst_pitch, const void *src, size_t src_pitch,
                    size_t width, size_t rows, mg_error *err)
{
    if (width == 0 || rows == 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    MG_CUDA_CHECK(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, rows,
                                    cudaMemcpyDeviceToDevice, c->stream),
                  err);
    return 0;
}

int mg_cuda_alloc_async(mg_cuda_ctx *c, size_t bytes, void **out, mg_error *err)
{
    *out = NULL;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    if (!c->pool_ready) {
        /* Keep freed blocks in the pool: by default it returns them to the
         * driver at every synchronisation, which costs a cudaMalloc again. */
        cudaMemPool_t pool;
        MG_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, c->device), err);
        uint64_t keep = UINT64_MAX;
        MG_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep), err);
        c->pool_ready = true;
    }
    cudaError_t e = cudaMallocAsync(out, bytes ? bytes : 1, c->stream);
    if (e == cudaErrorMemoryAllocation) return alloc_failed(c, bytes, err);
    MG_CUDA_CHECK(e, err);
    return 0;
}

void mg_cuda_free_async(mg_cuda_ctx *c, void *p)
{
    if (!p) return;
    cudaSetDevice(c->device);
    cudaFreeAsync(p, c->stream);
}

int mg_cuda_mem_info(mg_cuda_ctx *c, size_t *free_bytes, size_t *total_bytes, mg_error *err)
{
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    MG_CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes), err);
    return 0;
}

int mg_cuda_ctx_device(const mg_cuda_ctx *c)
{
    return c->device;
}

int mg_cuda_zero(mg_cuda_ctx *c, void *dst, size_t bytes, mg_error *err)
{
    if (bytes == 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    MG_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, c->stream), err);
    return 0;
}
