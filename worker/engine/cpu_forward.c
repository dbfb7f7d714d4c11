/* cpu_forward.c — the CPU backend: one batched decoder forward over segments.
 *
 * Mirrors transformers' Llama / Gemma / Mistral / Qwen2 modeling code in fp32:
 * embed (Gemma: x sqrt(H) rounded to fp32) -> per layer [RMSNorm -> q/k/v
 * (+bias, +LoRA) -> RoPE -> causal attention over the row's KV cache -> o
 * (+LoRA) -> residual -> RMSNorm -> gate/up -> SiLU or tanh-GELU -> down ->
 * residual] -> final RMSNorm -> lm_head. Every token carries its own weight
 * vector over the experts, so rows with different adapters share the
 * matmuls of the base weights; each expert's LoRA runs only on the tokens
 * that weight it (a gather, as BGMV kernels do).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct cpu_backend {
    mg__backend base;
    const mg_model *m;
    mg_kpool *pool;
    int merge_expert;
    float **merged;  /* [L * P] fp32 W + delta of merge_expert, or NULL */
    float **a_eff;   /* [E * L * P] fp32 A * E (AdaLoRA), or NULL: use A */
    float **dora_mn; /* [E * L * P] magnitude / ||W + s B A||_row (DoRA), or NULL */
    /* scratch, grown to the largest step */
    int cap_n;
    float *x, *xn, *q, *k, *v, *att, *o, *g, *u, *base_out, *tw;
    int32_t *pos, *idx;
    float *gx, *gt, *gy;  /* LoRA gathers: x rows, A x, B A x */
    size_t cap_g, cap_gt; /* floats in gx and gy; in gt */
    int max_r;            /* largest LoRA rank of any module */
    float *lbuf;
    size_t cap_l;
    float *mw; /* [N, L * P, E] per-module weights when a segment has mod_w */
    size_t cap_mw;
    bool use_mw;
    float *att_scratch; /* [cap_items, cap_att] */
    int cap_att;
    struct att_item *items;
    int cap_items;
    float *inv_freq;
} cpu_backend;

/* One attention work item: queries [i0, i1) of a segment. */
typedef struct att_item {
    const mg__segment *sg;
    int t0; /* the segment's first token in the batch */
    int i0, i1;
} att_item;

typedef struct att_job {
    struct cpu_backend *b;
    const att_item *items;
    int layer;
    float scale;
} att_job;

static void *xrealloc_float(float *p, size_t n)
{
    return realloc(p, (n ? n : 1) * sizeof(float));
}

static int grow_scratch(cpu_backend *b, int n, mg_error *err)
{
    if (n <= b->cap_n) return 0;
    const mg__widths w = mg__model_widths(&b->m->config);
    const size_t E = (size_t)b->m->n_experts;
    float **bufs[] = {&b->x, &b->xn, &b->q, &b->k,        &b->v, &b->att,
                      &b->o, &b->g,  &b->u, &b->base_out, &b->tw};
    size_t sizes[] = {w.H, w.H, w.QD, w.KD, w.KD, w.QD, w.wide, w.I, w.I, w.wide, E ? E : 1};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        float *p = xrealloc_float(*bufs[i], sizes[i] * (size_t)n);
        if (!p) return mg_error_set(err, MG_ENOMEM, "engine: out of memory for %d tokens", n);
        *bufs[i] = p;
    }
    int32_t *pp = realloc(b->pos, sizeof(int32_t) * (size_t)n);
    if (!pp) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
    b->pos = pp;
    pp = realloc(b->idx, sizeof(int32_t) * (size_t)n);
    if (!pp) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
    b->idx = pp;
    b->cap_n = n;
    return 0;
}

static int ensure_buf(float **p, size_t *cap, size_t n, mg_error *err)
{
    if (n <= *cap) return 0;
    float *q = xrealloc_float(*p, n);
    if (!q) return mg_error_set(err, MG_ENOMEM, "engine: out of memory (%zu floats)", n);
    *p = q;
    *cap = n;
    return 0;
}

