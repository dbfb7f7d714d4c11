/* tok_test_util.h — helpers shared by the tokenizer suites: JSONL reading and
 * id/string comparison with a readable first-failure message. */
#ifndef TOK_TEST_UTIL_H
#define TOK_TEST_UTIL_H

#include "mg_tokenizer.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads a JSONL file into a JSON array (NULL when absent). */
static inline json_t *tt_read_jsonl(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    json_t *arr = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &je);
        cr_assert_not_null(o, "%s: %s", path, je.text);
        json_array_append_new(arr, o);
    }
    free(line);
    fclose(f);
    return arr;
}

static inline bool tt_ids_eq(json_t *want, const int32_t *got, size_t n)
{
    if (json_array_size(want) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (json_integer_value(json_array_get(want, i)) != got[i]) return false;
    return true;
}

static inline bool tt_str_eq(json_t *want, const char *got, size_t n)
{
    return json_string_length(want) == n && memcmp(json_string_value(want), got, n) == 0;
}

/* Strictly valid UTF-8 (no overlongs, surrogates or truncation). */
static inline bool tt_valid_utf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80)
            k = 0;
        else if (c >= 0xC2 && c <= 0xDF)
            k = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else
            return false;
        if (i + k >= n + (k ? 0 : 1) && k) return false;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n) return false;
            unsigned b = u[i + j];
            if (j == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return false;
        }
        i += k + 1;
    }
    return true;
}

/* Streams ids through mg_detok; returns the concatenation (malloc'd) and
 * fails the test when a piece is not valid UTF-8 on its own. */
static inline char *tt_stream_decode(const mg_tokenizer *t, const int32_t *ids, size_t n, bool skip,
                                     size_t *len)
{
    mg_error err = {0};
    mg_detok *d;
    cr_assert_eq(mg_detok_new(t, skip, &d, &err), 0, "%s", err.msg);
    char *acc = malloc(1);
    size_t al = 0;
    for (size_t i = 0; i <= n; i++) {
        char *piece;
        size_t pl;
        int rc = i < n ? mg_detok_push(d, ids[i], &piece, &pl, &err)
                       : mg_detok_flush(d, &piece, &pl, &err);
        cr_assert_eq(rc, 0, "%s", err.msg);
        cr_assert(tt_valid_utf8(piece, pl), "piece after id #%zu splits a UTF-8 character", i);
        acc = realloc(acc, al + pl + 1);
        memcpy(acc + al, piece, pl);
        al += pl;
        free(piece);
    }
    acc[al] = 0;
    mg_detok_free(d);
    *len = al;
    return acc;
}

#endif
