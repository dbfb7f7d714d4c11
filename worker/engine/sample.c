/* sample.c — Hugging Face's logits warpers and a counter-based RNG.
 *
 * generate() with do_sample builds TemperatureLogitsWarper (when T != 1),
 * TopKLogitsWarper (when top_k != 0) and TopPLogitsWarper (when top_p < 1),
 * in that order; each replaces removed scores with -inf. We reproduce their
 * filtering exactly (ties at the k-th value are kept; top-p sorts ascending,
 * cumsums the softmax and drops entries whose cumulative mass is <= 1 - p,
 * always keeping the largest). The draw itself uses our own RNG, so sampled
 * text matches HF's distribution, not its torch.multinomial stream.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

static uint64_t splitmix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double mg_rng_uniform(uint64_t seed, uint64_t task_key, uint32_t sample_index, uint32_t step)
{
    /* Each key passes through the full avalanche of the splitmix64
     * finaliser before the next is mixed in, so nearby keys (step 7 vs 8)
     * give independent draws. 53 random bits -> [0, 1). */
    uint64_t h = splitmix64(seed);
    h = splitmix64(h ^ task_key);
    h = splitmix64(h ^ ((uint64_t)sample_index << 32 | 0x5a17u));
    h = splitmix64(h ^ (uint64_t)step);
    return (double)(h >> 11) * 0x1.0p-53;
}

typedef struct {
    float v;
    int i;
} scored;

static int cmp_asc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->v < y->v) return -1;
    if (x->v > y->v) return 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The k-th largest of v[n] (1 <= k <= n) with a size-k min-heap: O(n log k),
 * instead of sorting a 256k vocabulary every step. */
static int kth_largest(const float *v, int n, int k, float *out)
{
    float *h = malloc(sizeof(float) * k);
    if (!h) return MG_ENOMEM;
    int m = 0;
    for (int i = 0; i < n; i++) {
        float x = v[i];
        if (m < k) {
            int c = m++;
            while (c > 0 && h[(c - 1) / 2] > x) {
                h[c] = h[(c - 1) / 2];
                c = (c - 1) / 2;
            }
            h[c] = x;
        } else if (x > h[0]) {
            int c = 0;
            for (;;) {
                int l = 2 * c + 1, r = l + 1, s = c;
                float sv = x;
                if (l < k && h[l] < sv) s = l, sv = h[l];
                if (r < k && h[r] < sv) s = r;
                if (s == c) break;
                h[c] = h[s];
                c = s;
            }
            h[c] = x;
        }
    }
    *out = h[0];
    free(h);
    return 0;
}

int mg_sampling_warp(const mg_sampling *s, float *scores, int n)
{
    if (s->greedy || n <= 0) return 0;
    if (s->temperature > 0 && s->temperature != 1.0f)
        for (int i = 0; i < n; i++) scores[i] = scores[i] / s->temperature;
    if (s->top_k > 0 && s->top_k < n) {
        float kth;
        if (kth_largest(scores, n, s->top_k, &kth) < 0) return MG_ENOMEM;
        for (int i = 0; i < n; i++)
            if (scores[i] < kth) scores[i] = -INFINITY;
    }
    if (s->top_p < 1.0f) {
        /* Entries already at -inf add nothing to the softmax and are removed
         * either way, so only the finite ones are sorted (after top-k that
         * is about k of them). */
        int nf = 0;
        for (int i = 0; i < n; i++)
            if (scores[i] != -INFINITY) nf++;
        if (nf == 0) return 0;
        scored *v = malloc(sizeof(scored) * nf);
        if (!v) return MG_ENOMEM;
        nf = 0;
        for (int i = 0; i < n; i++)
            if (scores[i] != -INFINITY) v[nf++] = (scored){scores[i], i};
        qsort(v, nf, sizeof(scored), cmp_asc);
        float mx = v[nf - 1].v;
        double sum = 0;
        for (int i = 0; i < nf; i++) sum += (double)expf(v[i].v - mx);
        /* torch's CPU cumsum accumulates in double and stores float. */
        float thresh = (float)(1.0 - (double)s->top_p);
        double cum = 0;
        for (int i = 0; i < nf - 1; i++) {
            cum += (double)(float)((double)expf(v[i].v - mx) / sum);
            if ((float)cum <= thresh) scores[v[i].i] = -INFINITY;
        }
        free(v);
    }
    return 0;
}

int32_t mg_sampling_pick(const mg_sampling *s, const float *scores, int n, double u)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (scores[i] > scores[best]) best = i;
    if (s->greedy) return best;
    float mx = scores[best];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += (double)expf(scores[i] - mx);
    double target = u * sum, cum = 0;
    int last = best;
    for (int i = 0; i < n; i++) {
        if (scores[i] == -INFINITY) continue;
        cum += (double)expf(scores[i] - mx);
        last = i;
        if (cum > target) return i;
    }
    return last;
}
