/* test_features.c — the synthetic tokenizers of tests/tokenizer/features
 * (made by tools/tokenizer_goldens.py --features; expected values from the
 * tokenizers library) cover the normalizers, pre-tokenizers, decoders,
 * post-processors and added-token options the five real files do not use,
 * and invalid UTF-8 input (encoded as its lossy decode, U+FFFD per maximal
 * invalid subpart). Also: transformers' encode rules for the five real
 * tokenizers, and accessors. */
#include "tok_test_util.h"

#define FEATURES MG_SOURCE_DIR "/tests/tokenizer/features"

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

static size_t unhex(const char *h, char *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    return n;
}

Test(tokenizer_features, synthetic_goldens, .timeout = 120)
{
    json_t *cases = tt_read_jsonl(FEATURES "/cases.jsonl");
    cr_assert_not_null(cases);
    cr_assert_gt(json_array_size(cases), 100);
    mg_tokenizer *t = NULL;
    char cur[128] = "";
    size_t bad = 0;
    mg_error err = {0};
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(c, "tokenizer"));
        if (strcmp(name, cur)) {
            mg_tokenizer_free(t);
            char path[1024];
            snprintf(path, sizeof path, FEATURES "/%s.json", name);
            size_t len;
            char *json = slurp(path, &len);
            cr_assert_eq(mg_tokenizer_load_json(json, len, name, &t, &err), 0, "%s", err.msg);
            free(json);
            snprintf(cur, sizeof cur, "%s", name);
        }
        const char *hex = json_string_value(json_object_get(c, "text_hex"));
        char *text = malloc(strlen(hex) / 2 + 1);
        size_t tl = unhex(hex, text);
        for (int sp = 0; sp < 2; sp++) {
            int32_t *ids;
            size_t n;
            cr_assert_eq(mg_tokenizer_encode(t, text, tl, sp, &ids, &n, &err), 0, "%s", err.msg);
            if (!tt_ids_eq(json_object_get(c, sp ? "ids_special" : "ids"), ids, n) && bad++ < 5)
                cr_log_error("%s case %zu (%s): ids (special=%d) differ", name, i, hex, sp);
            free(ids);
        }
        json_t *gids = json_object_get(c, "ids");
        size_t gn = json_array_size(gids);
        int32_t *g = malloc((gn ? gn : 1) * sizeof *g);
        for (size_t k = 0; k < gn; k++) g[k] = (int32_t)json_integer_value(json_array_get(gids, k));
        for (int skip = 0; skip < 2; skip++) {
            char *s;
            size_t sl;
            cr_assert_eq(mg_tokenizer_decode(t, g, gn, skip, &s, &sl, &err), 0, "%s", err.msg);
            if (!tt_str_eq(json_object_get(c, skip ? "decoded" : "decoded_special"), s, sl) &&
                bad++ < 5)
                cr_log_error("%s case %zu: decode(skip=%d) differs: got \"%s\"", name, i, skip, s);
            size_t ml;
            char *m = tt_stream_decode(t, g, gn, skip, &ml);
            if ((ml != sl || memcmp(m, s, sl)) && bad++ < 5)
                cr_log_error("%s case %zu: streaming decode differs", name, i);
            free(m);
            free(s);
        }
        free(g);
        free(text);
    }
    mg_tokenizer_free(t);
    json_decref(cases);
    cr_assert_eq(bad, 0, "%zu mismatches (first ones logged)", bad);
}

/* transformers' AutoTokenizer(...).encode(text): goldens made by
 * tools/tokenizer_goldens.py with transformers. */
