/* bench_tokenizer.c — single-threaded encode throughput of mg_tokenizer on a
 * JSONL file of {"text": ...} lines (tools/bench_tokenizer.py writes the
 * HumanEval+ and MBPP+ prompts and runs this next to the Python reference).
 *
 *   bench_tokenizer DIR prompts.jsonl [repeats]
 *
 * Prints one JSON line: load seconds, best encode pass seconds, tokens. */
#include "mg_tokenizer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_tokenizer DIR prompts.jsonl [repeats]\n");
        return 2;
    }
    int repeats = argc > 3 ? atoi(argv[3]) : 5;
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        fprintf(stderr, "bench_tokenizer: %s: cannot open\n", argv[2]);
        return 2;
    }
    json_t *texts = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t bytes = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_t *o = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, NULL);
        json_t *t = json_object_get(o, "text");
        if (!json_is_string(t)) {
            fprintf(stderr, "bench_tokenizer: %s: bad line\n", argv[2]);
            return 2;
        }
        bytes += json_string_length(t);
        json_array_append(texts, t);
        json_decref(o);
    }
    free(line);
    fclose(f);
    mg_error err = {0};
    mg_tokenizer *tok;
    double t0 = now();
    if (mg_tokenizer_load(argv[1], &tok, &err) < 0) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        return 1;
    }
    double load = now() - t0, best = 1e30;
    size_t tokens = 0;
    for (int r = 0; r < repeats; r++) {
        tokens = 0;
        t0 = now();
        for (size_t i = 0; i < json_array_size(texts); i++) {
            json_t *t = json_array_get(texts, i);
            int32_t *ids;
            size_t m;
            if (mg_tokenizer_encode(tok, json_string_value(t), json_string_length(t), false, &ids,
                                    &m, &err) < 0) {
                fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
                return 1;
            }
            tokens += m;
            free(ids);
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("{\"impl\":\"moegen\",\"load_s\":%.4f,\"encode_s\":%.5f,\"prompts\":%zu,\"bytes\":%zu,"
           "\"tokens\":%zu}\n",
           load, best, json_array_size(texts), bytes, tokens);
    mg_tokenizer_free(tok);
    json_decref(texts);
    return 0;
}
