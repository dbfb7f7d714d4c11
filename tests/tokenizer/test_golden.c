/* test_golden.c — every case of ../shared/tokenizers/golden/<name>.jsonl (from
 * the Hugging Face tokenizers library): ids with and without special tokens,
 * both decodes, and the streaming decoder against the full decode. */
#include "tok_test_util.h"

static mg_tokenizer *load_or_skip(const char *name, json_t **cases)
{
    char dir[1024], gold[1024];
    snprintf(dir, sizeof dir, "%s/tokenizers/%s", MG_SHARED_DIR, name);
    snprintf(gold, sizeof gold, "%s/tokenizers/golden/%s.jsonl", MG_SHARED_DIR, name);
    if (access(dir, R_OK) != 0 || access(gold, R_OK) != 0)
        cr_skip_test("needs ../shared/tokenizers/%s", name);
    mg_error err = {0};
    mg_tokenizer *t;
    cr_assert_eq(mg_tokenizer_load(dir, &t, &err), 0, "%s", err.msg);
    *cases = tt_read_jsonl(gold);
    cr_assert_not_null(*cases);
    return t;
}

static void check_all(const char *name)
{
    json_t *cases;
    mg_tokenizer *t = load_or_skip(name, &cases);
    mg_error err = {0};
    size_t bad = 0, n_cases = json_array_size(cases);
    cr_assert_eq(n_cases, 374);
    for (size_t i = 0; i < n_cases; i++) {
        json_t *c = json_array_get(cases, i);
        const char *id = json_string_value(json_object_get(c, "id"));
        json_t *text = json_object_get(c, "text");
        int32_t *ids, *ids_sp;
        size_t n, n_sp;
        cr_assert_eq(mg_tokenizer_encode(t, json_string_value(text), json_string_length(text),
                                         false, &ids, &n, &err),
                     0, "%s", err.msg);
        cr_assert_eq(mg_tokenizer_encode(t, json_string_value(text), json_string_length(text), true,
                                         &ids_sp, &n_sp, &err),
                     0, "%s", err.msg);
        if (!tt_ids_eq(json_object_get(c, "ids"), ids, n) && bad++ < 3)
            cr_log_error("%s %s: ids differ", name, id);
        if (!tt_ids_eq(json_object_get(c, "ids_special"), ids_sp, n_sp) && bad++ < 3)
            cr_log_error("%s %s: ids_special differ", name, id);
        /* decode the golden ids, so a decode check does not depend on encode */
        json_t *gids = json_object_get(c, "ids");
        size_t gn = json_array_size(gids);
        int32_t *g = malloc((gn ? gn : 1) * sizeof *g);
        for (size_t k = 0; k < gn; k++) g[k] = (int32_t)json_integer_value(json_array_get(gids, k));
        for (int skip = 0; skip < 2; skip++) {
            char *s;
            size_t sl;
            cr_assert_eq(mg_tokenizer_decode(t, g, gn, skip, &s, &sl, &err), 0, "%s", err.msg);
            json_t *want = json_object_get(c, skip ? "decoded" : "decoded_special");
            if (!tt_str_eq(want, s, sl) && bad++ < 3)
                cr_log_error("%s %s: decode(skip=%d) differs", name, id, skip);
            size_t ml;
            char *m = tt_stream_decode(t, g, gn, skip, &ml);
            if ((ml != sl || memcmp(m, s, sl)) && bad++ < 3)
                cr_log_error("%s %s: streaming decode(skip=%d) differs from decode", name, id,
                             skip);
            free(m);
            free(s);
        }
        free(g);
        free(ids);
        free(ids_sp);
    }
    cr_assert_eq(bad, 0, "%s: %zu golden mismatches (first ones logged)", name, bad);
    json_decref(cases);
    mg_tokenizer_free(t);
}

Test(tokenizer_golden, gemma3, .timeout = 240)
{
    check_all("gemma3");
}
Test(tokenizer_golden, llama3, .timeout = 240)
{
    check_all("llama3");
}
Test(tokenizer_golden, qwen3, .timeout = 240)
{
    check_all("qwen3");
}
Test(tokenizer_golden, deepseek_v3, .timeout = 240)
{
    check_all("deepseek_v3");
}
Test(tokenizer_golden, mistral, .timeout = 240)
{
    check_all("mistral");
}
