/* ops_ref.c — the scalar reference of every op, written to be read rather
 * than to be fast (one loop nest per formula, as llama2.c). The elementwise
 * ops follow the order of operations of transformers' PyTorch code so that
 * fp32 results agree with it to the last few ulps; each function names the
 * formula it mirrors. */
#include "cpu_internal.h"

#include <math.h>
#include <string.h>

/* Element j of a weight array of dtype t, as fp32. */
static inline float wget(const void *W, mg_dtype t, size_t j)
{
    switch (t) {
    case MG_DTYPE_F32:
        return ((const float *)W)[j];
    case MG_DTYPE_F16:
        return mg_f16_to_f32(((const uint16_t *)W)[j]);
    case MG_DTYPE_BF16:
        return mg_bf16_to_f32(((const uint16_t *)W)[j]);
    default:
        MG_ASSERT(!"weights must be F32, F16 or BF16");
    }
}

void mg_k_matmul_ref(float *y, const float *x, const void *W, mg_dtype wt, int n, int k, int m,
                     bool accumulate)
{
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * k;
        for (int j = 0; j < m; j++) {
            size_t row = (size_t)j * k;
            float s = 0.0f;
            for (int l = 0; l < k; l++) s += xi[l] * wget(W, wt, row + l);
            float *yo = &y[(size_t)i * m + j];
            *yo = accumulate ? *yo + s : s;
        }
    }
}

/* LlamaRMSNorm / GemmaRMSNorm: variance = x.pow(2).mean(-1); x * rsqrt(var +
 * eps); then * weight (Llama) or * (1 + weight) (Gemma). The mean is summed in
 * double so the result does not depend on summation order (torch sums in
 * fp32 with several partial sums; both are within an ulp of the exact mean). */
void mg_k_rmsnorm(float *y, const float *x, const void *w, mg_dtype wt, int n, int d, float eps,
                  bool add_one)
{
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d;
        float *yi = y + (size_t)i * d;
        double ss = 0.0;
        for (int j = 0; j < d; j++) ss += (double)xi[j] * xi[j];
        float var = (float)(ss / d);
        float r = 1.0f / sqrtf(var + eps);
        for (int j = 0; j < d; j++) {
            float wj = wget(w, wt, (size_t)j);
            float g = add_one ? 1.0f + wj : wj;
            yi[j] = (xi[j] * r) * g;
        }
    }
}

/* transformers' apply_rotary_pos_emb: freqs = pos * inv_freq (fp32),
 * emb = cat(freqs, freqs), q * cos + rotate_half(q) * sin, where
 * rotate_half(q) = cat(-q2, q1). */
void mg_k_rope_scaled(float *x, int n_tokens, int n_heads, int head_dim, const float *inv_freq,
                      const int32_t *pos, float attn_scale)
{
    int half = head_dim / 2;
    for (int t = 0; t < n_tokens; t++) {
        for (int i = 0; i < half; i++) {
            float f = (float)pos[t] * inv_freq[i];
            float c = cosf(f) * attn_scale, s = sinf(f) * attn_scale;
            for (int h = 0; h < n_heads; h++) {
                float *v = x + ((size_t)t * n_heads + h) * head_dim;
                float a = v[i], b = v[i + half];
                v[i] = a * c + (-b) * s;
                v[i + half] = b * c + a * s;
            }
        }
    }
}

void mg_k_rope(float *x, int n_tokens, int n_heads, int head_dim, const float *inv_freq,
               const int32_t *pos)
{
    mg_k_rope_scaled(x, n_tokens, n_heads, head_dim, inv_freq, pos, 1.0f);
}

/* nn.SiLU: x / (1 + exp(-x)); LlamaMLP: act(gate) * up. */
void mg_k_silu_mul(float *y, const float *gate, const float *up, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        y[i] = (g / (1.0f + expf(-g))) * up[i];
    }
}

/* gelu(x, approximate="tanh") as ATen's CPU kernel computes it:
 * kBeta = sqrt(2) * (2/sqrt(pi)) * 0.5, inner = kBeta * (x + 0.044715 * x^3),
 * 0.5 * x * (1 + tanh(inner)). */
