/* mg_ring.h — shared-memory rings between the coordinator and its workers,
 * and the messages they carry.
 *
 * A ring is one POSIX shared-memory segment (shm_open + mmap) holding a
 * single-producer single-consumer byte ring of variable-length framed
 * messages. Producer and consumer live in different processes; the only
 * synchronisation is two monotonically increasing 64-bit byte counters
 * (tail: written by the producer, head: by the consumer) with C11
 * acquire/release ordering. The segment starts with a header (magic,
 * version, sizes) so a mismatched peer fails loudly at attach, and every
 * frame header is validated on read like untrusted input: a buggy or
 * hostile peer can make us report MG_EPROTO, never read out of bounds.
 *
 * Wake-ups. Each process owns one "doorbell": a non-blocking pipe whose read
 * end it polls (a libuv loop can uv_poll it) and whose write end its peer
 * holds. A side that finds its ring empty (consumer) or full (producer) arms
 * a flag in shared memory, re-checks, and only then sleeps; the peer rings
 * the doorbell only when it sees that flag, so the fast path makes no system
 * call. A pipe rather than an eventfd because EOF on it tells a worker that
 * the coordinator died.
 *
 *     // coordinator (producer of requests)
 *     mg_ring *r; mg_ring_create(NULL, &r, &err);     // name "/moegen-<pid>-<rand>-<n>"
 *     ... pass mg_ring_fd(r) (or mg_ring_name(r)) to the child, then mg_ring_unlink(r)
 *     mg_ring_set_notify_fd(r, worker_doorbell_write_end);
 *     void *p; if (mg_ring_reserve(r, len, &p) == 0) { fill(p); mg_ring_commit(r, type, len); }
 *     // worker (consumer)
 *     mg_ring_attach_fd(fd, &r, &err);
 *     mg_ring_msg m; while (mg_ring_peek(r, &m, &err) == 1) { use(m); mg_ring_release(r); }
 *     if (mg_ring_consumer_sleep_ok(r)) mg_doorbell_wait(my_doorbell, -1);
 *
 * Names are unique per run (pid + random + counter) and are unlinked as soon
 * as both sides have mapped the segment (or, when the fd is inherited, right
 * after the child is spawned), so nothing stays in /dev/shm after a crash.
 *
 * Thread-safety: one producer thread and one consumer thread per ring; all
 * other calls from the thread that owns the handle.
 */
#ifndef MG_RING_H
#define MG_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_error.h"

/* ---- the ring ---------------------------------------------------------------- */

#define MG_RING_MAGIC   UINT64_C(0x474e4952474547) /* "GEGRING" little-endian-ish tag */
#define MG_RING_VERSION 1u
#define MG_RING_FRAME   16u /* frame header bytes; frames are 16-byte aligned */
#define MG_RING_MIN_CAP 4096u
#define MG_RING_MAX_CAP (1u << 30)

typedef struct mg_ring mg_ring;

typedef struct mg_ring_params {
    uint32_t capacity; /* data bytes, a power of two in [4 KiB, 1 GiB]; default 1 MiB */
} mg_ring_params;

mg_ring_params mg_ring_default_params(void);

/* Creates a new segment with a unique name and maps it (the creator may be
 * either side). p may be NULL for the defaults. */
int mg_ring_create(const mg_ring_params *p, mg_ring **out, mg_error *err);
/* Maps an existing segment by name, checks its header, and unlinks the name
 * (both sides have mapped it now). */
int mg_ring_attach(const char *name, mg_ring **out, mg_error *err);
/* Maps an inherited segment fd (takes ownership of fd) and checks its header. */
int mg_ring_attach_fd(int fd, mg_ring **out, mg_error *err);
/* Unmaps, closes, and unlinks the name if this handle created it and it is
 * still linked. NULL is fine. */
void mg_ring_close(mg_ring *r);

const char *mg_ring_name(const mg_ring *r);
/* The segment's fd (owned by the ring): dup2 it into a child to share the ring. */
int mg_ring_fd(const mg_ring *r);
/* Removes the name from /dev/shm (idempotent); mappings stay valid. */
void mg_ring_unlink(mg_ring *r);
/* The peer's doorbell write end (not owned); -1 = no wake-ups. */
void mg_ring_set_notify_fd(mg_ring *r, int fd);
/* Largest payload one message may carry (capacity - frame header). */
uint32_t mg_ring_max_payload(const mg_ring *r);
uint32_t mg_ring_capacity(const mg_ring *r);

