/* test_engine_unit.c — strategies, sampling, RNG, continuous batching and
 * cancel on an in-memory random model. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>

#include "mg_engine.h"
#include "internal.h" /* mg__rope_inv_freq */
#include "tiny_model.h"

#define MAXR 16
typedef struct run_out {
    uint64_t id[MAXR];
    int32_t toks[MAXR][64];
    int n[MAXR];
    mg_finish fin[MAXR];
    int expert[MAXR];
} run_out;

static int slot(run_out *o, uint64_t id)
{
    for (int i = 0; i < MAXR; i++)
        if (o->id[i] == id) return i;
    cr_assert_fail("unknown id %llu", (unsigned long long)id);
    return -1;
}

/* Steps until every request finished; cancel_at: cancel `cancel_id` when it
 * has produced that many tokens (-1 = never). */
static void drain(mg_engine *e, run_out *o, uint64_t cancel_id, int cancel_at)
{
    mg_error err = {0};
    int guard = 0;
    while (mg_engine_active(e) > 0) {
        mg_token_event ev[8];
        int n = 0;
        cr_assert_eq(mg_engine_step(e, ev, 8, &n, &err), 0, "%s", err.msg);
        for (int i = 0; i < n; i++) {
            int s = slot(o, ev[i].id);
            if (ev[i].token >= 0) o->toks[s][o->n[s]++] = ev[i].token;
            if (ev[i].finish != MG_FINISH_NONE) {
                o->fin[s] = ev[i].finish;
                o->expert[s] = ev[i].expert;
            }
            if (ev[i].id == cancel_id && o->n[s] == cancel_at) mg_engine_cancel(e, cancel_id);
        }
        cr_assert_lt(++guard, 10000);
    }
}

static mg_request req(uint64_t id, const int32_t *ids, int n, const char *strat, bool greedy,
                      uint32_t sample)
{
    mg_request r = {.id = id, .prompt_ids = ids, .n_prompt = n, .max_new_tokens = 12};
    mg_error err = {0};
    cr_assert_eq(mg_strategy_parse(strat, &r.strategy, &err), 0, "%s", err.msg);
    r.sampling = (mg_sampling){
        .greedy = greedy, .temperature = 0.9f, .top_k = 20, .top_p = 0.95f, .seed = 42};
    r.task_key = 0xabcdef;
    r.sample_index = sample;
    return r;
}

static const int32_t P1[] = {1, 5, 9, 33, 17, 4, 60, 22, 8, 13};
static const int32_t P2[] = {1, 40, 41, 42, 7};
static const int32_t P3[] = {1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 50, 51, 52, 53, 54};

Test(engine_strategy, parse_and_format)
{
    mg_strategy s;
    mg_error err = {0};
    char buf[32];
    const char *ok[] = {"router", "single:2", "best", "ensemble", "round_robin", "mix", "base"};
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(mg_strategy_parse(ok[i], &s, &err), 0, "%s", ok[i]);
        cr_assert_str_eq(mg_strategy_format(&s, buf, sizeof buf), ok[i]);
    }
    const char *bad[] = {"routr", "single:", "single:x", "single:-1", "", "Router"};
    for (int i = 0; i < 6; i++) {
        cr_assert_lt(mg_strategy_parse(bad[i], &s, &err), 0, "%s", bad[i]);
        cr_assert(strstr(err.msg, "single:N"), "message lists forms: %s", err.msg);
    }
}

Test(engine_strategy, check_against_model)
{
    tiny_model *t = tiny_model_new(2), *b = tiny_model_new(0);
    mg_strategy s;
    mg_error err = {0};
    mg_strategy_parse("single:2", &s, &err);
    cr_assert_lt(mg_strategy_check(&s, &t->m, &err), 0);
    cr_assert(strstr(err.msg, "2 experts"), "%s", err.msg);
    mg_strategy_parse("single:1", &s, &err);
    cr_assert_eq(mg_strategy_check(&s, &t->m, &err), 0);
    mg_strategy_parse("ensemble", &s, &err);
    cr_assert_lt(mg_strategy_check(&s, &b->m, &err), 0);
    cr_assert(strstr(err.msg, "no experts"), "%s", err.msg);
    mg_strategy_parse("base", &s, &err);
    cr_assert_eq(mg_strategy_check(&s, &b->m, &err), 0);
    t->m.has_router = false;
    mg_strategy_parse("router", &s, &err);
    cr_assert_lt(mg_strategy_check(&s, &t->m, &err), 0);
    mg_strategy_parse("xlora", &s, &err);
    cr_assert_eq(mg_strategy_check(&s, &t->m, &err), MG_EINVAL);
    cr_assert(strstr(err.msg, "not an X-LoRA model"), "%s", err.msg);
    tiny_model_free(t);
    tiny_model_free(b);
}

