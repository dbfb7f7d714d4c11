/* fuzz_tokenizer_load.c — tokenizer.json parsing (the direct vocab/merges
 * scanner, jansson, every pipeline component), then an encode and decode with
 * whatever loaded. Seeds: tests/tokenizer/features/ (docs/FUZZING.md). */
#include "mg_tokenizer.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mg_error err = {0};
    mg_tokenizer *t;
    if (mg_tokenizer_load_json((const char *)data, size, "fuzz.json", &t, &err) < 0) return 0;
    static const char text[] =
        "Hello  world!\n\tdef f(x): return x+1 # caf\xc3\xa9 \xf0\x9f\xa6\x99";
    int32_t *ids;
    size_t n;
    if (mg_tokenizer_encode(t, text, sizeof text - 1, true, &ids, &n, &err) == 0) {
        char *s;
        size_t sl;
        if (mg_tokenizer_decode(t, ids, n, false, &s, &sl, &err) == 0) free(s);
        free(ids);
    }
    int32_t some[4] = {0, 1, mg_tokenizer_vocab_size(t) - 1, 3};
    char *s;
    size_t sl;
    if (mg_tokenizer_decode(t, some, 4, true, &s, &sl, &err) == 0) free(s);
    mg_tokenizer_free(t);
    return 0;
}
