/* access.c — attribute and item access, slicing and iteration, with the
 * semantics of Jinja2's ImmutableSandboxedEnvironment: `a.b` tries the Python
 * attribute (methods) before the item, `a[b]` the item first; misses give
 * Undefined; private names are hidden; slices raise like Python's. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* ---- attribute and item access ------------------------------------------------- */

jv jv_undef_attr(rctx *r, jv obj, const char *name)
{
    char *why = mg__alloc(&r->ar, strlen(name) + 64);
    sprintf(why, "'%s object' has no attribute '%s'", jv_typename(obj), name);
    return jv_undef(why);
}

static bool is_dict_method(const char *nm)
{
    static const char *const m[] = {"items",  "keys",       "values", "get",  "pop",      "popitem",
                                    "update", "setdefault", "clear",  "copy", "fromkeys", NULL};
    for (int i = 0; m[i]; i++)
        if (!strcmp(m[i], nm)) return true;
    return false;
}

static jv loop_attr(rctx *r, jloop *L, const char *nm)
{
    size_t n = L->items->n, i = L->idx;
    if (!strcmp(nm, "index")) return jv_int((int64_t)i + 1);
    if (!strcmp(nm, "index0")) return jv_int((int64_t)i);
    if (!strcmp(nm, "revindex")) return jv_int((int64_t)(n - i));
    if (!strcmp(nm, "revindex0")) return jv_int((int64_t)(n - i - 1));
    if (!strcmp(nm, "first")) return jv_bool(i == 0);
    if (!strcmp(nm, "last")) return jv_bool(i + 1 == n);
    if (!strcmp(nm, "length")) return jv_int((int64_t)n);
    if (!strcmp(nm, "depth")) return jv_int(L->depth0 + 1);
    if (!strcmp(nm, "depth0")) return jv_int(L->depth0);
    if (!strcmp(nm, "previtem"))
        return i > 0 ? L->items->v[i - 1] : jv_undef("there is no previous item");
    if (!strcmp(nm, "nextitem"))
        return i + 1 < n ? L->items->v[i + 1] : jv_undef("there is no next item");
    if (!strcmp(nm, "cycle")) return L->cycle_fn;
    if (!strcmp(nm, "changed")) return L->changed_fn;
    return jv_undef_attr(r, (jv){.t = JT_LOOP}, nm);
}

jv jv_getattr(rctx *r, const node *n, jv obj, const char *name)
{
    if (obj.t == JT_UNDEF) mg__undef_fail(r, n, obj);
    if (name[0] == '_') {
        /* the sandbox hides private/dunder attributes */
        return jv_undef_attr(r, obj, name);
    }
    switch (obj.t) {
    case JT_DICT: {
        if (is_dict_method(name)) return mg__method(r, obj, name);
        jv *p = jd_gets(obj.u.d, name);
        return p ? *p : jv_undef_attr(r, obj, name);
    }
    case JT_NS: {
        jv *p = jd_gets(obj.u.d, name);
        return p ? *p : jv_undef_attr(r, obj, name);
    }
    case JT_LOOP:
        return loop_attr(r, obj.u.loop, name);
    case JT_TUPLE:
        if (obj.u.l->group && !strcmp(name, "grouper")) return obj.u.l->v[0];
        if (obj.u.l->group && !strcmp(name, "list")) return obj.u.l->v[1];
        /* fall through */
    default: {
        jv m = mg__method(r, obj, name);
        return m.t != JT_UNDEF || m.u.uname ? m : jv_undef_attr(r, obj, name);
    }
    }
}

jv jv_getitem(rctx *r, const node *n, jv obj, jv key)
{
    if (obj.t == JT_UNDEF) mg__undef_fail(r, n, obj);
    switch (obj.t) {
    case JT_DICT: {
        jv *p = jd_get(obj.u.d, key);
        if (p) return *p;
        if (key.t == JT_STR && is_dict_method(key.u.s->s)) return mg__method(r, obj, key.u.s->s);
        break;
    }
    case JT_LIST:
    case JT_TUPLE:
        if (!obj.u.l->generator && !obj.u.l->view && (key.t == JT_INT || key.t == JT_BOOL)) {
            int64_t i = key.t == JT_BOOL ? key.u.b : key.u.i, len = (int64_t)obj.u.l->n;
            if (i < 0) i += len;
            if (i >= 0 && i < len) return obj.u.l->v[i];
        }
        break;
    case JT_STR:
        if (key.t == JT_INT || key.t == JT_BOOL) {
            const jstr *s = obj.u.s;
            int64_t i = key.t == JT_BOOL ? key.u.b : key.u.i, len = (int64_t)s->ncp;
            if (i < 0) i += len;
            if (i < 0 || i >= len) break;
            size_t b = 0;
            if (s->ncp == s->len)
                b = (size_t)i;
            else
                for (int64_t c = 0; c < i; b++)
                    if (((unsigned char)s->s[b + 1] & 0xC0) != 0x80) c++;
            size_t e = b + 1;
            while (e < s->len && ((unsigned char)s->s[e] & 0xC0) == 0x80) e++;
            jv c = jv_str(r, s->s + b, e - b);
            return s->markup ? mg__as_markup(r, c) : c;
        }
        break;
    default:
        break;
    }
    if (key.t == JT_STR && obj.t != JT_DICT) return jv_getattr(r, n, obj, key.u.s->s);
    if (key.t == JT_STR) return jv_undef_attr(r, obj, key.u.s->s);
    return jv_undef("index out of range or not subscriptable");
}

