/* filters.c — Jinja2's builtin filters and tests (jinja2/filters.py,
 * jinja2/tests.py) with their Python semantics, plus transformers' tojson
 * (json.dumps with ensure_ascii=False by default, no HTML escaping).
 * Filters that return generators in Jinja2 (map, select, reject, selectattr,
 * rejectattr, unique, items, batch) return lists flagged `generator`, so
 * `| length` and slicing fail as they do in Python while iteration works. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(name) static jv f_##name(rctx *r, const node *n, jv v, jargs *a)
#define T(name) static bool t_##name(rctx *r, const node *n, jv v, jargs *a)

static jv soft_str(rctx *r, jv v)
{
    return jv_to_str(r, v);
}

static jv gen(jv l)
{
    l.u.l->generator = true;
    return l;
}

/* "a.b.0" -> successive getitem, as jinja2's make_attrgetter */
static jv attr_path(rctx *r, const node *n, jv item, const char *path)
{
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        char *part = mg__strndup(&r->ar, p, l);
        bool digits = l > 0;
        for (size_t i = 0; i < l; i++) digits &= part[i] >= '0' && part[i] <= '9';
        item = jv_getitem(r, n, item, digits ? jv_int(atoll(part)) : jv_cstr(r, part));
        if (!dot) return item;
        p = dot + 1;
    }
}

static const char *need_attr_name(rctx *r, const node *n, jv v)
{
    if (v.t == JT_INT) {
        char *b = mg__alloc(&r->ar, 24);
        snprintf(b, 24, "%lld", (long long)v.u.i);
        return b;
    }
    if (v.t != JT_STR) mg__rfail(r, n, "TypeError: attribute name must be a string");
    return v.u.s->s;
}

/* ---- sorting ------------------------------------------------------------------------ */

static int sort_cmp_d(rctx *r, const node *n, jv a, jv b, int depth);
static int sort_cmp(rctx *r, const node *n, jv a, jv b)
{
    return sort_cmp_d(r, n, a, b, 0);
}

static int sort_cmp_d(rctx *r, const node *n, jv a, jv b, int depth)
{
    if (depth > 2000)
        mg__rfail(r, n, "RecursionError: maximum recursion depth exceeded in comparison");
    /* CPython's sort does not fail on lists of only None or only Undefined */
    if (a.t == b.t && (a.t == JT_NONE || a.t == JT_UNDEF)) return 0;
    if ((a.t == JT_LIST || a.t == JT_TUPLE) && a.t == b.t) {
        size_t m = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < m; i++) {
            int c = sort_cmp_d(r, n, a.u.l->v[i], b.u.l->v[i], depth + 1);
            if (c) return c;
        }
        return (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
    }
    return jv_cmp(r, n, a, b);
}

/* stable merge sort of items by keys */
static void msort(rctx *r, const node *n, jv *items, jv *keys, size_t cnt, bool reverse)
{
    if (cnt < 2) return;
    jv *ti = mg__alloc(&r->ar, cnt * sizeof(jv)), *tk = mg__alloc(&r->ar, cnt * sizeof(jv));
    for (size_t w = 1; w < cnt; w *= 2) {
        for (size_t lo = 0; lo < cnt; lo += 2 * w) {
            size_t mid = lo + w < cnt ? lo + w : cnt, hi = lo + 2 * w < cnt ? lo + 2 * w : cnt;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                int c = sort_cmp(r, n, keys[j], keys[i]);
                if (reverse) c = -c;
                /* take from the right only when strictly smaller: stability */
                if (c < 0) {
                    ti[k] = items[j];
                    tk[k++] = keys[j++];
                } else {
                    ti[k] = items[i];
                    tk[k++] = keys[i++];
                }
            }
            while (i < mid) {
                ti[k] = items[i];
                tk[k++] = keys[i++];
            }
            while (j < hi) {
                ti[k] = items[j];
                tk[k++] = keys[j++];
            }
        }
        memcpy(items, ti, cnt * sizeof(jv));
        memcpy(keys, tk, cnt * sizeof(jv));
    }
    mg__step(r, n, cnt);
}

