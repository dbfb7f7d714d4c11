/* fuzz_pickle.c — libFuzzer harness for the pickle reader and the torch zip
 * container (worker/model/pickle.c, zip.c, torchfile.c). An input starting
 * with "PK" is read as a whole torch.save checkpoint (zip → data.pkl →
 * tensors, whose bytes are then read); anything else is run as a bare pickle
 * program. Seeds: the .pt/.bin fixtures and their data.pkl entries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Reading every byte into a sink keeps the loads from being optimised away. */
volatile uint8_t mg_fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    mg_model_storage *s = calloc(1, sizeof *s);
    mg__pk_arena a = {0};
    mg_error err = {0};
    if (size >= 2 && buf[0] == 'P' && buf[1] == 'K') {
        mg__tset ts = {0};
        mg__pk *root = NULL;
        if (s && mg__pt_parse(s, "fuzz.pt", buf, size, &ts, &a, &root, &err) == 0) {
            for (int i = 0; i < ts.n; i++) {
                const uint8_t *p = ts.e[i].t.data;
                for (size_t k = 0; k < ts.e[i].nbytes; k++) mg_fuzz_sink ^= p[k];
            }
            (void)mg__pk_get(root, "gate_state_dict");
        }
        mg__tset_free(&ts);
    } else {
        mg__pk *root = NULL;
        if (mg__pk_parse(&a, "fuzz.pkl", buf, size, &root, &err) == 0) (void)mg__pk_get(root, "x");
    }
    mg__pk_free_all(&a);
    mg__storage_free(s);
    free(buf);
    return 0;
}
