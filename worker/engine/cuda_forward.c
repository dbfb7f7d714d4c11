/* cuda_forward.c — the CUDA backend's batched forward over segments: the
 * same pass as cpu_forward.c (read that file for the model semantics), with
 * activations, weights and KV caches on the device.
 *
 * One step: the host orders the batch with the one-token segments (decodes)
 * first, so their queries are contiguous for the batched decode-attention
 * kernel, then the prompt chunks; it uploads the step's small arrays in one
 * copy (token ids, positions, cache pointers, expert weights per token),
 * enqueues every op on the context's stream, and waits only when the final
 * hidden states or logits come back. Per-token expert weights stay on the
 * host too: the LoRA kernel (BGMV-style) receives only the active (token,
 * expert) pairs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"

#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((rc = (call)) < 0) return rc;                                                          \
    } while (0)

/* The per-step device arrays, as offsets into b->meta / b->h_meta. */
typedef struct step_meta {
    size_t ids, pos, idx, nkv, kb, vb, stride, kc, vc, inv, wcol, bytes;
} step_meta;

static size_t take(size_t *at, size_t bytes)
{
    size_t o = (*at + 15) & ~(size_t)15;
    *at = o + bytes;
    return o;
}

static int grow_device(cuda_backend *b, int n, mg_error *err)
{
    if (n <= b->cap_n) return 0;
    const mg__widths w = mg__model_widths(&b->m->config);
    const size_t E = (size_t)b->m->n_experts;
    float **bufs[] = {&b->x, &b->xn, &b->q, &b->k,        &b->v,       &b->att,
                      &b->o, &b->g,  &b->u, &b->base_out, &b->lora_tmp};
    size_t sizes[] = {w.H, w.H, w.QD, w.KD, w.KD, w.QD, w.wide, w.I, w.I, w.wide, w.wide};
    int rc = 0;
    b->cap_n = 0; /* until every buffer has the new size */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        mg_cuda_dealloc(*bufs[i]);
        *bufs[i] = NULL;
        void *p = NULL;
        TRY(mg_cuda_alloc(b->ctx, sizeof(float) * sizes[i] * (size_t)n, &p, err));
        *bufs[i] = p;
    }
    size_t ne = (size_t)n * (E ? E : 1);
    float *tw = realloc(b->tw, sizeof(float) * ne),
          *gate = tw ? realloc(b->gate, sizeof(float) * ne) : NULL;
    if (tw) b->tw = tw;
    if (gate) b->gate = gate;
    if (!tw || !gate) return mg_error_set(err, MG_ENOMEM, "cuda engine: out of host memory");
    b->cap_n = n;
    return 0;
}

static int grow_segs(cuda_backend *b, int n_segs, mg_error *err)
{
    if (n_segs <= b->cap_segs) return 0;
    int *o = realloc(b->order, sizeof(int) * n_segs);
    if (o) b->order = o;
    int *t = o ? realloc(b->t0, sizeof(int) * n_segs) : NULL;
    if (t) b->t0 = t;
    if (!o || !t) return mg_error_set(err, MG_ENOMEM, "cuda engine: out of host memory");
    b->cap_segs = n_segs;
    return 0;
}

static int grow_meta(cuda_backend *b, size_t bytes, mg_error *err)
{
    if (bytes <= b->cap_meta) return 0;
    size_t want = bytes + bytes / 2;
    char *h = realloc(b->h_meta, want);
    if (!h) return mg_error_set(err, MG_ENOMEM, "cuda engine: out of host memory");
    b->h_meta = h;
    mg_cuda_dealloc(b->meta);
    b->meta = NULL;
    b->cap_meta = 0;
    int rc = mg_cuda_alloc(b->ctx, want, &b->meta, err);
    if (rc < 0) return rc;
    b->cap_meta = want;
    return 0;
}

/* y[N, out] = x[N, in] @ W^T + bias + the LoRA deltas of the tokens'
 * experts (DoRA's recombination for DoRA experts), as cpu_forward.c's
 * project(). wcol: device [E, N], the expert weights by column. */
