/* worker.c — the worker process loop (see mg_worker.h): requests from the
 * ring go into the engine, tokens come back out as streamed text. */
#include "mg_worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mg_engine.h"
#include "mg_log.h"
#include "mg_model.h"
#include "mg_ring.h"
#include "mg_tokenizer.h"

/* One REQUEST: shared by its sample slots until the last one finishes. */
typedef struct wreq {
    mg_msg_request m;
    mg_strategy strategy;
    size_t max_stop; /* longest stop string (bytes) */
    int live;        /* slots not yet finished */
} wreq;

/* One sample being generated. */
typedef struct wsample {
    uint64_t eng_id;
    wreq *rq;
    uint32_t slot;
    mg_detok *detok;
    char *text; /* everything decoded so far, for the stop search */
    size_t len, cap;
    bool stopped;   /* a stop string appeared: cancelled in the engine, no more text */
    bool cancelled; /* the coordinator cancelled it */
} wsample;

typedef struct worker {
    const mg_worker_params *p;
    mg_ring *req, *res;
    mg_model *model;
    mg_tokenizer *tok;
    mg_engine *engine;
    wsample **live;
    size_t n_live, cap_live;
    uint64_t next_eng_id;
    bool shutdown;
    bool peer_gone;
} worker;

mg_worker_params mg_worker_default_params(void)
{
    return (mg_worker_params){.index = 0,
                              .req_fd = -1,
                              .res_fd = -1,
                              .doorbell_fd = -1,
                              .peer_doorbell_fd = -1,
                              .device = "cpu",
                              .n_threads = 0,
                              .max_batch = 8,
                              .max_seq_len = 0};
}

/* ---- sending with backpressure ---------------------------------------------------------- */

/* Waits for room in the result ring. The coordinator always drains results,
 * so this only blocks while it is busy; EOF on the doorbell means it died. */
static int wait_room(worker *w, size_t len)
{
    if (!mg_ring_producer_sleep_ok(w->res, len)) return 0;
    int rc = mg_doorbell_wait(w->p->doorbell_fd, 1000);
    if (rc == MG_EPIPE) w->peer_gone = true;
    return rc < 0 ? rc : 0;
}

static int send_text(worker *w, uint64_t req_id, uint32_t slot, const char *s, size_t n)
{
    /* Split pieces larger than the ring can carry (never in practice). */
    size_t max = mg_ring_max_payload(w->res) - 16;
    while (n) {
        size_t k = n < max ? n : max;
        int rc;
        while ((rc = mg_msg_send_text(w->res, req_id, slot, s, k)) == MG_EAGAIN)
            if ((rc = wait_room(w, k + 12)) < 0) return rc;
        if (rc < 0) return rc;
        s += k;
        n -= k;
    }
    return 0;
}

static int send_done(worker *w, const mg_msg_done *d)
{
    int rc;
    while ((rc = mg_msg_send_done(w->res, d)) == MG_EAGAIN)
        if ((rc = wait_room(w, 8 + 24 + 4 * MG_MSG_MAX_EXPERTS)) < 0) return rc;
    return rc;
}

static int send_error(worker *w, uint64_t req_id, int code, const char *msg)
{
    mg_msg_error e = {.req_id = req_id, .code = code};
    snprintf(e.msg, sizeof e.msg, "%s", msg);
    int rc;
    while ((rc = mg_msg_send_error(w->res, &e)) == MG_EAGAIN)
        if ((rc = wait_room(w, sizeof e.msg + 16)) < 0) return rc;
    return rc;
}

/* ---- samples -------------------------------------------------------------------------- */

static void sample_free(wsample *s)
{
    if (!s) return;
    mg_detok_free(s->detok);
    free(s->text);
    free(s);
}

static void req_release(wreq *rq)
{
    if (--rq->live == 0) {
        mg_msg_request_free(&rq->m);
        free(rq);
    }
}

