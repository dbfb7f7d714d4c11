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

static const jstr *need_str(rctx *r, const node *n, jv v, const char *what)
{
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v);
    if (v.t != JT_STR) mg__rfail(r, n, "TypeError: %s must be str, not %s", what, jv_typename(v));
    return v.u.s;
}

static int64_t need_int(rctx *r, const node *n, jv v, const char *what)
{
    if (v.t == JT_INT) return v.u.i;
    if (v.t == JT_BOOL) return v.u.b;
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v);
    mg__rfail(r, n, "TypeError: %s must be an integer, not %s", what, jv_typename(v));
}

/* ---- unicode helpers ---------------------------------------------------------------- */

static int32_t dec(const char *s, size_t len, size_t *i)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t k =
        utf8proc_iterate((const utf8proc_uint8_t *)s + *i, (utf8proc_ssize_t)(len - *i), &cp);
    if (k <= 0) {
        (*i)++;
        return 0xFFFD;
    }
    *i += (size_t)k;
    return cp;
}

static void enc(rctx *r, sbuf *b, int32_t cp)
{
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t k = utf8proc_encode_char(cp, buf);
    sb_put(r, b, (const char *)buf, (size_t)k);
}

bool mg__py_space(int32_t c)
{
    return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

static bool is_cased(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}

static const char *special_case(int32_t c, bool upper)
{
    switch (c) {
    case 0xDF:
        return upper ? "SS" : "Ss";
    case 0xFB00:
        return upper ? "FF" : "Ff";
    case 0xFB01:
        return upper ? "FI" : "Fi";
    case 0xFB02:
        return upper ? "FL" : "Fl";
    case 0xFB03:
        return upper ? "FFI" : "Ffi";
    case 0xFB04:
        return upper ? "FFL" : "Ffl";
    case 0xFB05:
    case 0xFB06:
        return upper ? "ST" : "St";
    case 0x149:
        return "\xCA\xBCN";
    }
    return NULL;
}

/* mode: 'u' upper, 'l' lower, 't' title, 'c' capitalize, 's' swapcase */
jv mg__case(rctx *r, jv s, char mode)
{
    const jstr *j = s.u.s;
    sbuf b = {0};
    bool prev_cased = false, first = true;
    for (size_t i = 0; i < j->len;) {
        int32_t c = dec(j->s, j->len, &i), o = c;
        switch (mode) {
        case 'u':
            o = utf8proc_toupper(c);
            break;
        case 'l':
            o = utf8proc_tolower(c);
            break;
        case 't':
            o = prev_cased ? utf8proc_tolower(c) : utf8proc_totitle(c);
            break;
        case 'c':
            o = first ? utf8proc_totitle(c) : utf8proc_tolower(c);
            break;
        case 's':
            o = utf8proc_category(c) == UTF8PROC_CATEGORY_LU   ? utf8proc_tolower(c)
                : utf8proc_category(c) == UTF8PROC_CATEGORY_LL ? utf8proc_toupper(c)
                                                               : c;
            break;
        }
        /* Python uses the full (SpecialCasing) mappings: a few characters map
         * to several in upper and title case */
        const char *multi = NULL;
        if (mode == 'u' || ((mode == 't' && !prev_cased) || (mode == 'c' && first)))
            multi = special_case(c, mode == 'u');
        if (multi)
            sb_puts(r, &b, multi);
        else
            enc(r, &b, o);
        prev_cased = is_cased(c);
        first = false;
    }
    return jv_strbuf(r, &b);
}

/* strip: which = 1 left, 2 right, 3 both; chars NULL = whitespace */
jv mg__strip(rctx *r, jv s, const jstr *chars, int which)
{
    const jstr *j = s.u.s;
    size_t lo = 0, hi = j->len;
    if (which & 1)
        while (lo < hi) {
            size_t i = lo;
            int32_t c = dec(j->s, j->len, &i);
            bool in;
            if (chars) {
                in = false;
                for (size_t k = 0; k < chars->len;)
                    if (dec(chars->s, chars->len, &k) == c) in = true;
            } else
                in = mg__py_space(c);
            if (!in) break;
            lo = i;
        }
    if (which & 2)
        while (hi > lo) {
            size_t st = hi - 1;
            while (st > lo && ((unsigned char)j->s[st] & 0xC0) == 0x80) st--;
            size_t i = st;
            int32_t c = dec(j->s, j->len, &i);
            bool in;
            if (chars) {
                in = false;
                for (size_t k = 0; k < chars->len;)
                    if (dec(chars->s, chars->len, &k) == c) in = true;
            } else
                in = mg__py_space(c);
            if (!in) break;
            hi = st;
        }
    return jv_str(r, j->s + lo, hi - lo);
}

/* Python str.split / rsplit (sep NULL: runs of whitespace) */
jv mg__split(rctx *r, const node *n, jv s, const jstr *sep, int64_t maxsplit, bool right)
{
    const jstr *j = s.u.s;
    jv out = jv_newlist(r, 0);
    if (sep && !sep->len) mg__rfail(r, n, "ValueError: empty separator");
    if (!right) {
        size_t i = 0;
        int64_t splits = 0;
        if (!sep) {
            for (;;) {
                while (i < j->len) {
                    size_t k = i;
                    if (!mg__py_space(dec(j->s, j->len, &k))) break;
                    i = k;
                }
                if (i >= j->len) break;
                if (maxsplit >= 0 && splits >= maxsplit) {
                    /* rest, with trailing whitespace kept (Python keeps it) */
                    jl_push(r, out.u.l, jv_str(r, j->s + i, j->len - i));
                    break;
                }
                size_t st = i;
                while (i < j->len) {
                    size_t k = i;
                    if (mg__py_space(dec(j->s, j->len, &k))) break;
                    i = k;
                }
                jl_push(r, out.u.l, jv_str(r, j->s + st, i - st));
                splits++;
            }
            return out;
        }
        size_t st = 0;
        while (maxsplit < 0 || splits < maxsplit) {
            const char *p = memmem(j->s + st, j->len - st, sep->s, sep->len);
            if (!p) break;
            jl_push(r, out.u.l, jv_str(r, j->s + st, (size_t)(p - (j->s + st))));
            st = (size_t)(p - j->s) + sep->len;
            splits++;
        }
        jl_push(r, out.u.l, jv_str(r, j->s + st, j->len - st));
        return out;
    }
    /* rsplit: collect from the right, then reverse */
    jv rev = jv_newlist(r, 0);
    int64_t splits = 0;
    if (!sep) {
        size_t i = j->len;
        for (;;) {
            while (i > 0 && mg__py_space((unsigned char)j->s[i - 1])) i--;
            if (!i) break;
            if (maxsplit >= 0 && splits >= maxsplit) {
                jl_push(r, rev.u.l, jv_str(r, j->s, i));
                break;
            }
            size_t e = i;
            while (i > 0 && !mg__py_space((unsigned char)j->s[i - 1])) i--;
            jl_push(r, rev.u.l, jv_str(r, j->s + i, e - i));
            splits++;
        }
    } else {
        size_t e = j->len;
        while (maxsplit < 0 || splits < maxsplit) {
            size_t k = e;
            bool found = false;
            while (k >= sep->len) {
                if (!memcmp(j->s + k - sep->len, sep->s, sep->len)) {
                    found = true;
                    break;
                }
                k--;
            }
            if (!found) break;
            jl_push(r, rev.u.l, jv_str(r, j->s + k, e - k));
            e = k - sep->len;
            splits++;
        }
        jl_push(r, rev.u.l, jv_str(r, j->s, e));
    }
    for (size_t i = rev.u.l->n; i > 0; i--) jl_push(r, out.u.l, rev.u.l->v[i - 1]);
    return out;
}

jv mg__replace(rctx *r, const node *n, jv s, const jstr *old, const jstr *new, int64_t count)
{
    const jstr *j = s.u.s;
    sbuf b = {0};
    if (!old->len) {
        /* Python inserts `new` between characters (and at both ends) */
        int64_t done = 0;
        size_t i = 0;
        for (;;) {
            if (count >= 0 && done >= count) break;
            sb_put(r, &b, new->s, new->len);
            done++;
            if (b.n > r->opt->max_output)
                mg__fail(&r->ar, MG_ERANGE, "%d:%d: replace() result exceeds the output limit",
                         n->line, n->col);
            if (i >= j->len) break;
            size_t k = i;
            dec(j->s, j->len, &k);
            sb_put(r, &b, j->s + i, k - i);
            i = k;
        }
        if (i < j->len) sb_put(r, &b, j->s + i, j->len - i);
        return jv_strbuf(r, &b);
    }
    size_t st = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        const char *p = memmem(j->s + st, j->len - st, old->s, old->len);
        if (!p) break;
        sb_put(r, &b, j->s + st, (size_t)(p - (j->s + st)));
        sb_put(r, &b, new->s, new->len);
        if (b.n > r->opt->max_output)
            mg__fail(&r->ar, MG_ERANGE, "%d:%d: replace() result exceeds the output limit", n->line,
                     n->col);
        st = (size_t)(p - j->s) + old->len;
        done++;
    }
    sb_put(r, &b, j->s + st, j->len - st);
    return jv_strbuf(r, &b);
}

