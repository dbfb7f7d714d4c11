/* lexer.c — template source to tokens, with Jinja2's whitespace control as
 * transformers configures it (trim_blocks, lstrip_blocks):
 *   - `{%-`/`{{-`/`{#-` strip all whitespace before the tag, `-%}`/`-}}`/`-#}`
 *     all whitespace after it;
 *   - trim_blocks: one newline right after `%}` or `#}` is dropped (`+%}` keeps it);
 *   - lstrip_blocks: spaces/tabs between a line start and `{%`/`{#` are
 *     dropped (`{%+` keeps them); never for `{{`.
 * This mirrors jinja2.lexer.Lexer.tokeniter, including its `line_starting`
 * rule (a tag that follows a stripped newline counts as starting a line). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct lx {
    mg__arena *a;
    const char *s;
    size_t n, pos;
    tokens *out;
    int line, col; /* position of byte `pos` (col counts code points) */
} lx;

static void pos_of(const lx *L, size_t off, int *line, int *col)
{
    /* line/col of byte offset `off`, counted from the start (errors only; O(n)) */
    int ln = 1;
    size_t ls = 0;
    for (size_t i = 0; i < off && i < L->n; i++)
        if (L->s[i] == '\n') {
            ln++;
            ls = i + 1;
        }
    *line = ln;
    *col = (int)utf8_count(L->s + ls, off - ls) + 1;
}

_Noreturn static void lfail(lx *L, size_t off, const char *msg)
{
    int line, col;
    pos_of(L, off, &line, &col);
    mg__fail(L->a, MG_EFORMAT, "%d:%d: TemplateSyntaxError: %s", line, col, msg);
}

static token *push(lx *L, int type, size_t off)
{
    tokens *t = L->out;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 256;
        token *nv = mg__alloc(L->a, nc * sizeof(token));
        if (t->n) memcpy(nv, t->v, t->n * sizeof(token));
        t->v = nv;
        t->cap = nc;
    }
    token *k = &t->v[t->n++];
    memset(k, 0, sizeof *k);
    k->type = (uint8_t)type;
    /* offsets only move forward, so line/column tracking is incremental */
    while (L->pos < off && L->pos < L->n) {
        if (L->s[L->pos] == '\n') {
            L->line++;
            L->col = 1;
        } else if (((unsigned char)L->s[L->pos] & 0xC0) != 0x80)
            L->col++;
        L->pos++;
    }
    k->line = L->line;
    k->col = L->col;
    return k;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char *mg__normalize_source(mg__arena *a, const char *src, size_t len, size_t *out_len)
{
    char *o = mg__alloc(a, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        size_t brk = 0; /* bytes of a line break starting here */
        if (c == '\r')
            brk = (i + 1 < len && src[i + 1] == '\n') ? 2 : 1;
        else if (c == '\n' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e)
            brk = 1;
        else if (c == 0xC2 && i + 1 < len && (unsigned char)src[i + 1] == 0x85)
            brk = 2; /* U+0085 */
        else if (c == 0xE2 && i + 2 < len && (unsigned char)src[i + 1] == 0x80 &&
                 ((unsigned char)src[i + 2] == 0xA8 || (unsigned char)src[i + 2] == 0xA9))
            brk = 3; /* U+2028, U+2029 */
        if (brk) {
            if (i + brk < len) o[n++] = '\n'; /* splitlines drops the last terminator */
            i += brk - 1;
        } else
            o[n++] = (char)c;
    }
    o[n] = 0;
    *out_len = n;
    return o;
}

/* Decodes a Jinja string literal body as Python's "unicode-escape" does
 * (after Jinja's backslashreplace of non-ASCII, which keeps them as is). */
