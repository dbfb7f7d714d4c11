/* tok_pretok.c — pre-tokenizers: ByteLevel, Split, Digits, Metaspace,
 * Whitespace, WhitespaceSplit, Punctuation and Sequence.
 *
 * Each pre-tokenizer maps a list of pieces to a finer list, as the tokenizers
 * crate's PreTokenizedString::split does; empty pieces are dropped there, and
 * here. New strings (byte-level mapped, prefixed) live in the call's arena. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct span {
    size_t a, b;
    bool m;
} span;

typedef struct spans {
    span *p;
    size_t len, cap;
} spans;

static int spans_push(spans *v, size_t a, size_t b, bool m)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 32;
        span *p = realloc(v->p, cap * sizeof *p);
        if (!p) return MG_ENOMEM;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->len++] = (span){a, b, m};
    return 0;
}

static int spans_cb(void *ud, size_t a, size_t b, bool m)
{
    return spans_push(ud, a, b, m);
}

/* Matches of a character predicate: each matching character is its own match. */
static int char_matches(const char *s, size_t n, bool (*pred)(int32_t, const void *),
                        const void *ud, spans *out)
{
    size_t last = 0, i = 0;
    while (i < n) {
        int32_t cp;
        size_t k = mg__tok_utf8_next(s + i, n - i, &cp);
        if (pred(cp, ud)) {
            if (last < i && spans_push(out, last, i, false) < 0) return MG_ENOMEM;
            if (spans_push(out, i, i + k, true) < 0) return MG_ENOMEM;
            last = i + k;
        }
        i += k;
    }
    if (last < n && spans_push(out, last, n, false) < 0) return MG_ENOMEM;
    return 0;
}

/* NormalizedString::split: invert, then apply the behaviour, then emit the
 * non-removed, non-empty parts. */
static int apply_split(const mg__tok_piece *pc, spans *m, mg__tok_split_behavior beh, bool invert,
                       mg__tok_pieces *out)
{
    if (invert)
        for (size_t i = 0; i < m->len; i++) m->p[i].m = !m->p[i].m;
    spans r = {0};
    int rc = 0;
    switch (beh) {
    case MG_SPLIT_ISOLATED:
        for (size_t i = 0; i < m->len; i++) m->p[i].m = false;
        r = *m;
        *m = (spans){0};
        break;
    case MG_SPLIT_REMOVED:
        r = *m;
        *m = (spans){0};
        break;
    case MG_SPLIT_CONTIGUOUS: {
        int prev = -1;
        for (size_t i = 0; i < m->len; i++) {
            if (prev == (int)m->p[i].m && r.len)
                r.p[r.len - 1].b = m->p[i].b;
            else if ((rc = spans_push(&r, m->p[i].a, m->p[i].b, false)) < 0)
                goto out;
            prev = m->p[i].m;
        }
        break;
    }
    case MG_SPLIT_MERGED_PREV: {
        bool prev = false;
        for (size_t i = 0; i < m->len; i++) {
            if (m->p[i].m && !prev && r.len)
                r.p[r.len - 1].b = m->p[i].b;
            else if ((rc = spans_push(&r, m->p[i].a, m->p[i].b, false)) < 0)
                goto out;
            prev = m->p[i].m;
        }
        break;
    }
    case MG_SPLIT_MERGED_NEXT: {
        bool prev = false;
        for (size_t k = m->len; k-- > 0;) {
            if (m->p[k].m && !prev && r.len)
                r.p[r.len - 1].a = m->p[k].a;
            else if ((rc = spans_push(&r, m->p[k].a, m->p[k].b, false)) < 0)
                goto out;
            prev = m->p[k].m;
        }
        for (size_t i = 0; i < r.len / 2; i++) {
            span t = r.p[i];
            r.p[i] = r.p[r.len - 1 - i];
            r.p[r.len - 1 - i] = t;
        }
        break;
    }
    }
    for (size_t i = 0; i < r.len; i++) {
        if (r.p[i].m || r.p[i].b == r.p[i].a) continue;
        if ((rc = mg__tok_pieces_push(out, pc->s + r.p[i].a, r.p[i].b - r.p[i].a,
                                      pc->origin && r.p[i].a == 0)) < 0)
            goto out;
    }
out:
    free(r.p);
    return rc;
}