static const float *embed_row(const mg_tensor *t, int tok, int H, float *dst)
{
    size_t off = (size_t)tok * (size_t)H * mg_dtype_size(t->dtype);
    mg_k_to_f32(dst, (const char *)t->data + off, t->dtype, (size_t)H);
    return dst;
}

/* The base weights of projection p of layer l as a matmul op (the merged fp32
 * copy when an expert was folded in). */
static mg_k_mm_op base_op(const cpu_backend *b, int l, int p, float *y, int out)
{
    const float *merged = b->merged ? b->merged[l * MG_PROJ_COUNT + p] : NULL;
    if (merged) return (mg_k_mm_op){y, merged, MG_DTYPE_F32, out};
    const mg_tensor *w = &b->m->layers[l].proj[p];
    return (mg_k_mm_op){y, w->data, w->dtype, out};
}

static void adapt(cpu_backend *b, int l, int p, const float *x, float *y, int N, int in, int out);

/* Projections p[0..n) of layer l that read the same x[N, in]:
 * y_i = x @ W_i^T + bias_i + sum_e tw[:, e] * delta_e,i(x). The base matmuls
 * run as one pool job (q/k/v, gate/up), then each projection's adapters. */
static void project_many(cpu_backend *b, int l, const int *p, float *const *y, const int *out,
                         int n, const float *x, int N, int in)
{
    mg_k_mm_op ops[MG_K_MM_MULTI];
    for (int i = 0; i < n; i++) ops[i] = base_op(b, l, p[i], y[i], out[i]);
    mg_k_matmul_multi(b->pool, x, N, in, ops, n);
    for (int i = 0; i < n; i++) adapt(b, l, p[i], x, y[i], N, in, out[i]);
}

static void project(cpu_backend *b, int l, int p, const float *x, float *y, int N, int in, int out)
{
    project_many(b, l, &p, &y, &out, 1, x, N, in);
}

/* Adds to y, which holds exactly x @ W^T, the bias and every active expert's
 * LoRA (DoRA) delta. */
static void adapt(cpu_backend *b, int l, int p, const float *x, float *y, int N, int in, int out)
{
    const mg_model *m = b->m;
    const mg_layer_weights *lw = &m->layers[l];
    int E = m->n_experts, LP = l * MG_PROJ_COUNT + p;
    if (b->use_mw) /* this module's weights of every token */
        for (int i = 0; i < N; i++)
            memcpy(b->tw + (size_t)i * E,
                   b->mw + ((size_t)i * m->config.n_layers * MG_PROJ_COUNT + LP) * E,
                   sizeof(float) * E);

    /* DoRA needs the base output without bias (PEFT subtracts it again). */
    bool need_base = false;
    for (int e = 0; e < E && b->dora_mn; e++) {
        if (b->dora_mn[(size_t)e * m->config.n_layers * MG_PROJ_COUNT + LP]) need_base = true;
    }
    if (need_base) memcpy(b->base_out, y, sizeof(float) * (size_t)N * out);

    const mg_tensor *bias = &lw->bias[p];
    if (bias->data) {
        for (int i = 0; i < N; i++) {
            float *yr = y + (size_t)i * out;
            if (bias->dtype == MG_DTYPE_F32) {
                const float *bb = bias->data;
                for (int o = 0; o < out; o++) yr[o] += bb[o];
            } else {
                for (int o = 0; o < out; o++) {
                    float v;
                    mg_k_to_f32(&v,
                                (const char *)bias->data + (size_t)o * mg_dtype_size(bias->dtype),
                                bias->dtype, 1);
                    yr[o] += v;
                }
            }
        }
    }

    for (int e = 0; e < E; e++) {
        if (e == b->merge_expert) continue;
        const mg_lora_module *mod = &m->experts[e].modules[LP];
        if (!mod->A.data || !mod->B.data) continue;
        int ng = 0;
        for (int i = 0; i < N; i++)
            if (b->tw[(size_t)i * E + e] != 0.0f) b->idx[ng++] = i;
        if (!ng) continue;
        int r = mod->r;
        const float *gx = x;
        if (ng != N) {
            for (int j = 0; j < ng; j++)
                memcpy(b->gx + (size_t)j * in, x + (size_t)b->idx[j] * in, sizeof(float) * in);
            gx = b->gx;
        }
        size_t EI = (size_t)e * m->config.n_layers * MG_PROJ_COUNT + LP;
        const float *aeff = b->a_eff ? b->a_eff[EI] : NULL;
        if (aeff)
            mg_k_matmul(b->pool, b->gt, gx, aeff, MG_DTYPE_F32, ng, in, r, false);
        else
            mg_k_matmul(b->pool, b->gt, gx, mod->A.data, mod->A.dtype, ng, in, r, false);
        mg_k_matmul(b->pool, b->gy, b->gt, mod->B.data, mod->B.dtype, ng, r, out, false);
        const float *mn = b->dora_mn ? b->dora_mn[EI] : NULL;
        float s = mod->scaling;
        for (int j = 0; j < ng; j++) {
            int i = b->idx[j];
            float w = b->tw[(size_t)i * E + e];
            float *yr = y + (size_t)i * out;
            const float *ur = b->gy + (size_t)j * out;
            if (mn) {
                const float *br = b->base_out + (size_t)i * out;
                for (int o = 0; o < out; o++)
                    yr[o] += w * ((mn[o] - 1.0f) * br[o] + (mn[o] * ur[o]) * s);
            } else if (w == 1.0f) {
                for (int o = 0; o < out; o++) yr[o] += ur[o] * s;
            } else {
                for (int o = 0; o < out; o++) yr[o] += w * (ur[o] * s);
            }
        }
    }
}

