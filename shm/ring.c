/* ring.c — the shared-memory SPSC ring (see mg_ring.h for the contract).
 *
 * Layout (an ABI between two processes, hence the static asserts):
 *   [0,64)    constant header: magic, version, sizes
 *   [64,128)  producer line: tail counter
 *   [128,192) consumer line: head counter
 *   [192,256) wake flags (written only around sleeping)
 *   [256, 256+capacity) data
 * A frame is a 16-byte header {len, type, seq, check} followed by the
 * payload, padded to 16 bytes. A message never straddles the end of the
 * data area: when it would, the producer writes a PAD frame covering the
 * rest and the message starts at offset 0. Because frames are 16-aligned
 * and the capacity is a multiple of 16, the space left at the end is always
 * 0 or room for at least a pad header.
 */
#include "mg_ring.h"

#include <fcntl.h>
#include <poll.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAD_TYPE 0xffffu

typedef struct ring_shared {
    /* constant after creation */
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint32_t capacity;
    uint32_t frame_size;
    uint64_t creator_pid;
    uint8_t reserved0[32];
    /* producer-owned */
    alignas(64) _Atomic uint64_t tail;
    uint8_t reserved1[56];
    /* consumer-owned */
    alignas(64) _Atomic uint64_t head;
    uint8_t reserved2[56];
    /* wake flags: set by the side going to sleep, cleared by whoever wakes it */
    alignas(64) _Atomic uint32_t consumer_waiting;
    _Atomic uint32_t producer_waiting;
    uint8_t reserved3[56];
} ring_shared;

_Static_assert(sizeof(ring_shared) == 256, "ring header is 256 bytes");
_Static_assert(offsetof(ring_shared, capacity) == 16, "ring header layout");
_Static_assert(offsetof(ring_shared, tail) == 64, "tail has its own cache line");
_Static_assert(offsetof(ring_shared, head) == 128, "head has its own cache line");
_Static_assert(offsetof(ring_shared, consumer_waiting) == 192, "wake flags line");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "64-bit counters");

typedef struct frame {
    uint32_t len;  /* payload bytes */
    uint32_t type; /* 1..MG_RING_MAX_TYPE, or PAD_TYPE */
    uint32_t seq;  /* frame number, starting at 0 */
    uint32_t check;
} frame;
_Static_assert(sizeof(frame) == MG_RING_FRAME, "frame header is 16 bytes");

struct mg_ring {
    ring_shared *sh;
    uint8_t *data;
    size_t map_size;
    uint32_t cap, mask;
    int fd;
    int notify_fd;
    bool owner_linked; /* we created the name and have not unlinked it yet */
    char name[64];
    /* producer-local state */
    uint64_t p_tail, p_head_cache;
    uint32_t p_seq;
    uint64_t p_res_tail; /* where the reserved frame starts */
    size_t p_res_len;
    /* consumer-local state */
    uint64_t c_head, c_tail_cache;
    uint32_t c_seq;
    uint32_t c_cur_frame; /* bytes of the peeked frame */
};

static inline uint32_t frame_check(uint32_t len, uint32_t type, uint32_t seq)
{
    /* Cheap integrity word: catches a stale or garbage header, not an attacker. */
    uint32_t h = 0x9e3779b9u ^ len;
    h = (h ^ (h >> 16)) * 0x85ebca6bu ^ type;
    h = (h ^ (h >> 13)) * 0xc2b2ae35u ^ seq;
    return h ^ (h >> 16);
}

static inline uint64_t align16(uint64_t n)
{
    return (n + 15u) & ~(uint64_t)15u;
}

mg_ring_params mg_ring_default_params(void)
{
    return (mg_ring_params){.capacity = 1u << 20};
}

