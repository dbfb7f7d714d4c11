/* internal.h — private structures of mg_tokenizer, shared by its source files.
 *
 * Data flow of an encode (tok_encode.c), as in the tokenizers crate:
 *   text -> lossy UTF-8 -> split on non-normalized added tokens -> normalize
 *   each remaining segment -> split on normalized added tokens -> pre-tokenize
 *   (tok_pretok.c) -> BPE each piece (tok_bpe.c) -> post-process.
 * Decoding (tok_decode.c) maps ids to token strings and runs the decoder chain.
 */
#ifndef MG_TOKENIZER_INTERNAL_H
#define MG_TOKENIZER_INTERNAL_H

#include "mg_tokenizer.h"

#include <oniguruma.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- growable byte string / vectors ---- */
typedef struct mg__tok_buf {
    char *p;
    size_t len, cap;
} mg__tok_buf;
int mg__tok_buf_put(mg__tok_buf *b, const void *s, size_t n);
int mg__tok_buf_reserve(mg__tok_buf *b, size_t extra);

typedef struct mg__tok_ids {
    int32_t *p;
    size_t len, cap;
} mg__tok_ids;
int mg__tok_ids_push(mg__tok_ids *v, int32_t id);

/* ---- UTF-8 and Unicode helpers (tok_utf8.c) ---- */
/* Decodes one code point of valid UTF-8 at s (n bytes left); returns its length. */
size_t mg__tok_utf8_next(const char *s, size_t n, int32_t *cp);
size_t mg__tok_utf8_encode(int32_t cp, char out[4]);
/* Length of the valid UTF-8 prefix of s. */
size_t mg__tok_utf8_valid_prefix(const char *s, size_t n);
/* Appends s with invalid sequences replaced by U+FFFD, as from_utf8_lossy. */
int mg__tok_utf8_lossy(mg__tok_buf *out, const char *s, size_t n);
bool mg__tok_is_whitespace(int32_t cp); /* Unicode White_Space (Rust char::is_whitespace) */
bool mg__tok_is_word(int32_t cp);       /* Rust regex \w */
bool mg__tok_is_numeric(int32_t cp);    /* Rust char::is_numeric: Nd, Nl, No */
bool mg__tok_is_punct(int32_t cp);      /* ASCII punctuation or Unicode P* */

/* ---- hash maps ---- */
uint64_t mg__tok_hash_bytes(const char *s, size_t n);
/* String -> int32 (open addressing; keys point into storage owned elsewhere).
 * Entries live in the slots themselves so a lookup touches one slot and the
 * key bytes (loading gemma3 does 1.8M lookups). */
typedef struct mg__tok_strslot {
    const char *k; /* NULL = empty */
    uint32_t len;
    int32_t val;
    uint32_t tag; /* high hash bits */
} mg__tok_strslot;
typedef struct mg__tok_strmap {
    mg__tok_strslot *slots;
    uint32_t mask;
    uint32_t n;
} mg__tok_strmap;
int mg__tok_strmap_init(mg__tok_strmap *m, uint32_t expected);
void mg__tok_strmap_free(mg__tok_strmap *m);
/* Inserts or overwrites; the key bytes must outlive the map. */
int mg__tok_strmap_put(mg__tok_strmap *m, const char *k, uint32_t klen, int32_t v);
/* Returns the value or -1. */
int32_t mg__tok_strmap_get(const mg__tok_strmap *m, const char *k, size_t klen);

/* (a, b) pair -> (rank, new_id). */
typedef struct mg__tok_merge {
    uint64_t key; /* (a << 32 | b) + 1; 0 = empty */
    uint32_t rank;
    int32_t new_id;
} mg__tok_merge;
typedef struct mg__tok_pairmap {
    mg__tok_merge *slots;
    uint32_t mask, n;
} mg__tok_pairmap;
int mg__tok_pairmap_init(mg__tok_pairmap *m, uint32_t expected);
void mg__tok_pairmap_free(mg__tok_pairmap *m);
int mg__tok_pairmap_put(mg__tok_pairmap *m, int32_t a, int32_t b, uint32_t rank, int32_t new_id);
const mg__tok_merge *mg__tok_pairmap_get(const mg__tok_pairmap *m, int32_t a, int32_t b);

