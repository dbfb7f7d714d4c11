/* fixture_model.h — the engine tests' way to load a model from
 * tests/fixtures/models: the folder, an optional base folder beside it, and
 * a failed load fails the test with the store's message. */
#ifndef FIXTURE_MODEL_H
#define FIXTURE_MODEL_H

#include <criterion/criterion.h>
#include <stdio.h>

#include "mg_model.h"

#define FIX MG_SOURCE_DIR "/tests/fixtures/models/"

static inline mg_model *fixture_model(const char *model, const char *base)
{
    char path[512], bpath[512];
    snprintf(path, sizeof path, FIX "%s", model);
    mg_model_params p = mg_model_default_params();
    p.path = path;
    if (base) {
        snprintf(bpath, sizeof bpath, FIX "%s", base);
        p.base_model = bpath;
    }
    mg_model *m = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_model_load(&p, &m, &err), 0, "%s: %s", model, err.msg);
    return m;
}

#endif /* FIXTURE_MODEL_H */
