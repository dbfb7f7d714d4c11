/* tok_load.c — reads tokenizer.json (model, added_tokens, pipeline) and the
 * config files beside it into an immutable mg_tokenizer. */
#include "internal.h"
#include "tok_json.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Ids are bounded so a hostile file cannot make us allocate gigabytes. */
#define MG__MAX_IDS (1 << 24)

int mg__tok_read_file(const char *path, char **out, size_t *len, mg_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return mg_error_set(err, mg_err_from_errno(errno), "%s: cannot open", path);
    mg__tok_buf b = {0};
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (mg__tok_buf_put(&b, chunk, n) < 0) {
            fclose(f);
            free(b.p);
            return mg_error_set(err, MG_ENOMEM, "%s: out of memory", path);
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b.p);
        return mg_error_set(err, MG_EIO, "%s: read error", path);
    }
    if (mg__tok_buf_put(&b, "", 0) < 0) {
        free(b.p);
        return mg_error_set(err, MG_ENOMEM, "%s: out of memory", path);
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

json_t *mg__tok_parse_json(const char *s, size_t n, const char *name, size_t flags, mg_error *err)
{
    json_error_t je;
    json_t *j = json_loadb(s, n, JSON_ALLOW_NUL | flags, &je);
    if (!j)
        mg_error_set(err, MG_EFORMAT, "%s:%d:%d: invalid JSON: %s", name, je.line, je.column,
                     je.text);
    return j;
}

/* GPT-2's byte <-> printable character table used by ByteLevel. */
static void init_bytelevel(mg_tokenizer *t)
{
    int n = 0;
    for (int i = 0; i < 512; i++) t->cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        int32_t cp = keep ? b : 256 + n++;
        t->byte_to_cp[b] = cp;
        t->cp_byte[cp] = (int16_t)b;
        char tmp[4];
        size_t k = mg__tok_utf8_encode(cp, tmp);
        memcpy(t->byte_utf8[b], tmp, k);
        t->byte_utf8_len[b] = (uint8_t)k;
    }
}

typedef struct fast_src {
    const char *json;
    size_t range[4]; /* vocab [0,1), merges [2,3) */
} fast_src;

typedef struct model_ctx {
    mg_tokenizer *t;
    mg__tok_jctx *c;
    int32_t *max_id;
    char *tmp;
    size_t tmp_cap;
    size_t blob_off;
} model_ctx;

static int vocab_add(void *ud, const char *key, size_t kl, int64_t id)
{
    model_ctx *mc = ud;
    mg_tokenizer *t = mc->t;
    if (id < 0 || id >= MG__MAX_IDS)
        return mg_error_set(mc->c->err, MG_EFORMAT, "%s: model.vocab[\"%.80s\"]: bad id",
                            mc->c->name, key);
    if (mg__tok_utf8_valid_prefix(key, kl) != kl)
        return mg_error_set(mc->c->err, MG_EFORMAT, "%s: model.vocab: key is not valid UTF-8",
                            mc->c->name);
    /* blob record: u32 length, the bytes, NUL (keys may contain NUL) */
    char *rec = t->vocab_blob + mc->blob_off, *dst = rec + 4;
    uint32_t l32 = (uint32_t)kl;
    memcpy(rec, &l32, 4);
    memcpy(dst, key, kl);
    dst[kl] = 0;
    mc->blob_off += kl + 5;
    t->vocab_blob_len = mc->blob_off;
    int rc = mg__tok_strmap_put(&t->vocab, dst, (uint32_t)kl, (int32_t)id);
    if (rc < 0) return rc;
    if (id > *mc->max_id) *mc->max_id = (int32_t)id;
    return 0;
}