static bool starts_ends(rctx *r, const node *n, const jstr *s, jv arg, bool end)
{
    if (arg.t == JT_TUPLE) {
        for (size_t i = 0; i < arg.u.l->n; i++)
            if (starts_ends(r, n, s, arg.u.l->v[i], end)) return true;
        return false;
    }
    const jstr *p = need_str(r, n, arg, end ? "endswith first arg" : "startswith first arg");
    if (p->len > s->len) return false;
    return !memcmp(end ? s->s + s->len - p->len : s->s, p->s, p->len);
}

/* ---- str.format ------------------------------------------------------------------- */

static void format_spec(rctx *r, const node *n, sbuf *o, jv v, const char *spec, size_t sl)
{
    /* [[fill]align][sign][0][width][.precision][type] */
    char fill = ' ', align = 0, sign = 0, type = 0;
    int width = 0, prec = -1;
    size_t i = 0;
    if (sl >= 2 && strchr("<>^=", spec[1])) {
        fill = spec[0];
        align = spec[1];
        i = 2;
    } else if (sl >= 1 && strchr("<>^=", spec[0])) {
        align = spec[0];
        i = 1;
    }
    if (i < sl && strchr("+- ", spec[i])) sign = spec[i++];
    if (i < sl && spec[i] == '0') {
        fill = '0';
        if (!align) align = '=';
        i++;
    }
    while (i < sl && spec[i] >= '0' && spec[i] <= '9') width = width * 10 + (spec[i++] - '0');
    if (i < sl && spec[i] == '.') {
        i++;
        prec = 0;
        while (i < sl && spec[i] >= '0' && spec[i] <= '9') prec = prec * 10 + (spec[i++] - '0');
    }
    if (i < sl) type = spec[i++];
    if (i < sl || width > 100000 || prec > 1000)
        mg__rfail(r, n, "ValueError: unsupported format specifier '%.*s'", (int)sl, spec);
    sbuf body = {0};
    char tmp[1200];
    if (type && strchr("fFeEgG%", type)) {
        if (!jv_is_num(v)) mg__rfail(r, n, "ValueError: unknown format code '%c'", type);
        double d = jv_num(v) * (type == '%' ? 100 : 1);
        char f[16];
        snprintf(f, sizeof f, "%%%s.%d%c",
                 sign == '+'   ? "+"
                 : sign == ' ' ? " "
                               : "",
                 prec < 0 ? 6 : prec, type == '%' ? 'f' : type);
        snprintf(tmp, sizeof tmp, f, d);
        sb_puts(r, &body, tmp);
        if (type == '%') sb_putc(r, &body, '%');
    } else if (type && strchr("dxXob", type)) {
        if (v.t != JT_INT && v.t != JT_BOOL)
            mg__rfail(r, n, "ValueError: unknown format code '%c' for %s", type, jv_typename(v));
        long long x = v.t == JT_BOOL ? v.u.b : v.u.i;
        if (type == 'b') {
            char bits[80];
            int k = 79;
            bits[k] = 0;
            unsigned long long u = x < 0 ? -(unsigned long long)x : (unsigned long long)x;
            do {
                bits[--k] = (char)('0' + (u & 1));
                u >>= 1;
            } while (u);
            snprintf(tmp, sizeof tmp, "%s%s", x < 0 ? "-" : sign == '+' ? "+" : "", bits + k);
        } else {
            char f[16];
            snprintf(f, sizeof f, "%%%sll%c",
                     sign == '+'   ? "+"
                     : sign == ' ' ? " "
                                   : "",
                     type == 'd' ? 'd' : type);
            snprintf(tmp, sizeof tmp, f, x);
        }
        sb_puts(r, &body, tmp);
    } else if (!type || type == 's') {
        if (jv_is_num(v) && v.t != JT_BOOL && !type && (sign || prec >= 0)) {
            snprintf(tmp, sizeof tmp, "%s", "");
            if (v.t == JT_FLOAT && prec >= 0) {
                char f[16];
                snprintf(f, sizeof f, "%%%s.%dg", sign == '+' ? "+" : "", prec);
                snprintf(tmp, sizeof tmp, f, v.u.f);
                sb_puts(r, &body, tmp);
            } else {
                if (sign == '+' && jv_num(v) >= 0) sb_putc(r, &body, '+');
                jv_str_into(r, &body, v);
            }
        } else {
            jv_str_into(r, &body, v);
            if (prec >= 0 && v.t == JT_STR) {
                /* truncate to prec code points */
                size_t k = 0, cps = 0;
                while (k < body.n && cps < (size_t)prec) {
                    k++;
                    while (k < body.n && ((unsigned char)body.p[k] & 0xC0) == 0x80) k++;
                    cps++;
                }
                body.n = k;
            }
        }
    } else
        mg__rfail(r, n, "ValueError: unknown format code '%c'", type);
    size_t cps = utf8_count(body.p ? body.p : "", body.n);
    if (!align) align = (jv_is_num(v) && v.t != JT_BOOL) || (type && type != 's') ? '>' : '<';
    size_t pad = (size_t)width > cps ? (size_t)width - cps : 0;
    size_t left = align == '>' ? pad : align == '^' ? pad / 2 : 0, right = pad - left;
    if (align == '=') {
        left = pad;
        right = 0;
        if (body.n && (body.p[0] == '-' || body.p[0] == '+')) {
            sb_putc(r, o, body.p[0]);
            for (size_t k = 0; k < left; k++) sb_putc(r, o, fill);
            sb_put(r, o, body.p + 1, body.n - 1);
            return;
        }
    }
    for (size_t k = 0; k < left; k++) sb_putc(r, o, fill);
    sb_put(r, o, body.p ? body.p : "", body.n);
    for (size_t k = 0; k < right; k++) sb_putc(r, o, fill);
}

