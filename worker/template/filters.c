/* filters.c — Jinja2's builtin string, number and misc filters
 * (jinja2/filters.py) with their Python semantics, plus transformers' tojson
 * (json.dumps with ensure_ascii=False by default, no HTML escaping); the
 * sequence filters are in filters_seq.c, the tests in tests.c.
 * Filters that return generators in Jinja2 (map, select, reject, selectattr,
 * rejectattr, unique, items, batch) return lists flagged `generator`, so
 * `| length` and slicing fail as they do in Python while iteration works. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(name) static jv f_##name(rctx *r, const node *n, jv v, jargs *a)

static jv soft_str(rctx *r, jv v)
{
    return jv_to_str(r, v);
}

/* ---- strings ------------------------------------------------------------------------ */

F(upper)
{
    jv s = soft_str(r, v); /* Markup.upper() stays Markup */
    jv o = mg__case(r, s, 'u');
    return is_markup(s) ? mg__as_markup(r, o) : o;
}
F(lower)
{
    jv s = soft_str(r, v); /* Markup.lower() stays Markup */
    jv o = mg__case(r, s, 'l');
    return is_markup(s) ? mg__as_markup(r, o) : o;
}
F(capitalize)
{
    jv s = soft_str(r, v); /* Markup.capitalize() stays Markup */
    jv o = mg__case(r, s, 'c');
    return is_markup(s) ? mg__as_markup(r, o) : o;
}
F(title)
{
    /* jinja2's do_title: split on runs of [-\s({[<], upper first char, lower rest */
    jv s = soft_str(r, v);
    const jstr *j = s.u.s;
    sbuf b = {0};
    size_t i = 0;
    bool word_start = true;
    while (i < j->len) {
        size_t k = i;
        /* decode one code point length */
        k++;
        while (k < j->len && ((unsigned char)j->s[k] & 0xC0) == 0x80) k++;
        char c = j->s[i];
        bool sep = (k - i == 1) && (c == '-' || c == '(' || c == '{' || c == '[' || c == '<' ||
                                    mg__py_space((unsigned char)c));
        jv piece = jv_str(r, j->s + i, k - i);
        if (sep) {
            sb_put(r, &b, j->s + i, k - i);
            word_start = true;
        } else {
            jv cv = mg__case(r, piece, word_start ? 'u' : 'l');
            sb_put(r, &b, cv.u.s->s, cv.u.s->len);
            word_start = false;
        }
        i = k;
    }
    return jv_strbuf(r, &b);
}
F(trim)
{
    static const char *const kw[] = {"chars", NULL};
    arg_check(r, n, a, "trim", 1, kw);
    jv c = arg_get(a, 0, "chars", jv_none());
    if (c.t != JT_NONE && c.t != JT_STR) mg__rfail(r, n, "TypeError: trim chars must be str");
    return mg__strip(r, soft_str(r, v), c.t == JT_STR ? c.u.s : NULL, 3);
}
F(replace)
{
    static const char *const kw[] = {"old", "new", "count", NULL};
    arg_check(r, n, a, "replace", 3, kw);
    jv o = arg_get(a, 0, "old", jv_undef(NULL)), nw = arg_get(a, 1, "new", jv_undef(NULL));
    jv c = arg_get(a, 2, "count", jv_none());
    if (o.t != JT_STR || nw.t != JT_STR)
        mg__rfail(r, n, "TypeError: replace() arguments must be str");
    int64_t cnt = -1;
    if (c.t == JT_INT)
        cnt = c.u.i;
    else if (c.t != JT_NONE)
        mg__rfail(r, n, "TypeError: replace() count must be an integer");
    return mg__replace(r, n, soft_str(r, v), o.u.s, nw.u.s, cnt);
}
F(string)
{
    return soft_str(r, v);
}
F(safe)
{
    if (v.t == JT_UNDEF) return v;
    return is_markup(v) ? v : mg__as_markup(r, jv_to_str(r, v));
}
F(escape)
{
    return mg__escape(r, v);
}
F(forceescape)
{
    /* escapes even a Markup */
    jv s = jv_to_str(r, v);
    if (is_markup(s)) s = jv_str(r, s.u.s->s, s.u.s->len);
    return mg__escape(r, s);
}
F(indent)
{
    static const char *const kw[] = {"width", "first", "blank", NULL};
    arg_check(r, n, a, "indent", 3, kw);
    jv w = arg_get(a, 0, "width", jv_int(4));
    bool first = jv_truthy(arg_get(a, 1, "first", jv_bool(false)));
    bool blank = jv_truthy(arg_get(a, 2, "blank", jv_bool(false)));
    sbuf ind = {0};
    if (w.t == JT_STR)
        sb_put(r, &ind, w.u.s->s, w.u.s->len);
    else if (w.t == JT_INT || w.t == JT_BOOL) {
        int64_t k = w.t == JT_BOOL ? w.u.b : w.u.i;
        if (k > 10000) mg__rfail(r, n, "ValueError: indent width too large");
        for (int64_t i = 0; i < k; i++) sb_putc(r, &ind, ' ');
    } else
        mg__rfail(r, n, "TypeError: indent width must be an int or a str");
    const char *is = ind.p ? ind.p : "";
    /* jinja2 does `s += "\n"` on the value itself */
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v);
    if (v.t == JT_LIST)
        mg__rfail(r, n, "AttributeError: 'list' object has no attribute 'splitlines'");
    if (v.t != JT_STR)
        mg__rfail(r, n, "TypeError: unsupported operand type(s) for +=: '%s' and 'str'",
                  jv_typename(v));
    jv s = v;
    /* s += "\n"; lines = s.splitlines() */
    sbuf t = {0};
    sb_put(r, &t, s.u.s->s, s.u.s->len);
    sb_putc(r, &t, '\n');
    jv tv = jv_strbuf(r, &t);
    jv split = jv_getattr(r, n, tv, "splitlines");
    jargs none = {0};
    jlist *lines = jv_call(r, n, split, &none).u.l;
    sbuf o = {0};
    if (first) sb_puts(r, &o, is);
    for (size_t i = 0; i < lines->n; i++) {
        const jstr *ln = lines->v[i].u.s;
        if (i) {
            sb_putc(r, &o, '\n');
            if (blank || ln->len) sb_puts(r, &o, is);
        }
        sb_put(r, &o, ln->s, ln->len);
    }
    return jv_strbuf(r, &o);
}
F(center)
{
    static const char *const kw[] = {"width", NULL};
    arg_check(r, n, a, "center", 1, kw);
    jv s = soft_str(r, v);
    jargs b = {.npos = 1, .pos = mg__alloc(&r->ar, sizeof(jv))};
    b.pos[0] = arg_get(a, 0, "width", jv_int(80));
    return jv_call(r, n, jv_getattr(r, n, s, "center"), &b);
}
F(format)
{
    jv s = soft_str(r, v);
    if (a->nkw) {
        jv d = jv_newdict(r);
        for (int i = 0; i < a->nkw; i++) jd_set(r, d.u.d, jv_cstr(r, a->kwname[i]), a->kw[i]);
        jargs b = {.npos = 1, .pos = &d};
        return mg__python_format(r, n, s, &b);
    }
    return mg__python_format(r, n, s, a);
}
F(wordcount)
{
    jv s = soft_str(r, v);
    int64_t c = 0;
    bool in = false;
    for (size_t i = 0; i < s.u.s->len; i++) {
        unsigned char ch = (unsigned char)s.u.s->s[i];
        bool w = ch >= 0x80 || ch == '_' || (ch >= '0' && ch <= '9') ||
                 ((ch | 32) >= 'a' && (ch | 32) <= 'z');
        if (w && !in) c++;
        in = w;
    }
    return jv_int(c);
}
F(truncate)
{
    static const char *const kw[] = {"length", "killwords", "end", "leeway", NULL};
    arg_check(r, n, a, "truncate", 4, kw);
    if (v.t == JT_UNDEF) return v; /* len(Undefined) == 0: returned as is */
    if (((v.t == JT_LIST || v.t == JT_TUPLE) && !v.u.l->generator) || v.t == JT_DICT) {
        /* a short sequence comes back unchanged; longer ones are not modelled */
        int64_t len = v.t == JT_DICT ? (int64_t)v.u.d->n : (int64_t)v.u.l->n;
        jv lv = arg_get(a, 0, "length", jv_int(255)), lw = arg_get(a, 3, "leeway", jv_int(5));
        if (lv.t == JT_INT && len <= lv.u.i + (lw.t == JT_INT ? lw.u.i : 5)) return v;
        mg__rfail(r, n, "TypeError: truncate of a long %s is not supported", jv_typename(v));
    }
    if (v.t != JT_STR)
        mg__rfail(r, n, "TypeError: object of type '%s' has no len()", jv_typename(v));
    jv s = v;
    int64_t length = arg_get(a, 0, "length", jv_int(255)).u.i;
    bool kill = jv_truthy(arg_get(a, 1, "killwords", jv_bool(false)));
    jv end = soft_str(r, arg_get(a, 2, "end", jv_cstr(r, "...")));
    jv lw = arg_get(a, 3, "leeway", jv_int(5));
    int64_t leeway = lw.t == JT_INT ? lw.u.i : 5;
    if (length < (int64_t)end.u.s->ncp)
        mg__rfail(r, n, "AssertionError: expected length >= %zu, got %lld", end.u.s->ncp,
                  (long long)length);
    if ((int64_t)s.u.s->ncp <= length + leeway) return s;
    int64_t keep = length - (int64_t)end.u.s->ncp;
    size_t b = 0;
    for (int64_t c = 0; c < keep && b < s.u.s->len; c++) {
        b++;
        while (b < s.u.s->len && ((unsigned char)s.u.s->s[b] & 0xC0) == 0x80) b++;
    }
    sbuf o = {0};
    if (kill)
        sb_put(r, &o, s.u.s->s, b);
    else {
        /* rsplit(" ", 1)[0] */
        size_t cut = b;
        while (cut > 0 && s.u.s->s[cut - 1] != ' ') cut--;
        sb_put(r, &o, s.u.s->s, cut ? cut - 1 : b);
    }
    sb_put(r, &o, end.u.s->s, end.u.s->len);
    return jv_strbuf(r, &o);
}