static bool pred_ws(int32_t c, const void *ud)
{
    (void)ud;
    return mg__tok_is_whitespace(c);
}
static bool pred_num(int32_t c, const void *ud)
{
    (void)ud;
    return mg__tok_is_numeric(c);
}
static bool pred_punct(int32_t c, const void *ud)
{
    (void)ud;
    return mg__tok_is_punct(c);
}
static bool pred_eq(int32_t c, const void *ud)
{
    return c == *(const int32_t *)ud;
}

/* Replaces every ' ' by the replacement and prepends it per the scheme. */
static int metaspace_text(const mg__tok_pre *p, const mg__tok_piece *pc, mg__tok_arena *a,
                          mg__tok_piece *res)
{
    size_t spaces = 0;
    for (size_t i = 0; i < pc->len; i++) spaces += pc->s[i] == ' ';
    bool starts = false;
    if (pc->len) {
        int32_t cp;
        mg__tok_utf8_next(pc->s, pc->len, &cp);
        starts = cp == ' ' || cp == p->replacement; /* after replacement ' ' is it */
    }
    bool prepend = (p->prepend == MG_PREPEND_ALWAYS && !starts) ||
                   (p->prepend == MG_PREPEND_FIRST && !starts && pc->origin);
    size_t n = pc->len + spaces * (p->repl_len - 1) + (prepend ? p->repl_len : 0);
    char *d = mg__tok_arena_alloc(a, n + 1);
    if (!d) return MG_ENOMEM;
    size_t o = 0;
    if (prepend) {
        memcpy(d, p->repl_utf8, p->repl_len);
        o = p->repl_len;
    }
    for (size_t i = 0; i < pc->len; i++) {
        if (pc->s[i] == ' ') {
            memcpy(d + o, p->repl_utf8, p->repl_len);
            o += p->repl_len;
        } else {
            d[o++] = pc->s[i];
        }
    }
    *res = (mg__tok_piece){d, o, pc->origin};
    return 0;
}

static int bytelevel_map(const mg_tokenizer *t, mg__tok_pieces *v, mg__tok_arena *a)
{
    for (size_t i = 0; i < v->len; i++) {
        mg__tok_piece *pc = &v->p[i];
        size_t n = 0;
        for (size_t j = 0; j < pc->len; j++) n += t->byte_utf8_len[(unsigned char)pc->s[j]];
        char *d = mg__tok_arena_alloc(a, n + 1);
        if (!d) return MG_ENOMEM;
        size_t o = 0;
        for (size_t j = 0; j < pc->len; j++) {
            unsigned char c = (unsigned char)pc->s[j];
            memcpy(d + o, t->byte_utf8[c], t->byte_utf8_len[c]);
            o += t->byte_utf8_len[c];
        }
        pc->s = d;
        pc->len = o;
    }
    return 0;
}