void mg_k_gelu_tanh_mul(float *y, const float *gate, const float *up, size_t n)
{
    const float kBeta = (float)(M_SQRT2 * M_2_SQRTPI * 0.5);
    const float kKappa = 0.044715f;
    for (size_t i = 0; i < n; i++) {
        float x = gate[i];
        float cube = x * x * x;
        float inner = kBeta * (x + kKappa * cube);
        y[i] = (0.5f * x * (1.0f + tanhf(inner))) * up[i];
    }
}

void mg_k_softmax(float *x, int n, int d)
{
    for (int i = 0; i < n; i++) {
        float *r = x + (size_t)i * d;
        float mx = -INFINITY;
        for (int j = 0; j < d; j++) mx = r[j] > mx ? r[j] : mx;
        float sum = 0.0f;
        for (int j = 0; j < d; j++) {
            r[j] = expf(r[j] - mx);
            sum += r[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < d; j++) r[j] *= inv;
    }
}

/* Eager attention: softmax(q k^T * scale + causal/window mask) v for one
 * (query i, head h) row. Masked keys are skipped (exp(-inf) = 0 exactly). */
void mg__attention_row_scalar(const mg__attn_args *a, int i, int h, float *scratch)
{
    int group = a->n_heads / a->n_kv_heads;
    size_t kv_stride = (size_t)a->n_kv_heads * a->head_dim;
    const int hd = a->head_dim;
    int p = a->q_pos0 + i;
    int last = p < a->n_kv - 1 ? p : a->n_kv - 1;
    int first = (a->window > 0 && p - a->window + 1 > 0) ? p - a->window + 1 : 0;
    const float *qi = a->q + ((size_t)i * a->n_heads + h) * hd;
    float *o = a->out + ((size_t)i * a->n_heads + h) * hd;
    int kh = h / group;
    memset(o, 0, (size_t)hd * sizeof *o);
    if (first > last) return; /* nothing visible: a zero row */
    float mx = -INFINITY;
    for (int j = first; j <= last; j++) {
        const float *kj = a->k + (size_t)j * kv_stride + (size_t)kh * hd;
        float s = 0.0f;
        for (int d = 0; d < hd; d++) s += qi[d] * kj[d];
        s *= a->scale;
        scratch[j] = s;
        mx = s > mx ? s : mx;
    }
    float sum = 0.0f;
    for (int j = first; j <= last; j++) {
        scratch[j] = expf(scratch[j] - mx);
        sum += scratch[j];
    }
    float inv = 1.0f / sum;
    for (int j = first; j <= last; j++) {
        const float *vj = a->v + (size_t)j * kv_stride + (size_t)kh * hd;
        float pj = scratch[j] * inv;
        for (int d = 0; d < hd; d++) o[d] += pj * vj[d];
    }
}

void mg_k_attention_ref(float *out, const float *q, const float *k, const float *v, int n_q,
                        int n_kv, int q_pos0, int n_heads, int n_kv_heads, int head_dim,
                        float scale, int window, float *scratch)
{
    mg__attn_args a = {out,    q,       k,          v,        n_q,   n_kv,
                       q_pos0, n_heads, n_kv_heads, head_dim, scale, window};
    for (int i = 0; i < n_q; i++)
        for (int h = 0; h < n_heads; h++) mg__attention_row_scalar(&a, i, h, scratch);
}

void mg_k_lora_ref(float *y, const float *x, int n, int in, int out,
                   const mg_k_lora_expert *experts, int n_experts, const float *gate)
{
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in;
        float *yi = y + (size_t)i * out;
        for (int e = 0; e < n_experts; e++) {
            const mg_k_lora_expert *ex = &experts[e];
            float g = gate[(size_t)i * n_experts + e];
            if (g == 0.0f || !ex->A || !ex->B || ex->r <= 0) continue;
            float s = g * ex->scaling;
            for (int o = 0; o < out; o++) {
                float acc = 0.0f;
                for (int q = 0; q < ex->r; q++) {
                    float t = 0.0f;
                    for (int l = 0; l < in; l++)
                        t += xi[l] * wget(ex->A, ex->dt, (size_t)q * in + l);
                    acc += wget(ex->B, ex->dt, (size_t)o * ex->r + q) * t;
                }
                yi[o] += acc * s;
            }
        }
    }
}