static char *decode_string(lx *L, size_t start, size_t end, size_t *olen)
{
    char *o = mg__alloc(L->a, end - start + 1);
    size_t n = 0;
    for (size_t i = start; i < end; i++) {
        char c = L->s[i];
        if (c != '\\' || i + 1 >= end) {
            o[n++] = c;
            continue;
        }
        char e = L->s[++i];
        uint32_t cp;
        int nd = 0;
        switch (e) {
        case '\n':
            continue; /* line continuation */
        case '\\':
            o[n++] = '\\';
            continue;
        case '\'':
            o[n++] = '\'';
            continue;
        case '"':
            o[n++] = '"';
            continue;
        case 'a':
            o[n++] = '\a';
            continue;
        case 'b':
            o[n++] = '\b';
            continue;
        case 'f':
            o[n++] = '\f';
            continue;
        case 'n':
            o[n++] = '\n';
            continue;
        case 'r':
            o[n++] = '\r';
            continue;
        case 't':
            o[n++] = '\t';
            continue;
        case 'v':
            o[n++] = '\v';
            continue;
        case 'x':
            nd = 2;
            break;
        case 'u':
            nd = 4;
            break;
        case 'U':
            nd = 8;
            break;
        default:
            if (e >= '0' && e <= '7') {
                cp = 0;
                int k = 0;
                for (; k < 3 && i < end && L->s[i] >= '0' && L->s[i] <= '7'; k++, i++)
                    cp = cp * 8 + (uint32_t)(L->s[i] - '0');
                i--;
                goto emit;
            }
            o[n++] = '\\'; /* unknown escapes stay as written */
            o[n++] = e;
            continue;
        }
        cp = 0;
        for (int k = 0; k < nd; k++) {
            if (i + 1 >= end) lfail(L, i, "truncated \\x/\\u escape in string literal");
            char h = L->s[++i];
            int v = h >= '0' && h <= '9'   ? h - '0'
                    : h >= 'a' && h <= 'f' ? h - 'a' + 10
                    : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                           : -1;
            if (v < 0) lfail(L, i, "bad hex digit in string escape");
            cp = cp * 16 + (uint32_t)v;
        }
    emit:
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            lfail(L, i, "string escape is not a valid Unicode scalar value");
        /* the output never outgrows the input: each escape is >= its UTF-8 length */
        if (cp < 0x80)
            o[n++] = (char)cp;
        else if (cp < 0x800) {
            o[n++] = (char)(0xC0 | (cp >> 6));
            o[n++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            o[n++] = (char)(0xE0 | (cp >> 12));
            o[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            o[n++] = (char)(0x80 | (cp & 0x3F));
        } else {
            o[n++] = (char)(0xF0 | (cp >> 18));
            o[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            o[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            o[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    o[n] = 0;
    *olen = n;
    return o;
}

static const char *const OPS[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "/",
                                  "*",  "%",  "~",  "[",  "]",  "(",  ")", "{", "}",
                                  "<",  ">",  "=",  ".",  ":",  "|",  ",", ";", NULL};

/* Lexes the inside of a {{ }} or {% %} tag starting at L->pos... `p`.
 * Returns the offset just past the end tag (and its stripped whitespace).
 * *ended_nl tells whether that match ended with a newline (line_starting). */
static size_t lex_tag(lx *L, size_t p, bool block, bool *ended_nl)
{
    char stack[400]; /* open brackets: end markers inside them are operators */
    int depth = 0;
    const char *s = L->s;
    size_t n = L->n;
    for (;;) {
        while (p < n && is_ws(s[p])) p++;
        if (p >= n)
            lfail(L, p,
                  block ? "unexpected end of template, expected '%}'"
                        : "unexpected end of template, expected '}}'");
        char e = block ? '%' : '}';
        if (depth == 0) {
            bool minus = s[p] == '-' && p + 2 < n && s[p + 1] == e && s[p + 2] == '}';
            bool plus = block && s[p] == '+' && p + 2 < n && s[p + 1] == e && s[p + 2] == '}';
            bool plain = s[p] == e && p + 1 < n && s[p + 1] == '}';
            if (minus || plus || plain) {
                push(L, block ? TK_BLOCK_END : TK_VAR_END, p);
                size_t q = p + (plain ? 2 : 3);
                *ended_nl = false;
                if (minus) {
                    while (q < n && is_ws(s[q])) q++;
                    *ended_nl = q > p + 3 && s[q - 1] == '\n';
                } else if (plain && block && q < n && s[q] == '\n') {
                    q++; /* trim_blocks */
                    *ended_nl = true;
                }
                return q;
            }
        }
        char c = s[p];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
            size_t q = p;
            while (q < n && ((s[q] >= 'a' && s[q] <= 'z') || (s[q] >= 'A' && s[q] <= 'Z') ||
                             (s[q] >= '0' && s[q] <= '9') || s[q] == '_'))
                q++;
            token *t = push(L, TK_NAME, p);
            t->s = mg__strndup(L->a, s + p, q - p);
            t->len = q - p;
            p = q;
            continue;
        }
        if (c >= '0' && c <= '9') {
            size_t q = p;
            bool isf = false;
            while (q < n && ((s[q] >= '0' && s[q] <= '9') || s[q] == '_')) q++;
            /* Jinja's float rule has (?<!\.): after a dot (x.0.1) digits stay integers */
            bool after_dot = p > 0 && s[p - 1] == '.';
            if (!after_dot && q + 1 < n && s[q] == '.' && s[q + 1] >= '0' && s[q + 1] <= '9') {
                isf = true;
                q++;
                while (q < n && ((s[q] >= '0' && s[q] <= '9') || s[q] == '_')) q++;
            }
            if (!after_dot && q < n && (s[q] == 'e' || s[q] == 'E')) {
                size_t r = q + 1;
                if (r < n && (s[r] == '+' || s[r] == '-')) r++;
                if (r < n && s[r] >= '0' && s[r] <= '9') {
                    isf = true;
                    q = r;
                    while (q < n && ((s[q] >= '0' && s[q] <= '9') || s[q] == '_')) q++;
                }
            }
            char buf[128];
            size_t bn = 0;
            for (size_t i = p; i < q && bn < sizeof buf - 1; i++)
                if (s[i] != '_') buf[bn++] = s[i];
            buf[bn] = 0;
            if (q - p >= sizeof buf - 1) lfail(L, p, "number literal too long");
            token *t = push(L, isf ? TK_FLOAT : TK_INT, p);
            if (isf)
                t->f = strtod(buf, NULL);
            else {
                errno = 0;
                unsigned long long v = strtoull(buf, NULL, 10);
                if (errno || v > INT64_MAX) lfail(L, p, "integer literal too large");
                t->i = (int64_t)v;
            }
            p = q;
            continue;
        }
        if (c == '\'' || c == '"') {
            size_t q = p + 1;
            while (q < n && s[q] != c) {
                if (s[q] == '\\') q++;
                q++;
            }
            if (q >= n) lfail(L, p, "unterminated string literal");
            token *t = push(L, TK_STRING, p);
            t->s = decode_string(L, p + 1, q, &t->len);
            p = q + 1;
            continue;
        }
        const char *op = NULL;
        for (int i = 0; OPS[i]; i++) {
            size_t ol = strlen(OPS[i]);
            if (p + ol <= n && !memcmp(s + p, OPS[i], ol)) {
                op = OPS[i];
                break;
            }
        }
        if (!op) {
            char msg[64];
            snprintf(msg, sizeof msg, "unexpected char '%c' in tag", c);
            if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
                snprintf(msg, sizeof msg, "unexpected byte 0x%02x in tag", (unsigned char)c);
            lfail(L, p, msg);
        }
        if (op[0] == '(' || op[0] == '[' || op[0] == '{') {
            if (depth == (int)sizeof stack) lfail(L, p, "brackets nested too deeply");
            stack[depth++] = op[0] == '(' ? ')' : op[0] == '[' ? ']' : '}';
        }
        if (op[0] == ')' || op[0] == ']' || op[0] == '}') {
            char msg[64];
            if (depth == 0) {
                snprintf(msg, sizeof msg, "unexpected '%c'", op[0]);
                lfail(L, p, msg);
            }
            if (stack[depth - 1] != op[0]) {
                snprintf(msg, sizeof msg, "unexpected '%c', expected '%c'", op[0],
                         stack[depth - 1]);
                lfail(L, p, msg);
            }
            depth--;
        }
        token *t = push(L, TK_OP, p);
        t->s = op;
        t->len = strlen(op);
        p += t->len;
    }
}

/* Text before a tag: applies '-' (strip all) or lstrip_blocks. */
static void emit_data(lx *L, size_t start, size_t end, char sign, bool lstrip_ok,
                      bool line_starting)
{
    const char *s = L->s;
    if (sign == '-') {
        while (end > start && is_ws(s[end - 1])) end--;
    } else if (sign != '+' && lstrip_ok) {
        size_t l = end;
        while (l > start && s[l - 1] != '\n') l--;
        if ((l > start || line_starting) && end > l) {
            bool allws = true;
            for (size_t i = l; i < end; i++)
                if (!is_ws(s[i])) {
                    allws = false;
                    break;
                }
            if (allws) end = l;
        }
    }
    if (end > start) {
        token *t = push(L, TK_DATA, start);
        t->s = mg__strndup(L->a, s + start, end - start);
        t->len = end - start;
    }
}

void mg__lex(mg__arena *a, const char *src, size_t len, tokens *out)
{
    lx L = {.a = a, .s = src, .n = len, .out = out, .line = 1, .col = 1};
    size_t p = 0;
    bool line_starting = true;
    while (p < len) {
        /* next tag start */
        size_t q = p;
        const char *hit = NULL;
        while (q + 1 < len) {
            if (src[q] == '{' && (src[q + 1] == '{' || src[q + 1] == '%' || src[q + 1] == '#')) {
                hit = src + q;
                break;
            }
            q++;
        }
        if (!hit) {
            emit_data(&L, p, len, 0, false, line_starting);
            break;
        }
        char kind = src[q + 1];
        char sign = (q + 2 < len && (src[q + 2] == '-' || src[q + 2] == '+')) ? src[q + 2] : 0;
        size_t body = q + 2 + (sign ? 1 : 0);

        /* {% raw %} ... {% endraw %} */
        if (kind == '%') {
            size_t r = body;
            while (r < len && is_ws(src[r])) r++;
            if (r + 3 <= len && !memcmp(src + r, "raw", 3) &&
                (r + 3 == len || !((src[r + 3] >= 'a' && src[r + 3] <= 'z') || src[r + 3] == '_' ||
                                   (src[r + 3] >= '0' && src[r + 3] <= '9')))) {
                r += 3;
                while (r < len && is_ws(src[r])) r++;
                size_t after;
                if (r + 2 < len + 0 && src[r] == '-' && r + 2 < len && src[r + 1] == '%' &&
                    src[r + 2] == '}') {
                    after = r + 3;
                    while (after < len && is_ws(src[after])) after++;
                } else if (r + 1 < len && src[r] == '%' && src[r + 1] == '}')
                    after = r + 2;
                else
                    lfail(&L, r, "expected '%}' after 'raw'");
                emit_data(&L, p, q, sign, true, line_starting);
                /* find {%[-+]? endraw [-+]?%} */
                size_t e = after;
                for (;;) {
                    if (e + 1 >= len) lfail(&L, q, "missing end of raw directive");
                    if (src[e] == '{' && src[e + 1] == '%') {
                        size_t k = e + 2;
                        char esign = 0;
                        if (k < len && (src[k] == '-' || src[k] == '+')) esign = src[k++];
                        while (k < len && is_ws(src[k])) k++;
                        if (k + 6 <= len && !memcmp(src + k, "endraw", 6)) {
                            k += 6;
                            while (k < len && is_ws(src[k])) k++;
                            size_t endp = 0;
                            bool nl = false;
                            if (k + 2 < len + 0 && src[k] == '-' && src[k + 1] == '%' &&
                                src[k + 2] == '}') {
                                endp = k + 3;
                                while (endp < len && is_ws(src[endp])) endp++;
                                nl = endp > k + 3 && src[endp - 1] == '\n';
                            } else if (k + 2 < len && src[k] == '+' && src[k + 1] == '%' &&
                                       src[k + 2] == '}')
                                endp = k + 3;
                            else if (k + 1 < len && src[k] == '%' && src[k + 1] == '}') {
                                endp = k + 2;
                                if (endp < len && src[endp] == '\n') {
                                    endp++;
                                    nl = true;
                                }
                            }
                            if (endp) {
                                emit_data(&L, after, e, esign, true, false);
                                p = endp;
                                line_starting = nl;
                                break;
                            }
                        }
                    }
                    e++;
                }
                continue;
            }
        }

        emit_data(&L, p, q, sign, kind != '{', line_starting);
        if (kind == '#') {
            /* comment: up to #}, -#} (strip after) or +#} */
            size_t e = body;
            for (;;) {
                if (e + 1 >= len) lfail(&L, q, "missing end of comment tag");
                if (src[e] == '#' && src[e + 1] == '}') break;
                e++;
            }
            bool minus = e > body && src[e - 1] == '-';
            bool plus = e > body && src[e - 1] == '+';
            size_t after = e + 2;
            line_starting = false;
            if (minus) {
                while (after < len && is_ws(src[after])) after++;
                line_starting = after > e + 2 && src[after - 1] == '\n';
            } else if (!plus && after < len && src[after] == '\n') {
                after++;
                line_starting = true;
            }
            p = after;
            continue;
        }
        push(&L, kind == '%' ? TK_BLOCK_BEGIN : TK_VAR_BEGIN, q);
        bool nl = false;
        p = lex_tag(&L, body, kind == '%', &nl);
        line_starting = nl;
    }
    push(&L, TK_EOF, len);
}
