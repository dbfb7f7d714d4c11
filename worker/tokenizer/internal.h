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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- growable byte string / vectors ---- */
typedef struct mg__buf {
    char *p;
    size_t len, cap;
} mg__buf;
int mg__buf_put(mg__buf *b, const void *s, size_t n);
int mg__buf_reserve(mg__buf *b, size_t extra);

typedef struct mg__ids {
    int32_t *p;
    size_t len, cap;
} mg__ids;
int mg__ids_push(mg__ids *v, int32_t id);

/* ---- UTF-8 and Unicode helpers (tok_utf8.c) ---- */
/* Decodes one code point of valid UTF-8 at s (n bytes left); returns its length. */
size_t mg__utf8_next(const char *s, size_t n, int32_t *cp);
size_t mg__utf8_encode(int32_t cp, char out[4]);
/* Length of the valid UTF-8 prefix of s. */
size_t mg__utf8_valid_prefix(const char *s, size_t n);
/* Appends s with invalid sequences replaced by U+FFFD, as from_utf8_lossy. */
int mg__utf8_lossy(mg__buf *out, const char *s, size_t n);
bool mg__is_whitespace(int32_t cp); /* Unicode White_Space (Rust char::is_whitespace) */
bool mg__is_word(int32_t cp);       /* Rust regex \w */
bool mg__is_numeric(int32_t cp);    /* Rust char::is_numeric: Nd, Nl, No */
bool mg__is_punct(int32_t cp);      /* ASCII punctuation or Unicode P* */

/* ---- hash maps ---- */
/* String -> int32 (open addressing; keys point into storage owned elsewhere). */
typedef struct mg__strmap {
    uint32_t *slots; /* index+1 into keys, 0 = empty */
    uint32_t mask;
    uint32_t n;
    const char **keys;
    uint32_t *klens;
    int32_t *vals;
    uint32_t cap;
} mg__strmap;
int mg__strmap_init(mg__strmap *m, uint32_t expected);
void mg__strmap_free(mg__strmap *m);
/* Inserts or overwrites; the key bytes must outlive the map. */
int mg__strmap_put(mg__strmap *m, const char *k, uint32_t klen, int32_t v);
/* Returns the value or -1. */
int32_t mg__strmap_get(const mg__strmap *m, const char *k, size_t klen);

/* (a, b) pair -> (rank, new_id). */
typedef struct mg__merge {
    uint64_t key; /* (a << 32 | b) + 1; 0 = empty */
    uint32_t rank;
    int32_t new_id;
} mg__merge;
typedef struct mg__pairmap {
    mg__merge *slots;
    uint32_t mask, n;
} mg__pairmap;
int mg__pairmap_init(mg__pairmap *m, uint32_t expected);
void mg__pairmap_free(mg__pairmap *m);
void mg__pairmap_put(mg__pairmap *m, int32_t a, int32_t b, uint32_t rank, int32_t new_id);
const mg__merge *mg__pairmap_get(const mg__pairmap *m, int32_t a, int32_t b);

/* ---- regex (Oniguruma, compiled once, searched concurrently) ---- */
typedef struct mg__regex {
    regex_t *re;
} mg__regex;
int mg__regex_compile(mg__regex *r, const char *pattern, size_t len, bool literal, mg_error *err);
void mg__regex_free(mg__regex *r);
/* Splits s into (start, end, is_match) covering it, as the tokenizers crate's
 * Pattern::find_matches for an onig regex (empty matches right after a match
 * are skipped). Calls cb for each; returns 0 or a negative code. */
typedef int (*mg__match_cb)(void *ud, size_t start, size_t end, bool is_match);
int mg__regex_find_matches(const mg__regex *r, const char *s, size_t n, mg__match_cb cb, void *ud);

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
} mg__norm_kind;

