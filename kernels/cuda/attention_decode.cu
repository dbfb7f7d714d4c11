/* attention_decode.cu — one decode step for a batch of sequences, each new
 * query against its own KV cache (continuous batching: caches of different
 * lengths): a block per (sequence, head). */
#include "attn_common.cuh"

__global__ void attn_decode_k(float *out, const float *q, const float *const *k_cache,
                              const float *const *v_cache, const int32_t *n_kv, int n_heads,
                              int n_kv_heads, int head_dim, float scale, int window)
{
    int s = blockIdx.x, h = blockIdx.y;
    int len = n_kv[s];
    int p = len - 1;
    int first = (window > 0 && p - window + 1 > 0) ? p - window + 1 : 0;
    int kh = h / (n_heads / n_kv_heads);
    size_t stride = (size_t)n_kv_heads * head_dim;
    mg_attn_row(out + ((size_t)s * n_heads + h) * head_dim,
                q + ((size_t)s * n_heads + h) * head_dim, k_cache[s] + (size_t)kh * head_dim,
                v_cache[s] + (size_t)kh * head_dim, stride, first, p, head_dim, scale);
}

int mg_cuda_attention_decode(mg_cuda_ctx *c, float *out, const float *q,
                             const float *const *k_cache, const float *const *v_cache,
                             const int32_t *n_kv, int n_seq, int n_heads, int n_kv_heads,
                             int head_dim, float scale, int window, mg_error *err)
{
    if (head_dim <= 0 || head_dim > MG_ATTN_MAX_HEAD_DIM || n_kv_heads <= 0 ||
        n_heads % n_kv_heads != 0)
        return mg_error_set(err, MG_EUNSUPPORTED,
                            "cuda attention: head_dim %d, %d heads over %d kv heads", head_dim,
                            n_heads, n_kv_heads);
    if (n_seq <= 0 || n_heads <= 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    attn_decode_k<<<dim3((unsigned)n_seq, (unsigned)n_heads), MG_ATTN_THREADS, 0, c->stream>>>(
        out, q, k_cache, v_cache, n_kv, n_heads, n_kv_heads, head_dim, scale, window);
    MG_CUDA_LAUNCHED(err);
    return 0;
}
