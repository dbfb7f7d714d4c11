/* strings.c — the Unicode string primitives behind the str methods
 * (methods.c) and filters: UTF-8 stepping, Python's str.isspace set, case
 * mapping with Python's special cases, strip, split and replace, each with
 * Python's exact semantics (utf8proc gives the Unicode tables). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- unicode helpers ---------------------------------------------------------------- */

int32_t mg__dec(const char *s, size_t len, size_t *i)
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

void mg__enc(rctx *r, sbuf *b, int32_t cp)
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
        int32_t c = mg__dec(j->s, j->len, &i), o = c;
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
            mg__enc(r, &b, o);
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
            int32_t c = mg__dec(j->s, j->len, &i);
            bool in;
            if (chars) {
                in = false;
                for (size_t k = 0; k < chars->len;)
                    if (mg__dec(chars->s, chars->len, &k) == c) in = true;
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
            int32_t c = mg__dec(j->s, j->len, &i);
            bool in;
            if (chars) {
                in = false;
                for (size_t k = 0; k < chars->len;)
                    if (mg__dec(chars->s, chars->len, &k) == c) in = true;
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
                    if (!mg__py_space(mg__dec(j->s, j->len, &k))) break;
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
                    if (mg__py_space(mg__dec(j->s, j->len, &k))) break;
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
            mg__dec(j->s, j->len, &k);
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
