/* attn_common.cuh — one attention row (one query, one head) for a thread
 * block, shared by the prefill and decode kernels. Keys are scored a tile at
 * a time (a warp per key, lanes across head_dim) and folded into running
 * max / sum / output with the online-softmax rescaling of FlashAttention, so
 * no score buffer of the cache's length is needed. Each thread owns output
 * dims tid, tid + blockDim.x, ... (at most MG_ATTN_DPT of them). */
#ifndef MG_ATTN_COMMON_CUH
#define MG_ATTN_COMMON_CUH

#include "cuda_internal.cuh"

#include <math.h>

#define MG_ATTN_THREADS      128
#define MG_ATTN_TILE         256
#define MG_ATTN_MAX_HEAD_DIM 512
#define MG_ATTN_DPT          (MG_ATTN_MAX_HEAD_DIM / MG_ATTN_THREADS)

/* k and v point at the first position of this kv head; consecutive positions
 * are kv_stride floats apart. Keys [first, last] are visible. */
__device__ __forceinline__ void mg_attn_row(float *out, const float *q, const float *k,
                                            const float *v, size_t kv_stride, int first, int last,
                                            int head_dim, float scale)
{
    __shared__ float qs[MG_ATTN_MAX_HEAD_DIM];
    __shared__ float sc[MG_ATTN_TILE];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nwarps = blockDim.x >> 5;
    for (int d = tid; d < head_dim; d += blockDim.x) qs[d] = q[d];
    float acc[MG_ATTN_DPT];
    for (int t = 0; t < MG_ATTN_DPT; t++) acc[t] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    __syncthreads();
    for (int j0 = first; j0 <= last; j0 += MG_ATTN_TILE) {
        int nt = last - j0 + 1 < MG_ATTN_TILE ? last - j0 + 1 : MG_ATTN_TILE;
        for (int jj = warp; jj < nt; jj += nwarps) {
            const float *kj = k + (size_t)(j0 + jj) * kv_stride;
            float s = 0.0f;
            for (int d = lane; d < head_dim; d += 32) s += qs[d] * kj[d];
            s = mg_warp_sum(s);
            if (lane == 0) sc[jj] = s * scale;
        }
        __syncthreads();
        float tmax = -INFINITY;
        for (int jj = tid; jj < nt; jj += blockDim.x) tmax = fmaxf(tmax, sc[jj]);
        tmax = mg_block_max(tmax, -INFINITY);
        float m_new = fmaxf(m, tmax);
        float corr = expf(m - m_new); /* 0 on the first tile: m = -inf */
        l *= corr;
        for (int t = 0; t < MG_ATTN_DPT; t++) acc[t] *= corr;
        /* every thread walks the tile's keys for its own output dims */
        for (int jj = 0; jj < nt; jj++) {
            float p = expf(sc[jj] - m_new);
            l += p;
            const float *vj = v + (size_t)(j0 + jj) * kv_stride;
            for (int t = 0; t < MG_ATTN_DPT; t++) {
                int d = tid + t * blockDim.x;
                if (d < head_dim) acc[t] += p * vj[d];
            }
        }
        m = m_new;
        __syncthreads(); /* sc is rewritten by the next tile */
    }
    float inv = l > 0.0f ? 1.0f / l : 0.0f; /* nothing visible: a zero row, as the CPU */
    for (int t = 0; t < MG_ATTN_DPT; t++) {
        int d = tid + t * blockDim.x;
        if (d < head_dim) out[d] = acc[t] * inv;
    }
}

#endif
