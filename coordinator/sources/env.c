/* env.c — default parameters from the environment, with the same variables
 * and precedence as huggingface_hub and the wandb SDK. */
#include "mg_sources.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"
#include "mg_hfpaths.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* $XDG_CACHE_HOME or ~/.cache, into out (moegen's own caches). */
static void cache_root(char *out, size_t cap)
{
    const char *xdg = env("XDG_CACHE_HOME");
    if (xdg)
        snprintf(out, cap, "%s", xdg);
    else
        snprintf(out, cap, "%s/.cache", env("HOME") ? env("HOME") : "/tmp");
}

static void strip_trailing(char *s, const char *chars)
{
    size_t n = strlen(s);
    while (n && strchr(chars, s[n - 1])) s[--n] = 0;
}

static bool truthy(const char *v)
{
    return v && (!strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") ||
                 !strcasecmp(v, "true"));
}

/* Reads the first line of a token file; silently empty when absent. */
static void read_token_file(const char *path, char *out, size_t cap)
{
    char *data = NULL;
    if (mg__read_small_file(path, &data, NULL, NULL) < 0) return;
    char *p = data;
    while (*p && isspace((unsigned char)*p)) p++;
    snprintf(out, cap, "%s", p);
    strip_trailing(out, " \t\r\n");
    free(data);
}

mg_hub_params mg_hub_default_params(void)
{
    mg_hub_params p;
    memset(&p, 0, sizeof p);
    snprintf(p.endpoint, sizeof p.endpoint, "%s",
             env("HF_ENDPOINT") ? env("HF_ENDPOINT") : "https://huggingface.co");
    strip_trailing(p.endpoint, "/");

    char home[4096];
    if (!mg_hf_home(home, sizeof home)) home[0] = 0; /* no token file, no cache */

    const char *token = env("HF_TOKEN") ? env("HF_TOKEN") : env("HUGGING_FACE_HUB_TOKEN");
    if (token)
        snprintf(p.token, sizeof p.token, "%s", token);
    else {
        char path[4200];
        if (env("HF_TOKEN_PATH"))
            snprintf(path, sizeof path, "%s", env("HF_TOKEN_PATH"));
        else
            snprintf(path, sizeof path, "%s/token", home);
        if (env("HF_TOKEN_PATH") || home[0]) read_token_file(path, p.token, sizeof p.token);
    }

    if (!mg_hf_hub_cache(p.cache_dir, sizeof p.cache_dir)) p.cache_dir[0] = 0;
    p.offline = truthy(env("HF_HUB_OFFLINE"));
    p.progress = isatty(STDERR_FILENO);
    p.low_speed_secs = 60;
    return p;
}

/* Finds `password` for `host` in a netrc file (machine/login/password tokens). */
static void netrc_password(const char *path, const char *host, char *out, size_t cap)
{
    char *data = NULL;
    if (mg__read_small_file(path, &data, NULL, NULL) < 0) return;
    bool in_machine = false;
    char *save = NULL;
    for (char *tok = strtok_r(data, " \t\r\n", &save); tok;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (!strcmp(tok, "machine")) {
            char *name = strtok_r(NULL, " \t\r\n", &save);
            in_machine = name && !strcmp(name, host);
        } else if (!strcmp(tok, "default")) {
            in_machine = !out[0];
        } else if (!strcmp(tok, "password") && in_machine) {
            char *pw = strtok_r(NULL, " \t\r\n", &save);
            if (pw) snprintf(out, cap, "%s", pw);
            break;
        }
    }
    free(data);
}

mg_wandb_params mg_wandb_default_params(void)
{
    mg_wandb_params p;
    memset(&p, 0, sizeof p);
    snprintf(p.base_url, sizeof p.base_url, "%s",
             env("WANDB_BASE_URL") ? env("WANDB_BASE_URL") : "https://api.wandb.ai");
    strip_trailing(p.base_url, "/");
    if (env("WANDB_API_KEY"))
        snprintf(p.api_key, sizeof p.api_key, "%s", env("WANDB_API_KEY"));
    else {
        /* The host part of the base URL, as the SDK writes it into ~/.netrc. */
        char host[1024];
        const char *h = strstr(p.base_url, "://");
        snprintf(host, sizeof host, "%s", h ? h + 3 : p.base_url);
        host[strcspn(host, "/:")] = 0;
        char path[4200];
        if (env("NETRC"))
            snprintf(path, sizeof path, "%s", env("NETRC"));
        else
            snprintf(path, sizeof path, "%s/.netrc", env("HOME") ? env("HOME") : "/");
        netrc_password(path, host, p.api_key, sizeof p.api_key);
    }
    if (env("MOEGEN_CACHE"))
        snprintf(p.cache_dir, sizeof p.cache_dir, "%s/wandb", env("MOEGEN_CACHE"));
    else {
        char root[2048];
        cache_root(root, sizeof root);
        snprintf(p.cache_dir, sizeof p.cache_dir, "%s/moegen/wandb", root);
    }
    p.progress = isatty(STDERR_FILENO);
    p.low_speed_secs = 60;
    return p;
}
