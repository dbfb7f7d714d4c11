/* test_proto.c — the coordinator <-> worker messages: round trips through a
 * ring, and every truncation / corruption of a payload is MG_EPROTO. */
#include "mg_ring.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mg_ring *make_pair(mg_ring **cons)
{
    mg_ring *p = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_ring_create(NULL, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_ring_attach(mg_ring_name(p), cons, &err), 0, "%s", err.msg);
    return p;
}

static mg_msg_request sample_request(void)
{
    static char *stops[] = {"\ndef ", "\nclass ", "</s>"};
    static uint32_t idx[] = {3, 4, 7};
    return (mg_msg_request){.req_id = 99,
                            .task_id = "HumanEval/0",
                            .prompt = "def f():\n    ",
                            .prompt_len = 13,
                            .stops = stops,
                            .n_stops = 3,
                            .strategy = "single:1",
                            .greedy = false,
                            .temperature = 0.8f,
                            .top_p = 0.95f,
                            .top_k = 50,
                            .seed = 1234,
                            .max_new_tokens = 64,
                            .task_key = 0xabcdef,
                            .sample_index = idx,
                            .n_samples = 3};
}

Test(shm_proto, request_round_trip)
{
    mg_ring *c, *p = make_pair(&c);
    mg_msg_request rq = sample_request();
    cr_assert_eq(mg_msg_send_request(p, &rq), 0);
    mg_ring_msg m;
    mg_error err = {0};
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    cr_assert_eq(m.len, mg_msg_request_size(&rq));
    mg_msg_request d;
    cr_assert_eq(mg_msg_decode_request(&m, &d, &err), 0, "%s", err.msg);
    cr_assert_eq(d.req_id, 99);
    cr_assert_str_eq(d.task_id, "HumanEval/0");
    cr_assert_str_eq(d.prompt, rq.prompt);
    cr_assert_eq(d.n_stops, 3);
    cr_assert_str_eq(d.stops[1], "\nclass ");
    cr_assert_str_eq(d.strategy, "single:1");
    cr_assert_float_eq(d.temperature, 0.8f, 1e-9);
    cr_assert_eq(d.top_k, 50);
    cr_assert_eq(d.seed, 1234);
    cr_assert_eq(d.task_key, 0xabcdef);
    cr_assert_eq(d.n_samples, 3);
    cr_assert_eq(d.sample_index[2], 7);
    mg_msg_request_free(&d);
    mg_ring_release(c);
    mg_ring_close(p);
    mg_ring_close(c);
}

Test(shm_proto, small_messages_round_trip)
{
    mg_ring *c, *p = make_pair(&c);
    mg_error err = {0};
    mg_ring_msg m;
    mg_msg_hello h = {MG_PROTO_VERSION, 42, 1};
    mg_msg_done dn = {.req_id = 5,
                      .slot = 2,
                      .finish = MG_MSG_FINISH_STOP,
                      .n_prompt = 10,
                      .n_generated = 20,
                      .n_experts = 2,
                      .experts = {0, 3}};
    mg_msg_error er = {.req_id = 0, .code = MG_EIO};
    snprintf(er.msg, sizeof er.msg, "model.safetensors: truncated");
    cr_assert_eq(mg_msg_send_hello(p, &h), 0);
    cr_assert_eq(mg_msg_send_text(p, 5, 2, "hello", 5), 0);
    cr_assert_eq(mg_msg_send_done(p, &dn), 0);
    cr_assert_eq(mg_msg_send_cancel(p, &(mg_msg_cancel){5, MG_SLOT_ALL}), 0);
    cr_assert_eq(mg_msg_send_error(p, &er), 0);

    mg_msg_hello h2;
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    cr_assert_eq(mg_msg_decode_hello(&m, &h2, &err), 0, "%s", err.msg);
    cr_assert_eq(h2.pid, 42);
    mg_ring_release(c);
    mg_msg_text t;
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    cr_assert_eq(mg_msg_decode_text(&m, &t, &err), 0);
    cr_assert_eq(t.len, 5);
    cr_assert_arr_eq(t.text, "hello", 5);
    mg_ring_release(c);
    mg_msg_done d2;
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    cr_assert_eq(mg_msg_decode_done(&m, &d2, &err), 0, "%s", err.msg);
    cr_assert_eq(d2.n_experts, 2);
    cr_assert_eq(d2.experts[1], 3);
    cr_assert_str_eq(mg_msg_finish_name(d2.finish), "stop");
    mg_ring_release(c);
    mg_msg_cancel cc;
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    cr_assert_eq(mg_msg_decode_cancel(&m, &cc, &err), 0);
    cr_assert_eq(cc.slot, MG_SLOT_ALL);
    mg_ring_release(c);
    mg_msg_error e2;
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    cr_assert_eq(mg_msg_decode_error(&m, &e2, &err), 0);
    cr_assert_str_eq(e2.msg, "model.safetensors: truncated");
    cr_assert_eq(mg_msg_decode_hello(&m, &h2, &err), MG_EPROTO, "type is checked");
    mg_ring_release(c);
    mg_ring_close(p);
    mg_ring_close(c);
}

Test(shm_proto, every_truncation_is_rejected)
{
    mg_ring *c, *p = make_pair(&c);
    mg_msg_request rq = sample_request();
    cr_assert_eq(mg_msg_send_request(p, &rq), 0);
    mg_ring_msg m;
    mg_error err = {0};
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    unsigned char *copy = malloc(m.len);
    memcpy(copy, m.data, m.len);
    for (uint32_t n = 0; n < m.len; n++) {
        mg_ring_msg t = {.type = MG_MSG_REQUEST, .len = n, .data = copy};
        mg_msg_request d;
        cr_assert_eq(mg_msg_decode_request(&t, &d, &err), MG_EPROTO, "length %u", n);
    }
    /* A huge string length in the prompt field. */
    uint32_t huge = 0xfffffff0u;
    memcpy(copy + 8 + 4 + strlen(rq.task_id), &huge, 4);
    mg_ring_msg t = {.type = MG_MSG_REQUEST, .len = m.len, .data = copy};
    mg_msg_request d;
    cr_assert_eq(mg_msg_decode_request(&t, &d, &err), MG_EPROTO);
    cr_assert(strstr(err.msg, "prompt"), "%s", err.msg);
    free(copy);
    mg_ring_release(c);
    mg_ring_close(p);
    mg_ring_close(c);
}
