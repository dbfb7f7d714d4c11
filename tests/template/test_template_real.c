/* test_template_real.c — the chat templates of the real tokenizers in
 * ../shared/tokenizers rendered through mg_chat_template_load/render, against
 * transformers' apply_chat_template(..., tokenize=False) goldens made by
 * tools/template_goldens.py (tests/template/golden/chat_templates.jsonl). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mg_template.h"

static void need_shared(void)
{
    if (access(MG_SHARED_DIR "/tokenizers/llama3/tokenizer_config.json", R_OK) != 0)
        cr_skip_test("needs ../shared/tokenizers");
}

Test(template_real, chat_template_goldens)
{
    need_shared();
    json_error_t je;
    FILE *f = fopen(MG_SOURCE_DIR "/tests/template/golden/chat_templates.jsonl", "r");
    cr_assert(f, "golden file missing");
    char *line = NULL;
    size_t cap = 0;
    int total = 0, pass = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *c = json_loads(line, 0, &je);
        cr_assert(c, "bad golden line: %s", je.text);
        const char *tok = json_string_value(json_object_get(c, "tokenizer"));
        const char *cas = json_string_value(json_object_get(c, "case"));
        json_t *msgs = json_object_get(c, "messages"), *exp = json_object_get(c, "expected");
        size_t n = json_array_size(msgs);
        const char *roles[8], *contents[8];
        cr_assert(n <= 8);
        for (size_t i = 0; i < n; i++) {
            roles[i] = json_string_value(json_object_get(json_array_get(msgs, i), "role"));
            contents[i] = json_string_value(json_object_get(json_array_get(msgs, i), "content"));
        }
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/tokenizers/%s", MG_SHARED_DIR, tok);
        mg_error err = {0};
        mg_chat_template *ct = NULL;
        int rc = mg_chat_template_load(dir, &ct, &err);
        cr_assert_eq(rc, 0, "%s: %s", tok, err.msg);
        cr_assert(ct, "%s: no chat template found", tok);
        char *out = NULL;
        rc = mg_chat_template_render(ct, roles, contents, n,
                                     json_is_true(json_object_get(c, "add_generation_prompt")),
                                     &out, &err);
        total++;
        if (json_is_string(exp)) {
            bool ok = rc == 0 && !strcmp(out, json_string_value(exp));
            if (!ok)
                fprintf(stderr, "FAIL %s/%s: rc=%d %s\n  got:  %s\n  want: %s\n", tok, cas, rc,
                        err.msg, out ? out : "", json_string_value(exp));
            pass += ok;
        } else {
            /* the reference raised (e.g. a role the template rejects) */
            pass += rc < 0;
        }
        free(out);
        mg_chat_template_free(ct);
        json_decref(c);
    }
    free(line);
    fclose(f);
    cr_log_info("chat_templates.jsonl: %d/%d renders match transformers", pass, total);
    cr_expect_eq(total, 12);
    cr_expect_eq(pass, total);
}

Test(template_real, folder_without_template_gives_null)
{
    need_shared();
    mg_error err = {0};
    mg_chat_template *ct = (mg_chat_template *)1;
    cr_assert_eq(mg_chat_template_load(MG_SHARED_DIR "/tokenizers/mistral", &ct, &err), 0, "%s",
                 err.msg);
    cr_assert_null(ct);
}

Test(template_real, missing_folder_is_enoent)
{
    mg_error err = {0};
    mg_chat_template *ct = NULL;
    cr_assert_eq(mg_chat_template_load("/nonexistent/dir", &ct, &err), MG_ENOENT);
    cr_assert(strstr(err.msg, "tokenizer_config.json"));
    cr_assert_null(ct);
}

Test(template_real, config_variants)
{
    /* chat_template as a list of named templates; special tokens as AddedToken */
    json_error_t je;
    json_t *cfg = json_loads(
        "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
        " {\"name\": \"default\", \"template\": \"{{ bos_token }}{% for m in messages %}"
        "[{{ m.role }}:{{ m.content }}]{% endfor %}{{ eos_token if add_generation_prompt }}"
        "{{ tools }}{{ pad_token is defined }}\"}],"
        " \"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<s>\"}, \"eos_token\": "
        "\"</s>\","
        " \"pad_token\": null}",
        0, &je);
    cr_assert(cfg, "%s", je.text);
    mg_error err = {0};
    mg_chat_template *ct = NULL;
    cr_assert_eq(mg_chat_template_from_config(cfg, "cfg", &ct, &err), 0, "%s", err.msg);
    const char *roles[] = {"user", "assistant"}, *contents[] = {"a", "b"};
    char *out = NULL;
    cr_assert_eq(mg_chat_template_render(ct, roles, contents, 2, true, &out, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(out, "<s>[user:a][assistant:b]</s>NoneFalse");
    free(out);
    mg_chat_template_free(ct);

    json_t *bad =
        json_loads("{\"chat_template\": [{\"name\": \"x\", \"template\": \"T\"}]}", 0, &je);
    cr_assert_eq(mg_chat_template_from_config(bad, "cfg2", &ct, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, "default"), "%s", err.msg);
    json_t *syn = json_loads("{\"chat_template\": \"{% if %}\"}", 0, &je);
    cr_assert_eq(mg_chat_template_from_config(syn, "cfg3", &ct, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, "cfg3") && strstr(err.msg, "1:"), "%s", err.msg);
    json_decref(cfg);
    json_decref(bad);
    json_decref(syn);
}