Test(engine_rng, pure_and_spread)
{
    double a = mg_rng_uniform(1, 2, 3, 4);
    cr_assert_eq(a, mg_rng_uniform(1, 2, 3, 4));
    cr_assert_neq(a, mg_rng_uniform(1, 2, 3, 5));
    cr_assert_neq(a, mg_rng_uniform(1, 2, 4, 4));
    cr_assert_neq(a, mg_rng_uniform(2, 2, 3, 4));
    double sum = 0;
    for (uint32_t i = 0; i < 10000; i++) {
        double u = mg_rng_uniform(7, 0, 0, i);
        cr_assert(u >= 0 && u < 1);
        sum += u;
    }
    cr_assert_float_eq(sum / 10000, 0.5, 0.02);
}

/* The warpers against transformers' Temperature/TopK/TopP warpers. */
Test(engine_sampling, warpers_match_hf)
{
    json_error_t je;
    json_t *root = json_load_file(MG_SOURCE_DIR "/tests/fixtures/goldens/engine.json", 0, &je);
    cr_assert(root, "engine.json: %s", je.text);
    json_t *arr = json_object_get(root, "sampling"), *c;
    size_t i;
    cr_assert(json_array_size(arr) > 0);
    json_array_foreach(arr, i, c)
    {
        mg_sampling s = {.greedy = false,
                         .temperature = (float)json_number_value(json_object_get(c, "temperature")),
                         .top_k = (int)json_integer_value(json_object_get(c, "top_k")),
                         .top_p = (float)json_number_value(json_object_get(c, "top_p"))};
        json_t *sc = json_object_get(c, "scores"), *wp = json_object_get(c, "warped");
        int n = (int)json_array_size(sc);
        float v[256];
        for (int j = 0; j < n; j++) v[j] = (float)json_number_value(json_array_get(sc, j));
        cr_assert_eq(mg_sampling_warp(&s, v, n), 0);
        for (int j = 0; j < n; j++) {
            json_t *w = json_array_get(wp, j);
            if (json_is_null(w))
                cr_assert(isinf(v[j]) && v[j] < 0, "case %zu idx %d should be removed", i, j);
            else
                cr_assert_float_eq(v[j], json_number_value(w), 1e-6, "case %zu idx %d", i, j);
        }
        /* Picks land on kept entries only. */
        for (int d = 0; d < 50; d++) {
            int32_t t = mg_sampling_pick(&s, v, n, mg_rng_uniform(1, i, 0, d));
            cr_assert(!isinf(v[t]));
        }
    }
    json_decref(root);
}

/* Chunked prefill + decode through the cache equals one full forward pass. */
Test(engine_forward, incremental_equals_full)
{
    tiny_model *t = tiny_model_new(2);
    mg_engine_params p = mg_engine_default_params();
    p.prefill_chunk = 3;
    p.n_threads = 1;
    mg_engine *e = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_engine_new(&t->m, &p, &e, &err), 0, "%s", err.msg);
    float first[64];
    mg_request r = req(1, P1, 10, "single:1", true, 0);
    r.first_logits = first;
    cr_assert_eq(mg_engine_submit(e, &r, &err), 0, "%s", err.msg);
    run_out o = {.id = {1}};
    drain(e, &o, 0, -1);
    cr_assert_eq(o.n[0], 12);
    cr_assert_eq(o.expert[0], 1);
    /* Replay prompt + generated tokens in one pass with expert 1. */
    int32_t all[32];
    memcpy(all, P1, sizeof P1);
    memcpy(all + 10, o.toks[0], sizeof(int32_t) * 11);
    float *lg = malloc(sizeof(float) * 21 * 64);
    float w[2] = {0, 1};
    cr_assert_eq(mg_engine_forward_logits(e, w, all, 21, lg, &err), 0, "%s", err.msg);
    for (int v = 0; v < 64; v++) cr_assert_float_eq(first[v], lg[9 * 64 + v], 1e-5);
    for (int s = 0; s < 11; s++) {
        const float *row = lg + (size_t)(9 + s) * 64;
        int best = 0;
        for (int v = 1; v < 64; v++)
            if (row[v] > row[best]) best = v;
        cr_assert_eq(best, o.toks[0][s], "greedy token %d", s);
    }
    free(lg);
    mg_engine_free(e);
    tiny_model_free(t);
}

