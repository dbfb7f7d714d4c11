/* methods.c — Python str/dict/list methods reachable from templates, the
 * globals (range, namespace, dict, joiner, raise_exception, strftime_now),
 * and Python's two string formatters ("%s" % x and "{}".format(x)).
 * Mutating methods (list.append, dict.update, ...) are unsafe in
 * ImmutableSandboxedEnvironment: they resolve to an undefined value that
 * fails when called, as Jinja2's sandbox does. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

/* ---- argument helpers ------------------------------------------------------------ */

jv arg_get(jargs *a, int pos, const char *kw, jv dflt)
{
    if (pos >= 0 && pos < a->npos) return a->pos[pos];
    if (kw)
        for (int i = 0; i < a->nkw; i++)
            if (!strcmp(a->kwname[i], kw)) return a->kw[i];
    return dflt;
}

void arg_check(rctx *r, const node *n, jargs *a, const char *fname, int maxpos,
               const char *const *kws)
{
    if (a->npos > maxpos)
        mg__rfail(r, n, "TypeError: %s() takes at most %d positional argument%s (%d given)", fname,
                  maxpos, maxpos == 1 ? "" : "s", a->npos);
    for (int i = 0; i < a->nkw; i++) {
        bool ok = false;
        for (int k = 0; kws && kws[k]; k++)
            if (!strcmp(kws[k], a->kwname[i])) ok = true;
        if (!ok)
            mg__rfail(r, n, "TypeError: %s() got an unexpected keyword argument '%s'", fname,
                      a->kwname[i]);
    }
}

const jstr *mg__need_str(rctx *r, const node *n, jv v, const char *what)
{
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v);
    if (v.t != JT_STR) mg__rfail(r, n, "TypeError: %s must be str, not %s", what, jv_typename(v));
    return v.u.s;
}

int64_t mg__need_int(rctx *r, const node *n, jv v, const char *what)
{
    if (v.t == JT_INT) return v.u.i;
    if (v.t == JT_BOOL) return v.u.b;
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v);
    mg__rfail(r, n, "TypeError: %s must be an integer, not %s", what, jv_typename(v));
}

static bool starts_ends(rctx *r, const node *n, const jstr *s, jv arg, bool end)
{
    if (arg.t == JT_TUPLE) {
        for (size_t i = 0; i < arg.u.l->n; i++)
            if (starts_ends(r, n, s, arg.u.l->v[i], end)) return true;
        return false;
    }
    const jstr *p = mg__need_str(r, n, arg, end ? "endswith first arg" : "startswith first arg");
    if (p->len > s->len) return false;
    return !memcmp(end ? s->s + s->len - p->len : s->s, p->s, p->len);
}

/* ---- str methods ------------------------------------------------------------------- */

#define SELF_S (self.u.s)
static const char *const NO_KW[] = {NULL};