/* ---- numbers ------------------------------------------------------------------------- */

static bool parse_py_float(const char *s, double *out)
{
    while (mg__py_space((unsigned char)*s)) s++;
    char buf[256];
    size_t k = 0;
    for (; *s && k < sizeof buf - 1; s++) {
        if (*s == '_') continue;
        buf[k++] = *s;
    }
    while (k > 0 && mg__py_space((unsigned char)buf[k - 1])) k--;
    buf[k] = 0;
    if (!k) return false;
    /* Python accepts inf/nan/infinity but not hex floats */
    if (strchr(buf, 'x') || strchr(buf, 'X')) return false;
    char *end;
    *out = strtod(buf, &end);
    return *end == 0;
}

static bool parse_py_int(const char *s, int base, int64_t *out)
{
    while (mg__py_space((unsigned char)*s)) s++;
    bool neg = false;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    if (base == 0 || base == 16 || base == 8 || base == 2) {
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && (base == 0 || base == 16)) {
            base = 16;
            s += 2;
        } else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O') && (base == 0 || base == 8)) {
            base = 8;
            s += 2;
        } else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B') && (base == 0 || base == 2)) {
            base = 2;
            s += 2;
        } else if (base == 0)
            base = 10;
    }
    uint64_t v = 0;
    int nd = 0;
    bool last_us = true;
    for (; *s && !mg__py_space((unsigned char)*s); s++) {
        if (*s == '_') {
            if (last_us) return false;
            last_us = true;
            continue;
        }
        int d = *s >= '0' && *s <= '9'   ? *s - '0'
                : *s >= 'a' && *s <= 'z' ? *s - 'a' + 10
                : *s >= 'A' && *s <= 'Z' ? *s - 'A' + 10
                                         : 99;
        if (d >= base) return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return false;
        v = v * (uint64_t)base + (uint64_t)d;
        nd++;
        last_us = false;
    }
    while (mg__py_space((unsigned char)*s)) s++;
    if (*s || !nd || last_us || v > (uint64_t)INT64_MAX) return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

