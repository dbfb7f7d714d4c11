/* test_generate_cli.c — `moegen generate` and `moegen bench` end to end: the
 * JSON ids and the --dump-logits file against the transformers goldens, and
 * the refusals (exit 2, one line naming the flag). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define MOEGEN MG_BINARY_DIR "/moegen"
#define FIX    MG_SOURCE_DIR "/tests/fixtures/models/"

/* Runs a shell command, captures stdout+stderr (truncated to cap), returns the exit status. */
static int sh(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    cr_assert(p, "popen %s", cmd);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static json_t *golden_case(const char *model, const char *strategy, int idx)
{
    json_error_t je;
    json_t *root = json_load_file(MG_SOURCE_DIR "/tests/fixtures/goldens/engine.json", 0, &je);
    cr_assert(root, "%s", je.text);
    json_t *c, *found = NULL;
    size_t i;
    int k = 0;
    json_array_foreach(json_object_get(root, "cases"), i, c)
    {
        if (!strcmp(json_string_value(json_object_get(c, "model")), model) &&
            !strcmp(json_string_value(json_object_get(c, "strategy")), strategy) && k++ == idx) {
            found = json_incref(c);
            break;
        }
    }
    json_decref(root);
    cr_assert(found, "no golden %s %s", model, strategy);
    return found;
}

static void check_generate(const char *model, const char *base, const char *strategy)
{
    json_t *c = golden_case(model, strategy, 0);
    char ids[1024] = "", cmd[4096], out[65536];
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(c, "prompt"), i, v)
    {
        char b[16];
        snprintf(b, sizeof b, "%s%lld", i ? "," : "", (long long)json_integer_value(v));
        strcat(ids, b);
    }
    char dump[256];
    snprintf(dump, sizeof dump, "/tmp/mg_test_logits_%d.bin", (int)getpid());
    snprintf(cmd, sizeof cmd,
             MOEGEN " generate --model " FIX "%s %s%s --prompt-ids %s --strategy %s "
                    "--max-new-tokens 32 --threads 1 --dump-logits %s 2>&1",
             model, base ? "--base-model " FIX : "", base ? base : "", ids, strategy, dump);
    int rc = sh(cmd, out, sizeof out);
    cr_assert_eq(rc, 0, "%s\n%s", cmd, out);
    json_error_t je;
    json_t *res = json_loads(out, 0, &je);
    cr_assert(res, "not JSON: %s", out);
    cr_assert(json_equal(json_object_get(res, "ids"), json_object_get(c, "greedy")),
              "%s %s: ids differ: %s", model, strategy, out);
    FILE *f = fopen(dump, "rb");
    cr_assert(f);
    float lg[4096];
    size_t n = fread(lg, sizeof(float), 4096, f);
    fclose(f);
    unlink(dump);
    json_t *first = json_object_get(c, "first");
    cr_assert_eq(n, json_array_size(first));
    for (size_t j = 0; j < n; j++) {
        double r = json_number_value(json_array_get(first, j));
        cr_assert_leq(fabs(lg[j] - r), 1e-4 * fmax(1, fabs(r)), "logit %zu", j);
    }
    json_decref(res);
    json_decref(c);
}

Test(generate_cli, llama_base_matches_reference)
{
    check_generate("llama", NULL, "base");
}

Test(generate_cli, dylora_router_matches_reference)
{
    check_generate("dylora-checkpoint/checkpoint-10", "gemma", "router");
}

Test(generate_cli, refusals)
{
    char out[4096];
    int rc = sh(MOEGEN " generate --model /nonexistent --prompt-ids 1 --strategy nope 2>&1", out,
                sizeof out);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "single:N") && strstr(out, "--strategy"), "%s", out);
    rc = sh(MOEGEN " generate --model " FIX "llama --prompt-ids 1,x 2>&1", out, sizeof out);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "--prompt-ids"), "%s", out);
    rc = sh(MOEGEN " generate --model " FIX "llama --prompt-ids 1,300 2>&1", out, sizeof out);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "vocabulary"), "%s", out);
    rc = sh(MOEGEN " generate --model " FIX "llama --prompt-ids 1 --strategy ensemble 2>&1", out,
            sizeof out);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "no experts"), "%s", out);
    rc = sh(MOEGEN " generate --model " FIX "dylora-checkpoint/checkpoint-10 --base-model " FIX
                   "gemma --prompt-ids 2,3 --strategy single:3 2>&1",
            out, sizeof out);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "3 experts"), "%s", out);
}

Test(generate_cli, prompt_text_uses_tokenizer)
{
    char out[8192];
    int rc = sh(MOEGEN " generate --model " FIX "llama --prompt 'def add(a, b):' "
                       "--max-new-tokens 4 --temperature 0.7 --seed 1 --top-p 0.95 2>&1",
                out, sizeof out);
    cr_assert_eq(rc, 0, "%s", out);
    json_t *res = json_loads(out, 0, NULL);
    cr_assert(res, "%s", out);
    cr_assert_eq(json_array_size(json_object_get(res, "ids")), 4);
    cr_assert(json_is_string(json_object_get(res, "text")), "%s", out);
    json_decref(res);
}

Test(generate_cli, bench_runs)
{
    char out[8192];
    int rc = sh(MOEGEN " bench --model " FIX "dylora-checkpoint/checkpoint-10 --base-model " FIX
                       "gemma --strategy ensemble --batch 3 --prompt-tokens 9 --gen-tokens 4 "
                       "--threads 1 --json 2>&1",
                out, sizeof out);
    cr_assert_eq(rc, 0, "%s", out);
    json_t *res = json_loads(out, 0, NULL);
    cr_assert(res, "%s", out);
    cr_assert_gt(json_number_value(json_object_get(res, "decode_tok_s")), 0);
    cr_assert_gt(json_number_value(json_object_get(res, "peak_rss_mib")), 0);
    json_decref(res);
}
