/* fuzz_ring_msg.c — the ring's frame validation and the protocol decoders
 * against arbitrary bytes, as a buggy or hostile peer could write them.
 *
 * Input: byte 0 picks the mode. Mode even: the rest is a message payload fed
 * to every decoder (each must return 0 or MG_EPROTO, never read out of
 * bounds). Mode odd: the rest is copied over the data area of a fresh ring
 * (and the first 16 bytes over the tail counter area) and the consumer peeks
 * until it reports empty or MG_EPROTO. */
#include "mg_ring.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    mg_error err;
    if ((data[0] & 1) == 0) {
        mg_ring_msg m = {.len = (uint32_t)(size - 1), .data = data + 1};
        for (uint32_t t = MG_MSG_HELLO; t <= MG_MSG_SHUTDOWN; t++) {
            m.type = t;
            mg_msg_hello h;
            mg_msg_ready r;
            mg_msg_request q;
            mg_msg_text x;
            mg_msg_done d;
            mg_msg_cancel c;
            mg_msg_error e;
            (void)mg_msg_decode_hello(&m, &h, &err);
            (void)mg_msg_decode_ready(&m, &r, &err);
            if (mg_msg_decode_request(&m, &q, &err) == 0) mg_msg_request_free(&q);
            if (mg_msg_decode_text(&m, &x, &err) == 0 && x.len && x.text[x.len - 1] == 0x7f)
                err.code = 1; /* touch the last byte */
            (void)mg_msg_decode_done(&m, &d, &err);
            (void)mg_msg_decode_cancel(&m, &c, &err);
            (void)mg_msg_decode_error(&m, &e, &err);
        }
        return 0;
    }
    /* A fresh ring each time: map the segment, scribble, peek. */
    mg_ring_params p = {.capacity = 4096};
    mg_ring *w = NULL, *r = NULL;
    if (mg_ring_create(&p, &w, NULL) < 0) return 0;
    if (mg_ring_attach(mg_ring_name(w), &r, NULL) < 0) {
        mg_ring_close(w);
        return 0;
    }
    uint8_t *v = mmap(NULL, 256 + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mg_ring_fd(w), 0);
    if (v != MAP_FAILED) {
        size_t n = size - 1;
        const uint8_t *in = data + 1;
        if (n >= 8) {
            memcpy(v + 64, in, 8); /* tail */
            in += 8;
            n -= 8;
        }
        memcpy(v + 256, in, n > 4096 ? 4096 : n);
        mg_ring_msg m;
        for (int i = 0; i < 600 && mg_ring_peek(r, &m, &err) == 1; i++) {
            volatile uint8_t sink = m.len ? ((const uint8_t *)m.data)[m.len - 1] : 0;
            (void)sink;
            mg_ring_release(r);
        }
        munmap(v, 256 + 4096);
    }
    mg_ring_close(r);
    mg_ring_close(w);
    return 0;
}
