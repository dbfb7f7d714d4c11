/* tok_norm.c — normalizers (NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend,
 * Strip, Sequence) applied to one segment of valid UTF-8. Only the text
 * matters here: offsets are not tracked because nothing downstream needs them. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static int unicode_form(const char *s, size_t len, utf8proc_option_t opt, mg__tok_buf *out)
{
    if (len == 0) return 0;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                                      opt | UTF8PROC_STABLE);
    if (n < 0) {
        free(dst);
        /* Input is valid UTF-8 by construction, so only allocation can fail. */
        return MG_ENOMEM;
    }
    int rc = mg__tok_buf_put(out, dst, (size_t)n);
    free(dst);
    return rc;
}

static int lowercase(const char *s, size_t len, mg__tok_buf *out)
{
    size_t i = 0;
    while (i < len) {
        int32_t cp;
        size_t k = mg__tok_utf8_next(s + i, len - i, &cp);
        i += k;
        char enc[8];
        size_t m;
        if (cp == 0x130) {
            /* The one unconditional multi-character lowercase mapping
             * (SpecialCasing.txt), which Rust's char::to_lowercase applies. */
            memcpy(enc, "i\xCC\x87", 3);
            m = 3;
        } else {
            m = mg__tok_utf8_encode(utf8proc_tolower(cp), enc);
        }
        if (mg__tok_buf_put(out, enc, m) < 0) return MG_ENOMEM;
    }
    return 0;
}

typedef struct {
    const char *s;
    const mg__tok_norm *n;
    mg__tok_buf *out;
} replace_ctx;

static int replace_cb(void *ud, size_t start, size_t end, bool is_match)
{
    replace_ctx *c = ud;
    if (is_match) return mg__tok_buf_put(c->out, c->n->content, c->n->content_len);
    return mg__tok_buf_put(c->out, c->s + start, end - start);
}

static int strip(const mg__tok_norm *n, const char *s, size_t len, mg__tok_buf *out)
{
    size_t a = 0, b = len;
    if (n->strip_left) {
        while (a < b) {
            int32_t cp;
            size_t k = mg__tok_utf8_next(s + a, b - a, &cp);
            if (!mg__tok_is_whitespace(cp)) break;
            a += k;
        }
    }
    if (n->strip_right) {
        while (b > a) {
            size_t j = b - 1;
            while (j > a && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
            int32_t cp;
            mg__tok_utf8_next(s + j, b - j, &cp);
            if (!mg__tok_is_whitespace(cp)) break;
            b = j;
        }
    }
    return mg__tok_buf_put(out, s + a, b - a);
}

int mg__tok_normalize(const mg__tok_norm *n, const char *s, size_t len, mg__tok_buf *out)
{
    switch (n->kind) {
    case MG_NORM_NFC:
        return unicode_form(s, len, UTF8PROC_COMPOSE, out);
    case MG_NORM_NFD:
        return unicode_form(s, len, UTF8PROC_DECOMPOSE, out);
    case MG_NORM_NFKC:
        return unicode_form(s, len, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, out);
    case MG_NORM_NFKD:
        return unicode_form(s, len, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, out);
    case MG_NORM_LOWERCASE:
        return lowercase(s, len, out);
    case MG_NORM_REPLACE: {
        if (len == 0) return 0;
        replace_ctx c = {s, n, out};
        return mg__tok_regex_find_matches(&n->pattern, s, len, replace_cb, &c);
    }
    case MG_NORM_PREPEND:
        /* The reference prepends only to a non-empty string. */
        if (len == 0) return 0;
        if (mg__tok_buf_put(out, n->content, n->content_len) < 0) return MG_ENOMEM;
        return mg__tok_buf_put(out, s, len);
    case MG_NORM_STRIP:
        return strip(n, s, len, out);
    case MG_NORM_SEQUENCE: {
        mg__tok_buf a = {0}, b = {0};
        if (mg__tok_buf_put(&a, s, len) < 0 || mg__tok_buf_reserve(&b, 0) < 0) {
            free(a.p);
            return MG_ENOMEM;
        }
        for (size_t i = 0; i < n->n_items; i++) {
            b.len = 0;
            int rc = mg__tok_normalize(&n->items[i], a.p, a.len, &b);
            if (rc < 0) {
                free(a.p);
                free(b.p);
                return rc;
            }
            mg__tok_buf t = a;
            a = b;
            b = t;
        }
        int rc = mg__tok_buf_put(out, a.p, a.len);
        free(a.p);
        free(b.p);
        return rc;
    }
    }
    return MG_EINVAL;
}

void mg__tok_norm_free(mg__tok_norm *n)
{
    if (!n) return;
    mg__tok_regex_free(&n->pattern);
    free(n->content);
    for (size_t i = 0; i < n->n_items; i++) mg__tok_norm_free(&n->items[i]);
    free(n->items);
}
