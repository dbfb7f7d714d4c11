/* attention_avx2.c — one (query, head) row of causal attention with AVX2/FMA:
 * the q.k dot products and the p * v accumulation 8 lanes at a time (two
 * accumulators for the dot to cover the FMA latency), the softmax's expf
 * scalar as in the reference, so only summation order differs from it. */
#include "cpu_internal.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float dot(const float *a, const float *b, int n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int d = 0;
    for (; d + 16 <= n; d += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), s1);
    }
    if (d + 8 <= n) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
        d += 8;
    }
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; d < n; d++) s += a[d] * b[d];
    return s;
}

void mg__attention_row_avx2(const mg__attn_args *a, int i, int h, float *scratch)
{
    const int hd = a->head_dim;
    size_t kv_stride = (size_t)a->n_kv_heads * hd;
    int p = a->q_pos0 + i;
    int last = p < a->n_kv - 1 ? p : a->n_kv - 1;
    int first = (a->window > 0 && p - a->window + 1 > 0) ? p - a->window + 1 : 0;
    const float *qi = a->q + ((size_t)i * a->n_heads + h) * hd;
    float *o = a->out + ((size_t)i * a->n_heads + h) * hd;
    size_t koff = (size_t)(h / (a->n_heads / a->n_kv_heads)) * hd;
    memset(o, 0, (size_t)hd * sizeof *o);
    if (first > last) return;
    float mx = -INFINITY;
    for (int j = first; j <= last; j++) {
        float s = dot(qi, a->k + (size_t)j * kv_stride + koff, hd) * a->scale;
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
        const float *vj = a->v + (size_t)j * kv_stride + koff;
        float pj = scratch[j] * inv;
        __m256 pv = _mm256_set1_ps(pj);
        int d = 0;
        for (; d + 8 <= hd; d += 8)
            _mm256_storeu_ps(o + d,
                             _mm256_fmadd_ps(pv, _mm256_loadu_ps(vj + d), _mm256_loadu_ps(o + d)));
        for (; d < hd; d++) o[d] += pj * vj[d];
    }
}
