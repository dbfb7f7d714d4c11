/* tok_decode.c — ids to text through the decoder chain (ByteLevel, Replace,
 * ByteFallback, Fuse, Strip, Metaspace, Sequence), and the streaming decoder.
 *
 * As the reference's Tokenizer::decode: each id becomes its token string (the
 * added token's, else the vocabulary's; unknown ids are dropped, special ones
 * too when asked), the decoder chain maps the list of strings, and the result
 * is their concatenation (joined by " " when there is no decoder). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct strv {
    mg__tok_buf *v;
    size_t n, cap;
} strv;

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i].p);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int strv_push(strv *s, const char *p, size_t n)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        mg__tok_buf *v = realloc(s->v, cap * sizeof *v);
        if (!v) return MG_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    mg__tok_buf b = {0};
    if (mg__tok_buf_put(&b, p, n) < 0) return MG_ENOMEM;
    s->v[s->n++] = b;
    return 0;
}

/* Takes ownership of b. */
static int strv_push_buf(strv *s, mg__tok_buf b)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        mg__tok_buf *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            free(b.p);
            return MG_ENOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = b;
    return 0;
}

static int join(const strv *in, const char *sep, size_t sep_len, mg__tok_buf *out)
{
    if (mg__tok_buf_reserve(out, 0) < 0) return MG_ENOMEM;
    out->p[out->len] = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (i && mg__tok_buf_put(out, sep, sep_len) < 0) return MG_ENOMEM;
        if (mg__tok_buf_put(out, in->v[i].p, in->v[i].len) < 0) return MG_ENOMEM;
    }
    return 0;
}

static int32_t cp_to_byte_table(const mg_tokenizer *t, int32_t cp)
{
    return cp >= 0 && cp < 512 ? t->cp_byte[cp] : -1;
}

static int dec_bytelevel(const mg_tokenizer *t, strv *in, strv *out)
{
    mg__tok_buf bytes = {0};
    if (mg__tok_buf_reserve(&bytes, 0) < 0) return MG_ENOMEM;
    for (size_t i = 0; i < in->n; i++) {
        const char *s = in->v[i].p;
        size_t n = in->v[i].len, start = bytes.len;
        bool all = true;
        for (size_t j = 0; j < n;) {
            int32_t cp;
            j += mg__tok_utf8_next(s + j, n - j, &cp);
            int32_t b = cp_to_byte_table(t, cp);
            if (b < 0) {
                all = false;
                break;
            }
            char c = (char)b;
            if (mg__tok_buf_put(&bytes, &c, 1) < 0) goto oom;
        }
        if (!all) {
            /* a token with a character outside the table is used as is */
            bytes.len = start;
            if (mg__tok_buf_put(&bytes, s, n) < 0) goto oom;
        }
    }
    mg__tok_buf text = {0};
    if (mg__tok_utf8_lossy(&text, bytes.p, bytes.len) < 0) goto oom;
    free(bytes.p);
    return strv_push_buf(out, text);
oom:
    free(bytes.p);
    return MG_ENOMEM;
}

typedef struct repl_ctx {
    const char *s;
    const mg__tok_dec *d;
    mg__tok_buf *out;
} repl_ctx;

