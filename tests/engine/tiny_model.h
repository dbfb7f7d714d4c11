/* tiny_model.h — a random llama-shaped mg_model built in memory, with LoRA
 * experts and a router, so the engine's scheduling tests need no files.
 * (Fidelity against the reference lives in test_engine_golden.c.) */
#ifndef MG_TEST_TINY_MODEL_H
#define MG_TEST_TINY_MODEL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg_model.h"

typedef struct tiny_model {
    mg_model m;
    float *pool; /* every tensor lives here */
    size_t used, cap;
} tiny_model;

static uint64_t tiny_rng = 0x1234567u;
static float tiny_randn(void)
{
    /* xorshift + Box-Muller: deterministic, good enough for weights. */
    double u[2];
    for (int i = 0; i < 2; i++) {
        tiny_rng ^= tiny_rng << 13, tiny_rng ^= tiny_rng >> 7, tiny_rng ^= tiny_rng << 17;
        u[i] = ((tiny_rng >> 11) + 0.5) * 0x1.0p-53;
    }
    return (float)(sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]));
}

static mg_tensor tiny_tensor(tiny_model *t, int64_t d0, int64_t d1, float scale, float mean)
{
    int64_t n = d1 > 0 ? d0 * d1 : d0;
    mg_tensor x = {.name = "t", .dtype = MG_DTYPE_F32, .ndim = d1 > 0 ? 2 : 1};
    x.shape[0] = d0;
    if (d1 > 0) x.shape[1] = d1;
    float *p = t->pool + t->used;
    t->used += (size_t)n;
    for (int64_t i = 0; i < n; i++) p[i] = mean + scale * tiny_randn();
    x.data = p;
    return x;
}

/* E experts of rank 4 on q, v, down; a router when E > 0. */
static tiny_model *tiny_model_new(int E)
{
    tiny_model *t = calloc(1, sizeof(*t));
    mg_model_config *c = &t->m.config;
    c->arch = MG_ARCH_LLAMA;
    strcpy(c->model_type, "llama");
    c->vocab_size = 64, c->hidden_size = 32, c->intermediate_size = 48, c->n_layers = 2;
    c->n_heads = 4, c->n_kv_heads = 2, c->head_dim = 8, c->max_position_embeddings = 256;
    c->rms_norm_eps = 1e-6f, c->rope_theta = 10000.0f, c->act = MG_ACT_SILU;
    c->bos_token_id = 1, c->pad_token_id = 0, c->n_eos = 1, c->eos_token_ids[0] = 2;
    c->torch_dtype = MG_DTYPE_F32;
    t->cap = 200000;
    t->pool = malloc(sizeof(float) * t->cap);
    int H = 32, I = 48, V = 64, QD = 32, KD = 16;
    t->m.embed = tiny_tensor(t, V, H, 1.0f, 0);
    t->m.lm_head = tiny_tensor(t, V, H, 0.3f, 0);
    t->m.final_norm = tiny_tensor(t, H, 0, 0.1f, 1);
    t->m.layers = calloc(2, sizeof(mg_layer_weights));
    const int64_t dims[7][2] = {{QD, H}, {KD, H}, {KD, H}, {H, QD}, {I, H}, {I, H}, {H, I}};
    for (int l = 0; l < 2; l++) {
        mg_layer_weights *lw = &t->m.layers[l];
        lw->attn_norm = tiny_tensor(t, H, 0, 0.1f, 1);
        lw->ffn_norm = tiny_tensor(t, H, 0, 0.1f, 1);
        for (int p = 0; p < 7; p++) lw->proj[p] = tiny_tensor(t, dims[p][0], dims[p][1], 0.2f, 0);
    }
    t->m.n_experts = E;
    t->m.experts = calloc(E ? E : 1, sizeof(mg_expert));
    for (int e = 0; e < E; e++) {
        mg_expert *x = &t->m.experts[e];
        x->r = 4, x->alpha = 8;
        x->modules = calloc(2 * MG_PROJ_COUNT, sizeof(mg_lora_module));
        for (int l = 0; l < 2; l++) {
            const int ps[3] = {MG_PROJ_Q, MG_PROJ_V, MG_PROJ_DOWN};
            for (int j = 0; j < 3; j++) {
                int p = ps[j];
                mg_lora_module *mod = &x->modules[l * MG_PROJ_COUNT + p];
                mod->r = 4, mod->scaling = 2.0f;
                mod->A = tiny_tensor(t, 4, dims[p][1], 0.3f, 0);
                mod->B = tiny_tensor(t, dims[p][0], 4, 0.3f, 0);
            }
        }
    }
    if (E > 0) {
        t->m.has_router = true;
        t->m.router.weight = tiny_tensor(t, E, H, 1.0f, 0);
        t->m.router.bias = tiny_tensor(t, E, 0, 0.1f, 0);
        t->m.router.top_k = 1, t->m.router.temperature = 2.0f;
    }
    return t;
}

static void tiny_model_free(tiny_model *t)
{
    if (!t) return;
    for (int e = 0; e < t->m.n_experts; e++) free(t->m.experts[e].modules);
    free(t->m.experts);
    free(t->m.layers);
    free(t->pool);
    free(t);
}

#endif
