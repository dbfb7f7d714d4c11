/* mg_kernels_cuda.h — the CUDA kernels of the engine's GPU backend.
 *
 * The same ops as mg_kernels.h, on device memory, enqueued on the stream of a
 * context (one context per GPU and worker). Projections go through cuBLAS
 * (cublasGemmEx, fp32 accumulation); the rest are one .cu file per op.
 * Every function returns 0 or a negative MG_E* code (MG_ECUDA for CUDA and
 * cuBLAS failures, with the failing call, function, file, line and device in
 * err->msg); kernel launches are asynchronous, so an error inside a kernel
 * may surface at the next call that synchronises (mg_cuda_sync, downloads).
 * Memory is plain cudaMalloc, never managed memory.
 *
 * Numerics against the CPU references (tests/kernels/test_cuda_ops.c):
 * fp32 ops agree to summation-order rounding. For BF16/F16 weights the
 * activations are rounded to the weight dtype before cuBLAS multiplies them
 * (as a PyTorch model in that dtype does), so those matmuls agree with the
 * CPU path only to the 16-bit rounding of x (relative ~2^-9 for BF16). */
#ifndef MG_KERNELS_CUDA_H
#define MG_KERNELS_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
/* The .cu files are C++: give them C linkage for moegen's C headers, and
 * C++'s spelling of C11's _Noreturn (used by mg_error.h). */