F(int)
{
    static const char *const kw[] = {"default", "base", NULL};
    arg_check(r, n, a, "int", 2, kw);
    jv dflt = arg_get(a, 0, "default", jv_int(0));
    jv bv = arg_get(a, 1, "base", jv_int(10));
    int base = bv.t == JT_INT ? (int)bv.u.i : 10;
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v); /* int(Undefined) raises */
    if (v.t == JT_INT) return v;
    if (v.t == JT_BOOL) return jv_int(v.u.b);
    if (v.t == JT_FLOAT) {
        if (!isfinite(v.u.f) || fabs(v.u.f) >= 9.2e18) return dflt;
        return jv_int((int64_t)v.u.f);
    }
    if (v.t == JT_STR) {
        int64_t x;
        if (parse_py_int(v.u.s->s, base, &x)) return jv_int(x);
        double d;
        if (parse_py_float(v.u.s->s, &d) && isfinite(d) && fabs(d) < 9.2e18)
            return jv_int((int64_t)d);
    }
    return dflt;
}
F(float)
{
    static const char *const kw[] = {"default", NULL};
    arg_check(r, n, a, "float", 1, kw);
    jv dflt = arg_get(a, 0, "default", jv_float(0.0));
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v); /* float(Undefined) raises */
    if (jv_is_num(v)) return jv_float(jv_num(v));
    double d;
    if (v.t == JT_STR && parse_py_float(v.u.s->s, &d)) return jv_float(d);
    return dflt;
}
F(abs)
{
    if (v.t == JT_UNDEF) mg__rfail(r, n, "TypeError: bad operand type for abs(): 'Undefined'");
    if (v.t == JT_FLOAT) return jv_float(fabs(v.u.f));
    if (v.t == JT_INT) {
        if (v.u.i == INT64_MIN) mg__rfail(r, n, "OverflowError: abs of the smallest int");
        return jv_int(v.u.i < 0 ? -v.u.i : v.u.i);
    }
    if (v.t == JT_BOOL) return jv_int(v.u.b);
    mg__rfail(r, n, "TypeError: bad operand type for abs(): '%s'", jv_typename(v));
}
F(round)
{
    static const char *const kw[] = {"precision", "method", NULL};
    arg_check(r, n, a, "round", 2, kw);
    jv pv = arg_get(a, 0, "precision", jv_int(0));
    jv mv = arg_get(a, 1, "method", jv_cstr(r, "common"));
    int64_t p = pv.t == JT_INT ? pv.u.i : 0;
    if (p > 300 || p < -300) mg__rfail(r, n, "ValueError: round precision out of range");
    if (mv.t != JT_STR ||
        (strcmp(mv.u.s->s, "common") && strcmp(mv.u.s->s, "ceil") && strcmp(mv.u.s->s, "floor")))
        mg__rfail(r, n, "FilterArgumentError: method must be common, ceil or floor");
    if (!jv_is_num(v))
        mg__rfail(r, n, "TypeError: type %s doesn't define __round__", jv_typename(v));
    if (mv.u.s->s[0] == 'c' && mv.u.s->s[1] == 'o') {
        if (v.t != JT_FLOAT) return v.t == JT_BOOL ? jv_int(v.u.b) : v; /* round(int, n) is int */
        if (p >= 0) {
            /* printf rounds the exact binary value half-even, as Python's round */
            char buf[400];
            snprintf(buf, sizeof buf, "%.*f", (int)p, v.u.f);
            return jv_float(strtod(buf, NULL));
        }
        double m = pow(10, (double)-p);
        return jv_float(nearbyint(v.u.f / m) * m);
    }
    double m = pow(10, (double)p), x = jv_num(v) * m;
    x = mv.u.s->s[0] == 'c' ? ceil(x) : floor(x);
    return jv_float(x / m);
}

