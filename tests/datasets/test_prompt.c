/* Prompts, stop strings and truncation as EvalPlus builds them. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mg_dataset.h"

static const char *const EOS6[] = {"<|endoftext|>", "<|endofmask|>", "</s>",
                                   "\nif __name__", "\ndef main(",   "\nprint("};

static void expect_stops(const char *dataset, bool direct, const char *const *extra, size_t n)
{
    mg_prompt_params p = {.dataset = dataset, .direct_completion = direct};
    mg_strlist l;
    mg_error err = {0};
    cr_assert_eq(mg_prompt_stops(&p, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.n, 6 + n);
    for (size_t i = 0; i < l.n; i++) cr_assert_str_eq(l.items[i], i < 6 ? EOS6[i] : extra[i - 6]);
    mg_strlist_free(&l);
}

Test(prompt, stop_lists)
{
    static const char *const he[] = {"\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert "};
    static const char *const mbpp[] = {"\n\"\"\"", "\nassert"};
    static const char *const chat[] = {"\n```\n"};
    expect_stops("humaneval", true, he, 5);
    expect_stops("HumanEval", true, he, 5);
    expect_stops("mbpp", true, mbpp, 2);
    expect_stops("humaneval", false, chat, 1);
    expect_stops("mbpp", false, chat, 1);
    mg_prompt_params p = {.dataset = "evalperf", .direct_completion = true};
    mg_strlist l;
    mg_error err = {0};
    cr_assert_eq(mg_prompt_stops(&p, &l, &err), MG_EINVAL);
}

Test(prompt, direct_completion_strips_and_adds_newline)
{
    mg_task t = {.task_id = "T/0", .prompt = "\n\n  def f(x):\n    \"\"\"doc\"\"\"\n  \t\n"};
    mg_prompt_params p = {.dataset = "humaneval", .direct_completion = true};
    char *s;
    mg_error err = {0};
    cr_assert_eq(mg_prompt_build(&p, &t, &s, &err), 0);
    cr_assert_str_eq(s, "def f(x):\n    \"\"\"doc\"\"\"\n");
    free(s);
    /* Unicode whitespace (NBSP, U+3000) is stripped as str.strip() does. */
    t.prompt = "\xc2\xa0x\xe3\x80\x80";
    cr_assert_eq(mg_prompt_build(&p, &t, &s, &err), 0);
    cr_assert_str_eq(s, "x\n");
    free(s);
}

typedef struct rec {
    char user[2048], assistant[2048];
    int calls;
} rec;

/* A ChatML-like renderer, as a template would produce. */
static int chatml(void *ud, const char *user, const char *assistant, char **out, mg_error *err)
{
    rec *r = ud;
    r->calls++;
    snprintf(r->user, sizeof r->user, "%s", user);
    snprintf(r->assistant, sizeof r->assistant, "%s", assistant);
    size_t n = strlen(user) + strlen(assistant) + 100;
    *out = malloc(n);
    snprintf(*out, n, "<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n%s<|im_end|>\n", user,
             assistant);
    return 0;
}

static int failing(void *ud, const char *user, const char *assistant, char **out, mg_error *err)
{
    return mg_error_set(err, MG_EFORMAT, "undefined variable 'x'");
}

Test(prompt, chat_prompt_cut_at_magic)
{
    mg_task t = {.task_id = "HumanEval/2", .prompt = "\ndef g():\n    pass\n"};
    rec r = {0};
    mg_prompt_params p = {.dataset = "humaneval", .render = chatml, .render_ud = &r};
    char *s;
    mg_error err = {0};
    cr_assert_eq(mg_prompt_build(&p, &t, &s, &err), 0, "%s", err.msg);
    cr_assert_str_eq(r.user, MG_EVALPLUS_INSTRUCTION_PREFIX "\n```\ndef g():\n    pass\n```\n");
    cr_assert_str_eq(r.assistant,
                     MG_EVALPLUS_RESPONSE_PREFIX "\n```python\n" MG_EVALPLUS_MAGIC "\n```\n");
    cr_assert_str_eq(s, "<|im_start|>user\n" MG_EVALPLUS_INSTRUCTION_PREFIX "\n```\ndef g():\n    "
                        "pass\n```\n<|im_end|>\n<|im_start|>assistant\n" MG_EVALPLUS_RESPONSE_PREFIX
                        "\n```python\n");
    free(s);
    p.instruction_prefix = "IP";
    p.response_prefix = "RP";
    cr_assert_eq(mg_prompt_build(&p, &t, &s, &err), 0);
    cr_assert_str_eq(r.user, "IP\n```\ndef g():\n    pass\n```\n");
    cr_assert(strstr(s, "assistant\nRP\n```python\n"));
    free(s);
    p.render = failing;
    cr_assert_eq(mg_prompt_build(&p, &t, &s, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, "HumanEval/2") && strstr(err.msg, "undefined variable"), "%s",
              err.msg);
    p.render = NULL;
    cr_assert_eq(mg_prompt_build(&p, &t, &s, &err), MG_EINVAL);
}