static int repl_cb(void *ud, size_t a, size_t b, bool m)
{
    repl_ctx *c = ud;
    if (m) return mg__tok_buf_put(c->out, c->d->content, c->d->content_len);
    return mg__tok_buf_put(c->out, c->s + a, b - a);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "<0xXX>" -> byte, as u8::from_str_radix(&token[3..5], 16) (which also takes
 * a leading '+'). */
static int byte_token(const mg__tok_buf *b)
{
    if (b->len != 6 || memcmp(b->p, "<0x", 3) || b->p[5] != '>') return -1;
    int hi = hexval(b->p[3]), lo = hexval(b->p[4]);
    if (b->p[3] == '+' && lo >= 0) return lo;
    if (hi < 0 || lo < 0) return -1;
    return hi * 16 + lo;
}

static int flush_bytes(mg__tok_buf *pending, strv *out)
{
    if (!pending->len) return 0;
    int rc = 0;
    if (mg__tok_utf8_valid_prefix(pending->p, pending->len) == pending->len) {
        rc = strv_push(out, pending->p, pending->len);
    } else {
        for (size_t k = 0; k < pending->len && rc >= 0; k++) rc = strv_push(out, "\xEF\xBF\xBD", 3);
    }
    pending->len = 0;
    return rc;
}

static int dec_apply(const mg_tokenizer *t, const mg__tok_dec *d, strv *in, strv *out)
{
    int rc = 0;
    switch (d->kind) {
    case MG_DEC_BYTELEVEL:
        return dec_bytelevel(t, in, out);
    case MG_DEC_FUSE: {
        mg__tok_buf b = {0};
        if ((rc = join(in, "", 0, &b)) < 0) {
            free(b.p);
            return rc;
        }
        return strv_push_buf(out, b);
    }
    case MG_DEC_REPLACE:
        for (size_t i = 0; i < in->n; i++) {
            mg__tok_buf b = {0};
            repl_ctx c = {in->v[i].p, d, &b};
            if ((rc = mg__tok_buf_reserve(&b, 0)) < 0 ||
                (in->v[i].len && (rc = mg__tok_regex_find_matches(
                                      &d->pattern, in->v[i].p, in->v[i].len, repl_cb, &c)) < 0) ||
                (rc = strv_push_buf(out, b)) < 0) {
                if (rc != MG_ENOMEM || b.p) free(b.p);
                return rc;
            }
        }
        return 0;
    case MG_DEC_BYTEFALLBACK: {
        mg__tok_buf pending = {0};
        for (size_t i = 0; i < in->n && rc >= 0; i++) {
            int b = byte_token(&in->v[i]);
            if (b >= 0) {
                char c = (char)b;
                rc = mg__tok_buf_put(&pending, &c, 1);
                continue;
            }
            if ((rc = flush_bytes(&pending, out)) < 0) break;
            rc = strv_push(out, in->v[i].p, in->v[i].len);
        }
        if (rc >= 0) rc = flush_bytes(&pending, out);
        free(pending.p);
        return rc;
    }
    case MG_DEC_STRIP:
        for (size_t i = 0; i < in->n; i++) {
            const char *s = in->v[i].p;
            size_t n = in->v[i].len;
            /* character boundaries */
            size_t a = 0, nch = 0;
            for (size_t j = 0; j < n; nch++) {
                int32_t cp;
                j += mg__tok_utf8_next(s + j, n - j, &cp);
            }
            size_t cut = 0;
            for (size_t k = 0; k < d->strip_start && a < n; k++) {
                int32_t cp;
                size_t l = mg__tok_utf8_next(s + a, n - a, &cp);
                if (cp != d->strip_char) break;
                a += l;
                cut++;
            }
            size_t b = n;
            for (size_t k = 0; k < d->strip_stop && b > a && nch - cut > k; k++) {
                size_t j = b - 1;
                while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
                int32_t cp;
                mg__tok_utf8_next(s + j, b - j, &cp);
                if (cp != d->strip_char) break;
                b = j;
            }
            if ((rc = strv_push(out, s + a, b - a)) < 0) return rc;
        }
        return 0;
    case MG_DEC_METASPACE:
        for (size_t i = 0; i < in->n; i++) {
            mg__tok_buf b = {0};
            if (mg__tok_buf_reserve(&b, in->v[i].len) < 0) return MG_ENOMEM;
            const char *s = in->v[i].p;
            size_t n = in->v[i].len;
            for (size_t j = 0; j < n;) {
                int32_t cp;
                size_t l = mg__tok_utf8_next(s + j, n - j, &cp);
                if (cp == d->replacement) {
                    if (!(i == 0 && !d->prepend_never)) rc = mg__tok_buf_put(&b, " ", 1);
                } else {
                    rc = mg__tok_buf_put(&b, s + j, l);
                }
                if (rc < 0) {
                    free(b.p);
                    return rc;
                }
                j += l;
            }
            if ((rc = strv_push_buf(out, b)) < 0) return rc;
        }
        return 0;
    case MG_DEC_SEQUENCE: {
        strv cur = {0};
        for (size_t i = 0; i < in->n; i++)
            if ((rc = strv_push(&cur, in->v[i].p, in->v[i].len)) < 0) goto seq_out;
        for (size_t k = 0; k < d->n_items; k++) {
            strv nxt = {0};
            rc = dec_apply(t, &d->items[k], &cur, &nxt);
            strv_free(&cur);
            cur = nxt;
            if (rc < 0) goto seq_out;
        }
        for (size_t i = 0; i < cur.n && rc >= 0; i++) {
            rc = strv_push_buf(out, cur.v[i]);
            cur.v[i].p = NULL;
        }
    seq_out:
        strv_free(&cur);
        return rc;
    }
    }
    return MG_EINVAL;
}

/* Decodes into *out (appended, NUL-terminated). */
static int decode_buf(const mg_tokenizer *t, const int32_t *ids, size_t n, bool skip,
                      mg__tok_buf *out)
{
    strv toks = {0}, res = {0};
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_ids || !t->id_str[id]) continue;
        if (skip && t->special_of_id[id]) continue;
        if ((rc = strv_push(&toks, t->id_str[id], t->id_len[id])) < 0) goto out;
    }
    if (!t->decoder) {
        rc = join(&toks, " ", 1, out);
        goto out;
    }
    if ((rc = dec_apply(t, t->decoder, &toks, &res)) < 0) goto out;
    rc = join(&res, "", 0, out);
out:
    strv_free(&toks);
    strv_free(&res);
    return rc;
}

