/* test_robust.c — malformed tokenizer.json files give one clear error (never
 * a crash), and arbitrary bytes (invalid UTF-8 included) and arbitrary ids
 * never crash encode/decode. */
#include "tok_test_util.h"

#include <stdint.h>

#define FEATURES MG_SOURCE_DIR "/tests/tokenizer/features"

#define MODEL_OK                                                                                   \
    "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}"

typedef struct bad_case {
    const char *json;
    int code;
    const char *needle; /* must appear in the message */
} bad_case;

static const bad_case BAD[] = {
    {"", MG_EFORMAT, "invalid JSON"},
    {"{", MG_EFORMAT, "invalid JSON"},
    {"[]", MG_EFORMAT, "expected a JSON object"},
    {"{}", MG_EFORMAT, "model"},
    {"{\"version\":\"2.0\"," MODEL_OK "}", MG_EUNSUPPORTED, "version"},
    {"{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", MG_EUNSUPPORTED, "Unigram"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":[],\"merges\":[]}}", MG_EFORMAT, "model.vocab"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a c\"]}}", MG_EFORMAT,
     "merges[0]"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a\"]}}", MG_EFORMAT,
     "merged token"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"aa\"]}}", MG_EFORMAT,
     "one space"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[[\"a\"]]}}", MG_EFORMAT,
     "merges[0]"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}", MG_EFORMAT, "bad id"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":99999999999},\"merges\":[]}}", MG_EFORMAT,
     "bad id"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[],\"unk_token\":\"<unk>\"}}",
     MG_EFORMAT, "unk_token"},
    {"{\"normalizer\":{\"type\":\"BertNormalizer\"}," MODEL_OK "}", MG_EUNSUPPORTED,
     "BertNormalizer"},
    {"{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"(\"},\"content\":\"\"}"
     "," MODEL_OK "}",
     MG_EFORMAT, "normalizer.pattern"},
    {"{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{}]}," MODEL_OK
     "}",
     MG_EFORMAT, "normalizer.normalizers[1]"},
    {"{\"pre_tokenizer\":{\"type\":\"UnicodeScripts\"}," MODEL_OK "}", MG_EUNSUPPORTED,
     "UnicodeScripts"},
    {"{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[\"},\"behavior\":"
     "\"Isolated\"}," MODEL_OK "}",
     MG_EFORMAT, "pre_tokenizer.pattern"},
    {"{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":"
     "\"Sideways\"}," MODEL_OK "}",
     MG_EFORMAT, "behavior"},
    {"{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"ab\"}," MODEL_OK "}", MG_EFORMAT,
     "one character"},
    {"{\"decoder\":{\"type\":\"WordPiece\"}," MODEL_OK "}", MG_EUNSUPPORTED, "WordPiece"},
    {"{\"decoder\":{\"type\":\"Strip\",\"content\":\" \",\"start\":-1,\"stop\":0}," MODEL_OK "}",
     MG_EFORMAT, "start and stop"},
    {"{\"post_processor\":{\"type\":\"Mystery\"}," MODEL_OK "}", MG_EUNSUPPORTED, "Mystery"},
    {"{\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":"
     "\"<s>\"}}],\"special_tokens\":{}}," MODEL_OK "}",
     MG_EFORMAT, "special_tokens"},
    {"{\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":"
     "\"<s>\"}}],\"special_tokens\":{\"<s>\":{\"ids\":[7]}}}," MODEL_OK "}",
     MG_EFORMAT, "out of range"},
    {"{\"added_tokens\":{}," MODEL_OK "}", MG_EFORMAT, "added_tokens"},
    {"{\"added_tokens\":[{\"id\":0}]," MODEL_OK "}", MG_EFORMAT, "added_tokens[0]"},
    {"{\"truncation\":{\"max_length\":5}," MODEL_OK "}", MG_EUNSUPPORTED, "truncation"},
    {"{\"padding\":{\"strategy\":\"BatchLongest\"}," MODEL_OK "}", MG_EUNSUPPORTED, "padding"},
    {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"\xff\":0},\"merges\":[]}}", MG_EFORMAT, ""},
};

Test(tokenizer_robust, malformed_files_give_one_clear_error, .timeout = 30)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        mg_error err = {0};
        mg_tokenizer *t = (mg_tokenizer *)1;
        int rc = mg_tokenizer_load_json(BAD[i].json, strlen(BAD[i].json), "tok.json", &t, &err);
        cr_expect_eq(rc, BAD[i].code, "case %zu: rc %d (%s)", i, rc, err.msg);
        cr_expect_null(t, "case %zu", i);
        cr_expect(strlen(err.msg) > 0 && !strchr(err.msg, '\n'), "case %zu: one line", i);
        cr_expect(strstr(err.msg, "tok.json") != NULL, "case %zu: names the file: %s", i, err.msg);
        cr_expect(strstr(err.msg, BAD[i].needle) != NULL, "case %zu: '%s' not in: %s", i,
                  BAD[i].needle, err.msg);
    }
}