/* ---- regex (Oniguruma, compiled once, searched concurrently) ---- */
typedef struct mg__tok_regex {
    regex_t *re;
} mg__tok_regex;
int mg__tok_regex_compile(mg__tok_regex *r, const char *pattern, size_t len, bool literal,
                          mg_error *err);
void mg__tok_regex_free(mg__tok_regex *r);
/* Splits s into (start, end, is_match) covering it, as the tokenizers crate's
 * Pattern::find_matches for an onig regex (empty matches right after a match
 * are skipped). Calls cb for each; returns 0 or a negative code. */
typedef int (*mg__tok_match_cb)(void *ud, size_t start, size_t end, bool is_match);
int mg__tok_regex_find_matches(const mg__tok_regex *r, const char *s, size_t n, mg__tok_match_cb cb,
                               void *ud);

/* ---- normalizers ---- */
typedef enum {
    MG_NORM_NFC,
    MG_NORM_NFD,
    MG_NORM_NFKC,
    MG_NORM_NFKD,
    MG_NORM_LOWERCASE,
    MG_NORM_REPLACE,
    MG_NORM_PREPEND,
    MG_NORM_STRIP,
    MG_NORM_SEQUENCE,
} mg__tok_norm_kind;

typedef struct mg__tok_norm {
    mg__tok_norm_kind kind;
    mg__tok_regex pattern; /* Replace */
    char *content;         /* Replace content, Prepend text */
    size_t content_len;
    bool strip_left, strip_right;
    struct mg__tok_norm *items; /* Sequence */
    size_t n_items;
} mg__tok_norm;

/* ---- pre-tokenizers ---- */
typedef enum {
    MG_SPLIT_REMOVED,
    MG_SPLIT_ISOLATED,
    MG_SPLIT_MERGED_PREV,
    MG_SPLIT_MERGED_NEXT,
    MG_SPLIT_CONTIGUOUS,
} mg__tok_split_behavior;

typedef enum {
    MG_PRE_BYTELEVEL,
    MG_PRE_SPLIT,
    MG_PRE_DIGITS,
    MG_PRE_METASPACE,
    MG_PRE_WHITESPACE,
    MG_PRE_WHITESPACE_SPLIT,
    MG_PRE_PUNCTUATION,
    MG_PRE_SEQUENCE,
} mg__tok_pre_kind;

typedef enum { MG_PREPEND_ALWAYS, MG_PREPEND_FIRST, MG_PREPEND_NEVER } mg__tok_prepend_scheme;

typedef struct mg__tok_pre {
    mg__tok_pre_kind kind;
    mg__tok_regex pattern; /* Split; ByteLevel (use_regex); Whitespace */
    bool has_pattern;
    mg__tok_split_behavior behavior;
    bool invert;
    bool add_prefix_space;  /* ByteLevel */
    bool individual_digits; /* Digits */
    int32_t replacement;    /* Metaspace */
    char repl_utf8[5];
    size_t repl_len;
    mg__tok_prepend_scheme prepend;
    bool split;
    struct mg__tok_pre *items; /* Sequence */
    size_t n_items;
} mg__tok_pre;

/* A piece of text during pre-tokenization. `origin` is true when the piece
 * starts at offset 0 of the original input (Metaspace prepend_scheme "first"). */
typedef struct mg__tok_piece {
    const char *s;
    size_t len;
    bool origin;
} mg__tok_piece;

typedef struct mg__tok_pieces {
    mg__tok_piece *p;
    size_t len, cap;
} mg__tok_pieces;
int mg__tok_pieces_push(mg__tok_pieces *v, const char *s, size_t len, bool origin);

