/* test_oom.c — allocation-failure sweep (as libuv's test-loop-oom): every
 * malloc/calloc/realloc the model store makes is failed in turn while
 * loading a fixture. Each load must either succeed or return MG_ENOMEM with
 * *out NULL, never crash; under ASan/LSan any leak on an error path fails the
 * test. The model store's own calls are redirected with the linker's --wrap
 * (tests/model/CMakeLists.txt); libraries built outside moegen (jansson,
 * zlib, oniguruma, libc's strdup) are not interposed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define MG_HAVE_LSAN 1
#endif

#include "mg_log.h"
#include "mg_model.h"
#include "testutil.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);

static long calls, fail_at = -1;
static bool armed;

static bool fail_now(void)
{
    return armed && ++calls == fail_at;
}
void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    return fail_now() ? NULL : __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

static void quiet(mg_log_level level, const char *msg, void *ud) {}

/* Loads once per allocation, failing allocation k on pass k. */
static void sweep(const char *fixture, const char *base)
{
    char path[512], bpath[512];
    snprintf(path, sizeof path, "%s/%s", FIX, fixture);
    mg_model_params p = mg_model_default_params();
    p.path = path;
    if (base) {
        snprintf(bpath, sizeof bpath, "%s/%s", FIX, base);
        p.base_model = bpath;
    }
    mg_log_set(quiet, NULL);
    int failures = 0;
    for (long k = 1;; k++) {
        mg_model *m = NULL;
        mg_error err = {0};
        calls = 0;
        fail_at = k;
        armed = true;
        int rc = mg_model_load(&p, &m, &err);
        armed = false;
        if (calls < k) { /* no allocation was failed: the sweep is complete */
            cr_assert_eq(rc, 0, "%s: %s", fixture, err.msg);
            mg_model_free(m);
            break;
        }
        if (rc == 0) {
            mg_model_free(m); /* a failed allocation may have been optional */
            continue;
        }
        failures++;
        cr_assert_eq(rc, MG_ENOMEM, "%s: allocation %ld failed: rc %s: %s", fixture, k,
                     mg_err_name(rc), err.msg);
        cr_assert_null(m);
    }
    cr_assert_gt(failures, 10, "%s: the sweep failed too few allocations", fixture);
#ifdef MG_HAVE_LSAN
    /* Criterion would report a pass before LSan's exit-time report: ask now. */
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "%s: an error path leaks", fixture);
#endif
}

Test(model_oom, merged_safetensors, .timeout = 120)
{
    sweep("llama-sharded", NULL);
}
Test(model_oom, merged_torch_bin, .timeout = 120)
{
    sweep("llama-bin-sharded", NULL);
}
Test(model_oom, peft_patterns, .timeout = 120)
{
    sweep("peft-patterns", NULL);
}
Test(model_oom, dylora_best_model, .timeout = 120)
{
    sweep("dylora-best/best_model", "gemma");
}
Test(model_oom, dylora_checkpoint, .timeout = 120)
{
    sweep("dylora-checkpoint/checkpoint-10", "gemma");
}
Test(model_oom, dylora_legacy, .timeout = 120)
{
    sweep("dylora-legacy/results_full/best_model", "gemma");
}
Test(model_oom, xlora, .timeout = 120)
{
    sweep("xlora", "llama");
}