static int project(cuda_backend *b, int l, int p, const float *x, float *y, int N, int in, int out,
                   const float *wcol, mg_error *err)
{
    const mg_model *m = b->m;
    const cu_layer *cl = &b->layers[l];
    int E = m->n_experts, rc;
    size_t lp = (size_t)l * MG_PROJ_COUNT + p;
    TRY(mg_cuda_matmul(b->ctx, y, x, cl->proj[p], cl->proj_dt[p], N, in, out, false, err));
    if (E == 0) return cl->bias[p] ? mg_cuda_add_bias(b->ctx, y, cl->bias[p], N, out, err) : 0;
    const mg_k_lora_expert *ex = &b->lora[lp * E];
    const float *const *mn = b->dora_mn ? &b->dora_mn[lp * E] : NULL;
    bool dora = false;
    for (int e = 0; mn && e < E; e++) dora |= mn[e] != NULL;
    if (dora) TRY(mg_cuda_copy(b->ctx, b->base_out, y, sizeof(float) * (size_t)N * out, err));
    if (cl->bias[p]) TRY(mg_cuda_add_bias(b->ctx, y, cl->bias[p], N, out, err));
    if (!dora) return mg_cuda_lora(b->ctx, y, x, N, in, out, ex, E, b->tw, err);
    /* Plain experts together, then each DoRA expert through its own delta. */
    size_t ne = (size_t)N * E;
    for (size_t i = 0; i < ne; i++) b->gate[i] = mn[i % E] ? 0.0f : b->tw[i];
    TRY(mg_cuda_lora(b->ctx, y, x, N, in, out, ex, E, b->gate, err));
    for (int e = 0; e < E; e++) {
        if (!mn[e]) continue;
        bool any = false;
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < E; j++) b->gate[(size_t)i * E + j] = 0.0f;
            if (b->tw[(size_t)i * E + e] != 0.0f) b->gate[(size_t)i * E + e] = 1.0f, any = true;
        }
        if (!any) continue;
        TRY(mg_cuda_zero(b->ctx, b->lora_tmp, sizeof(float) * (size_t)N * out, err));
        TRY(mg_cuda_lora(b->ctx, b->lora_tmp, x, N, in, out, ex, E, b->gate, err));
        TRY(mg_cuda_dora(b->ctx, y, b->base_out, b->lora_tmp, mn[e], wcol + (size_t)e * N, N, out,
                         err));
    }
    return 0;
}

/* Fills the host copy of the step's arrays; returns their layout. */
static void build_meta(cuda_backend *b, const mg__segment *segs, int n_segs, int N, int nd, int n_l,
                       bool dynamic, step_meta *sm)
{
    const mg_model *m = b->m;
    const mg_model_config *c = &m->config;
    int L = c->n_layers, E = m->n_experts, half = c->head_dim / 2;
    size_t KD = (size_t)c->n_kv_heads * c->head_dim;
    char *h = b->h_meta;
    int32_t *ids = (int32_t *)(h + sm->ids), *pos = (int32_t *)(h + sm->pos);
    int32_t *idx = (int32_t *)(h + sm->idx), *nkv = (int32_t *)(h + sm->nkv);
    float **kb = (float **)(h + sm->kb), **vb = (float **)(h + sm->vb);
    int64_t *stride = (int64_t *)(h + sm->stride);
    float **kc = (float **)(h + sm->kc), **vc = (float **)(h + sm->vc);
    float *inv = (float *)(h + sm->inv), *wcol = (float *)(h + sm->wcol);
    int j = 0;
    for (int s = 0; s < n_segs; s++) {
        const mg__segment *sg = &segs[s];
        const mg__row *row = sg->row;
        int t0 = b->t0[s];
        for (int t = 0; t < sg->n; t++) {
            int i = t0 + t;
            ids[i] = sg->ids[t];
            pos[i] = row->n_past + t;
            kb[i] = row->k + (size_t)(row->n_past + t) * KD;
            vb[i] = row->v + (size_t)(row->n_past + t) * KD;
            stride[i] = (int64_t)row->cap * (int64_t)KD;
            if (E) {
                const float *w = sg->tok_w ? sg->tok_w + (size_t)t * E : row->w;
                memcpy(b->tw + (size_t)i * E, w, sizeof(float) * E);
                if (b->merge_expert >= 0) b->tw[(size_t)i * E + b->merge_expert] = 1.0f;
                for (int e = 0; e < E; e++) wcol[(size_t)e * N + i] = b->tw[(size_t)i * E + e];
            }
        }
        if (sg->n == 1) { /* decodes sit first: t0 is the decode index */
            nkv[t0] = row->n_past + 1;
            for (int l = 0; l < L; l++) {
                kc[(size_t)l * nd + t0] = row->k + (size_t)l * row->cap * KD;
                vc[(size_t)l * nd + t0] = row->v + (size_t)l * row->cap * KD;
            }
        }
        if (dynamic) mg__rope_inv_freq(c, row->n_past + sg->n, inv + (size_t)s * half);
        if (sg->want & MG__WANT_ALL_LOGITS) {
            for (int t = 0; t < sg->n; t++) idx[j++] = t0 + t;
        } else if (sg->want & MG__WANT_LAST_LOGITS) {
            idx[j++] = t0 + sg->n - 1;
        }
    }
    MG_ASSERT(j == n_l);
    if (!dynamic) {
        mg__rope_inv_freq(c, 0, b->inv_freq);
        memcpy(inv, b->inv_freq, sizeof(float) * half);
    }
}