/* A bump allocator for the strings a single encode call creates. */
typedef struct mg__tok_arena_block mg__tok_arena_block;
typedef struct mg__tok_arena {
    mg__tok_arena_block *head;
} mg__tok_arena;
char *mg__tok_arena_alloc(mg__tok_arena *a, size_t n);
void mg__tok_arena_free(mg__tok_arena *a);

/* ---- decoders ---- */
typedef enum {
    MG_DEC_BYTELEVEL,
    MG_DEC_REPLACE,
    MG_DEC_BYTEFALLBACK,
    MG_DEC_FUSE,
    MG_DEC_STRIP,
    MG_DEC_METASPACE,
    MG_DEC_SEQUENCE,
} mg__tok_dec_kind;

typedef struct mg__tok_dec {
    mg__tok_dec_kind kind;
    mg__tok_regex pattern; /* Replace */
    char *content;
    size_t content_len;
    int32_t strip_char; /* Strip */
    size_t strip_start, strip_stop;
    int32_t replacement; /* Metaspace */
    bool prepend_never;
    struct mg__tok_dec *items;
    size_t n_items;
} mg__tok_dec;

/* ---- post-processor ---- */
typedef struct mg__tok_post_item {
    bool is_sequence; /* $A */
    int32_t *ids;     /* special token ids */
    size_t n_ids;
} mg__tok_post_item;

/* ---- added tokens ---- */
typedef struct mg__tok_added {
    int32_t id;
    char *content;
    size_t len;
    char *match; /* what is matched: content, normalized when `normalized` */
    size_t match_len;
    bool special, lstrip, rstrip, single_word, normalized;
} mg__tok_added;

/* Byte trie for leftmost-longest matching of added tokens. */
typedef struct mg__tok_trie_node {
    int32_t first_child; /* index of first child, -1 none */
    int32_t next_sibling;
    int32_t value; /* index into added[] or -1 */
    uint8_t byte;
} mg__tok_trie_node;
typedef struct mg__tok_trie {
    mg__tok_trie_node *nodes;
    size_t n, cap;
    int32_t root_children[256]; /* direct index for the first byte */
} mg__tok_trie;

struct mg_tokenizer {
    /* model */
    char *vocab_blob; /* vocab strings in file order: u32 length, bytes, NUL */
    size_t vocab_blob_len;
    const char **id_str; /* id -> token string (vocab or added); NULL for gaps */
    uint32_t *id_len;
    int32_t n_ids;        /* vocab_size */
    mg__tok_strmap vocab; /* model vocab only */
    mg__tok_pairmap merges;
    bool byte_fallback, ignore_merges, fuse_unk;
    int32_t unk_id; /* -1 none */
    char *subword_prefix, *word_suffix;
    size_t subword_prefix_len, word_suffix_len;
    int32_t byte_ids[256]; /* <0xXX> tokens for byte fallback, -1 if absent */
    int32_t char_ids[128]; /* single ASCII char tokens, -1 if absent (speed) */
    int32_t *bmp_ids;      /* single-character tokens of the BMP by code point, -1 if absent */

    /* BPE word cache, one per thread (no locking on the encode path): a
     * pthread key per tokenizer; every cache is also on a registry so that
     * mg_tokenizer_free releases the caches of threads still alive. */
    bool cache_ok;
    pthread_key_t cache_key;
    pthread_mutex_t cache_mu;
    struct mg__tok_cache *caches;

    /* pipeline */
    mg__tok_norm *normalizer; /* NULL none */
    mg__tok_pre *pre;         /* NULL none */
    mg__tok_dec *decoder;     /* NULL none: tokens joined with " " */
    mg__tok_post_item *post;  /* TemplateProcessing single, flattened; NULL none */
    size_t n_post;
    bool has_post;

