/* proto.c — encoding and validating the coordinator <-> worker messages.
 *
 * Encoders compute the exact size, reserve it in the ring and write in place
 * (no intermediate buffer). Decoders walk a bounds-checked cursor over the
 * payload; every read checks the bytes left first, so a malformed message
 * yields MG_EPROTO with the field's name, never an out-of-bounds read. */
#include "mg_ring.h"

#include <stdlib.h>
#include <string.h>

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct wcur {
    uint8_t *p;
} wcur;

static void w_u32(wcur *w, uint32_t v)
{
    memcpy(w->p, &v, 4);
    w->p += 4;
}
static void w_u64(wcur *w, uint64_t v)
{
    memcpy(w->p, &v, 8);
    w->p += 8;
}
static void w_f32(wcur *w, float v)
{
    memcpy(w->p, &v, 4);
    w->p += 4;
}
static void w_str(wcur *w, const char *s, size_t n)
{
    w_u32(w, (uint32_t)n);
    if (n) memcpy(w->p, s, n);
    w->p += n;
}

/* reserve, let `fill` write, commit: the shape of every sender. */
#define SEND(ring, type, size, body)                                                               \
    do {                                                                                           \
        void *payload_;                                                                            \
        size_t size_ = (size);                                                                     \
        int rc_ = mg_ring_reserve((ring), size_, &payload_);                                       \
        if (rc_ < 0) return rc_;                                                                   \
        wcur w_ = {payload_};                                                                      \
        wcur *w = &w_;                                                                             \
        body;                                                                                      \
        MG_ASSERT((size_t)(w_.p - (uint8_t *)payload_) == size_);                                  \
        mg_ring_commit((ring), (type), size_);                                                     \
        return 0;                                                                                  \
    } while (0)

int mg_msg_send_hello(mg_ring *r, const mg_msg_hello *m)
{
    SEND(r, MG_MSG_HELLO, 12, {
        w_u32(w, m->version);
        w_u32(w, m->pid);
        w_u32(w, m->worker_index);
    });
}

int mg_msg_send_ready(mg_ring *r, const mg_msg_ready *m)
{
    size_t dl = strnlen(m->desc, sizeof m->desc - 1);
    size_t tl = strnlen(m->tokenizer_dir, sizeof m->tokenizer_dir - 1);
    SEND(r, MG_MSG_READY, 4 + 4 + dl + 4 + tl, {
        w_u32(w, m->n_experts);
        w_str(w, m->desc, dl);
        w_str(w, m->tokenizer_dir, tl);
    });
}

size_t mg_msg_request_size(const mg_msg_request *m)
{
    size_t n = 8 + 4 + strlen(m->task_id) + 4 + m->prompt_len + 4;
    for (uint32_t i = 0; i < m->n_stops; i++) n += 4 + strlen(m->stops[i]);
    n += 4 + strlen(m->strategy);
    n += 4 /* greedy */ + 4 + 4 + 4 + 8 + 4 + 8;
    n += 4 + 4 * (size_t)m->n_samples;
    return n;
}

int mg_msg_send_request(mg_ring *r, const mg_msg_request *m)
{
    SEND(r, MG_MSG_REQUEST, mg_msg_request_size(m), {
        w_u64(w, m->req_id);
        w_str(w, m->task_id, strlen(m->task_id));
        w_str(w, m->prompt, m->prompt_len);
        w_u32(w, m->n_stops);
        for (uint32_t i = 0; i < m->n_stops; i++) w_str(w, m->stops[i], strlen(m->stops[i]));
        w_str(w, m->strategy, strlen(m->strategy));
        w_u32(w, m->greedy ? 1 : 0);
        w_f32(w, m->temperature);
        w_f32(w, m->top_p);
        w_u32(w, (uint32_t)m->top_k);
        w_u64(w, m->seed);
        w_u32(w, (uint32_t)m->max_new_tokens);
        w_u64(w, m->task_key);
        w_u32(w, m->n_samples);
        for (uint32_t i = 0; i < m->n_samples; i++) w_u32(w, m->sample_index[i]);
    });
}

int mg_msg_send_text(mg_ring *r, uint64_t req_id, uint32_t slot, const char *text, size_t len)
{
    SEND(r, MG_MSG_TEXT, 12 + len, {
        w_u64(w, req_id);
        w_u32(w, slot);
        if (len) memcpy(w->p, text, len);
        w->p += len;
    });
}