static wsample *find_sample(worker *w, uint64_t eng_id, size_t *at)
{
    for (size_t i = 0; i < w->n_live; i++)
        if (w->live[i]->eng_id == eng_id) {
            *at = i;
            return w->live[i];
        }
    return NULL;
}

static void remove_sample(worker *w, size_t at)
{
    wsample *s = w->live[at];
    w->live[at] = w->live[--w->n_live];
    req_release(s->rq);
    sample_free(s);
}

/* Appends a decoded piece and reports whether a stop string now appears.
 * Only the tail that could hold a new match is searched. */
static int append_and_check(wsample *s, const char *piece, size_t n, bool *hit)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1) cap *= 2;
        char *t = realloc(s->text, cap);
        if (!t) return MG_ENOMEM;
        s->text = t;
        s->cap = cap;
    }
    size_t old = s->len;
    memcpy(s->text + s->len, piece, n);
    s->len += n;
    s->text[s->len] = 0;
    size_t from =
        s->rq->max_stop > 0 && old > s->rq->max_stop - 1 ? old - (s->rq->max_stop - 1) : 0;
    *hit = false;
    for (uint32_t i = 0; i < s->rq->m.n_stops && !*hit; i++) {
        const char *st = s->rq->m.stops[i];
        size_t sl = strlen(st);
        if (sl && memmem(s->text + from, s->len - from, st, sl)) *hit = true;
    }
    return 0;
}

/* ---- requests ------------------------------------------------------------------------- */

static int handle_request(worker *w, const mg_ring_msg *msg, mg_error *err)
{
    wreq *rq = calloc(1, sizeof *rq);
    if (!rq) return mg_error_set(err, MG_ENOMEM, "worker: out of memory");
    int rc = mg_msg_decode_request(msg, &rq->m, err);
    if (rc < 0) {
        free(rq);
        return rc; /* a malformed message: the protocol is broken, stop */
    }
    for (uint32_t i = 0; i < rq->m.n_stops; i++) {
        size_t l = strlen(rq->m.stops[i]);
        if (l > rq->max_stop) rq->max_stop = l;
    }
    mg_error rerr = {0};
    int32_t *ids = NULL;
    size_t n_ids = 0;
    rc = 0;
    if (!strcmp(rq->m.strategy, "default")) {
        /* What the model was made for: its router, X-LoRA's classifier, the one
         * adapter of a PEFT model, or the plain base. */
        if (w->model->xlora)
            rq->strategy = (mg_strategy){MG_STRATEGY_XLORA, 0};
        else if (w->model->has_router)
            rq->strategy = (mg_strategy){MG_STRATEGY_ROUTER, 0};
        else if (w->model->n_experts == 1)
            rq->strategy = (mg_strategy){MG_STRATEGY_SINGLE, 0};
        else if (w->model->n_experts == 0)
            rq->strategy = (mg_strategy){MG_STRATEGY_BASE, 0};
        else
            rq->strategy = (mg_strategy){MG_STRATEGY_ENSEMBLE, 0};
    } else {
        rc = mg_strategy_parse(rq->m.strategy, &rq->strategy, &rerr);
    }
    if (rc == 0) rc = mg_strategy_check(&rq->strategy, w->model, &rerr);
    if (rc == 0)
        rc =
            mg_tokenizer_encode_prompt(w->tok, rq->m.prompt, rq->m.prompt_len, &ids, &n_ids, &rerr);
    if (rc < 0) {
        /* The request cannot run on this model: tell the coordinator, which
         * stops the run with this message (every worker would refuse it). */
        char msg[1100];
        snprintf(msg, sizeof msg, "%s: %s", rq->m.task_id, rerr.msg);
        mg_msg_request_free(&rq->m);
        free(rq);
        free(ids);
        rc = send_error(w, 0, rerr.code ? rerr.code : rc, msg);
        return rc < 0 ? mg_error_set(err, rc, "worker: sending an error failed") : 0;
    }
    rq->live = 1; /* held while submitting */
    for (uint32_t k = 0; k < rq->m.n_samples && rc == 0; k++) {
        wsample *s = calloc(1, sizeof *s);
        if (!s) {
            rc = mg_error_set(err, MG_ENOMEM, "worker: out of memory");
            break;
        }
        s->rq = rq;
        s->slot = k;
        s->eng_id = ++w->next_eng_id;
        rc = mg_detok_new(w->tok, true, &s->detok, err);
        if (rc == 0 && w->n_live == w->cap_live) {
            size_t cap = w->cap_live ? 2 * w->cap_live : 16;
            wsample **t = realloc(w->live, cap * sizeof *t);
            if (!t)
                rc = mg_error_set(err, MG_ENOMEM, "worker: out of memory");
            else {
                w->live = t;
                w->cap_live = cap;
            }
        }
        mg_request r = {.id = s->eng_id,
                        .prompt_ids = ids,
                        .n_prompt = (int)n_ids,
                        .max_new_tokens = rq->m.max_new_tokens,
                        .strategy = rq->strategy,
                        .sampling = {.greedy = rq->m.greedy,
                                     .temperature = rq->m.temperature,
                                     .top_k = rq->m.top_k,
                                     .top_p = rq->m.top_p,
                                     .seed = rq->m.seed},
                        .task_key = rq->m.task_key,
                        .sample_index = rq->m.sample_index[k]};
        if (rc == 0) rc = mg_engine_submit(w->engine, &r, err);
        if (rc < 0) {
            sample_free(s);
            break;
        }
        rq->live++;
        w->live[w->n_live++] = s;
    }
    free(ids);
    req_release(rq);
    return rc;
}

