/* lora.cu — batched multi-LoRA with per-row experts (the BGMV scheme of
 * Punica / S-LoRA): the host lists the active (row, expert) pairs in row then
 * expert order; "shrink" computes t = A_e x_row for every pair (a block per
 * pair and rank, reducing over `in`), and "expand" adds, for every (row, o),
 * each pair's (B_e t)[o] * gate * scaling in expert order — the order PEFT
 * adds adapters, and the CPU's mg_k_lora. */
#include "cuda_internal.cuh"

#include <stdlib.h>

typedef struct lora_pair {
    const void *A, *B;
    int row, r, dt, toff;
    float s;
} lora_pair;

__device__ __forceinline__ float load_rt(const void *p, size_t i, int dt)
{
    if (dt == MG_DTYPE_F32) return mg_load<MG_DTYPE_F32>(p, i);
    if (dt == MG_DTYPE_F16) return mg_load<MG_DTYPE_F16>(p, i);
    return mg_load<MG_DTYPE_BF16>(p, i);
}

__global__ void lora_shrink_k(float *t, const float *x, const lora_pair *pairs, int in)
{
    const lora_pair pr = pairs[blockIdx.x];
    int q = blockIdx.y;
    if (q >= pr.r) return; /* uniform per block: safe before the reduction */
    const float *xr = x + (size_t)pr.row * in;
    float s = 0.0f;
    for (int l = threadIdx.x; l < in; l += blockDim.x)
        s += xr[l] * load_rt(pr.A, (size_t)q * in + l, pr.dt);
    s = mg_block_sum(s);
    if (threadIdx.x == 0) t[pr.toff + q] = s;
}

__global__ void lora_expand_k(float *y, const float *t, const lora_pair *pairs,
                              const int *row_start, int n_rows, int out)
{
    int row = blockIdx.y;
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= n_rows || o >= out) return;
    float yo = y[(size_t)row * out + o];
    for (int p = row_start[row]; p < row_start[row + 1]; p++) {
        const lora_pair pr = pairs[p];
        float u = 0.0f;
        for (int q = 0; q < pr.r; q++)
            u += load_rt(pr.B, (size_t)o * pr.r + q, pr.dt) * t[pr.toff + q];
        yo = __fadd_rn(yo, __fmul_rn(u, pr.s));
    }
    y[(size_t)row * out + o] = yo;
}

int mg_cuda_lora(mg_cuda_ctx *c, float *y, const float *x, int n, int in, int out,
                 const mg_k_lora_expert *experts, int n_experts, const float *gate, mg_error *err)
{
    if (n <= 0 || out <= 0) return 0;
    for (int e = 0; e < n_experts; e++)
        if (experts[e].A && experts[e].B && experts[e].r > 0 && !mg__float_dtype(experts[e].dt))
            return mg_error_set(err, MG_EUNSUPPORTED, "cuda lora: expert %d has dtype %s", e,
                                mg_dtype_name(experts[e].dt));
    /* Host side: the active pairs, and where each row's pairs start. */
    size_t cap = (size_t)n * (n_experts > 0 ? n_experts : 1);
    lora_pair *pairs = (lora_pair *)malloc(cap * sizeof *pairs);
    int *row_start = (int *)malloc(((size_t)n + 1) * sizeof *row_start);
    if (!pairs || !row_start) {
        free(pairs);
        free(row_start);
        return mg_error_set(err, MG_ENOMEM, "cuda lora: out of host memory");
    }
    int np = 0, toff = 0, rmax = 0;
    for (int i = 0; i < n; i++) {
        row_start[i] = np;
        for (int e = 0; e < n_experts; e++) {
            const mg_k_lora_expert *ex = &experts[e];
            float g = gate[(size_t)i * n_experts + e];
            if (g == 0.0f || !ex->A || !ex->B || ex->r <= 0) continue;
            pairs[np++] = (lora_pair){ex->A, ex->B, i, ex->r, (int)ex->dt, toff, g * ex->scaling};
            toff += ex->r;
            if (ex->r > rmax) rmax = ex->r;
        }
    }
    row_start[n] = np;
    int rc = 0;
    if (np == 0) goto done;
    {
        size_t pb = (size_t)np * sizeof(lora_pair), rb = ((size_t)n + 1) * sizeof(int);
        size_t tb = (size_t)toff * sizeof(float);
        size_t need = pb + rb + tb + 64;
        rc = mg__cuda_scratch(c, &c->scratch2, &c->scratch2_bytes, need, err);
        if (rc < 0) goto done;
        char *base = (char *)c->scratch2;
        lora_pair *d_pairs = (lora_pair *)base;
        int *d_rows = (int *)(base + pb);
        float *d_t = (float *)(base + ((pb + rb + 15) & ~(size_t)15));
        cudaError_t e = cudaMemcpyAsync(d_pairs, pairs, pb, cudaMemcpyHostToDevice, c->stream);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(d_rows, row_start, rb, cudaMemcpyHostToDevice, c->stream);
        /* pageable sources: the copies have been staged when these return */
        if (e != cudaSuccess) {
            rc = mg__cuda_fail(err, "cudaMemcpyAsync", __func__, __FILE__, __LINE__,
                               cudaGetErrorName(e), cudaGetErrorString(e));
            goto done;
        }
        lora_shrink_k<<<dim3((unsigned)np, (unsigned)rmax), 128, 0, c->stream>>>(d_t, x, d_pairs,
                                                                                 in);
        lora_expand_k<<<dim3((unsigned)((out + 127) / 128), (unsigned)n), 128, 0, c->stream>>>(
            y, d_t, d_pairs, d_rows, n, out);
        e = cudaGetLastError();
        if (e != cudaSuccess)
            rc = mg__cuda_fail(err, "lora kernels", __func__, __FILE__, __LINE__,
                               cudaGetErrorName(e), cudaGetErrorString(e));
    }
done:
    free(pairs);
    free(row_start);
    return rc;
}
