/* filters_seq.c — Jinja2's sequence filters (jinja2/filters.py): sort,
 * dictsort, length, list, first, last, reverse, join, items, unique, min,
 * max, sum, batch, groupby, select, reject, selectattr, rejectattr, map,
 * attr. Those that return generators in Jinja2 return lists flagged
 * `generator` (see filters.c). */
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

static jv gen(jv l)
{
    l.u.l->generator = true;
    return l;
}

/* a generator derived from `src`: consuming it consumes a generator source */
static jv gen_from(jv l, jv src)
{
    l.u.l->generator = true;
    if ((src.t == JT_LIST || src.t == JT_TUPLE) && src.u.l->generator) l.u.l->src = src.u.l;
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
    if (v.t == JT_LIST && v.u.l->generator) return mg__next(r, v); /* next(iter(g)) */
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
    jlist *l = mg__peek(r, n, v);
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
    return gen_from(o, v);
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
    jlist *l = mg__peek(r, n, v);
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
    return gen_from(o, v);
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
    jlist *l = mg__peek(r, n, v);
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
    return gen_from(o, v);
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
    jlist *l = mg__peek(r, n, v);
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
        return gen_from(o, v);
    }
    if (a->npos < 1) mg__rfail(r, n, "FilterArgumentError: map requires a filter argument");
    if (a->pos[0].t != JT_STR) mg__rfail(r, n, "TypeError: map filter name must be a string");
    const filter_entry *fe = mg__find_filter(a->pos[0].u.s->s);
    if (!fe) mg__rfail(r, n, "TemplateRuntimeError: No filter named '%s'", a->pos[0].u.s->s);
    jargs rest = {
        .npos = a->npos - 1, .pos = a->pos + 1, .nkw = a->nkw, .kwname = a->kwname, .kw = a->kw};
    for (size_t i = 0; i < l->n; i++) jl_push(r, o.u.l, fe->fn(r, n, l->v[i], &rest));
    mg__step(r, n, l->n);
    return gen_from(o, v);
}
F(attr)
{
    if (a->npos < 1) mg__rfail(r, n, "TypeError: attr() missing the attribute name");
    return jv_getattr(r, n, v, need_attr_name(r, n, a->pos[0]));
}

const filter_entry mg__seq_filters[] = {{"attr", f_attr},
                                        {"batch", f_batch},
                                        {"count", f_length},
                                        {"dictsort", f_dictsort},
                                        {"first", f_first},
                                        {"groupby", f_groupby},
                                        {"items", f_items},
                                        {"join", f_join},
                                        {"last", f_last},
                                        {"length", f_length},
                                        {"list", f_list},
                                        {"map", f_map},
                                        {"max", f_max},
                                        {"min", f_min},
                                        {"reject", f_reject},
                                        {"rejectattr", f_rejectattr},
                                        {"reverse", f_reverse},
                                        {"select", f_select},
                                        {"selectattr", f_selectattr},
                                        {"sort", f_sort},
                                        {"sum", f_sum},
                                        {"unique", f_unique},
                                        {NULL, NULL}};