/* One merge, "a b" (legacy, pair = false) or ["a", "b"]. */
static int merge_add(void *ud, size_t i, const char *a, size_t al, const char *bb, size_t bl,
                     bool legacy)
{
    model_ctx *mc = ud;
    mg_tokenizer *t = mc->t;
    const char *name = mc->c->name;
    mg_error *err = mc->c->err;
    if (!a)
        return mg_error_set(err, MG_EFORMAT, "%s: model.merges[%zu]: expected a string or a pair",
                            name, i);
    if (legacy) {
        const char *sp = memchr(a, ' ', al);
        if (!sp || memchr(sp + 1, ' ', al - (size_t)(sp + 1 - a)))
            return mg_error_set(err, MG_EFORMAT,
                                "%s: model.merges[%zu]: expected \"a b\" (one space)", name, i);
        bb = sp + 1;
        bl = al - (size_t)(sp + 1 - a);
        al = (size_t)(sp - a);
    }
    int32_t ia = mg__tok_strmap_get(&t->vocab, a, al), ib = mg__tok_strmap_get(&t->vocab, bb, bl);
    if (ia < 0 || ib < 0)
        return mg_error_set(
            err, MG_EFORMAT, "%s: model.merges[%zu]: token \"%.*s\" is not in the vocab", name, i,
            (int)(ia < 0 ? (al > 80 ? 80 : al) : (bl > 80 ? 80 : bl)), ia < 0 ? a : bb);
    if (bl < t->subword_prefix_len)
        return mg_error_set(err, MG_EFORMAT, "%s: model.merges[%zu]: shorter than the prefix", name,
                            i);
    size_t ml = al + bl - t->subword_prefix_len;
    if (ml > mc->tmp_cap) {
        char *p = realloc(mc->tmp, ml * 2 + 16);
        if (!p) return MG_ENOMEM;
        mc->tmp = p;
        mc->tmp_cap = ml * 2 + 16;
    }
    memcpy(mc->tmp, a, al);
    memcpy(mc->tmp + al, bb + t->subword_prefix_len, bl - t->subword_prefix_len);
    int32_t nid = mg__tok_strmap_get(&t->vocab, mc->tmp, ml);
    if (nid < 0)
        return mg_error_set(err, MG_EFORMAT,
                            "%s: model.merges[%zu]: merged token \"%.*s\" is not in the vocab",
                            name, i, (int)(ml > 80 ? 80 : ml), mc->tmp);
    if (i > UINT32_MAX) return mg_error_set(err, MG_EFORMAT, "%s: model.merges: too many", name);
    return mg__tok_pairmap_put(&t->merges, ia, ib, (uint32_t)i, nid);
}

