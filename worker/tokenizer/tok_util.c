/* tok_util.c — buffers, UTF-8, Unicode classes, hash maps and the arena the
 * tokenizer is built on. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- buffers ---- */

int mg__tok_buf_reserve(mg__tok_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) return MG_ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) return MG_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Keeps the buffer NUL-terminated so callers can hand it out as a C string. */
int mg__tok_buf_put(mg__tok_buf *b, const void *s, size_t n)
{
    if (mg__tok_buf_reserve(b, n) < 0) return MG_ENOMEM;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int mg__tok_ids_push(mg__tok_ids *v, int32_t id)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        int32_t *p = realloc(v->p, cap * sizeof *p);
        if (!p) return MG_ENOMEM;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->len++] = id;
    return 0;
}

int mg__tok_pieces_push(mg__tok_pieces *v, const char *s, size_t len, bool origin)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 32;
        mg__tok_piece *p = realloc(v->p, cap * sizeof *p);
        if (!p) return MG_ENOMEM;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->len++] = (mg__tok_piece){s, len, origin};
    return 0;
}

/* ---- arena ---- */

struct mg__tok_arena_block {
    mg__tok_arena_block *next;
    size_t used, cap;
    _Alignas(16) char data[];
};

char *mg__tok_arena_alloc(mg__tok_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    mg__tok_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

void mg__tok_arena_free(mg__tok_arena *a)
{
    mg__tok_arena_block *b = a->head;
    while (b) {
        mg__tok_arena_block *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
}

/* ---- UTF-8 ---- */

size_t mg__tok_utf8_next(const char *s, size_t n, int32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80 || n < 2) {
        *cp = u[0];
        return 1;
    }
    if (u[0] < 0xE0) {
        *cp = ((u[0] & 0x1F) << 6) | (u[1] & 0x3F);
        return 2;
    }
    if (u[0] < 0xF0 || n < 4) {
        if (n < 3) {
            *cp = u[0];
            return 1;
        }
        *cp = ((u[0] & 0x0F) << 12) | ((u[1] & 0x3F) << 6) | (u[2] & 0x3F);
        return 3;
    }
    *cp = ((u[0] & 0x07) << 18) | ((u[1] & 0x3F) << 12) | ((u[2] & 0x3F) << 6) | (u[3] & 0x3F);
    return 4;
}

size_t mg__tok_utf8_encode(int32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid sequence at s (1..4), or 0 when invalid; *bad gets the
 * length of the maximal invalid subpart (what one U+FFFD replaces, the
 * "substitution of maximal subparts" practice Rust and Python follow). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned c = s[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= n) break;
        unsigned b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
    }
    if (i == need + 1) return need + 1;
    *bad = i;
    return 0;
}

size_t mg__tok_utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t bad = 0, k = utf8_seq(u + i, n - i, &bad);
        if (!k) return i;
        i += k;
    }
    return n;
}

int mg__tok_utf8_lossy(mg__tok_buf *out, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t ok = mg__tok_utf8_valid_prefix(s + i, n - i);
        if (mg__tok_buf_put(out, s + i, ok) < 0) return MG_ENOMEM;
        i += ok;
        if (i >= n) break;
        size_t bad = 1;
        utf8_seq(u + i, n - i, &bad);
        if (mg__tok_buf_put(out, "\xEF\xBF\xBD", 3) < 0) return MG_ENOMEM;
        i += bad;
    }
    if (mg__tok_buf_reserve(out, 0) < 0) return MG_ENOMEM;
    out->p[out->len] = 0;
    return 0;
}

/* ---- Unicode classes ---- */

bool mg__tok_is_whitespace(int32_t c)
{
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
    switch (c) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return true;
    default:
        return c >= 0x2000 && c <= 0x200A;
    }
}

bool mg__tok_is_word(int32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    if (c == 0x200C || c == 0x200D) return true; /* Join_Control */
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return false;
    }
}

bool mg__tok_is_numeric(int32_t c)
{
    if (c < 0x80) return c >= '0' && c <= '9';
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

bool mg__tok_is_punct(int32_t c)
{
    if (c < 0x80)
        return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
               (c >= 0x7B && c <= 0x7E);
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return true;
    default:
        return false;
    }
}

/* ---- hash maps ---- */

uint64_t mg__tok_hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