Test(tokenizer_robust, missing_dir_is_enoent, .timeout = 30)
{
    mg_error err = {0};
    mg_tokenizer *t;
    cr_expect_eq(mg_tokenizer_load("/nonexistent/dir", &t, &err), -ENOENT);
    cr_expect(strstr(err.msg, "/nonexistent/dir/tokenizer.json") != NULL, "%s", err.msg);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return s;
}

/* Every prefix (stepped) and byte-flipped copy of a real file loads or fails
 * cleanly. */
Test(tokenizer_robust, truncated_and_corrupted_files, .timeout = 120)
{
    size_t len;
    char *json = slurp(FEATURES "/split_behaviors.json", &len);
    for (size_t k = 0; k < len; k += 97) {
        mg_error err = {0};
        mg_tokenizer *t;
        int rc = mg_tokenizer_load_json(json, k, "cut.json", &t, &err);
        cr_expect(rc < 0, "prefix %zu loaded", k);
    }
    uint32_t seed = 12345;
    for (int k = 0; k < 300; k++) {
        char *copy = malloc(len);
        memcpy(copy, json, len);
        for (int j = 0; j < 3; j++) {
            seed = seed * 1103515245u + 12345u;
            copy[(seed >> 8) % len] = (char)(seed >> 24);
        }
        mg_error err = {0};
        mg_tokenizer *t = NULL;
        if (mg_tokenizer_load_json(copy, len, "flip.json", &t, &err) == 0) {
            int32_t *ids;
            size_t n;
            cr_expect_eq(mg_tokenizer_encode(t, "Hello world 123", 15, true, &ids, &n, &err), 0);
            free(ids);
            mg_tokenizer_free(t);
        } else {
            cr_expect(strlen(err.msg) > 0);
        }
        free(copy);
    }
    free(json);
}

static void fuzz_one(const mg_tokenizer *t, uint32_t *seed)
{
    unsigned char buf[300];
    *seed = *seed * 1664525u + 1013904223u;
    size_t n = (*seed >> 16) % sizeof buf;
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        /* bias toward bytes that matter: spaces, high bytes, ASCII */
        unsigned r = *seed >> 24;
        buf[i] = (unsigned char)(r < 40 ? ' ' : r < 120 ? 0x80 + (r & 0x7F) : r);
    }
    mg_error err = {0};
    int32_t *ids;
    size_t m;
    cr_assert_eq(mg_tokenizer_encode(t, (const char *)buf, n, true, &ids, &m, &err), 0, "%s",
                 err.msg);
    char *s;
    size_t sl;
    cr_assert_eq(mg_tokenizer_decode(t, ids, m, false, &s, &sl, &err), 0);
    cr_assert(tt_valid_utf8(s, sl));
    free(s);
    free(ids);
    /* arbitrary ids, out of range and negative included */
    int32_t rid[16];
    for (int i = 0; i < 16; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        rid[i] = (int32_t)(*seed % (uint32_t)(mg_tokenizer_vocab_size(t) + 50)) - 10;
    }
    cr_assert_eq(mg_tokenizer_decode(t, rid, 16, true, &s, &sl, &err), 0);
    cr_assert(tt_valid_utf8(s, sl));
    free(s);
    size_t ml;
    free(tt_stream_decode(t, rid, 16, false, &ml));
}