int mg_tokenizer_decode(const mg_tokenizer *t, const int32_t *ids, size_t n,
                        bool skip_special_tokens, char **text, size_t *len, mg_error *err)
{
    mg__tok_buf b = {0};
    int rc = decode_buf(t, ids, n, skip_special_tokens, &b);
    if (rc < 0) {
        free(b.p);
        *text = NULL;
        *len = 0;
        return mg_error_set(err, rc, "decoding failed (%s)", mg_strerror(rc));
    }
    *text = b.p;
    *len = b.len;
    return 0;
}

void mg__tok_dec_free(mg__tok_dec *d)
{
    if (!d) return;
    mg__tok_regex_free(&d->pattern);
    free(d->content);
    for (size_t i = 0; i < d->n_items; i++) mg__tok_dec_free(&d->items[i]);
    free(d->items);
}

/* ---- streaming ----
 * The window holds the ids since the last emission plus the ones emitted by it
 * (context, so decoders that treat the first token specially — Strip,
 * Metaspace — and byte sequences split across tokens decode the same way as in
 * the full sequence). `prefix` is the decode of the context ids; a push emits
 * decode(window) minus prefix once that text does not end in U+FFFD (which
 * would be an incomplete character still waiting for its bytes). */
struct mg_detok {
    const mg_tokenizer *t;
    bool skip;
    mg__tok_ids win;
    size_t n_ctx;       /* leading ids of win that are context */
    mg__tok_buf prefix; /* decode(win[0..n_ctx)) */
    bool started;       /* win[0] is the sequence's first id */
};

int mg_detok_new(const mg_tokenizer *t, bool skip_special_tokens, mg_detok **out, mg_error *err)
{
    mg_detok *d = calloc(1, sizeof *d);
    if (!d || mg__tok_buf_reserve(&d->prefix, 0) < 0) {
        free(d);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    d->t = t;
    d->skip = skip_special_tokens;
    *out = d;
    return 0;
}

static int emit(mg__tok_buf *b, size_t from, char **piece, size_t *len)
{
    size_t n = b->len - from;
    char *p = malloc(n + 1);
    if (!p) return MG_ENOMEM;
    memcpy(p, b->p + from, n);
    p[n] = 0;
    *piece = p;
    *len = n;
    return 0;
}

static bool ends_incomplete(const mg__tok_buf *b)
{
    return b->len >= 3 && !memcmp(b->p + b->len - 3, "\xEF\xBF\xBD", 3);
}

int mg_detok_push(mg_detok *d, int32_t id, char **piece, size_t *piece_len, mg_error *err)
{
    *piece = NULL;
    *piece_len = 0;
    if (mg__tok_ids_push(&d->win, id) < 0) return mg_error_set(err, MG_ENOMEM, "out of memory");
    mg__tok_buf full = {0};
    int rc = decode_buf(d->t, d->win.p, d->win.len, d->skip, &full);
    if (rc < 0) goto fail;
    if (full.len > d->prefix.len && !ends_incomplete(&full) &&
        !memcmp(full.p, d->prefix.p, d->prefix.len)) {
        if ((rc = emit(&full, d->prefix.len, piece, piece_len)) < 0) goto fail;
        /* the new ids become the context of the next window */
        size_t keep = d->win.len - d->n_ctx;
        memmove(d->win.p, d->win.p + d->n_ctx, keep * sizeof *d->win.p);
        d->win.len = keep;
        d->n_ctx = keep;
        d->prefix.len = 0;
        if ((rc = decode_buf(d->t, d->win.p, d->win.len, d->skip, &d->prefix)) < 0) goto fail;
    }
    free(full.p);
    if (!*piece && !(*piece = calloc(1, 1))) return mg_error_set(err, MG_ENOMEM, "out of memory");
    return 0;
fail:
    free(full.p);
    free(*piece);
    *piece = NULL;
    *piece_len = 0;
    return mg_error_set(err, rc, "streaming decode failed (%s)", mg_strerror(rc));
}

int mg_detok_flush(mg_detok *d, char **piece, size_t *piece_len, mg_error *err)
{
    *piece = NULL;
    *piece_len = 0;
    mg__tok_buf full = {0};
    int rc = decode_buf(d->t, d->win.p, d->win.len, d->skip, &full);
    if (rc < 0) {
        free(full.p);
        return mg_error_set(err, rc, "streaming decode failed (%s)", mg_strerror(rc));
    }
    size_t from = 0;
    if (full.len >= d->prefix.len && !memcmp(full.p, d->prefix.p, d->prefix.len))
        from = d->prefix.len;
    rc = emit(&full, from, piece, piece_len);
    free(full.p);
    if (rc < 0) return mg_error_set(err, rc, "out of memory");
    d->win.len = 0;
    d->n_ctx = 0;
    d->prefix.len = 0;
    d->prefix.p[0] = 0;
    return 0;
}

void mg_detok_free(mg_detok *d)
{
    if (!d) return;
    free(d->win.p);
    free(d->prefix.p);
    free(d);
}
