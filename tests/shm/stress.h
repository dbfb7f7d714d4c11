/* stress.h — checksummed random-size message streams shared by the Criterion
 * ring tests and the plain ThreadSanitizer executable (Criterion itself cannot
 * start under TSan: Snaipe/Criterion#274). */
#ifndef MG_TEST_SHM_STRESS_H
#define MG_TEST_SHM_STRESS_H

#include "mg_ring.h"

#include <stdio.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STRESS_MESSAGES 200000u
#else
#define STRESS_MESSAGES 2000000u
#endif

static inline uint64_t stress_rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint32_t stress_fnv(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

/* Message i: [u32 index][u32 fnv of the rest][rng bytes]; size 8..607 bytes,
 * every 1000th up to 2007. Returns 0 or a negative code. */
static inline int stress_produce(mg_ring *r, int my_doorbell, uint32_t count)
{
    uint64_t rng = 42;
    unsigned char buf[2048];
    for (uint32_t i = 0; i < count; i++) {
        size_t len = 8 + (size_t)(stress_rng(&rng) % 600);
        if (i % 1000 == 999) len = 8 + (size_t)(stress_rng(&rng) % 2000);
        for (size_t k = 8; k < len; k += 8) {
            uint64_t v = stress_rng(&rng);
            memcpy(buf + k, &v, len - k < 8 ? len - k : 8);
        }
        uint32_t h = stress_fnv(buf + 8, len - 8);
        memcpy(buf, &i, 4);
        memcpy(buf + 4, &h, 4);
        for (;;) {
            int rc = mg_ring_write(r, 1 + i % 7, buf, len);
            if (rc == 0) break;
            if (rc != MG_EAGAIN) return rc;
            if (mg_ring_producer_sleep_ok(r, len)) {
                int w = mg_doorbell_wait(my_doorbell, 100);
                if (w < 0) return w;
            }
        }
    }
    return 0;
}

/* Returns how many messages arrived intact and in order (== count on success);
 * `why` says what went wrong otherwise. */
static inline uint32_t stress_consume(mg_ring *r, int my_doorbell, uint32_t count, char *why,
                                      size_t why_cap)
{
    uint32_t next = 0;
    mg_error err = {0};
    int idle = 0;
    while (next < count) {
        mg_ring_msg m;
        int got = mg_ring_peek(r, &m, &err);
        if (got < 0) {
            snprintf(why, why_cap, "%s", err.msg);
            return next;
        }
        if (!got) {
            if (mg_ring_consumer_sleep_ok(r)) {
                int w = mg_doorbell_wait(my_doorbell, 1000);
                if (w < 0 || (w == 0 && ++idle > 30)) {
                    snprintf(why, why_cap, "producer stalled at message %u", next);
                    return next;
                }
            }
            continue;
        }
        idle = 0;
        uint32_t idx, h;
        if (m.len < 8) {
            snprintf(why, why_cap, "message %u too short (%u)", next, m.len);
            return next;
        }
        memcpy(&idx, m.data, 4);
        memcpy(&h, (const char *)m.data + 4, 4);
        if (idx != next || m.type != 1 + next % 7 ||
            h != stress_fnv((const unsigned char *)m.data + 8, m.len - 8)) {
            snprintf(why, why_cap, "message %u: index %u type %u or checksum wrong", next, idx,
                     m.type);
            return next;
        }
        mg_ring_release(r);
        next++;
    }
    return next;
}

typedef struct stress_thread_arg {
    mg_ring *r;
    int doorbell;
    uint32_t count;
    int rc;
} stress_thread_arg;

static inline void *stress_producer_thread(void *a)
{
    stress_thread_arg *t = a;
    t->rc = stress_produce(t->r, t->doorbell, t->count);
    return NULL;
}

#endif