static void att_run(int it, void *arg)
{
    const att_job *j = arg;
    cpu_backend *b = j->b;
    const mg_model_config *c = &b->m->config;
    const att_item *a = &j->items[it];
    const mg__row *row = a->sg->row;
    int nh = c->n_heads, kvh = c->n_kv_heads, hd = c->head_dim;
    size_t QD = (size_t)nh * hd, KD = (size_t)kvh * hd;
    size_t lofs = (size_t)j->layer * row->cap * KD;
    size_t t = (size_t)a->t0 + a->i0;
    /* Query i sits at position n_past + i and sees keys 0..n_past + i. */
    mg_k_attention(b->att + t * QD, b->q + t * QD, row->k + lofs, row->v + lofs, a->i1 - a->i0,
                   row->n_past + a->i1, row->n_past + a->i0, nh, kvh, hd, j->scale,
                   c->sliding_window, b->att_scratch + (size_t)it * b->cap_att);
}

static int cpu_forward(mg__backend *bb, mg__segment *segs, int n_segs, mg_error *err)
{
    cpu_backend *b = (cpu_backend *)bb;
    const mg_model *m = b->m;
    const mg_model_config *c = &m->config;
    int H = c->hidden_size, I = c->intermediate_size, E = m->n_experts;
    int nh = c->n_heads, kvh = c->n_kv_heads, hd = c->head_dim;
    int QD = nh * hd, KD = kvh * hd;
    int N = 0, max_kv = 0;
    for (int s = 0; s < n_segs; s++) {
        N += segs[s].n;
        int kv = segs[s].row->n_past + segs[s].n;
        if (kv > segs[s].row->cap)
            return mg_error_set(err, MG_ERANGE, "engine: KV cache full (%d > %d positions)", kv,
                                segs[s].row->cap);
        if (kv > max_kv) max_kv = kv;
    }
    if (N == 0) return 0;
    int rc = grow_scratch(b, N, err);
    if (rc < 0) return rc;
    /* Attention items: each segment's queries in blocks of 16, so a long
     * prefill and a batch of decodes both spread over the pool. */
    int n_items = 0;
    for (int s = 0; s < n_segs; s++) n_items += (segs[s].n + 15) / 16;
    if (n_items > b->cap_items || max_kv > b->cap_att) {
        int ni = n_items > b->cap_items ? n_items : b->cap_items;
        int nk = max_kv > b->cap_att ? max_kv : b->cap_att;
        float *p = xrealloc_float(b->att_scratch, (size_t)ni * nk);
        if (!p) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
        b->att_scratch = p;
        att_item *it = realloc(b->items, sizeof(att_item) * ni);
        if (!it) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
        b->items = it;
        b->cap_items = ni;
        b->cap_att = nk;
    }
    double att_work = 0;
    n_items = 0;
    for (int s = 0, t0 = 0; s < n_segs; t0 += segs[s].n, s++) {
        for (int i0 = 0; i0 < segs[s].n; i0 += 16) {
            int i1 = i0 + 16 < segs[s].n ? i0 + 16 : segs[s].n;
            b->items[n_items++] = (att_item){&segs[s], t0, i0, i1};
            att_work += (double)(i1 - i0) * (segs[s].row->n_past + i1);
        }
    }
    /* LoRA gathers (and the lm_head row gather, n_l * H <= N * wide): the
     * widest module input/output, and the largest rank for A x. */
    size_t wide = mg__model_widths(c).wide;
    size_t need_g = wide * (size_t)N, need_gt = (size_t)b->max_r * N;
    if (need_g > b->cap_g) {
        float *a = xrealloc_float(b->gx, need_g);
        if (!a) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
        b->gx = a;
        float *y = xrealloc_float(b->gy, need_g);
        if (!y) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
        b->gy = y;
        b->cap_g = need_g;
    }
    if (need_gt > b->cap_gt) {
        float *t = xrealloc_float(b->gt, need_gt);
        if (!t) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
        b->gt = t;
        b->cap_gt = need_gt;
    }

    /* Per-module weights (X-LoRA layerwise): when any segment has them,
     * every token gets a row, the others' weights repeated per module. */
    size_t LPT = (size_t)c->n_layers * MG_PROJ_COUNT;
    b->use_mw = false;
    for (int s = 0; s < n_segs && E; s++) b->use_mw |= segs[s].mod_w != NULL;
    if (b->use_mw && (rc = ensure_buf(&b->mw, &b->cap_mw, (size_t)N * LPT * (size_t)E, err)) < 0)
        return rc;

    /* Embeddings, positions and per-token expert weights. */
    float normalizer = (float)sqrt((double)H);
    int t0 = 0;
    for (int s = 0; s < n_segs; s++) {
        const mg__segment *sg = &segs[s];
        for (int t = 0; t < sg->n; t++) {
            int i = t0 + t;
            embed_row(&m->embed, sg->ids[t], H, b->x + (size_t)i * H);
            if (c->scale_embeddings)
                for (int h = 0; h < H; h++) b->x[(size_t)i * H + h] *= normalizer;
            b->pos[i] = sg->row->n_past + t;
            if (E) {
                const float *w = sg->tok_w ? sg->tok_w + (size_t)t * E : sg->row->w;
                memcpy(b->tw + (size_t)i * E, w, sizeof(float) * E);
                float *mw = b->use_mw ? b->mw + (size_t)i * LPT * E : NULL;
                if (mw && sg->mod_w)
                    memcpy(mw, sg->mod_w + (size_t)t * LPT * E, sizeof(float) * LPT * E);
                else if (mw)
                    for (size_t lp = 0; lp < LPT; lp++) memcpy(mw + lp * E, w, sizeof(float) * E);
            }
        }
        t0 += sg->n;
    }

    bool dynamic = c->rope_scaling.type == MG_ROPE_DYNAMIC;
    if (!dynamic) mg__rope_inv_freq(c, 0, b->inv_freq);
    float scale = 1.0f / sqrtf((float)hd);

    for (int l = 0; l < c->n_layers; l++) {
        const mg_layer_weights *lw = &m->layers[l];
        mg_k_rmsnorm(b->xn, b->x, lw->attn_norm.data, lw->attn_norm.dtype, N, H, c->rms_norm_eps,
                     c->norm_add_one);
        project_many(b, l, (const int[]){MG_PROJ_Q, MG_PROJ_K, MG_PROJ_V},
                     (float *const[]){b->q, b->k, b->v}, (const int[]){QD, KD, KD}, 3, b->xn, N, H);
        t0 = 0;
        for (int s = 0; s < n_segs; s++) {
            mg__segment *sg = &segs[s];
            mg__row *row = sg->row;
            float *q = b->q + (size_t)t0 * QD, *k = b->k + (size_t)t0 * KD;
            if (dynamic) mg__rope_inv_freq(c, row->n_past + sg->n, b->inv_freq);
            mg_k_rope(q, sg->n, nh, hd, b->inv_freq, b->pos + t0);
            mg_k_rope(k, sg->n, kvh, hd, b->inv_freq, b->pos + t0);
            size_t lofs = (size_t)l * row->cap * KD;
            memcpy(row->k + lofs + (size_t)row->n_past * KD, k, sizeof(float) * sg->n * KD);
            memcpy(row->v + lofs + (size_t)row->n_past * KD, b->v + (size_t)t0 * KD,
                   sizeof(float) * sg->n * KD);
            t0 += sg->n;
        }
        att_job aj = {b, b->items, l, scale};
        if (n_items > 1 && att_work * nh * hd > 2e5) {
            mg_kpool_run(b->pool, n_items, att_run, &aj);
        } else {
            for (int it = 0; it < n_items; it++) att_run(it, &aj);
        }
        project(b, l, MG_PROJ_O, b->att, b->o, N, QD, H);
        for (size_t i = 0; i < (size_t)N * H; i++) b->x[i] += b->o[i];
        mg_k_rmsnorm(b->xn, b->x, lw->ffn_norm.data, lw->ffn_norm.dtype, N, H, c->rms_norm_eps,
                     c->norm_add_one);
        project_many(b, l, (const int[]){MG_PROJ_GATE, MG_PROJ_UP}, (float *const[]){b->g, b->u},
                     (const int[]){I, I}, 2, b->xn, N, H);
        if (c->act == MG_ACT_GELU_TANH)
            mg_k_gelu_tanh_mul(b->g, b->g, b->u, (size_t)N * I);
        else
            mg_k_silu_mul(b->g, b->g, b->u, (size_t)N * I);
        project(b, l, MG_PROJ_DOWN, b->g, b->o, N, I, H);
        for (size_t i = 0; i < (size_t)N * H; i++) b->x[i] += b->o[i];
    }

    /* Final norm, then lm_head only on the rows someone wants. */
    mg_k_rmsnorm(b->xn, b->x, m->final_norm.data, m->final_norm.dtype, N, H, c->rms_norm_eps,
                 c->norm_add_one);
    int n_l = 0;
    t0 = 0;
    for (int s = 0; s < n_segs; s++) {
        mg__segment *sg = &segs[s];
        if (sg->want & MG__WANT_HIDDEN)
            memcpy(sg->hidden, b->xn + (size_t)t0 * H, sizeof(float) * sg->n * H);
        if (sg->want & MG__WANT_ALL_LOGITS) {
            for (int t = 0; t < sg->n; t++) b->idx[n_l++] = t0 + t;
        } else if (sg->want & MG__WANT_LAST_LOGITS) {
            b->idx[n_l++] = t0 + sg->n - 1;
        }
        t0 += sg->n;
    }
    if (n_l) {
        int V = c->vocab_size;
        MG_ASSERT((size_t)n_l * H <= b->cap_g);
        for (int j = 0; j < n_l; j++)
            memcpy(b->gx + (size_t)j * H, b->xn + (size_t)b->idx[j] * H, sizeof(float) * H);
        if ((rc = ensure_buf(&b->lbuf, &b->cap_l, (size_t)n_l * V, err)) < 0) return rc;
        mg_k_matmul(b->pool, b->lbuf, b->gx, m->lm_head.data, m->lm_head.dtype, n_l, H, V, false);
        int j = 0;
        for (int s = 0; s < n_segs; s++) {
            mg__segment *sg = &segs[s];
            if (sg->want & MG__WANT_ALL_LOGITS) {
                memcpy(sg->logits, b->lbuf + (size_t)j * V, sizeof(float) * sg->n * V);
                j += sg->n;
            } else if (sg->want & MG__WANT_LAST_LOGITS) {
                memcpy(sg->logits, b->lbuf + (size_t)j * V, sizeof(float) * V);
                j++;
            }
        }
    }
    for (int s = 0; s < n_segs; s++) segs[s].row->n_past += segs[s].n;
    return 0;
}