/* A sample's tokens do not depend on what else is in the batch. */
Test(engine_batching, independent_of_batch_composition)
{
    tiny_model *t = tiny_model_new(3);
    mg_error err = {0};
    const char *strats[] = {"router", "single:2", "best", "ensemble", "round_robin", "mix", "base"};
    run_out alone = {0};
    for (int k = 0; k < 7; k++) {
        mg_engine *e = NULL;
        mg_engine_params p = mg_engine_default_params();
        p.n_threads = 1;
        cr_assert_eq(mg_engine_new(&t->m, &p, &e, &err), 0, "%s", err.msg);
        mg_request r = req(100 + k, P3, 17, strats[k], false, 5);
        cr_assert_eq(mg_engine_submit(e, &r, &err), 0, "%s", err.msg);
        run_out o = {.id = {100 + k}};
        drain(e, &o, 0, -1);
        alone.id[k] = 100 + k;
        alone.n[k] = o.n[0];
        alone.expert[k] = o.expert[0];
        memcpy(alone.toks[k], o.toks[0], sizeof(o.toks[0]));
        mg_engine_free(e);
    }
    /* All together, with other traffic, small chunks and a batch limit so
     * sequences join mid-way. */
    mg_engine *e = NULL;
    mg_engine_params p = mg_engine_default_params();
    p.prefill_chunk = 4;
    p.max_batch = 4;
    p.n_threads = 2;
    cr_assert_eq(mg_engine_new(&t->m, &p, &e, &err), 0, "%s", err.msg);
    run_out o = {0};
    for (int k = 0; k < 7; k++) {
        mg_request other = req(200 + k, k % 2 ? P1 : P2, k % 2 ? 10 : 5, strats[6 - k], k % 3, k);
        cr_assert_eq(mg_engine_submit(e, &other, &err), 0, "%s", err.msg);
        o.id[7 + k] = 200 + k;
        mg_request r = req(100 + k, P3, 17, strats[k], false, 5);
        cr_assert_eq(mg_engine_submit(e, &r, &err), 0, "%s", err.msg);
        o.id[k] = 100 + k;
    }
    drain(e, &o, 0, -1);
    for (int k = 0; k < 7; k++) {
        cr_assert_eq(o.n[k], alone.n[k], "%s", strats[k]);
        cr_assert_eq(o.expert[k], alone.expert[k], "%s", strats[k]);
        for (int j = 0; j < o.n[k]; j++)
            cr_assert_eq(o.toks[k][j], alone.toks[k][j], "%s token %d", strats[k], j);
    }
    mg_engine_free(e);
    tiny_model_free(t);
}

Test(engine_batching, cancel_ends_one_request)
{
    tiny_model *t = tiny_model_new(2);
    mg_error err = {0};
    mg_engine *e = NULL;
    mg_engine_params p = mg_engine_default_params();
    p.n_threads = 1;
    cr_assert_eq(mg_engine_new(&t->m, &p, &e, &err), 0, "%s", err.msg);
    mg_request a = req(1, P1, 10, "single:0", true, 0), b = req(2, P2, 5, "single:1", true, 0);
    a.max_new_tokens = b.max_new_tokens = 20;
    /* eos unreachable so lengths are predictable */
    t->m.config.n_eos = 0;
    cr_assert_eq(mg_engine_submit(e, &a, &err), 0);
    cr_assert_eq(mg_engine_submit(e, &b, &err), 0);
    cr_assert_lt(mg_engine_submit(e, &b, &err), 0, "duplicate id refused");
    mg_engine_cancel(e, 999); /* unknown: ignored */
    run_out o = {.id = {1, 2}};
    drain(e, &o, 1, 3);
    cr_assert_eq(o.fin[0], MG_FINISH_CANCEL);
    cr_assert_eq(o.n[0], 3);
    cr_assert_eq(o.fin[1], MG_FINISH_LENGTH);
    cr_assert_eq(o.n[1], 20);
    mg_engine_free(e);
    tiny_model_free(t);
}

