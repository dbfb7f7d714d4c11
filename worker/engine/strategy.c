/* strategy.c — routing strategy strings and whether a model can run them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define VALID_FORMS "router, single:N, best, ensemble, round_robin, mix, xlora, base"

static const char *const names[] = {
    [MG_STRATEGY_ROUTER] = "router",
    [MG_STRATEGY_SINGLE] = "single",
    [MG_STRATEGY_BEST] = "best",
    [MG_STRATEGY_ENSEMBLE] = "ensemble",
    [MG_STRATEGY_ROUND_ROBIN] = "round_robin",
    [MG_STRATEGY_MIX] = "mix",
    [MG_STRATEGY_XLORA] = "xlora",
    [MG_STRATEGY_BASE] = "base",
};

int mg_strategy_parse(const char *s, mg_strategy *out, mg_error *err)
{
    *out = (mg_strategy){MG_STRATEGY_ROUTER, 0};
    if (!s) return mg_error_set(err, MG_EUSAGE, "missing strategy (valid: " VALID_FORMS ")");
    if (!strncmp(s, "single:", 7)) {
        const char *d = s + 7;
        if (!*d || strlen(d) > 6)
            return mg_error_set(err, MG_EUSAGE, "bad strategy '%s': single:N needs an expert index",
                                s);
        for (const char *p = d; *p; p++)
            if (*p < '0' || *p > '9')
                return mg_error_set(err, MG_EUSAGE,
                                    "bad strategy '%s': single:N needs an expert index", s);
        out->kind = MG_STRATEGY_SINGLE;
        out->expert = atoi(d);
        return 0;
    }
    for (int k = 0; k < (int)(sizeof(names) / sizeof(names[0])); k++) {
        if (k == MG_STRATEGY_SINGLE) continue;
        if (!strcmp(s, names[k])) {
            out->kind = (mg_strategy_kind)k;
            return 0;
        }
    }
    return mg_error_set(err, MG_EUSAGE, "unknown strategy '%s' (valid: " VALID_FORMS ")", s);
}

const char *mg_strategy_format(const mg_strategy *s, char *buf, int cap)
{
    if (cap <= 0) return buf;
    if ((unsigned)s->kind >= sizeof(names) / sizeof(names[0]))
        snprintf(buf, cap, "unknown");
    else if (s->kind == MG_STRATEGY_SINGLE)
        snprintf(buf, cap, "single:%d", s->expert);
    else
        snprintf(buf, cap, "%s", names[s->kind]);
    return buf;
}

int mg_strategy_check(const mg_strategy *s, const mg_model *m, mg_error *err)
{
    char name[32];
    mg_strategy_format(s, name, sizeof name);
    int E = m->n_experts;
    bool xl = m->xlora != NULL;
    switch (s->kind) {
    case MG_STRATEGY_BASE:
        return 0;
    case MG_STRATEGY_XLORA:
        return mg_error_set(err, MG_EUNSUPPORTED,
                            "strategy 'xlora': X-LoRA scalings are not implemented by this "
                            "engine yet (use single:N, ensemble or base)");
    case MG_STRATEGY_SINGLE:
        if (s->expert < 0 || s->expert >= E)
            return mg_error_set(err, MG_EINVAL, "strategy '%s': the model has %d expert%s", name, E,
                                E == 1 ? "" : "s");
        return 0;
    case MG_STRATEGY_ROUTER:
    case MG_STRATEGY_MIX:
        if (E == 0)
            return mg_error_set(err, MG_EINVAL, "strategy '%s': the model has no experts", name);
        if (xl)
            return mg_error_set(err, MG_EINVAL,
                                "strategy '%s': an X-LoRA model has no DyLoRA router", name);
        if ((E > 1 || s->kind == MG_STRATEGY_MIX) && !m->has_router)
            return mg_error_set(err, MG_EINVAL,
                                "strategy '%s': the model has %d experts but no router "
                                "(use best, single:N, ensemble or round_robin)",
                                name, E);
        return 0;
    case MG_STRATEGY_BEST:
    case MG_STRATEGY_ENSEMBLE:
    case MG_STRATEGY_ROUND_ROBIN:
        if (E == 0)
            return mg_error_set(err, MG_EINVAL,
                                "strategy '%s': the model has no experts (a merged model); "
                                "use base",
                                name);
        return 0;
    }
    return mg_error_set(err, MG_EINVAL, "unknown strategy kind %d", (int)s->kind);
}
