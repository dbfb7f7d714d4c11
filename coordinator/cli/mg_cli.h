/* mg_cli.h — the subcommand interface and one flag parser for all of them.
 *
 * A subcommand is a file coordinator/cli/cmd_<name>.c that defines
 *
 *     const mg_command mg_cmd_<name> = {"name", "one-line summary", run};
 *
 * and CMake adds it to the table (no list to edit). `run` returns the process
 * exit status: 0 success, 1 failure, 2 bad input or usage, 130 interrupted.
 *
 * Flags are declared as a table and parsed by mg_cli_parse(), which gives
 * every subcommand the same `--help`, `--flag VALUE` / `--flag=VALUE`, and
 * python-fire's spelling with underscores (`--n_samples`) as EvalPlus accepts.
 */
#ifndef MG_CLI_H
#define MG_CLI_H

#include <stdbool.h>
#include <stddef.h>

enum { MG_EXIT_OK = 0, MG_EXIT_FAIL = 1, MG_EXIT_USAGE = 2, MG_EXIT_INTERRUPTED = 130 };

typedef struct mg_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} mg_command;

typedef enum mg_opt_kind {
    MG_OPT_FLAG,   /* bool *: set to true when present */
    MG_OPT_STRING, /* const char **: points into argv */
    MG_OPT_INT,    /* long *: strict decimal */
    MG_OPT_FLOAT,  /* double *: strict, finite */
    MG_OPT_LIST,   /* mg_cli_list *: repeatable, and comma-separated values split */
} mg_opt_kind;

typedef struct mg_cli_list {
    const char **items; /* point into argv, or into `owned` for split values */
    int n;
    char **owned; /* copies made to split "a,b" values; freed by mg_cli_list_free */
    int n_owned;
} mg_cli_list;
void mg_cli_list_free(mg_cli_list *l);

typedef struct mg_opt {
    const char *name; /* without the leading "--" */
    mg_opt_kind kind;
    void *dest;
    const char *metavar; /* e.g. "PATH"; NULL for flags */
    const char *help;    /* one line; mention the default */
} mg_opt;

/* Parses argv[1..argc) against `opts` (terminated by an entry with name NULL).
 * Positional arguments are collected into *positional (may be NULL when none
 * are allowed). Returns 0 on success, 1 when --help was printed (the caller
 * returns MG_EXIT_OK), -1 after printing one line naming the bad flag (the
 * caller returns MG_EXIT_USAGE). */
int mg_cli_parse(const char *cmd, const char *usage, const mg_opt *opts, int argc, char **argv,
                 mg_cli_list *positional);

/* Prints "moegen <cmd>: <message>" on stderr (one line). */
void mg_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An integer flag's value and its allowed range [lo, hi]. */
typedef struct mg_cli_range {
    const char *flag; /* without the dashes */
    long v, lo, hi;
} mg_cli_range;

/* 0 when every value is in its range; else prints one line naming the first
 * flag outside ("--batch 0: out of range 1..1024") and returns -1 (the
 * caller returns MG_EXIT_USAGE). */
int mg_cli_check_ranges(const char *cmd, const mg_cli_range *r, size_t n);

#endif /* MG_CLI_H */
