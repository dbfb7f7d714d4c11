/* test_hfpaths.c — huggingface_hub's folder precedence (constants.py):
 * HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE > HF_HOME/hub > XDG_CACHE_HOME >
 * ~/.cache; empty variables count as unset; too long is refused. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mg_hfpaths.h"

static void clear(void)
{
    static const char *vars[] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME",
                                 "XDG_CACHE_HOME"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) unsetenv(vars[i]);
    setenv("HOME", "/home/u", 1);
}

Test(hfpaths, precedence)
{
    char out[256];
    clear();
    cr_assert(mg_hf_home(out, sizeof out));
    cr_assert_str_eq(out, "/home/u/.cache/huggingface");
    cr_assert(mg_hf_hub_cache(out, sizeof out));
    cr_assert_str_eq(out, "/home/u/.cache/huggingface/hub");
    setenv("XDG_CACHE_HOME", "/x", 1);
    cr_assert(mg_hf_hub_cache(out, sizeof out));
    cr_assert_str_eq(out, "/x/huggingface/hub");
    setenv("HF_HOME", "/h", 1);
    cr_assert(mg_hf_hub_cache(out, sizeof out));
    cr_assert_str_eq(out, "/h/hub");
    setenv("HUGGINGFACE_HUB_CACHE", "/old", 1);
    cr_assert(mg_hf_hub_cache(out, sizeof out));
    cr_assert_str_eq(out, "/old");
    setenv("HF_HUB_CACHE", "/new", 1);
    cr_assert(mg_hf_hub_cache(out, sizeof out));
    cr_assert_str_eq(out, "/new");
    setenv("HF_HUB_CACHE", "", 1); /* empty = unset */
    cr_assert(mg_hf_hub_cache(out, sizeof out));
    cr_assert_str_eq(out, "/old");
}

Test(hfpaths, too_long_is_refused)
{
    char out[8];
    clear();
    cr_assert_not(mg_hf_home(out, sizeof out));
    cr_assert_not(mg_hf_hub_cache(out, sizeof out));
}