static int parse_model(mg_tokenizer *t, mg__tok_jctx *c, json_t *m, const fast_src *fast,
                       int32_t *max_id)
{
    const char *name = c->name;
    if (!json_is_object(m))
        return mg_error_set(c->err, MG_EFORMAT, "%s: model: expected an object", name);
    json_t *ty = json_object_get(m, "type");
    if (ty && (!json_is_string(ty) || strcmp(json_string_value(ty), "BPE")))
        return mg_error_set(c->err, MG_EUNSUPPORTED, "%s: model.type: unsupported model \"%s\"",
                            name, json_is_string(ty) ? json_string_value(ty) : "?");
    json_t *vocab = json_object_get(m, "vocab"), *merges = json_object_get(m, "merges");
    if (!json_is_object(vocab))
        return mg_error_set(c->err, MG_EFORMAT, "%s: model.vocab: expected an object", name);
    if (!json_is_array(merges))
        return mg_error_set(c->err, MG_EFORMAT, "%s: model.merges: expected an array", name);
    json_t *dropout = json_object_get(m, "dropout");
    if (dropout && !json_is_null(dropout) && !json_is_number(dropout))
        return mg_error_set(c->err, MG_EFORMAT, "%s: model.dropout: expected a number", name);
    if (json_is_number(dropout) &&
        (json_number_value(dropout) < 0.0 || json_number_value(dropout) > 1.0))
        return mg_error_set(c->err, MG_EFORMAT, "%s: model.dropout: must be in [0, 1]", name);
    /* dropout only applies when training; inference ignores it, as do we */
    int rc;
    bool b;
    if ((rc = mg__tok_get_flag(c, m, "byte_fallback", &b)) < 0) return rc;
    t->byte_fallback = b;
    if ((rc = mg__tok_get_flag(c, m, "ignore_merges", &b)) < 0) return rc;
    t->ignore_merges = b;
    if ((rc = mg__tok_get_flag(c, m, "fuse_unk", &b)) < 0) return rc;
    t->fuse_unk = b;
    json_t *pre = json_object_get(m, "continuing_subword_prefix");
    json_t *suf = json_object_get(m, "end_of_word_suffix");
    if (json_is_string(pre) && json_string_length(pre)) {
        t->subword_prefix = strdup(json_string_value(pre));
        if (!t->subword_prefix) return MG_ENOMEM;
        t->subword_prefix_len = json_string_length(pre);
    }
    if (json_is_string(suf) && json_string_length(suf)) {
        t->word_suffix = strdup(json_string_value(suf));
        if (!t->word_suffix) return MG_ENOMEM;
        t->word_suffix_len = json_string_length(suf);
    }

    /* vocab and merges, from the fast scanner or from the jansson tree */
    model_ctx mc = {t, c, max_id, NULL, 0, 0};
    if (fast) {
        size_t vlen = fast->range[1] - fast->range[0];
        /* a decoded key is never longer than its JSON text; each record adds
         * 5 bytes, which the JSON's quotes, colon and id more than cover
         * beyond the first entry, hence 2x */
        if (!(t->vocab_blob = malloc(vlen * 2 + 64))) return MG_ENOMEM;
        if ((rc = mg__tok_strmap_init(&t->vocab, (uint32_t)(vlen / 16 + 16))) < 0) return rc;
        rc = mg__tok_fj_vocab(fast->json + fast->range[0], vlen, vocab_add, &mc);
        if (rc == -1)
            return mg_error_set(c->err, MG_EFORMAT, "%s: model.vocab: malformed JSON", name);
        if (rc < 0) return rc;
        if ((rc = mg__tok_pairmap_init(&t->merges, 1024)) < 0) return rc;
        rc = mg__tok_fj_merges(fast->json + fast->range[2], fast->range[3] - fast->range[2],
                               merge_add, &mc);
        free(mc.tmp);
        if (rc == -1)
            return mg_error_set(c->err, MG_EFORMAT, "%s: model.merges: malformed JSON", name);
        if (rc < 0) return rc;
    } else {
        size_t nv = json_object_size(vocab), total = 0;
        const char *key;
        json_t *val;
        json_object_foreach(vocab, key, val) total += strlen(key) + 5;
        if (!(t->vocab_blob = malloc(total ? total : 1))) return MG_ENOMEM;
        if ((rc = mg__tok_strmap_init(&t->vocab, (uint32_t)nv)) < 0) return rc;
        json_object_foreach(vocab, key, val)
        {
            if (!json_is_integer(val))
                return mg_error_set(c->err, MG_EFORMAT, "%s: model.vocab[\"%.80s\"]: bad id", name,
                                    key);
            if ((rc = vocab_add(&mc, key, strlen(key), json_integer_value(val))) < 0) return rc;
        }
        size_t nm = json_array_size(merges);
        if ((rc = mg__tok_pairmap_init(&t->merges, (uint32_t)nm)) < 0) return rc;
        for (size_t i = 0; i < nm && rc >= 0; i++) {
            json_t *e = json_array_get(merges, i);
            if (json_is_string(e))
                rc = merge_add(&mc, i, json_string_value(e), json_string_length(e), NULL, 0, true);
            else if (json_is_array(e) && json_array_size(e) == 2 &&
                     json_is_string(json_array_get(e, 0)) && json_is_string(json_array_get(e, 1)))
                rc = merge_add(&mc, i, json_string_value(json_array_get(e, 0)),
                               json_string_length(json_array_get(e, 0)),
                               json_string_value(json_array_get(e, 1)),
                               json_string_length(json_array_get(e, 1)), false);
            else
                rc = mg_error_set(c->err, MG_EFORMAT,
                                  "%s: model.merges[%zu]: expected a string or a pair", name, i);
        }
        free(mc.tmp);
        if (rc < 0) return rc;
    }

    json_t *unk = json_object_get(m, "unk_token");
    t->unk_id = -1;
    if (json_is_string(unk)) {
        t->unk_id = mg__tok_strmap_get(&t->vocab, json_string_value(unk), json_string_length(unk));
        if (t->unk_id < 0)
            return mg_error_set(c->err, MG_EFORMAT,
                                "%s: model.unk_token \"%.80s\" is not in the vocab", name,
                                json_string_value(unk));
    }
    for (int i = 0; i < 256; i++) {
        char code[8];
        snprintf(code, sizeof code, "<0x%02X>", i);
        t->byte_ids[i] = mg__tok_strmap_get(&t->vocab, code, 6);
    }
    for (int i = 0; i < 128; i++) {
        char ch = (char)i;
        t->char_ids[i] = mg__tok_strmap_get(&t->vocab, &ch, 1);
    }
    /* BPE starts from one symbol per character: index the single-character
     * tokens so that start needs no hashing */
    if (!(t->bmp_ids = malloc(0x10000 * sizeof *t->bmp_ids))) return MG_ENOMEM;
    for (int i = 0; i < 0x10000; i++) t->bmp_ids[i] = -1;
    for (size_t off = 0; off < t->vocab_blob_len;) {
        uint32_t kl;
        memcpy(&kl, t->vocab_blob + off, 4);
        const char *k = t->vocab_blob + off + 4;
        off += (size_t)kl + 5;
        int32_t cp;
        if (kl >= 1 && kl <= 3 && mg__tok_utf8_next(k, kl, &cp) == kl && cp < 0x10000 &&
            t->bmp_ids[cp] < 0)
            t->bmp_ids[cp] = mg__tok_strmap_get(&t->vocab, k, kl);
    }
    return 0;
}

