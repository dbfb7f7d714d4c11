/* cmd_sanitize.c — `moegen sanitize`: EvalPlus's sanitizer on a sample file. */
#include <stdio.h>
#include <stdlib.h>

#include "mg_cli.h"
#include "mg_evaluate.h"

static int run(int argc, char **argv)
{
    const char *samples = NULL, *dataset = NULL, *dataset_path = NULL, *python = NULL;
    const mg_opt opts[] = {
        {"samples", MG_OPT_STRING, &samples, "FILE.jsonl",
         "records {task_id, solution|completion} (required)"},
        {"dataset", MG_OPT_STRING, &dataset, "NAME",
         "humaneval | mbpp (default: both, as EvalPlus)"},
        {"dataset-path", MG_OPT_STRING, &dataset_path, "PATH", "dataset file (needs --dataset)"},
        {"python", MG_OPT_STRING, &python, "PATH", "interpreter (default: python3 on PATH)"},
        {0}};
    int rc = mg_cli_parse("sanitize", "--samples FILE.jsonl [options]", opts, argc, argv, NULL);
    if (rc) return rc > 0 ? MG_EXIT_OK : MG_EXIT_USAGE;
    if (!samples) {
        mg_cli_error("sanitize", "--samples is required (see --help)");
        return MG_EXIT_USAGE;
    }
    char *out = NULL;
    size_t changed = 0, total = 0;
    mg_error err = {0};
    rc = mg_sanitize_file(samples, dataset, dataset_path, python, &out, &changed, &total, &err);
    if (rc < 0) {
        mg_cli_error("sanitize", "%s", err.msg);
        return rc == MG_EUSAGE || rc == MG_EFORMAT || rc == MG_ENOENT ? MG_EXIT_USAGE
                                                                      : MG_EXIT_FAIL;
    }
    if (changed)
        printf("Sanitized %zu out of %zu files.\n", changed, total);
    else
        printf("All files seems valid -- no files are sanitized.\n");
    printf("Check the sanitized files at %s\n", out);
    free(out);
    return MG_EXIT_OK;
}

const mg_command mg_cmd_sanitize = {"sanitize", "EvalPlus's sanitizer: code blocks to programs",
                                    run};