typedef struct mg__norm {
    mg__norm_kind kind;
    mg__regex pattern; /* Replace */
    char *content;     /* Replace content, Prepend text */
    size_t content_len;
    bool strip_left, strip_right;
    struct mg__norm *items; /* Sequence */
    size_t n_items;
} mg__norm;

/* ---- pre-tokenizers ---- */
typedef enum {
    MG_SPLIT_REMOVED,
    MG_SPLIT_ISOLATED,
    MG_SPLIT_MERGED_PREV,
    MG_SPLIT_MERGED_NEXT,
    MG_SPLIT_CONTIGUOUS,
} mg__split_behavior;

typedef enum {
    MG_PRE_BYTELEVEL,
    MG_PRE_SPLIT,
    MG_PRE_DIGITS,
    MG_PRE_METASPACE,
    MG_PRE_WHITESPACE,
    MG_PRE_WHITESPACE_SPLIT,
    MG_PRE_PUNCTUATION,
    MG_PRE_SEQUENCE,
} mg__pre_kind;

typedef enum { MG_PREPEND_ALWAYS, MG_PREPEND_FIRST, MG_PREPEND_NEVER } mg__prepend_scheme;

typedef struct mg__pre {
    mg__pre_kind kind;
    mg__regex pattern; /* Split; ByteLevel (use_regex); Whitespace */
    bool has_pattern;
    mg__split_behavior behavior;
    bool invert;
    bool add_prefix_space;  /* ByteLevel */
    bool individual_digits; /* Digits */
    int32_t replacement;    /* Metaspace */
    char repl_utf8[5];
    size_t repl_len;
    mg__prepend_scheme prepend;
    bool split;
    struct mg__pre *items; /* Sequence */
    size_t n_items;
} mg__pre;

/* A piece of text during pre-tokenization. `origin` is true when the piece
 * starts at offset 0 of the original input (Metaspace prepend_scheme "first"). */
typedef struct mg__piece {
    const char *s;
    size_t len;
    bool origin;
} mg__piece;

typedef struct mg__pieces {
    mg__piece *p;
    size_t len, cap;
} mg__pieces;
int mg__pieces_push(mg__pieces *v, const char *s, size_t len, bool origin);

/* A bump allocator for the strings a single encode call creates. */
typedef struct mg__arena_block mg__arena_block;
typedef struct mg__arena {
    mg__arena_block *head;
} mg__arena;
char *mg__arena_alloc(mg__arena *a, size_t n);
void mg__arena_free(mg__arena *a);

/* ---- decoders ---- */
typedef enum {
    MG_DEC_BYTELEVEL,
    MG_DEC_REPLACE,
    MG_DEC_BYTEFALLBACK,
    MG_DEC_FUSE,
    MG_DEC_STRIP,
    MG_DEC_METASPACE,
    MG_DEC_SEQUENCE,
} mg__dec_kind;

typedef struct mg__dec {
    mg__dec_kind kind;
    mg__regex pattern; /* Replace */
    char *content;
    size_t content_len;
    int32_t strip_char; /* Strip */
    size_t strip_start, strip_stop;
    int32_t replacement; /* Metaspace */
    bool prepend_never;
    struct mg__dec *items;
    size_t n_items;
} mg__dec;

/* ---- post-processor ---- */
typedef struct mg__post_item {
    bool is_sequence; /* $A */
    int32_t *ids;     /* special token ids */
    size_t n_ids;
} mg__post_item;

/* ---- added tokens ---- */
typedef struct mg__added {
    int32_t id;
    char *content;
    size_t len;
    char *match; /* what is matched: content, normalized when `normalized` */
    size_t match_len;
    bool special, lstrip, rstrip, single_word, normalized;
} mg__added;

/* Byte trie for leftmost-longest matching of added tokens. */
typedef struct mg__trie_node {
    int32_t first_child; /* index of first child, -1 none */
    int32_t next_sibling;
    int32_t value; /* index into added[] or -1 */
    uint8_t byte;
} mg__trie_node;
typedef struct mg__trie {
    mg__trie_node *nodes;
    size_t n, cap;
    int32_t root_children[256]; /* direct index for the first byte */
} mg__trie;