static jv key_of(rctx *r, const node *n, jv item, const char *attribute, bool case_sensitive)
{
    jv k = item;
    if (attribute) {
        if (strchr(attribute, ',')) {
            /* make_multi_attrgetter: a list of keys */
            jv l = jv_newlist(r, 2);
            const char *p = attribute;
            for (;;) {
                const char *c = strchr(p, ',');
                char *part = mg__strndup(&r->ar, p, c ? (size_t)(c - p) : strlen(p));
                jl_push(r, l.u.l, key_of(r, n, item, part, case_sensitive));
                if (!c) break;
                p = c + 1;
            }
            return l;
        }
        k = attr_path(r, n, item, attribute);
    }
    if (!case_sensitive && k.t == JT_STR) k = mg__case(r, k, 'l');
    return k;
}

F(sort)
{
    static const char *const kw[] = {"reverse", "case_sensitive", "attribute", NULL};
    arg_check(r, n, a, "sort", 3, kw);
    bool rev = jv_truthy(arg_get(a, 0, "reverse", jv_bool(false)));
    bool cs = jv_truthy(arg_get(a, 1, "case_sensitive", jv_bool(false)));
    jv at = arg_get(a, 2, "attribute", jv_none());
    const char *attr = at.t == JT_NONE ? NULL : need_attr_name(r, n, at);
    jlist *src = jv_iterate(r, n, v);
    jv out = jv_newlist(r, src->n);
    jv *keys = mg__alloc(&r->ar, (src->n + 1) * sizeof(jv));
    for (size_t i = 0; i < src->n; i++) {
        jl_push(r, out.u.l, src->v[i]);
        keys[i] = key_of(r, n, src->v[i], attr, cs);
    }
    msort(r, n, out.u.l->v, keys, out.u.l->n, rev);
    return out;
}

F(dictsort)
{
    static const char *const kw[] = {"case_sensitive", "by", "reverse", NULL};
    arg_check(r, n, a, "dictsort", 3, kw);
    bool cs = jv_truthy(arg_get(a, 0, "case_sensitive", jv_bool(false)));
    jv by = arg_get(a, 1, "by", jv_cstr(r, "key"));
    bool rev = jv_truthy(arg_get(a, 2, "reverse", jv_bool(false)));
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v);
    if (v.t != JT_DICT)
        mg__rfail(r, n, "AttributeError: '%s' object has no attribute 'items'", jv_typename(v));
    int pos;
    if (by.t == JT_STR && !strcmp(by.u.s->s, "key"))
        pos = 0;
    else if (by.t == JT_STR && !strcmp(by.u.s->s, "value"))
        pos = 1;
    else
        mg__rfail(r, n, "FilterArgumentError: You can only sort by either \"key\" or \"value\"");
    size_t cnt = v.u.d->n;
    jv out = jv_newlist(r, cnt);
    jv *keys = mg__alloc(&r->ar, (cnt + 1) * sizeof(jv));
    for (size_t i = 0; i < cnt; i++) {
        jv t = jv_newtuple(r, 2);
        jl_push(r, t.u.l, v.u.d->k[i]);
        jl_push(r, t.u.l, v.u.d->v[i]);
        jl_push(r, out.u.l, t);
        jv k = pos ? v.u.d->v[i] : v.u.d->k[i];
        keys[i] = (!cs && k.t == JT_STR) ? mg__case(r, k, 'l') : k;
    }
    msort(r, n, out.u.l->v, keys, cnt, rev);
    return out;
}

/* ---- strings ------------------------------------------------------------------------ */