int mg_msg_send_done(mg_ring *r, const mg_msg_done *m)
{
    uint32_t ne = m->n_experts > MG_MSG_MAX_EXPERTS ? MG_MSG_MAX_EXPERTS : m->n_experts;
    SEND(r, MG_MSG_DONE, 8 + 4 * 5 + 4 * (size_t)ne, {
        w_u64(w, m->req_id);
        w_u32(w, m->slot);
        w_u32(w, m->finish);
        w_u32(w, (uint32_t)m->n_prompt);
        w_u32(w, (uint32_t)m->n_generated);
        w_u32(w, ne);
        for (uint32_t i = 0; i < ne; i++) w_u32(w, (uint32_t)m->experts[i]);
    });
}

int mg_msg_send_cancel(mg_ring *r, const mg_msg_cancel *m)
{
    SEND(r, MG_MSG_CANCEL, 12, {
        w_u64(w, m->req_id);
        w_u32(w, m->slot);
    });
}

int mg_msg_send_error(mg_ring *r, const mg_msg_error *m)
{
    size_t ml = strnlen(m->msg, sizeof m->msg - 1);
    SEND(r, MG_MSG_ERROR, 8 + 4 + 4 + ml, {
        w_u64(w, m->req_id);
        w_u32(w, (uint32_t)m->code);
        w_str(w, m->msg, ml);
    });
}

int mg_msg_send_shutdown(mg_ring *r)
{
    return mg_ring_write(r, MG_MSG_SHUTDOWN, NULL, 0);
}

/* ---- reading ---------------------------------------------------------------------------- */

typedef struct rcur {
    const uint8_t *p;
    size_t left;
    const char *what; /* message name for errors */
    mg_error *err;
    int failed;
} rcur;

static bool need(rcur *c, size_t n, const char *field)
{
    if (c->failed) return false;
    if (n > c->left) {
        c->failed =
            mg_error_set(c->err, MG_EPROTO, "%s message: field '%s' needs %zu bytes, %zu left",
                         c->what, field, n, c->left);
        return false;
    }
    return true;
}

static uint32_t r_u32(rcur *c, const char *field)
{
    uint32_t v = 0;
    if (!need(c, 4, field)) return 0;
    memcpy(&v, c->p, 4);
    c->p += 4;
    c->left -= 4;
    return v;
}

static uint64_t r_u64(rcur *c, const char *field)
{
    uint64_t v = 0;
    if (!need(c, 8, field)) return 0;
    memcpy(&v, c->p, 8);
    c->p += 8;
    c->left -= 8;
    return v;
}

static float r_f32(rcur *c, const char *field)
{
    float v = 0;
    if (!need(c, 4, field)) return 0;
    memcpy(&v, c->p, 4);
    c->p += 4;
    c->left -= 4;
    return v;
}

/* A borrowed string: *len bytes at the returned pointer (NULL on failure). */
static const char *r_str(rcur *c, uint32_t *len, const char *field)
{
    uint32_t n = r_u32(c, field);
    if (!need(c, n, field)) return NULL;
    const char *s = (const char *)c->p;
    c->p += n;
    c->left -= n;
    *len = n;
    return s;
}

/* An owned, NUL-terminated copy; an embedded NUL is malformed (strings are text). */
static char *r_dup(rcur *c, uint32_t *len_out, const char *field)
{
    uint32_t n = 0;
    const char *s = r_str(c, &n, field);
    if (!s) return NULL;
    if (memchr(s, 0, n)) {
        c->failed = mg_error_set(c->err, MG_EPROTO, "%s message: field '%s' contains a NUL byte",
                                 c->what, field);
        return NULL;
    }
    char *d = malloc((size_t)n + 1);
    if (!d) {
        c->failed = mg_error_set(c->err, MG_ENOMEM, "%s message: out of memory", c->what);
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = 0;
    if (len_out) *len_out = n;
    return d;
}

static int begin(rcur *c, const mg_ring_msg *in, uint32_t type, const char *what, mg_error *err)
{
    *c = (rcur){.p = in->data, .left = in->len, .what = what, .err = err};
    if (in->type != type)
        return mg_error_set(err, MG_EPROTO, "expected a %s message, got type %u", what, in->type);
    return 0;
}

static int end(rcur *c)
{
    if (c->failed) return c->failed;
    if (c->left)
        return mg_error_set(c->err, MG_EPROTO, "%s message: %zu trailing bytes", c->what, c->left);
    return 0;
}

uint64_t mg_msg_task_key(const char *task_id)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *s = (const unsigned char *)task_id; *s; s++)
        h = (h ^ *s) * 1099511628211ull;
    return h;
}