struct mg_tokenizer {
    /* model */
    char *vocab_blob;    /* all vocab strings, NUL-separated */
    const char **id_str; /* id -> token string (vocab or added); NULL for gaps */
    uint32_t *id_len;
    int32_t n_ids;    /* vocab_size */
    mg__strmap vocab; /* model vocab only */
    mg__pairmap merges;
    bool byte_fallback, ignore_merges, fuse_unk;
    int32_t unk_id; /* -1 none */
    char *subword_prefix, *word_suffix;
    size_t subword_prefix_len, word_suffix_len;
    int32_t byte_ids[256]; /* <0xXX> tokens for byte fallback, -1 if absent */
    int32_t char_ids[128]; /* single ASCII char tokens, -1 if absent (speed) */

    /* pipeline */
    mg__norm *normalizer; /* NULL none */
    mg__pre *pre;         /* NULL none */
    mg__dec *decoder;     /* NULL none: tokens joined with " " */
    mg__post_item *post;  /* TemplateProcessing single, flattened; NULL none */
    size_t n_post;
    bool has_post;

    /* added tokens */
    mg__added *added;
    size_t n_added;
    mg__strmap added_map;   /* content -> id */
    int32_t *added_of_id;   /* id -> index into added[] or -1 (n_ids entries) */
    uint8_t *special_of_id; /* id -> 1 when its string is a special token */
    mg__trie trie_raw, trie_norm;
    bool has_raw, has_norm;

    /* byte-level tables */
    int32_t byte_to_cp[256];
    int16_t cp_byte[512]; /* inverse: code point -> byte, -1 none */
    char byte_utf8[256][3];
    uint8_t byte_utf8_len[256];

    /* tokenizer_config.json & co */
    char *tokenizer_class;
    char *bos_token, *eos_token;
    int32_t bos_id;
    int32_t *eos_ids;
    int n_eos;
    int add_bos_token, add_eos_token; /* -1 unset, 0, 1 */
    char *chat_template;

    /* What transformers (v5) runs for tokenizer.encode(prompt); see
     * mg_tokenizer_encode_prompt and docs/TOKENIZER.md. */
    enum { MG__TF_BACKEND, MG__TF_LLAMA, MG__TF_GEMMA } tf_mode;
    mg__norm tf_norm;
    mg__pre tf_pre;
    mg__post_item *tf_post;
    size_t n_tf_post;
};

/* tok_load.c */
int mg__parse_tokenizer_json(mg_tokenizer *t, const char *json, size_t len, const char *name,
                             mg_error *err);
/* tok_norm.c */
int mg__normalize(const mg__norm *n, const char *s, size_t len, mg__buf *out);
void mg__norm_free(mg__norm *n);
/* tok_pretok.c */
int mg__pretokenize(const mg_tokenizer *t, const mg__pre *p, mg__pieces *in, mg__pieces *out,
                    mg__arena *a);
void mg__pre_free(mg__pre *p);
/* tok_bpe.c */
int mg__bpe(const mg_tokenizer *t, const char *s, size_t len, mg__ids *out);
/* tok_decode.c */
void mg__dec_free(mg__dec *d);
/* tok_trie (tok_added.c) */
int mg__trie_add(mg__trie *t, const char *s, size_t len, int32_t value);
void mg__trie_free(mg__trie *t);
void mg__trie_init(mg__trie *t);
/* Splits `s` on added tokens of `trie` (as AddedVocabulary::find_matches) and
 * calls cb(ud, start, end, added_index or -1) for each split. */
typedef int (*mg__split_cb)(void *ud, size_t start, size_t end, int32_t added_index);
int mg__added_split(const mg_tokenizer *t, const mg__trie *trie, const char *s, size_t n,
                    mg__split_cb cb, void *ud);

#endif
