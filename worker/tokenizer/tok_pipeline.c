/* tok_pipeline.c — parses the pipeline parts of tokenizer.json (normalizer,
 * pre_tokenizer, decoder, post_processor) into their structs. Every value is
 * type-checked; a component type this library does not implement is an
 * MG_EUNSUPPORTED error naming it and its JSON path. */
#include "internal.h"
#include "tok_json.h"

#include <stdlib.h>
#include <string.h>

static int dup_str(json_t *v, char **out, size_t *len)
{
    size_t n = json_string_length(v);
    *out = malloc(n + 1);
    if (!*out) return MG_ENOMEM;
    memcpy(*out, json_string_value(v), n);
    (*out)[n] = 0;
    if (len) *len = n;
    return 0;
}

/* {"String": s} or {"Regex": r} -> compiled regex. */
static int parse_pattern(mg__tok_jctx *c, json_t *o, const char *path, mg__tok_regex *re)
{
    json_t *p = json_object_get(o, "pattern");
    if (!json_is_object(p))
        return mg_error_set(c->err, MG_EFORMAT, "%s: %s.pattern: expected an object", c->name,
                            path);
    json_t *s = json_object_get(p, "String"), *r = json_object_get(p, "Regex");
    json_t *v = json_is_string(s) ? s : r;
    if (!json_is_string(v))
        return mg_error_set(c->err, MG_EFORMAT, "%s: %s.pattern: expected \"String\" or \"Regex\"",
                            c->name, path);
    int rc = mg__tok_regex_compile(re, json_string_value(v), json_string_length(v), v == s, c->err);
    if (rc < 0) return mg_error_prefix(c->err, rc, "%s: %s.pattern", c->name, path);
    return 0;
}

static int single_char(mg__tok_jctx *c, json_t *o, const char *key, const char *path, int32_t *cp)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return mg_error_set(c->err, MG_EFORMAT, "%s: %s.%s: expected a string", c->name, path, key);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > 4 || mg__tok_utf8_valid_prefix(s, n) != n || mg__tok_utf8_next(s, n, cp) != n)
        return mg_error_set(c->err, MG_EFORMAT, "%s: %s.%s: expected one character", c->name, path,
                            key);
    return 0;
}

static int get_bool(mg__tok_jctx *c, json_t *o, const char *key, const char *path, bool dflt,
                    bool *out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(v))
        return mg_error_set(c->err, MG_EFORMAT, "%s: %s.%s: expected true or false", c->name, path,
                            key);
    *out = json_is_true(v);
    return 0;
}

static const char *type_of(mg__tok_jctx *c, json_t *o, const char *path, int *rc)
{
    json_t *t = json_is_object(o) ? json_object_get(o, "type") : NULL;
    if (!json_is_string(t)) {
        *rc = mg_error_set(c->err, MG_EFORMAT, "%s: %s: expected an object with a \"type\"",
                           c->name, path);
        return NULL;
    }
    return json_string_value(t);
}

static int parse_list(mg__tok_jctx *c, json_t *o, const char *key, const char *path, json_t **arr)
{
    *arr = json_object_get(o, key);
    if (!json_is_array(*arr))
        return mg_error_set(c->err, MG_EFORMAT, "%s: %s.%s: expected an array", c->name, path, key);
    return 0;
}

/* ---- normalizers ---- */