static int cpu_row_init(mg__backend *bb, mg__row *row, int cap, mg_error *err)
{
    cpu_backend *b = (cpu_backend *)bb;
    const mg_model_config *c = &b->m->config;
    size_t n = (size_t)c->n_layers * cap * c->n_kv_heads * c->head_dim;
    row->k = malloc(sizeof(float) * (n ? n : 1));
    row->v = malloc(sizeof(float) * (n ? n : 1));
    row->w = calloc(b->m->n_experts ? b->m->n_experts : 1, sizeof(float));
    if (!row->k || !row->v || !row->w) {
        free(row->k), free(row->v), free(row->w);
        row->k = row->v = row->w = NULL;
        return mg_error_set(err, MG_ENOMEM, "engine: out of memory for a %d-position KV cache",
                            cap);
    }
    row->cap = cap;
    row->n_past = 0;
    return 0;
}

static void cpu_row_copy(mg__backend *bb, mg__row *dst, const mg__row *src)
{
    cpu_backend *b = (cpu_backend *)bb;
    const mg_model_config *c = &b->m->config;
    size_t KD = (size_t)c->n_kv_heads * c->head_dim;
    MG_ASSERT(dst->cap >= src->n_past);
    for (int l = 0; l < c->n_layers; l++) {
        memcpy(dst->k + (size_t)l * dst->cap * KD, src->k + (size_t)l * src->cap * KD,
               sizeof(float) * src->n_past * KD);
        memcpy(dst->v + (size_t)l * dst->cap * KD, src->v + (size_t)l * src->cap * KD,
               sizeof(float) * src->n_past * KD);
    }
    memcpy(dst->w, src->w, sizeof(float) * (b->m->n_experts ? b->m->n_experts : 1));
    dst->n_past = src->n_past;
}