const char *mg_msg_finish_name(uint32_t f)
{
    switch (f) {
    case MG_MSG_FINISH_EOS:
        return "eos";
    case MG_MSG_FINISH_LENGTH:
        return "length";
    case MG_MSG_FINISH_STOP:
        return "stop";
    case MG_MSG_FINISH_CANCEL:
        return "cancel";
    default:
        return "?";
    }
}

int mg_msg_decode_hello(const mg_ring_msg *in, mg_msg_hello *out, mg_error *err)
{
    rcur c;
    int rc = begin(&c, in, MG_MSG_HELLO, "HELLO", err);
    if (rc < 0) return rc;
    out->version = r_u32(&c, "version");
    out->pid = r_u32(&c, "pid");
    out->worker_index = r_u32(&c, "worker_index");
    if ((rc = end(&c)) < 0) return rc;
    if (out->version != MG_PROTO_VERSION)
        return mg_error_set(err, MG_EPROTO, "HELLO: worker speaks protocol %u, coordinator %u",
                            out->version, MG_PROTO_VERSION);
    return 0;
}

int mg_msg_decode_ready(const mg_ring_msg *in, mg_msg_ready *out, mg_error *err)
{
    rcur c;
    int rc = begin(&c, in, MG_MSG_READY, "READY", err);
    if (rc < 0) return rc;
    out->n_experts = r_u32(&c, "n_experts");
    uint32_t n = 0;
    const char *d = r_str(&c, &n, "desc");
    uint32_t tn = 0;
    const char *t = r_str(&c, &tn, "tokenizer_dir");
    if ((rc = end(&c)) < 0) return rc;
    if (n >= sizeof out->desc || tn >= sizeof out->tokenizer_dir || memchr(t, 0, tn))
        return mg_error_set(err, MG_EPROTO,
                            "READY message: description or tokenizer folder "
                            "too long or not text");
    memcpy(out->desc, d, n);
    out->desc[n] = 0;
    memcpy(out->tokenizer_dir, t, tn);
    out->tokenizer_dir[tn] = 0;
    return 0;
}

void mg_msg_request_free(mg_msg_request *m)
{
    if (!m) return;
    free(m->task_id);
    free(m->prompt);
    for (uint32_t i = 0; i < m->n_stops && m->stops; i++) free(m->stops[i]);
    free(m->stops);
    free(m->strategy);
    free(m->sample_index);
    memset(m, 0, sizeof *m);
}

int mg_msg_decode_request(const mg_ring_msg *in, mg_msg_request *out, mg_error *err)
{
    memset(out, 0, sizeof *out);
    rcur c;
    int rc = begin(&c, in, MG_MSG_REQUEST, "REQUEST", err);
    if (rc < 0) return rc;
    out->req_id = r_u64(&c, "req_id");
    out->task_id = r_dup(&c, NULL, "task_id");
    out->prompt = r_dup(&c, &out->prompt_len, "prompt");
    uint32_t ns = r_u32(&c, "n_stops");
    /* Each stop needs at least its 4-byte length: bound the count by the bytes left. */
    if (!c.failed && ns > c.left / 4)
        c.failed = mg_error_set(err, MG_EPROTO, "REQUEST message: %u stop strings in %zu bytes", ns,
                                c.left);
    if (!c.failed && ns) {
        out->stops = calloc(ns, sizeof *out->stops);
        if (!out->stops) c.failed = mg_error_set(err, MG_ENOMEM, "REQUEST: out of memory");
    }
    for (uint32_t i = 0; i < ns && !c.failed; i++) {
        out->stops[i] = r_dup(&c, NULL, "stops");
        if (out->stops[i]) out->n_stops = i + 1;
    }
    out->strategy = r_dup(&c, NULL, "strategy");
    out->greedy = r_u32(&c, "greedy") != 0;
    out->temperature = r_f32(&c, "temperature");
    out->top_p = r_f32(&c, "top_p");
    out->top_k = (int32_t)r_u32(&c, "top_k");
    out->seed = r_u64(&c, "seed");
    out->max_new_tokens = (int32_t)r_u32(&c, "max_new_tokens");
    out->task_key = r_u64(&c, "task_key");
    uint32_t n = r_u32(&c, "n_samples");
    if (!c.failed && (n == 0 || n > c.left / 4))
        c.failed =
            mg_error_set(err, MG_EPROTO, "REQUEST message: %u samples in %zu bytes", n, c.left);
    if (!c.failed) {
        out->sample_index = malloc(sizeof(uint32_t) * n);
        if (!out->sample_index)
            c.failed = mg_error_set(err, MG_ENOMEM, "REQUEST: out of memory");
        else
            out->n_samples = n;
    }
    for (uint32_t i = 0; i < out->n_samples && !c.failed; i++)
        out->sample_index[i] = r_u32(&c, "sample_index");
    rc = end(&c);
    if (rc == 0 && (out->max_new_tokens < 0 || !(out->temperature >= 0) ||
                    !(out->top_p > 0 && out->top_p <= 1) || out->top_k < 0))
        rc = mg_error_set(err, MG_EPROTO,
                          "REQUEST message: bad sampling (max_new_tokens %d, temperature %g, "
                          "top_p %g, top_k %d)",
                          out->max_new_tokens, out->temperature, out->top_p, out->top_k);
    if (rc < 0) mg_msg_request_free(out);
    return rc;
}

