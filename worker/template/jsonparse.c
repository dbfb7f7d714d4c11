/* jsonparse.c — JSON text straight into the template value model, for
 * contexts jansson cannot hold (object keys with NUL bytes, which Python's
 * json accepts). Semantics follow Python's json.loads: insertion-ordered
 * objects, a repeated key keeps its first position and takes the last value,
 * NaN/Infinity accepted, numbers with '.', 'e' or 'E' are floats. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jp {
    rctx *r;
    const char *s;
    size_t n, i;
    int depth;
} jp;

_Noreturn static void jfail(jp *p, const char *what)
{
    /* line:col of the offending byte */
    int line = 1, col = 1;
    for (size_t k = 0; k < p->i && k < p->n; k++) {
        if (p->s[k] == '\n') {
            line++;
            col = 1;
        } else
            col++;
    }
    mg__fail(&p->r->ar, MG_EFORMAT, "context JSON %d:%d: %s", line, col, what);
}

static void ws(jp *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static bool lit(jp *p, const char *w)
{
    size_t l = strlen(w);
    if (p->n - p->i >= l && !memcmp(p->s + p->i, w, l)) {
        p->i += l;
        return true;
    }
    return false;
}

static int hex4(jp *p)
{
    if (p->n - p->i < 4) jfail(p, "truncated \\u escape");
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char h = p->s[p->i++];
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0) jfail(p, "bad \\u escape");
        v = v * 16 + d;
    }
    return v;
}

static void put_cp(rctx *r, sbuf *b, uint32_t cp)
{
    char u[4];
    int k;
    if (cp < 0x80) {
        u[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    sb_put(r, b, u, (size_t)k);
}

static jv str(jp *p)
{
    p->i++; /* opening quote */
    sbuf b = {0};
    for (;;) {
        if (p->i >= p->n) jfail(p, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20) jfail(p, "control character in string");
        if (c != '\\') {
            size_t st = p->i;
            while (p->i < p->n && p->s[p->i] != '"' && p->s[p->i] != '\\' &&
                   (unsigned char)p->s[p->i] >= 0x20)
                p->i++;
            sb_put(p->r, &b, p->s + st, p->i - st);
            continue;
        }
        p->i++;
        if (p->i >= p->n) jfail(p, "unterminated escape");
        char e = p->s[p->i++];
        switch (e) {
        case '"':
            sb_putc(p->r, &b, '"');
            break;
        case '\\':
            sb_putc(p->r, &b, '\\');
            break;
        case '/':
            sb_putc(p->r, &b, '/');
            break;
        case 'b':
            sb_putc(p->r, &b, '\b');
            break;
        case 'f':
            sb_putc(p->r, &b, '\f');
            break;
        case 'n':
            sb_putc(p->r, &b, '\n');
            break;
        case 'r':
            sb_putc(p->r, &b, '\r');
            break;
        case 't':
            sb_putc(p->r, &b, '\t');
            break;
        case 'u': {
            uint32_t cp = (uint32_t)hex4(p);
            if (cp >= 0xD800 && cp < 0xDC00 && p->n - p->i >= 6 && p->s[p->i] == '\\' &&
                p->s[p->i + 1] == 'u') {
                size_t save = p->i;
                p->i += 2;
                uint32_t lo = (uint32_t)hex4(p);
                if (lo >= 0xDC00 && lo < 0xE000)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else
                    p->i = save;
            }
            /* a lone surrogate cannot be UTF-8; Python keeps it, we use U+FFFD */
            if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
            put_cp(p->r, &b, cp);
            break;
        }
        default:
            jfail(p, "bad escape");
        }
    }
    return jv_strbuf(p->r, &b);
}

static jv value(jp *p)
{
    ws(p);
    if (p->i >= p->n) jfail(p, "unexpected end of input");
    if (++p->depth > 500) jfail(p, "nested too deeply");
    char c = p->s[p->i];
    jv v;
    if (c == '{') {
        p->i++;
        v = jv_newdict(p->r);
        ws(p);
        if (p->i < p->n && p->s[p->i] == '}')
            p->i++;
        else
            for (;;) {
                ws(p);
                if (p->i >= p->n || p->s[p->i] != '"') jfail(p, "expected a string key");
                jv k = str(p);
                ws(p);
                if (p->i >= p->n || p->s[p->i] != ':') jfail(p, "expected ':'");
                p->i++;
                jd_set(p->r, v.u.d, k, value(p));
                ws(p);
                if (p->i < p->n && p->s[p->i] == ',') {
                    p->i++;
                    continue;
                }
                if (p->i < p->n && p->s[p->i] == '}') {
                    p->i++;
                    break;
                }
                jfail(p, "expected ',' or '}'");
            }
    } else if (c == '[') {
        p->i++;
        v = jv_newlist(p->r, 0);
        ws(p);
        if (p->i < p->n && p->s[p->i] == ']')
            p->i++;
        else
            for (;;) {
                jl_push(p->r, v.u.l, value(p));
                ws(p);
                if (p->i < p->n && p->s[p->i] == ',') {
                    p->i++;
                    continue;
                }
                if (p->i < p->n && p->s[p->i] == ']') {
                    p->i++;
                    break;
                }
                jfail(p, "expected ',' or ']'");
            }
    } else if (c == '"')
        v = str(p);
    else if (lit(p, "true"))
        v = jv_bool(true);
    else if (lit(p, "false"))
        v = jv_bool(false);
    else if (lit(p, "null"))
        v = jv_none();
    else if (lit(p, "NaN"))
        v = jv_float(NAN);
    else if (lit(p, "Infinity"))
        v = jv_float(INFINITY);
    else if (lit(p, "-Infinity"))
        v = jv_float(-INFINITY);
    else if (c == '-' || (c >= '0' && c <= '9')) {
        size_t st = p->i;
        bool isf = false;
        if (p->s[p->i] == '-') p->i++;
        while (p->i < p->n) {
            char d = p->s[p->i];
            if (d == '.' || d == 'e' || d == 'E')
                isf = true;
            else if (!((d >= '0' && d <= '9') || ((d == '+' || d == '-') && isf)))
                break;
            p->i++;
        }
        char buf[128];
        if (p->i - st >= sizeof buf) jfail(p, "number too long");
        memcpy(buf, p->s + st, p->i - st);
        buf[p->i - st] = 0;
        char *end;
        if (isf) {
            v = jv_float(strtod(buf, &end));
        } else {
            errno = 0;
            long long x = strtoll(buf, &end, 10);
            if (errno) jfail(p, "integer out of 64-bit range");
            v = jv_int(x);
        }
        if (*end || end == buf) jfail(p, "bad number");
    } else
        jfail(p, "unexpected character");
    p->depth--;
    return v;
}

jv mg__parse_json_text(rctx *r, const char *s, size_t n)
{
    jp p = {.r = r, .s = s, .n = n};
    jv v = value(&p);
    ws(&p);
    if (p.i != n) jfail(&p, "extra data after the value");
    return v;
}
