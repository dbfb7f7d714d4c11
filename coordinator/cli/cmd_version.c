/* cmd_version.c — `moegen version`: the version and the optional backends built in. */
#include "mg_cli.h"

#include <stdio.h>

static int run(int argc, char **argv)
{
    static const mg_opt opts[] = {{0}};
    int rc = mg_cli_parse("version", "", opts, argc, argv, NULL);
    if (rc) return rc > 0 ? MG_EXIT_OK : MG_EXIT_USAGE;
    printf("moegen 0.1.0\n");
#ifdef MOEGEN_HAVE_CUDA
    printf("cuda: kernels linked (bench-kernels --cuda); the engine runs on the CPU\n");
#else
    printf("cuda: not in this binary (moegen-cuda has the kernels when nvcc was found)\n");
#endif
    return MG_EXIT_OK;
}

const mg_command mg_cmd_version = {"version", "print the version and the backends built in", run};
