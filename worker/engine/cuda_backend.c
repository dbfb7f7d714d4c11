/* cuda_backend.c — the CUDA backend's lifetime: weights uploaded once, KV
 * rows on the device, and the registration that makes MG_DEVICE_CUDA
 * available (moegen-cuda calls mg_engine_cuda_register at start).
 *
 * Weights keep their stored dtype (BF16/F16/F32: cuBLAS multiplies them with
 * fp32 accumulation); biases become fp32. PEFT's derived tensors are made
 * once on the host as the CPU backend does: AdaLoRA's A * E (fp32, with B
 * widened to fp32 so one LoRA pair has one dtype) and DoRA's magnitude /
 * ||W + s B A|| per output row. A merged expert (--merge) is not folded into
 * the weights here: every token weights it 1 instead, the same product
 * without an fp32 copy of each adapted projection.
 *
 * KV caches are fp32 [L][cap][kv_heads * head_dim] per row, as on the CPU,
 * allocated from the device's memory pool within a budget fixed at start
 * from the memory left after the weights and a reserve for activations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"
#include "mg_engine_cuda.h"

#define MIB (1024.0 * 1024.0)

/* ---- weights ------------------------------------------------------------------- */

static int track(cuda_backend *b, void *p, mg_error *err)
{
    if (b->n_allocs == b->cap_allocs) {
        int nc = b->cap_allocs ? 2 * b->cap_allocs : 256;
        void **na = realloc(b->allocs, sizeof(void *) * nc);
        if (!na) {
            mg_cuda_dealloc(p);
            return mg_error_set(err, MG_ENOMEM, "cuda engine: out of host memory");
        }
        b->allocs = na;
        b->cap_allocs = nc;
    }
    b->allocs[b->n_allocs++] = p;
    return 0;
}

/* A device copy of `bytes` host bytes. */
static int upload(cuda_backend *b, const void *src, size_t bytes, const void **out, mg_error *err)
{
    void *d = NULL;
    int rc = mg_cuda_alloc(b->ctx, bytes, &d, err);
    if (rc == 0) rc = track(b, d, err);
    if (rc == 0) rc = mg_cuda_upload(b->ctx, d, src, bytes, err);
    if (rc < 0) return rc;
    b->weight_bytes += bytes;
    *out = d;
    return 0;
}

static size_t tensor_bytes(const mg_tensor *t)
{
    return (size_t)mg_tensor_numel(t) * mg_dtype_size(t->dtype);
}

static int upload_tensor(cuda_backend *b, const mg_tensor *t, const void **out, mg_error *err)
{
    return upload(b, t->data, tensor_bytes(t), out, err);
}

static float *to_f32(const mg_tensor *t)
{
    size_t n = (size_t)mg_tensor_numel(t);
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (p) mg_k_to_f32(p, t->data, t->dtype, n);
    return p;
}

static int upload_f32(cuda_backend *b, const float *h, size_t n, const float **out, mg_error *err)
{
    const void *d = NULL;
    int rc = upload(b, h, sizeof(float) * n, &d, err);
    *out = d;
    return rc;
}

static int upload_tensor_f32(cuda_backend *b, const mg_tensor *t, const float **out, mg_error *err)
{
    float *h = to_f32(t);
    if (!h) return mg_error_set(err, MG_ENOMEM, "cuda engine: out of host memory");
    int rc = upload_f32(b, h, (size_t)mg_tensor_numel(t), out, err);
    free(h);
    return rc;
}

/* DoRA: mn[o] = magnitude[o] / ||W[o] + s * (B A)[o]|| (A already effective),
 * one output row at a time in fp32 as PEFT's weight norm, accumulated in
 * double as the CPU backend does. */
static float *dora_norms(const mg_tensor *W, const mg_lora_module *mod, const float *a)
{
    int out = (int)W->shape[0], in = (int)W->shape[1], r = mod->r;
    float *bm = to_f32(&mod->B), *mag = to_f32(&mod->magnitude);
    float *row = malloc(sizeof(float) * (size_t)in), *mn = malloc(sizeof(float) * (size_t)out);
    size_t wsz = mg_dtype_size(W->dtype);
    if (bm && mag && row && mn) {
        for (int o = 0; o < out; o++) {
            float *d = row;
            memset(d, 0, sizeof(float) * (size_t)in);
            for (int j = 0; j < r; j++) {
                float bv = bm[(size_t)o * r + j];
                const float *ar = a + (size_t)j * in;
                for (int i = 0; i < in; i++) d[i] += bv * ar[i];
            }
            double ss = 0;
            for (int i = 0; i < in; i++) {
                float w;
                mg_k_to_f32(&w, (const char *)W->data + ((size_t)o * in + i) * wsz, W->dtype, 1);
                double v = w + mod->scaling * d[i];
                ss += v * v;
            }
            mn[o] = mag[o] / (float)sqrt(ss);
        }
    } else {
        free(mn);
        mn = NULL;
    }
    free(bm), free(mag), free(row);
    return mn;
}

