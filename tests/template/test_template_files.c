/* test_template_files.c — chat templates stored as files beside
 * tokenizer_config.json (chat_template.jinja, additional_chat_templates/),
 * as transformers' save_pretrained writes them: loaded with transformers'
 * precedence and rendered to exactly what its apply_chat_template returned
 * (tests/fixtures/chat-template-files, made by tools/template_file_goldens.py;
 * a case where transformers raised must be refused). Then `moegen prompts`
 * on such a folder: EvalPlus's chat prompt, not the base one. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "mg_template.h"

#define FIX MG_SOURCE_DIR "/tests/fixtures/chat-template-files"

static const char *const FOLDERS[] = {"jinja-file", "jinja-overrides-config",
                                      "jinja-and-additional", "additional-only", "config-only"};

Test(template_files, match_transformers)
{
    int cases = 0, refusals = 0;
    for (size_t f = 0; f < sizeof FOLDERS / sizeof *FOLDERS; f++) {
        char dir[1024], path[1100];
        snprintf(dir, sizeof dir, "%s/%s", FIX, FOLDERS[f]);
        snprintf(path, sizeof path, "%s/expected.json", dir);
        json_error_t je;
        json_t *exp = json_load_file(path, 0, &je);
        cr_assert(json_is_array(exp), "%s: %s", path, je.text);
        mg_error err = {0};
        mg_chat_template *ct = NULL;
        int lrc = mg_chat_template_load(dir, &ct, &err);
        size_t i;
        json_t *c;
        json_array_foreach(exp, i, c)
        {
            json_t *msgs = json_object_get(c, "messages");
            const char *roles[4], *contents[4];
            size_t n = json_array_size(msgs);
            cr_assert(n <= 4);
            for (size_t k = 0; k < n; k++) {
                roles[k] = json_string_value(json_object_get(json_array_get(msgs, k), "role"));
                contents[k] =
                    json_string_value(json_object_get(json_array_get(msgs, k), "content"));
            }
            const char *want = json_string_value(json_object_get(c, "expected"));
            cases++;
            if (!want) { /* transformers raised */
                cr_assert(lrc < 0, "%s case %zu: transformers refused, moegen loaded it",
                          FOLDERS[f], i);
                cr_assert(strstr(err.msg, FOLDERS[f]), "message names the folder: %s", err.msg);
                refusals++;
                continue;
            }
            cr_assert_eq(lrc, 0, "%s: %s", FOLDERS[f], err.msg);
            cr_assert(ct, "%s: no template found", FOLDERS[f]);
            char *out = NULL;
            int rc = mg_chat_template_render(
                ct, roles, contents, n, json_is_true(json_object_get(c, "add_generation_prompt")),
                &out, &err);
            cr_assert_eq(rc, 0, "%s case %zu: %s", FOLDERS[f], i, err.msg);
            cr_assert_str_eq(out, want, "%s case %zu", FOLDERS[f], i);
            free(out);
        }
        mg_chat_template_free(ct);
        json_decref(exp);
    }
    cr_assert_eq(cases, 10);
    cr_assert_eq(refusals, 2);
}

/* The case that made this matter: an instruct model whose config has no
 * template must still get EvalPlus's chat prompts. */
Test(template_files, prompts_use_the_jinja_file)
{
    char cmd[2048], out[8192];
    snprintf(cmd, sizeof cmd,
             "%s/moegen prompts --dataset humaneval --dataset-path %s/examples/tasks.jsonl "
             "--model %s/jinja-file 2>&1 | head -c 4000",
             MG_BINARY_DIR, MG_SOURCE_DIR, FIX);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    pclose(p);
    cr_assert(strstr(out, "<|im_start|>user"), "no chat prompt: %s", out);
    cr_assert(strstr(out, "```python"), "no EvalPlus response prefix: %s", out);
}
