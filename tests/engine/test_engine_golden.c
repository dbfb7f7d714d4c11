/* test_engine_golden.c — the engine against transformers + PEFT.
 *
 * tests/fixtures/goldens/engine.json (tools/fixtures/make_goldens.py) holds,
 * per fixture model and strategy: the prompt ids, the scores the first token
 * is chosen from, 32 greedy tokens and the chosen expert, all computed by the
 * reference stack in fp32. Each fixture is loaded through the model store and
 * must give max |dlogit| <= 1e-4 * max(1, |logit|), the same tokens and the
 * same expert. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fixture_model.h"
#include "mg_engine.h"

static json_t *goldens(void)
{
    json_error_t je;
    json_t *root = json_load_file(MG_SOURCE_DIR "/tests/fixtures/goldens/engine.json", 0, &je);
    cr_assert(root, "engine.json: %s", je.text);
    return root;
}

static int32_t *ids_of(json_t *a, int *n)
{
    *n = (int)json_array_size(a);
    int32_t *p = malloc(sizeof(int32_t) * (*n ? *n : 1));
    for (int i = 0; i < *n; i++) p[i] = (int32_t)json_integer_value(json_array_get(a, i));
    return p;
}

/* Compares scores to the reference; returns the worst scaled error. */
static double max_err(const float *got, json_t *ref, int n)
{
    cr_assert_eq((int)json_array_size(ref), n);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double r = json_number_value(json_array_get(ref, i));
        double d = fabs((double)got[i] - r) / fmax(1.0, fabs(r));
        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

typedef struct loaded {
    char name[256];
    mg_model *m;
    mg_engine *e;
} loaded;

static void load(loaded *L, const char *model, const char *base)
{
    if (L->m && !strcmp(L->name, model)) return;
    mg_engine_free(L->e);
    mg_model_free(L->m);
    L->e = NULL;
    L->m = NULL;
    snprintf(L->name, sizeof L->name, "%s", model);
    L->m = fixture_model(model, base);
    mg_error err = {0};
    mg_engine_params ep = mg_engine_default_params();
    ep.n_threads = 2;
    ep.prefill_chunk = 7; /* several chunks per prompt */
    cr_assert_eq(mg_engine_new(L->m, &ep, &L->e, &err), 0, "%s: %s", model, err.msg);
}

static void run_cases(const char *prefix)
{
    json_t *root = goldens();
    json_t *cases = json_object_get(root, "cases"), *c;
    size_t ci;
    loaded L = {0};
    int n_run = 0;
    json_array_foreach(cases, ci, c)
    {
        const char *model = json_string_value(json_object_get(c, "model"));
        if (strncmp(model, prefix, strlen(prefix))) continue;
        const char *base = json_string_value(json_object_get(c, "base_model"));
        const char *strat = json_string_value(json_object_get(c, "strategy"));
        load(&L, model, base);
        int V = L.m->config.vocab_size, n;
        int32_t *ids = ids_of(json_object_get(c, "prompt"), &n);
        mg_error err = {0};
        mg_request r = {.id = ci + 1, .prompt_ids = ids, .n_prompt = n, .max_new_tokens = 32};
        r.sampling.greedy = true;
        json_t *si = json_object_get(c, "sample_index");
        r.sample_index = si ? (uint32_t)json_integer_value(si) : 0;
        cr_assert_eq(mg_strategy_parse(strat, &r.strategy, &err), 0, "%s", err.msg);
        float *first = malloc(sizeof(float) * V);
        r.first_logits = first;
        cr_assert_eq(mg_engine_submit(L.e, &r, &err), 0, "%s %s: %s", model, strat, err.msg);
        int32_t toks[64];
        int nt = 0, expert = -2;
        while (mg_engine_active(L.e) > 0) {
            mg_token_event ev[4];
            int ne;
            cr_assert_eq(mg_engine_step(L.e, ev, 4, &ne, &err), 0, "%s", err.msg);
            for (int i = 0; i < ne; i++) {
                if (ev[i].token >= 0 && nt < 64) toks[nt++] = ev[i].token;
                if (ev[i].finish) expert = ev[i].expert;
            }
        }
        double e1 = max_err(first, json_object_get(c, "first"), V);
        cr_expect_leq(e1, 1e-4, "%s %s (case %zu): first-token logits differ by %g", model, strat,
                      ci, e1);
        cr_expect_eq(expert, (int)json_integer_value(json_object_get(c, "expert")),
                     "%s %s (case %zu): expert %d", model, strat, ci, expert);
        json_t *g = json_object_get(c, "greedy");
        cr_expect_eq(nt, (int)json_array_size(g), "%s %s (case %zu): %d tokens vs %zu", model,
                     strat, ci, nt, json_array_size(g));
        for (int i = 0; i < nt && i < (int)json_array_size(g); i++)
            cr_expect_eq(toks[i], json_integer_value(json_array_get(g, i)),
                         "%s %s (case %zu): token %d", model, strat, ci, i);
        json_t *all = json_object_get(c, "all_logits");
        if (all) {
            float *lg = malloc(sizeof(float) * (size_t)n * V);
            cr_assert_eq(mg_engine_forward_logits(L.e, NULL, ids, n, lg, &err), 0, "%s", err.msg);
            double e2 = max_err(lg, all, n * V);
            cr_expect_leq(e2, 1e-4, "%s: all-position logits differ by %g", model, e2);
            free(lg);
        }
        free(first);
        free(ids);
        n_run++;
    }
    cr_assert_gt(n_run, 0, "no golden cases for %s", prefix);
    mg_engine_free(L.e);
    mg_model_free(L.m);
    json_decref(root);
}

Test(engine_golden, llama)
{
    run_cases("llama");
}
Test(engine_golden, gemma)
{
    run_cases("gemma");
}
Test(engine_golden, mistral)
{
    run_cases("mistral");
}
Test(engine_golden, qwen2)
{
    run_cases("qwen2");
}
Test(engine_golden, peft_adapters)
{
    run_cases("peft-");
}
Test(engine_golden, dylora_best)
{
    run_cases("dylora-best");
}
Test(engine_golden, dylora_checkpoint)
{
    run_cases("dylora-checkpoint");
}
Test(engine_golden, dylora_legacy)
{
    run_cases("dylora-legacy");
}
Test(engine_golden, xlora)
{
    run_cases("xlora"); /* xlora/ (layerwise) and xlora-global/ */
}