Test(engine_batching, refuses_bad_requests)
{
    tiny_model *t = tiny_model_new(2);
    mg_error err = {0};
    mg_engine *e = NULL;
    cr_assert_eq(mg_engine_new(&t->m, NULL, &e, &err), 0, "%s", err.msg);
    int32_t bad[] = {1, 64};
    mg_request r = req(1, bad, 2, "single:0", true, 0);
    cr_assert_lt(mg_engine_submit(e, &r, &err), 0);
    cr_assert(strstr(err.msg, "vocabulary"), "%s", err.msg);
    r = req(1, P1, 0, "single:0", true, 0);
    cr_assert_lt(mg_engine_submit(e, &r, &err), 0);
    r = req(1, P1, 10, "single:5", true, 0);
    cr_assert_lt(mg_engine_submit(e, &r, &err), 0);
    r = req(1, P1, 10, "single:0", false, 0);
    r.sampling.temperature = 0;
    cr_assert_lt(mg_engine_submit(e, &r, &err), 0);
    cr_assert_eq(mg_engine_active(e), 0);
    mg_engine_free(e);
    tiny_model_free(t);
}

/* Merging the one expert gives the same tokens as running it unmerged. */
Test(engine_forward, merge_single_matches_unmerged)
{
    tiny_model *t = tiny_model_new(2);
    mg_error err = {0};
    run_out o[2] = {{.id = {1}}, {.id = {1}}};
    for (int merge = 0; merge < 2; merge++) {
        mg_engine *e = NULL;
        mg_engine_params p = mg_engine_default_params();
        p.merge_single = merge;
        p.merge_expert = 1;
        cr_assert_eq(mg_engine_new(&t->m, &p, &e, &err), 0, "%s", err.msg);
        mg_request r = req(1, P1, 10, "single:1", true, 0);
        cr_assert_eq(mg_engine_submit(e, &r, &err), 0, "%s", err.msg);
        if (merge) {
            mg_request r2 = req(2, P1, 10, "single:0", true, 0);
            cr_assert_lt(mg_engine_submit(e, &r2, &err), 0);
        }
        drain(e, &o[merge], 0, -1);
        mg_engine_free(e);
    }
    cr_assert_eq(o[0].n[0], o[1].n[0]);
    for (int j = 0; j < o[0].n[0]; j++) cr_assert_eq(o[0].toks[0][j], o[1].toks[0][j]);
    tiny_model_free(t);
}

/* RoPE inverse frequencies against transformers' rope init functions. */
Test(engine_rope, inv_freq_matches_transformers)
{
    json_error_t je;
    json_t *root = json_load_file(MG_SOURCE_DIR "/tests/fixtures/goldens/engine.json", 0, &je);
    cr_assert(root, "engine.json: %s", je.text);
    json_t *arr = json_object_get(root, "rope"), *c;
    size_t i;
    cr_assert(json_array_size(arr) > 0);
    json_array_foreach(arr, i, c)
    {
        mg_model_config cfg = {0};
        cfg.head_dim = (int)json_integer_value(json_object_get(c, "head_dim"));
        cfg.rope_theta = (float)json_number_value(json_object_get(c, "theta"));
        cfg.max_position_embeddings = (int)json_integer_value(json_object_get(c, "max_pos"));
        json_t *s = json_object_get(c, "scaling");
        const char *type = json_string_value(json_object_get(s, "rope_type"));
        mg_rope_scaling *rs = &cfg.rope_scaling;
        rs->type = !type                      ? MG_ROPE_DEFAULT
                   : !strcmp(type, "linear")  ? MG_ROPE_LINEAR
                   : !strcmp(type, "dynamic") ? MG_ROPE_DYNAMIC
                                              : MG_ROPE_LLAMA3;
        rs->factor = (float)json_number_value(json_object_get(s, "factor"));
        rs->low_freq_factor = (float)json_number_value(json_object_get(s, "low_freq_factor"));
        rs->high_freq_factor = (float)json_number_value(json_object_get(s, "high_freq_factor"));
        rs->original_max_position_embeddings =
            (int)json_integer_value(json_object_get(s, "original_max_position_embeddings"));
        float inv[128];
        mg__rope_inv_freq(&cfg, (int)json_integer_value(json_object_get(c, "seq_len")), inv);
        json_t *ref = json_object_get(c, "inv_freq");
        cr_assert_eq((int)json_array_size(ref), cfg.head_dim / 2);
        for (int j = 0; j < cfg.head_dim / 2; j++) {
            double r = json_number_value(json_array_get(ref, j));
            cr_assert_leq(fabs(inv[j] - r), 1e-6 * fabs(r), "case %zu (%s) freq %d: %g vs %g", i,
                          type ? type : "default", j, inv[j], r);
        }
    }
    json_decref(root);
}