/* -- producer -- */

/* Reserves room for a `len`-byte payload and points *payload at it.
 * Returns 0, MG_EAGAIN when the ring is full right now (backpressure: arm
 * mg_ring_producer_sleep_ok and wait), MG_ERANGE when len exceeds
 * mg_ring_max_payload, MG_EPROTO when the shared indices are corrupt. */
int mg_ring_reserve(mg_ring *r, size_t len, void **payload);
/* Publishes the reserved message with its type (1..MG_RING_MAX_TYPE) and
 * final length (<= the reserved length). Rings the peer when it sleeps. */
void mg_ring_commit(mg_ring *r, uint32_t type, size_t len);
/* reserve + memcpy + commit. */
int mg_ring_write(mg_ring *r, uint32_t type, const void *data, size_t len);

#define MG_RING_MAX_TYPE 0xfffeu

/* -- consumer -- */

typedef struct mg_ring_msg {
    uint32_t type;
    uint32_t len;
    const void *data; /* points into the ring; valid until mg_ring_release */
} mg_ring_msg;

/* Returns 1 with the oldest message in *m, 0 when the ring is empty, or
 * MG_EPROTO (err says what was wrong) when a frame header or the indices
 * are corrupt; the ring is unusable after that. */
int mg_ring_peek(mg_ring *r, mg_ring_msg *m, mg_error *err);
/* Consumes the message returned by the last successful peek. */
void mg_ring_release(mg_ring *r);

/* -- sleeping -- */

/* Arms the consumer's wake flag; returns true when the ring is still empty
 * (the caller may now block on its doorbell), false when data arrived (the
 * flag is cleared again; keep reading). */
bool mg_ring_consumer_sleep_ok(mg_ring *r);
/* Same for a producer that needs room for a `len`-byte payload. */
bool mg_ring_producer_sleep_ok(mg_ring *r, size_t len);

/* ---- doorbells (pipes) ----------------------------------------------------------- */

/* fds[0] read end (poll it), fds[1] write end (give it to the peer). Both
 * O_NONBLOCK | O_CLOEXEC. */
int mg_doorbell_open(int fds[2], mg_error *err);
/* Writes one byte; a full pipe already means "ring". */
void mg_doorbell_ring(int wfd);
/* Reads everything pending. Returns 0, or MG_EPIPE when every write end is
 * closed (the peer is gone). */
int mg_doorbell_drain(int rfd);
/* Waits up to timeout_ms (-1 forever) for the doorbell, then drains it.
 * Returns 1 rung, 0 timeout, MG_EPIPE peer gone, or a negative errno code. */
int mg_doorbell_wait(int rfd, int timeout_ms);

/* ---- the coordinator <-> worker protocol --------------------------------------------
 *
 * Each worker has two rings: requests (coordinator -> worker) and results
 * (worker -> coordinator). Payloads are little-endian fixed-width integers and
 * strings as u32 length + bytes. Decoders check every length against the bytes
 * left (a message is untrusted input) and fail with MG_EPROTO naming the field.
 *
 *   worker -> coordinator                 coordinator -> worker
 *   HELLO  {version, pid, worker index}   REQUEST {req id, task, prompt, stops, strategy,
 *   READY  {n_experts, desc, tok dir}              sampling, samples[]}
 *   TEXT   {req id, slot, bytes}          CANCEL  {req id, slot (or all)}
 *   DONE   {req id, slot, finish, counts, SHUTDOWN {}
 *           experts used}
 *   ERROR  {req id (0: fatal), code, message}
 *
 * A request carries several sample indices of one task and strategy; each is a
 * "slot" 0..n-1 in the TEXT/DONE/CANCEL messages that refer to it.
 */

#define MG_PROTO_VERSION   1u
#define MG_MSG_MAX_EXPERTS 64
#define MG_SLOT_ALL        0xffffffffu

typedef enum mg_msg_type {
    MG_MSG_HELLO = 1,
    MG_MSG_READY,
    MG_MSG_REQUEST,
    MG_MSG_TEXT,
    MG_MSG_DONE,
    MG_MSG_CANCEL,
    MG_MSG_ERROR,
    MG_MSG_SHUTDOWN,
} mg_msg_type;

