/* attention_prefill.cu — causal attention of a chunk of new queries against
 * one sequence's KV cache (GQA/MQA, optional sliding window): a block per
 * (query, head). */
#include "attn_common.cuh"

__global__ void attn_prefill_k(float *out, const float *q, const float *k, const float *v, int n_kv,
                               int q_pos0, int n_heads, int n_kv_heads, int head_dim, float scale,
                               int window)
{
    int i = blockIdx.x, h = blockIdx.y;
    int p = q_pos0 + i;
    int last = p < n_kv - 1 ? p : n_kv - 1;
    int first = (window > 0 && p - window + 1 > 0) ? p - window + 1 : 0;
    int kh = h / (n_heads / n_kv_heads);
    size_t stride = (size_t)n_kv_heads * head_dim;
    mg_attn_row(out + ((size_t)i * n_heads + h) * head_dim,
                q + ((size_t)i * n_heads + h) * head_dim, k + (size_t)kh * head_dim,
                v + (size_t)kh * head_dim, stride, first, last, head_dim, scale);
}

int mg_cuda_attention_prefill(mg_cuda_ctx *c, float *out, const float *q, const float *k,
                              const float *v, int n_q, int n_kv, int q_pos0, int n_heads,
                              int n_kv_heads, int head_dim, float scale, int window, mg_error *err)
{
    if (head_dim <= 0 || head_dim > MG_ATTN_MAX_HEAD_DIM || n_kv_heads <= 0 ||
        n_heads % n_kv_heads != 0)
        return mg_error_set(err, MG_EUNSUPPORTED,
                            "cuda attention: head_dim %d, %d heads over %d kv heads", head_dim,
                            n_heads, n_kv_heads);
    if (n_q <= 0 || n_heads <= 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    attn_prefill_k<<<dim3((unsigned)n_q, (unsigned)n_heads), MG_ATTN_THREADS, 0, c->stream>>>(
        out, q, k, v, n_kv, q_pos0, n_heads, n_kv_heads, head_dim, scale, window);
    MG_CUDA_LAUNCHED(err);
    return 0;
}
