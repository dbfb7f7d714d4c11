/* tojson.c — JSON in and out of the template's value model: jansson values
 * to jv (template variables: messages, tools), and jv to text exactly as
 * Python's json.dumps writes it (the `tojson` filter; Hugging Face calls it
 * with ensure_ascii=False and optional indent / sort_keys). Split out of
 * value.c, which keeps the value model itself. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON ------------------------------------------------------------------------- */

static void json_str(rctx *r, sbuf *b, const char *s, size_t len, bool ascii)
{
    sb_putc(r, b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[16];
        switch (c) {
        case '"':
            sb_puts(r, b, "\\\"");
            continue;
        case '\\':
            sb_puts(r, b, "\\\\");
            continue;
        case '\n':
            sb_puts(r, b, "\\n");
            continue;
        case '\r':
            sb_puts(r, b, "\\r");
            continue;
        case '\t':
            sb_puts(r, b, "\\t");
            continue;
        case '\b':
            sb_puts(r, b, "\\b");
            continue;
        case '\f':
            sb_puts(r, b, "\\f");
            continue;
        }
        if (c < 0x20 || (ascii && c == 0x7f)) {
            snprintf(e, sizeof e, "\\u%04x", c);
            sb_puts(r, b, e);
        } else if (c >= 0x80 && ascii) {
            /* decode one UTF-8 sequence (strings are valid UTF-8 here) */
            uint32_t cp;
            int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
            cp = c & (0x3F >> n);
            for (int k = 0; k < n && i + 1 < len; k++) cp = (cp << 6) | (s[++i] & 0x3F);
            if (cp >= 0x10000) {
                cp -= 0x10000;
                snprintf(e, sizeof e, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else
                snprintf(e, sizeof e, "\\u%04x", cp);
            sb_puts(r, b, e);
        } else
            sb_putc(r, b, (char)c);
    }
    sb_putc(r, b, '"');
}

static void json_nl(rctx *r, sbuf *b, const json_opts *o, int level)
{
    sb_putc(r, b, '\n');
    for (int i = 0; i < level; i++) sb_puts(r, b, o->indent_str);
}

static int cmp_keys(const void *x, const void *y)
{
    const jstr *a = *(jstr *const *)x, *b = *(jstr *const *)y;
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, m);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

void jv_tojson_into(rctx *r, const node *n, sbuf *b, jv v, const json_opts *o, int level)
{
    char num[64];
    if (level > 200) mg__rfail(r, n, "ValueError: value nested too deeply for tojson");
    switch (v.t) {
    case JT_NONE:
        sb_puts(r, b, "null");
        return;
    case JT_BOOL:
        sb_puts(r, b, v.u.b ? "true" : "false");
        return;
    case JT_INT:
        snprintf(num, sizeof num, "%lld", (long long)v.u.i);
        sb_puts(r, b, num);
        return;
    case JT_FLOAT:
        if (isnan(v.u.f))
            sb_puts(r, b, "NaN");
        else if (isinf(v.u.f))
            sb_puts(r, b, v.u.f < 0 ? "-Infinity" : "Infinity");
        else {
            fmt_float(v.u.f, num, sizeof num);
            sb_puts(r, b, num);
        }
        return;
    case JT_STR:
        json_str(r, b, v.u.s->s, v.u.s->len, o->ensure_ascii);
        return;
    case JT_LIST:
    case JT_TUPLE: {
        if (v.u.l->generator || v.u.l->view) break;
        if (!v.u.l->n) {
            sb_puts(r, b, "[]");
            return;
        }
        sb_putc(r, b, '[');
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i) sb_puts(r, b, o->item_sep);
            if (o->indent_str) json_nl(r, b, o, level + 1);
            jv_tojson_into(r, n, b, v.u.l->v[i], o, level + 1);
        }
        if (o->indent_str) json_nl(r, b, o, level);
        sb_putc(r, b, ']');
        return;
    }
    case JT_DICT: {
        jdict *d = v.u.d;
        if (!d->n) {
            sb_puts(r, b, "{}");
            return;
        }
        /* keys become strings first (json.dumps coerces int/float/bool/None keys) */
        jstr **ks = mg__alloc(&r->ar, d->n * sizeof(jstr *));
        size_t *idx = mg__alloc(&r->ar, d->n * sizeof(size_t));
        for (size_t i = 0; i < d->n; i++) {
            jv k = d->k[i];
            sbuf kb = {0};
            if (k.t == JT_STR) {
                ks[i] = k.u.s;
                continue;
            } else if (k.t == JT_BOOL)
                sb_puts(r, &kb, k.u.b ? "true" : "false");
            else if (k.t == JT_NONE)
                sb_puts(r, &kb, "null");
            else if (k.t == JT_INT || k.t == JT_FLOAT)
                jv_str_into(r, &kb, k);
            else
                mg__rfail(r, n, "TypeError: keys must be str, int, float, bool or None, not %s",
                          jv_typename(k));
            ks[i] = mk_jstr(&r->ar, kb.p ? kb.p : "", kb.n);
        }
        for (size_t i = 0; i < d->n; i++) idx[i] = i;
        if (o->sort_keys) {
            /* stable sort of indices by key */
            for (size_t i = 1; i < d->n; i++) {
                size_t t = idx[i], j = i;
                while (j > 0 && cmp_keys(&ks[idx[j - 1]], &ks[t]) > 0) {
                    idx[j] = idx[j - 1];
                    j--;
                }
                idx[j] = t;
            }
        }
        sb_putc(r, b, '{');
        for (size_t i = 0; i < d->n; i++) {
            if (i) sb_puts(r, b, o->item_sep);
            if (o->indent_str) json_nl(r, b, o, level + 1);
            json_str(r, b, ks[idx[i]]->s, ks[idx[i]]->len, o->ensure_ascii);
            sb_puts(r, b, o->key_sep);
            jv_tojson_into(r, n, b, d->v[idx[i]], o, level + 1);
        }
        if (o->indent_str) json_nl(r, b, o, level);
        sb_putc(r, b, '}');
        return;
    }
    default:
        break;
    }
    mg__rfail(r, n, "TypeError: Object of type %s is not JSON serializable", jv_typename(v));
}

jv jv_from_json(rctx *r, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_NULL:
        return jv_none();
    case JSON_TRUE:
        return jv_bool(true);
    case JSON_FALSE:
        return jv_bool(false);
    case JSON_INTEGER:
        return jv_int((int64_t)json_integer_value(j));
    case JSON_REAL:
        return jv_float(json_real_value(j));
    case JSON_STRING:
        return jv_str(r, json_string_value(j), json_string_length(j));
    case JSON_ARRAY: {
        jv l = jv_newlist(r, json_array_size(j));
        for (size_t i = 0; i < json_array_size(j); i++)
            jl_push(r, l.u.l, jv_from_json(r, json_array_get(j, i)));
        return l;
    }
    case JSON_OBJECT: {
        /* jansson keeps insertion order when iterating with json_object_foreach */
        jv d = jv_newdict(r);
        const char *k;
        json_t *val;
        void *it = json_object_iter((json_t *)j);
        while (it) {
            k = json_object_iter_key(it);
            val = json_object_iter_value(it);
            jv key = jv_str(r, k, json_object_iter_key_len(it));
            jd_set(r, d.u.d, key, jv_from_json(r, val));
            it = json_object_iter_next((json_t *)j, it);
        }
        return d;
    }
    }
    return jv_none();
}
