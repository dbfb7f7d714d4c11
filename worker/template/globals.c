/* globals.c — the names every template sees besides its context: range
 * (bounded like the sandbox's MAX_RANGE), namespace, dict, joiner,
 * raise_exception and strftime_now (transformers' globals). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const NO_KW[] = {NULL};

/* ---- globals ----------------------------------------------------------------------- */

static jv g_range(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "range", 3, NO_KW);
    int64_t st = 0, en, step = 1;
    if (a->npos == 0) mg__rfail(r, n, "TypeError: range expected at least 1 argument, got 0");
    if (a->npos == 1)
        en = mg__need_int(r, n, a->pos[0], "range() argument");
    else {
        st = mg__need_int(r, n, a->pos[0], "range() argument");
        en = mg__need_int(r, n, a->pos[1], "range() argument");
        if (a->npos == 3) step = mg__need_int(r, n, a->pos[2], "range() argument");
    }
    if (!step) mg__rfail(r, n, "ValueError: range() arg 3 must not be zero");
    /* Jinja2's sandbox refuses ranges over MAX_RANGE items */
    long double cnt = step > 0 ? ((long double)en - st + step - 1) / step
                               : ((long double)st - en - step - 1) / -step;
    if (cnt > 100000)
        mg__fail(&r->ar, MG_ERANGE,
                 "%d:%d: OverflowError: Range too big. The sandbox blocks ranges larger than "
                 "MAX_RANGE (100000).",
                 n->line, n->col);
    jv l = jv_newlist(r, cnt > 0 ? (size_t)cnt : 0);
    if (step > 0)
        for (int64_t i = st; i < en; i += step) jl_push(r, l.u.l, jv_int(i));
    else
        for (int64_t i = st; i > en; i += step) jl_push(r, l.u.l, jv_int(i));
    mg__step(r, n, l.u.l->n);
    return l;
}

static jv g_dict(rctx *r, const node *n, jv self, jargs *a, jt kind)
{
    jv d = jv_newdict(r);
    d.t = (uint8_t)kind;
    if (a->npos > 1) mg__rfail(r, n, "TypeError: expected at most 1 positional argument");
    if (a->npos == 1) {
        jv src = a->pos[0];
        if (src.t == JT_DICT || src.t == JT_NS)
            for (size_t i = 0; i < src.u.d->n; i++) jd_set(r, d.u.d, src.u.d->k[i], src.u.d->v[i]);
        else {
            jlist *l = jv_iterate(r, n, src);
            for (size_t i = 0; i < l->n; i++) {
                jlist *kv = jv_iterate(r, n, l->v[i]);
                if (kv->n != 2)
                    mg__rfail(r, n,
                              "ValueError: dictionary update sequence element has wrong length");
                jd_set(r, d.u.d, kv->v[0], kv->v[1]);
            }
        }
    }
    for (int i = 0; i < a->nkw; i++) jd_set(r, d.u.d, jv_cstr(r, a->kwname[i]), a->kw[i]);
    return d;
}
static jv g_namespace(rctx *r, const node *n, jv self, jargs *a)
{
    return g_dict(r, n, self, a, JT_NS);
}
static jv g_mkdict(rctx *r, const node *n, jv self, jargs *a)
{
    return g_dict(r, n, self, a, JT_DICT);
}

static jv g_raise(rctx *r, const node *n, jv self, jargs *a)
{
    jv m = arg_get(a, 0, "message", jv_cstr(r, ""));
    sbuf b = {0};
    jv_str_into(r, &b, m);
    mg__rfail(r, n, "TemplateError: %s", b.p ? b.p : "");
}

static jv g_strftime(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "strftime_now", 1, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: strftime_now() missing 1 required argument");
    const jstr *fmt = mg__need_str(r, n, a->pos[0], "format");
    struct tm tm;
    time_t t;
    if (r->opt->fixed_now) {
        t = (time_t)r->opt->now;
        gmtime_r(&t, &tm);
    } else {
        t = time(NULL);
        localtime_r(&t, &tm);
    }
    if (!fmt->len) return jv_str(r, "", 0);
    size_t cap = fmt->len * 64 + 64;
    char *buf = mg__alloc(&r->ar, cap);
    size_t k = strftime(buf, cap, fmt->s, &tm);
    return jv_str(r, buf, k);
}

static jv joiner_call(rctx *r, const node *n, jv self, jargs *a)
{
    /* self is a one-item list: [sep]; the first call returns "" */
    jlist *st = self.u.l;
    if (st->n == 1) {
        jl_push(r, st, jv_bool(true));
        return jv_str(r, "", 0);
    }
    return st->v[0];
}
static jv g_joiner(rctx *r, const node *n, jv self, jargs *a)
{
    jv sep = arg_get(a, 0, "sep", jv_cstr(r, ", "));
    jv st = jv_newlist(r, 2);
    jl_push(r, st.u.l, sep);
    jfunc *f = mg__alloc(&r->ar, sizeof(jfunc));
    f->kind = JF_METHOD;
    f->name = "joiner";
    f->fn = joiner_call;
    f->self = st;
    return (jv){.t = JT_FUNC, .u.fn = f};
}

static const method_entry GLOBALS[] = {
    {"range", g_range},   {"namespace", g_namespace},   {"dict", g_mkdict},
    {"joiner", g_joiner}, {"raise_exception", g_raise}, {"strftime_now", g_strftime},
    {NULL, NULL}};

jv mg__global(rctx *r, const char *name)
{
    for (int i = 0; GLOBALS[i].name; i++)
        if (!strcmp(GLOBALS[i].name, name)) {
            jfunc *f = mg__alloc(&r->ar, sizeof(jfunc));
            f->kind = JF_BUILTIN;
            f->name = GLOBALS[i].name;
            f->fn = GLOBALS[i].fn;
            return (jv){.t = JT_FUNC, .u.fn = f};
        }
    return jv_undef(NULL);
}