int mg__tok_get_flag(mg__tok_jctx *c, json_t *o, const char *key, bool *out)
{
    json_t *v = json_object_get(o, key);
    *out = false;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v))
        return mg_error_set(c->err, MG_EFORMAT, "%s: %s: expected true or false", c->name, key);
    *out = json_is_true(v);
    return 0;
}

static int parse_added(mg_tokenizer *t, mg__tok_jctx *c, json_t *arr, int32_t *max_id)
{
    if (!arr || json_is_null(arr)) return 0;
    if (!json_is_array(arr))
        return mg_error_set(c->err, MG_EFORMAT, "%s: added_tokens: expected an array", c->name);
    size_t n = json_array_size(arr);
    t->added = calloc(n ? n : 1, sizeof *t->added);
    if (!t->added) return MG_ENOMEM;
    int rc;
    if ((rc = mg__tok_strmap_init(&t->added_map, (uint32_t)n)) < 0) return rc;
    /* New ids continue after the model vocabulary, as AddedVocabulary::add_tokens. */
    int32_t next_id = (int32_t)t->vocab.n;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        json_t *content = json_object_get(e, "content"), *jid = json_object_get(e, "id");
        if (!json_is_object(e) || !json_is_string(content))
            return mg_error_set(c->err, MG_EFORMAT,
                                "%s: added_tokens[%zu]: expected an object "
                                "with a \"content\" string",
                                c->name, i);
        if (jid && !json_is_integer(jid))
            return mg_error_set(c->err, MG_EFORMAT, "%s: added_tokens[%zu].id: expected an integer",
                                c->name, i);
        const char *s = json_string_value(content);
        size_t len = json_string_length(content);
        if (len == 0) continue;
        if (mg__tok_utf8_valid_prefix(s, len) != len)
            return mg_error_set(c->err, MG_EFORMAT, "%s: added_tokens[%zu]: not valid UTF-8",
                                c->name, i);
        mg__tok_added *a = &t->added[t->n_added];
        bool f;
        if ((rc = mg__tok_get_flag(c, e, "special", &f)) < 0) return rc;
        a->special = f;
        if ((rc = mg__tok_get_flag(c, e, "lstrip", &f)) < 0) return rc;
        a->lstrip = f;
        if ((rc = mg__tok_get_flag(c, e, "rstrip", &f)) < 0) return rc;
        a->rstrip = f;
        if ((rc = mg__tok_get_flag(c, e, "single_word", &f)) < 0) return rc;
        a->single_word = f;
        json_t *nj = json_object_get(e, "normalized");
        if (nj && !json_is_boolean(nj))
            return mg_error_set(c->err, MG_EFORMAT,
                                "%s: added_tokens[%zu].normalized: expected true or false", c->name,
                                i);
        a->normalized = nj ? json_is_true(nj) : !a->special;
        int32_t id = mg__tok_strmap_get(&t->added_map, s, len);
        if (id < 0) id = mg__tok_strmap_get(&t->vocab, s, len);
        if (id < 0) id = next_id++;
        if (id >= MG__MAX_IDS)
            return mg_error_set(c->err, MG_EFORMAT, "%s: added_tokens[%zu]: too many ids", c->name,
                                i);
        a->id = id;
        a->content = malloc(len + 1);
        if (!a->content) return MG_ENOMEM;
        memcpy(a->content, s, len + 1);
        a->len = len;
        a->match = a->content;
        a->match_len = len;
        if (a->normalized && t->normalizer) {
            mg__tok_buf nb = {0};
            if ((rc = mg__tok_normalize(t->normalizer, s, len, &nb)) < 0) {
                free(nb.p);
                return mg_error_set(c->err, rc, "%s: added_tokens[%zu]: normalizing failed",
                                    c->name, i);
            }
            if (nb.len != len || memcmp(nb.p, s, len)) {
                a->match = nb.p ? nb.p : strdup("");
                a->match_len = nb.len;
                if (!a->match) return MG_ENOMEM;
            } else {
                free(nb.p);
            }
        }
        if ((rc = mg__tok_strmap_put(&t->added_map, a->content, (uint32_t)len, id)) < 0) return rc;
        if (id > *max_id) *max_id = id;
        t->n_added++;
    }
    return 0;
}