static char *trunc_with(const char *text, const char *dataset, bool direct)
{
    mg_prompt_params p = {.dataset = dataset, .direct_completion = direct};
    mg_strlist l;
    cr_assert_eq(mg_prompt_stops(&p, &l, NULL), 0);
    char *s = mg_completion_truncate(text, strlen(text), &l);
    mg_strlist_free(&l);
    return s;
}

Test(prompt, truncation_earliest_stop_then_tabs)
{
    char *s = trunc_with("\treturn x\n\nprint(f(1))\ndef g():", "humaneval", true);
    cr_assert_str_eq(s, "    return x\n"); /* "\nprint(" at 10 is before "\ndef " */
    free(s);
    s = trunc_with("    return 1\n\"\"\"\nassert f()", "mbpp", true);
    cr_assert_str_eq(s, "    return 1");
    free(s);
    s = trunc_with("x = 1\n```\nmore\n```\n", "humaneval", false);
    cr_assert_str_eq(s, "x = 1");
    free(s);
    s = trunc_with("a\tb\t\tc</s>ignored\tstill", "humaneval", true);
    cr_assert_str_eq(s, "a    b        c");
    free(s);
    s = trunc_with("no stop here\t", "mbpp", true);
    cr_assert_str_eq(s, "no stop here    ");
    free(s);
    s = trunc_with("<|endoftext|>", "mbpp", true);
    cr_assert_str_eq(s, "");
    free(s);
    /* "\nassert" (mbpp) matches without a trailing space; humaneval needs one. */
    s = trunc_with("  return 1\nassert(f())", "humaneval", true);
    cr_assert_str_eq(s, "  return 1\nassert(f())");
    free(s);
    s = trunc_with("  return 1\nassert(f())", "mbpp", true);
    cr_assert_str_eq(s, "  return 1");
    free(s);
}

Test(prompt, hf_cap_counts_characters_not_bytes)
{
    /* 10,000 characters kept when no stop string comes first; 'é' is 2 bytes. */
    size_t n = 10050;
    char *text = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) memcpy(text + 2 * i, "\xc3\xa9", 2);
    text[2 * n] = '\0';
    char *s = mg_completion_truncate(text, 2 * n, NULL);
    cr_assert_eq(strlen(s), 2 * 10000);
    free(s);
    /* A stop that starts before the cap and ends after it still counts. */
    memcpy(text + 2 * 9999, "</s>", 4);
    mg_strlist l = {0};
    mg_prompt_params p = {.dataset = "mbpp", .direct_completion = true};
    cr_assert_eq(mg_prompt_stops(&p, &l, NULL), 0);
    s = mg_completion_truncate(text, 2 * n, &l);
    cr_assert_eq(strlen(s), 2 * 9999);
    free(s);
    s = mg_completion_truncate_n("abcdef", 6, NULL, 3);
    cr_assert_str_eq(s, "abc");
    free(s);
    mg_strlist_free(&l);
    free(text);
}

Test(prompt, truncation_matches_evalplus_hf_backend)
{
    /* Fixtures: evalplus/provider/hf.py's truncation run by CPython on random
     * completions (tools/make_json_goldens.py); 21 are cut at the 10,000-char cap. */
    char *text;
    size_t len;
    mg_error err = {0};
    cr_assert_eq(mg_read_maybe_gz(MG_SOURCE_DIR "/tests/datasets/golden/truncate.jsonl.gz", &text,
                                  &len, &err),
                 0, "%s", err.msg);
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), n++) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        cr_assert_not_null(o, "%s", je.text);
        mg_prompt_params p = {.dataset = json_string_value(json_object_get(o, "dataset")),
                              .direct_completion = json_is_true(json_object_get(o, "direct"))};
        mg_strlist l;
        cr_assert_eq(mg_prompt_stops(&p, &l, NULL), 0);
        json_t *t = json_object_get(o, "text"), *w = json_object_get(o, "want");
        char *got = mg_completion_truncate(json_string_value(t), json_string_length(t), &l);
        cr_assert_str_eq(got, json_string_value(w), "case %zu", n);
        free(got);
        mg_strlist_free(&l);
        json_decref(o);
    }
    cr_assert_eq(n, 240);
    free(text);
}
