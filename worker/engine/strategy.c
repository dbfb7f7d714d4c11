/* strategy.c — routing strategy strings, whether a model can run them, and
 * X-LoRA's classifier scalings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define XLORA_MAX_EXPERTS 64
#define VALID_FORMS       "router, single:N, best, ensemble, round_robin, mix, xlora, base"

static const char *const names[] = {
    [MG_STRATEGY_ROUTER] = "router",
    [MG_STRATEGY_SINGLE] = "single",
    [MG_STRATEGY_BEST] = "best",
    [MG_STRATEGY_ENSEMBLE] = "ensemble",
    [MG_STRATEGY_ROUND_ROBIN] = "round_robin",
    [MG_STRATEGY_MIX] = "mix",
    [MG_STRATEGY_XLORA] = "xlora",
    [MG_STRATEGY_BASE] = "base",
};

int mg_strategy_parse(const char *s, mg_strategy *out, mg_error *err)
{
    *out = (mg_strategy){MG_STRATEGY_ROUTER, 0};
    if (!s) return mg_error_set(err, MG_EUSAGE, "missing strategy (valid: " VALID_FORMS ")");
    if (!strncmp(s, "single:", 7)) {
        const char *d = s + 7;
        if (!*d || strlen(d) > 6)
            return mg_error_set(err, MG_EUSAGE, "bad strategy '%s': single:N needs an expert index",
                                s);
        for (const char *p = d; *p; p++)
            if (*p < '0' || *p > '9')
                return mg_error_set(err, MG_EUSAGE,
                                    "bad strategy '%s': single:N needs an expert index", s);
        out->kind = MG_STRATEGY_SINGLE;
        out->expert = atoi(d);
        return 0;
    }
    for (int k = 0; k < (int)(sizeof(names) / sizeof(names[0])); k++) {
        if (k == MG_STRATEGY_SINGLE) continue;
        if (!strcmp(s, names[k])) {
            out->kind = (mg_strategy_kind)k;
            return 0;
        }
    }
    return mg_error_set(err, MG_EUSAGE, "unknown strategy '%s' (valid: " VALID_FORMS ")", s);
}

const char *mg_strategy_format(const mg_strategy *s, char *buf, int cap)
{
    if (cap <= 0) return buf;
    if ((unsigned)s->kind >= sizeof(names) / sizeof(names[0]))
        snprintf(buf, cap, "unknown");
    else if (s->kind == MG_STRATEGY_SINGLE)
        snprintf(buf, cap, "single:%d", s->expert);
    else
        snprintf(buf, cap, "%s", names[s->kind]);
    return buf;
}

int mg_strategy_check(const mg_strategy *s, const mg_model *m, mg_error *err)
{
    char name[32];
    mg_strategy_format(s, name, sizeof name);
    int E = m->n_experts;
    bool xl = m->xlora != NULL;
    switch (s->kind) {
    case MG_STRATEGY_BASE:
        return 0;
    case MG_STRATEGY_XLORA:
        if (!xl)
            return mg_error_set(err, MG_EINVAL,
                                "strategy 'xlora': the model is not an X-LoRA model (it has no "
                                "X-LoRA classifier)");
        if (E > XLORA_MAX_EXPERTS)
            return mg_error_set(err, MG_EUNSUPPORTED,
                                "strategy 'xlora': %d adapters exceed the engine's %d", E,
                                XLORA_MAX_EXPERTS);
        return 0;
    case MG_STRATEGY_SINGLE:
        if (s->expert < 0 || s->expert >= E)
            return mg_error_set(err, MG_EINVAL, "strategy '%s': the model has %d expert%s", name, E,
                                E == 1 ? "" : "s");
        return 0;
    case MG_STRATEGY_ROUTER:
    case MG_STRATEGY_MIX:
        if (E == 0)
            return mg_error_set(err, MG_EINVAL, "strategy '%s': the model has no experts", name);
        if (xl)
            return mg_error_set(err, MG_EINVAL,
                                "strategy '%s': an X-LoRA model has no DyLoRA router", name);
        if ((E > 1 || s->kind == MG_STRATEGY_MIX) && !m->has_router)
            return mg_error_set(err, MG_EINVAL,
                                "strategy '%s': the model has %d experts but no router "
                                "(use best, single:N, ensemble or round_robin)",
                                name, E);
        return 0;
    case MG_STRATEGY_BEST:
    case MG_STRATEGY_ENSEMBLE:
    case MG_STRATEGY_ROUND_ROBIN:
        if (E == 0)
            return mg_error_set(err, MG_EINVAL,
                                "strategy '%s': the model has no experts (a merged model); "
                                "use base",
                                name);
        return 0;
    }
    return mg_error_set(err, MG_EINVAL, "unknown strategy kind %d", (int)s->kind);
}

/* ---- X-LoRA ---------------------------------------------------------------------- */

/* PEFT's XLoraLayer.get_maybe_topk_scalings on one module's scalings v[E]:
 * keep the top_k_lora largest (torch.topk; on ties the lowest indices),
 * then softmax over the entries that are not zero. */
