/* cmd_evaluate.c — `moegen evaluate`: EvalPlus's evaluate, in a sandbox. */
#include <stdio.h>
#include <string.h>

#include "mg_cli.h"
#include "mg_evaluate.h"

static int run(int argc, char **argv)
{
    mg_evaluate_params p = mg_evaluate_default_params();
    const char *dataset = NULL, *samples = NULL, *dataset_path = NULL, *python = NULL,
               *output = NULL;
    long parallel = 0;
    bool base_only = false, details = false, again = false, quiet = false;
    double min_limit = p.min_time_limit, factor = p.gt_time_limit_factor;
    const mg_opt opts[] = {
        {"dataset", MG_OPT_STRING, &dataset, "NAME",
         "humaneval | mbpp | humaneval-orig | custom (required)"},
        {"samples", MG_OPT_STRING, &samples, "FILE.jsonl",
         "records {task_id, solution|completion} (required)"},
        {"dataset-path", MG_OPT_STRING, &dataset_path, "PATH",
         "dataset file (default: EvalPlus's resolution)"},
        {"parallel", MG_OPT_INT, &parallel, "N", "samples run at once (default: online CPUs)"},
        {"base-only", MG_OPT_FLAG, &base_only, NULL, "skip the plus inputs (default off)"},
        {"test-details", MG_OPT_FLAG, &details, NULL,
         "run every input, list every failing one (default off)"},
        {"i-just-wanna-run", MG_OPT_FLAG, &again, NULL,
         "re-run even if results exist; old file kept as .bak"},
        {"python", MG_OPT_STRING, &python, "PATH",
         "interpreter for samples (default: python3 on PATH)"},
        {"output-file", MG_OPT_STRING, &output, "PATH",
         "results path (default: <samples>.eval_results.json)"},
        {"min-time-limit", MG_OPT_FLOAT, &min_limit, "S",
         "per-input time limit floor (default 4.0)"},
        {"gt-time-limit-factor", MG_OPT_FLOAT, &factor, "X",
         "times the canonical time (default 4.0)"},
        {"quiet", MG_OPT_FLAG, &quiet, NULL, "no progress messages (default off)"},
        {0}};
    int rc = mg_cli_parse("evaluate", "--dataset NAME --samples FILE.jsonl [options]", opts, argc,
                          argv, NULL);
    if (rc) return rc > 0 ? MG_EXIT_OK : MG_EXIT_USAGE;
    if (!dataset || !samples) {
        mg_cli_error("evaluate", "--dataset and --samples are required (see --help)");
        return MG_EXIT_USAGE;
    }
    if (parallel < 0 || parallel > 4096) {
        mg_cli_error("evaluate", "--parallel: %ld is out of range (1..4096)", parallel);
        return MG_EXIT_USAGE;
    }
    if (min_limit <= 0 || factor <= 0) {
        mg_cli_error("evaluate", "--min-time-limit and --gt-time-limit-factor must be positive");
        return MG_EXIT_USAGE;
    }
    p.dataset = dataset;
    p.samples = samples;
    p.dataset_path = dataset_path;
    p.parallel = (int)parallel;
    p.base_only = base_only;
    p.test_details = details;
    p.overwrite = again;
    p.python = python;
    p.output = output;
    p.min_time_limit = min_limit;
    p.gt_time_limit_factor = factor;
    p.quiet = quiet;
    mg_evaluate_summary s;
    mg_error err = {0};
    rc = mg_evaluate_file(&p, &s, &err);
    if (rc < 0) {
        mg_cli_error("evaluate", "%s", err.msg);
        mg_evaluate_summary_free(&s);
        return rc == MG_EUSAGE || rc == MG_EFORMAT || rc == MG_ENOENT ? MG_EXIT_USAGE
                                                                      : MG_EXIT_FAIL;
    }
    char table[512];
    const char *name = !strcmp(dataset, "humaneval-orig") ? "humaneval" : dataset;
    /* custom datasets have base tests only, like humaneval-orig. */
    mg_evaluate_format_table(name, &s, table, sizeof table);
    fputs(table, stdout);
    if (!quiet) fprintf(stderr, "moegen evaluate: results in %s\n", s.results_path);
    mg_evaluate_summary_free(&s);
    return MG_EXIT_OK;
}

const mg_command mg_cmd_evaluate = {"evaluate", "score samples with EvalPlus's tests, sandboxed",
                                    run};