int mg__tok_parse_normalizer(mg__tok_jctx *c, json_t *o, const char *path, mg__tok_norm *n)
{
    memset(n, 0, sizeof *n);
    int rc = 0;
    const char *ty = type_of(c, o, path, &rc);
    if (!ty) return rc;
    if (!strcmp(ty, "NFC"))
        n->kind = MG_NORM_NFC;
    else if (!strcmp(ty, "NFD"))
        n->kind = MG_NORM_NFD;
    else if (!strcmp(ty, "NFKC"))
        n->kind = MG_NORM_NFKC;
    else if (!strcmp(ty, "NFKD"))
        n->kind = MG_NORM_NFKD;
    else if (!strcmp(ty, "Lowercase"))
        n->kind = MG_NORM_LOWERCASE;
    else if (!strcmp(ty, "Replace")) {
        n->kind = MG_NORM_REPLACE;
        if ((rc = parse_pattern(c, o, path, &n->pattern)) < 0) return rc;
        json_t *v = json_object_get(o, "content");
        if (!json_is_string(v))
            return mg_error_set(c->err, MG_EFORMAT, "%s: %s.content: expected a string", c->name,
                                path);
        if (dup_str(v, &n->content, &n->content_len) < 0) return MG_ENOMEM;
    } else if (!strcmp(ty, "Prepend")) {
        n->kind = MG_NORM_PREPEND;
        json_t *v = json_object_get(o, "prepend");
        if (!json_is_string(v))
            return mg_error_set(c->err, MG_EFORMAT, "%s: %s.prepend: expected a string", c->name,
                                path);
        if (dup_str(v, &n->content, &n->content_len) < 0) return MG_ENOMEM;
    } else if (!strcmp(ty, "Strip")) {
        n->kind = MG_NORM_STRIP;
        if ((rc = get_bool(c, o, "strip_left", path, true, &n->strip_left)) < 0) return rc;
        if ((rc = get_bool(c, o, "strip_right", path, true, &n->strip_right)) < 0) return rc;
    } else if (!strcmp(ty, "Sequence")) {
        n->kind = MG_NORM_SEQUENCE;
        json_t *arr;
        if ((rc = parse_list(c, o, "normalizers", path, &arr)) < 0) return rc;
        size_t k = json_array_size(arr);
        n->items = calloc(k ? k : 1, sizeof *n->items);
        if (!n->items) return MG_ENOMEM;
        for (size_t i = 0; i < k; i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.normalizers[%zu]", path, i);
            n->n_items = i + 1;
            if ((rc = mg__tok_parse_normalizer(c, json_array_get(arr, i), sub, &n->items[i])) < 0)
                return rc;
        }
    } else {
        return mg_error_set(c->err, MG_EUNSUPPORTED, "%s: %s: unsupported normalizer type \"%s\"",
                            c->name, path, ty);
    }
    return 0;
}

/* ---- pre-tokenizers ---- */

static int parse_behavior(mg__tok_jctx *c, json_t *o, const char *path, mg__tok_split_behavior dflt,
                          mg__tok_split_behavior *b)
{
    json_t *v = json_object_get(o, "behavior");
    if (!v) {
        *b = dflt;
        return 0;
    }
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (!strcmp(s, "Removed"))
        *b = MG_SPLIT_REMOVED;
    else if (!strcmp(s, "Isolated"))
        *b = MG_SPLIT_ISOLATED;
    else if (!strcmp(s, "MergedWithPrevious"))
        *b = MG_SPLIT_MERGED_PREV;
    else if (!strcmp(s, "MergedWithNext"))
        *b = MG_SPLIT_MERGED_NEXT;
    else if (!strcmp(s, "Contiguous"))
        *b = MG_SPLIT_CONTIGUOUS;
    else
        return mg_error_set(c->err, MG_EFORMAT, "%s: %s.behavior: unknown behavior", c->name, path);
    return 0;
}

static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