static int map_segment(mg_ring *r, int fd, bool create, uint32_t cap, mg_error *err)
{
    size_t size = sizeof(ring_shared) + (size_t)cap;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return mg_error_set(err, mg_err_from_errno(errno), "ring %s: mmap %zu bytes: %s", r->name,
                            size, strerror(errno));
    r->sh = p;
    r->data = (uint8_t *)p + sizeof(ring_shared);
    r->map_size = size;
    r->cap = cap;
    r->mask = cap - 1;
    r->fd = fd;
    if (create) {
        memset(p, 0, sizeof(ring_shared));
        r->sh->version = MG_RING_VERSION;
        r->sh->header_size = sizeof(ring_shared);
        r->sh->capacity = cap;
        r->sh->frame_size = MG_RING_FRAME;
        r->sh->creator_pid = (uint64_t)getpid();
        atomic_store_explicit(&r->sh->tail, 0, memory_order_relaxed);
        atomic_store_explicit(&r->sh->head, 0, memory_order_relaxed);
        /* The magic goes last so a peer never accepts a half-built header. */
        atomic_thread_fence(memory_order_release);
        r->sh->magic = MG_RING_MAGIC;
    }
    return 0;
}

static mg_ring *ring_alloc(void)
{
    mg_ring *r = calloc(1, sizeof *r);
    if (r) {
        r->fd = -1;
        r->notify_fd = -1;
    }
    return r;
}

