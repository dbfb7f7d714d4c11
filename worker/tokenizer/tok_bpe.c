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

/* ---- per-thread word cache ----
 * Prompts repeat words ("Ġthe", "▁return") within and across calls; the
 * reference keeps a per-thread cache too. Keys are pieces up to 128 bytes; a
 * full cache is simply cleared. */
#define CACHE_SLOTS     16384 /* power of two, twice the entries */
#define CACHE_ENTRIES   8192
#define CACHE_KEY_BYTES (512 * 1024)
#define CACHE_IDS       (128 * 1024)
#define CACHE_MAX_KEY   128

typedef struct centry {
    uint64_t hash;
    uint32_t key_off, key_len, ids_off, n_ids;
} centry;

typedef struct mg__tok_cache {
    struct mg__tok_cache *prev, *next;
    mg_tokenizer *owner;
    uint32_t *slots; /* entry index + 1, 0 = empty */
    centry *entries;
    uint32_t n_entries;
    char *keys;
    size_t keys_len;
    int32_t *ids;
    size_t ids_len;
} mg__tok_cache;

static void cache_release(mg__tok_cache *c)
{
    free(c->slots);
    free(c->entries);
    free(c->keys);
    free(c->ids);
    free(c);
}

/* Thread exit: unregister and free. */
static void cache_destroy(void *p)
{
    mg__tok_cache *c = p;
    mg_tokenizer *t = c->owner;
    pthread_mutex_lock(&t->cache_mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->caches = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&t->cache_mu);
    cache_release(c);
}

int mg__tok_cache_init(mg_tokenizer *t)
{
    if (pthread_mutex_init(&t->cache_mu, NULL) != 0) return 0;
    if (pthread_key_create(&t->cache_key, cache_destroy) != 0) {
        pthread_mutex_destroy(&t->cache_mu);
        return 0; /* no cache: slower, same results */
    }
    t->cache_ok = true;
    return 0;
}

void mg__tok_cache_fini(mg_tokenizer *t)
{
    if (!t->cache_ok) return;
    pthread_mutex_lock(&t->cache_mu);
    mg__tok_cache *c = t->caches;
    while (c) {
        mg__tok_cache *n = c->next;
        cache_release(c);
        c = n;
    }
    t->caches = NULL;
    pthread_mutex_unlock(&t->cache_mu);
    /* no destructor runs for this key after this (POSIX) */
    pthread_key_delete(t->cache_key);
    pthread_mutex_destroy(&t->cache_mu);
    t->cache_ok = false;
}

static mg__tok_cache *cache_get(const mg_tokenizer *tc)
{
    if (!tc->cache_ok) return NULL;
    mg__tok_cache *c = pthread_getspecific(tc->cache_key);
    if (c) return c;
    /* The registry is the one mutable part of a loaded tokenizer, guarded
     * by its mutex; encode otherwise only reads. */
    mg_tokenizer *t = (mg_tokenizer *)tc;
    c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->owner = t;
    c->slots = calloc(CACHE_SLOTS, sizeof *c->slots);
    c->entries = malloc(CACHE_ENTRIES * sizeof *c->entries);
    c->keys = malloc(CACHE_KEY_BYTES);
    c->ids = malloc(CACHE_IDS * sizeof *c->ids);
    if (!c->slots || !c->entries || !c->keys || !c->ids) {
        cache_release(c);
        return NULL;
    }
    pthread_mutex_lock(&t->cache_mu);
    c->next = t->caches;
    if (t->caches) t->caches->prev = c;
    t->caches = c;
    pthread_mutex_unlock(&t->cache_mu);
    if (pthread_setspecific(t->cache_key, c) != 0) {
        cache_destroy(c);
        return NULL;
    }
    return c;
}

static const centry *cache_find(const mg__tok_cache *c, const char *s, size_t len, uint64_t h)
{
    uint32_t j = (uint32_t)h & (CACHE_SLOTS - 1);
    while (c->slots[j]) {
        const centry *e = &c->entries[c->slots[j] - 1];
        if (e->hash == h && e->key_len == len && !memcmp(c->keys + e->key_off, s, len)) return e;
        j = (j + 1) & (CACHE_SLOTS - 1);
    }
    return NULL;
}

static void cache_put(mg__tok_cache *c, const char *s, size_t len, uint64_t h, const int32_t *ids,
                      size_t n)
{
    if (n > 4096) return;
    if (c->n_entries == CACHE_ENTRIES || c->keys_len + len > CACHE_KEY_BYTES ||
        c->ids_len + n > CACHE_IDS) {
        memset(c->slots, 0, CACHE_SLOTS * sizeof *c->slots);
        c->n_entries = 0;
        c->keys_len = 0;
        c->ids_len = 0;
    }
    centry *e = &c->entries[c->n_entries];
    *e = (centry){h, (uint32_t)c->keys_len, (uint32_t)len, (uint32_t)c->ids_len, (uint32_t)n};
    memcpy(c->keys + c->keys_len, s, len);
    c->keys_len += len;
    if (n) memcpy(c->ids + c->ids_len, ids, n * sizeof *ids);
    c->ids_len += n;
    uint32_t j = (uint32_t)h & (CACHE_SLOTS - 1);
    while (c->slots[j]) j = (j + 1) & (CACHE_SLOTS - 1);
    c->slots[j] = ++c->n_entries;
}

static int bpe_word(const mg_tokenizer *t, const char *s, size_t len, mg__tok_ids *out);

int mg__tok_bpe(const mg_tokenizer *t, const char *s, size_t len, mg__tok_ids *out)
{
    if (len == 0) return 0;
    if (t->ignore_merges) {
        int32_t id = mg__tok_strmap_get(&t->vocab, s, len);
        if (id >= 0) return mg__tok_ids_push(out, id);
    }
    mg__tok_cache *c = len <= CACHE_MAX_KEY ? cache_get(t) : NULL;
    if (!c) return bpe_word(t, s, len, out);
    uint64_t h = mg__tok_hash_bytes(s, len);
    const centry *e = cache_find(c, s, len, h);
    if (e) {
        for (uint32_t i = 0; i < e->n_ids; i++)
            if (mg__tok_ids_push(out, c->ids[e->ids_off + i]) < 0) return MG_ENOMEM;
        return 0;
    }
    size_t start = out->len;
    int rc = bpe_word(t, s, len, out);
    if (rc >= 0)
        cache_put(c, s, len, h, out->len > start ? out->p + start : NULL, out->len - start);
    return rc;
}

static int bpe_word(const mg_tokenizer *t, const char *s, size_t len, mg__tok_ids *out)
{
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
