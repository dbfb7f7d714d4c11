/* test_engine_xlora.c — the xlora strategy beyond the goldens
 * (test_engine_golden.c checks its logits and tokens against PEFT): which
 * strategies an X-LoRA model accepts, and that an X-LoRA request gives its
 * solo tokens inside a batch of other strategies (per-module weights beside
 * per-row ones). */
#include <criterion/criterion.h>
#include <string.h>

#include "fixture_model.h"
#include "mg_engine.h"

#define NREQ 4

static mg_model *load(const char *name)
{
    return fixture_model(!strcmp(name, "xlora-global") ? "xlora-global" : "xlora", "llama");
}

Test(engine_xlora, strategies_an_xlora_model_takes)
{
    mg_model *m = load("xlora");
    mg_error err = {0};
    mg_strategy s;
    const char *ok[] = {"xlora", "single:2", "ensemble", "best", "round_robin", "base"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(mg_strategy_parse(ok[i], &s, &err), 0);
        cr_assert_eq(mg_strategy_check(&s, m, &err), 0, "%s: %s", ok[i], err.msg);
    }
    const char *no[] = {"router", "mix"};
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(mg_strategy_parse(no[i], &s, &err), 0);
        cr_assert_eq(mg_strategy_check(&s, m, &err), MG_EINVAL, "%s", no[i]);
        cr_assert(strstr(err.msg, "X-LoRA"), "%s", err.msg);
    }
    mg_model_free(m);
}

/* Runs the requests (strategies strat[0..n)) together, or one at a time when
 * solo, with prompt chunks of 5; toks[i] gets request i's tokens. */
static void run(const mg_model *m, const char *const *strat, int n, bool solo,
                int32_t toks[NREQ][24], int *nt)
{
    static const int32_t prompt[] = {1, 40, 7, 200, 13, 99, 3, 150, 61, 8, 77};
    mg_engine_params ep = mg_engine_default_params();
    ep.n_threads = 2;
    ep.prefill_chunk = 5;
    mg_engine *e = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_engine_new(m, &ep, &e, &err), 0, "%s", err.msg);
    for (int i = 0; i < n; i++) nt[i] = 0;
    for (int i = 0; i < n; i++) {
        mg_request r = {.id = (uint64_t)i + 1,
                        .prompt_ids = prompt,
                        .n_prompt = (int)(sizeof prompt / sizeof prompt[0]) - i,
                        .max_new_tokens = 24,
                        .ignore_eos = true};
        r.sampling.greedy = true;
        cr_assert_eq(mg_strategy_parse(strat[i], &r.strategy, &err), 0);
        cr_assert_eq(mg_engine_submit(e, &r, &err), 0, "%s: %s", strat[i], err.msg);
        while ((solo || i == n - 1) && mg_engine_active(e) > 0) {
            mg_token_event ev[8];
            int ne = 0;
            cr_assert_eq(mg_engine_step(e, ev, 8, &ne, &err), 0, "%s", err.msg);
            for (int j = 0; j < ne; j++)
                if (ev[j].token >= 0) toks[ev[j].id - 1][nt[ev[j].id - 1]++] = ev[j].token;
        }
    }
    mg_engine_free(e);
}

static void batch_equals_solo(const char *model)
{
    mg_model *m = load(model);
    const char *strat[NREQ] = {"xlora", "single:1", "xlora", "ensemble"};
    int32_t a[NREQ][24], b[NREQ][24];
    int na[NREQ], nb[NREQ];
    run(m, strat, NREQ, true, a, na);
    run(m, strat, NREQ, false, b, nb);
    for (int i = 0; i < NREQ; i++) {
        cr_assert_eq(na[i], 24);
        cr_assert_eq(nb[i], 24);
        cr_assert_arr_eq(a[i], b[i], sizeof(int32_t) * 24, "%s request %d (%s)", model, i,
                         strat[i]);
    }
    /* The scalings matter: X-LoRA does not decode like one expert alone. */
    cr_assert(memcmp(a[0], a[1], sizeof a[0]) != 0 || na[0] != na[1]);
    mg_model_free(m);
}

Test(engine_xlora, layerwise_request_in_a_mixed_batch_gives_its_solo_tokens, .timeout = 60)
{
    batch_equals_solo("xlora");
}

Test(engine_xlora, global_request_in_a_mixed_batch_gives_its_solo_tokens, .timeout = 60)
{
    batch_equals_solo("xlora-global");
}
