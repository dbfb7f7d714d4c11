/* fuzz_tokenizer_encode.c — encode of arbitrary bytes (invalid UTF-8
 * included) with the synthetic tokenizers of tests/tokenizer/features, which
 * cover every normalizer, pre-tokenizer, decoder and added-token option; then
 * full and streaming decode of the result, checked to agree. The first input
 * byte picks the tokenizer. */
#include "mg_tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const NAMES[] = {
    "nfd_lower_strip_whitespace", "nfkc_replace_wssplit",    "metaspace_first",
    "metaspace_never_unk_fuse",   "unk_nofuse_digits_punct", "split_behaviors",
    "bytelevel_roberta",          "bytelevel_seq_post"};
#define N_TOK (sizeof NAMES / sizeof NAMES[0])
static mg_tokenizer *toks[N_TOK];

static void load_all(void)
{
    for (size_t i = 0; i < N_TOK; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/tokenizer/features/%s.json", MG_SOURCE_DIR, NAMES[i]);
        FILE *f = fopen(path, "rb");
        if (!f) abort();
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *s = malloc((size_t)n);
        if (fread(s, 1, (size_t)n, f) != (size_t)n) abort();
        fclose(f);
        mg_error err = {0};
        if (mg_tokenizer_load_json(s, (size_t)n, NAMES[i], &toks[i], &err) < 0) abort();
        free(s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!toks[0]) load_all();
    if (size == 0) return 0;
    const mg_tokenizer *t = toks[data[0] % N_TOK];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    mg_error err = {0};
    int32_t *ids;
    size_t n;
    if (mg_tokenizer_encode(t, text, len, data[0] & 0x80, &ids, &n, &err) < 0) abort();
    char *full;
    size_t fl;
    bool skip = data[0] & 0x40;
    if (mg_tokenizer_decode(t, ids, n, skip, &full, &fl, &err) < 0) abort();
    mg_detok *d;
    if (mg_detok_new(t, skip, &d, &err) < 0) abort();
    char *acc = malloc(fl + 1);
    size_t al = 0;
    for (size_t i = 0; i <= n; i++) {
        char *piece;
        size_t pl;
        int rc = i < n ? mg_detok_push(d, ids[i], &piece, &pl, &err)
                       : mg_detok_flush(d, &piece, &pl, &err);
        if (rc < 0) abort();
        if (al + pl > fl) abort(); /* streaming must never produce more than the full decode */
        memcpy(acc + al, piece, pl);
        al += pl;
        free(piece);
    }
    if (al != fl || memcmp(acc, full, fl)) abort();
    mg_detok_free(d);
    free(acc);
    free(full);
    free(ids);
    return 0;
}
