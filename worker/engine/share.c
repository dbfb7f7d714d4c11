/* share.c — prompt sharing: requests whose prompt pass is the same
 * computation (same ids, strategy and fixed expert: the samples of one task)
 * prefill once. A twin that has not started waits while another computes,
 * then copies its caches, routing decision and last logits; a snapshot of a
 * finished pass is kept for twins still queued behind max_batch. */
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"

void mg__snap_free(mg_engine *e, mg__snap *p)
{
    if (!p) return;
    for (int r = 0; r < p->n_rows; r++) e->be->vt->row_free(e->be, &p->rows[r]);
    if (p->has_aux) e->be->vt->row_free(e->be, &p->aux);
    free(p->prompt), free(p->logits);
    free(p);
}

/* Two requests whose prompt pass is the same computation: same ids, same
 * strategy, same fixed expert (samples of one task). */
static bool same_prompt_work(const mg__seq *a, const mg__seq *b)
{
    return a->req.strategy.kind == b->req.strategy.kind && a->one_hot == b->one_hot &&
           a->req.n_prompt == b->req.n_prompt &&
           !memcmp(a->prompt, b->prompt, sizeof(int32_t) * a->req.n_prompt);
}

bool mg__has_running_twin(const mg_engine *e, const mg__seq *t)
{
    for (int i = 0; i < e->n_seqs; i++) {
        const mg__seq *s = e->seqs[i];
        if (s != t && s->started && !s->primed && (s->ph == PH_ROUTE || s->ph == PH_PROMPT) &&
            same_prompt_work(s, t))
            return true;
    }
    return false;
}

/* t (not started) takes a finished prompt pass: caches, routing decision
 * and last logits. Its first token is chosen with its own RNG keys. */
static void clone_prompt(mg_engine *e, mg__seq *t, const mg__row *rows, int n_rows,
                         const mg__row *aux, const float *logits, int expert)
{
    int V = e->m->config.vocab_size;
    for (int r = n_rows; r < t->n_rows; r++) e->be->vt->row_free(e->be, &t->rows[r]);
    t->n_rows = n_rows;
    free(t->nll);
    t->nll = NULL;
    for (int r = 0; r < n_rows; r++) e->be->vt->row_copy(e->be, &t->rows[r], &rows[r]);
    if (aux) e->be->vt->row_copy(e->be, &t->aux, aux);
    memcpy(t->logits, logits, sizeof(float) * (size_t)V * n_rows);
    t->expert = expert;
    t->fed = t->req.n_prompt;
    t->ph = PH_PROMPT;
    t->started = t->primed = true;
    e->stats.shared_prompts++;
}

static bool snap_matches(const mg__snap *p, const mg__seq *t)
{
    return p->kind == t->req.strategy.kind && p->one_hot == t->one_hot &&
           p->n_prompt == t->req.n_prompt &&
           !memcmp(p->prompt, t->prompt, sizeof(int32_t) * p->n_prompt);
}

/* Keeps s's finished prompt pass while a twin still waits for a slot (best
 * effort: skipped when memory or snapshot slots run out). */
static void snapshot_prompt(mg_engine *e, const mg__seq *s)
{
    bool waiting = false;
    for (int i = 0; i < e->n_seqs && !waiting; i++) {
        const mg__seq *t = e->seqs[i];
        waiting = t->ph == PH_WAIT && !t->started && same_prompt_work(s, t);
    }
    if (!waiting || e->n_snaps == MAX_SNAPS) return;
    for (int i = 0; i < e->n_snaps; i++)
        if (snap_matches(e->snaps[i], s)) return;
    int V = e->m->config.vocab_size, n = s->req.n_prompt;
    mg__snap *p = calloc(1, sizeof(*p));
    if (!p) return;
    p->prompt = malloc(sizeof(int32_t) * n);
    p->logits = malloc(sizeof(float) * (size_t)V * s->n_rows);
    bool ok = p->prompt && p->logits;
    for (int r = 0; ok && r < s->n_rows; r++) {
        ok = e->be->vt->row_init(e->be, &p->rows[r], n, NULL) == 0;
        if (ok) p->n_rows++;
    }
    if (ok && s->has_aux) ok = (p->has_aux = e->be->vt->row_init(e->be, &p->aux, n, NULL) == 0);
    if (!ok) {
        mg__snap_free(e, p);
        return;
    }
    memcpy(p->prompt, s->prompt, sizeof(int32_t) * n);
    p->n_prompt = n;
    p->kind = s->req.strategy.kind;
    p->one_hot = s->one_hot;
    p->expert = s->expert;
    for (int r = 0; r < s->n_rows; r++) e->be->vt->row_copy(e->be, &p->rows[r], &s->rows[r]);
    if (s->has_aux) e->be->vt->row_copy(e->be, &p->aux, &s->aux);
    memcpy(p->logits, s->logits, sizeof(float) * (size_t)V * s->n_rows);
    e->snaps[e->n_snaps++] = p;
}

/* s has just finished its prompt: admitted twins that have not started copy
 * it now; a snapshot serves the twins still waiting for a slot. */
void mg__share_prompt(mg_engine *e, mg__seq *s)
{
    for (int i = 0; i < e->n_seqs; i++) {
        mg__seq *t = e->seqs[i];
        if (t == s || t->ph == PH_WAIT || t->started || !same_prompt_work(s, t)) continue;
        clone_prompt(e, t, s->rows, s->n_rows, s->has_aux ? &s->aux : NULL, s->logits, s->expert);
    }
    snapshot_prompt(e, s);
}

/* Drops snapshots no waiting request can use any more. */
void mg__prune_snapshots(mg_engine *e)
{
    for (int i = 0; i < e->n_snaps;) {
        bool used = false;
        for (int j = 0; j < e->n_seqs && !used; j++)
            used = !e->seqs[j]->started && snap_matches(e->snaps[i], e->seqs[j]);
        if (used) {
            i++;
            continue;
        }
        mg__snap_free(e, e->snaps[i]);
        e->snaps[i] = e->snaps[--e->n_snaps];
    }
}

/* t enters the batch: a kept snapshot of its prompt pass saves its prefill. */
void mg__clone_from_snapshot(mg_engine *e, mg__seq *t)
{
    for (int k = 0; k < e->n_snaps && !t->started; k++) {
        mg__snap *p = e->snaps[k];
        if (snap_matches(p, t))
            clone_prompt(e, t, p->rows, p->n_rows, p->has_aux ? &p->aux : NULL, p->logits,
                         p->expert);
    }
}