int mg_ring_create(const mg_ring_params *p, mg_ring **out, mg_error *err)
{
    *out = NULL;
    mg_ring_params d = p ? *p : mg_ring_default_params();
    if (d.capacity < MG_RING_MIN_CAP || d.capacity > MG_RING_MAX_CAP ||
        (d.capacity & (d.capacity - 1)))
        return mg_error_set(err, MG_EINVAL, "ring capacity %u: must be a power of two in [%u, %u]",
                            d.capacity, MG_RING_MIN_CAP, MG_RING_MAX_CAP);
    mg_ring *r = ring_alloc();
    if (!r) return mg_error_set(err, MG_ENOMEM, "ring: out of memory");
    static _Atomic unsigned counter;
    int fd = -1;
    for (int attempt = 0; attempt < 8 && fd < 0; attempt++) {
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
            rnd = (uint64_t)(uintptr_t)r ^ ((uint64_t)getpid() << 32) ^ (uint64_t)attempt;
        snprintf(r->name, sizeof r->name, "/moegen-%ld-%016llx-%u", (long)getpid(),
                 (unsigned long long)rnd, atomic_fetch_add(&counter, 1));
        fd = shm_open(r->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int e = errno;
        free(r);
        return mg_error_set(err, mg_err_from_errno(e), "ring: shm_open: %s", strerror(e));
    }
    r->owner_linked = true;
    if (ftruncate(fd, (off_t)(sizeof(ring_shared) + d.capacity)) < 0) {
        int e = errno;
        close(fd);
        shm_unlink(r->name);
        free(r);
        return mg_error_set(err, mg_err_from_errno(e), "ring: ftruncate: %s", strerror(e));
    }
    int rc = map_segment(r, fd, true, d.capacity, err);
    if (rc < 0) {
        close(fd);
        shm_unlink(r->name);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Checks a segment made by someone else before trusting any field. */
static int check_header(mg_ring *r, mg_error *err)
{
    struct stat st;
    if (fstat(r->fd, &st) < 0)
        return mg_error_set(err, mg_err_from_errno(errno), "ring %s: fstat: %s", r->name,
                            strerror(errno));
    if ((size_t)st.st_size < sizeof(ring_shared))
        return mg_error_set(err, MG_EPROTO,
                            "ring %s: segment is %lld bytes, smaller than the header", r->name,
                            (long long)st.st_size);
    ring_shared h;
    int rc = 0;
    void *p = mmap(NULL, sizeof h, PROT_READ, MAP_SHARED, r->fd, 0);
    if (p == MAP_FAILED)
        return mg_error_set(err, mg_err_from_errno(errno), "ring %s: mmap header: %s", r->name,
                            strerror(errno));
    memcpy(&h, p, sizeof h);
    munmap(p, sizeof h);
    atomic_thread_fence(memory_order_acquire);
    if (h.magic != MG_RING_MAGIC)
        rc = mg_error_set(err, MG_EPROTO, "ring %s: bad magic %#llx (not a moegen ring)", r->name,
                          (unsigned long long)h.magic);
    else if (h.version != MG_RING_VERSION)
        rc = mg_error_set(err, MG_EPROTO, "ring %s: version %u, this build speaks %u", r->name,
                          h.version, MG_RING_VERSION);
    else if (h.header_size != sizeof(ring_shared) || h.frame_size != MG_RING_FRAME)
        rc = mg_error_set(err, MG_EPROTO, "ring %s: header %u / frame %u bytes, expected %zu / %u",
                          r->name, h.header_size, h.frame_size, sizeof(ring_shared), MG_RING_FRAME);
    else if (h.capacity < MG_RING_MIN_CAP || h.capacity > MG_RING_MAX_CAP ||
             (h.capacity & (h.capacity - 1)))
        rc = mg_error_set(err, MG_EPROTO, "ring %s: capacity %u is not a power of two in range",
                          r->name, h.capacity);
    else if ((uint64_t)st.st_size != sizeof(ring_shared) + (uint64_t)h.capacity)
        rc = mg_error_set(err, MG_EPROTO, "ring %s: segment is %lld bytes, header says %zu",
                          r->name, (long long)st.st_size, sizeof(ring_shared) + h.capacity);
    if (rc < 0) return rc;
    rc = map_segment(r, r->fd, false, h.capacity, err);
    if (rc < 0) return rc;
    /* Only a fresh ring can be attached: the consumer's frame numbering starts
     * at head 0. (The creator may already have queued messages.) */
    uint64_t head = atomic_load_explicit(&r->sh->head, memory_order_acquire);
    if (head != 0) {
        munmap(r->sh, r->map_size);
        r->sh = NULL;
        return mg_error_set(err, MG_EPROTO, "ring %s: already in use (head %llu)", r->name,
                            (unsigned long long)head);
    }
    return 0;
    return 0;
}

int mg_ring_attach(const char *name, mg_ring **out, mg_error *err)
{
    *out = NULL;
    if (!name || name[0] != '/' || strlen(name) >= sizeof(((mg_ring *)0)->name) ||
        strchr(name + 1, '/'))
        return mg_error_set(err, MG_EINVAL, "ring name '%s': expected /name", name ? name : "");
    mg_ring *r = ring_alloc();
    if (!r) return mg_error_set(err, MG_ENOMEM, "ring: out of memory");
    snprintf(r->name, sizeof r->name, "%s", name);
    r->fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (r->fd < 0) {
        int e = errno;
        free(r);
        return mg_error_set(err, mg_err_from_errno(e), "ring %s: shm_open: %s", name, strerror(e));
    }
    int rc = check_header(r, err);
    /* Both sides have the segment open now (or it is garbage): drop the name. */
    shm_unlink(name);
    if (rc < 0) {
        close(r->fd);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int mg_ring_attach_fd(int fd, mg_ring **out, mg_error *err)
{
    *out = NULL;
    mg_ring *r = ring_alloc();
    if (!r) {
        close(fd);
        return mg_error_set(err, MG_ENOMEM, "ring: out of memory");
    }
    r->fd = fd;
    snprintf(r->name, sizeof r->name, "fd:%d", fd);
    int rc = check_header(r, err);
    if (rc < 0) {
        close(fd);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void mg_ring_close(mg_ring *r)
{
    if (!r) return;
    if (r->sh) munmap(r->sh, r->map_size);
    if (r->fd >= 0) close(r->fd);
    mg_ring_unlink(r);
    free(r);
}

const char *mg_ring_name(const mg_ring *r)
{
    return r->name;
}

int mg_ring_fd(const mg_ring *r)
{
    return r->fd;
}

void mg_ring_unlink(mg_ring *r)
{
    if (r && r->owner_linked) {
        shm_unlink(r->name);
        r->owner_linked = false;
    }
}

void mg_ring_set_notify_fd(mg_ring *r, int fd)
{
    r->notify_fd = fd;
}

uint32_t mg_ring_max_payload(const mg_ring *r)
{
    return r->cap - MG_RING_FRAME;
}

uint32_t mg_ring_capacity(const mg_ring *r)
{
    return r->cap;
}

/* ---- producer ---------------------------------------------------------------------- */

static void write_frame(mg_ring *r, uint64_t at, uint32_t len, uint32_t type)
{
    frame f = {
        .len = len, .type = type, .seq = r->p_seq, .check = frame_check(len, type, r->p_seq)};
    memcpy(r->data + (at & r->mask), &f, sizeof f);
    r->p_seq++;
}

int mg_ring_reserve(mg_ring *r, size_t len, void **payload)
{
    if (len > mg_ring_max_payload(r)) return MG_ERANGE;
    uint64_t fsize = align16(MG_RING_FRAME + len);
    uint64_t pos = r->p_tail & r->mask;
    uint64_t contig = r->cap - pos;
    uint64_t need = contig < fsize ? contig + fsize : fsize;
    /* A wrapped message needs the pad and the message in one go only when
     * both fit; otherwise publish the pad alone first so the consumer can
     * free the end of the ring. */
    if (contig < fsize && need > r->cap) need = contig;
    uint64_t used = r->p_tail - r->p_head_cache;
    if (r->cap - used < need) {
        r->p_head_cache = atomic_load_explicit(&r->sh->head, memory_order_acquire);
        used = r->p_tail - r->p_head_cache;
        if (used > r->cap || (used & 15u)) return MG_EPROTO; /* peer scribbled on head */
        if (r->cap - used < need) return MG_EAGAIN;
    }
    if (contig < fsize) {
        write_frame(r, r->p_tail, (uint32_t)(contig - MG_RING_FRAME), PAD_TYPE);
        r->p_tail += contig;
        if (need == contig) {
            /* Only the pad fit: publish it and report "full" for the message. */
            atomic_store_explicit(&r->sh->tail, r->p_tail, memory_order_release);
            return MG_EAGAIN;
        }
    }
    r->p_res_tail = r->p_tail;
    r->p_res_len = len;
    *payload = r->data + (r->p_tail & r->mask) + MG_RING_FRAME;
    return 0;
}

static void wake_peer(mg_ring *r, _Atomic uint32_t *flag)
{
    /* Pairs with the fence in *_sleep_ok: either the sleeper sees our index
     * update or we see its flag (Dekker). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(flag, memory_order_relaxed) &&
        atomic_exchange_explicit(flag, 0, memory_order_relaxed) && r->notify_fd >= 0)
        mg_doorbell_ring(r->notify_fd);
}

void mg_ring_commit(mg_ring *r, uint32_t type, size_t len)
{
    MG_ASSERT(len <= r->p_res_len && type >= 1 && type <= MG_RING_MAX_TYPE);
    write_frame(r, r->p_res_tail, (uint32_t)len, type);
    r->p_tail = r->p_res_tail + align16(MG_RING_FRAME + len);
    r->p_res_len = 0;
    atomic_store_explicit(&r->sh->tail, r->p_tail, memory_order_release);
    wake_peer(r, &r->sh->consumer_waiting);
}

int mg_ring_write(mg_ring *r, uint32_t type, const void *data, size_t len)
{
    void *p;
    int rc = mg_ring_reserve(r, len, &p);
    if (rc < 0) return rc;
    if (len) memcpy(p, data, len);
    mg_ring_commit(r, type, len);
    return 0;
}

/* ---- consumer ---------------------------------------------------------------------- */

int mg_ring_peek(mg_ring *r, mg_ring_msg *m, mg_error *err)
{
    for (;;) {
        if (r->c_head == r->c_tail_cache) {
            r->c_tail_cache = atomic_load_explicit(&r->sh->tail, memory_order_acquire);
            if (r->c_head == r->c_tail_cache) return 0;
        }
        uint64_t avail = r->c_tail_cache - r->c_head;
        if (avail > r->cap || (avail & 15u))
            return mg_error_set(err, MG_EPROTO,
                                "ring %s: corrupt indices (head %llu, tail %llu, capacity %u)",
                                r->name, (unsigned long long)r->c_head,
                                (unsigned long long)r->c_tail_cache, r->cap);
        uint64_t pos = r->c_head & r->mask;
        frame f;
        memcpy(&f, r->data + pos, sizeof f); /* one copy: no re-reads of shared bytes */
        uint64_t fsize = align16(MG_RING_FRAME + (uint64_t)f.len);
        if (f.check != frame_check(f.len, f.type, f.seq))
            return mg_error_set(err, MG_EPROTO, "ring %s: frame %u at offset %llu: bad check word",
                                r->name, r->c_seq, (unsigned long long)pos);
        if (f.seq != r->c_seq)
            return mg_error_set(err, MG_EPROTO, "ring %s: frame sequence %u, expected %u", r->name,
                                f.seq, r->c_seq);
        if (f.type == 0 || (f.type > MG_RING_MAX_TYPE && f.type != PAD_TYPE))
            return mg_error_set(err, MG_EPROTO, "ring %s: frame %u has invalid type %u", r->name,
                                f.seq, f.type);
        if (fsize > avail || fsize > r->cap - pos)
            return mg_error_set(err, MG_EPROTO,
                                "ring %s: frame %u of %u bytes overruns the ring (%llu available, "
                                "%llu to the end)",
                                r->name, f.seq, f.len, (unsigned long long)avail,
                                (unsigned long long)(r->cap - pos));
        if (f.type == PAD_TYPE) {
            if (pos + fsize != r->cap)
                return mg_error_set(err, MG_EPROTO, "ring %s: pad frame %u does not end the ring",
                                    r->name, f.seq);
            r->c_seq++;
            r->c_cur_frame = (uint32_t)fsize;
            mg_ring_release(r);
            continue;
        }
        r->c_seq++;
        r->c_cur_frame = (uint32_t)fsize;
        m->type = f.type;
        m->len = f.len;
        m->data = r->data + pos + MG_RING_FRAME;
        return 1;
    }
}

void mg_ring_release(mg_ring *r)
{
    MG_ASSERT(r->c_cur_frame != 0);
    r->c_head += r->c_cur_frame;
    r->c_cur_frame = 0;
    atomic_store_explicit(&r->sh->head, r->c_head, memory_order_release);
    wake_peer(r, &r->sh->producer_waiting);
}

/* ---- sleeping ---------------------------------------------------------------------- */

bool mg_ring_consumer_sleep_ok(mg_ring *r)
{
    atomic_store_explicit(&r->sh->consumer_waiting, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    r->c_tail_cache = atomic_load_explicit(&r->sh->tail, memory_order_acquire);
    if (r->c_tail_cache != r->c_head) {
        atomic_store_explicit(&r->sh->consumer_waiting, 0, memory_order_relaxed);
        return false;
    }
    return true;
}

bool mg_ring_producer_sleep_ok(mg_ring *r, size_t len)
{
    atomic_store_explicit(&r->sh->producer_waiting, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    r->p_head_cache = atomic_load_explicit(&r->sh->head, memory_order_acquire);
    uint64_t fsize = align16(MG_RING_FRAME + len);
    uint64_t pos = r->p_tail & r->mask;
    uint64_t contig = r->cap - pos;
    uint64_t need = contig < fsize ? (contig + fsize > r->cap ? contig : contig + fsize) : fsize;
    uint64_t used = r->p_tail - r->p_head_cache;
    if (used > r->cap || r->cap - used >= need) {
        atomic_store_explicit(&r->sh->producer_waiting, 0, memory_order_relaxed);
        return false;
    }
    return true;
}

/* ---- doorbells ----------------------------------------------------------------------- */

int mg_doorbell_open(int fds[2], mg_error *err)
{
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return mg_error_set(err, mg_err_from_errno(errno), "doorbell: pipe2: %s", strerror(errno));
    return 0;
}

void mg_doorbell_ring(int wfd)
{
    char c = 1;
    /* EAGAIN: the pipe is full, so the reader is already due to wake.
     * EPIPE (SIGPIPE ignored by our processes): the reader is gone. */
    ssize_t n;
    do n = write(wfd, &c, 1);
    while (n < 0 && errno == EINTR);
}

int mg_doorbell_drain(int rfd)
{
    char buf[256];
    for (;;) {
        ssize_t n = read(rfd, buf, sizeof buf);
        if (n > 0) continue;
        if (n == 0) return MG_EPIPE;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return mg_err_from_errno(errno);
    }
}

int mg_doorbell_wait(int rfd, int timeout_ms)
{
    struct pollfd p = {.fd = rfd, .events = POLLIN};
    int n;
    do n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n < 0) return mg_err_from_errno(errno);
    if (n == 0) return 0;
    int rc = mg_doorbell_drain(rfd);
    return rc < 0 ? rc : 1;
}
