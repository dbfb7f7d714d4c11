/* fuzz_safetensors.c — libFuzzer harness for the safetensors header validator
 * (worker/model/safetensors.c). Every accepted file's tensors are read end to
 * end, so a range the validator wrongly lets through shows up under ASan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Reading every byte into a sink keeps the loads from being optimised away. */
volatile uint8_t mg_fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy: the fuzzer's buffer may be larger than size. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    mg_model_storage *s = calloc(1, sizeof *s);
    mg__tset ts = {0};
    mg_error err = {0};
    if (s && mg__st_parse(s, "fuzz.safetensors", buf, size, &ts, &err) == 0 &&
        mg__tset_finish(&ts, &err) == 0) {
        for (int i = 0; i < ts.n; i++) {
            const uint8_t *p = ts.e[i].t.data;
            for (size_t k = 0; k < ts.e[i].nbytes; k++) mg_fuzz_sink ^= p[k];
            (void)mg__tset_find(&ts, ts.e[i].t.name);
        }
    }
    mg__tset_free(&ts);
    mg__storage_free(s);
    free(buf);
    return 0;
}
