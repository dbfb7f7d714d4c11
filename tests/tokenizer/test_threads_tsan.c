/* test_threads_tsan.c — the concurrent encode/decode check of test_threads.c
 * as a plain program, because Criterion cannot start under ThreadSanitizer
 * (Snaipe/Criterion#274); tools/test.sh's TSan pass runs it (label tsan).
 * Five threads encode the qwen3 golden texts (expected ids from the
 * tokenizers library, ../shared/tokenizers/golden) on one tokenizer, each
 * with its own word cache. Exit 0 ok (or skipped: no ../shared), 1 mismatch. */
#include "mg_tokenizer.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct arg {
    const mg_tokenizer *t;
    json_t *cases;
    size_t offset, bad;
} arg;

static void *run(void *p)
{
    arg *a = p;
    size_t n = json_array_size(a->cases);
    for (size_t k = 0; k < n; k++) {
        json_t *c = json_array_get(a->cases, (k + a->offset * 97) % n);
        json_t *text = json_object_get(c, "text"), *want = json_object_get(c, "ids");
        int32_t *ids;
        size_t m;
        mg_error err = {0};
        if (mg_tokenizer_encode(a->t, json_string_value(text), json_string_length(text), false,
                                &ids, &m, &err) < 0) {
            a->bad++;
            continue;
        }
        bool same = json_array_size(want) == m;
        for (size_t i = 0; same && i < m; i++)
            same = json_integer_value(json_array_get(want, i)) == ids[i];
        char *s = NULL;
        size_t sl;
        if (!same || mg_tokenizer_decode(a->t, ids, m, true, &s, &sl, &err) < 0 ||
            strcmp(s, json_string_value(json_object_get(c, "decoded"))))
            a->bad++;
        free(s);
        free(ids);
    }
    return NULL;
}

int main(void)
{
    const char *dir = MG_SHARED_DIR "/tokenizers/qwen3";
    const char *gold = MG_SHARED_DIR "/tokenizers/golden/qwen3.jsonl";
    if (access(dir, R_OK) != 0 || access(gold, R_OK) != 0) {
        printf("skipped: needs ../shared/tokenizers\n");
        return 0;
    }
    FILE *f = fopen(gold, "rb");
    json_t *cases = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t r;
    while ((r = getline(&line, &cap, f)) > 0)
        json_array_append_new(cases, json_loadb(line, (size_t)r, 0, NULL));
    free(line);
    fclose(f);
    mg_error err = {0};
    mg_tokenizer *t;
    if (mg_tokenizer_load(dir, &t, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    pthread_t th[4];
    arg a[5];
    for (int i = 0; i < 5; i++) a[i] = (arg){t, cases, (size_t)i, 0};
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, run, &a[i]);
    run(&a[4]);
    size_t bad = a[4].bad;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        bad += a[i].bad;
    }
    mg_tokenizer_free(t);
    json_decref(cases);
    printf("%zu mismatches\n", bad);
    return bad ? 1 : 0;
}