int mg_msg_decode_text(const mg_ring_msg *in, mg_msg_text *out, mg_error *err)
{
    rcur c;
    int rc = begin(&c, in, MG_MSG_TEXT, "TEXT", err);
    if (rc < 0) return rc;
    out->req_id = r_u64(&c, "req_id");
    out->slot = r_u32(&c, "slot");
    if (c.failed) return c.failed;
    out->text = (const char *)c.p;
    out->len = (uint32_t)c.left;
    return 0;
}

int mg_msg_decode_done(const mg_ring_msg *in, mg_msg_done *out, mg_error *err)
{
    rcur c;
    int rc = begin(&c, in, MG_MSG_DONE, "DONE", err);
    if (rc < 0) return rc;
    out->req_id = r_u64(&c, "req_id");
    out->slot = r_u32(&c, "slot");
    out->finish = r_u32(&c, "finish");
    out->n_prompt = (int32_t)r_u32(&c, "n_prompt");
    out->n_generated = (int32_t)r_u32(&c, "n_generated");
    out->n_experts = r_u32(&c, "n_experts");
    if (!c.failed && out->n_experts > MG_MSG_MAX_EXPERTS)
        c.failed = mg_error_set(err, MG_EPROTO, "DONE message: %u experts (max %d)", out->n_experts,
                                MG_MSG_MAX_EXPERTS);
    for (uint32_t i = 0; i < out->n_experts && !c.failed; i++)
        out->experts[i] = (int32_t)r_u32(&c, "experts");
    if ((rc = end(&c)) < 0) return rc;
    if (out->finish < MG_MSG_FINISH_EOS || out->finish > MG_MSG_FINISH_CANCEL ||
        out->n_prompt < 0 || out->n_generated < 0)
        return mg_error_set(err, MG_EPROTO, "DONE message: finish %u, tokens %d/%d out of range",
                            out->finish, out->n_prompt, out->n_generated);
    return 0;
}

int mg_msg_decode_cancel(const mg_ring_msg *in, mg_msg_cancel *out, mg_error *err)
{
    rcur c;
    int rc = begin(&c, in, MG_MSG_CANCEL, "CANCEL", err);
    if (rc < 0) return rc;
    out->req_id = r_u64(&c, "req_id");
    out->slot = r_u32(&c, "slot");
    return end(&c);
}

int mg_msg_decode_error(const mg_ring_msg *in, mg_msg_error *out, mg_error *err)
{
    rcur c;
    int rc = begin(&c, in, MG_MSG_ERROR, "ERROR", err);
    if (rc < 0) return rc;
    out->req_id = r_u64(&c, "req_id");
    out->code = (int32_t)r_u32(&c, "code");
    uint32_t n = 0;
    const char *s = r_str(&c, &n, "msg");
    if ((rc = end(&c)) < 0) return rc;
    if (n >= sizeof out->msg) n = sizeof out->msg - 1;
    memcpy(out->msg, s, n);
    out->msg[n] = 0;
    return 0;
}