/* Builds id -> string, id -> added index, special flags and the two tries. */
static int index_ids(mg_tokenizer *t, int32_t max_id)
{
    int32_t n = max_id + 1;
    t->n_ids = n;
    t->id_str = calloc((size_t)(n ? n : 1), sizeof *t->id_str);
    t->id_len = calloc((size_t)(n ? n : 1), sizeof *t->id_len);
    t->added_of_id = malloc((size_t)(n ? n : 1) * sizeof *t->added_of_id);
    t->special_of_id = calloc((size_t)(n ? n : 1), 1);
    if (!t->id_str || !t->id_len || !t->added_of_id || !t->special_of_id) return MG_ENOMEM;
    for (int32_t i = 0; i < n; i++) t->added_of_id[i] = -1;
    for (size_t off = 0; off < t->vocab_blob_len;) {
        uint32_t kl;
        memcpy(&kl, t->vocab_blob + off, 4);
        const char *k = t->vocab_blob + off + 4;
        off += (size_t)kl + 5;
        int32_t id = mg__tok_strmap_get(&t->vocab, k, kl);
        /* Two strings with one id: keep the first in the file (the
         * reference's choice is unspecified); decoding needs one per id. */
        if (id >= 0 && !t->id_str[id]) {
            t->id_str[id] = k;
            t->id_len[id] = kl;
        }
    }
    mg__tok_strmap special = {0};
    int rc;
    if ((rc = mg__tok_strmap_init(&special, (uint32_t)t->n_added)) < 0) return rc;
    mg__tok_trie_init(&t->trie_raw);
    mg__tok_trie_init(&t->trie_norm);
    for (size_t i = 0; i < t->n_added; i++) {
        mg__tok_added *a = &t->added[i];
        t->added_of_id[a->id] = (int32_t)i;
        /* decoding uses the normalized form of normalized tokens */
        t->id_str[a->id] = a->match;
        t->id_len[a->id] = (uint32_t)a->match_len;
        if (a->special && (rc = mg__tok_strmap_put(&special, a->content, (uint32_t)a->len, 1)) < 0)
            goto out;
        if (a->normalized) {
            if (a->match_len &&
                (rc = mg__tok_trie_add(&t->trie_norm, a->match, a->match_len, (int32_t)i)) < 0)
                goto out;
            t->has_norm = t->has_norm || a->match_len;
        } else {
            if ((rc = mg__tok_trie_add(&t->trie_raw, a->content, a->len, (int32_t)i)) < 0) goto out;
            t->has_raw = true;
        }
    }
    for (int32_t id = 0; id < n; id++)
        if (t->id_str[id] && mg__tok_strmap_get(&special, t->id_str[id], t->id_len[id]) >= 0)
            t->special_of_id[id] = 1;
out:
    mg__tok_strmap_free(&special);
    return rc;
}

