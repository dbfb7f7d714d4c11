/* tok_fastjson.c — a direct scanner for tokenizer.json's two big values,
 * model.vocab and model.merges (gemma3: 262k entries and 514k pairs, 33 MB).
 *
 * Building a jansson tree for them costs a malloc and a hash insert per
 * string, which dominates start-up (every worker loads the tokenizer) and
 * makes the sanitizer builds slow. The scanner finds the two values, decodes
 * their strings straight into the tokenizer's own tables, and hands jansson
 * the rest of the file with them replaced by {} and []. Whenever the scanner
 * meets something it does not accept, the caller falls back to jansson for
 * the whole file, so error messages (file:line:column) stay jansson's. */
#include "internal.h"
#include "tok_json.h"

#include <stdlib.h>
#include <string.h>

static void ws(const char *s, size_t n, size_t *p)
{
    while (*p < n && (s[*p] == ' ' || s[*p] == '\n' || s[*p] == '\r' || s[*p] == '\t')) (*p)++;
}

static int hex4(const char *s, size_t n, size_t p, uint32_t *v)
{
    if (p + 4 > n) return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[p + i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        *v = *v * 16 + (uint32_t)d;
    }
    return 0;
}

/* Decodes the string at s[*p] == '"' into out (replacing its content). The raw
 * bytes must be valid UTF-8 and escapes well formed, as jansson requires. */
int mg__tok_fj_string(const char *s, size_t n, size_t *p, mg__tok_buf *out)
{
    out->len = 0;
    if (*p >= n || s[*p] != '"') return -1;
    size_t i = *p + 1;
    for (;;) {
        size_t run = i;
        while (i < n && s[i] != '"' && s[i] != '\\' && (unsigned char)s[i] >= 0x20) i++;
        if (i > run) {
            if (mg__tok_utf8_valid_prefix(s + run, i - run) != i - run) return -1;
            if (mg__tok_buf_put(out, s + run, i - run) < 0) return -1;
        }
        if (i >= n || (unsigned char)s[i] < 0x20) return -1;
        if (s[i] == '"') break;
        /* escape */
        if (++i >= n) return -1;
        char c = s[i++];
        char e;
        switch (c) {
        case '"':
            e = '"';
            break;
        case '\\':
            e = '\\';
            break;
        case '/':
            e = '/';
            break;
        case 'b':
            e = '\b';
            break;
        case 'f':
            e = '\f';
            break;
        case 'n':
            e = '\n';
            break;
        case 'r':
            e = '\r';
            break;
        case 't':
            e = '\t';
            break;
        case 'u': {
            uint32_t cp;
            if (hex4(s, n, i, &cp) < 0) return -1;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' || hex4(s, n, i + 2, &lo) < 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -1;
            }
            char enc[4];
            size_t k = mg__tok_utf8_encode((int32_t)cp, enc);
            if (mg__tok_buf_put(out, enc, k) < 0) return -1;
            continue;
        }
        default:
            return -1;
        }
        if (mg__tok_buf_put(out, &e, 1) < 0) return -1;
    }
    *p = i + 1;
    if (mg__tok_buf_reserve(out, 0) < 0) return -1;
    out->p[out->len] = 0;
    return 0;
}

