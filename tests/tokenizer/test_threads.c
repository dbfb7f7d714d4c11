/* test_threads.c — one const tokenizer used from several threads at once
 * (each thread has its own BPE word cache), and the cache giving the same ids
 * after it has been filled and cleared. Labelled tsan: CI also runs it under
 * ThreadSanitizer. Expected ids: ../shared/tokenizers/golden (tokenizers lib). */
#include "tok_test_util.h"

#include <pthread.h>

static mg_tokenizer *load_or_skip(const char *name, json_t **cases)
{
    char dir[1024], gold[1024];
    snprintf(dir, sizeof dir, "%s/tokenizers/%s", MG_SHARED_DIR, name);
    snprintf(gold, sizeof gold, "%s/tokenizers/golden/%s.jsonl", MG_SHARED_DIR, name);
    if (access(dir, R_OK) != 0 || access(gold, R_OK) != 0)
        cr_skip_test("needs ../shared/tokenizers/%s", name);
    mg_error err = {0};
    mg_tokenizer *t;
    cr_assert_eq(mg_tokenizer_load(dir, &t, &err), 0, "%s", err.msg);
    *cases = tt_read_jsonl(gold);
    cr_assert_not_null(*cases);
    return t;
}

static size_t check_cases(const mg_tokenizer *t, json_t *cases, size_t offset)
{
    size_t bad = 0, n = json_array_size(cases);
    for (size_t k = 0; k < n; k++) {
        json_t *c = json_array_get(cases, (k + offset * 97) % n);
        json_t *text = json_object_get(c, "text");
        int32_t *ids;
        size_t m;
        mg_error err = {0};
        if (mg_tokenizer_encode(t, json_string_value(text), json_string_length(text), false, &ids,
                                &m, &err) < 0 ||
            !tt_ids_eq(json_object_get(c, "ids"), ids, m))
            bad++;
        free(ids);
    }
    return bad;
}

typedef struct worker_arg {
    const mg_tokenizer *t;
    json_t *cases;
    size_t offset, bad;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    a->bad = check_cases(a->t, a->cases, a->offset);
    /* decode from several threads too */
    json_t *c = json_array_get(a->cases, a->offset);
    json_t *gids = json_object_get(c, "ids");
    size_t gn = json_array_size(gids);
    int32_t *g = malloc((gn ? gn : 1) * sizeof *g);
    for (size_t k = 0; k < gn; k++) g[k] = (int32_t)json_integer_value(json_array_get(gids, k));
    char *s;
    size_t sl;
    mg_error err = {0};
    if (mg_tokenizer_decode(a->t, g, gn, true, &s, &sl, &err) < 0 ||
        !tt_str_eq(json_object_get(c, "decoded"), s, sl))
        a->bad++;
    else
        free(s);
    free(g);
    return NULL;
}

Test(tokenizer_threads, concurrent_encode_decode, .timeout = 300)
{
    json_t *cases;
    mg_tokenizer *t = load_or_skip("qwen3", &cases);
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){t, cases, (size_t)i, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    /* the main thread encodes at the same time */
    size_t bad_main = check_cases(t, cases, 7);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(args[i].bad, 0, "thread %d: %zu mismatches", i, args[i].bad);
    }
    cr_expect_eq(bad_main, 0);
    json_decref(cases);
    mg_tokenizer_free(t); /* frees the main thread's cache too */
}

/* Fill the word cache well past its capacity with distinct words, then check
 * the goldens again: a cleared cache must not change any id. */
Test(tokenizer_threads, cache_overflow_keeps_results, .timeout = 300)
{
    json_t *cases;
    mg_tokenizer *t = load_or_skip("mistral", &cases);
    cr_expect_eq(check_cases(t, cases, 0), 0);
    char word[64];
    for (int i = 0; i < 30000; i++) {
        int n = snprintf(word, sizeof word, "w%dq%xz", i, i * 2654435761u);
        int32_t *ids;
        size_t m;
        mg_error err = {0};
        cr_assert_eq(mg_tokenizer_encode(t, word, (size_t)n, false, &ids, &m, &err), 0);
        free(ids);
    }
    cr_expect_eq(check_cases(t, cases, 3), 0);
    json_decref(cases);
    mg_tokenizer_free(t);
}
