/* `moegen codegen --evaluate` on the embedded example (tiny DyLoRA-MoE model,
 * examples/tasks.jsonl): every strategy's file is scored, the table lists
 * each, the results files and the pass@1 chart exist, and partial selections
 * are refused before any work. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MOEGEN MG_BINARY_DIR "/moegen"
#define EX     MG_SOURCE_DIR "/examples"

static int sh(const char *cmd, char *out, size_t cap)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(codegen_evaluate, scores_every_strategy_and_draws_the_chart)
{
    char dir[] = "/tmp/mg-cgeval-XXXXXX", cmd[4096], out[16384], path[512];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             /* relative paths: the output ids are named after --model as typed */
             "cd " MG_SOURCE_DIR " && XDG_CACHE_HOME=%s/cache %s codegen --model "
             "examples/tiny-dylora --dataset custom --dataset-path examples/tasks.jsonl "
             "--strategies router,single:1 --workers 1 "
             "--max-new-tokens 16 --root %s --evaluate --quiet",
             dir, MOEGEN, dir);
    cr_assert_eq(sh(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "\nrouter ") && strstr(out, "\nsingle:1 "), "%s", out);
    const char *files[] = {"examples--tiny-dylora--router_hf_temp_0.0.eval_results.json",
                           "examples--tiny-dylora--single-1_hf_temp_0.0.eval_results.json",
                           "examples--tiny-dylora_hf_temp_0.0.pass_at_1.svg"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/custom/%s", dir, files[i]);
        cr_assert_eq(access(path, R_OK), 0, "missing %s", path);
    }
    snprintf(cmd, sizeof cmd,
             "%s codegen --model " EX "/tiny-dylora --dataset custom --dataset-path " EX
             "/tasks.jsonl --id-range 0,2 --root %s --evaluate",
             MOEGEN, dir);
    cr_assert_eq(sh(cmd, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "--evaluate scores whole datasets"), "%s", out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