/* Skips one value (any JSON) at *p, checking only its structure. */
static int skip_value(const char *s, size_t n, size_t *p, int depth)
{
    ws(s, n, p);
    if (*p >= n || depth > 512) return -1;
    char c = s[*p];
    if (c == '"') {
        size_t i = *p + 1;
        while (i < n && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
        if (i >= n) return -1;
        *p = i + 1;
        return 0;
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        (*p)++;
        ws(s, n, p);
        if (*p < n && s[*p] == close) {
            (*p)++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                ws(s, n, p);
                if (*p >= n || s[*p] != '"' || skip_value(s, n, p, depth + 1) < 0) return -1;
                ws(s, n, p);
                if (*p >= n || s[*p] != ':') return -1;
                (*p)++;
            }
            if (skip_value(s, n, p, depth + 1) < 0) return -1;
            ws(s, n, p);
            if (*p >= n) return -1;
            if (s[*p] == ',') {
                (*p)++;
                continue;
            }
            if (s[*p] != close) return -1;
            (*p)++;
            return 0;
        }
    }
    size_t i = *p;
    while (i < n && (s[i] == '-' || s[i] == '+' || s[i] == '.' || (s[i] >= '0' && s[i] <= '9') ||
                     (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
        i++;
    if (i == *p) return -1;
    *p = i;
    return 0;
}

/* Finds the value ranges of model.vocab and model.merges (the last of each,
 * as jansson keeps the last duplicate key). */
int mg__tok_fj_locate(const char *s, size_t n, size_t range[4])
{
    memset(range, 0, 4 * sizeof *range);
    size_t p = 0;
    ws(s, n, &p);
    if (p >= n || s[p] != '{') return -1;
    p++;
    mg__tok_buf key = {0};
    int rc = -1;
    for (;;) {
        ws(s, n, &p);
        if (p < n && s[p] == '}') break;
        if (mg__tok_fj_string(s, n, &p, &key) < 0) goto out;
        ws(s, n, &p);
        if (p >= n || s[p] != ':') goto out;
        p++;
        ws(s, n, &p);
        if (!strcmp(key.p, "model") && key.len == 5 && p < n && s[p] == '{') {
            p++;
            for (;;) {
                ws(s, n, &p);
                if (p < n && s[p] == '}') {
                    p++;
                    break;
                }
                if (mg__tok_fj_string(s, n, &p, &key) < 0) goto out;
                ws(s, n, &p);
                if (p >= n || s[p] != ':') goto out;
                p++;
                ws(s, n, &p);
                size_t start = p;
                if (skip_value(s, n, &p, 1) < 0) goto out;
                if (key.len == 5 && !strcmp(key.p, "vocab")) {
                    range[0] = start;
                    range[1] = p;
                } else if (key.len == 6 && !strcmp(key.p, "merges")) {
                    range[2] = start;
                    range[3] = p;
                }
                ws(s, n, &p);
                if (p < n && s[p] == ',')
                    p++;
                else if (!(p < n && s[p] == '}'))
                    goto out;
            }
        } else if (skip_value(s, n, &p, 0) < 0) {
            goto out;
        }
        ws(s, n, &p);
        if (p < n && s[p] == ',') {
            p++;
            continue;
        }
        if (p < n && s[p] == '}') break;
        goto out;
    }
    /* the scanner only helps when both values are there in their usual shape */
    rc = range[1] && range[3] && s[range[0]] == '{' && s[range[2]] == '[' ? 0 : -1;
out:
    free(key.p);
    return rc;
}

int mg__tok_fj_vocab(const char *s, size_t n, mg__tok_vocab_cb cb, void *ud)
{
    size_t p = 0;
    if (n == 0 || s[0] != '{') return -1;
    p = 1;
    mg__tok_buf key = {0};
    int rc = -1;
    ws(s, n, &p);
    if (p < n && s[p] == '}') {
        rc = 0;
        goto out;
    }
    for (;;) {
        ws(s, n, &p);
        if (mg__tok_fj_string(s, n, &p, &key) < 0) goto out;
        ws(s, n, &p);
        if (p >= n || s[p] != ':') goto out;
        p++;
        ws(s, n, &p);
        /* ids: plain non-negative decimal integers */
        size_t st = p;
        int64_t v = 0;
        while (p < n && s[p] >= '0' && s[p] <= '9' && v < ((int64_t)1 << 40))
            v = v * 10 + (s[p++] - '0');
        if (p == st || (p < n && (s[p] == '.' || s[p] == 'e' || s[p] == 'E' ||
                                  (s[p] >= '0' && s[p] <= '9')))) {
            /* not an id: the callback reports it with the key */
            p = st;
            if (skip_value(s, n, &p, 1) < 0) goto out;
            v = -1;
        }
        if ((rc = cb(ud, key.p, key.len, v)) < 0) goto out;
        rc = -1;
        ws(s, n, &p);
        if (p < n && s[p] == ',') {
            p++;
            continue;
        }
        if (p < n && s[p] == '}') break;
        goto out;
    }
    rc = 0;
out:
    free(key.p);
    return rc;
}

int mg__tok_fj_merges(const char *s, size_t n, mg__tok_merge_cb cb, void *ud)
{
    if (n == 0 || s[0] != '[') return -1;
    size_t p = 1;
    mg__tok_buf a = {0}, b = {0};
    int rc = -1;
    size_t i = 0;
    ws(s, n, &p);
    if (p < n && s[p] == ']') {
        rc = 0;
        goto out;
    }
    for (;; i++) {
        ws(s, n, &p);
        if (p >= n) goto out;
        if (s[p] == '"') {
            if (mg__tok_fj_string(s, n, &p, &a) < 0) goto out;
            if ((rc = cb(ud, i, a.p, a.len, NULL, 0, true)) < 0) goto out;
        } else {
            /* ["a", "b"]; anything else goes to the callback as NULL */
            size_t p0 = p;
            bool ok = s[p] == '[';
            if (ok) {
                p++;
                ws(s, n, &p);
                ok = p < n && s[p] == '"' && mg__tok_fj_string(s, n, &p, &a) == 0;
            }
            if (ok) {
                ws(s, n, &p);
                ok = p < n && s[p] == ',';
            }
            if (ok) {
                p++;
                ws(s, n, &p);
                ok = p < n && s[p] == '"' && mg__tok_fj_string(s, n, &p, &b) == 0;
            }
            if (ok) {
                ws(s, n, &p);
                ok = p < n && s[p] == ']';
            }
            if (ok) {
                p++;
                if ((rc = cb(ud, i, a.p, a.len, b.p, b.len, false)) < 0) goto out;
            } else {
                p = p0;
                if (skip_value(s, n, &p, 1) < 0) goto out;
                if ((rc = cb(ud, i, NULL, 0, NULL, 0, false)) < 0) goto out;
            }
        }
        rc = -1;
        ws(s, n, &p);
        if (p < n && s[p] == ',') {
            p++;
            continue;
        }
        if (p < n && s[p] == ']') break;
        goto out;
    }
    rc = 0;
out:
    free(a.p);
    free(b.p);
    return rc;
}
