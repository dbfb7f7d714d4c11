/* cmd_merge.c — `moegen merge`: joins the sample files of a sharded codegen
 * run (`--shard I/N`) into the one EvalPlus file an unsharded run writes. */
#include "mg_cli.h"
#include "mg_coordinator.h"

#include <stdio.h>

#define USAGE                                                                                      \
    "--output OUT.jsonl SHARD0.jsonl SHARD1.jsonl ...\n"                                           \
    "Inputs in shard order (0..N-1), each once; names ending _shard-I-of-N.jsonl are\n"            \
    "checked against that. The .raw.jsonl twins are merged too when every input has one."

static int run(int argc, char **argv)
{
    const char *out = NULL;
    const mg_opt opts[] = {{"output", MG_OPT_STRING, &out, "OUT", "merged file (required)"}, {0}};
    mg_cli_list in = {0};
    int rc = mg_cli_parse("merge", USAGE, opts, argc, argv, &in);
    if (rc) {
        mg_cli_list_free(&in);
        return rc > 0 ? MG_EXIT_OK : MG_EXIT_USAGE;
    }
    int status = MG_EXIT_OK;
    if (!out || in.n < 1) {
        mg_cli_error("merge", "--output and at least one shard file are required");
        status = MG_EXIT_USAGE;
    } else {
        mg_error err = {0};
        rc = mg_merge_shards(out, in.items, in.n, &err);
        if (rc < 0) {
            mg_cli_error("merge", "%s", err.msg);
            status = rc == MG_EIO || rc == MG_ENOMEM ? MG_EXIT_FAIL : MG_EXIT_USAGE;
        } else {
            printf("%s\n", out);
        }
    }
    mg_cli_list_free(&in);
    return status;
}

const mg_command mg_cmd_merge = {"merge", "join the sample files of a sharded codegen run", run};
