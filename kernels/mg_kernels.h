/* mg_kernels.h — the numeric kernels the engine is made of.
 *
 * Every op has a plain scalar reference (`*_ref`, reads like llama2.c's
 * matmul) and optimized versions (AVX2/FMA on the CPU, CUDA in kernels/cuda)
 * picked at run time from the detected CPU features. tests/kernels checks
 * every optimized op against its reference over odd shapes, as ggml's
 * test-backend-ops does. Arithmetic is fp32; weights may be F32, F16 or BF16
 * and are converted inside the loops, so memory traffic follows the file.
 *
 * Shapes are row-major; a Linear weight W is [out, in] as PyTorch stores it.
 * All pointers are caller-owned; nothing here allocates except mg_kpool_new.
 */
#ifndef MG_KERNELS_H
#define MG_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_error.h"

/* ---- dtypes ------------------------------------------------------------------ */

typedef enum mg_dtype {
    MG_DTYPE_F32,
    MG_DTYPE_F16,
    MG_DTYPE_BF16,
    MG_DTYPE_F64,
    MG_DTYPE_I64,
    MG_DTYPE_I32,
    MG_DTYPE_I16,
    MG_DTYPE_I8,
    MG_DTYPE_U8,
    MG_DTYPE_BOOL,
    MG_DTYPE_COUNT
} mg_dtype;

size_t mg_dtype_size(mg_dtype t);
const char *mg_dtype_name(mg_dtype t); /* "F32", "BF16", ... as safetensors spells them */

float mg_bf16_to_f32(uint16_t h);
uint16_t mg_f32_to_bf16(float f); /* round to nearest even, as torch does */
float mg_f16_to_f32(uint16_t h);
uint16_t mg_f32_to_f16(float f); /* round to nearest even */
/* Converts n elements of `src` (dtype t) to fp32. */
void mg_k_to_f32(float *dst, const void *src, mg_dtype t, size_t n);

/* ---- thread pool --------------------------------------------------------------- */

/* A fixed set of threads that split the rows of a kernel. One pool per engine;
 * not shared between engines. n_threads 0 = all cores. */
typedef struct mg_kpool mg_kpool;
int mg_kpool_new(int n_threads, mg_kpool **out, mg_error *err);
void mg_kpool_free(mg_kpool *p);
int mg_kpool_size(const mg_kpool *p);
/* Runs fn(i, arg) for i in [0, n) across the pool and waits for all. Safe to
 * call from inside an item (runs inline) and from several threads at once
 * (one dispatches, the others run inline). */
void mg_kpool_run(mg_kpool *p, int n, void (*fn)(int i, void *arg), void *arg);

/* ---- memory bandwidth ----------------------------------------------------------- */

/* The machine's memory bandwidth in GB/s through this pool, best of `reps`:
 * copy (2 arrays moved), triad (3) and a read-only sweep (1), over arrays of
 * `array_bytes` each (make them far larger than the last-level cache). The
 * read figure is the bound a weight-streaming decode step can reach; both
 * benchmarks report it, so there is one way of measuring it. */
typedef struct mg_k_membw_result {
    double copy_gbs, triad_gbs, read_gbs;
} mg_k_membw_result;
int mg_k_membw(mg_kpool *pool, size_t array_bytes, int reps, mg_k_membw_result *out, mg_error *err);

/* The fp32 arithmetic ceiling in GFLOP/s through this pool: independent
 * 8-wide FMAs in registers on every thread, best of 5 (~50 ms each). -1 when
 * only the portable kernels run (no AVX2/FMA, or forced scalar). */
double mg_k_peak_gflops(mg_kpool *pool);

/* ---- ops ------------------------------------------------------------------------ */

/* y[n, m] = x[n, k] @ W[m, k]^T  (+ y when accumulate). pool may be NULL.
 * Runs the AVX2/FMA/F16C kernel when the CPU has it (one W row at a time
 * for n <= 5, 4x3 register tiles otherwise; weights widened in registers), else a portable
 * one; rows of W are split over the pool when the product is big enough to
 * pay for waking it. Agrees with _ref up to summation order. */
void mg_k_matmul(mg_kpool *pool, float *y, const float *x, const void *W, mg_dtype wt, int n, int k,
                 int m, bool accumulate);
void mg_k_matmul_ref(float *y, const float *x, const void *W, mg_dtype wt, int n, int k, int m,
                     bool accumulate);

/* Several matmuls over the same x[n, k] in one parallel run: ops[o].y[n, m_o]
 * = x @ ops[o].W^T. The projections that read one input (q, k and v; gate and
 * up) then cost one wake-up and one wait of the pool instead of one each, and
 * each thread streams one long stretch of weights. Each op's result is
 * exactly what mg_k_matmul gives for it alone. At most MG_K_MM_MULTI ops. */
#define MG_K_MM_MULTI 4
typedef struct mg_k_mm_op {
    float *y;
    const void *W;
    mg_dtype wt;
    int m;
} mg_k_mm_op;
void mg_k_matmul_multi(mg_kpool *pool, const float *x, int n, int k, const mg_k_mm_op *ops,
                       int n_ops);