int mg__tok_parse_pretok(mg__tok_jctx *c, json_t *o, const char *path, mg__tok_pre *p)
{
    memset(p, 0, sizeof *p);
    int rc = 0;
    const char *ty = type_of(c, o, path, &rc);
    if (!ty) return rc;
    if (!strcmp(ty, "ByteLevel")) {
        p->kind = MG_PRE_BYTELEVEL;
        if ((rc = get_bool(c, o, "add_prefix_space", path, true, &p->add_prefix_space)) < 0)
            return rc;
        bool use_regex = true;
        if ((rc = get_bool(c, o, "use_regex", path, true, &use_regex)) < 0) return rc;
        if (use_regex) {
            if ((rc = mg__tok_regex_compile(&p->pattern, GPT2_PATTERN, strlen(GPT2_PATTERN), false,
                                            c->err)) < 0)
                return rc;
            p->has_pattern = true;
        }
    } else if (!strcmp(ty, "Split")) {
        p->kind = MG_PRE_SPLIT;
        if ((rc = parse_pattern(c, o, path, &p->pattern)) < 0) return rc;
        p->has_pattern = true;
        if ((rc = parse_behavior(c, o, path, MG_SPLIT_REMOVED, &p->behavior)) < 0) return rc;
        if ((rc = get_bool(c, o, "invert", path, false, &p->invert)) < 0) return rc;
    } else if (!strcmp(ty, "Digits")) {
        p->kind = MG_PRE_DIGITS;
        if ((rc = get_bool(c, o, "individual_digits", path, false, &p->individual_digits)) < 0)
            return rc;
    } else if (!strcmp(ty, "Metaspace")) {
        p->kind = MG_PRE_METASPACE;
        if ((rc = single_char(c, o, "replacement", path, &p->replacement)) < 0) return rc;
        p->repl_len = mg__tok_utf8_encode(p->replacement, p->repl_utf8);
        p->prepend = MG_PREPEND_ALWAYS;
        json_t *ps = json_object_get(o, "prepend_scheme");
        if (ps) {
            const char *s = json_is_string(ps) ? json_string_value(ps) : "";
            if (!strcmp(s, "always"))
                p->prepend = MG_PREPEND_ALWAYS;
            else if (!strcmp(s, "first"))
                p->prepend = MG_PREPEND_FIRST;
            else if (!strcmp(s, "never"))
                p->prepend = MG_PREPEND_NEVER;
            else
                return mg_error_set(c->err, MG_EFORMAT, "%s: %s.prepend_scheme: unknown scheme",
                                    c->name, path);
        }
        json_t *aps = json_object_get(o, "add_prefix_space");
        if (json_is_false(aps)) {
            if (p->prepend != MG_PREPEND_NEVER && ps)
                return mg_error_set(c->err, MG_EFORMAT,
                                    "%s: %s: add_prefix_space does not match declared "
                                    "prepend_scheme",
                                    c->name, path);
            p->prepend = MG_PREPEND_NEVER;
        }
        if ((rc = get_bool(c, o, "split", path, true, &p->split)) < 0) return rc;
    } else if (!strcmp(ty, "Whitespace")) {
        p->kind = MG_PRE_WHITESPACE;
        static const char ws[] = "\\w+|[^\\w\\s]+";
        if ((rc = mg__tok_regex_compile(&p->pattern, ws, strlen(ws), false, c->err)) < 0) return rc;
        p->has_pattern = true;
    } else if (!strcmp(ty, "WhitespaceSplit")) {
        p->kind = MG_PRE_WHITESPACE_SPLIT;
    } else if (!strcmp(ty, "Punctuation")) {
        p->kind = MG_PRE_PUNCTUATION;
        if ((rc = parse_behavior(c, o, path, MG_SPLIT_ISOLATED, &p->behavior)) < 0) return rc;
    } else if (!strcmp(ty, "Sequence")) {
        p->kind = MG_PRE_SEQUENCE;
        json_t *arr;
        if ((rc = parse_list(c, o, "pretokenizers", path, &arr)) < 0) return rc;
        size_t k = json_array_size(arr);
        p->items = calloc(k ? k : 1, sizeof *p->items);
        if (!p->items) return MG_ENOMEM;
        for (size_t i = 0; i < k; i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", path, i);
            p->n_items = i + 1;
            if ((rc = mg__tok_parse_pretok(c, json_array_get(arr, i), sub, &p->items[i])) < 0)
                return rc;
        }
    } else {
        return mg_error_set(c->err, MG_EUNSUPPORTED,
                            "%s: %s: unsupported pre_tokenizer type \"%s\"", c->name, path, ty);
    }
    return 0;
}

/* ---- decoders ---- */

