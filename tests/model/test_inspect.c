/* test_inspect.c — `moegen inspect` on every fixture (exit 0, the expected
 * format and expert count in --json), and on broken input (exit 2, one line
 * on stderr naming the file). Runs the real binary. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX    MG_SOURCE_DIR "/tests/fixtures/models"
#define MOEGEN MG_BINARY_DIR "/moegen"

/* Runs a shell command; returns its exit status and stdout+stderr in out. */
static int sh(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    cr_assert(f, "popen %s", cmd);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(inspect, every_fixture, .timeout = 60)
{
    static const struct {
        const char *dir, *base, *format;
        int experts;
    } cases[] = {
        {"llama", NULL, "merged", 0},
        {"llama-rope-llama3", NULL, "merged", 0},
        {"llama-rope-linear", NULL, "merged", 0},
        {"llama-bf16", NULL, "merged", 0},
        {"llama-bin", NULL, "merged", 0},
        {"llama-bin-sharded", NULL, "merged", 0},
        {"llama-sharded", NULL, "merged", 0},
        {"gemma", NULL, "merged", 0},
        {"mistral", NULL, "merged", 0},
        {"qwen2", NULL, "merged", 0},
        {"peft-lora", NULL, "peft", 1},
        {"peft-rslora", NULL, "peft", 1},
        {"peft-patterns", NULL, "peft", 1},
        {"peft-dora", NULL, "peft", 1},
        {"peft-regex", NULL, "peft", 1},
        {"peft-adalora", NULL, "peft", 1},
        {"peft-bin", NULL, "peft", 1},
        {"dylora-best/best_model", "gemma", "dylora-moe (best_model)", 3},
        {"dylora-checkpoint/checkpoint-10", "gemma", "dylora-moe (checkpoint)", 3},
        {"dylora-legacy/results_full/best_model", "gemma", "dylora-moe (legacy model.safetensors)",
         3},
        {"xlora", NULL, "x-lora", 3},
        {"xlora-global", NULL, "x-lora", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[1024], out[65536], want[128];
        snprintf(cmd, sizeof cmd, "%s inspect --model %s/%s%s%s%s --json 2>&1", MOEGEN, FIX,
                 cases[i].dir, cases[i].base ? " --base-model " FIX "/" : "",
                 cases[i].base ? cases[i].base : "", "");
        cr_assert_eq(sh(cmd, out, sizeof out), 0, "%s: %s", cases[i].dir, out);
        snprintf(want, sizeof want, "\"format\": \"%s\"", cases[i].format);
        cr_assert(strstr(out, want), "%s: no %s in %s", cases[i].dir, want, out);
        snprintf(want, sizeof want, "\"n_experts\": %d", cases[i].experts);
        cr_assert(strstr(out, want), "%s: no %s", cases[i].dir, want);
    }
}

Test(inspect, text_shows_experts_and_router)
{
    char out[65536];
    cr_assert_eq(sh(MOEGEN " inspect --model " FIX "/dylora-best/best_model --base-model " FIX
                           "/gemma 2>&1",
                    out, sizeof out),
                 0, "%s", out);
    cr_assert(strstr(out, "expert_2: lora r 4 alpha 8, scaling 2, targets "
                          "q_proj,k_proj,v_proj,o_proj (8 modules), F32"),
              "%s", out);
    cr_assert(strstr(out, "router:       gate weight [3, 32] + bias [3], top_k 1, temperature 2"),
              "%s", out);
    cr_assert_eq(sh(MOEGEN " inspect --model " FIX "/peft-patterns 2>&1", out, sizeof out), 0);
    cr_assert(strstr(out, "(ranks 2-6)"), "%s", out);
}

Test(inspect, tensors_lists_what_was_bound)
{
    char out[131072];
    cr_assert_eq(sh(MOEGEN " inspect --model " FIX "/dylora-legacy/results_full/best_model "
                           "--base-model " FIX "/gemma --tensors 2>&1",
                    out, sizeof out),
                 0, "%s", out);
    cr_assert(strstr(out, "lm_head                      F32   [256, 32] "
                          "foundation_model.base_model.model.lm_head.weight"),
              "%s", out);
    cr_assert(strstr(out, "expert_2 layer 1 o_proj B") && strstr(out, "lora_B.expert_2.weight"),
              "%s", out);
    cr_assert(strstr(out, "router weight"), "%s", out);
    cr_assert_eq(
        sh(MOEGEN " inspect --model " FIX "/peft-adalora --tensors --json 2>&1", out, sizeof out),
        0, "%s", out);
    cr_assert(strstr(out, "\"role\": \"default layer 0 q_proj E\""), "%s", out);
}

/* X-LoRA: the classifier's layers and PEFT's options, in text, JSON and the
 * tensor list (values from tools/fixtures/make_models.py). */
Test(inspect, xlora_classifier)
{
    char out[65536];
    cr_assert_eq(sh(MOEGEN " inspect --model " FIX "/xlora 2>&1", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "xlora:        classifier [16, 32] -> [36, 16] over 12 modules, scalings "
                          "per module, softmax on (temperature 0.7) + over the kept, top_k 2,"),
              "%s", out);
    cr_assert(strstr(out, "scaling pass value 0, global scaling weight 1.5"), "%s", out);
    cr_assert_eq(sh(MOEGEN " inspect --model " FIX "/xlora-global --json 2>&1", out, sizeof out), 0,
                 "%s", out);
    cr_assert(strstr(out, "\"layerwise_scalings\": false"), "%s", out);
    cr_assert(strstr(out, "\"scaling_pass_value\": 0.4"), "%s", out);
    cr_assert_eq(sh(MOEGEN " inspect --model " FIX "/xlora-global 2>&1", out, sizeof out), 0, "%s",
                 out);
    cr_assert(strstr(out, "classifier [3, 32] over 12 modules, scalings global, softmax off"), "%s",
              out);
    cr_assert_eq(sh(MOEGEN " inspect --model " FIX "/xlora --tensors 2>&1", out, sizeof out), 0,
                 "%s", out);
    cr_assert(strstr(out, "xlora classifier 1 weight    F32   [36, 16] "
                          "base_model.internal_xlora_classifier.layers.3.weight"),
              "%s", out);
    cr_assert_eq(sh(MOEGEN " inspect --model " FIX "/llama --json 2>&1", out, sizeof out), 0);
    cr_assert(strstr(out, "\"xlora\": null"), "%s", out);
}

Test(inspect, bad_input_is_one_line_and_exit_2)
{
    char out[4096];
    cr_assert_eq(sh(MOEGEN " inspect --model /nonexistent/x 2>&1", out, sizeof out), 2);
    cr_assert(strstr(out, "moegen inspect: /nonexistent/x: no such folder"), "%s", out);
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "not one line: %s", out);
    cr_assert_eq(sh(MOEGEN " inspect 2>&1", out, sizeof out), 2);
    cr_assert(strstr(out, "--model"), "%s", out);
    cr_assert_eq(sh(MOEGEN " inspect --model " FIX "/peft-lora --base-model " FIX "/gemma 2>&1",
                    out, sizeof out),
                 2);
    cr_assert(strstr(out, "adapter_model.safetensors") && strstr(out, "shape"), "%s", out);
}