/* A context cap ends a sequence with LENGTH; a one-slot event buffer still
 * delivers every event, in order. */
Test(engine_batching, context_cap_and_small_event_buffer)
{
    tiny_model *t = tiny_model_new(1);
    t->m.config.n_eos = 0;
    mg_error err = {0};
    mg_engine *e = NULL;
    mg_engine_params p = mg_engine_default_params();
    p.max_seq_len = 14;
    p.n_threads = 1;
    cr_assert_eq(mg_engine_new(&t->m, &p, &e, &err), 0, "%s", err.msg);
    mg_request a = req(1, P1, 10, "router", true, 0), b = req(2, P2, 5, "round_robin", true, 3);
    a.max_new_tokens = b.max_new_tokens = 30;
    cr_assert_eq(mg_engine_submit(e, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_engine_submit(e, &b, &err), 0, "%s", err.msg);
    int n[2] = {0}, fin[2] = {0}, guard = 0;
    while (mg_engine_active(e) > 0 && guard++ < 1000) {
        mg_token_event ev;
        int ne;
        cr_assert_eq(mg_engine_step(e, &ev, 1, &ne, &err), 0, "%s", err.msg);
        if (!ne) continue;
        int s = (int)ev.id - 1;
        cr_assert_eq(fin[s], 0, "event after finish");
        cr_assert_eq(ev.n_generated, ++n[s]);
        if (ev.finish) {
            fin[s] = ev.finish;
            cr_assert_eq(ev.expert, 0);
        }
    }
    /* 14 positions: prompt 10 -> 5 tokens (the last is never fed back). */
    cr_assert_eq(n[0], 5);
    cr_assert_eq(n[1], 10);
    cr_assert_eq(fin[0], MG_FINISH_LENGTH);
    cr_assert_eq(fin[1], MG_FINISH_LENGTH);
    mg_request big = req(3, P3, 17, "single:0", true, 0);
    cr_assert_lt(mg_engine_submit(e, &big, &err), 0, "prompt longer than the context");
    mg_engine_free(e);
    tiny_model_free(t);
}

/* The samples of one task prefill once (the others copy the first's caches
 * and routing decision) and still give exactly their solo tokens. */
Test(engine_batching, samples_share_the_prompt_pass)
{
    tiny_model *t = tiny_model_new(3);
    t->m.config.n_eos = 0;
    mg_error err = {0};
    const char *strats[] = {"router", "best", "ensemble", "mix", "single:1", "round_robin"};
    for (int k = 0; k < 6; k++) {
        run_out solo = {0};
        for (int j = 0; j < 4; j++) {
            mg_engine *e = NULL;
            cr_assert_eq(mg_engine_new(&t->m, NULL, &e, &err), 0, "%s", err.msg);
            mg_request r = req(1, P3, 17, strats[k], false, (uint32_t)j);
            cr_assert_eq(mg_engine_submit(e, &r, &err), 0, "%s", err.msg);
            run_out o = {.id = {1}};
            drain(e, &o, 0, -1);
            solo.n[j] = o.n[0];
            solo.expert[j] = o.expert[0];
            memcpy(solo.toks[j], o.toks[0], sizeof o.toks[0]);
            mg_engine_free(e);
        }
        for (int mb = 16; mb >= 2; mb -= 14) {
            mg_engine *e = NULL;
            mg_engine_params p = mg_engine_default_params();
            p.prefill_chunk = 5;
            p.max_batch = mb; /* 2: later samples copy a kept snapshot */
            cr_assert_eq(mg_engine_new(&t->m, &p, &e, &err), 0, "%s", err.msg);
            run_out o = {0};
            for (int j = 0; j < 4; j++) {
                mg_request r = req(10 + j, P3, 17, strats[k], false, (uint32_t)j);
                cr_assert_eq(mg_engine_submit(e, &r, &err), 0, "%s", err.msg);
                o.id[j] = 10 + j;
            }
            drain(e, &o, 0, -1);
            mg_engine_stats st;
            mg_engine_get_stats(e, &st);
            /* round_robin: samples 0 and 3 use expert 0, 1 and 2 their own. */
            cr_assert_eq(st.shared_prompts, k == 5 ? 1 : 3, "%s batch %d: %lld shared", strats[k],
                         mb, (long long)st.shared_prompts);
            for (int j = 0; j < 4; j++) {
                cr_assert_eq(o.n[j], solo.n[j], "%s sample %d", strats[k], j);
                cr_assert_eq(o.expert[j], solo.expert[j], "%s sample %d", strats[k], j);
                for (int q = 0; q < o.n[j]; q++)
                    cr_assert_eq(o.toks[j][q], solo.toks[j][q], "%s sample %d token %d", strats[k],
                                 j, q);
            }
            mg_engine_free(e);
        }
    }
    tiny_model_free(t);
}

/* Queued requests hold no caches: thousands of long requests can wait, and
 * cancelling them all ends each with one CANCEL event. */
Test(engine_batching, queued_requests_cost_no_cache)
{
    tiny_model *t = tiny_model_new(2);
    mg_error err = {0};
    mg_engine *e = NULL;
    mg_engine_params p = mg_engine_default_params();
    p.max_batch = 2;
    p.n_threads = 1;
    cr_assert_eq(mg_engine_new(&t->m, &p, &e, &err), 0, "%s", err.msg);
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        /* 100k positions x 2 layers x 16 floats x 2 (k, v): 25 MiB per cache. */
        mg_request r = req((uint64_t)i + 1, P1, 10, "ensemble", true, 0);
        r.max_new_tokens = 100000;
        cr_assert_eq(mg_engine_submit(e, &r, &err), 0, "request %d: %s", i, err.msg);
    }
    cr_assert_eq(mg_engine_active(e), N);
    mg_token_event ev[64];
    int n, cancels = 0, tokens = 0;
    cr_assert_eq(mg_engine_step(e, ev, 64, &n, &err), 0, "%s", err.msg);
    for (int i = 0; i < N; i++) mg_engine_cancel(e, (uint64_t)i + 1);
    while (mg_engine_active(e) > 0) {
        cr_assert_eq(mg_engine_step(e, ev, 64, &n, &err), 0, "%s", err.msg);
        for (int i = 0; i < n; i++) {
            if (ev[i].finish == MG_FINISH_CANCEL) cancels++;
            if (ev[i].token >= 0) tokens++;
        }
    }
    cr_assert_eq(cancels, N);
    cr_assert_leq(tokens, 2);
    mg_engine_free(e);
    tiny_model_free(t);
}