int mg__tok_parse_tokenizer_json(mg_tokenizer *t, const char *json, size_t len, const char *name,
                                 mg_error *err)
{
    /* Fast path: vocab and merges scanned directly, the rest through jansson
     * with those two values blanked (newlines kept, so line numbers in
     * jansson's messages stay right). */
    fast_src fs = {json, {0}};
    bool fast = mg__tok_fj_locate(json, len, fs.range) == 0;
    json_t *root = NULL;
    if (fast) {
        char *rest = malloc(len + 1);
        if (!rest) return mg_error_set(err, MG_ENOMEM, "%s: out of memory", name);
        /* copy with each range reduced to its brackets and its newlines */
        size_t o = 0, from = 0;
        /* the two ranges in file order (merges may come first) */
        int order[2] = {0, 2};
        if (fs.range[2] < fs.range[0]) order[0] = 2, order[1] = 0;
        for (int r = 0; r < 2; r++) {
            size_t a = fs.range[order[r]], b = fs.range[order[r] + 1];
            memcpy(rest + o, json + from, a - from);
            o += a - from;
            rest[o++] = json[a];
            for (size_t q = a + 1; q + 1 < b; q++)
                if (json[q] == '\n') rest[o++] = '\n';
            rest[o++] = json[b - 1];
            from = b;
        }
        memcpy(rest + o, json + from, len - from);
        o += len - from;
        rest[o] = 0;
        root = mg__tok_parse_json(rest, o, name, 0, err);
        free(rest);
    } else {
        root = mg__tok_parse_json(json, len, name, 0, err);
    }
    if (!root) return MG_EFORMAT;
    mg__tok_jctx c = {name, err};
    int rc = 0;
    int32_t max_id = -1;
    init_bytelevel(t);
    if (!json_is_object(root)) {
        rc = mg_error_set(err, MG_EFORMAT, "%s: expected a JSON object", name);
        goto out;
    }
    json_t *ver = json_object_get(root, "version");
    if (ver && (!json_is_string(ver) || strcmp(json_string_value(ver), "1.0"))) {
        rc = mg_error_set(err, MG_EUNSUPPORTED, "%s: version: unknown tokenizer version", name);
        goto out;
    }
    json_t *tr = json_object_get(root, "truncation"), *pad = json_object_get(root, "padding");
    if (tr && !json_is_null(tr)) {
        rc = mg_error_set(err, MG_EUNSUPPORTED, "%s: truncation: unsupported (must be null)", name);
        goto out;
    }
    if (pad && !json_is_null(pad)) {
        rc = mg_error_set(err, MG_EUNSUPPORTED, "%s: padding: unsupported (must be null)", name);
        goto out;
    }
    json_t *v;
    if ((v = json_object_get(root, "normalizer")) && !json_is_null(v)) {
        t->normalizer = calloc(1, sizeof *t->normalizer);
        if (!t->normalizer) goto oom;
        if ((rc = mg__tok_parse_normalizer(&c, v, "normalizer", t->normalizer)) < 0) goto out;
    }
    if ((v = json_object_get(root, "pre_tokenizer")) && !json_is_null(v)) {
        t->pre = calloc(1, sizeof *t->pre);
        if (!t->pre) goto oom;
        if ((rc = mg__tok_parse_pretok(&c, v, "pre_tokenizer", t->pre)) < 0) goto out;
    }
    if ((v = json_object_get(root, "decoder")) && !json_is_null(v)) {
        t->decoder = calloc(1, sizeof *t->decoder);
        if (!t->decoder) goto oom;
        if ((rc = mg__tok_parse_decoder(&c, v, "decoder", t->decoder)) < 0) goto out;
    }
    if ((v = json_object_get(root, "post_processor")) && !json_is_null(v)) {
        t->post = calloc(1, sizeof *t->post);
        if (!t->post) goto oom;
        t->post[0].is_sequence = true;
        t->n_post = 1;
        if ((rc = mg__tok_parse_post(&c, v, "post_processor", &t->post, &t->n_post)) < 0) goto out;
    }
    if ((rc = parse_model(t, &c, json_object_get(root, "model"), fast ? &fs : NULL, &max_id)) < 0)
        goto out;
    if ((rc = parse_added(t, &c, json_object_get(root, "added_tokens"), &max_id)) < 0) goto out;
    if ((rc = index_ids(t, max_id)) < 0) goto out;
    for (size_t i = 0; i < t->n_post; i++)
        for (size_t j = 0; j < t->post[i].n_ids; j++)
            if (t->post[i].ids[j] >= t->n_ids) {
                rc = mg_error_set(err, MG_EFORMAT, "%s: post_processor: id %d out of range", name,
                                  t->post[i].ids[j]);
                goto out;
            }
out:
    json_decref(root);
    if (rc == MG_ENOMEM) mg_error_set(err, rc, "%s: out of memory", name);
    return rc;
oom:
    rc = MG_ENOMEM;
    goto out;
}