static void handle_cancel(worker *w, const mg_ring_msg *msg, mg_error *err, int *rc)
{
    mg_msg_cancel c;
    if ((*rc = mg_msg_decode_cancel(msg, &c, err)) < 0) return;
    for (size_t i = 0; i < w->n_live; i++) {
        wsample *s = w->live[i];
        if (s->rq->m.req_id == c.req_id && (c.slot == MG_SLOT_ALL || c.slot == s->slot) &&
            !s->cancelled) {
            s->cancelled = true;
            mg_engine_cancel(w->engine, s->eng_id);
        }
    }
}

static int drain_requests(worker *w, mg_error *err)
{
    mg_ring_msg m;
    int got;
    while ((got = mg_ring_peek(w->req, &m, err)) == 1) {
        int rc = 0;
        switch (m.type) {
        case MG_MSG_REQUEST:
            rc = handle_request(w, &m, err);
            break;
        case MG_MSG_CANCEL:
            handle_cancel(w, &m, err, &rc);
            break;
        case MG_MSG_SHUTDOWN:
            w->shutdown = true;
            break;
        default:
            rc = mg_error_set(err, MG_EPROTO,
                              "worker: unexpected message type %u from the "
                              "coordinator",
                              m.type);
        }
        mg_ring_release(w->req);
        if (rc < 0) return rc;
        if (w->shutdown) return 0;
    }
    return got;
}

/* ---- engine events -------------------------------------------------------------------- */

