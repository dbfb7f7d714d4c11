/* embedding.cu — token embedding lookup, widened to fp32 and scaled (Gemma
 * multiplies by sqrt(hidden_size); others pass 1). */
#include "cuda_internal.cuh"

template <int DT>
__global__ void embedding_k(float *out, const void *table, int vocab, int d, const int32_t *ids,
                            int n, float scale)
{
    size_t total = (size_t)n * d;
    for (size_t g = blockIdx.x * (size_t)blockDim.x + threadIdx.x; g < total;
         g += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(g / d), j = (int)(g % d);
        int32_t id = ids[i];
        out[g] = (id >= 0 && id < vocab) ? __fmul_rn(mg_load<DT>(table, (size_t)id * d + j), scale)
                                         : 0.0f;
    }
}

int mg_cuda_embedding(mg_cuda_ctx *c, float *out, const void *table, mg_dtype tt, int vocab, int d,
                      const int32_t *ids, int n, float scale, mg_error *err)
{
    size_t total = (size_t)n * d;
    if (total == 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    size_t b = (total + 255) / 256;
    unsigned blocks = (unsigned)(b > 65535 ? 65535 : b);
    switch (tt) {
    case MG_DTYPE_F32:
        embedding_k<MG_DTYPE_F32>
            <<<blocks, 256, 0, c->stream>>>(out, table, vocab, d, ids, n, scale);
        break;
    case MG_DTYPE_F16:
        embedding_k<MG_DTYPE_F16>
            <<<blocks, 256, 0, c->stream>>>(out, table, vocab, d, ids, n, scale);
        break;
    case MG_DTYPE_BF16:
        embedding_k<MG_DTYPE_BF16>
            <<<blocks, 256, 0, c->stream>>>(out, table, vocab, d, ids, n, scale);
        break;
    default:
        return mg_error_set(err, MG_EUNSUPPORTED, "cuda embedding: table dtype %s",
                            mg_dtype_name(tt));
    }
    MG_CUDA_LAUNCHED(err);
    return 0;
}