/* ---- misc ------------------------------------------------------------------------- */

F(default)
{
    static const char *const kw[] = {"default_value", "boolean", NULL};
    arg_check(r, n, a, "default", 2, kw);
    jv d = arg_get(a, 0, "default_value", jv_cstr(r, ""));
    bool boolean = jv_truthy(arg_get(a, 1, "boolean", jv_bool(false)));
    if (v.t == JT_UNDEF || (boolean && !jv_truthy(v))) return d;
    return v;
}

F(tojson)
{
    /* transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) */
    static const char *const kw[] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL};
    arg_check(r, n, a, "tojson", 4, kw);
    json_opts o = {0};
    o.ensure_ascii = jv_truthy(arg_get(a, 0, "ensure_ascii", jv_bool(false)));
    jv ind = arg_get(a, 1, "indent", jv_none());
    jv seps = arg_get(a, 2, "separators", jv_none());
    o.sort_keys = jv_truthy(arg_get(a, 3, "sort_keys", jv_bool(false)));
    o.indent = -1;
    if (ind.t == JT_INT || ind.t == JT_BOOL) {
        int64_t k = ind.t == JT_BOOL ? ind.u.b : ind.u.i;
        if (k > 1000) mg__rfail(r, n, "ValueError: tojson indent too large");
        char *s = mg__alloc(&r->ar, (size_t)(k > 0 ? k : 0) + 1);
        for (int64_t i = 0; i < k; i++) s[i] = ' ';
        o.indent_str = s;
    } else if (ind.t == JT_STR)
        o.indent_str = ind.u.s->s;
    else if (ind.t != JT_NONE)
        mg__rfail(r, n, "TypeError: tojson indent must be an int or a str");
    o.item_sep = o.indent_str ? "," : ", ";
    o.key_sep = ": ";
    if (seps.t != JT_NONE) {
        jlist *l = jv_iterate(r, n, seps);
        if (l->n != 2 || l->v[0].t != JT_STR || l->v[1].t != JT_STR)
            mg__rfail(r, n, "ValueError: separators must be a pair of strings");
        o.item_sep = l->v[0].u.s->s;
        o.key_sep = l->v[1].u.s->s;
    }
    sbuf b = {0};
    jv_tojson_into(r, n, &b, v, &o, 0);
    return jv_strbuf(r, &b);
}