static void cpu_row_free(mg__backend *bb, mg__row *row)
{
    (void)bb;
    free(row->k), free(row->v), free(row->w);
    row->k = row->v = row->w = NULL;
}

static void cpu_free(mg__backend *bb)
{
    cpu_backend *b = (cpu_backend *)bb;
    if (!b) return;
    const mg_model *m = b->m;
    size_t LP = (size_t)m->config.n_layers * MG_PROJ_COUNT;
    if (b->merged)
        for (size_t i = 0; i < LP; i++) free(b->merged[i]);
    if (b->a_eff)
        for (size_t i = 0; i < LP * m->n_experts; i++) free(b->a_eff[i]);
    if (b->dora_mn)
        for (size_t i = 0; i < LP * m->n_experts; i++) free(b->dora_mn[i]);
    free(b->merged), free(b->a_eff), free(b->dora_mn);
    float *bufs[] = {b->x, b->xn,       b->q,  b->k,  b->v,  b->att, b->o,    b->g,
                     b->u, b->base_out, b->tw, b->gx, b->gt, b->gy,  b->lbuf, b->mw};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) free(bufs[i]);
    free(b->pos), free(b->idx), free(b->att_scratch), free(b->items), free(b->inv_freq);
    mg_kpool_free(b->pool);
    free(b);
}