static int run_layers(cuda_backend *b, const mg__segment *segs, int n_segs, int N, int nd,
                      bool dynamic, const char *dm, const step_meta *sm, mg_error *err)
{
    const mg_model *m = b->m;
    const mg_model_config *c = &m->config;
    int H = c->hidden_size, I = c->intermediate_size;
    int nh = c->n_heads, kvh = c->n_kv_heads, hd = c->head_dim, half = hd / 2;
    int QD = nh * hd, KD = kvh * hd, rc;
    float scale = 1.0f / sqrtf((float)hd);
    const int32_t *pos = (const int32_t *)(dm + sm->pos), *nkv = (const int32_t *)(dm + sm->nkv);
    float *const *kb = (float *const *)(dm + sm->kb), *const *vb = (float *const *)(dm + sm->vb);
    const int64_t *stride = (const int64_t *)(dm + sm->stride);
    const float *const *kc = (const float *const *)(dm + sm->kc);
    const float *const *vc = (const float *const *)(dm + sm->vc);
    const float *inv = (const float *)(dm + sm->inv), *wcol = (const float *)(dm + sm->wcol);
    mg_cuda_ctx *ctx = b->ctx;
    for (int l = 0; l < c->n_layers; l++) {
        const cu_layer *cl = &b->layers[l];
        TRY(mg_cuda_rmsnorm(ctx, b->xn, b->x, cl->attn_norm, cl->attn_norm_dt, N, H,
                            c->rms_norm_eps, c->norm_add_one, err));
        TRY(project(b, l, MG_PROJ_Q, b->xn, b->q, N, H, QD, wcol, err));
        TRY(project(b, l, MG_PROJ_K, b->xn, b->k, N, H, KD, wcol, err));
        TRY(project(b, l, MG_PROJ_V, b->xn, b->v, N, H, KD, wcol, err));
        if (!dynamic) {
            TRY(mg_cuda_rope(ctx, b->q, N, nh, hd, inv, pos, 1.0f, err));
            TRY(mg_cuda_rope(ctx, b->k, N, kvh, hd, inv, pos, 1.0f, err));
        } else {
            for (int s = 0; s < n_segs; s++) {
                size_t t0 = (size_t)b->t0[s];
                const float *f = inv + (size_t)s * half;
                TRY(mg_cuda_rope(ctx, b->q + t0 * QD, segs[s].n, nh, hd, f, pos + t0, 1.0f, err));
                TRY(mg_cuda_rope(ctx, b->k + t0 * KD, segs[s].n, kvh, hd, f, pos + t0, 1.0f, err));
            }
        }
        TRY(mg_cuda_kv_store(ctx, kb, vb, stride, l, b->k, b->v, N, KD, err));
        if (nd)
            TRY(mg_cuda_attention_decode(ctx, b->att, b->q, kc + (size_t)l * nd,
                                         vc + (size_t)l * nd, nkv, nd, nh, kvh, hd, scale,
                                         c->sliding_window, err));
        for (int s = 0; s < n_segs; s++) {
            const mg__segment *sg = &segs[s];
            if (sg->n == 1) continue;
            const mg__row *row = sg->row;
            size_t t0 = (size_t)b->t0[s], lofs = (size_t)l * row->cap * KD;
            TRY(mg_cuda_attention_prefill(ctx, b->att + t0 * QD, b->q + t0 * QD, row->k + lofs,
                                          row->v + lofs, sg->n, row->n_past + sg->n, row->n_past,
                                          nh, kvh, hd, scale, c->sliding_window, err));
        }
        TRY(project(b, l, MG_PROJ_O, b->att, b->o, N, QD, H, wcol, err));
        TRY(mg_cuda_add(ctx, b->x, b->o, (size_t)N * H, err));
        TRY(mg_cuda_rmsnorm(ctx, b->xn, b->x, cl->ffn_norm, cl->ffn_norm_dt, N, H, c->rms_norm_eps,
                            c->norm_add_one, err));
        TRY(project(b, l, MG_PROJ_GATE, b->xn, b->g, N, H, I, wcol, err));
        TRY(project(b, l, MG_PROJ_UP, b->xn, b->u, N, H, I, wcol, err));
        if (c->act == MG_ACT_GELU_TANH)
            TRY(mg_cuda_gelu_tanh_mul(ctx, b->g, b->g, b->u, (size_t)N * I, err));
        else
            TRY(mg_cuda_silu_mul(ctx, b->g, b->g, b->u, (size_t)N * I, err));
        TRY(project(b, l, MG_PROJ_DOWN, b->g, b->o, N, I, H, wcol, err));
        TRY(mg_cuda_add(ctx, b->x, b->o, (size_t)N * H, err));
    }
    return 0;
}