static jv str_format(rctx *r, const node *n, jv self, jargs *a)
{
    const jstr *f = self.u.s;
    sbuf o = {0};
    int auto_idx = 0;
    for (size_t i = 0; i < f->len; i++) {
        char c = f->s[i];
        if (c == '}') {
            if (i + 1 < f->len && f->s[i + 1] == '}')
                i++;
            else
                mg__rfail(r, n, "ValueError: Single '}' encountered in format string");
            sb_putc(r, &o, '}');
            continue;
        }
        if (c != '{') {
            sb_putc(r, &o, c);
            continue;
        }
        if (i + 1 < f->len && f->s[i + 1] == '{') {
            sb_putc(r, &o, '{');
            i++;
            continue;
        }
        size_t e = i + 1;
        while (e < f->len && f->s[e] != '}') e++;
        if (e >= f->len) mg__rfail(r, n, "ValueError: expected '}' before end of string");
        const char *field = f->s + i + 1;
        size_t fl = e - i - 1;
        const char *colon = memchr(field, ':', fl), *bang = memchr(field, '!', fl);
        size_t namel = colon ? (size_t)(colon - field) : fl;
        if (bang && (!colon || bang < colon)) namel = (size_t)(bang - field);
        /* name: "", digits, or identifier, then .attr / [key] chains */
        size_t k = 0;
        while (k < namel && field[k] != '.' && field[k] != '[') k++;
        jv v;
        if (k == 0) {
            if (auto_idx >= a->npos)
                mg__rfail(r, n, "IndexError: Replacement index %d out of range", auto_idx);
            v = a->pos[auto_idx++];
        } else if (field[0] >= '0' && field[0] <= '9') {
            int idx = atoi(field);
            if (idx >= a->npos)
                mg__rfail(r, n, "IndexError: Replacement index %d out of range", idx);
            v = a->pos[idx];
        } else {
            char *nm = mg__strndup(&r->ar, field, k);
            v = arg_get(a, -1, nm, (jv){.t = 255});
            if (v.t == 255) mg__rfail(r, n, "KeyError: '%s'", nm);
        }
        while (k < namel) {
            if (field[k] == '.') {
                size_t st = ++k;
                while (k < namel && field[k] != '.' && field[k] != '[') k++;
                v = jv_getattr(r, n, v, mg__strndup(&r->ar, field + st, k - st));
            } else {
                size_t st = ++k;
                while (k < namel && field[k] != ']') k++;
                char *key = mg__strndup(&r->ar, field + st, k - st);
                k++;
                jv kv = (key[0] >= '0' && key[0] <= '9') ? jv_int(atoll(key)) : jv_cstr(r, key);
                v = jv_getitem(r, n, v, kv);
            }
        }
        if (bang && (!colon || bang < colon) && bang + 1 < field + fl && bang[1] == 'r') {
            sbuf t = {0};
            jv_repr_into(r, &t, v);
            v = jv_strbuf(r, &t);
        }
        if (colon)
            format_spec(r, n, &o, v, colon + 1, (size_t)(field + fl - colon - 1));
        else
            jv_str_into(r, &o, v);
        i = e;
    }
    return jv_strbuf(r, &o);
}

