/* test_bench_kernels_cli.c — `moegen bench-kernels` as a user runs it: the
 * quick table in JSON has every op and shape with positive, finite numbers,
 * and bad flags exit 2 with one line naming the flag. (The numbers themselves
 * are a benchmark's business, not a test's.) */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define MOEGEN MG_BINARY_DIR "/moegen"

/* Runs cmd, returns its exit status and its output (stdout + stderr). */
static int run_cmd(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(bench_kernels_cli, quick_json_table)
{
    static char out[1 << 16];
    int rc = run_cmd(MOEGEN " bench-kernels --quick --min-ms 1 --threads 1 --json 2>&1", out,
                     sizeof out);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
    int n_mem = 0, n_mm = 0, n_att = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        cr_assert(line[0] == '{' && line[strlen(line) - 1] == '}', "not a JSON object: %s", line);
        if (strstr(line, "\"op\":\"memory\"")) {
            n_mem++;
            double c = 0, t = 0, r = 0;
            const char *p = strstr(line, "\"copy_gbs\":");
            cr_assert(p && sscanf(p, "\"copy_gbs\":%lf,\"triad_gbs\":%lf,\"read_gbs\":%lf", &c, &t,
                                  &r) == 3,
                      "%s", line);
            cr_assert(c > 0 && t > 0 && r > 0 && isfinite(c + t + r), "%s", line);
        } else if (strstr(line, "\"op\":\"matmul\"")) {
            n_mm++;
            const char *p = strstr(line, "\"gflops\":");
            double g = 0;
            cr_assert(p && sscanf(p, "\"gflops\":%lf", &g) == 1 && g > 0 && isfinite(g), "%s",
                      line);
        } else if (strstr(line, "\"op\":\"attention_decode\"")) {
            n_att++;
        } else {
            cr_assert_fail("unexpected line: %s", line);
        }
    }
    /* quick: 3 SmolLM2 shapes x 3 dtypes x n in {1, 16}; attention: 2 layouts x 2 lengths x 3 */
    cr_assert_eq(n_mem, 1);
    cr_assert_eq(n_mm, 18);
    cr_assert_eq(n_att, 12);
}

Test(bench_kernels_cli, bad_flags_exit_2)
{
    static char out[4096];
    cr_assert_eq(run_cmd(MOEGEN " bench-kernels --threads -1 2>&1", out, sizeof out), 2);
    cr_assert(strstr(out, "--threads") && strchr(out, '\n') == strrchr(out, '\n'), "%s", out);
    cr_assert_eq(run_cmd(MOEGEN " bench-kernels --min-ms 0 2>&1", out, sizeof out), 2);
    cr_assert(strstr(out, "--min-ms"), "%s", out);
    cr_assert_eq(run_cmd(MOEGEN " bench-kernels --bogus 2>&1", out, sizeof out), 2);
    cr_assert(strstr(out, "--bogus"), "%s", out);
}