static int pre_one(const mg_tokenizer *t, const mg__tok_pre *p, const mg__tok_piece *pc,
                   mg__tok_pieces *out, mg__tok_arena *a, spans *m)
{
    m->len = 0;
    int rc = 0;
    switch (p->kind) {
    case MG_PRE_BYTELEVEL: {
        mg__tok_piece x = *pc;
        if (p->add_prefix_space && !(x.len && x.s[0] == ' ')) {
            char *d = mg__tok_arena_alloc(a, x.len + 2);
            if (!d) return MG_ENOMEM;
            d[0] = ' ';
            memcpy(d + 1, x.s, x.len);
            x.s = d;
            x.len++;
        }
        if (!p->has_pattern) return x.len ? mg__tok_pieces_push(out, x.s, x.len, x.origin) : 0;
        if ((rc = mg__tok_regex_find_matches(&p->pattern, x.s, x.len, spans_cb, m)) < 0) return rc;
        return apply_split(&x, m, MG_SPLIT_ISOLATED, false, out);
    }
    case MG_PRE_SPLIT:
        if ((rc = mg__tok_regex_find_matches(&p->pattern, pc->s, pc->len, spans_cb, m)) < 0)
            return rc;
        return apply_split(pc, m, p->behavior, p->invert, out);
    case MG_PRE_WHITESPACE:
        if ((rc = mg__tok_regex_find_matches(&p->pattern, pc->s, pc->len, spans_cb, m)) < 0)
            return rc;
        return apply_split(pc, m, MG_SPLIT_REMOVED, true, out);
    case MG_PRE_WHITESPACE_SPLIT:
        if ((rc = char_matches(pc->s, pc->len, pred_ws, NULL, m)) < 0) return rc;
        return apply_split(pc, m, MG_SPLIT_REMOVED, false, out);
    case MG_PRE_DIGITS:
        if ((rc = char_matches(pc->s, pc->len, pred_num, NULL, m)) < 0) return rc;
        return apply_split(pc, m, p->individual_digits ? MG_SPLIT_ISOLATED : MG_SPLIT_CONTIGUOUS,
                           false, out);
    case MG_PRE_PUNCTUATION:
        if ((rc = char_matches(pc->s, pc->len, pred_punct, NULL, m)) < 0) return rc;
        return apply_split(pc, m, p->behavior, false, out);
    case MG_PRE_METASPACE: {
        mg__tok_piece x;
        if ((rc = metaspace_text(p, pc, a, &x)) < 0) return rc;
        if (!p->split) return x.len ? mg__tok_pieces_push(out, x.s, x.len, x.origin) : 0;
        if ((rc = char_matches(x.s, x.len, pred_eq, &p->replacement, m)) < 0) return rc;
        return apply_split(&x, m, MG_SPLIT_MERGED_NEXT, false, out);
    }
    case MG_PRE_SEQUENCE:
        break;
    }
    return MG_EINVAL;
}

int mg__tok_pretokenize(const mg_tokenizer *t, const mg__tok_pre *p, mg__tok_pieces *in,
                        mg__tok_pieces *out, mg__tok_arena *a)
{
    int rc = 0;
    if (p->kind == MG_PRE_SEQUENCE) {
        mg__tok_pieces cur = {0}, nxt = {0};
        for (size_t i = 0; i < in->len; i++)
            if ((rc = mg__tok_pieces_push(&cur, in->p[i].s, in->p[i].len, in->p[i].origin)) < 0)
                goto seq_out;
        for (size_t k = 0; k < p->n_items; k++) {
            nxt.len = 0;
            if ((rc = mg__tok_pretokenize(t, &p->items[k], &cur, &nxt, a)) < 0) goto seq_out;
            mg__tok_pieces tmp = cur;
            cur = nxt;
            nxt = tmp;
        }
        for (size_t i = 0; i < cur.len; i++)
            if ((rc = mg__tok_pieces_push(out, cur.p[i].s, cur.p[i].len, cur.p[i].origin)) < 0)
                break;
    seq_out:
        free(cur.p);
        free(nxt.p);
        return rc;
    }
    spans m = {0};
    size_t first = out->len;
    for (size_t i = 0; i < in->len && rc >= 0; i++) rc = pre_one(t, p, &in->p[i], out, a, &m);
    free(m.p);
    if (rc >= 0 && p->kind == MG_PRE_BYTELEVEL) {
        mg__tok_pieces tail = {out->p + first, out->len - first, 0};
        rc = bytelevel_map(t, &tail, a);
    }
    return rc;
}

void mg__tok_pre_free(mg__tok_pre *p)
{
    if (!p) return;
    mg__tok_regex_free(&p->pattern);
    for (size_t i = 0; i < p->n_items; i++) mg__tok_pre_free(&p->items[i]);
    free(p->items);
}
