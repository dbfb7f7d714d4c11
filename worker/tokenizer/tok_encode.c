/* tok_encode.c — added-token matching and the encode pipeline.
 *
 * As the tokenizers crate's AddedVocabulary::extract_and_normalize: the raw
 * text is first split on the added tokens with normalized=false (leftmost-
 * longest, honouring single_word/lstrip/rstrip); each remaining segment is
 * normalized on its own and split again on the normalized=true tokens; what is
 * left is pre-tokenized and run through BPE. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- trie of added tokens (byte edges kept in a pair map: (node, byte) -> child) ---- */

void mg__tok_trie_init(mg__tok_trie *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < 256; i++) t->root_children[i] = -1;
}

void mg__tok_trie_free(mg__tok_trie *t)
{
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

static int trie_new_node(mg__tok_trie *t)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        mg__tok_trie_node *p = realloc(t->nodes, cap * sizeof *p);
        if (!p) return MG_ENOMEM;
        t->nodes = p;
        t->cap = cap;
    }
    t->nodes[t->n] = (mg__tok_trie_node){-1, -1, -1, 0};
    return (int)t->n++;
}

/* Children are sorted singly linked lists; the first level is a direct table.
 */
int mg__tok_trie_add(mg__tok_trie *t, const char *s, size_t len, int32_t value)
{
    if (len == 0) return 0;
    unsigned char c0 = (unsigned char)s[0];
    if (t->root_children[c0] < 0) {
        int n = trie_new_node(t);
        if (n < 0) return n;
        t->nodes[n].byte = c0;
        t->root_children[c0] = n;
    }
    int32_t cur = t->root_children[c0];
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int32_t ch = t->nodes[cur].first_child, prev = -1;
        while (ch >= 0 && t->nodes[ch].byte < c) {
            prev = ch;
            ch = t->nodes[ch].next_sibling;
        }
        if (ch < 0 || t->nodes[ch].byte != c) {
            int n = trie_new_node(t);
            if (n < 0) return n;
            t->nodes[n].byte = c;
            t->nodes[n].next_sibling = ch;
            if (prev < 0)
                t->nodes[cur].first_child = n;
            else
                t->nodes[prev].next_sibling = n;
            ch = n;
        }
        cur = ch;
    }
    t->nodes[cur].value = value; /* a later token with the same string wins, as a map insert */
    return 0;
}

/* Longest token starting at s[0]; returns its length (0 none), *value the index. */
static size_t trie_longest(const mg__tok_trie *t, const char *s, size_t n, int32_t *value)
{
    int32_t cur = t->root_children[(unsigned char)s[0]];
    size_t best = 0;
    size_t i = 1;
    while (cur >= 0) {
        if (t->nodes[cur].value >= 0) {
            best = i;
            *value = t->nodes[cur].value;
        }
        if (i >= n) break;
        unsigned char c = (unsigned char)s[i];
        int32_t ch = t->nodes[cur].first_child;
        while (ch >= 0 && t->nodes[ch].byte < c) ch = t->nodes[ch].next_sibling;
        if (ch < 0 || t->nodes[ch].byte != c) break;
        cur = ch;
        i++;
    }
    return best;
}

static int32_t last_char(const char *s, size_t n)
{
    if (n == 0) return -1;
    size_t j = n - 1;
    while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
    int32_t cp;
    mg__tok_utf8_next(s + j, n - j, &cp);
    return cp;
}