/* ---- printf-style formatting ---------------------------------------------------------- */

jv mg__python_format(rctx *r, const node *n, jv fmtv, jargs *a)
{
    const jstr *f = fmtv.u.s;
    sbuf o = {0};
    int ai = 0;
    jv mapping = {0};
    if (a->npos == 1 && a->pos[0].t == JT_DICT) mapping = a->pos[0];
    for (size_t i = 0; i < f->len; i++) {
        if (f->s[i] != '%') {
            sb_putc(r, &o, f->s[i]);
            continue;
        }
        if (++i >= f->len) mg__rfail(r, n, "ValueError: incomplete format");
        if (f->s[i] == '%') {
            sb_putc(r, &o, '%');
            continue;
        }
        jv v;
        bool have = false;
        if (f->s[i] == '(') {
            size_t e = i + 1;
            while (e < f->len && f->s[e] != ')') e++;
            if (e >= f->len || mapping.t != JT_DICT)
                mg__rfail(r, n, "TypeError: format requires a mapping");
            jv *p = jd_gets(mapping.u.d, mg__strndup(&r->ar, f->s + i + 1, e - i - 1));
            if (!p) mg__rfail(r, n, "KeyError: in format string");
            v = *p;
            have = true;
            i = e + 1;
        }
        char spec[32];
        size_t sl = 0;
        spec[sl++] = '%';
        while (i < f->len && strchr("-+ 0#", f->s[i]) && sl < 8) spec[sl++] = f->s[i++];
        while (i < f->len && f->s[i] >= '0' && f->s[i] <= '9' && sl < 14) spec[sl++] = f->s[i++];
        if (i < f->len && f->s[i] == '.') {
            spec[sl++] = f->s[i++];
            while (i < f->len && f->s[i] >= '0' && f->s[i] <= '9' && sl < 20)
                spec[sl++] = f->s[i++];
        }
        if (i >= f->len) mg__rfail(r, n, "ValueError: incomplete format");
        char conv = f->s[i];
        if (!have) {
            if (ai >= a->npos) mg__rfail(r, n, "TypeError: not enough arguments for format string");
            v = a->pos[ai++];
        }
        char tmp[1400];
        spec[sl] = 0;
        if (strlen(spec) > 1 && atoi(spec + 1 + strspn(spec + 1, "-+ 0#")) > 1000)
            mg__rfail(r, n, "ValueError: format width too large");
        switch (conv) {
        case 's':
        case 'r': {
            sbuf t = {0};
            if (conv == 's')
                jv_str_into(r, &t, v);
            else
                jv_repr_into(r, &t, v);
            spec[sl++] = 's';
            spec[sl] = 0;
            if (sl == 2)
                sb_put(r, &o, t.p ? t.p : "", t.n);
            else {
                char *s = mg__alloc(&r->ar, t.n + 1200);
                sprintf(s, spec, t.p ? t.p : "");
                sb_puts(r, &o, s);
            }
            break;
        }
        case 'd':
        case 'i':
        case 'x':
        case 'X':
        case 'o': {
            if (!jv_is_num(v))
                mg__rfail(r, n, "TypeError: %%%c format: a real number is required, not %s", conv,
                          jv_typename(v));
            long long x = v.t == JT_FLOAT ? (long long)v.u.f : v.t == JT_BOOL ? v.u.b : v.u.i;
            spec[sl++] = 'l';
            spec[sl++] = 'l';
            spec[sl++] = conv == 'i' ? 'd' : conv;
            spec[sl] = 0;
            snprintf(tmp, sizeof tmp, spec, x);
            sb_puts(r, &o, tmp);
            break;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G': {
            if (!jv_is_num(v))
                mg__rfail(r, n, "TypeError: must be real number, not %s", jv_typename(v));
            spec[sl++] = conv;
            spec[sl] = 0;
            snprintf(tmp, sizeof tmp, spec, jv_num(v));
            sb_puts(r, &o, tmp);
            break;
        }
        case 'c': {
            if (v.t == JT_STR)
                sb_put(r, &o, v.u.s->s, v.u.s->len);
            else
                enc(r, &o, (int32_t)need_int(r, n, v, "%c"));
            break;
        }
        default:
            mg__rfail(r, n, "ValueError: unsupported format character '%c'", conv);
        }
    }
    /* Python skips this check when the single argument has __getitem__ and is
     * not a tuple or str (it might be a mapping): lists, dicts, Undefined */
    bool maplike = a->npos == 1 &&
                   (a->pos[0].t == JT_LIST || a->pos[0].t == JT_DICT || a->pos[0].t == JT_UNDEF);
    if (ai < a->npos && !maplike)
        mg__rfail(r, n, "TypeError: not all arguments converted during string formatting");
    return jv_strbuf(r, &o);
}