static const mg__backend_vt cpu_vt = {"cpu",        cpu_forward,  cpu_row_init,
                                      cpu_row_free, cpu_row_copy, cpu_free};

static float *to_f32(const mg_tensor *t)
{
    size_t n = (size_t)mg_tensor_numel(t);
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (p) mg_k_to_f32(p, t->data, t->dtype, n);
    return p;
}

/* delta[out, in] = B[out, r] @ A[r, in] in fp32 (A already effective). */
static float *lora_product(const mg_lora_module *mod, const float *a, int out, int in)
{
    float *bm = to_f32(&mod->B);
    float *d = calloc((size_t)out * in, sizeof(float));
    if (!bm || !d) {
        free(bm), free(d);
        return NULL;
    }
    int r = mod->r;
    for (int o = 0; o < out; o++)
        for (int j = 0; j < r; j++) {
            float bv = bm[(size_t)o * r + j];
            const float *ar = a + (size_t)j * in;
            float *dr = d + (size_t)o * in;
            for (int i = 0; i < in; i++) dr[i] += bv * ar[i];
        }
    free(bm);
    return d;
}

/* Precomputes what PEFT derives from the stored tensors: AdaLoRA's A * E,
 * DoRA's magnitude / ||W + s B A|| per output row, and the merged weights. */