int mg__tok_parse_decoder(mg__tok_jctx *c, json_t *o, const char *path, mg__tok_dec *d)
{
    memset(d, 0, sizeof *d);
    int rc = 0;
    const char *ty = type_of(c, o, path, &rc);
    if (!ty) return rc;
    if (!strcmp(ty, "ByteLevel"))
        d->kind = MG_DEC_BYTELEVEL;
    else if (!strcmp(ty, "ByteFallback"))
        d->kind = MG_DEC_BYTEFALLBACK;
    else if (!strcmp(ty, "Fuse"))
        d->kind = MG_DEC_FUSE;
    else if (!strcmp(ty, "Replace")) {
        d->kind = MG_DEC_REPLACE;
        if ((rc = parse_pattern(c, o, path, &d->pattern)) < 0) return rc;
        json_t *v = json_object_get(o, "content");
        if (!json_is_string(v))
            return mg_error_set(c->err, MG_EFORMAT, "%s: %s.content: expected a string", c->name,
                                path);
        if (dup_str(v, &d->content, &d->content_len) < 0) return MG_ENOMEM;
    } else if (!strcmp(ty, "Strip")) {
        d->kind = MG_DEC_STRIP;
        if ((rc = single_char(c, o, "content", path, &d->strip_char)) < 0) return rc;
        json_t *a = json_object_get(o, "start"), *b = json_object_get(o, "stop");
        if (!json_is_integer(a) || !json_is_integer(b) || json_integer_value(a) < 0 ||
            json_integer_value(b) < 0)
            return mg_error_set(c->err, MG_EFORMAT,
                                "%s: %s: start and stop must be non-negative integers", c->name,
                                path);
        d->strip_start = (size_t)json_integer_value(a);
        d->strip_stop = (size_t)json_integer_value(b);
    } else if (!strcmp(ty, "Metaspace")) {
        d->kind = MG_DEC_METASPACE;
        if ((rc = single_char(c, o, "replacement", path, &d->replacement)) < 0) return rc;
        json_t *ps = json_object_get(o, "prepend_scheme");
        d->prepend_never = json_is_string(ps) && !strcmp(json_string_value(ps), "never");
        if (json_is_false(json_object_get(o, "add_prefix_space"))) d->prepend_never = true;
    } else if (!strcmp(ty, "Sequence")) {
        d->kind = MG_DEC_SEQUENCE;
        json_t *arr;
        if ((rc = parse_list(c, o, "decoders", path, &arr)) < 0) return rc;
        size_t k = json_array_size(arr);
        d->items = calloc(k ? k : 1, sizeof *d->items);
        if (!d->items) return MG_ENOMEM;
        for (size_t i = 0; i < k; i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.decoders[%zu]", path, i);
            d->n_items = i + 1;
            if ((rc = mg__tok_parse_decoder(c, json_array_get(arr, i), sub, &d->items[i])) < 0)
                return rc;
        }
    } else {
        return mg_error_set(c->err, MG_EUNSUPPORTED, "%s: %s: unsupported decoder type \"%s\"",
                            c->name, path, ty);
    }
    return 0;
}

/* ---- post-processors ----
 * Flattened into one item list: a Sequence of processors composes them (each
 * template's $A is what the previous ones produced). ByteLevel only trims
 * offsets, so it leaves the list as it is. */

static int template_items(mg__tok_jctx *c, json_t *o, const char *path, mg__tok_post_item **items,
                          size_t *n)
{
    json_t *single = json_object_get(o, "single");
    json_t *specials = json_object_get(o, "special_tokens");
    if (!json_is_array(single))
        return mg_error_set(c->err, MG_EFORMAT, "%s: %s.single: expected an array", c->name, path);
    size_t k = json_array_size(single);
    mg__tok_post_item *it = calloc(k ? k : 1, sizeof *it);
    if (!it) return MG_ENOMEM;
    *items = it;
    *n = k;
    for (size_t i = 0; i < k; i++) {
        json_t *e = json_array_get(single, i);
        json_t *seq = json_object_get(e, "Sequence"), *sp = json_object_get(e, "SpecialToken");
        if (json_is_object(seq)) {
            json_t *id = json_object_get(seq, "id");
            if (!json_is_string(id) || strcmp(json_string_value(id), "A"))
                return mg_error_set(c->err, MG_EFORMAT, "%s: %s.single[%zu]: expected $A", c->name,
                                    path, i);
            it[i].is_sequence = true;
        } else if (json_is_object(sp)) {
            json_t *id = json_object_get(sp, "id");
            json_t *st =
                json_is_string(id) ? json_object_get(specials, json_string_value(id)) : NULL;
            json_t *ids = json_object_get(st, "ids");
            if (!json_is_array(ids))
                return mg_error_set(c->err, MG_EFORMAT,
                                    "%s: %s.single[%zu]: special token missing from "
                                    "special_tokens",
                                    c->name, path, i);
            size_t m = json_array_size(ids);
            it[i].ids = malloc((m ? m : 1) * sizeof *it[i].ids);
            if (!it[i].ids) return MG_ENOMEM;
            for (size_t j = 0; j < m; j++) {
                json_t *v = json_array_get(ids, j);
                if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                    json_integer_value(v) > INT32_MAX)
                    return mg_error_set(c->err, MG_EFORMAT, "%s: %s.special_tokens: bad id",
                                        c->name, path);
                it[i].ids[j] = (int32_t)json_integer_value(v);
            }
            it[i].n_ids = m;
        } else {
            return mg_error_set(c->err, MG_EFORMAT, "%s: %s.single[%zu]: unknown piece", c->name,
                                path, i);
        }
    }
    return 0;
}