#ifndef _Noreturn
#define _Noreturn [[noreturn]]
#endif
extern "C" {
#endif

#include "mg_error.h"
#include "mg_kernels.h"

/* Number of usable devices; 0 (and return 0) when there is no driver or no
 * device, which is not an error: callers fall back to the CPU. */
int mg_cuda_device_count(int *n, mg_error *err);
/* Name and memory of a device, for logs and benchmark reports. */
int mg_cuda_device_info(int device, char *name, size_t name_len, size_t *free_bytes,
                        size_t *total_bytes, mg_error *err);

/* A context: a device, a stream, a cuBLAS handle and the scratch buffers the
 * ops grow on demand. Not thread-safe; one per worker. */
typedef struct mg_cuda_ctx mg_cuda_ctx;
int mg_cuda_ctx_new(int device, mg_cuda_ctx **out, mg_error *err);
void mg_cuda_ctx_free(mg_cuda_ctx *c);
int mg_cuda_sync(mg_cuda_ctx *c, mg_error *err);

/* Device memory (cudaMalloc/cudaFree) and copies on the context's stream. */
int mg_cuda_alloc(mg_cuda_ctx *c, size_t bytes, void **out, mg_error *err);
void mg_cuda_dealloc(void *p);
int mg_cuda_upload(mg_cuda_ctx *c, void *dst, const void *src, size_t bytes, mg_error *err);
/* Synchronous: returns when the data is on the host. */
int mg_cuda_download(mg_cuda_ctx *c, void *dst, const void *src, size_t bytes, mg_error *err);
/* Stream-ordered allocation from the device's memory pool (no device-wide
 * synchronisation on free, unlike cudaFree): for buffers that come and go
 * while kernels run, such as per-request KV caches. Freed blocks stay in the
 * pool for the next allocation. Still plain device memory, never managed. */
int mg_cuda_alloc_async(mg_cuda_ctx *c, size_t bytes, void **out, mg_error *err);
void mg_cuda_free_async(mg_cuda_ctx *c, void *p);
/* Free and total bytes on the context's device (cudaMemGetInfo). */
int mg_cuda_mem_info(mg_cuda_ctx *c, size_t *free_bytes, size_t *total_bytes, mg_error *err);
/* The device index the context was made for. */
int mg_cuda_ctx_device(const mg_cuda_ctx *c);
/* dst[0, bytes) := 0, asynchronous on the context's stream. */
int mg_cuda_zero(mg_cuda_ctx *c, void *dst, size_t bytes, mg_error *err);
/* Device-to-device copy, asynchronous on the context's stream. */
int mg_cuda_copy(mg_cuda_ctx *c, void *dst, const void *src, size_t bytes, mg_error *err);

/* ---- ops (all pointers are device pointers unless said otherwise) ---------- */

/* y[n, m] = x[n, k] @ W[m, k]^T (+ y when accumulate); W is F32, F16 or BF16. */
int mg_cuda_matmul(mg_cuda_ctx *c, float *y, const float *x, const void *W, mg_dtype wt, int n,
                   int k, int m, bool accumulate, mg_error *err);

/* As mg_k_rmsnorm. */
int mg_cuda_rmsnorm(mg_cuda_ctx *c, float *y, const float *x, const void *w, mg_dtype wt, int n,
                    int d, float eps, bool add_one, mg_error *err);

/* As mg_k_rope_scaled: x [n_tokens, n_heads, head_dim] in place; inv_freq
 * [head_dim/2] and pos [n_tokens] on the device. */
int mg_cuda_rope(mg_cuda_ctx *c, float *x, int n_tokens, int n_heads, int head_dim,
                 const float *inv_freq, const int32_t *pos, float attn_scale, mg_error *err);

/* As mg_k_silu_mul / mg_k_gelu_tanh_mul; y may alias gate or up. */
int mg_cuda_silu_mul(mg_cuda_ctx *c, float *y, const float *gate, const float *up, size_t n,
                     mg_error *err);
int mg_cuda_gelu_tanh_mul(mg_cuda_ctx *c, float *y, const float *gate, const float *up, size_t n,
                          mg_error *err);

/* As mg_k_softmax: in place over each row of x[n, d]. */
int mg_cuda_softmax(mg_cuda_ctx *c, float *x, int n, int d, mg_error *err);

/* out[n, d] = table[ids[i]] * scale (Gemma scales by sqrt(hidden)); table is
 * [vocab, d] of dtype tt. An id outside [0, vocab) gives a zero row: callers
 * validate ids on the host, this only keeps the device from reading wild. */
int mg_cuda_embedding(mg_cuda_ctx *c, float *out, const void *table, mg_dtype tt, int vocab, int d,
                      const int32_t *ids, int n, float scale, mg_error *err);

/* Prefill: as mg_k_attention over one sequence's cache (no scratch needed;
 * the softmax is computed online, a tile of keys at a time). */
int mg_cuda_attention_prefill(mg_cuda_ctx *c, float *out, const float *q, const float *k,
                              const float *v, int n_q, int n_kv, int q_pos0, int n_heads,
                              int n_kv_heads, int head_dim, float scale, int window, mg_error *err);

/* Decode: one new query per sequence, each against its own cache.
 *   q, out  [n_seq, n_heads, head_dim]
 *   k_cache, v_cache  device arrays of n_seq device pointers, each cache
 *                     [>= n_kv[s], n_kv_heads, head_dim]
 *   n_kv    device array [n_seq]; the query of sequence s sits at n_kv[s]-1.
 * Both attention entry points take head_dim <= 512. */
int mg_cuda_attention_decode(mg_cuda_ctx *c, float *out, const float *q,
                             const float *const *k_cache, const float *const *v_cache,
                             const int32_t *n_kv, int n_seq, int n_heads, int n_kv_heads,
                             int head_dim, float scale, int window, mg_error *err);

/* Batched multi-LoRA, as mg_k_lora: experts[] is a host array whose A/B are
 * device pointers; gate [n, n_experts] is on the host (the engine decides the
 * routing there), so only the active (row, expert) pairs are uploaded. */
int mg_cuda_lora(mg_cuda_ctx *c, float *y, const float *x, int n, int in, int out,
                 const mg_k_lora_expert *experts, int n_experts, const float *gate, mg_error *err);

/* ---- sampling (rows of logits [n, vocab]; ids_out [n] on the device) ------- */

/* argmax per row, the lowest index on ties (torch.argmax). */
int mg_cuda_sample_greedy(mg_cuda_ctx *c, int32_t *ids_out, const float *logits, int n, int vocab,
                          mg_error *err);

/* Hugging Face's warpers in generate()'s order, in place on `logits`:
 * temperature (when != 1), top-k (when 0 < top_k < vocab; ties at the k-th
 * value kept), top-p (when < 1; ascending cumulative mass <= 1 - top_p
 * removed, the largest always kept); removed entries become -inf. Then one
 * draw per row by inverse CDF in index order with u[i] in [0, 1) (device
 * array) from the engine's counter-based generator, as the CPU path
 * (worker/engine/sample.c) draws. Sums are in double; their order differs
 * from the CPU's, so a draw within ~1e-15 of a boundary may differ. */
int mg_cuda_sample(mg_cuda_ctx *c, int32_t *ids_out, float *logits, int n, int vocab,
                   float temperature, int top_k, float top_p, const double *u, mg_error *err);

/* ---- glue for the engine's forward pass (elementwise.cu) ------------------- */

/* y[i] += x[i] for i < n (the residual adds). */
int mg_cuda_add(mg_cuda_ctx *c, float *y, const float *x, size_t n, mg_error *err);
/* y[n, d] += bias[d] on every row (bias fp32). */
int mg_cuda_add_bias(mg_cuda_ctx *c, float *y, const float *bias, int n, int d, mg_error *err);
/* dst[j] = src[idx[j]] for rows of d floats, j < n; idx [n] on the device. */
int mg_cuda_gather_rows(mg_cuda_ctx *c, float *dst, const float *src, const int32_t *idx, int n,
                        int d, mg_error *err);
/* KV-cache append for one layer: for each token t < n,
 *     k_base[t][layer * stride[t] + j] = k[t * kd + j]   (same for v), j < kd,
 * where k_base[t] points at the token's position in layer 0 of its row's
 * cache and stride[t] is that cache's floats per layer. All arrays device. */
int mg_cuda_kv_store(mg_cuda_ctx *c, float *const *k_base, float *const *v_base,
                     const int64_t *stride, int layer, const float *k, const float *v, int n,
                     int kd, mg_error *err);
/* DoRA (PEFT's LoraLayer with use_dora): for rows i < n with w[i] != 0,
 *     y[i, o] += w[i] * ((mn[o] - 1) * base[i, o] + mn[o] * u[i, o])
 * where base = W x (no bias), u = scaling * B A x, mn = magnitude / ||W +
 * scaling B A||_row. w [n] and mn [out] on the device. */
int mg_cuda_dora(mg_cuda_ctx *c, float *y, const float *base, const float *u, const float *mn,
                 const float *w, int n, int out, mg_error *err);

/* Copies `rows` rows of `width` bytes between pitched buffers (the KV cache
 * of one row into another with a different capacity), async on the stream. */
int mg_cuda_copy_2d(mg_cuda_ctx *c, void *dst, size_t dst_pitch, const void *src, size_t src_pitch,
                    size_t width, size_t rows, mg_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MG_KERNELS_CUDA_H */
