/* engine.c — requests, continuous batching and the routing strategies.
 *
 * A request becomes a sequence with one or more KV-cache rows:
 *   router      one row: a routing pass over the prompt with every expert at
 *               weight 1 (final-norm states -> gate -> top-1 votes), then the
 *               same row is reset and re-run with the voted expert alone;
 *   single:N, round_robin, base   one row with a one-hot (or zero) weight;
 *   best        one row per expert over the prompt, accumulating the prompt's
 *               NLL; the winner's row keeps its cache and generates;
 *   ensemble    one row per expert, every step averages their softmaxes;
 *   mix         an auxiliary base-model row gives each token its gates
 *               softmax(router logits / T); the main row uses them per token;
 *   xlora       the same shape with X-LoRA's scaling pass as the auxiliary
 *               row (every adapter at scaling_pass_value) and its classifier
 *               giving per-token (and, layerwise, per-module) scalings.
 * Each step gathers a segment per row (prefill chunk or one decode token),
 * runs them as one batch through the backend, then picks tokens.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"

mg_engine_params mg_engine_default_params(void)
{
    return (mg_engine_params){.device = MG_DEVICE_CPU,
                              .device_index = 0,
                              .n_threads = 0,
                              .max_batch = 16,
                              .max_seq_len = 0,
                              .prefill_chunk = 256,
                              .merge_single = false,
                              .merge_expert = -1};
}

/* ---- devices ------------------------------------------------------------------ */

/* The CUDA backend's factory when this binary links it (moegen-cuda sets it
 * once at start, before any engine exists; read-only afterwards). */
static const mg__backend_factory *cuda_factory;

void mg__register_backend(mg_device_kind kind, const mg__backend_factory *f)
{
    if (kind == MG_DEVICE_CUDA) cuda_factory = f;
}

int mg_engine_device_parse(const char *s, mg_device_kind *kind, int *index, mg_error *err)
{
    *kind = MG_DEVICE_CPU;
    *index = 0;
    if (s && !strcmp(s, "cpu")) return 0;
    if (s && !strncmp(s, "cuda", 4)) {
        *kind = MG_DEVICE_CUDA;
        if (s[4] == '\0') return 0;
        char *end = NULL;
        long v = s[4] == ':' && s[5] >= '0' && s[5] <= '9' ? strtol(s + 5, &end, 10) : -1;
        if (v >= 0 && v < 4096 && end && *end == '\0') {
            *index = (int)v;
            return 0;
        }
    }
    return mg_error_set(err, MG_EINVAL, "device '%s': expected cpu, cuda or cuda:N",
                        s ? s : "(null)");
}

int mg_engine_device_count(mg_device_kind kind, int *n, mg_error *err)
{
    *n = 0;
    if (kind == MG_DEVICE_CPU) {
        *n = 1;
        return 0;
    }
    if (!cuda_factory)
        return mg_error_set(err, MG_EUNSUPPORTED,
                            "the CUDA backend is not in this binary (the CPU-only moegen); run "
                            "moegen-cuda, built when CMake finds nvcc");
    return cuda_factory->device_count(n, err);
}

/* ---- lifecycle --------------------------------------------------------------- */