Test(tokenizer_features, transformers_encode_rules, .timeout = 240)
{
    if (access(MG_SHARED_DIR "/tokenizers/mistral/tokenizer.json", R_OK) != 0)
        cr_skip_test("needs ../shared/tokenizers");
    json_t *cases = tt_read_jsonl(MG_SOURCE_DIR "/tests/tokenizer/transformers_encode.jsonl");
    cr_assert_not_null(cases);
    mg_tokenizer *t = NULL;
    char cur[64] = "";
    size_t bad = 0;
    mg_error err = {0};
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(c, "tokenizer"));
        if (strcmp(name, cur)) {
            mg_tokenizer_free(t);
            char dir[1024];
            snprintf(dir, sizeof dir, MG_SHARED_DIR "/tokenizers/%s", name);
            cr_assert_eq(mg_tokenizer_load(dir, &t, &err), 0, "%s", err.msg);
            snprintf(cur, sizeof cur, "%s", name);
        }
        json_t *text = json_object_get(c, "text");
        int32_t *ids;
        size_t n;
        cr_assert_eq(mg_tokenizer_encode_prompt(t, json_string_value(text),
                                                json_string_length(text), &ids, &n, &err),
                     0, "%s", err.msg);
        if (!tt_ids_eq(json_object_get(c, "ids"), ids, n) && bad++ < 5)
            cr_log_error("%s case %lld: encode_prompt differs from transformers", name,
                         (long long)json_integer_value(json_object_get(c, "case")));
        /* transformers 5 decodes BPE tokenizers exactly as tokenizers does
         * (clean_up_tokenization_spaces is skipped for BPE) */
        char *s;
        size_t sl;
        cr_assert_eq(mg_tokenizer_decode(t, ids, n, true, &s, &sl, &err), 0, "%s", err.msg);
        if (!tt_str_eq(json_object_get(c, "decoded"), s, sl) && bad++ < 5)
            cr_log_error("%s case %lld: decode differs from transformers: \"%s\"", name,
                         (long long)json_integer_value(json_object_get(c, "case")), s);
        free(s);
        free(ids);
    }
    mg_tokenizer_free(t);
    json_decref(cases);
    cr_assert_eq(bad, 0, "%zu mismatches", bad);
}

Test(tokenizer_features, accessors, .timeout = 60)
{
    if (access(MG_SHARED_DIR "/tokenizers/qwen3/tokenizer.json", R_OK) != 0)
        cr_skip_test("needs ../shared/tokenizers");
    mg_error err = {0};
    mg_tokenizer *t;
    cr_assert_eq(mg_tokenizer_load(MG_SHARED_DIR "/tokenizers/qwen3", &t, &err), 0, "%s", err.msg);
    /* values from the files (README table and tokenizer_config.json) */
    cr_expect_eq(mg_tokenizer_vocab_size(t), 151669);
    cr_expect_eq(mg_tokenizer_bos_id(t), -1);
    const int32_t *eos;
    cr_assert_eq(mg_tokenizer_eos_ids(t, &eos), 1);
    cr_expect_eq(eos[0], 151645); /* <|im_end|> */
    cr_expect_str_eq(mg_tokenizer_token_text(t, 151644), "<|im_start|>");
    cr_expect_null(mg_tokenizer_token_text(t, 151669));
    cr_expect_null(mg_tokenizer_token_text(t, -1));
    cr_expect(mg_tokenizer_is_special(t, 151645));
    cr_expect_not(mg_tokenizer_is_special(t, 151657)); /* <tool_call> is not special */
    cr_expect_eq(mg_tokenizer_pad_id(t), 151643);      /* <|endoftext|> */
    cr_expect_eq(mg_tokenizer_model_max_length(t), 131072);
    mg_tokenizer_free(t);
    cr_assert_eq(mg_tokenizer_load(MG_SHARED_DIR "/tokenizers/mistral", &t, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(mg_tokenizer_bos_id(t), 1);
    cr_expect_eq(mg_tokenizer_pad_id(t), -1);                  /* pad_token: null */
    cr_expect_eq(mg_tokenizer_model_max_length(t), INT64_MAX); /* 1e30 */
    mg_tokenizer_free(t);
    cr_assert_eq(mg_tokenizer_load(MG_SHARED_DIR "/tokenizers/deepseek_v3", &t, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(mg_tokenizer_bos_id(t), 0); /* bos_token given as an AddedToken object */
    cr_expect_str_eq(mg_tokenizer_bos_token(t),
                     "<\xef\xbd\x9c"
                     "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>");
    mg_tokenizer_free(t);
}