F(pprint)
{
    sbuf b = {0};
    jv_repr_into(r, &b, v);
    return jv_strbuf(r, &b);
}

static const filter_entry FILTERS[] = {{"abs", f_abs},
                                       {"capitalize", f_capitalize},
                                       {"center", f_center},
                                       {"d", f_default},
                                       {"default", f_default},
                                       {"e", f_escape},
                                       {"escape", f_escape},
                                       {"float", f_float},
                                       {"forceescape", f_forceescape},
                                       {"format", f_format},
                                       {"indent", f_indent},
                                       {"int", f_int},
                                       {"lower", f_lower},
                                       {"pprint", f_pprint},
                                       {"replace", f_replace},
                                       {"round", f_round},
                                       {"safe", f_safe},
                                       {"string", f_string},
                                       {"title", f_title},
                                       {"tojson", f_tojson},
                                       {"trim", f_trim},
                                       {"truncate", f_truncate},
                                       {"upper", f_upper},
                                       {"wordcount", f_wordcount},
                                       {NULL, NULL}};

const filter_entry *mg__find_filter(const char *name)
{
    for (int i = 0; FILTERS[i].name; i++)
        if (!strcmp(FILTERS[i].name, name)) return &FILTERS[i];
    for (int i = 0; mg__seq_filters[i].name; i++)
        if (!strcmp(mg__seq_filters[i].name, name)) return &mg__seq_filters[i];
    return NULL;
}
