/* rope.cu — rotate_half rotary embedding in place, one thread per (token,
 * head, pair). Products and sums use the _rn intrinsics so nvcc does not
 * fuse them into FMAs: the result then rounds as transformers' q * cos +
 * rotate_half(q) * sin does, term by term. */
#include "cuda_internal.cuh"

__global__ void rope_k(float *x, int n_tokens, int n_heads, int head_dim, const float *inv_freq,
                       const int32_t *pos, float attn_scale)
{
    int half = head_dim / 2;
    size_t total = (size_t)n_tokens * n_heads * half;
    for (size_t g = blockIdx.x * (size_t)blockDim.x + threadIdx.x; g < total;
         g += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(g % half);
        size_t th = g / half; /* token * n_heads + head */
        int t = (int)(th / n_heads);
        float f = __fmul_rn((float)pos[t], inv_freq[i]);
        float cs = __fmul_rn(cosf(f), attn_scale), sn = __fmul_rn(sinf(f), attn_scale);
        float *v = x + th * head_dim;
        float a = v[i], b = v[i + half];
        v[i] = __fadd_rn(__fmul_rn(a, cs), __fmul_rn(-b, sn));
        v[i + half] = __fadd_rn(__fmul_rn(b, cs), __fmul_rn(a, sn));
    }
}

int mg_cuda_rope(mg_cuda_ctx *c, float *x, int n_tokens, int n_heads, int head_dim,
                 const float *inv_freq, const int32_t *pos, float attn_scale, mg_error *err)
{
    size_t total = (size_t)n_tokens * n_heads * (head_dim / 2);
    if (total == 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    size_t blocks = (total + 255) / 256;
    rope_k<<<(unsigned)(blocks > 65535 ? 65535 : blocks), 256, 0, c->stream>>>(
        x, n_tokens, n_heads, head_dim, inv_freq, pos, attn_scale);
    MG_CUDA_LAUNCHED(err);
    return 0;
}