/* Finish reasons of a sample (DONE). */
typedef enum mg_msg_finish {
    MG_MSG_FINISH_EOS = 1,
    MG_MSG_FINISH_LENGTH,
    MG_MSG_FINISH_STOP,   /* a stop string appeared in the text */
    MG_MSG_FINISH_CANCEL, /* cancelled by the coordinator */
} mg_msg_finish;
const char *mg_msg_finish_name(uint32_t f); /* "eos", "length", "stop", "cancel", "?" */

typedef struct mg_msg_hello {
    uint32_t version;
    uint32_t pid;
    uint32_t worker_index;
} mg_msg_hello;

typedef struct mg_msg_ready {
    uint32_t n_experts;
    char desc[256];           /* model description for logs, NUL-terminated */
    char tokenizer_dir[1024]; /* folder with the tokenizer files (chat template), or "" */
} mg_msg_ready;

/* Decoded requests own their memory (mg_msg_request_free). */
typedef struct mg_msg_request {
    uint64_t req_id;
    char *task_id;
    char *prompt; /* NUL-terminated; prompt_len excludes the NUL */
    uint32_t prompt_len;
    char **stops;
    uint32_t n_stops;
    char *strategy;
    bool greedy;
    float temperature, top_p;
    int32_t top_k;
    uint64_t seed;
    int32_t max_new_tokens;
    uint64_t task_key;
    uint32_t *sample_index;
    uint32_t n_samples;
} mg_msg_request;

typedef struct mg_msg_text {
    uint64_t req_id;
    uint32_t slot;
    const char *text; /* borrowed from the ring message */
    uint32_t len;
} mg_msg_text;

typedef struct mg_msg_done {
    uint64_t req_id;
    uint32_t slot;
    uint32_t finish; /* mg_msg_finish */
    int32_t n_prompt, n_generated;
    uint32_t n_experts; /* experts used by the sample */
    int32_t experts[MG_MSG_MAX_EXPERTS];
} mg_msg_done;

typedef struct mg_msg_cancel {
    uint64_t req_id;
    uint32_t slot; /* MG_SLOT_ALL for every slot */
} mg_msg_cancel;

typedef struct mg_msg_error {
    uint64_t req_id; /* 0: the worker is going down */
    int32_t code;
    char msg[1024];
} mg_msg_error;

/* Senders write one message into the ring: 0, MG_EAGAIN (full: retry after
 * waiting), MG_ERANGE (larger than the ring's max payload). */
int mg_msg_send_hello(mg_ring *r, const mg_msg_hello *m);
int mg_msg_send_ready(mg_ring *r, const mg_msg_ready *m);
int mg_msg_send_request(mg_ring *r, const mg_msg_request *m);
int mg_msg_send_text(mg_ring *r, uint64_t req_id, uint32_t slot, const char *text, size_t len);
int mg_msg_send_done(mg_ring *r, const mg_msg_done *m);
int mg_msg_send_cancel(mg_ring *r, const mg_msg_cancel *m);
int mg_msg_send_error(mg_ring *r, const mg_msg_error *m);
int mg_msg_send_shutdown(mg_ring *r);
/* Bytes mg_msg_send_request needs (to refuse a request too big for the ring). */
size_t mg_msg_request_size(const mg_msg_request *m);

/* Stable 64-bit key of a task id (FNV-1a), sent as the engine's RNG task_key,
 * so a sample's randomness depends only on (seed, task id, sample index, step). */
uint64_t mg_msg_task_key(const char *task_id);

/* Decoders: 0, or MG_EPROTO (err names the message type and field) when the
 * payload is malformed or the type does not match. */
int mg_msg_decode_hello(const mg_ring_msg *in, mg_msg_hello *out, mg_error *err);
int mg_msg_decode_ready(const mg_ring_msg *in, mg_msg_ready *out, mg_error *err);
int mg_msg_decode_request(const mg_ring_msg *in, mg_msg_request *out, mg_error *err);
void mg_msg_request_free(mg_msg_request *m); /* frees the fields; m itself is the caller's */
int mg_msg_decode_text(const mg_ring_msg *in, mg_msg_text *out, mg_error *err);
int mg_msg_decode_done(const mg_ring_msg *in, mg_msg_done *out, mg_error *err);
int mg_msg_decode_cancel(const mg_ring_msg *in, mg_msg_cancel *out, mg_error *err);
int mg_msg_decode_error(const mg_ring_msg *in, mg_msg_error *out, mg_error *err);

#endif /* MG_RING_H */