int mg__tok_strmap_init(mg__tok_strmap *m, uint32_t expected)
{
    memset(m, 0, sizeof *m);
    uint32_t size = 16;
    while (size < (uint64_t)expected * 2 + 2 && size < (1u << 30)) size *= 2;
    m->slots = calloc(size, sizeof *m->slots);
    if (!m->slots) return MG_ENOMEM;
    m->mask = size - 1;
    return 0;
}

void mg__tok_strmap_free(mg__tok_strmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static int strmap_grow(mg__tok_strmap *m)
{
    uint32_t size = (m->mask + 1) * 2;
    mg__tok_strslot *slots = calloc(size, sizeof *slots);
    if (!slots) return MG_ENOMEM;
    for (uint32_t i = 0; i <= m->mask; i++) {
        if (!m->slots[i].k) continue;
        uint64_t h = mg__tok_hash_bytes(m->slots[i].k, m->slots[i].len);
        uint32_t j = (uint32_t)h & (size - 1);
        while (slots[j].k) j = (j + 1) & (size - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->mask = size - 1;
    return 0;
}

int mg__tok_strmap_put(mg__tok_strmap *m, const char *k, uint32_t klen, int32_t v)
{
    uint64_t h = mg__tok_hash_bytes(k, klen);
    uint32_t tag = (uint32_t)(h >> 32), j = (uint32_t)h & m->mask;
    while (m->slots[j].k) {
        mg__tok_strslot *e = &m->slots[j];
        if (e->tag == tag && e->len == klen && memcmp(e->k, k, klen) == 0) {
            e->val = v;
            return 0;
        }
        j = (j + 1) & m->mask;
    }
    m->slots[j] = (mg__tok_strslot){k, klen, v, tag};
    m->n++;
    if ((uint64_t)m->n * 2 > m->mask) return strmap_grow(m);
    return 0;
}

int32_t mg__tok_strmap_get(const mg__tok_strmap *m, const char *k, size_t klen)
{
    if (!m->slots) return -1;
    uint64_t h = mg__tok_hash_bytes(k, klen);
    uint32_t tag = (uint32_t)(h >> 32), j = (uint32_t)h & m->mask;
    while (m->slots[j].k) {
        const mg__tok_strslot *e = &m->slots[j];
        if (e->tag == tag && e->len == klen && memcmp(e->k, k, klen) == 0) return e->val;
        j = (j + 1) & m->mask;
    }
    return -1;
}

static inline uint32_t hash_pair(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ull;
    key ^= key >> 33;
    return (uint32_t)key;
}

int mg__tok_pairmap_init(mg__tok_pairmap *m, uint32_t expected)
{
    uint32_t size = 16;
    while (size < expected * 2 + 2) size *= 2;
    m->slots = calloc(size, sizeof *m->slots);
    if (!m->slots) return MG_ENOMEM;
    m->mask = size - 1;
    m->n = 0;
    return 0;
}

void mg__tok_pairmap_free(mg__tok_pairmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static int pairmap_grow(mg__tok_pairmap *m)
{
    uint32_t size = (m->mask + 1) * 2;
    mg__tok_merge *slots = calloc(size, sizeof *slots);
    if (!slots) return MG_ENOMEM;
    for (uint32_t i = 0; i <= m->mask; i++) {
        if (!m->slots[i].key) continue;
        uint32_t j = hash_pair(m->slots[i].key) & (size - 1);
        while (slots[j].key) j = (j + 1) & (size - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->mask = size - 1;
    return 0;
}

/* A later duplicate overwrites (rank of the last occurrence, as the
 * reference's HashMap collect). */
int mg__tok_pairmap_put(mg__tok_pairmap *m, int32_t a, int32_t b, uint32_t rank, int32_t new_id)
{
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    uint32_t j = hash_pair(key) & m->mask;
    while (m->slots[j].key && m->slots[j].key != key) j = (j + 1) & m->mask;
    if (!m->slots[j].key) m->n++;
    m->slots[j] = (mg__tok_merge){key, rank, new_id};
    if ((uint64_t)m->n * 2 > m->mask) return pairmap_grow(m);
    return 0;
}

const mg__tok_merge *mg__tok_pairmap_get(const mg__tok_pairmap *m, int32_t a, int32_t b)
{
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    uint32_t j = hash_pair(key) & m->mask;
    while (m->slots[j].key) {
        if (m->slots[j].key == key) return &m->slots[j];
        j = (j + 1) & m->mask;
    }
    return NULL;
}
