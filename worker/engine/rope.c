/* rope.c — RoPE inverse frequencies exactly as transformers' rope init
 * functions compute them: torch float32 arithmetic on arange(0, dim, 2) cast
 * from int64, with Python scalars applied in float32. */
#include <math.h>

#include "internal.h"

static void default_inv_freq(float base, int dim, float *inv_freq)
{
    for (int i = 0; i < dim / 2; i++) {
        float e = (float)(2 * i) / (float)dim;
        inv_freq[i] = 1.0f / powf(base, e);
    }
}

void mg__rope_inv_freq(const mg_model_config *c, int seq_len, float *inv_freq)
{
    const mg_rope_scaling *rs = &c->rope_scaling;
    int dim = c->head_dim;
    float base = c->rope_theta;
    switch (rs->type) {
    case MG_ROPE_DEFAULT:
        default_inv_freq(base, dim, inv_freq);
        break;
    case MG_ROPE_LINEAR:
        default_inv_freq(base, dim, inv_freq);
        for (int i = 0; i < dim / 2; i++) inv_freq[i] /= rs->factor;
        break;
    case MG_ROPE_DYNAMIC: {
        /* transformers grows the base only past max_position_embeddings. */
        int maxp = c->max_position_embeddings;
        if (seq_len > maxp && maxp > 0) {
            float f = rs->factor;
            float g = (f * (float)seq_len / (float)maxp) - (f - 1.0f);
            base = base * powf(g, (float)dim / (float)(dim - 2));
        }
        default_inv_freq(base, dim, inv_freq);
        break;
    }
    case MG_ROPE_LLAMA3: {
        default_inv_freq(base, dim, inv_freq);
        float factor = rs->factor, lo = rs->low_freq_factor, hi = rs->high_freq_factor;
        float old_ctx = (float)rs->original_max_position_embeddings;
        float low_wavelen = old_ctx / lo, high_wavelen = old_ctx / hi;
        for (int i = 0; i < dim / 2; i++) {
            float f = inv_freq[i];
            float wavelen = (float)(2.0 * M_PI) / f;
            float scaled = wavelen > low_wavelen ? f / factor : f;
            float smooth = (old_ctx / wavelen - lo) / (hi - lo);
            float smoothed = (1.0f - smooth) * scaled / factor + smooth * scaled;
            bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
            inv_freq[i] = medium ? smoothed : scaled;
        }
        break;
    }
    }
}