int mg__cuda_forward(mg__backend *bb, mg__segment *segs, int n_segs, mg_error *err)
{
    cuda_backend *b = (cuda_backend *)bb;
    const mg_model *m = b->m;
    const mg_model_config *c = &m->config;
    int H = c->hidden_size, V = c->vocab_size, E = m->n_experts, L = c->n_layers, rc;
    if (b->sticky_rc < 0) {
        rc = b->sticky_rc;
        b->sticky_rc = 0;
        return mg_error_set(err, rc, "cuda engine: copying a KV cache failed: %s", b->sticky.msg);
    }
    int N = 0, nd = 0, n_l = 0;
    for (int s = 0; s < n_segs; s++) {
        const mg__segment *sg = &segs[s];
        if (sg->mod_w)
            return mg_error_set(err, MG_EUNSUPPORTED,
                                "cuda engine: per-module expert weights (X-LoRA layerwise "
                                "scalings) run on the CPU only for now (--device cpu)");
        N += sg->n;
        nd += sg->n == 1;
        if (sg->row->n_past + sg->n > sg->row->cap)
            return mg_error_set(err, MG_ERANGE, "engine: KV cache full (%d > %d positions)",
                                sg->row->n_past + sg->n, sg->row->cap);
        if (sg->want & MG__WANT_ALL_LOGITS)
            n_l += sg->n;
        else if (sg->want & MG__WANT_LAST_LOGITS)
            n_l++;
    }
    if (N == 0) return 0;
    TRY(grow_device(b, N, err));
    TRY(grow_segs(b, n_segs, err));
    /* Batch order: one-token segments first, each keeping its relative order. */
    for (int s = 0, at = 0, pre = nd; s < n_segs; s++) {
        if (segs[s].n == 1)
            b->t0[s] = at++;
        else
            b->t0[s] = pre, pre += segs[s].n;
    }
    bool dynamic = c->rope_scaling.type == MG_ROPE_DYNAMIC;
    int half = c->head_dim / 2;
    step_meta sm;
    size_t at = 0;
    sm.ids = take(&at, sizeof(int32_t) * N);
    sm.pos = take(&at, sizeof(int32_t) * N);
    sm.idx = take(&at, sizeof(int32_t) * (n_l ? n_l : 1));
    sm.nkv = take(&at, sizeof(int32_t) * (nd ? nd : 1));
    sm.kb = take(&at, sizeof(float *) * N);
    sm.vb = take(&at, sizeof(float *) * N);
    sm.stride = take(&at, sizeof(int64_t) * N);
    sm.kc = take(&at, sizeof(float *) * (size_t)L * (nd ? nd : 1));
    sm.vc = take(&at, sizeof(float *) * (size_t)L * (nd ? nd : 1));
    sm.inv = take(&at, sizeof(float) * (size_t)half * (dynamic ? n_segs : 1));
    sm.wcol = take(&at, sizeof(float) * (size_t)N * (E ? E : 1));
    sm.bytes = at;
    TRY(grow_meta(b, sm.bytes, err));
    build_meta(b, segs, n_segs, N, nd, n_l, dynamic, &sm);
    TRY(mg_cuda_upload(b->ctx, b->meta, b->h_meta, sm.bytes, err));
    const char *dm = b->meta;

    float escale = c->scale_embeddings ? (float)sqrt((double)H) : 1.0f;
    TRY(mg_cuda_embedding(b->ctx, b->x, b->embed, m->embed.dtype, V, H,
                          (const int32_t *)(dm + sm.ids), N, escale, err));
    TRY(run_layers(b, segs, n_segs, N, nd, dynamic, dm, &sm, err));

    /* Final norm, then hidden states and lm_head on the wanted rows. */
    TRY(mg_cuda_rmsnorm(b->ctx, b->xn, b->x, b->final_norm, m->final_norm.dtype, N, H,
                        c->rms_norm_eps, c->norm_add_one, err));
    for (int s = 0; s < n_segs; s++) {
        mg__segment *sg = &segs[s];
        if (!(sg->want & MG__WANT_HIDDEN)) continue;
        TRY(mg_cuda_download(b->ctx, sg->hidden, b->xn + (size_t)b->t0[s] * H,
                             sizeof(float) * (size_t)sg->n * H, err));
    }
    if (n_l) {
        if ((size_t)n_l * V > b->cap_logits) {
            mg_cuda_dealloc(b->logits);
            b->logits = NULL;
            b->cap_logits = 0;
            void *p = NULL;
            TRY(mg_cuda_alloc(b->ctx, sizeof(float) * (size_t)n_l * V, &p, err));
            b->logits = p;
            b->cap_logits = (size_t)n_l * V;
        }
        /* b->o holds N rows of max(H, QD, I) floats >= n_l rows of H. */
        TRY(mg_cuda_gather_rows(b->ctx, b->o, b->xn, (const int32_t *)(dm + sm.idx), n_l, H, err));
        TRY(mg_cuda_matmul(b->ctx, b->logits, b->o, b->lm_head, m->lm_head.dtype, n_l, H, V, false,
                           err));
        size_t j = 0;
        for (int s = 0; s < n_segs; s++) {
            mg__segment *sg = &segs[s];
            int rows = (sg->want & MG__WANT_ALL_LOGITS)    ? sg->n
                       : (sg->want & MG__WANT_LAST_LOGITS) ? 1
                                                           : 0;
            if (!rows) continue;
            TRY(mg_cuda_download(b->ctx, sg->logits, b->logits + j * V,
                                 sizeof(float) * (size_t)rows * V, err));
            j += rows;
        }
    } else {
        TRY(mg_cuda_sync(b->ctx, err));
    }
    for (int s = 0; s < n_segs; s++) segs[s].row->n_past += segs[s].n;
    return 0;
}