/* ---- str methods ------------------------------------------------------------------- */

#define SELF_S (self.u.s)
static const char *const NO_KW[] = {NULL};

static jv m_strip(rctx *r, const node *n, jv self, jargs *a, int which, const char *nm)
{
    arg_check(r, n, a, nm, 1, NO_KW);
    jv c = arg_get(a, 0, NULL, jv_none());
    return mg__strip(r, self, c.t == JT_NONE ? NULL : need_str(r, n, c, "chars"), which);
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
    int64_t mx = need_int(r, n, arg_get(a, 1, "maxsplit", jv_int(-1)), "maxsplit");
    return mg__split(r, n, self, sep.t == JT_NONE ? NULL : need_str(r, n, sep, "sep"), mx, right);
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
    int64_t cnt = a->npos == 3 ? need_int(r, n, a->pos[2], "count") : -1;
    return mg__replace(r, n, self, need_str(r, n, a->pos[0], "old"),
                       need_str(r, n, a->pos[1], "new"), cnt);
}
static jv m_join(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "join", 1, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: join() takes exactly one argument");
    jlist *l = jv_iterate(r, n, a->pos[0]);
    sbuf b = {0};
    for (size_t i = 0; i < l->n; i++) {
        if (i) sb_put(r, &b, SELF_S->s, SELF_S->len);
        const jstr *s = need_str(r, n, l->v[i], "sequence item");
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
    return jv_int(find_cp(SELF_S, need_str(r, n, a->pos[0], "sub"), false));
}
static jv m_rfind(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "rfind", 1, NO_KW);
    if (a->npos < 1) mg__rfail(r, n, "TypeError: rfind() takes at least 1 argument");
    return jv_int(find_cp(SELF_S, need_str(r, n, a->pos[0], "sub"), true));
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
    const jstr *sub = need_str(r, n, a->pos[0], "sub");
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
    int64_t k = find_cp(SELF_S, need_str(r, n, a->pos[0], "sub"), false);
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
        int32_t c = dec(s->s, s->len, &i);
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
    const jstr *p = need_str(r, n, a->pos[0], "affix"), *s = SELF_S;
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
        int32_t c = dec(s->s, s->len, &k);
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
    int64_t w = need_int(r, n, a->pos[0], "width");
    const jstr *fill = a->npos > 1 ? need_str(r, n, a->pos[1], "fillchar") : NULL;
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
    const jstr *sep = need_str(r, n, a->pos[0], "sep"), *s = SELF_S;
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

typedef struct method_entry {
    const char *name;
    builtin_fn fn;
} method_entry;

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
                                           {"format", str_format},
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

/* ---- globals ----------------------------------------------------------------------- */

static jv g_range(rctx *r, const node *n, jv self, jargs *a)
{
    arg_check(r, n, a, "range", 3, NO_KW);
    int64_t st = 0, en, step = 1;
    if (a->npos == 0) mg__rfail(r, n, "TypeError: range expected at least 1 argument, got 0");
    if (a->npos == 1)
        en = need_int(r, n, a->pos[0], "range() argument");
    else {
        st = need_int(r, n, a->pos[0], "range() argument");
        en = need_int(r, n, a->pos[1], "range() argument");
        if (a->npos == 3) step = need_int(r, n, a->pos[2], "range() argument");
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
    const jstr *fmt = need_str(r, n, a->pos[0], "format");
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