/* One expert's adapter on one projection. */
static int upload_module(cuda_backend *b, const mg_tensor *W, const mg_lora_module *mod,
                         mg_k_lora_expert *ex, const float **mn_out, mg_error *err)
{
    int rc = 0;
    ex->r = mod->r;
    ex->scaling = mod->scaling;
    float *a = NULL;
    if (mod->E.data || mod->magnitude.data) {
        a = to_f32(&mod->A);
        float *ev = mod->E.data ? to_f32(&mod->E) : NULL;
        if (!a || (mod->E.data && !ev)) {
            free(a), free(ev);
            return mg_error_set(err, MG_ENOMEM, "cuda engine: out of host memory");
        }
        int in = (int)mod->A.shape[1];
        for (int j = 0; ev && j < mod->r; j++)
            for (int i = 0; i < in; i++) a[(size_t)j * in + i] *= ev[j];
        free(ev);
    }
    if (mod->magnitude.data) {
        float *mn = dora_norms(W, mod, a);
        rc = mn ? upload_f32(b, mn, (size_t)W->shape[0], mn_out, err)
                : mg_error_set(err, MG_ENOMEM, "cuda engine: out of host memory");
        free(mn);
    }
    if (rc == 0 && mod->E.data) {
        /* AdaLoRA: A * E in fp32, and B in fp32 too (a pair has one dtype). */
        const float *da = NULL, *db = NULL;
        rc = upload_f32(b, a, (size_t)mg_tensor_numel(&mod->A), &da, err);
        if (rc == 0) rc = upload_tensor_f32(b, &mod->B, &db, err);
        ex->A = da, ex->B = db, ex->dt = MG_DTYPE_F32;
    } else if (rc == 0 && mod->A.dtype != mod->B.dtype) {
        const float *da = NULL, *db = NULL;
        rc = upload_tensor_f32(b, &mod->A, &da, err);
        if (rc == 0) rc = upload_tensor_f32(b, &mod->B, &db, err);
        ex->A = da, ex->B = db, ex->dt = MG_DTYPE_F32;
    } else if (rc == 0) {
        rc = upload_tensor(b, &mod->A, &ex->A, err);
        if (rc == 0) rc = upload_tensor(b, &mod->B, &ex->B, err);
        ex->dt = mod->A.dtype;
    }
    free(a);
    return rc;
}

static size_t model_bytes(const mg_model *m)
{
    size_t n = tensor_bytes(&m->embed) + tensor_bytes(&m->final_norm);
    if (m->lm_head.data != m->embed.data) n += tensor_bytes(&m->lm_head);
    size_t LP = (size_t)m->config.n_layers * MG_PROJ_COUNT;
    for (int l = 0; l < m->config.n_layers; l++) {
        const mg_layer_weights *lw = &m->layers[l];
        n += tensor_bytes(&lw->attn_norm) + tensor_bytes(&lw->ffn_norm);
        for (int p = 0; p < MG_PROJ_COUNT; p++)
            n += tensor_bytes(&lw->proj[p]) + (size_t)mg_tensor_numel(&lw->bias[p]) * 4;
    }
    for (int e = 0; e < m->n_experts; e++)
        for (size_t i = 0; i < LP; i++) {
            const mg_lora_module *mod = &m->experts[e].modules[i];
            if (!mod->A.data) continue;
            n += 2 * (tensor_bytes(&mod->A) + tensor_bytes(&mod->B));
        }
    return n;
}

