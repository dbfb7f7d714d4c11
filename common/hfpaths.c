/* hfpaths.c — huggingface_hub's folder rules (see mg_hfpaths.h). */
#include "mg_hfpaths.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool put(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s%s", a, b);
    return n > 0 && (size_t)n < cap;
}

bool mg_hf_home(char *out, size_t cap)
{
    if (env("HF_HOME")) return put(out, cap, env("HF_HOME"), "");
    if (env("XDG_CACHE_HOME")) return put(out, cap, env("XDG_CACHE_HOME"), "/huggingface");
    const char *home = env("HOME");
    if (!home) {
        const struct passwd *pw = getpwuid(getuid());
        home = pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
    }
    return home && put(out, cap, home, "/.cache/huggingface");
}

bool mg_hf_hub_cache(char *out, size_t cap)
{
    if (env("HF_HUB_CACHE")) return put(out, cap, env("HF_HUB_CACHE"), "");
    if (env("HUGGINGFACE_HUB_CACHE")) return put(out, cap, env("HUGGINGFACE_HUB_CACHE"), "");
    char home[4096];
    return mg_hf_home(home, sizeof home) && put(out, cap, home, "/hub");
}