Test(tokenizer_robust, arbitrary_bytes_never_crash, .timeout = 240)
{
    static const char *names[] = {"nfd_lower_strip_whitespace", "metaspace_first",
                                  "metaspace_never_unk_fuse", "split_behaviors",
                                  "bytelevel_roberta"};
    uint32_t seed = 7;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char path[1024];
        snprintf(path, sizeof path, FEATURES "/%s.json", names[k]);
        size_t len;
        char *json = slurp(path, &len);
        mg_error err = {0};
        mg_tokenizer *t;
        cr_assert_eq(mg_tokenizer_load_json(json, len, names[k], &t, &err), 0, "%s", err.msg);
        free(json);
        for (int i = 0; i < 300; i++) fuzz_one(t, &seed);
        mg_tokenizer_free(t);
    }
    static const char *real[] = {"mistral", "qwen3"};
    for (size_t k = 0; k < 2; k++) {
        char dir[1024];
        snprintf(dir, sizeof dir, MG_SHARED_DIR "/tokenizers/%s", real[k]);
        if (access(dir, R_OK) != 0) continue;
        mg_error err = {0};
        mg_tokenizer *t;
        cr_assert_eq(mg_tokenizer_load(dir, &t, &err), 0, "%s", err.msg);
        for (int i = 0; i < 300; i++) fuzz_one(t, &seed);
        mg_tokenizer_free(t);
    }
}

/* The same tokenizer.json written with every non-ASCII character escaped
 * (\uXXXX, surrogate pairs) loads to the same tokenizer: the direct
 * vocab/merges scanner decodes escapes as jansson does. */
Test(tokenizer_robust, escaped_json_loads_the_same, .timeout = 60)
{
    size_t len;
    char *json = slurp(FEATURES "/metaspace_first.json", &len);
    json_t *root = json_loadb(json, len, 0, NULL);
    cr_assert_not_null(root);
    char *ascii = json_dumps(root, JSON_ENSURE_ASCII | JSON_INDENT(1));
    json_decref(root);
    cr_assert_not_null(ascii);
    cr_assert(strstr(ascii, "\\u2581") != NULL);
    mg_error err = {0};
    mg_tokenizer *a, *b;
    cr_assert_eq(mg_tokenizer_load_json(json, len, "raw", &a, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_tokenizer_load_json(ascii, strlen(ascii), "ascii", &b, &err), 0, "%s", err.msg);
    static const char *texts[] = {"Hello world", "caf\xc3\xa9 \xe2\x96\x81x \xf0\x9f\xa6\x99",
                                  "a [MASK] b", "\t\n"};
    for (size_t i = 0; i < 4; i++) {
        int32_t *x, *y;
        size_t nx, ny;
        cr_assert_eq(mg_tokenizer_encode(a, texts[i], strlen(texts[i]), true, &x, &nx, &err), 0);
        cr_assert_eq(mg_tokenizer_encode(b, texts[i], strlen(texts[i]), true, &y, &ny, &err), 0);
        cr_expect(nx == ny && !memcmp(x, y, nx * sizeof *x), "text %zu differs", i);
        free(x);
        free(y);
    }
    cr_expect_eq(mg_tokenizer_vocab_size(a), mg_tokenizer_vocab_size(b));
    for (int32_t id = 0; id < mg_tokenizer_vocab_size(a); id++)
        cr_assert_str_eq(mg_tokenizer_token_text(a, id), mg_tokenizer_token_text(b, id));
    mg_tokenizer_free(a);
    mg_tokenizer_free(b);
    free(ascii);
    free(json);
}

/* Key order does not matter to the direct scanner (merges before vocab,
 * model before or after the other keys). */
Test(tokenizer_robust, key_order_is_free, .timeout = 30)
{
    static const char *a =
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"c\":3},"
        "\"merges\":[\"a b\"]},\"added_tokens\":[]}";
    static const char *b = "{\"added_tokens\":[],\"model\":{\"merges\":[[\"a\",\"b\"]],\n\"type\":"
                           "\"BPE\",\"vocab\":{\n\"c\":3,\"ab\":2,\"b\":1,\"a\":0}}}";
    mg_error err = {0};
    mg_tokenizer *ta, *tb;
    cr_assert_eq(mg_tokenizer_load_json(a, strlen(a), "a", &ta, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_tokenizer_load_json(b, strlen(b), "b", &tb, &err), 0, "%s", err.msg);
    int32_t *x, *y;
    size_t nx, ny;
    cr_assert_eq(mg_tokenizer_encode(ta, "abcab", 5, false, &x, &nx, &err), 0);
    cr_assert_eq(mg_tokenizer_encode(tb, "abcab", 5, false, &y, &ny, &err), 0);
    cr_expect(nx == ny && !memcmp(x, y, nx * sizeof *x));
    cr_expect_eq(nx, 3, "the merge applied in both");
    free(x);
    free(y);
    mg_tokenizer_free(ta);
    mg_tokenizer_free(tb);
}