static int cpu_prepare(cpu_backend *b, mg_error *err)
{
    const mg_model *m = b->m;
    size_t LP = (size_t)m->config.n_layers * MG_PROJ_COUNT;
    int E = m->n_experts;
    b->max_r = 1;
    for (int e = 0; e < E; e++)
        for (size_t i = 0; i < LP; i++)
            if (m->experts[e].modules[i].A.data && m->experts[e].modules[i].r > b->max_r)
                b->max_r = m->experts[e].modules[i].r;
    if (E == 0) return 0;
    b->a_eff = calloc(LP * E, sizeof(float *));
    b->dora_mn = calloc(LP * E, sizeof(float *));
    if (b->merge_expert >= 0) b->merged = calloc(LP, sizeof(float *));
    if (!b->a_eff || !b->dora_mn || (b->merge_expert >= 0 && !b->merged)) goto oom;
    for (int e = 0; e < E; e++) {
        for (size_t lp = 0; lp < LP; lp++) {
            const mg_lora_module *mod = &m->experts[e].modules[lp];
            if (!mod->A.data || !mod->B.data) continue;
            const mg_tensor *W = &m->layers[lp / MG_PROJ_COUNT].proj[lp % MG_PROJ_COUNT];
            int out = (int)W->shape[0], in = (int)W->shape[1], r = mod->r;
            size_t ei = (size_t)e * LP + lp;
            float *a = NULL;
            if (mod->E.data) {
                a = to_f32(&mod->A);
                float *ev = to_f32(&mod->E);
                if (!a || !ev) {
                    free(a), free(ev);
                    goto oom;
                }
                for (int j = 0; j < r; j++)
                    for (int i = 0; i < in; i++) a[(size_t)j * in + i] *= ev[j];
                free(ev);
                b->a_eff[ei] = a;
            }
            bool merge = e == b->merge_expert;
            if (!mod->magnitude.data && !merge) continue;
            float *afree = NULL;
            if (!a) a = afree = to_f32(&mod->A);
            float *d = a ? lora_product(mod, a, out, in) : NULL;
            float *w = d ? to_f32(W) : NULL;
            free(afree);
            if (!w) {
                free(d);
                goto oom;
            }
            /* w := W + s * B A */
            for (size_t i = 0; i < (size_t)out * in; i++) w[i] += mod->scaling * d[i];
            free(d);
            if (mod->magnitude.data) {
                float *mag = to_f32(&mod->magnitude);
                float *mn = malloc(sizeof(float) * out);
                if (!mag || !mn) {
                    free(mag), free(mn), free(w);
                    goto oom;
                }
                for (int o = 0; o < out; o++) {
                    double ss = 0;
                    for (int i = 0; i < in; i++) {
                        double v = w[(size_t)o * in + i];
                        ss += v * v;
                    }
                    mn[o] = mag[o] / (float)sqrt(ss);
                    if (merge)
                        for (int i = 0; i < in; i++) w[(size_t)o * in + i] *= mn[o];
                }
                free(mag);
                b->dora_mn[ei] = mn;
            }
            if (merge)
                b->merged[lp] = w;
            else
                free(w);
        }
    }
    return 0;
oom:
    return mg_error_set(err, MG_ENOMEM, "engine: out of memory preparing adapters");
}

int mg__cpu_backend_new(const mg_model *m, int n_threads, int merge_expert, mg__backend **out,
                        mg_error *err)
{
    *out = NULL;
    cpu_backend *b = calloc(1, sizeof(*b));
    if (!b) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
    b->base.vt = &cpu_vt;
    b->m = m;
    b->merge_expert = merge_expert;
    b->inv_freq = calloc((size_t)(m->config.head_dim / 2 + 1), sizeof(float));
    int rc = b->inv_freq ? 0 : mg_error_set(err, MG_ENOMEM, "engine: out of memory");
    if (rc == 0) rc = mg_kpool_new(n_threads, &b->pool, err);
    if (rc == 0) rc = cpu_prepare(b, err);
    if (rc < 0) {
        cpu_free(&b->base);
        return rc;
    }
    *out = &b->base;
    return 0;
}