static int handle_event(worker *w, const mg_token_event *ev, mg_error *err)
{
    size_t at;
    wsample *s = find_sample(w, ev->id, &at);
    if (!s)
        return mg_error_set(err, MG_EPROTO, "worker: engine reported unknown id %llu",
                            (unsigned long long)ev->id);
    int rc = 0;
    char *piece = NULL;
    size_t n = 0;
    if (ev->token >= 0 && !s->stopped && !s->cancelled) {
        if ((rc = mg_detok_push(s->detok, ev->token, &piece, &n, err)) < 0) return rc;
        bool hit = false;
        if (n) {
            rc = append_and_check(s, piece, n, &hit);
            if (rc == 0) rc = send_text(w, s->rq->m.req_id, s->slot, piece, n);
        }
        free(piece);
        if (rc < 0) return mg_error_set(err, rc, "worker: streaming text failed");
        if (hit) {
            s->stopped = true;
            mg_engine_cancel(w->engine, s->eng_id);
        }
    }
    if (ev->finish == MG_FINISH_NONE) return 0;
    if (!s->stopped && !s->cancelled) {
        if ((rc = mg_detok_flush(s->detok, &piece, &n, err)) < 0) return rc;
        if (n) rc = send_text(w, s->rq->m.req_id, s->slot, piece, n);
        free(piece);
        if (rc < 0) return mg_error_set(err, rc, "worker: streaming text failed");
    }
    mg_msg_done d = {.req_id = s->rq->m.req_id,
                     .slot = s->slot,
                     .n_prompt = ev->n_prompt,
                     .n_generated = ev->n_generated};
    switch (ev->finish) {
    case MG_FINISH_EOS:
        d.finish = MG_MSG_FINISH_EOS;
        break;
    case MG_FINISH_LENGTH:
        d.finish = MG_MSG_FINISH_LENGTH;
        break;
    default:
        d.finish = s->stopped ? MG_MSG_FINISH_STOP : MG_MSG_FINISH_CANCEL;
        break;
    }
    /* A stop string seen in the last piece also counts when the engine ended
     * the sample for another reason at the same step. */
    if (s->stopped) d.finish = MG_MSG_FINISH_STOP;
    if (ev->expert >= 0) {
        d.n_experts = 1;
        d.experts[0] = ev->expert;
    } else if (s->rq->strategy.kind == MG_STRATEGY_ENSEMBLE ||
               s->rq->strategy.kind == MG_STRATEGY_MIX ||
               s->rq->strategy.kind == MG_STRATEGY_XLORA) {
        int ne =
            w->model->n_experts < MG_MSG_MAX_EXPERTS ? w->model->n_experts : MG_MSG_MAX_EXPERTS;
        d.n_experts = (uint32_t)ne;
        for (int i = 0; i < ne; i++) d.experts[i] = i;
    }
    rc = send_done(w, &d);
    remove_sample(w, at);
    return rc < 0 ? mg_error_set(err, rc, "worker: sending a result failed") : 0;
}

/* ---- start-up and the loop ----------------------------------------------------------- */

/* The model store's answer, else the model folder when it has a
 * tokenizer.json, else the base model's folder (adapters ship without one). */
static const char *tokenizer_dir(const mg_model *m)
{
    if (m->tokenizer_path) return m->tokenizer_path;
    char buf[4200];
    snprintf(buf, sizeof buf, "%s/tokenizer.json", m->path);
    if (m->base_path && access(buf, R_OK) != 0) return m->base_path;
    return m->path;
}

static int load(worker *w, mg_error *err)
{
    const mg_worker_params *p = w->p;
    /* "cuda" without an index: worker i takes GPU i mod the visible count,
     * so a run's workers spread over the GPUs; "cuda:N" pins it. */
    mg_device_kind kind;
    int index, rc = mg_engine_device_parse(p->device ? p->device : "cpu", &kind, &index, err);
    if (rc < 0) return rc;
    if (kind == MG_DEVICE_CUDA && !strchr(p->device, ':')) {
        int n = 0;
        if ((rc = mg_engine_device_count(kind, &n, err)) < 0) return rc;
        if (n == 0) return mg_error_set(err, MG_EINVAL, "worker: device cuda: no GPU visible");
        index = p->index % n;
    }
    mg_model_params mp = mg_model_default_params();
    mp.path = p->model;
    mp.base_model = p->base_model;
    rc = mg_model_load(&mp, &w->model, err);
    if (rc < 0) return rc;
    const char *tdir = tokenizer_dir(w->model);
    if ((rc = mg_tokenizer_load(tdir, &w->tok, err)) < 0)
        return mg_error_prefix(err, rc, "%s", tdir);
    mg_engine_params ep = mg_engine_default_params();
    ep.device = kind;
    ep.device_index = index;
    ep.n_threads = p->n_threads;
    if (p->max_batch > 0) ep.max_batch = p->max_batch;
    if (p->max_seq_len > 0) ep.max_seq_len = p->max_seq_len;
    return mg_engine_new(w->model, &ep, &w->engine, err);
}

