/* mg_tokenizer.h — Hugging Face tokenizer.json, bit-identical to the `tokenizers` library.
 *
 * Reads a model folder's tokenizer.json (model BPE; normalizers, pre-tokenizers,
 * post-processors, decoders, added_tokens) plus tokenizer_config.json,
 * special_tokens_map.json and generation_config.json when present, and encodes
 * and decodes exactly as the Rust `tokenizers` crate does. Any feature met in a
 * file that this library does not implement is a load error naming it, never a
 * silent difference. docs/TOKENIZER.md lists what is supported and the rules.
 *
 * Usage:
 *
 *     mg_tokenizer *tok;
 *     mg_error err = {0};
 *     if (mg_tokenizer_load("models/qwen3", &tok, &err) < 0) { ... err.msg ... }
 *     int32_t *ids; size_t n;
 *     mg_tokenizer_encode_prompt(tok, prompt, strlen(prompt), &ids, &n, &err);
 *     ...
 *     mg_detok *d; mg_detok_new(tok, true, &d, &err);
 *     for each generated id: mg_detok_push(d, id, &piece, &len, &err); emit; free(piece);
 *     mg_detok_flush(d, &piece, &len, &err); emit; free(piece);
 *     mg_detok_free(d);
 *     free(ids);
 *     mg_tokenizer_free(tok);
 *
 * Thread-safety: a loaded tokenizer is logically immutable; encode, decode
 * and the accessors may be called concurrently from any number of threads on
 * one `const mg_tokenizer *` (each thread gets its own BPE word cache, so the
 * encode path takes no lock). mg_tokenizer_free may only run once no thread
 * is using it; it also releases the caches of threads still alive. An
 * mg_detok belongs to one thread at a time.
 *
 * Text input: the reference takes a Rust `str` (always valid UTF-8). Input
 * bytes that are not valid UTF-8 are first replaced, per maximal invalid
 * subsequence, by U+FFFD (as Rust's String::from_utf8_lossy and Python's
 * bytes.decode("utf-8", "replace") do), and the result is encoded. NUL bytes
 * are ordinary characters (lengths are explicit).
 */
#ifndef MG_TOKENIZER_H
#define MG_TOKENIZER_H

#include "mg_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mg_tokenizer mg_tokenizer;

/* Loads `dir`/tokenizer.json and, when present, tokenizer_config.json,
 * special_tokens_map.json and generation_config.json. On success *out owns the
 * tokenizer (free with mg_tokenizer_free). Errors: -ENOENT (no tokenizer.json),
 * MG_EFORMAT (malformed JSON or values; the message names the file and key),
 * MG_EUNSUPPORTED (a feature this library does not implement, named). */
int mg_tokenizer_load(const char *dir, mg_tokenizer **out, mg_error *err);

/* Same, from the bytes of a tokenizer.json alone (no config files): used by
 * tests and the fuzz harness. `name` is used in error messages. */
int mg_tokenizer_load_json(const char *json, size_t len, const char *name, mg_tokenizer **out,
                           mg_error *err);

/* Frees everything; NULL is ignored. No encode/decode may be running on it. */
void mg_tokenizer_free(mg_tokenizer *t);

/* tokenizer.json semantics, as `Tokenizer.encode(text, add_special_tokens)` of
 * the tokenizers library (the post-processor adds its tokens only when
 * add_special_tokens). *ids is malloc'd (free it; may be NULL when *n_ids is 0).
 * Errors: -ENOMEM, MG_EFORMAT (a regex failing at run time). */
int mg_tokenizer_encode(const mg_tokenizer *t, const char *text, size_t len,
                        bool add_special_tokens, int32_t **ids, size_t *n_ids, mg_error *err);

/* What transformers' `AutoTokenizer.from_pretrained(dir).encode(text)` gives:
 * for tokenizer_class LlamaTokenizer(Fast)/GemmaTokenizer(Fast)/CodeLlama the
 * post-processor is replaced by BOS (if add_bos_token, default true) + text +
 * EOS (if add_eos_token, default false); otherwise encode(text, true).
 * docs/TOKENIZER.md states the rules. Ownership as mg_tokenizer_encode. */
int mg_tokenizer_encode_prompt(const mg_tokenizer *t, const char *text, size_t len, int32_t **ids,
                               size_t *n_ids, mg_error *err);

/* `Tokenizer.decode(ids, skip_special_tokens)`: ids out of range are skipped
 * (as the reference does). *text is malloc'd and NUL-terminated, *len excludes
 * the NUL. Errors: -ENOMEM. */
int mg_tokenizer_decode(const mg_tokenizer *t, const int32_t *ids, size_t n,
                        bool skip_special_tokens, char **text, size_t *len, mg_error *err);

/* Streaming decoder. The concatenation of every piece from push and flush
 * equals mg_tokenizer_decode of all the ids pushed; a piece never ends inside a
 * UTF-8 character (text is held back while the decode ends in an incomplete
 * byte sequence). *piece is malloc'd and NUL-terminated (may be empty). The
 * tokenizer must outlive the decoder. */
typedef struct mg_detok mg_detok;
int mg_detok_new(const mg_tokenizer *t, bool skip_special_tokens, mg_detok **out, mg_error *err);
int mg_detok_push(mg_detok *d, int32_t id, char **piece, size_t *piece_len, mg_error *err);
/* End of sequence: returns whatever is still held back; the decoder is then
 * reset and may be reused for a new sequence. */
int mg_detok_flush(mg_detok *d, char **piece, size_t *piece_len, mg_error *err);
void mg_detok_free(mg_detok *d);

/* One more than the largest id of the model vocabulary and added tokens. */
int mg_tokenizer_vocab_size(const mg_tokenizer *t);
/* tokenizer_config.json (or special_tokens_map.json) bos_token's id; -1 if none. */
int mg_tokenizer_bos_id(const mg_tokenizer *t);
/* generation_config.json eos_token_id (int or list), else the config's
 * eos_token. Returns the count; *ids points into the tokenizer (do not free). */
int mg_tokenizer_eos_ids(const mg_tokenizer *t, const int32_t **ids);
/* The token's string (vocabulary form, e.g. "Ġthe", "<0x0A>"); NULL if out of
 * range. Points into the tokenizer. */
const char *mg_tokenizer_token_text(const mg_tokenizer *t, int32_t id);
/* The id of a token string (added tokens first, then the vocabulary); -1 if none. */
int32_t mg_tokenizer_token_id(const mg_tokenizer *t, const char *token, size_t len);
/* Whether `id` is a special added token (skipped by skip_special_tokens). */
bool mg_tokenizer_is_special(const mg_tokenizer *t, int32_t id);
/* tokenizer_config.json pad_token's id (string or AddedToken); -1 if none. */
int mg_tokenizer_pad_id(const mg_tokenizer *t);
/* tokenizer_config.json model_max_length (often 1e30 meaning "none": values
 * beyond INT64_MAX are clamped); -1 if absent. */
int64_t mg_tokenizer_model_max_length(const mg_tokenizer *t);
/* tokenizer_config.json bos_token / eos_token strings; NULL if none. */
const char *mg_tokenizer_bos_token(const mg_tokenizer *t);
const char *mg_tokenizer_eos_token(const mg_tokenizer *t);

#endif /* MG_TOKENIZER_H */