static void topk_softmax(const mg_xlora *x, float *v, int E)
{
    float orig[XLORA_MAX_EXPERTS];
    if (x->top_k_lora > 0 && x->top_k_lora < E) {
        memcpy(orig, v, sizeof(float) * E);
        for (int j = 0; j < E; j++) {
            int rank = 0;
            for (int i = 0; i < E; i++) rank += orig[i] > orig[j] || (orig[i] == orig[j] && i < j);
            if (rank >= x->top_k_lora) v[j] *= 0.0f;
        }
    }
    if (!x->enable_softmax_topk) return;
    float mx = -INFINITY, sum = 0;
    for (int j = 0; j < E; j++)
        if (v[j] != 0.0f && v[j] > mx) mx = v[j];
    if (mx == -INFINITY) return; /* nothing kept: PEFT's masked softmax gives zeros */
    for (int j = 0; j < E; j++)
        if (v[j] != 0.0f) sum += (v[j] = expf(v[j] - mx));
    for (int j = 0; j < E; j++)
        if (v[j] != 0.0f) v[j] /= sum;
}

void mg__xlora_pass_weights(const mg_model *m, float *w)
{
    const mg_xlora *x = m->xlora;
    int E = m->n_experts;
    for (int j = 0; j < E; j++) w[j] = x->scaling_pass_value;
    topk_softmax(x, w, E);
    for (int j = 0; j < E; j++) w[j] *= x->global_scaling_weight;
}

size_t mg__xlora_weights_per_token(const mg_model *m)
{
    size_t E = (size_t)m->n_experts;
    return m->xlora->layerwise_scalings ? (size_t)m->config.n_layers * MG_PROJ_COUNT * E : E;
}

/* One Linear layer of the classifier: y[n, out] = x[n, in] W^T + b. */
static int linear(float *y, const float *x, const mg_tensor *w, const mg_tensor *b, int n,
                  mg_error *err)
{
    int out = (int)w->shape[0], in = (int)w->shape[1];
    float *bias = malloc(sizeof(float) * (size_t)out);
    if (!bias) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
    mg_k_matmul(NULL, y, x, w->data, w->dtype, n, in, out, false);
    mg_k_to_f32(bias, b->data, b->dtype, (size_t)out);
    for (int t = 0; t < n; t++)
        for (int o = 0; o < out; o++) y[(size_t)t * out + o] += bias[o];
    free(bias);
    return 0;
}

int mg__xlora_scalings(const mg_model *m, const float *hidden, int n, float *w, mg_error *err)
{
    const mg_xlora *x = m->xlora;
    int E = m->n_experts, nl = x->n_mlp_layers;
    int LP = m->config.n_layers * MG_PROJ_COUNT;
    size_t wide = 0;
    for (int j = 0; j < nl; j++)
        if ((size_t)x->w[j].shape[0] > wide) wide = (size_t)x->w[j].shape[0];
    float *a = malloc(sizeof(float) * wide * (size_t)n), *c = malloc(sizeof(float) * wide * n);
    int rc = a && c ? 0 : mg_error_set(err, MG_ENOMEM, "engine: out of memory");
    /* The MLP: Linear, ReLU, ..., Linear (dropout is off in eval). */
    const float *in = hidden;
    for (int j = 0; j < nl && rc == 0; j++) {
        float *y = j % 2 ? c : a;
        rc = linear(y, in, &x->w[j], &x->b[j], n, err);
        if (j < nl - 1)
            for (size_t i = 0; i < (size_t)n * x->w[j].shape[0]; i++) y[i] = y[i] > 0 ? y[i] : 0;
        in = y;
    }
    int groups = x->layerwise_scalings ? x->n_modules : 1;
    for (int t = 0; t < n && rc == 0; t++) {
        const float *lg = in + (size_t)t * groups * E;
        float *wt = w + (size_t)t * mg__xlora_weights_per_token(m);
        float v[XLORA_MAX_EXPERTS];
        for (int g = 0; g < groups; g++) {
            for (int j = 0; j < E; j++) v[j] = lg[(size_t)g * E + j];
            if (x->enable_softmax) { /* TemperatureScaledSoftmax */
                float mx = -INFINITY, sum = 0;
                for (int j = 0; j < E; j++) {
                    v[j] = v[j] / x->softmax_temperature;
                    mx = v[j] > mx ? v[j] : mx;
                }
                for (int j = 0; j < E; j++) sum += (v[j] = expf(v[j] - mx));
                for (int j = 0; j < E; j++) v[j] /= sum;
            }
            topk_softmax(x, v, E);
            for (int j = 0; j < E; j++) v[j] *= x->global_scaling_weight;
            if (!x->layerwise_scalings) {
                memcpy(wt, v, sizeof(float) * E);
                break;
            }
            for (int lp = 0; lp < LP; lp++)
                if (x->module_index[lp] == g) memcpy(wt + (size_t)lp * E, v, sizeof(float) * E);
        }
        if (x->layerwise_scalings)
            for (int lp = 0; lp < LP; lp++)
                if (x->module_index[lp] < 0) memset(wt + (size_t)lp * E, 0, sizeof(float) * E);
    }
    free(a), free(c);
    return rc;
}