static int token_pair_item(mg__tok_jctx *c, json_t *o, const char *key, const char *path,
                           mg__tok_post_item *it)
{
    json_t *v = json_object_get(o, key);
    json_t *id = json_array_get(v, 1);
    if (!json_is_array(v) || !json_is_integer(id) || json_integer_value(id) < 0 ||
        json_integer_value(id) > INT32_MAX)
        return mg_error_set(c->err, MG_EFORMAT, "%s: %s.%s: expected [token, id]", c->name, path,
                            key);
    it->ids = malloc(sizeof *it->ids);
    if (!it->ids) return MG_ENOMEM;
    it->ids[0] = (int32_t)json_integer_value(id);
    it->n_ids = 1;
    return 0;
}

void mg__tok_post_free(mg__tok_post_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) free(items[i].ids);
    free(items);
}

/* Replaces every $A of `outer` by `inner`, returning the composition in outer. */
static int compose(mg__tok_post_item **outer, size_t *n_outer, mg__tok_post_item *inner,
                   size_t n_inner)
{
    size_t total = 0;
    for (size_t i = 0; i < *n_outer; i++) total += (*outer)[i].is_sequence ? n_inner : 1;
    mg__tok_post_item *r = calloc(total ? total : 1, sizeof *r);
    if (!r) return MG_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < *n_outer; i++) {
        if (!(*outer)[i].is_sequence) {
            r[o++] = (*outer)[i];
            (*outer)[i].ids = NULL;
            continue;
        }
        for (size_t j = 0; j < n_inner; j++) {
            r[o] = inner[j];
            if (inner[j].n_ids) {
                r[o].ids = malloc(inner[j].n_ids * sizeof *r[o].ids);
                if (!r[o].ids) {
                    mg__tok_post_free(r, o);
                    return MG_ENOMEM;
                }
                memcpy(r[o].ids, inner[j].ids, inner[j].n_ids * sizeof *r[o].ids);
            }
            o++;
        }
    }
    mg__tok_post_free(*outer, *n_outer);
    *outer = r;
    *n_outer = total;
    return 0;
}

/* *items is the current list (starts as [$A]); the processor wraps it. */
int mg__tok_parse_post(mg__tok_jctx *c, json_t *o, const char *path, mg__tok_post_item **items,
                       size_t *n)
{
    int rc = 0;
    const char *ty = type_of(c, o, path, &rc);
    if (!ty) return rc;
    if (!strcmp(ty, "ByteLevel")) return 0;
    mg__tok_post_item *outer = NULL;
    size_t n_outer = 0;
    if (!strcmp(ty, "TemplateProcessing")) {
        rc = template_items(c, o, path, &outer, &n_outer);
    } else if (!strcmp(ty, "BertProcessing") || !strcmp(ty, "RobertaProcessing")) {
        outer = calloc(3, sizeof *outer);
        if (!outer) return MG_ENOMEM;
        n_outer = 3;
        outer[1].is_sequence = true;
        if ((rc = token_pair_item(c, o, "cls", path, &outer[0])) >= 0)
            rc = token_pair_item(c, o, "sep", path, &outer[2]);
    } else if (!strcmp(ty, "Sequence")) {
        json_t *arr;
        if ((rc = parse_list(c, o, "processors", path, &arr)) < 0) return rc;
        for (size_t i = 0; i < json_array_size(arr); i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.processors[%zu]", path, i);
            if ((rc = mg__tok_parse_post(c, json_array_get(arr, i), sub, items, n)) < 0) return rc;
        }
        return 0;
    } else {
        return mg_error_set(c->err, MG_EUNSUPPORTED,
                            "%s: %s: unsupported post_processor type \"%s\"", c->name, path, ty);
    }
    if (rc < 0) {
        mg__tok_post_free(outer, n_outer);
        return rc;
    }
    rc = compose(&outer, &n_outer, *items, *n);
    if (rc < 0) {
        mg__tok_post_free(outer, n_outer);
        return rc;
    }
    mg__tok_post_free(*items, *n);
    *items = outer;
    *n = n_outer;
    return 0;
}
