#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "mg_cli.h"

Test(cli, parses_every_kind_and_underscore_spelling)
{
    bool greedy = false;
    const char *model = NULL;
    long n = 1;
    double t = 0;
    mg_cli_list strategies = {0}, pos = {0};
    const mg_opt opts[] = {
        {"greedy", MG_OPT_FLAG, &greedy, NULL, ""},
        {"model", MG_OPT_STRING, &model, "PATH", ""},
        {"n-samples", MG_OPT_INT, &n, "N", ""},
        {"temperature", MG_OPT_FLOAT, &t, "T", ""},
        {"strategies", MG_OPT_LIST, &strategies, "S,...", ""},
        {0}};
    char *argv[] = {"x", "--greedy", "--model=m", "--n_samples", "5", "--temperature", "0.8",
                    "--strategies", "router,single:0", "--strategies=best", "pos1", NULL};
    cr_assert_eq(mg_cli_parse("x", NULL, opts, 11, argv, &pos), 0);
    cr_assert(greedy);
    cr_assert_str_eq(model, "m");
    cr_assert_eq(n, 5);
    cr_assert_float_eq(t, 0.8, 1e-12);
    cr_assert_eq(strategies.n, 3);
    cr_assert_str_eq(strategies.items[0], "router");
    cr_assert_str_eq(strategies.items[1], "single:0");
    cr_assert_str_eq(strategies.items[2], "best");
    cr_assert_eq(pos.n, 1);
    mg_cli_list_free(&strategies);
    mg_cli_list_free(&pos);
}

Test(cli, rejects_bad_values_with_one_line, .init = cr_redirect_stderr)
{
    long n = 0;
    double t = 0;
    const mg_opt opts[] = {{"n", MG_OPT_INT, &n, "N", ""}, {"t", MG_OPT_FLOAT, &t, "T", ""}, {0}};
    char *a1[] = {"x", "--n", "5x", NULL};
    cr_assert_eq(mg_cli_parse("x", NULL, opts, 3, a1, NULL), -1);
    char *a2[] = {"x", "--t", "nan", NULL};
    cr_assert_eq(mg_cli_parse("x", NULL, opts, 3, a2, NULL), -1);
    char *a3[] = {"x", "--t", NULL};
    cr_assert_eq(mg_cli_parse("x", NULL, opts, 2, a3, NULL), -1);
    char *a4[] = {"x", "--what", NULL};
    cr_assert_eq(mg_cli_parse("x", NULL, opts, 2, a4, NULL), -1);
    char *a5[] = {"x", "stray", NULL};
    cr_assert_eq(mg_cli_parse("x", NULL, opts, 2, a5, NULL), -1);
    fflush(stderr);
    cr_assert_stderr_eq_str("moegen x: flag --n: '5x' is not an integer\n"
                            "moegen x: flag --t: 'nan' is not a finite number\n"
                            "moegen x: flag --t needs a value (T)\n"
                            "moegen x: unknown flag '--what' (see --help)\n"
                            "moegen x: unexpected argument 'stray' (see --help)\n");
}