static int upload_model(cuda_backend *b, mg_error *err)
{
    const mg_model *m = b->m;
    const mg_model_config *c = &m->config;
    int L = c->n_layers, E = m->n_experts, rc;
    size_t LP = (size_t)L * MG_PROJ_COUNT;
    size_t free_b = 0, total_b = 0;
    if ((rc = mg_cuda_mem_info(b->ctx, &free_b, &total_b, err)) < 0) return rc;
    size_t need = model_bytes(m);
    int dev = mg_cuda_ctx_device(b->ctx);
    if (need > free_b)
        return mg_error_set(err, MG_ENOMEM,
                            "cuda engine: the model needs %.0f MiB of weights on device %d, which "
                            "has %.0f of %.0f MiB free",
                            need / MIB, dev, free_b / MIB, total_b / MIB);
    b->layers = calloc((size_t)L, sizeof(cu_layer));
    b->lora = calloc(LP * (E ? E : 1), sizeof(mg_k_lora_expert));
    if (!b->layers || !b->lora)
        return mg_error_set(err, MG_ENOMEM, "cuda engine: out of host memory");
    if ((rc = upload_tensor(b, &m->embed, &b->embed, err)) < 0) return rc;
    if (m->lm_head.data == m->embed.data)
        b->lm_head = b->embed; /* tied */
    else if ((rc = upload_tensor(b, &m->lm_head, &b->lm_head, err)) < 0)
        return rc;
    if ((rc = upload_tensor(b, &m->final_norm, &b->final_norm, err)) < 0) return rc;
    for (int l = 0; l < L; l++) {
        const mg_layer_weights *lw = &m->layers[l];
        cu_layer *cl = &b->layers[l];
        cl->attn_norm_dt = lw->attn_norm.dtype;
        cl->ffn_norm_dt = lw->ffn_norm.dtype;
        if ((rc = upload_tensor(b, &lw->attn_norm, &cl->attn_norm, err)) < 0) return rc;
        if ((rc = upload_tensor(b, &lw->ffn_norm, &cl->ffn_norm, err)) < 0) return rc;
        for (int p = 0; p < MG_PROJ_COUNT; p++) {
            cl->proj_dt[p] = lw->proj[p].dtype;
            if ((rc = upload_tensor(b, &lw->proj[p], &cl->proj[p], err)) < 0) return rc;
            if (lw->bias[p].data &&
                (rc = upload_tensor_f32(b, &lw->bias[p], &cl->bias[p], err)) < 0)
                return rc;
        }
    }
    for (int e = 0; e < E; e++)
        for (size_t lp = 0; lp < LP; lp++) {
            const mg_lora_module *mod = &m->experts[e].modules[lp];
            if (!mod->A.data || !mod->B.data) continue;
            if (mod->magnitude.data && !b->dora_mn) {
                b->dora_mn = calloc(LP * E, sizeof(float *));
                if (!b->dora_mn)
                    return mg_error_set(err, MG_ENOMEM, "cuda engine: out of host memory");
            }
            const mg_tensor *W = &m->layers[lp / MG_PROJ_COUNT].proj[lp % MG_PROJ_COUNT];
            size_t i = lp * E + e;
            rc = upload_module(b, W, mod, &b->lora[i], b->dora_mn ? &b->dora_mn[i] : NULL, err);
            if (rc < 0) return mg_error_prefix(err, rc, "expert %d", e);
        }
    /* What is left, less a reserve for activations and cuBLAS workspaces,
     * holds the KV caches. */
    if ((rc = mg_cuda_mem_info(b->ctx, &free_b, &total_b, err)) < 0) return rc;
    size_t reserve = total_b / 16;
    if (reserve < ((size_t)512 << 20)) reserve = (size_t)512 << 20;
    if (reserve > free_b / 2) reserve = free_b / 2;
    b->kv_budget = free_b - reserve;
    return 0;
}

/* ---- rows ---------------------------------------------------------------------- */

static size_t row_bytes(const cuda_backend *b, int cap)
{
    const mg_model_config *c = &b->m->config;
    return sizeof(float) * (size_t)c->n_layers * cap * c->n_kv_heads * c->head_dim;
}

static int cu_row_init(mg__backend *bb, mg__row *row, int cap, mg_error *err)
{
    cuda_backend *b = (cuda_backend *)bb;
    size_t bytes = row_bytes(b, cap);
    row->k = row->v = row->w = NULL;
    if (b->kv_used + 2 * bytes > b->kv_budget)
        return mg_error_set(err, MG_ENOMEM,
                            "cuda engine: a %d-position KV cache needs %.1f MiB; %.1f of the "
                            "%.1f MiB left on device %d after the weights (%.1f MiB) are in use "
                            "(fewer sequences per batch or shorter ones fit)",
                            cap, 2 * bytes / MIB, b->kv_used / MIB, b->kv_budget / MIB,
                            mg_cuda_ctx_device(b->ctx), b->weight_bytes / MIB);
    row->w = calloc(b->m->n_experts ? b->m->n_experts : 1, sizeof(float));
    if (!row->w) return mg_error_set(err, MG_ENOMEM, "cuda engine: out of host memory");
    void *k = NULL, *v = NULL;
    int rc = mg_cuda_alloc_async(b->ctx, bytes, &k, err);
    if (rc == 0) rc = mg_cuda_alloc_async(b->ctx, bytes, &v, err);
    if (rc < 0) {
        mg_cuda_free_async(b->ctx, k);
        free(row->w);
        row->w = NULL;
        return mg_error_prefix(err, rc, "KV cache of %d positions", cap);
    }
    row->k = k, row->v = v;
    row->cap = cap;
    row->n_past = 0;
    b->kv_used += 2 * bytes;
    return 0;
}