F(upper)
{
    return mg__case(r, soft_str(r, v), 'u');
}
F(lower)
{
    return mg__case(r, soft_str(r, v), 'l');
}
F(capitalize)
{
    return mg__case(r, soft_str(r, v), 'c');
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
    return v;
}
F(escape)
{
    jv s = soft_str(r, v);
    sbuf b = {0};
    for (size_t i = 0; i < s.u.s->len; i++) {
        char c = s.u.s->s[i];
        switch (c) {
        case '&':
            sb_puts(r, &b, "&amp;");
            break;
        case '<':
            sb_puts(r, &b, "&lt;");
            break;
        case '>':
            sb_puts(r, &b, "&gt;");
            break;
        case '"':
            sb_puts(r, &b, "&#34;");
            break;
        case '\'':
            sb_puts(r, &b, "&#39;");
            break;
        default:
            sb_putc(r, &b, c);
        }
    }
    return jv_strbuf(r, &b);
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

/* ---- sequences ------------------------------------------------------------------------ */

F(length)
{
    switch (v.t) {
    case JT_UNDEF:
        return jv_int(0);
    case JT_STR:
        return jv_int((int64_t)v.u.s->ncp);
    case JT_LIST:
    case JT_TUPLE:
        if (v.u.l->generator) break;
        return jv_int((int64_t)v.u.l->n);
    case JT_DICT:
        return jv_int((int64_t)v.u.d->n);
    case JT_LOOP:
        return jv_int((int64_t)v.u.loop->items->n);
    default:
        break;
    }
    mg__rfail(r, n, "TypeError: object of type '%s' has no len()", jv_typename(v));
}
F(list)
{
    jlist *l = jv_iterate(r, n, v);
    jv o = jv_newlist(r, l->n);
    for (size_t i = 0; i < l->n; i++) jl_push(r, o.u.l, l->v[i]);
    return o;
}
F(first)
{
    jlist *l = jv_iterate(r, n, v);
    return l->n ? l->v[0] : jv_undef("No first item, sequence was empty.");
}
F(last)
{
    if (v.t == JT_LIST && v.u.l->generator)
        mg__rfail(r, n, "TypeError: '%s' object is not reversible", jv_typename(v));
    jlist *l = jv_iterate(r, n, v);
    return l->n ? l->v[l->n - 1] : jv_undef("No last item, sequence was empty.");
}
F(reverse)
{
    if (v.t == JT_STR) {
        jlist *l = jv_iterate(r, n, v);
        sbuf b = {0};
        for (size_t i = l->n; i > 0; i--) sb_put(r, &b, l->v[i - 1].u.s->s, l->v[i - 1].u.s->len);
        return jv_strbuf(r, &b);
    }
    if (!(v.t == JT_UNDEF || v.t == JT_LIST || v.t == JT_TUPLE || v.t == JT_DICT))
        mg__rfail(r, n, "FilterArgumentError: argument must be iterable");
    jlist *l = jv_iterate(r, n, v);
    jv o = jv_newlist(r, l->n);
    for (size_t i = l->n; i > 0; i--) jl_push(r, o.u.l, l->v[i - 1]);
    /* reversed(list) is an iterator in Python; list(generator) a list */
    if (((v.t == JT_LIST || v.t == JT_TUPLE) && !v.u.l->generator) || v.t == JT_UNDEF)
        o.u.l->generator = true;
    return o;
}
F(join)
{
    static const char *const kw[] = {"d", "attribute", NULL};
    arg_check(r, n, a, "join", 2, kw);
    jv d = soft_str(r, arg_get(a, 0, "d", jv_cstr(r, "")));
    jv at = arg_get(a, 1, "attribute", jv_none());
    jlist *l = jv_iterate(r, n, v);
    sbuf b = {0};
    for (size_t i = 0; i < l->n; i++) {
        if (i) sb_put(r, &b, d.u.s->s, d.u.s->len);
        jv it = l->v[i];
        if (at.t != JT_NONE) it = attr_path(r, n, it, need_attr_name(r, n, at));
        jv_str_into(r, &b, it);
    }
    mg__step(r, n, l->n);
    return jv_strbuf(r, &b);
}
F(items)
{
    if (v.t == JT_UNDEF) return gen(jv_newlist(r, 0));
    if (v.t != JT_DICT) mg__rfail(r, n, "TypeError: Can only get item pairs from a mapping.");
    jv o = jv_newlist(r, v.u.d->n);
    for (size_t i = 0; i < v.u.d->n; i++) {
        jv t = jv_newtuple(r, 2);
        jl_push(r, t.u.l, v.u.d->k[i]);
        jl_push(r, t.u.l, v.u.d->v[i]);
        jl_push(r, o.u.l, t);
    }
    return gen(o);
}
F(unique)
{
    static const char *const kw[] = {"case_sensitive", "attribute", NULL};
    arg_check(r, n, a, "unique", 2, kw);
    bool cs = jv_truthy(arg_get(a, 0, "case_sensitive", jv_bool(false)));
    jv at = arg_get(a, 1, "attribute", jv_none());
    const char *attr = at.t == JT_NONE ? NULL : need_attr_name(r, n, at);
    jlist *l = jv_iterate(r, n, v);
    jv o = jv_newlist(r, 0), seen = jv_newlist(r, 0);
    for (size_t i = 0; i < l->n; i++) {
        jv k = key_of(r, n, l->v[i], attr, cs);
        if (k.t == JT_LIST || k.t == JT_DICT || k.t == JT_NS) /* a set needs hashable keys */
            mg__rfail(r, n, "TypeError: unhashable type: '%s'", jv_typename(k));
        bool dup = false;
        for (size_t j = 0; j < seen.u.l->n && !dup; j++) dup = jv_eq(seen.u.l->v[j], k);
        mg__step(r, n, seen.u.l->n / 64 + 1);
        if (dup) continue;
        jl_push(r, seen.u.l, k);
        jl_push(r, o.u.l, l->v[i]);
    }
    return gen(o);
}
static jv minmax(rctx *r, const node *n, jv v, jargs *a, bool max)
{
    static const char *const kw[] = {"case_sensitive", "attribute", NULL};
    arg_check(r, n, a, max ? "max" : "min", 2, kw);
    bool cs = jv_truthy(arg_get(a, 0, "case_sensitive", jv_bool(false)));
    jv at = arg_get(a, 1, "attribute", jv_none());
    const char *attr = at.t == JT_NONE ? NULL : need_attr_name(r, n, at);
    jlist *l = jv_iterate(r, n, v);
    if (!l->n)
        return jv_undef(max ? "No aggregated item, sequence was empty."
                            : "No aggregated item, sequence was empty.");
    size_t best = 0;
    jv bk = key_of(r, n, l->v[0], attr, cs);
    for (size_t i = 1; i < l->n; i++) {
        jv k = key_of(r, n, l->v[i], attr, cs);
        int c = sort_cmp(r, n, k, bk);
        if (max ? c > 0 : c < 0) {
            best = i;
            bk = k;
        }
    }
    return l->v[best];
}
F(max)
{
    return minmax(r, n, v, a, true);
}
F(min)
{
    return minmax(r, n, v, a, false);
}
F(sum)
{
    static const char *const kw[] = {"attribute", "start", NULL};
    arg_check(r, n, a, "sum", 2, kw);
    jv at = arg_get(a, 0, "attribute", jv_none());
    jv acc = arg_get(a, 1, "start", jv_int(0));
    jlist *l = jv_iterate(r, n, v);
    for (size_t i = 0; i < l->n; i++) {
        jv it = l->v[i];
        if (at.t != JT_NONE) it = attr_path(r, n, it, need_attr_name(r, n, at));
        if (it.t == JT_UNDEF) mg__undef_fail(r, n, it); /* 0 + Undefined raises */
        if (!jv_is_num(it) || !jv_is_num(acc))
            mg__rfail(r, n, "TypeError: unsupported operand type(s) for +: '%s' and '%s'",
                      jv_typename(acc), jv_typename(it));
        if (acc.t == JT_FLOAT || it.t == JT_FLOAT)
            acc = jv_float(jv_num(acc) + jv_num(it));
        else {
            int64_t z;
            if (__builtin_add_overflow(acc.t == JT_BOOL ? acc.u.b : acc.u.i,
                                       it.t == JT_BOOL ? it.u.b : it.u.i, &z))
                mg__rfail(r, n, "OverflowError: sum does not fit in 64 bits");
            acc = jv_int(z);
        }
    }
    return acc;
}
F(batch)
{
    static const char *const kw[] = {"linecount", "fill_with", NULL};
    arg_check(r, n, a, "batch", 2, kw);
    jv lc = arg_get(a, 0, "linecount", jv_undef(NULL));
    if (lc.t != JT_INT || lc.u.i <= 0)
        mg__rfail(r, n, "TypeError: batch linecount must be a positive int");
    jv fill = arg_get(a, 1, "fill_with", jv_none());
    bool has_fill = fill.t != JT_NONE;
    jlist *l = jv_iterate(r, n, v);
    jv o = jv_newlist(r, 0), cur = jv_newlist(r, 0);
    for (size_t i = 0; i < l->n; i++) {
        if ((int64_t)cur.u.l->n == lc.u.i) {
            jl_push(r, o.u.l, cur);
            cur = jv_newlist(r, 0);
        }
        jl_push(r, cur.u.l, l->v[i]);
    }
    if (cur.u.l->n) {
        if (has_fill)
            while ((int64_t)cur.u.l->n < lc.u.i) jl_push(r, cur.u.l, fill);
        jl_push(r, o.u.l, cur);
    }
    return gen(o);
}
F(groupby)
{
    static const char *const kw[] = {"attribute", "default", "case_sensitive", NULL};
    arg_check(r, n, a, "groupby", 3, kw);
    jv at = arg_get(a, 0, "attribute", jv_undef(NULL));
    jv dflt = arg_get(a, 1, "default", jv_undef(NULL));
    bool cs = jv_truthy(arg_get(a, 2, "case_sensitive", jv_bool(false)));
    const char *attr = need_attr_name(r, n, at);
    jlist *l = jv_iterate(r, n, v);
    jv items = jv_newlist(r, l->n);
    jv *keys = mg__alloc(&r->ar, (l->n + 1) * sizeof(jv));
    for (size_t i = 0; i < l->n; i++) {
        jl_push(r, items.u.l, l->v[i]);
        jv k = attr_path(r, n, l->v[i], attr);
        if (k.t == JT_UNDEF && dflt.t != JT_UNDEF) k = dflt;
        keys[i] = (!cs && k.t == JT_STR) ? mg__case(r, k, 'l') : k;
    }
    msort(r, n, items.u.l->v, keys, l->n, false);
    jv o = jv_newlist(r, 0);
    for (size_t i = 0; i < l->n;) {
        size_t j = i;
        jv grp = jv_newlist(r, 0);
        while (j < l->n && jv_eq(keys[j], keys[i])) jl_push(r, grp.u.l, items.u.l->v[j++]);
        jv t = jv_newtuple(r, 2);
        t.u.l->group = true;
        jv gk = keys[i];
        if (!cs && gk.t == JT_STR) gk = attr_path(r, n, items.u.l->v[i], attr);
        jl_push(r, t.u.l, gk);
        jl_push(r, t.u.l, grp);
        jl_push(r, o.u.l, t);
        i = j;
    }
    return o;
}

/* select / reject / selectattr / rejectattr / map ---------------------------------------- */

static bool run_test(rctx *r, const node *n, jv item, jv name, jargs *a, int first_arg)
{
    if (name.t == JT_UNDEF) return jv_truthy(item);
    if (name.t != JT_STR) mg__rfail(r, n, "TypeError: test name must be a string");
    const test_entry *te = mg__find_test(name.u.s->s);
    if (!te) mg__rfail(r, n, "TemplateRuntimeError: No test named '%s'", name.u.s->s);
    jargs rest = {.npos = a->npos > first_arg ? a->npos - first_arg : 0,
                  .pos = a->pos + (a->npos > first_arg ? first_arg : a->npos),
                  .nkw = a->nkw,
                  .kwname = a->kwname,
                  .kw = a->kw};
    return te->fn(r, n, item, &rest);
}

static jv select_impl(rctx *r, const node *n, jv v, jargs *a, bool attr, bool want)
{
    /* jinja2's select_or_reject starts with `if value:` */
    if (!jv_truthy(v)) return gen(jv_newlist(r, 0));
    jlist *l = jv_iterate(r, n, v);
    jv o = jv_newlist(r, 0);
    const char *an = NULL;
    if (attr) {
        if (a->npos < 1)
            mg__rfail(r, n, "FilterArgumentError: Missing parameter for attribute name");
        an = need_attr_name(r, n, a->pos[0]);
    }
    int ti = attr ? 1 : 0;
    jv tname = a->npos > ti ? a->pos[ti] : jv_undef(NULL);
    for (size_t i = 0; i < l->n; i++) {
        jv item = attr ? attr_path(r, n, l->v[i], an) : l->v[i];
        if (run_test(r, n, item, tname, a, ti + 1) == want) jl_push(r, o.u.l, l->v[i]);
    }
    mg__step(r, n, l->n);
    return gen(o);
}
F(select)
{
    return select_impl(r, n, v, a, false, true);
}
F(reject)
{
    return select_impl(r, n, v, a, false, false);
}
F(selectattr)
{
    return select_impl(r, n, v, a, true, true);
}
F(rejectattr)
{
    return select_impl(r, n, v, a, true, false);
}
F(map)
{
    if (!jv_truthy(v)) return gen(jv_newlist(r, 0)); /* do_map: `if value:` */
    jlist *l = jv_iterate(r, n, v);
    jv o = jv_newlist(r, l->n);
    jv at = arg_get(a, -1, "attribute", jv_undef(NULL));
    if (at.t != JT_UNDEF) {
        jv dflt = arg_get(a, -1, "default", jv_undef(NULL));
        const char *an = need_attr_name(r, n, at);
        for (size_t i = 0; i < l->n; i++) {
            jv x = attr_path(r, n, l->v[i], an);
            if (x.t == JT_UNDEF && dflt.t != JT_UNDEF) x = dflt;
            jl_push(r, o.u.l, x);
        }
        return gen(o);
    }
    if (a->npos < 1) mg__rfail(r, n, "FilterArgumentError: map requires a filter argument");
    if (a->pos[0].t != JT_STR) mg__rfail(r, n, "TypeError: map filter name must be a string");
    const filter_entry *fe = mg__find_filter(a->pos[0].u.s->s);
    if (!fe) mg__rfail(r, n, "TemplateRuntimeError: No filter named '%s'", a->pos[0].u.s->s);
    jargs rest = {
        .npos = a->npos - 1, .pos = a->pos + 1, .nkw = a->nkw, .kwname = a->kwname, .kw = a->kw};
    for (size_t i = 0; i < l->n; i++) jl_push(r, o.u.l, fe->fn(r, n, l->v[i], &rest));
    mg__step(r, n, l->n);
    return gen(o);
}
F(attr)
{
    if (a->npos < 1) mg__rfail(r, n, "TypeError: attr() missing the attribute name");
    return jv_getattr(r, n, v, need_attr_name(r, n, a->pos[0]));
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

/* ---- tests -------------------------------------------------------------------------- */

static jv targ(rctx *r, const node *n, jargs *a, const char *name)
{
    if (a->npos < 1) mg__rfail(r, n, "TypeError: test '%s' needs an argument", name);
    return a->pos[0];
}
T(defined)
{
    return v.t != JT_UNDEF;
}
T(undefined)
{
    return v.t == JT_UNDEF;
}
T(none)
{
    return v.t == JT_NONE;
}
T(boolean)
{
    return v.t == JT_BOOL;
}
T(false)
{
    return v.t == JT_BOOL && !v.u.b;
}
T(true)
{
    return v.t == JT_BOOL && v.u.b;
}
T(integer)
{
    return v.t == JT_INT;
}
T(float)
{
    return v.t == JT_FLOAT;
}
T(number)
{
    return jv_is_num(v);
}
T(string)
{
    return v.t == JT_STR;
}
T(mapping)
{
    return v.t == JT_DICT;
}
T(iterable)
{
    return v.t == JT_UNDEF || v.t == JT_STR || v.t == JT_LIST || v.t == JT_TUPLE ||
           v.t == JT_DICT || v.t == JT_LOOP;
}
T(sequence)
{
    return v.t == JT_UNDEF || v.t == JT_STR ||
           ((v.t == JT_LIST || v.t == JT_TUPLE) && !v.u.l->generator && !v.u.l->view) ||
           v.t == JT_DICT;
}
T(callable)
{
    /* Undefined defines __call__ (to raise), so Python calls it callable */
    return v.t == JT_FUNC || v.t == JT_UNDEF || (v.t == JT_LOOP && v.u.loop->fornode->recursive);
}
T(odd)
{
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v);
    if (!jv_is_num(v))
        mg__rfail(r, n, "TypeError: not all arguments converted during string formatting");
    if (v.t == JT_FLOAT) return fmod(fabs(v.u.f), 2.0) == 1.0;
    int64_t i = v.t == JT_BOOL ? v.u.b : v.u.i;
    return (i % 2) != 0;
}
T(even)
{
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v);
    if (!jv_is_num(v))
        mg__rfail(r, n, "TypeError: not all arguments converted during string formatting");
    if (v.t == JT_FLOAT) return fmod(v.u.f, 2.0) == 0.0;
    int64_t i = v.t == JT_BOOL ? v.u.b : v.u.i;
    return (i % 2) == 0;
}
T(divisibleby)
{
    jv d = targ(r, n, a, "divisibleby");
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v);
    if (!jv_is_num(v) || !jv_is_num(d)) mg__rfail(r, n, "TypeError: divisibleby needs numbers");
    if (v.t == JT_FLOAT || d.t == JT_FLOAT) {
        if (jv_num(d) == 0) mg__rfail(r, n, "ZeroDivisionError: float modulo");
        return fmod(jv_num(v), jv_num(d)) == 0;
    }
    int64_t x = v.t == JT_BOOL ? v.u.b : v.u.i, y = d.t == JT_BOOL ? d.u.b : d.u.i;
    if (!y) mg__rfail(r, n, "ZeroDivisionError: integer division or modulo by zero");
    if (y == -1) return true;
    return x % y == 0;
}
T(eq)
{
    return jv_eq(v, targ(r, n, a, "eq"));
}
T(ne)
{
    return !jv_eq(v, targ(r, n, a, "ne"));
}
T(lt)
{
    return jv_cmp(r, n, v, targ(r, n, a, "lt")) < 0;
}
T(le)
{
    return jv_cmp(r, n, v, targ(r, n, a, "le")) <= 0;
}
T(gt)
{
    return jv_cmp(r, n, v, targ(r, n, a, "gt")) > 0;
}
T(ge)
{
    return jv_cmp(r, n, v, targ(r, n, a, "ge")) >= 0;
}
T(in)
{
    jv c = targ(r, n, a, "in");
    switch (c.t) {
    case JT_STR:
        if (v.t != JT_STR)
            mg__rfail(r, n, "TypeError: 'in <string>' requires string as left operand");
        return !v.u.s->len || memmem(c.u.s->s, c.u.s->len, v.u.s->s, v.u.s->len);
    case JT_LIST:
    case JT_TUPLE:
        for (size_t i = 0; i < c.u.l->n; i++)
            if (jv_eq(c.u.l->v[i], v)) return true;
        return false;
    case JT_DICT:
        return jd_get(c.u.d, v) != NULL;
    case JT_UNDEF:
        return false;
    default:
        mg__rfail(r, n, "TypeError: argument of type '%s' is not iterable", jv_typename(c));
    }
}
T(lower)
{
    jv s = soft_str(r, v);
    jargs none = {0};
    return jv_truthy(jv_call(r, n, jv_getattr(r, n, s, "islower"), &none));
}
T(upper)
{
    jv s = soft_str(r, v);
    jargs none = {0};
    return jv_truthy(jv_call(r, n, jv_getattr(r, n, s, "isupper"), &none));
}
T(sameas)
{
    jv o = targ(r, n, a, "sameas");
    if (v.t != o.t) return false;
    switch (v.t) {
    case JT_NONE:
    case JT_UNDEF:
        return true;
    case JT_BOOL:
        return v.u.b == o.u.b;
    case JT_INT:
        return v.u.i == o.u.i && v.u.i >= -5 && v.u.i <= 256;
    case JT_STR:
        return v.u.s == o.u.s;
    case JT_LIST:
    case JT_TUPLE:
        return v.u.l == o.u.l;
    case JT_DICT:
    case JT_NS:
        return v.u.d == o.u.d;
    default:
        return false;
    }
}
T(escaped)
{
    return false;
}
T(filter)
{
    return v.t == JT_STR && mg__find_filter(v.u.s->s);
}
T(test)
{
    return v.t == JT_STR && mg__find_test(v.u.s->s);
}

