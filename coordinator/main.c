/* main.c — `moegen <subcommand> ...`: dispatches to coordinator/cli/cmd_*.c.
 * This is one of the two places that may exit (the other is the worker). */
#include "mg_cli.h"

#include <stdio.h>
#include <string.h>

#ifdef MOEGEN_HAVE_CUDA
#include "mg_engine_cuda.h" /* moegen-cuda: the engine's CUDA backend */
#endif

#define MG_CMD(name) extern const mg_command mg_cmd_##name;
#include "mg_commands.inc"
#undef MG_CMD

static const mg_command *const commands[] = {
#define MG_CMD(name) &mg_cmd_##name,
#include "mg_commands.inc"
#undef MG_CMD
    NULL};

static void usage(FILE *f)
{
    fprintf(f, "usage: moegen <command> [options]   (moegen <command> --help for its flags)\n\n"
               "commands:\n");
    for (const mg_command *const *c = commands; *c; c++)
        fprintf(f, "  %-18s %s\n", (*c)->name, (*c)->summary);
}

int main(int argc, char **argv)
{
#ifdef MOEGEN_HAVE_CUDA
    mg_engine_cuda_register();
#endif
    if (argc < 2) {
        usage(stderr);
        return MG_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return MG_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("moegen 0.1.0\n");
        return MG_EXIT_OK;
    }
    for (const mg_command *const *c = commands; *c; c++)
        if (!strcmp((*c)->name, argv[1])) return (*c)->run(argc - 1, argv + 1);
    fprintf(stderr, "moegen: unknown command '%s' (see moegen --help)\n", argv[1]);
    return MG_EXIT_USAGE;
}
