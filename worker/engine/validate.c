/* validate.c — checks every tensor the engine reads against the config
 * (shapes, dtypes, ranks) before the first forward: model files are
 * untrusted input even after the model store parsed them. */
#include <stdio.h>

#include "engine_impl.h"

/* ---- model validation -------------------------------------------------------- */

static const char *const proj_names[MG_PROJ_COUNT] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                      "gate_proj", "up_proj", "down_proj"};

static int check_tensor(const mg_tensor *t, const char *what, int64_t d0, int64_t d1, mg_error *err)
{
    if (!t->data) return mg_error_set(err, MG_EFORMAT, "engine: missing tensor %s", what);
    if (t->dtype != MG_DTYPE_F32 && t->dtype != MG_DTYPE_F16 && t->dtype != MG_DTYPE_BF16)
        return mg_error_set(err, MG_EUNSUPPORTED, "engine: tensor %s has dtype %s", what,
                            mg_dtype_name(t->dtype));
    int64_t n = d1 > 0 ? d0 * d1 : d0;
    bool ok = mg_tensor_numel(t) == n;
    if (ok && d1 > 0) ok = t->ndim == 2 && t->shape[0] == d0 && t->shape[1] == d1;
    if (!ok)
        return mg_error_set(
            err, MG_ESHAPE, "engine: tensor %s (%s) has %lld elements, expected [%lld, %lld]", what,
            t->name ? t->name : "?", (long long)mg_tensor_numel(t), (long long)d0, (long long)d1);
    return 0;
}

int mg__validate_model(const mg_model *m, mg_error *err)
{
    const mg_model_config *c = &m->config;
    if (c->hidden_size <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->head_dim <= 0 || c->head_dim % 2 || c->vocab_size <= 0 || c->intermediate_size <= 0 ||
        c->n_heads % c->n_kv_heads)
        return mg_error_set(err, MG_EFORMAT, "engine: inconsistent model config");
    int H = c->hidden_size, QD = c->n_heads * c->head_dim, KD = c->n_kv_heads * c->head_dim;
    int I = c->intermediate_size, V = c->vocab_size;
    int rc;
    if ((rc = check_tensor(&m->embed, "embed_tokens", V, H, err)) < 0) return rc;
    if ((rc = check_tensor(&m->lm_head, "lm_head", V, H, err)) < 0) return rc;
    if ((rc = check_tensor(&m->final_norm, "norm", H, 0, err)) < 0) return rc;
    const int64_t dims[MG_PROJ_COUNT][2] = {{QD, H}, {KD, H}, {KD, H}, {H, QD},
                                            {I, H},  {I, H},  {H, I}};
    char what[96];
    for (int l = 0; l < c->n_layers; l++) {
        const mg_layer_weights *lw = &m->layers[l];
        snprintf(what, sizeof what, "layers.%d.input_layernorm", l);
        if ((rc = check_tensor(&lw->attn_norm, what, H, 0, err)) < 0) return rc;
        snprintf(what, sizeof what, "layers.%d.post_attention_layernorm", l);
        if ((rc = check_tensor(&lw->ffn_norm, what, H, 0, err)) < 0) return rc;
        for (int p = 0; p < MG_PROJ_COUNT; p++) {
            snprintf(what, sizeof what, "layers.%d.%s", l, proj_names[p]);
            if ((rc = check_tensor(&lw->proj[p], what, dims[p][0], dims[p][1], err)) < 0) return rc;
            if (lw->bias[p].data) {
                snprintf(what, sizeof what, "layers.%d.%s.bias", l, proj_names[p]);
                if ((rc = check_tensor(&lw->bias[p], what, dims[p][0], 0, err)) < 0) return rc;
            }
            for (int e = 0; e < m->n_experts; e++) {
                const mg_lora_module *mod = &m->experts[e].modules[l * MG_PROJ_COUNT + p];
                if (!mod->A.data) continue;
                int r = mod->r;
                if (r <= 0)
                    return mg_error_set(err, MG_EFORMAT, "engine: expert %d %s: rank %d", e, what,
                                        r);
                char w2[128];
                snprintf(w2, sizeof w2, "expert %d %s lora_A", e, what);
                if ((rc = check_tensor(&mod->A, w2, r, dims[p][1], err)) < 0) return rc;
                snprintf(w2, sizeof w2, "expert %d %s lora_B", e, what);
                if ((rc = check_tensor(&mod->B, w2, dims[p][0], r, err)) < 0) return rc;
                if (mod->E.data) {
                    snprintf(w2, sizeof w2, "expert %d %s lora_E", e, what);
                    if ((rc = check_tensor(&mod->E, w2, r, 0, err)) < 0) return rc;
                }
                if (mod->magnitude.data) {
                    snprintf(w2, sizeof w2, "expert %d %s magnitude", e, what);
                    if ((rc = check_tensor(&mod->magnitude, w2, dims[p][0], 0, err)) < 0) return rc;
                }
            }
        }
    }
    if (m->has_router) {
        if ((rc = check_tensor(&m->router.weight, "router gate.weight", m->n_experts, H, err)) < 0)
            return rc;
        if (m->router.bias.data &&
            (rc = check_tensor(&m->router.bias, "router gate.bias", m->n_experts, 0, err)) < 0)
            return rc;
    }
    return 0;
}