static const filter_entry FILTERS[] = {{"abs", f_abs},
                                       {"attr", f_attr},
                                       {"batch", f_batch},
                                       {"capitalize", f_capitalize},
                                       {"center", f_center},
                                       {"count", f_length},
                                       {"d", f_default},
                                       {"default", f_default},
                                       {"dictsort", f_dictsort},
                                       {"e", f_escape},
                                       {"escape", f_escape},
                                       {"first", f_first},
                                       {"float", f_float},
                                       {"forceescape", f_escape},
                                       {"format", f_format},
                                       {"groupby", f_groupby},
                                       {"indent", f_indent},
                                       {"int", f_int},
                                       {"items", f_items},
                                       {"join", f_join},
                                       {"last", f_last},
                                       {"length", f_length},
                                       {"list", f_list},
                                       {"lower", f_lower},
                                       {"map", f_map},
                                       {"max", f_max},
                                       {"min", f_min},
                                       {"pprint", f_pprint},
                                       {"reject", f_reject},
                                       {"rejectattr", f_rejectattr},
                                       {"replace", f_replace},
                                       {"reverse", f_reverse},
                                       {"round", f_round},
                                       {"safe", f_safe},
                                       {"select", f_select},
                                       {"selectattr", f_selectattr},
                                       {"sort", f_sort},
                                       {"string", f_string},
                                       {"sum", f_sum},
                                       {"title", f_title},
                                       {"tojson", f_tojson},
                                       {"trim", f_trim},
                                       {"truncate", f_truncate},
                                       {"unique", f_unique},
                                       {"upper", f_upper},
                                       {"wordcount", f_wordcount},
                                       {NULL, NULL}};