static jv m_strip(rctx *r, const node *n, jv self, jargs *a, int which, const char *nm)
{
    arg_check(r, n, a, nm, 1, NO_KW);
    jv c = arg_get(a, 0, NULL, jv_none());
    return mg__strip(r, self, c.t == JT_NONE ? NULL : mg__need_str(r, n, c, "chars"), which);
}
static jv m_strip3(rctx *r, const node *n, jv self, jargs *a)
{
    return m_strip(r, n, self, a, 3, "strip");
}
static jv m_lstrip(rctx *r, const node *n, jv self, jargs *a)
{
    return m_strip(r, n, self, a, 1, "lstrip");
}
static jv m_rstrip(rctx *r, const node *n, jv self, jargs *a)
{
    return m_strip(r, n, self, a, 2, "rstrip");
}
static jv m_split_any(rctx *r, const node *n, jv self, jargs *a, bool right)
{
    static const char *const kw[] = {"sep", "maxsplit", NULL};
    arg_check(r, n, a, right ? "rsplit" : "split", 2, kw);
    jv sep = arg_get(a, 0, "sep", jv_none());
    int64_t mx = mg__need_int(r, n, arg_get(a, 1, "maxsplit", jv_int(-1)), "maxsplit");
    return mg__split(r, n, self, sep.t == JT_NONE ? NULL : mg__need_str(r, n, sep, "sep"), mx,
                     right);
}
static jv m_split(rctx *r, const node *n, jv self, jargs *a)
{
    return m_split_any(r, n, self, a, false);
}
static jv m_rsplit(rctx *r, const node *n, jv self, jargs *a)
{
    return m_split_any(r, n, self, a, true);
}
static jv m_startswith(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "startswith", 1, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: startswith() takes at least 1 argument");
    return jv_bool(starts_ends(r, n, SELF_S, a->pos[0], false));
}
static jv m_endswith(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "endswith", 1, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: endswith() takes at least 1 argument");
    return jv_bool(starts_ends(r, n, SELF_S, a->pos[0], true));
}
static jv m_case(rctx *r, const node *n, jv self, jargs *a, char mode)
{
    arg_check(r, n, a, "case method", 0, NO_KW);
    return mg__case(r, self, mode);
}
static jv m_upper(rctx *r, const node *n, jv self, jargs *a)
{
    return m_case(r, n, self, a, 'u');
}
static jv m_lower(rctx *r, const node *n, jv self, jargs *a)
{
    return m_case(r, n, self, a, 'l');
}
static jv m_title(rctx *r, const node *n, jv self, jargs *a)
{
    return m_case(r, n, self, a, 't');
}
static jv m_capitalize(rctx *r, const node *n, jv self, jargs *a)
{
    return m_case(r, n, self, a, 'c');
}
static jv m_swapcase(rctx *r, const node *n, jv self, jargs *a)
{
    return m_case(r, n, self, a, 's');
}
static jv m_replace(rctx *r, const node *n, jv self, jargs *a)
{
    /* str.replace takes no keyword arguments (Python raises TypeError) */
    if (a->nkw) mg__rfail(r, n, "TypeError: str.replace() takes no keyword arguments");
    if (a->npos < 2 || a->npos > 3)
        mg__rfail(r, n, "TypeError: replace expected 2 or 3 arguments, got %d", a->npos);
    int64_t cnt = a->npos == 3 ? mg__need_int(r, n, a->pos[2], "count") : -1;
    return mg__replace(r, n, self, mg__need_str(r, n, a->pos[0], "old"),
                       mg__need_str(r, n, a->pos[1], "new"), cnt);
}
static jv m_join(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "join", 1, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: join() takes exactly one argument");
    jlist *l = jv_iterate(r, n, a->pos[0]);
    sbuf b = {0};
    for (size_t i = 0; i < l->n; i++) {
        if (i) sb_put(r, &b, SELF_S->s, SELF_S->len);
        const jstr *s = mg__need_str(r, n, l->v[i], "sequence item");
        sb_put(r, &b, s->s, s->len);
    }
    return jv_strbuf(r, &b);
}
static int64_t find_cp(const jstr *s, const jstr *sub, bool rev)
{
    /* returns a code point index, -1 when absent */
    const char *p = NULL;
    if (!rev)
        p = memmem(s->s, s->len, sub->s, sub->len);
    else
        for (size_t k = s->len + 1; k-- > 0;)
            if (k + sub->len <= s->len && !memcmp(s->s + k, sub->s, sub->len)) {
                p = s->s + k;
                break;
            }
    if (!p) return -1;
    return (int64_t)utf8_count(s->s, (size_t)(p - s->s));
}
static jv m_find(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "find", 1, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: find() takes at least 1 argument");
    return jv_int(find_cp(SELF_S, mg__need_str(r, n, a->pos[0], "sub"), false));
}
static jv m_rfind(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "rfind", 1, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: rfind() takes at least 1 argument");
    return jv_int(find_cp(SELF_S, mg__need_str(r, n, a->pos[0], "sub"), true));
}
static jv m_count(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "count", 1, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: count() takes at least 1 argument");
    if (self.t != JT_STR) {
        int64_t c = 0;
        for (size_t i = 0; i < self.u.l->n; i++) c += jv_eq(self.u.l->v[i], a->pos[0]);
        return jv_int(c);
    }
    const jstr *sub = mg__need_str(r, n, a->pos[0], "sub");
    if (!sub->len) return jv_int((int64_t)SELF_S->ncp + 1);
    int64_t c = 0;
    size_t st = 0;
    const char *p;
    while ((p = memmem(SELF_S->s + st, SELF_S->len - st, sub->s, sub->len))) {
        c++;
        st = (size_t)(p - SELF_S->s) + sub->len;
    }
    return jv_int(c);
}
static jv m_index(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "index", 1, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: index() takes at least 1 argument");
    if (self.t != JT_STR) {
        for (size_t i = 0; i < self.u.l->n; i++)
            if (jv_eq(self.u.l->v[i], a->pos[0])) return jv_int((int64_t)i);
        mg__rfail(r, n, "ValueError: value is not in list");
    }
    int64_t k = find_cp(SELF_S, mg__need_str(r, n, a->pos[0], "sub"), false);
    if (k < 0) mg__rfail(r, n, "ValueError: substring not found");
    return jv_int(k);
}
static jv m_is(rctx *r, const node *n, jv self, jargs *a, char kind)
{
    arg_check(r, n, a, "is*", 0, NO_KW);
    const jstr *s = SELF_S;
    if (!s->len) return jv_bool(false);
    bool any_cased = false;
    for (size_t i = 0; i < s->len;) {
        int32_t c = mg__dec(s->s, s->len, &i);
        utf8proc_category_t k = utf8proc_category(c);
        bool ok;
        switch (kind) {
        case 'd':
            ok = k == UTF8PROC_CATEGORY_ND;
            break;
        case 'a':
            ok = k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
            break;
        case 'n':
            ok = (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
                 (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
            break;
        case 's':
            ok = mg__py_space(c);
            break;
        case 'u':
            ok = k != UTF8PROC_CATEGORY_LL && k != UTF8PROC_CATEGORY_LT;
            any_cased |= k == UTF8PROC_CATEGORY_LU;
            break;
        case 'l':
            ok = k != UTF8PROC_CATEGORY_LU && k != UTF8PROC_CATEGORY_LT;
            any_cased |= k == UTF8PROC_CATEGORY_LL;
            break;
        default:
            ok = false;
        }
        if (!ok) return jv_bool(false);
    }
    if (kind == 'u' || kind == 'l') return jv_bool(any_cased);
    return jv_bool(true);
}
static jv m_isdigit(rctx *r, const node *n, jv self, jargs *a)
{
    return m_is(r, n, self, a, 'd');
}
static jv m_isalpha(rctx *r, const node *n, jv self, jargs *a)
{
    return m_is(r, n, self, a, 'a');
}
static jv m_isalnum(rctx *r, const node *n, jv self, jargs *a)
{
    return m_is(r, n, self, a, 'n');
}
static jv m_isspace(rctx *r, const node *n, jv self, jargs *a)
{
    return m_is(r, n, self, a, 's');
}
static jv m_isupper(rctx *r, const node *n, jv self, jargs *a)
{
    return m_is(r, n, self, a, 'u');
}
static jv m_islower(rctx *r, const node *n, jv self, jargs *a)
{
    return m_is(r, n, self, a, 'l');
}
static jv m_removeaffix(rctx *r, const node *n, jv self, jargs *a, bool suffix)
{
    arg_check(r, n, a, suffix ? "removesuffix" : "removeprefix", 1, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: takes exactly one argument");
    const jstr *p = mg__need_str(r, n, a->pos[0], "affix"), *s = SELF_S;
    if (p->len && p->len <= s->len) {
        if (!suffix && !memcmp(s->s, p->s, p->len))
            return jv_str(r, s->s + p->len, s->len - p->len);
        if (suffix && !memcmp(s->s + s->len - p->len, p->s, p->len))
            return jv_str(r, s->s, s->len - p->len);
    }
    return self;
}
static jv m_removeprefix(rctx *r, const node *n, jv self, jargs *a)
{
    return m_removeaffix(r, n, self, a, false);
}
static jv m_removesuffix(rctx *r, const node *n, jv self, jargs *a)
{
    return m_removeaffix(r, n, self, a, true);
}
static jv m_splitlines(rctx *r, const node *n, jv self, jargs *a)
{
    static const char *const kw[] = {"keepends", NULL};
    arg_check(r, n, a, "splitlines", 1, kw);
    bool keep = jv_truthy(arg_get(a, 0, "keepends", jv_bool(false)));
    const jstr *s = SELF_S;
    jv out = jv_newlist(r, 0);
    size_t st = 0;
    for (size_t i = 0; i < s->len;) {
        size_t k = i;
        int32_t c = mg__dec(s->s, s->len, &k);
        bool brk = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d ||
                   c == 0x1e || c == 0x85 || c == 0x2028 || c == 0x2029;
        if (brk) {
            size_t e = k;
            if (c == '\r' && e < s->len && s->s[e] == '\n') e++;
            jl_push(r, out.u.l, jv_str(r, s->s + st, (keep ? e : i) - st));
            st = e;
            k = e;
        }
        i = k;
    }
    if (st < s->len) jl_push(r, out.u.l, jv_str(r, s->s + st, s->len - st));
    return out;
}
static jv m_pad(rctx *r, const node *n, jv self, jargs *a, char how)
{
    arg_check(r, n, a, "pad", 2, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: width argument required");
    int64_t w = mg__need_int(r, n, a->pos[0], "width");
    const jstr *fill = a->npos > 1 ? mg__need_str(r, n, a->pos[1], "fillchar") : NULL;
    if (fill && fill->ncp != 1)
        mg__rfail(r, n, "TypeError: The fill character must be exactly one character long");
    if (w > 1000000) mg__rfail(r, n, "ValueError: width too large");
    const jstr *s = SELF_S;
    int64_t pad = w - (int64_t)s->ncp;
    if (pad <= 0) return self;
    int64_t left = how == 'r' ? pad : how == 'c' ? (pad / 2 + (pad & w & 1)) : 0;
    if (how == 'z') left = pad;
    sbuf b = {0};
    const char *fc = fill ? fill->s : (how == 'z' ? "0" : " ");
    size_t fl = fill ? fill->len : 1;
    size_t st = 0;
    if (how == 'z' && s->len && (s->s[0] == '-' || s->s[0] == '+')) {
        sb_putc(r, &b, s->s[0]);
        st = 1;
    }
    for (int64_t i = 0; i < left; i++) sb_put(r, &b, fc, fl);
    sb_put(r, &b, s->s + st, s->len - st);
    for (int64_t i = 0; i < pad - left; i++) sb_put(r, &b, fc, fl);
    return jv_strbuf(r, &b);
}
static jv m_center(rctx *r, const node *n, jv self, jargs *a)
{
    return m_pad(r, n, self, a, 'c');
}
static jv m_ljust(rctx *r, const node *n, jv self, jargs *a)
{
    return m_pad(r, n, self, a, 'l');
}
static jv m_rjust(rctx *r, const node *n, jv self, jargs *a)
{
    return m_pad(r, n, self, a, 'r');
}
static jv m_zfill(rctx *r, const node *n, jv self, jargs *a)
{
    return m_pad(r, n, self, a, 'z');
}
static jv m_partition(rctx *r, const node *n, jv self, jargs *a, bool rev)
{
    arg_check(r, n, a, "partition", 1, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: partition() takes exactly one argument");
    const jstr *sep = mg__need_str(r, n, a->pos[0], "sep"), *s = SELF_S;
    if (!sep->len) mg__rfail(r, n, "ValueError: empty separator");
    jv t = jv_newtuple(r, 3);
    const char *p = NULL;
    if (!rev)
        p = memmem(s->s, s->len, sep->s, sep->len);
    else
        for (size_t k = s->len + 1; k-- > 0;)
            if (k + sep->len <= s->len && !memcmp(s->s + k, sep->s, sep->len)) {
                p = s->s + k;
                break;
            }
    if (!p) {
        jv e = jv_str(r, "", 0);
        jl_push(r, t.u.l, rev ? e : self);
        jl_push(r, t.u.l, e);
        jl_push(r, t.u.l, rev ? self : e);
        return t;
    }
    jl_push(r, t.u.l, jv_str(r, s->s, (size_t)(p - s->s)));
    jl_push(r, t.u.l, a->pos[0]);
    size_t after = (size_t)(p - s->s) + sep->len;
    jl_push(r, t.u.l, jv_str(r, s->s + after, s->len - after));
    return t;
}
static jv m_partition_l(rctx *r, const node *n, jv self, jargs *a)
{
    return m_partition(r, n, self, a, false);
}
static jv m_partition_r(rctx *r, const node *n, jv self, jargs *a)
{
    return m_partition(r, n, self, a, true);
}

/* ---- dict / list methods -------------------------------------------------------------- */

static jv m_items(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "items", 0, NO_KW);
    jv l = jv_newlist(r, self.u.d->n);
    for (size_t i = 0; i < self.u.d->n; i++) {
        jv t = jv_newtuple(r, 2);
        jl_push(r, t.u.l, self.u.d->k[i]);
        jl_push(r, t.u.l, self.u.d->v[i]);
        jl_push(r, l.u.l, t);
    }
    l.u.l->view = VIEW_ITEMS;
    return l;
}
static jv m_keys(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "keys", 0, NO_KW);
    jv l = jv_newlist(r, self.u.d->n);
    for (size_t i = 0; i < self.u.d->n; i++) jl_push(r, l.u.l, self.u.d->k[i]);
    l.u.l->view = VIEW_KEYS;
    return l;
}
static jv m_values(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "values", 0, NO_KW);
    jv l = jv_newlist(r, self.u.d->n);
    for (size_t i = 0; i < self.u.d->n; i++) jl_push(r, l.u.l, self.u.d->v[i]);
    l.u.l->view = VIEW_VALUES;
    return l;
}
static jv m_get(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "get", 2, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: get expected at least 1 argument, got 0");
    jv *p = jd_get(self.u.d, a->pos[0]);
    return p ? *p : arg_get(a, 1, NULL, jv_none());
}
static jv m_copy(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "copy", 0, NO_KW);
    if (self.t == JT_DICT) {
        jv d = jv_newdict(r);
        for (size_t i = 0; i < self.u.d->n; i++) jd_set(r, d.u.d, self.u.d->k[i], self.u.d->v[i]);
        return d;
    }
    jv l = jv_newlist(r, self.u.l->n);
    for (size_t i = 0; i < self.u.l->n; i++) jl_push(r, l.u.l, self.u.l->v[i]);
    return l;
}

static const method_entry STR_METHODS[] = {{"strip", m_strip3},
                                           {"lstrip", m_lstrip},
                                           {"rstrip", m_rstrip},
                                           {"split", m_split},
                                           {"rsplit", m_rsplit},
                                           {"startswith", m_startswith},
                                           {"endswith", m_endswith},
                                           {"upper", m_upper},
                                           {"lower", m_lower},
                                           {"title", m_title},
                                           {"capitalize", m_capitalize},
                                           {"swapcase", m_swapcase},
                                           {"replace", m_replace},
                                           {"format", mg__str_format},
                                           {"join", m_join},
                                           {"find", m_find},
                                           {"rfind", m_rfind},
                                           {"count", m_count},
                                           {"index", m_index},
                                           {"isdigit", m_isdigit},
                                           {"isdecimal", m_isdigit},
                                           {"isnumeric", m_isdigit},
                                           {"isalpha", m_isalpha},
                                           {"isalnum", m_isalnum},
                                           {"isspace", m_isspace},
                                           {"isupper", m_isupper},
                                           {"islower", m_islower},
                                           {"removeprefix", m_removeprefix},
                                           {"removesuffix", m_removesuffix},
                                           {"splitlines", m_splitlines},
                                           {"center", m_center},
                                           {"ljust", m_ljust},
                                           {"rjust", m_rjust},
                                           {"zfill", m_zfill},
                                           {"partition", m_partition_l},
                                           {"rpartition", m_partition_r},
                                           {NULL, NULL}};

static const method_entry DICT_METHODS[] = {{"items", m_items},   {"keys", m_keys},
                                            {"values", m_values}, {"get", m_get},
                                            {"copy", m_copy},     {NULL, NULL}};

static const method_entry LIST_METHODS[] = {
    {"count", m_count}, {"index", m_index}, {"copy", m_copy}, {NULL, NULL}};

static const char *const UNSAFE[] = {"append", "extend",  "insert",     "pop",
                                     "remove", "clear",   "sort",       "reverse",
                                     "update", "popitem", "setdefault", NULL};

jv mg__method(rctx *r, jv obj, const char *name)
{
    const method_entry *tab = NULL;
    if (obj.t == JT_STR)
        tab = STR_METHODS;
    else if (obj.t == JT_DICT)
        tab = DICT_METHODS;
    else if ((obj.t == JT_LIST && !obj.u.l->generator && !obj.u.l->view) || obj.t == JT_TUPLE)
        tab = LIST_METHODS;
    if (tab)
        for (int i = 0; tab[i].name; i++)
            if (!strcmp(tab[i].name, name)) {
                if (obj.t == JT_TUPLE && !strcmp(name, "copy")) break;
                jfunc *f = mg__alloc(&r->ar, sizeof(jfunc));
                f->kind = JF_METHOD;
                f->name = tab[i].name;
                f->fn = tab[i].fn;
                f->self = obj;
                return (jv){.t = JT_FUNC, .u.fn = f};
            }
    if (obj.t == JT_LIST || obj.t == JT_DICT)
        for (int i = 0; UNSAFE[i]; i++)
            if (!strcmp(UNSAFE[i], name)) {
                char *why = mg__alloc(&r->ar, strlen(name) + 96);
                sprintf(why, "SecurityError: access to attribute '%s' of '%s' object is unsafe.",
                        name, jv_typename(obj));
                return jv_undef(why);
            }
    return jv_undef(NULL);
}