/* Long prompts split attention into 16-query items across the pool; one
 * token at a time runs it inline. Both must agree. */
Test(engine_forward, parallel_attention_matches_token_by_token)
{
    tiny_model *t = tiny_model_new(2);
    mg_error err = {0};
    enum { N = 160 };
    int32_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (int32_t)((i * 37 + 11) % 64);
    mg_engine_params p = mg_engine_default_params();
    mg_engine *e = NULL;
    float *all = malloc(sizeof(float) * N * 64);
    p.prefill_chunk = 1;
    p.n_threads = 1;
    cr_assert_eq(mg_engine_new(&t->m, &p, &e, &err), 0, "%s", err.msg);
    float first[64];
    mg_request r = req(1, ids, N, "single:0", true, 0);
    r.max_new_tokens = 1;
    r.first_logits = first;
    cr_assert_eq(mg_engine_submit(e, &r, &err), 0, "%s", err.msg);
    run_out o = {.id = {1}};
    drain(e, &o, 0, -1);
    /* Expert 0 alone again, the whole prompt in one pass on 2 threads. */
    mg_engine_free(e);
    p.prefill_chunk = 256;
    p.n_threads = 2;
    cr_assert_eq(mg_engine_new(&t->m, &p, &e, &err), 0, "%s", err.msg);
    float w0[2] = {1, 0};
    cr_assert_eq(mg_engine_forward_logits(e, w0, ids, N, all, &err), 0, "%s", err.msg);
    for (int v = 0; v < 64; v++)
        cr_assert_float_eq(first[v], all[(N - 1) * 64 + v], 1e-4 * fmax(1, fabs(first[v])));
    free(all);
    mg_engine_free(e);
    tiny_model_free(t);
}
