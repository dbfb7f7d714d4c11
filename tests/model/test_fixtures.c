/* test_fixtures.c — every tensor of every fixture file, read by moegen's own
 * readers (safetensors, zip + pickle), against the golden checksums torch
 * computed (tests/fixtures/models/checksums.json, tools/fixtures/make_models.py). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mg_hash.h"

#define FIX MG_SOURCE_DIR "/tests/fixtures/models"

static double sum_of(const mg__tentry *e, bool squares)
{
    size_t n = (size_t)mg_tensor_numel(&e->t);
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double v;
        if (mg__dtype_is_float(e->t.dtype)) {
            const uint8_t *p = (const uint8_t *)e->t.data + i * mg__dtype_size(e->t.dtype);
            mg__convert(&v, MG_DTYPE_F64, p, e->t.dtype, 1);
        } else {
            int64_t x;
            memcpy(&x, (const uint8_t *)e->t.data + i * 8, 8);
            v = (double)x;
        }
        s += squares ? v * v : v;
    }
    return s;
}

Test(model_fixtures, every_tensor_matches_the_golden_checksums, .timeout = 60)
{
    json_t *golden = NULL;
    mg_error err = {0};
    cr_assert_eq(mg__json_load(FIX "/checksums.json", &golden, &err), 0, "%s", err.msg);
    const json_t *files = json_object_get(golden, "files");
    cr_assert(json_object_size(files) >= 20, "checksums.json lists too few files");
    const char *rel;
    json_t *tensors;
    int n_tensors = 0;
    json_object_foreach((json_t *)files, rel, tensors)
    {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", FIX, rel);
        mg_model_storage *s = calloc(1, sizeof *s);
        mg__tset ts = {0};
        mg__pk_arena a = {0};
        int rc = strstr(rel, ".safetensors") ? mg__st_load(s, path, &ts, &err)
                                             : mg__pt_load(s, path, &ts, &a, NULL, &err);
        cr_assert_eq(rc, 0, "%s: %s", rel, err.msg);
        cr_assert_eq(mg__tset_finish(&ts, &err), 0, "%s", err.msg);
        cr_assert_eq((size_t)ts.n, json_object_size(tensors), "%s: %d tensors, golden has %zu", rel,
                     ts.n, json_object_size(tensors));
        const char *name;
        json_t *g;
        json_object_foreach(tensors, name, g)
        {
            const mg__tentry *e = mg__tset_find(&ts, name);
            cr_assert(e, "%s: tensor '%s' not found", rel, name);
            cr_assert_str_eq(e->dtype_name, json_string_value(json_object_get(g, "dtype")),
                             "%s: %s dtype", rel, name);
            const json_t *shape = json_object_get(g, "shape");
            cr_assert_eq((size_t)e->t.ndim, json_array_size(shape), "%s: %s ndim", rel, name);
            for (int i = 0; i < e->t.ndim; i++)
                cr_assert_eq(e->t.shape[i], json_integer_value(json_array_get(shape, (size_t)i)),
                             "%s: %s shape[%d]", rel, name, i);
            char hex[65];
            mg_sha256_buf_hex(e->t.data, e->nbytes, hex);
            cr_assert_str_eq(hex, json_string_value(json_object_get(g, "sha256")),
                             "%s: %s bytes differ", rel, name);
            double sum = json_number_value(json_object_get(g, "sum"));
            double sq = json_number_value(json_object_get(g, "sumsq"));
            cr_assert(fabs(sum_of(e, false) - sum) <= 1e-9 * (1 + fabs(sq)), "%s: %s sum", rel,
                      name);
            cr_assert(fabs(sum_of(e, true) - sq) <= 1e-9 * (1 + sq), "%s: %s sumsq", rel, name);
            n_tensors++;
        }
        mg__pk_free_all(&a);
        mg__tset_free(&ts);
        mg__storage_free(s);
    }
    cr_assert(n_tensors > 300);
    json_decref(golden);
}