int mg__tok_added_split(const mg_tokenizer *t, const mg__tok_trie *trie, const char *s, size_t n,
                        mg__tok_split_cb cb, void *ud)
{
    size_t start_offset = 0;
    int rc;
    size_t i = 0;
    while (i < n) {
        if (trie->root_children[(unsigned char)s[i]] < 0) {
            i++;
            continue;
        }
        int32_t v = -1;
        size_t mlen = trie_longest(trie, s + i, n - i, &v);
        if (!mlen) {
            i++;
            continue;
        }
        size_t start = i, stop = i + mlen;
        i = stop; /* the matcher resumes after the match itself, whatever is stripped */
        const mg__tok_added *a = &t->added[v];
        if (a->single_word) {
            int32_t before = last_char(s, start);
            int32_t after = -1;
            if (stop < n) mg__tok_utf8_next(s + stop, n - stop, &after);
            bool start_space = start == 0 || !mg__tok_is_word(before);
            bool stop_space = stop == n || !mg__tok_is_word(after);
            if (!start_space || !stop_space) {
                /* A discarded match still consumed its bytes in the matcher. */
                continue;
            }
        }
        if (a->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t j = ns - 1;
                while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
                int32_t cp;
                mg__tok_utf8_next(s + j, ns - j, &cp);
                if (!mg__tok_is_whitespace(cp)) break;
                ns = j;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (a->rstrip) {
            while (stop < n) {
                int32_t cp;
                size_t k = mg__tok_utf8_next(s + stop, n - stop, &cp);
                if (!mg__tok_is_whitespace(cp)) break;
                stop += k;
            }
        }
        if (start_offset < start && (rc = cb(ud, start_offset, start, -1)) < 0) return rc;
        if ((rc = cb(ud, start, stop, v)) < 0) return rc;
        start_offset = stop;
    }
    if (start_offset < n && (rc = cb(ud, start_offset, n, -1)) < 0) return rc;
    return 0;
}

/* ---- the pipeline ---- */

/* What encode runs: tokenizer.json's own pipeline, or the one transformers
 * rebuilds for LlamaTokenizer (see mg_tokenizer_encode_prompt). */
typedef struct pipeline {
    const mg__tok_norm *norm;
    const mg__tok_pre *pre;
    const mg__tok_post_item *post;
    size_t n_post;
    bool add_special;
} pipeline;

typedef struct enc_ctx {
    const mg_tokenizer *t;
    const pipeline *pl;
    const char *s;
    mg__tok_ids *ids;
    mg__tok_arena *arena;
    mg__tok_buf nbuf;
    mg__tok_pieces in, out;
    bool origin; /* the current segment starts at offset 0 of the input */
} enc_ctx;

static int model_piece(enc_ctx *c, const char *s, size_t n, bool origin)
{
    c->in.len = 0;
    c->out.len = 0;
    int rc;
    if (!c->pl->pre) return mg__tok_bpe(c->t, s, n, c->ids);
    if ((rc = mg__tok_pieces_push(&c->in, s, n, origin)) < 0) return rc;
    if ((rc = mg__tok_pretokenize(c->t, c->pl->pre, &c->in, &c->out, c->arena)) < 0) return rc;
    for (size_t i = 0; i < c->out.len; i++)
        if ((rc = mg__tok_bpe(c->t, c->out.p[i].s, c->out.p[i].len, c->ids)) < 0) return rc;
    return 0;
}

typedef struct norm_seg {
    enc_ctx *c;
    const char *ns;
} norm_seg;

static int normalized_split_cb(void *ud, size_t a, size_t b, int32_t added)
{
    norm_seg *g = ud;
    if (added >= 0) return mg__tok_ids_push(g->c->ids, g->c->t->added[added].id);
    if (a == b) return 0;
    return model_piece(g->c, g->ns + a, b - a, g->c->origin && a == 0);
}

static int raw_split_cb(void *ud, size_t a, size_t b, int32_t added)
{
    enc_ctx *c = ud;
    const mg_tokenizer *t = c->t;
    if (added >= 0) return mg__tok_ids_push(c->ids, t->added[added].id);
    if (a == b) return 0;
    c->origin = a == 0;
    const char *ns = c->s + a;
    size_t nn = b - a;
    if (c->pl->norm) {
        c->nbuf.len = 0;
        int rc = mg__tok_normalize(c->pl->norm, c->s + a, b - a, &c->nbuf);
        if (rc < 0) return rc;
        if (c->nbuf.len == 0) return 0;
        /* The normalized text must outlive this segment (pieces point into it). */
        char *copy = mg__tok_arena_alloc(c->arena, c->nbuf.len + 1);
        if (!copy) return MG_ENOMEM;
        memcpy(copy, c->nbuf.p, c->nbuf.len);
        ns = copy;
        nn = c->nbuf.len;
    }
    if (t->has_norm) {
        norm_seg g = {c, ns};
        return mg__tok_added_split(t, &t->trie_norm, ns, nn, normalized_split_cb, &g);
    }
    return model_piece(c, ns, nn, c->origin);
}

static int encode_with(const mg_tokenizer *t, const pipeline *pl, const char *text, size_t len,
                       int32_t **ids_out, size_t *n_out, mg_error *err)
{
    *ids_out = NULL;
    *n_out = 0;
    mg__tok_buf lossy = {0};
    const char *s = text;
    if (mg__tok_utf8_valid_prefix(text, len) != len) {
        if (mg__tok_utf8_lossy(&lossy, text, len) < 0) goto oom;
        s = lossy.p;
        len = lossy.len;
    }
    mg__tok_ids body = {0};
    mg__tok_arena arena = {0};
    enc_ctx c = {t, pl, s, &body, &arena, {0}, {0}, {0}, false};
    int rc = 0;
    if (len) {
        if (t->has_raw)
            rc = mg__tok_added_split(t, &t->trie_raw, s, len, raw_split_cb, &c);
        else
            rc = raw_split_cb(&c, 0, len, -1);
    }
    free(c.nbuf.p);
    free(c.in.p);
    free(c.out.p);
    mg__tok_arena_free(&arena);
    free(lossy.p);
    if (rc < 0) {
        free(body.p);
        if (rc == MG_ENOMEM) return mg_error_set(err, rc, "out of memory while encoding");
        return mg_error_set(err, rc, "encoding failed: a pattern could not be matched");
    }
    if (pl->add_special && pl->post) {
        mg__tok_ids full = {0};
        for (size_t i = 0; i < pl->n_post; i++) {
            const mg__tok_post_item *it = &pl->post[i];
            if (it->is_sequence) {
                for (size_t j = 0; j < body.len; j++)
                    if (mg__tok_ids_push(&full, body.p[j]) < 0) goto oom2;
            } else {
                for (size_t j = 0; j < it->n_ids; j++)
                    if (mg__tok_ids_push(&full, it->ids[j]) < 0) goto oom2;
            }
        }
        free(body.p);
        body = full;
        goto done;
    oom2:
        free(full.p);
        free(body.p);
        return mg_error_set(err, MG_ENOMEM, "out of memory while encoding");
    }
done:
    *ids_out = body.p;
    *n_out = body.len;
    return 0;
oom:
    free(lossy.p);
    return mg_error_set(err, MG_ENOMEM, "out of memory while encoding");
}

int mg_tokenizer_encode(const mg_tokenizer *t, const char *text, size_t len,
                        bool add_special_tokens, int32_t **ids, size_t *n_ids, mg_error *err)
{
    pipeline pl = {t->normalizer, t->pre, t->post, t->n_post, add_special_tokens};
    return encode_with(t, &pl, text ? text : "", text ? len : 0, ids, n_ids, err);
}

int mg_tokenizer_encode_prompt(const mg_tokenizer *t, const char *text, size_t len, int32_t **ids,
                               size_t *n_ids, mg_error *err)
{
    pipeline pl = {t->normalizer, t->pre, t->post, t->n_post, true};
    if (t->tf_mode == MG__TF_LLAMA) {
        pl.norm = NULL;
        pl.pre = &t->tf_pre;
    } else if (t->tf_mode == MG__TF_GEMMA) {
        pl.norm = &t->tf_norm;
        pl.pre = &t->tf_pre;
    }
    if (t->tf_mode != MG__TF_BACKEND) {
        pl.post = t->tf_post;
        pl.n_post = t->n_tf_post;
    }
    return encode_with(t, &pl, text ? text : "", text ? len : 0, ids, n_ids, err);
}