static void cu_row_free(mg__backend *bb, mg__row *row)
{
    cuda_backend *b = (cuda_backend *)bb;
    if (row->k) b->kv_used -= 2 * row_bytes(b, row->cap);
    mg_cuda_free_async(b->ctx, row->k);
    mg_cuda_free_async(b->ctx, row->v);
    free(row->w);
    row->k = row->v = row->w = NULL;
}

static void cu_row_copy(mg__backend *bb, mg__row *dst, const mg__row *src)
{
    cuda_backend *b = (cuda_backend *)bb;
    const mg_model_config *c = &b->m->config;
    size_t KD = sizeof(float) * c->n_kv_heads * c->head_dim;
    MG_ASSERT(dst->cap >= src->n_past);
    int rc = 0;
    mg_error e = {0};
    for (int kv = 0; kv < 2 && rc == 0; kv++)
        rc = mg_cuda_copy_2d(b->ctx, kv ? dst->v : dst->k, dst->cap * KD, kv ? src->v : src->k,
                             src->cap * KD, src->n_past * KD, (size_t)c->n_layers, &e);
    if (rc < 0 && b->sticky_rc == 0) {
        b->sticky_rc = rc;
        b->sticky = e;
    }
    memcpy(dst->w, src->w, sizeof(float) * (b->m->n_experts ? b->m->n_experts : 1));
    dst->n_past = src->n_past;
}

static void cu_free(mg__backend *bb)
{
    cuda_backend *b = (cuda_backend *)bb;
    if (!b) return;
    if (b->ctx) mg_cuda_sync(b->ctx, NULL);
    for (int i = 0; i < b->n_allocs; i++) mg_cuda_dealloc(b->allocs[i]);
    float *dev[] = {b->x, b->xn, b->q, b->k,        b->v,        b->att,
                    b->o, b->g,  b->u, b->base_out, b->lora_tmp, b->logits};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) mg_cuda_dealloc(dev[i]);
    mg_cuda_dealloc(b->meta);
    mg_cuda_ctx_free(b->ctx);
    free(b->allocs), free(b->layers), free(b->lora), free(b->dora_mn);
    free(b->h_meta), free(b->tw), free(b->gate), free(b->order), free(b->t0);
    free(b->inv_freq);
    free(b);
}

static const mg__backend_vt cuda_vt = {"cuda",      mg__cuda_forward, cu_row_init,
                                       cu_row_free, cu_row_copy,      cu_free};

/* ---- creation and registration ------------------------------------------------- */

static int cu_create(const mg_model *m, const mg_engine_params *p, int merge_expert,
                     mg__backend **out, mg_error *err)
{
    *out = NULL;
    if (m->xlora)
        return mg_error_set(err, MG_EUNSUPPORTED,
                            "cuda engine: X-LoRA models run on the CPU only for now (--device "
                            "cpu)");
    cuda_backend *b = calloc(1, sizeof(*b));
    if (!b) return mg_error_set(err, MG_ENOMEM, "cuda engine: out of host memory");
    b->base.vt = &cuda_vt;
    b->m = m;
    b->merge_expert = merge_expert;
    b->inv_freq = calloc((size_t)(m->config.head_dim / 2 + 1), sizeof(float));
    int rc = b->inv_freq ? 0 : mg_error_set(err, MG_ENOMEM, "cuda engine: out of host memory");
    if (rc == 0) rc = mg_cuda_ctx_new(p->device_index, &b->ctx, err);
    if (rc == 0) rc = upload_model(b, err);
    if (rc < 0) {
        cu_free(&b->base);
        return rc;
    }
    *out = &b->base;
    return 0;
}

static const mg__backend_factory cuda_factory = {"cuda", mg_cuda_device_count, cu_create};

void mg_engine_cuda_register(void)
{
    mg__register_backend(MG_DEVICE_CUDA, &cuda_factory);
}