static int attach(worker *w, mg_error *err)
{
    const mg_worker_params *p = w->p;
    int rc = mg_ring_attach_fd(p->req_fd, &w->req, err);
    if (rc < 0) return mg_error_prefix(err, rc, "request ring");
    if ((rc = mg_ring_attach_fd(p->res_fd, &w->res, err)) < 0)
        return mg_error_prefix(err, rc, "result ring");
    mg_ring_set_notify_fd(w->req, p->peer_doorbell_fd);
    mg_ring_set_notify_fd(w->res, p->peer_doorbell_fd);
    mg_msg_hello h = {MG_PROTO_VERSION, (uint32_t)getpid(), (uint32_t)p->index};
    while ((rc = mg_msg_send_hello(w->res, &h)) == MG_EAGAIN)
        if ((rc = wait_room(w, 12)) < 0) break;
    return rc < 0 ? mg_error_set(err, rc, "worker: sending HELLO failed") : 0;
}

static int loop(worker *w, mg_error *err)
{
    mg_token_event ev[256];
    for (;;) {
        int rc = drain_requests(w, err);
        if (rc < 0) return rc;
        if (w->shutdown || w->peer_gone) return 0;
        if (mg_engine_active(w->engine) > 0) {
            int n = 0;
            if ((rc = mg_engine_step(w->engine, ev, (int)(sizeof ev / sizeof ev[0]), &n, err)) < 0)
                return rc;
            for (int i = 0; i < n; i++)
                if ((rc = handle_event(w, &ev[i], err)) < 0) return rc;
            /* Busy: no sleeping, but notice a dead coordinator. */
            if (mg_doorbell_drain(w->p->doorbell_fd) == MG_EPIPE) w->peer_gone = true;
            continue;
        }
        if (mg_ring_consumer_sleep_ok(w->req)) {
            rc = mg_doorbell_wait(w->p->doorbell_fd, -1);
            if (rc == MG_EPIPE) return 0;
            if (rc < 0) return mg_error_set(err, rc, "worker: waiting on the doorbell failed");
        }
    }
}

int mg_worker_run(const mg_worker_params *p, mg_error *err)
{
    worker w = {.p = p};
    int rc = attach(&w, err);
    if (rc == 0) {
        rc = load(&w, err);
        if (rc < 0) {
            if (send_error(&w, 0, rc, err->msg) == 0 && p->error_sent) *p->error_sent = true;
        } else {
            mg_msg_ready r = {.n_experts = (uint32_t)w.model->n_experts};
            snprintf(r.desc, sizeof r.desc, "%s, %d experts, %s",
                     mg_model_format_name(w.model->format), w.model->n_experts,
                     w.model->config.model_type);
            snprintf(r.tokenizer_dir, sizeof r.tokenizer_dir, "%s", tokenizer_dir(w.model));
            while ((rc = mg_msg_send_ready(w.res, &r)) == MG_EAGAIN)
                if ((rc = wait_room(&w, sizeof r)) < 0) break;
            if (rc == 0) rc = loop(&w, err);
            if (rc < 0 && !w.peer_gone && send_error(&w, 0, rc, err->msg) == 0 && p->error_sent)
                *p->error_sent = true;
        }
    }
    while (w.n_live) remove_sample(&w, w.n_live - 1);
    free(w.live);
    mg_engine_free(w.engine);
    mg_tokenizer_free(w.tok);
    mg_model_free(w.model);
    mg_ring_close(w.req);
    mg_ring_close(w.res);
    return rc;
}
