/* tok_bpe.c — the BPE model: characters to ids (with byte_fallback, unk and
 * fuse_unk exactly as the reference's merge_word), then merges applied
 * lowest-rank-first through a binary heap over a doubly linked symbol list
 * (the reference's Word::merge_all, so ties resolve identically: lowest rank,
 * then leftmost position). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct sym {
    int32_t id;
    int32_t prev, next;
    uint32_t len; /* 0 once merged into its left neighbour */
} sym;

typedef struct hent {
    uint32_t rank;
    uint32_t pos;
    int32_t new_id;
} hent;

static inline bool h_less(const hent *x, const hent *y)
{
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static void h_push(hent *h, size_t *n, hent e)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!h_less(&e, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static hent h_pop(hent *h, size_t *n)
{
    hent top = h[0];
    hent last = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= m) break;
        size_t c = l;
        if (l + 1 < m && h_less(&h[l + 1], &h[l])) c = l + 1;
        if (!h_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

typedef struct word {
    sym *s;
    size_t n, cap;
} word;

static int word_add(word *w, int32_t id, uint32_t len)
{
    if (w->n == w->cap) {
        size_t cap = w->cap * 2;
        sym *p = malloc(cap * sizeof *p);
        if (!p) return MG_ENOMEM;
        memcpy(p, w->s, w->n * sizeof *p);
        /* the first buffer is the caller's stack array; later ones are ours */
        if (w->cap > 64) free(w->s);
        w->s = p;
        w->cap = cap;
    }
    int32_t i = (int32_t)w->n;
    w->s[w->n++] = (sym){id, i - 1, i + 1, len};
    return 0;
}

/* The string the reference looks up for a character: continuing_subword_prefix
 * before a non-first one, end_of_word_suffix after the last one. */
static const char *char_key(const mg_tokenizer *t, const char *s, size_t k, bool first, bool last,
                            char *tmp, size_t *n)
{
    if (!tmp) {
        *n = k;
        return s;
    }
    size_t o = 0;
    if (!first) {
        memcpy(tmp, t->subword_prefix, t->subword_prefix_len);
        o = t->subword_prefix_len;
    }
    memcpy(tmp + o, s, k);
    o += k;
    if (last) {
        memcpy(tmp + o, t->word_suffix, t->word_suffix_len);
        o += t->word_suffix_len;
    }
    *n = o;
    return tmp;
}

int mg__tok_bpe(const mg_tokenizer *t, const char *s, size_t len, mg__tok_ids *out)
{
    if (len == 0) return 0;
    if (t->ignore_merges) {
        int32_t id = mg__tok_strmap_get(&t->vocab, s, len);
        if (id >= 0) return mg__tok_ids_push(out, id);
    }
    sym stack_syms[64];
    word w = {stack_syms, 0, 64};
    char *tmp = NULL;
    int rc = 0;
    if (t->subword_prefix_len || t->word_suffix_len) {
        tmp = malloc(4 + t->subword_prefix_len + t->word_suffix_len);
        if (!tmp) return MG_ENOMEM;
    }
    bool have_unk = false;
    int32_t unk_id = 0;
    uint32_t unk_len = 0;
    size_t i = 0;
    while (i < len) {
        int32_t cp;
        size_t k = mg__tok_utf8_next(s + i, len - i, &cp);
        bool first = i == 0, last = i + k >= len;
        size_t bn;
        const char *b = char_key(t, s + i, k, first, last, tmp, &bn);
        int32_t id;
        if (b == s + i && cp < 0x10000)
            id = t->bmp_ids[cp]; /* no prefix/suffix added */
        else
            id = mg__tok_strmap_get(&t->vocab, b, bn);
        if (id >= 0) {
            if (have_unk) {
                if ((rc = word_add(&w, unk_id, unk_len)) < 0) goto out;
                have_unk = false;
            }
            if ((rc = word_add(&w, id, (uint32_t)k)) < 0) goto out;
            i += k;
            continue;
        }
        if (t->byte_fallback) {
            /* The string looked up includes prefix/suffix; its bytes are what
             * fall back (as the reference does with `s.bytes()`). */
            bool all = true;
            for (size_t j = 0; j < bn; j++)
                if (t->byte_ids[(unsigned char)b[j]] < 0) all = false;
            if (all) {
                /* Note: a pending unk is not flushed first (the reference's order). */
                for (size_t j = 0; j < bn; j++)
                    if ((rc = word_add(&w, t->byte_ids[(unsigned char)b[j]], 1)) < 0) goto out;
                i += k;
                continue;
            }
        }
        if (t->unk_id >= 0) {
            if (have_unk && t->fuse_unk) {
                unk_len += (uint32_t)k;
            } else {
                if (have_unk && (rc = word_add(&w, unk_id, unk_len)) < 0) goto out;
                have_unk = true;
                unk_id = t->unk_id;
                unk_len = (uint32_t)k;
            }
        }
        i += k;
    }
    if (have_unk && (rc = word_add(&w, unk_id, unk_len)) < 0) goto out;
    if (w.n == 0) goto out;
    w.s[w.n - 1].next = -1;

    /* merge_all */
    hent stack_heap[128];
    hent *heap = stack_heap;
    size_t hcap = 128, hn = 0;
    if (w.n * 3 + 8 > hcap) {
        /* Each merge pushes at most two entries and removes one symbol, so the
         * heap never holds more than 3 * n entries. */
        hcap = w.n * 3 + 8;
        heap = malloc(hcap * sizeof *heap);
        if (!heap) {
            rc = MG_ENOMEM;
            goto out;
        }
    }
    for (size_t j = 0; j + 1 < w.n; j++) {
        const mg__tok_merge *m = mg__tok_pairmap_get(&t->merges, w.s[j].id, w.s[j + 1].id);
        if (m) h_push(heap, &hn, (hent){m->rank, (uint32_t)j, m->new_id});
    }
    while (hn) {
        hent top = h_pop(heap, &hn);
        sym *cur = &w.s[top.pos];
        if (cur->len == 0 || cur->next < 0) continue;
        sym *right = &w.s[cur->next];
        const mg__tok_merge *m = mg__tok_pairmap_get(&t->merges, cur->id, right->id);
        if (!m || m->new_id != top.new_id) continue;
        cur->id = top.new_id;
        cur->len += right->len;
        right->len = 0;
        cur->next = right->next;
        if (right->next >= 0) w.s[right->next].prev = (int32_t)top.pos;
        if (cur->prev >= 0) {
            const mg__tok_merge *pm = mg__tok_pairmap_get(&t->merges, w.s[cur->prev].id, cur->id);
            if (pm) h_push(heap, &hn, (hent){pm->rank, (uint32_t)cur->prev, pm->new_id});
        }
        if (cur->next >= 0) {
            const mg__tok_merge *nm = mg__tok_pairmap_get(&t->merges, cur->id, w.s[cur->next].id);
            if (nm) h_push(heap, &hn, (hent){nm->rank, top.pos, nm->new_id});
        }
    }
    if (heap != stack_heap) free(heap);
    for (size_t j = 0; j < w.n; j++)
        if (w.s[j].len && (rc = mg__tok_ids_push(out, w.s[j].id)) < 0) goto out;
out:
    if (w.s != stack_syms) free(w.s);
    free(tmp);
    return rc;
}
