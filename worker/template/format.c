/* format.c — Python's two string formatters as templates reach them:
 * str.format() ("{}", "{0}", "{name}", "{x.attr}", "{x[key]}", "!r", format
 * specs with fill/align/sign/zero/width/precision/type) and printf-style
 * "%s" % args (also the `format` filter). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

jv mg__str_format(rctx *r, const node *n, jv self, jargs *a)
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
                mg__enc(r, &o, (int32_t)mg__need_int(r, n, v, "%c"));
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