/* Python slice semantics on len items; fills idx[] with the selected indices */
static size_t slice_indices(rctx *r, const node *n, int64_t len, jv start, jv stop, jv step,
                            int64_t **out)
{
    int64_t st = 1;
    if (step.t != JT_NONE && step.t != JT_UNDEF) {
        if (step.t != JT_INT && step.t != JT_BOOL)
            mg__rfail(r, n, "TypeError: slice indices must be integers or None");
        st = step.t == JT_BOOL ? step.u.b : step.u.i;
        if (st == 0) mg__rfail(r, n, "ValueError: slice step cannot be zero");
    }
    int64_t lo, hi;
    jv bounds[2] = {start, stop};
    int64_t vals[2];
    for (int k = 0; k < 2; k++) {
        jv b = bounds[k];
        if (b.t == JT_NONE || b.t == JT_UNDEF) {
            vals[k] = st > 0 ? (k == 0 ? 0 : len) : (k == 0 ? len - 1 : -1);
            continue;
        }
        if (b.t != JT_INT && b.t != JT_BOOL)
            mg__rfail(r, n, "TypeError: slice indices must be integers or None");
        int64_t v = b.t == JT_BOOL ? b.u.b : b.u.i;
        if (v < 0) {
            v += len;
            if (v < 0) v = st > 0 ? 0 : -1;
        } else if (v >= len)
            v = st > 0 ? len : len - 1;
        vals[k] = v;
    }
    lo = vals[0];
    hi = vals[1];
    size_t cnt = 0;
    int64_t *idx = mg__alloc(&r->ar, (size_t)(len > 0 ? len : 1) * sizeof(int64_t));
    if (st > 0)
        for (int64_t i = lo; i < hi; i += st) idx[cnt++] = i;
    else
        for (int64_t i = lo; i > hi; i += st) idx[cnt++] = i;
    *out = idx;
    return cnt;
}

jv mg__slice(rctx *r, const node *n, jv obj, jv a, jv b, jv c)
{
    if (obj.t == JT_UNDEF) mg__undef_fail(r, n, obj);
    int64_t *idx;
    if (obj.t == JT_STR) {
        const jstr *s = obj.u.s;
        /* code point offsets */
        size_t *off = mg__alloc(&r->ar, (s->ncp + 1) * sizeof(size_t));
        size_t k = 0;
        for (size_t i = 0; i < s->len; i++)
            if (((unsigned char)s->s[i] & 0xC0) != 0x80) off[k++] = i;
        off[k] = s->len;
        size_t cnt = slice_indices(r, n, (int64_t)s->ncp, a, b, c, &idx);
        sbuf o = {0};
        for (size_t i = 0; i < cnt; i++)
            sb_put(r, &o, s->s + off[idx[i]], off[idx[i] + 1] - off[idx[i]]);
        jv res = jv_strbuf(r, &o);
        return s->markup ? mg__as_markup(r, res) : res;
    }
    if ((obj.t == JT_LIST || obj.t == JT_TUPLE) && !obj.u.l->generator && !obj.u.l->view) {
        size_t cnt = slice_indices(r, n, (int64_t)obj.u.l->n, a, b, c, &idx);
        jv l = obj.t == JT_LIST ? jv_newlist(r, cnt) : jv_newtuple(r, cnt);
        for (size_t i = 0; i < cnt; i++) jl_push(r, l.u.l, obj.u.l->v[idx[i]]);
        return l;
    }
    mg__rfail(r, n, "TypeError: '%s' object is not subscriptable", jv_typename(obj));
}

/* A generator derived from one that was consumed first yields nothing: in
 * Python it would have drawn its items from the exhausted source. */
static bool stale(const jlist *g)
{
    for (const jlist *s = g->src; s; s = s->src)
        if (s->consumed) return true;
    return false;
}

jlist *mg__peek(rctx *r, const node *n, jv v)
{
    if ((v.t == JT_LIST || v.t == JT_TUPLE) && v.u.l->generator && stale(v.u.l))
        return jv_newlist(r, 0).u.l;
    if (v.t == JT_LIST || v.t == JT_TUPLE) return v.u.l;
    return jv_iterate(r, n, v);
}

jv mg__next(rctx *r, jv gen)
{
    jlist *g = gen.u.l;
    if (stale(g) || !g->n) return jv_undef("No first item, sequence was empty.");
    jv first = g->v[0];
    memmove(g->v, g->v + 1, (g->n - 1) * sizeof(jv));
    g->n--;
    return first;
}

jlist *jv_iterate(rctx *r, const node *n, jv v)
{
    switch (v.t) {
    case JT_UNDEF:
        return jv_newlist(r, 0).u.l;
    case JT_LIST:
    case JT_TUPLE:
        if (v.u.l->generator) {
            /* iterable once: hand out the items, leave it (and its sources)
             * exhausted */
            jlist *g = v.u.l;
            jv out = jv_newlist(r, g->n);
            if (!stale(g))
                for (size_t i = 0; i < g->n; i++) jl_push(r, out.u.l, g->v[i]);
            for (jlist *s = g; s; s = s->src) {
                s->n = 0;
                s->consumed = true;
            }
            return out.u.l;
        }
        return v.u.l;
    case JT_DICT: {
        jv l = jv_newlist(r, v.u.d->n);
        for (size_t i = 0; i < v.u.d->n; i++) jl_push(r, l.u.l, v.u.d->k[i]);
        return l.u.l;
    }
    case JT_STR: {
        jv l = jv_newlist(r, v.u.s->ncp);
        const jstr *s = v.u.s;
        for (size_t i = 0; i < s->len;) {
            size_t e = i + 1;
            while (e < s->len && ((unsigned char)s->s[e] & 0xC0) == 0x80) e++;
            jl_push(r, l.u.l, jv_str(r, s->s + i, e - i));
            i = e;
        }
        return l.u.l;
    }
    default:
        mg__rfail(r, n, "TypeError: '%s' object is not iterable", jv_typename(v));
    }
}