    /* added tokens */
    mg__tok_added *added;
    size_t n_added;
    mg__tok_strmap added_map; /* content -> id */
    int32_t *added_of_id;     /* id -> index into added[] or -1 (n_ids entries) */
    uint8_t *special_of_id;   /* id -> 1 when its string is a special token */
    mg__tok_trie trie_raw, trie_norm;
    bool has_raw, has_norm;

    /* byte-level tables */
    int32_t byte_to_cp[256];
    int16_t cp_byte[512]; /* inverse: code point -> byte, -1 none */
    char byte_utf8[256][3];
    uint8_t byte_utf8_len[256];

    /* tokenizer_config.json & co */
    char *tokenizer_class;
    char *bos_token, *eos_token, *pad_token;
    int32_t pad_id;
    int64_t model_max_length;
    int32_t bos_id;
    int32_t *eos_ids;
    int n_eos;
    int add_bos_token, add_eos_token; /* -1 unset, 0, 1 */

    /* What transformers (v5) runs for tokenizer.encode(prompt); see
     * mg_tokenizer_encode_prompt and docs/TOKENIZER.md. */
    enum { MG__TF_BACKEND, MG__TF_LLAMA, MG__TF_GEMMA } tf_mode;
    mg__tok_norm tf_norm;
    mg__tok_pre tf_pre;
    mg__tok_post_item *tf_post;
    size_t n_tf_post;
};

/* tok_fastjson.c: scanner for model.vocab / model.merges (see there). Return
 * -1 when the text is not what they accept, else 0 or the callback's error. */
typedef int (*mg__tok_vocab_cb)(void *ud, const char *key, size_t len, int64_t id);
typedef int (*mg__tok_merge_cb)(void *ud, size_t i, const char *a, size_t al, const char *b,
                                size_t bl, bool legacy);
int mg__tok_fj_string(const char *s, size_t n, size_t *p, mg__tok_buf *out);
int mg__tok_fj_locate(const char *s, size_t n, size_t range[4]);
int mg__tok_fj_vocab(const char *s, size_t n, mg__tok_vocab_cb cb, void *ud);
int mg__tok_fj_merges(const char *s, size_t n, mg__tok_merge_cb cb, void *ud);

/* tok_load.c */
int mg__tok_parse_tokenizer_json(mg_tokenizer *t, const char *json, size_t len, const char *name,
                                 mg_error *err);
/* tok_norm.c */
int mg__tok_normalize(const mg__tok_norm *n, const char *s, size_t len, mg__tok_buf *out);
void mg__tok_norm_free(mg__tok_norm *n);
/* tok_pretok.c */
int mg__tok_pretokenize(const mg_tokenizer *t, const mg__tok_pre *p, mg__tok_pieces *in,
                        mg__tok_pieces *out, mg__tok_arena *a);
void mg__tok_pre_free(mg__tok_pre *p);
/* tok_bpe.c */
int mg__tok_cache_init(mg_tokenizer *t);
void mg__tok_cache_fini(mg_tokenizer *t);
int mg__tok_bpe(const mg_tokenizer *t, const char *s, size_t len, mg__tok_ids *out);
/* tok_decode.c */
void mg__tok_dec_free(mg__tok_dec *d);
/* tok_trie (tok_added.c) */
int mg__tok_trie_add(mg__tok_trie *t, const char *s, size_t len, int32_t value);
void mg__tok_trie_free(mg__tok_trie *t);
void mg__tok_trie_init(mg__tok_trie *t);
/* Splits `s` on added tokens of `trie` (as AddedVocabulary::find_matches) and
 * calls cb(ud, start, end, added_index or -1) for each split. */
typedef int (*mg__tok_split_cb)(void *ud, size_t start, size_t end, int32_t added_index);
int mg__tok_added_split(const mg_tokenizer *t, const mg__tok_trie *trie, const char *s, size_t n,
                        mg__tok_split_cb cb, void *ud);

#endif