int mg_engine_new(const mg_model *model, const mg_engine_params *p, mg_engine **out, mg_error *err)
{
    *out = NULL;
    int rc = mg__validate_model(model, err);
    if (rc < 0) return rc;
    mg_engine *e = calloc(1, sizeof(*e));
    if (!e) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
    e->m = model;
    e->p = p ? *p : mg_engine_default_params();
    if (e->p.max_batch <= 0) e->p.max_batch = 16;
    if (e->p.prefill_chunk <= 0) e->p.prefill_chunk = 256;
    int merge = -1;
    if (e->p.merge_single) {
        if (e->p.merge_expert < 0 || e->p.merge_expert >= model->n_experts) {
            int me = e->p.merge_expert;
            free(e);
            return mg_error_set(err, MG_EINVAL, "engine: cannot merge expert %d of %d", me,
                                model->n_experts);
        }
        merge = e->p.merge_expert;
    }
    e->scores = malloc(sizeof(float) * model->config.vocab_size);
    if (!e->scores) {
        free(e);
        return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
    }
    if (e->p.device == MG_DEVICE_CUDA) {
        int n = 0;
        rc = mg_engine_device_count(MG_DEVICE_CUDA, &n, err);
        if (rc == 0 && (e->p.device_index < 0 || e->p.device_index >= n))
            rc = mg_error_set(err, MG_EINVAL, "device cuda:%d: %d GPU%s visible", e->p.device_index,
                              n, n == 1 ? "" : "s");
        if (rc == 0) rc = cuda_factory->create(model, &e->p, merge, &e->be, err);
    } else {
        rc = mg__cpu_backend_new(model, e->p.n_threads, merge, &e->be, err);
    }
    if (rc < 0) {
        free(e->scores);
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

static void seq_free(mg_engine *e, mg__seq *s)
{
    if (!s) return;
    for (int r = 0; r < s->n_rows; r++) e->be->vt->row_free(e->be, &s->rows[r]);
    if (s->has_aux) e->be->vt->row_free(e->be, &s->aux);
    free(s->prompt), free(s->votes), free(s->nll), free(s->logits), free(s->chunk_logits);
    free(s->hidden), free(s->tok_w);
    free(s);
}

void mg_engine_free(mg_engine *e)
{
    if (!e) return;
    for (int i = 0; i < e->n_seqs; i++) seq_free(e, e->seqs[i]);
    for (int i = 0; i < e->n_snaps; i++) mg__snap_free(e, e->snaps[i]);
    free(e->seqs), free(e->pend), free(e->segs), free(e->scores), free(e->rlog);
    if (e->be) e->be->vt->free(e->be);
    free(e);
}

int mg_engine_active(const mg_engine *e)
{
    int n = e->n_seqs;
    for (int i = 0; i < e->n_pend; i++)
        if (e->pend[i].finish != MG_FINISH_NONE) n++;
    return n;
}

/* ---- submit / cancel ------------------------------------------------------------ */

/* Frees what activate() allocated; the request goes back to its submitted
 * state. */
static void deactivate(mg_engine *e, mg__seq *s)
{
    for (int r = 0; r < s->n_rows; r++) e->be->vt->row_free(e->be, &s->rows[r]);
    s->n_rows = 0;
    if (s->has_aux) e->be->vt->row_free(e->be, &s->aux);
    s->has_aux = false;
    free(s->votes), free(s->nll), free(s->logits), free(s->chunk_logits);
    free(s->hidden), free(s->tok_w);
    s->votes = NULL, s->nll = NULL, s->logits = NULL, s->chunk_logits = NULL;
    s->hidden = NULL, s->tok_w = NULL;
}

/* Allocates a request's caches and buffers when it enters the batch, so
 * queued requests cost no memory. */
static int activate(mg_engine *e, mg__seq *s, mg_error *err)
{
    const mg_model *m = e->m;
    int E = m->n_experts, V_ = m->config.vocab_size, H = m->config.hidden_size;
    mg_strategy_kind k = s->req.strategy.kind;
    int rows = s->want_rows, cap = s->cap, one_hot = s->one_hot, rc;
    bool route = s->route;
    int chunk = e->p.prefill_chunk;
    for (int i = 0; i < rows; i++) {
        if ((rc = e->be->vt->row_init(e->be, &s->rows[i], cap, err)) < 0) goto fail;
        s->n_rows++;
        if (k == MG_STRATEGY_BEST || k == MG_STRATEGY_ENSEMBLE) s->rows[i].w[i] = 1.0f;
    }
    if (one_hot >= 0 && !e->p.merge_single) s->rows[0].w[one_hot] = 1.0f;
    if (route)
        for (int i = 0; i < E; i++) s->rows[0].w[i] = 1.0f;
    s->logits = malloc(sizeof(float) * (size_t)V_ * rows);
    if (!s->logits) goto oom;
    if (route) {
        s->votes = calloc(E, sizeof(int64_t));
        s->hidden = malloc(sizeof(float) * (size_t)chunk * H);
        if (!s->votes || !s->hidden) goto oom;
    }
    s->chunk_cap = chunk;
    if (k == MG_STRATEGY_BEST) {
        /* Every prompt position's logits, for every expert: keep that buffer
         * near 64 MiB (a 256k vocabulary with 4 experts -> 16 tokens). */
        long per_tok = (long)V_ * rows;
        long cap_tok = (16L << 20) / (per_tok ? per_tok : 1);
        if (cap_tok < 1) cap_tok = 1;
        if (cap_tok < chunk) chunk = s->chunk_cap = (int)cap_tok;
        s->nll = calloc(E, sizeof(double));
        s->chunk_logits = malloc(sizeof(float) * (size_t)V_ * chunk * rows);
        if (!s->nll || !s->chunk_logits) goto oom;
    }
    if (k == MG_STRATEGY_MIX || k == MG_STRATEGY_XLORA) {
        /* The auxiliary row: mix's base-model pass, X-LoRA's scaling pass. */
        if ((rc = e->be->vt->row_init(e->be, &s->aux, cap, err)) < 0) goto fail;
        s->has_aux = true;
        size_t per_tok = (size_t)E;
        if (k == MG_STRATEGY_XLORA) {
            mg__xlora_pass_weights(m, s->aux.w);
            per_tok = mg__xlora_weights_per_token(m);
        }
        s->hidden = malloc(sizeof(float) * (size_t)chunk * H);
        s->tok_w = malloc(sizeof(float) * (size_t)chunk * per_tok);
        if (!s->hidden || !s->tok_w) goto oom;
    }
    return 0;
oom:
    rc = mg_error_set(err, MG_ENOMEM, "engine: out of memory");
fail:
    deactivate(e, s);
    return rc;
}

int mg_engine_submit(mg_engine *e, const mg_request *r, mg_error *err)
{
    const mg_model *m = e->m;
    int V = m->config.vocab_size, E = m->n_experts;
    if (r->n_prompt < 1 || !r->prompt_ids)
        return mg_error_set(err, MG_EINVAL, "request %llu: empty prompt",
                            (unsigned long long)r->id);
    for (int i = 0; i < r->n_prompt; i++)
        if (r->prompt_ids[i] < 0 || r->prompt_ids[i] >= V)
            return mg_error_set(err, MG_EINVAL,
                                "request %llu: prompt token %d is %d, outside the vocabulary "
                                "(0..%d)",
                                (unsigned long long)r->id, i, r->prompt_ids[i], V - 1);
    for (int i = 0; i < e->n_seqs; i++)
        if (e->seqs[i]->req.id == r->id)
            return mg_error_set(err, MG_EEXIST, "request %llu: id already live",
                                (unsigned long long)r->id);
    if (!r->sampling.greedy) {
        const mg_sampling *sp = &r->sampling;
        if (!(sp->temperature > 0) || !isfinite(sp->temperature))
            return mg_error_set(err, MG_EINVAL, "request %llu: temperature must be > 0",
                                (unsigned long long)r->id);
        if (!(sp->top_p > 0 && sp->top_p <= 1) || sp->top_k < 0)
            return mg_error_set(err, MG_EINVAL,
                                "request %llu: top_p must be in (0, 1] and top_k >= 0",
                                (unsigned long long)r->id);
    }
    int rc = mg_strategy_check(&r->strategy, m, err);
    if (rc < 0) return rc;

    mg__seq *s = calloc(1, sizeof(*s));
    if (!s) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
    s->req = *r;
    if (s->req.max_new_tokens <= 0) s->req.max_new_tokens = 768;
    s->prompt = malloc(sizeof(int32_t) * r->n_prompt);
    if (!s->prompt) {
        free(s);
        return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
    }
    memcpy(s->prompt, r->prompt_ids, sizeof(int32_t) * r->n_prompt);
    s->req.prompt_ids = s->prompt;
    s->expert = -1;
    s->ph = PH_WAIT;

    /* Resolve the strategy into rows and their weights. */
    mg_strategy_kind k = r->strategy.kind;
    int one_hot = -1;
    bool route = false;
    switch (k) {
    case MG_STRATEGY_SINGLE:
        one_hot = r->strategy.expert;
        break;
    case MG_STRATEGY_ROUND_ROBIN:
        one_hot = (int)(r->sample_index % (uint32_t)E);
        break;
    case MG_STRATEGY_ROUTER:
        if (E == 1)
            one_hot = 0;
        else
            route = true;
        break;
    default:
        break;
    }
    s->n_rows = (k == MG_STRATEGY_BEST || k == MG_STRATEGY_ENSEMBLE) ? E : 1;
    if (s->n_rows > MAX_ROWS) {
        seq_free(e, s);
        return mg_error_set(err, MG_EUNSUPPORTED,
                            "request %llu: %d experts exceed the engine's %d rows per sequence",
                            (unsigned long long)r->id, E, MAX_ROWS);
    }
    if (e->p.merge_single) {
        bool ok = one_hot == e->p.merge_expert && s->n_rows == 1;
        if (!ok) {
            s->n_rows = 0;
            seq_free(e, s);
            return mg_error_set(err, MG_EINVAL,
                                "request %llu: the engine merged expert %d; strategy must use "
                                "that expert alone",
                                (unsigned long long)r->id, e->p.merge_expert);
        }
    }
    int cap = r->n_prompt + s->req.max_new_tokens;
    if (e->p.max_seq_len > 0 && cap > e->p.max_seq_len) cap = e->p.max_seq_len;
    if (cap < r->n_prompt + 1) {
        s->n_rows = 0;
        seq_free(e, s);
        return mg_error_set(err, MG_ERANGE,
                            "request %llu: prompt of %d tokens leaves no room in a %d-position "
                            "context",
                            (unsigned long long)r->id, r->n_prompt, e->p.max_seq_len);
    }
    s->one_hot = one_hot;
    if (one_hot >= 0) s->expert = one_hot;
    s->route = route;
    s->want_rows = s->n_rows;
    s->n_rows = 0;
    s->cap = cap;
    s->ph = PH_WAIT;
    if (e->n_seqs == e->cap_seqs) {
        int nc = e->cap_seqs ? 2 * e->cap_seqs : 16;
        mg__seq **ns = realloc(e->seqs, sizeof(mg__seq *) * nc);
        if (!ns) goto oom;
        e->seqs = ns;
        e->cap_seqs = nc;
    }
    e->seqs[e->n_seqs++] = s;
    return 0;
oom:
    seq_free(e, s);
    return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
}

void mg_engine_cancel(mg_engine *e, uint64_t id)
{
    for (int i = 0; i < e->n_seqs; i++)
        if (e->seqs[i]->req.id == id) e->seqs[i]->cancel = true;
}

/* ---- the step ------------------------------------------------------------------ */

static int push_event(mg_engine *e, const mg_token_event *ev, mg_error *err)
{
    if (e->n_pend == e->cap_pend) {
        int nc = e->cap_pend ? 2 * e->cap_pend : 64;
        mg_token_event *np = realloc(e->pend, sizeof(*np) * nc);
        if (!np) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
        e->pend = np;
        e->cap_pend = nc;
    }
    e->pend[e->n_pend++] = *ev;
    return 0;
}

static int add_seg(mg_engine *e, int *n, mg__segment sg, mg_error *err)
{
    if (*n == e->cap_segs) {
        int nc = e->cap_segs ? 2 * e->cap_segs : 64;
        mg__segment *ns = realloc(e->segs, sizeof(*ns) * nc);
        if (!ns) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
        e->segs = ns;
        e->cap_segs = nc;
    }
    e->segs[(*n)++] = sg;
    return 0;
}

static void remove_seq(mg_engine *e, int i)
{
    seq_free(e, e->seqs[i]);
    memmove(e->seqs + i, e->seqs + i + 1, sizeof(mg__seq *) * (e->n_seqs - i - 1));
    e->n_seqs--;
}

static int finish(mg_engine *e, mg__seq *s, int32_t tok, mg_finish f, mg_error *err)
{
    mg_token_event ev = {.id = s->req.id,
                         .token = tok,
                         .finish = f,
                         .n_prompt = s->req.n_prompt,
                         .n_generated = s->n_gen,
                         .expert = s->expert};
    return push_event(e, &ev, err);
}

/* Router logits [n, E] = hidden[n, H] @ gate^T + bias. */
static int router_logits(mg_engine *e, const float *hidden, int n, mg_error *err)
{
    const mg_model *m = e->m;
    int E = m->n_experts, H = m->config.hidden_size;
    if (n * E > e->cap_rlog) {
        float *p = realloc(e->rlog, sizeof(float) * (size_t)n * E);
        if (!p) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
        e->rlog = p;
        e->cap_rlog = n * E;
    }
    mg_k_matmul(NULL, e->rlog, hidden, m->router.weight.data, m->router.weight.dtype, n, H, E,
                false);
    if (m->router.bias.data) {
        float *b = malloc(sizeof(float) * E);
        if (!b) return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
        mg_k_to_f32(b, m->router.bias.data, m->router.bias.dtype, E);
        for (int t = 0; t < n; t++)
            for (int j = 0; j < E; j++) e->rlog[(size_t)t * E + j] += b[j];
        free(b);
    }
    return 0;
}

/* Picks the next token from the rows' last logits and reports it. Returns 1
 * when the sequence finished, 0 when it continues, < 0 on error. */
static int choose_token(mg_engine *e, mg__seq *s, mg_error *err)
{
    int V = e->m->config.vocab_size;
    float *sc = e->scores;
    if (s->n_rows == 1) {
        memcpy(sc, s->logits, sizeof(float) * V);
    } else {
        /* Ensemble: log of the mean of the rows' softmax distributions. */
        for (int i = 0; i < V; i++) sc[i] = 0;
        for (int r = 0; r < s->n_rows; r++) {
            const float *lg = s->logits + (size_t)r * V;
            float mx = lg[0];
            for (int i = 1; i < V; i++) mx = lg[i] > mx ? lg[i] : mx;
            double sum = 0;
            for (int i = 0; i < V; i++) sum += exp((double)lg[i] - mx);
            for (int i = 0; i < V; i++) sc[i] += (float)(exp((double)lg[i] - mx) / sum / s->n_rows);
        }
        for (int i = 0; i < V; i++) sc[i] = logf(sc[i]);
    }
    if (s->n_gen == 0 && s->req.first_logits) memcpy(s->req.first_logits, sc, sizeof(float) * V);
    if (mg_sampling_warp(&s->req.sampling, sc, V) < 0)
        return mg_error_set(err, MG_ENOMEM, "engine: out of memory");
    double u = s->req.sampling.greedy ? 0.0
                                      : mg_rng_uniform(s->req.sampling.seed, s->req.task_key,
                                                       s->req.sample_index, (uint32_t)s->n_gen);
    int32_t tok = mg_sampling_pick(&s->req.sampling, sc, V, u);
    s->n_gen++;
    const mg_model_config *c = &e->m->config;
    bool eos = false;
    for (int i = 0; i < c->n_eos && !s->req.ignore_eos; i++)
        if (c->eos_token_ids[i] == tok) eos = true;
    mg_finish f = MG_FINISH_NONE;
    if (eos)
        f = MG_FINISH_EOS;
    else if (s->n_gen >= s->req.max_new_tokens || s->rows[0].n_past + 1 > s->rows[0].cap)
        f = MG_FINISH_LENGTH;
    int rc = finish(e, s, tok, f, err);
    if (rc < 0) return rc;
    s->next = tok;
    s->ph = PH_DECODE;
    return f != MG_FINISH_NONE;
}

void mg_engine_get_stats(const mg_engine *e, mg_engine_stats *out)
{
    *out = e->stats;
}

int mg_engine_step(mg_engine *e, mg_token_event *events, int max_events, int *n_events,
                   mg_error *err)
{
    *n_events = 0;
    int rc = 0;
    const mg_model *m = e->m;
    int V = m->config.vocab_size, E = m->n_experts;
    if (e->n_pend == 0) {
        /* Cancellations first: they free their slot for admission. */
        for (int i = 0; i < e->n_seqs;) {
            mg__seq *s = e->seqs[i];
            if (s->cancel) {
                if ((rc = finish(e, s, -1, MG_FINISH_CANCEL, err)) < 0) return rc;
                remove_seq(e, i);
            } else {
                i++;
            }
        }
        if (e->n_snaps) mg__prune_snapshots(e);
        int running = 0;
        for (int i = 0; i < e->n_seqs; i++) {
            mg__seq *s = e->seqs[i];
            if (s->ph == PH_WAIT && running < e->p.max_batch) {
                if ((rc = activate(e, s, err)) < 0) return rc;
                s->ph = s->route ? PH_ROUTE : PH_PROMPT;
                mg__clone_from_snapshot(e, s);
            }
            if (s->ph != PH_WAIT) running++;
        }
        /* Segments: one decode token per decoding row; prompt chunks share a
         * budget of prefill_chunk tokens per step (at least one chunk runs). */
        int n_pre = 0, n_main = 0, budget = e->p.prefill_chunk;
        /* Pass 1: the mix auxiliary rows (their gates feed pass 2). */
        for (int i = 0; i < e->n_seqs; i++) {
            mg__seq *s = e->seqs[i];
            s->seg_n = 0;
            if (s->ph == PH_WAIT || s->primed) continue;
            if (s->ph == PH_DECODE) {
                s->seg_n = 1;
            } else {
                /* A twin already computing this prompt will lend its cache. */
                if (!s->started && mg__has_running_twin(e, s)) continue;
                s->started = true;
                int left = s->req.n_prompt - s->fed;
                int n = left < budget ? left : budget;
                if (n > s->chunk_cap) n = s->chunk_cap;
                if (n <= 0) continue;
                budget -= n;
                s->seg_n = n;
            }
            if (s->has_aux) {
                const int32_t *ids = s->ph == PH_DECODE ? &s->next : s->prompt + s->fed;
                mg__segment sg = {&s->aux,         ids,  s->seg_n,  NULL,
                                  MG__WANT_HIDDEN, NULL, s->hidden, NULL};
                if ((rc = add_seg(e, &n_pre, sg, err)) < 0) return rc;
            }
        }
        if (n_pre) {
            if ((rc = e->be->vt->forward(e->be, e->segs, n_pre, err)) < 0) return rc;
            for (int i = 0; i < e->n_seqs; i++) {
                mg__seq *s = e->seqs[i];
                if (!s->has_aux || !s->seg_n) continue;
                if (s->req.strategy.kind == MG_STRATEGY_XLORA) {
                    rc = mg__xlora_scalings(m, s->hidden, s->seg_n, s->tok_w, err);
                    if (rc < 0) return rc;
                    continue;
                }
                if ((rc = router_logits(e, s->hidden, s->seg_n, err)) < 0) return rc;
                float T = m->router.temperature > 0 ? m->router.temperature : 1.0f;
                for (int t = 0; t < s->seg_n; t++) {
                    float *g = s->tok_w + (size_t)t * E;
                    const float *lg = e->rlog + (size_t)t * E;
                    float mx = -INFINITY;
                    for (int j = 0; j < E; j++) {
                        g[j] = lg[j] / T;
                        mx = g[j] > mx ? g[j] : mx;
                    }
                    float sum = 0;
                    for (int j = 0; j < E; j++) sum += (g[j] = expf(g[j] - mx));
                    for (int j = 0; j < E; j++) g[j] /= sum;
                }
            }
        }
        /* Pass 2: every row. */
        for (int i = 0; i < e->n_seqs; i++) {
            mg__seq *s = e->seqs[i];
            if (!s->seg_n) continue;
            const int32_t *ids = s->ph == PH_DECODE ? &s->next : s->prompt + s->fed;
            bool last = s->ph == PH_DECODE || s->fed + s->seg_n == s->req.n_prompt;
            for (int r = 0; r < s->n_rows; r++) {
                mg__segment sg = {&s->rows[r], ids, s->seg_n, s->tok_w, 0, NULL, NULL, NULL};
                if (s->req.strategy.kind == MG_STRATEGY_XLORA && m->xlora->layerwise_scalings) {
                    sg.mod_w = s->tok_w; /* [n, L * P, E] */
                    sg.tok_w = NULL;
                }
                if (s->ph == PH_ROUTE) {
                    sg.want = MG__WANT_HIDDEN;
                    sg.hidden = s->hidden;
                } else if (s->ph == PH_PROMPT && s->nll) {
                    sg.want = MG__WANT_ALL_LOGITS;
                    sg.logits = s->chunk_logits + (size_t)r * s->chunk_cap * V;
                } else if (last) {
                    sg.want = MG__WANT_LAST_LOGITS;
                    sg.logits = s->logits + (size_t)r * V;
                }
                if ((rc = add_seg(e, &n_main, sg, err)) < 0) return rc;
            }
        }
        if (n_main && (rc = e->be->vt->forward(e->be, e->segs, n_main, err)) < 0) return rc;
        for (int j = 0; j < n_main; j++) e->stats.forward_tokens += e->segs[j].n;
        if (n_main) e->stats.steps++;

        /* Results: votes, NLL, tokens. */
        for (int i = 0; i < e->n_seqs;) {
            mg__seq *s = e->seqs[i];
            int done = 0;
            if (!s->seg_n) {
                if (s->primed && s->ph != PH_WAIT) {
                    s->primed = false;
                    if ((rc = done = choose_token(e, s, err)) < 0) return rc;
                    if (done) {
                        remove_seq(e, i);
                        continue;
                    }
                }
                i++;
                continue;
            }
            if (s->ph == PH_ROUTE) {
                if ((rc = router_logits(e, s->hidden, s->seg_n, err)) < 0) return rc;
                for (int t = 0; t < s->seg_n; t++) {
                    const float *lg = e->rlog + (size_t)t * E;
                    int b = 0;
                    for (int j = 1; j < E; j++)
                        if (lg[j] > lg[b]) b = j;
                    s->votes[b]++;
                }
                s->fed += s->seg_n;
                if (s->fed == s->req.n_prompt) {
                    int b = 0;
                    for (int j = 1; j < E; j++)
                        if (s->votes[j] > s->votes[b]) b = j;
                    s->expert = b;
                    mg__row *row = &s->rows[0];
                    row->n_past = 0;
                    for (int j = 0; j < E; j++) row->w[j] = j == b ? 1.0f : 0.0f;
                    s->fed = 0;
                    s->ph = PH_PROMPT;
                }
            } else if (s->ph == PH_PROMPT) {
                if (s->nll) {
                    /* Position p predicts prompt[p + 1]. */
                    for (int r = 0; r < s->n_rows; r++) {
                        const float *cl = s->chunk_logits + (size_t)r * s->chunk_cap * V;
                        for (int t = 0; t < s->seg_n; t++) {
                            int p = s->fed + t;
                            const float *lg = cl + (size_t)t * V;
                            if (p + 1 < s->req.n_prompt) {
                                float mx = lg[0];
                                for (int j = 1; j < V; j++) mx = lg[j] > mx ? lg[j] : mx;
                                double sum = 0;
                                for (int j = 0; j < V; j++) sum += exp((double)lg[j] - mx);
                                s->nll[r] += log(sum) + mx - lg[s->prompt[p + 1]];
                            } else {
                                memcpy(s->logits + (size_t)r * V, lg, sizeof(float) * V);
                            }
                        }
                    }
                }
                s->fed += s->seg_n;
                if (s->fed == s->req.n_prompt) {
                    if (s->nll) {
                        int b = 0;
                        for (int j = 1; j < s->n_rows; j++)
                            if (s->nll[j] < s->nll[b]) b = j;
                        s->expert = b;
                        if (b != 0) {
                            mg__row tmp = s->rows[0];
                            s->rows[0] = s->rows[b];
                            s->rows[b] = tmp;
                            memcpy(s->logits, s->logits + (size_t)b * V, sizeof(float) * V);
                        }
                        for (int r = 1; r < s->n_rows; r++) e->be->vt->row_free(e->be, &s->rows[r]);
                        s->n_rows = 1;
                        free(s->nll);
                        s->nll = NULL;
                    }
                    mg__share_prompt(e, s);
                    if ((rc = done = choose_token(e, s, err)) < 0) return rc;
                }
            } else {
                if ((rc = done = choose_token(e, s, err)) < 0) return rc;
            }
            if (done)
                remove_seq(e, i);
            else
                i++;
        }
    }
    int n = e->n_pend < max_events ? e->n_pend : max_events;
    if (n > 0) {
        memcpy(events, e->pend, sizeof(*events) * n);
        memmove(e->pend, e->pend + n, sizeof(*events) * (e->n_pend - n));
    }
    e->n_pend -= n;
    *n_events = n;
    return 0;
}

/* ---- direct forward ------------------------------------------------------------- */

int mg_engine_forward_logits(mg_engine *e, const float *expert_w, const int32_t *ids, int n,
                             float *logits, mg_error *err)
{
    const mg_model *m = e->m;
    if (n < 1) return mg_error_set(err, MG_EINVAL, "forward: empty input");
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->config.vocab_size)
            return mg_error_set(err, MG_EINVAL, "forward: token %d is %d, outside the vocabulary",
                                i, ids[i]);
    mg__row row = {0};
    int rc = e->be->vt->row_init(e->be, &row, n, err);
    if (rc < 0) return rc;
    if (expert_w && m->n_experts) memcpy(row.w, expert_w, sizeof(float) * m->n_experts);
    mg__segment sg = {&row, ids, n, NULL, MG__WANT_ALL_LOGITS, logits, NULL, NULL};
    rc = e->be->vt->forward(e->be, &sg, 1, err);
    e->be->vt->row_free(e->be, &row);
    return rc;
}