/* RMSNorm per row of x[n, d]: y = x / sqrt(mean(x^2) + eps) * (w or 1 + w).
 * As transformers: the normalisation is computed in fp32, then multiplied. */
void mg_k_rmsnorm(float *y, const float *x, const void *w, mg_dtype wt, int n, int d, float eps,
                  bool add_one);

/* Rotary embedding in place on x[n_tokens, n_heads, head_dim], the
 * rotate_half convention of transformers (pairs i and i + head_dim/2).
 * inv_freq[head_dim/2]; pos[n_tokens]. */
void mg_k_rope(float *x, int n_tokens, int n_heads, int head_dim, const float *inv_freq,
               const int32_t *pos);

/* y[n, d] = act(gate[n, d]) * up[n, d]; act is SiLU or tanh-approximated GELU.
 * y may be gate or up (elementwise, in place). */
void mg_k_silu_mul(float *y, const float *gate, const float *up, size_t n);
void mg_k_gelu_tanh_mul(float *y, const float *gate, const float *up, size_t n);

/* In-place softmax over each row of x[n, d]. */
void mg_k_softmax(float *x, int n, int d);

/* Causal attention of n_q new query tokens against a KV cache.
 *   q   [n_q, n_heads, head_dim]         (already rotated)
 *   k,v [n_kv, n_kv_heads, head_dim]     the cache, positions 0..n_kv-1
 *   out [n_q, n_heads, head_dim]
 * Query i sits at position q_pos0 + i and sees keys 0..q_pos0+i (and only the
 * last `window` of them when window > 0). scale = 1/sqrt(head_dim) usually. */
void mg_k_attention(float *out, const float *q, const float *k, const float *v, int n_q, int n_kv,
                    int q_pos0, int n_heads, int n_kv_heads, int head_dim, float scale, int window,
                    float *scratch /* [n_kv] */);
/* The scalar twin (mg_k_attention picks AVX2 when the CPU has it). */
void mg_k_attention_ref(float *out, const float *q, const float *k, const float *v, int n_q,
                        int n_kv, int q_pos0, int n_heads, int n_kv_heads, int head_dim,
                        float scale, int window, float *scratch /* [n_kv] */);
/* mg_k_attention with the (query, head) rows split across the pool; scratch
 * holds mg_kpool_size(pool) * n_kv floats (one score row per thread). */
void mg_k_attention_pool(mg_kpool *pool, float *out, const float *q, const float *k, const float *v,
                         int n_q, int n_kv, int q_pos0, int n_heads, int n_kv_heads, int head_dim,
                         float scale, int window, float *scratch);

/* Same as mg_k_rope with cos and sin multiplied by `attn_scale` before use, as
 * transformers does for the rope_scaling variants that return an attention
 * factor (yarn, longrope); attn_scale 1 is exactly mg_k_rope. */
void mg_k_rope_scaled(float *x, int n_tokens, int n_heads, int head_dim, const float *inv_freq,
                      const int32_t *pos, float attn_scale);

/* ---- batched multi-LoRA (BGMV-style) ----------------------------------------------- */

/* One LoRA expert of one target module: A [r, in], B [out, r], both of dtype
 * `dt`; r may differ between experts. A NULL A or B, or r == 0, is a zero
 * delta (an expert that was never trained). */
typedef struct mg_k_lora_expert {
    const void *A;
    const void *B;
    mg_dtype dt;
    int r;
    float scaling; /* lora_alpha / r (or alpha / sqrt(r) for rsLoRA) */
} mg_k_lora_expert;

/* For each row i of x[n, in] and each expert e in order 0..n_experts-1 with
 * gate[i * n_experts + e] != 0:
 *     y[i] += (B_e (A_e x[i])) * (gate[i][e] * scaling_e)
 * as PEFT adds each active adapter's delta to the base output in turn, so
 * every row of a batch may use its own expert(s) (zero, one-hot or mixed).
 * Rows that share an expert are gathered and run through mg_k_matmul
 * together (the BGMV/SGMV idea of Punica and S-LoRA). `scratch` holds
 * mg_k_lora_scratch_floats(...) floats. pool may be NULL. */
size_t mg_k_lora_scratch_floats(int n, int in, int out, const mg_k_lora_expert *experts,
                                int n_experts);
void mg_k_lora(mg_kpool *pool, float *y, const float *x, int n, int in, int out,
               const mg_k_lora_expert *experts, int n_experts, const float *gate, float *scratch);
/* The scalar twin: same contract, no scratch, row by row. */
void mg_k_lora_ref(float *y, const float *x, int n, int in, int out,
                   const mg_k_lora_expert *experts, int n_experts, const float *gate);

/* ---- CPU features ---------------------------------------------------------------------- */

/* The instruction set the optimized CPU kernels use on this machine: "avx2"
 * (AVX2 + FMA + F16C detected at run time) or "scalar". */
const char *mg_k_cpu_isa(void);
/* Forces the scalar path (force = true) or restores detection; for tests and
 * benchmarks comparing the two. Not thread-safe against running kernels. */
void mg_k_cpu_force_scalar(bool force);

#endif /* MG_KERNELS_H */