static const test_entry TESTS[] = {{"boolean", t_boolean, 0},
                                   {"callable", t_callable, 0},
                                   {"defined", t_defined, 0},
                                   {"divisibleby", t_divisibleby, 1},
                                   {"eq", t_eq, 1},
                                   {"equalto", t_eq, 1},
                                   {"==", t_eq, 1},
                                   {"escaped", t_escaped, 0},
                                   {"even", t_even, 0},
                                   {"false", t_false, 0},
                                   {"filter", t_filter, 0},
                                   {"float", t_float, 0},
                                   {"ge", t_ge, 1},
                                   {">=", t_ge, 1},
                                   {"gt", t_gt, 1},
                                   {"greaterthan", t_gt, 1},
                                   {">", t_gt, 1},
                                   {"in", t_in, 1},
                                   {"integer", t_integer, 0},
                                   {"iterable", t_iterable, 0},
                                   {"le", t_le, 1},
                                   {"<=", t_le, 1},
                                   {"lower", t_lower, 0},
                                   {"lt", t_lt, 1},
                                   {"lessthan", t_lt, 1},
                                   {"<", t_lt, 1},
                                   {"mapping", t_mapping, 0},
                                   {"ne", t_ne, 1},
                                   {"!=", t_ne, 1},
                                   {"none", t_none, 0},
                                   {"number", t_number, 0},
                                   {"odd", t_odd, 0},
                                   {"sameas", t_sameas, 1},
                                   {"sequence", t_sequence, 0},
                                   {"string", t_string, 0},
                                   {"test", t_test, 0},
                                   {"true", t_true, 0},
                                   {"undefined", t_undefined, 0},
                                   {"upper", t_upper, 0},
                                   {NULL, NULL, 0}};

const filter_entry *mg__find_filter(const char *name)
{
    for (int i = 0; FILTERS[i].name; i++)
        if (!strcmp(FILTERS[i].name, name)) return &FILTERS[i];
    return NULL;
}

const test_entry *mg__find_test(const char *name)
{
    for (int i = 0; TESTS[i].name; i++)
        if (!strcmp(TESTS[i].name, name)) return &TESTS[i];
    return NULL;
}
