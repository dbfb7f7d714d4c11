/* cli.c — the table-driven flag parser every subcommand uses. */
#include "mg_cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mg_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "moegen %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int mg_cli_check_ranges(const char *cmd, const mg_cli_range *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].v < r[i].lo || r[i].v > r[i].hi) {
            mg_cli_error(cmd, "--%s %ld: out of range %ld..%ld", r[i].flag, r[i].v, r[i].lo,
                         r[i].hi);
            return -1;
        }
    return 0;
}

void mg_cli_list_free(mg_cli_list *l)
{
    if (!l) return;
    free(l->items);
    for (int i = 0; i < l->n_owned; i++) free(l->owned[i]);
    free(l->owned);
    memset(l, 0, sizeof *l);
}

static int list_push(mg_cli_list *l, const char *s)
{
    const char **items = realloc(l->items, (size_t)(l->n + 1) * sizeof *items);
    if (!items) return -1;
    l->items = items;
    l->items[l->n++] = s;
    return 0;
}

/* Repeatable list flags also split on commas ("--strategies a,b"); the split
 * pieces live in a copy of the value that the list owns. */
static int list_push_split(mg_cli_list *l, const char *value)
{
    if (!strchr(value, ',')) return list_push(l, value);
    char **owned = realloc(l->owned, (size_t)(l->n_owned + 1) * sizeof *owned);
    if (!owned) return -1;
    l->owned = owned;
    char *copy = strdup(value);
    if (!copy) return -1;
    l->owned[l->n_owned++] = copy;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
        if (list_push(l, tok) < 0) return -1;
    return 0;
}

static void print_help(const char *cmd, const char *usage, const mg_opt *opts)
{
    printf("usage: moegen %s %s\n\n", cmd, usage ? usage : "[options]");
    printf("options:\n");
    for (const mg_opt *o = opts; o && o->name; o++) {
        char left[96];
        if (o->kind == MG_OPT_FLAG)
            snprintf(left, sizeof left, "--%s", o->name);
        else
            snprintf(left, sizeof left, "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
        printf("  %-34s %s\n", left, o->help ? o->help : "");
    }
    printf("  %-34s %s\n", "--help", "show this help and exit");
}

/* Compares a flag as typed with a declared name, treating '_' as '-'. */
static int name_matches(const char *typed, size_t len, const char *name)
{
    if (strlen(name) != len) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = typed[i] == '_' ? '-' : typed[i];
        if (c != name[i]) return 0;
    }
    return 1;
}

static void free_lists(const mg_opt *opts, mg_cli_list *positional)
{
    for (const mg_opt *o = opts; o && o->name; o++)
        if (o->kind == MG_OPT_LIST) mg_cli_list_free(o->dest);
    mg_cli_list_free(positional);
}

int mg_cli_parse(const char *cmd, const char *usage, const mg_opt *opts, int argc, char **argv,
                 mg_cli_list *positional)
{
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] != '-' || a[2] == '\0') {
            if (!only_positional && strcmp(a, "--") == 0) {
                only_positional = true;
                continue;
            }
            if (!positional) {
                mg_cli_error(cmd, "unexpected argument '%s' (see --help)", a);
                goto fail;
            }
            if (list_push(positional, a) < 0) goto oom;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (name_matches(name, len, "help")) {
            print_help(cmd, usage, opts);
            free_lists(opts, positional);
            return 1;
        }
        const mg_opt *o = opts;
        while (o && o->name && !name_matches(name, len, o->name)) o++;
        if (!o || !o->name) {
            mg_cli_error(cmd, "unknown flag '--%.*s' (see --help)", (int)len, name);
            goto fail;
        }
        if (o->kind == MG_OPT_FLAG) {
            if (eq) {
                mg_cli_error(cmd, "flag --%s takes no value", o->name);
                goto fail;
            }
            *(bool *)o->dest = true;
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                mg_cli_error(cmd, "flag --%s needs a value (%s)", o->name,
                             o->metavar ? o->metavar : "VALUE");
                goto fail;
            }
            value = argv[++i];
        }
        char *end = NULL;
        errno = 0;
        switch (o->kind) {
        case MG_OPT_STRING:
            *(const char **)o->dest = value;
            break;
        case MG_OPT_INT: {
            long v = strtol(value, &end, 10);
            if (errno || end == value || *end) {
                mg_cli_error(cmd, "flag --%s: '%s' is not an integer", o->name, value);
                goto fail;
            }
            *(long *)o->dest = v;
            break;
        }
        case MG_OPT_FLOAT: {
            double v = strtod(value, &end);
            if (errno || end == value || *end || !isfinite(v)) {
                mg_cli_error(cmd, "flag --%s: '%s' is not a finite number", o->name, value);
                goto fail;
            }
            *(double *)o->dest = v;
            break;
        }
        case MG_OPT_LIST:
            if (list_push_split(o->dest, value) < 0) goto oom;
            break;
        case MG_OPT_FLAG:
            break;
        }
    }
    return 0;
oom:
    mg_cli_error(cmd, "out of memory while parsing flags");
fail:
    free_lists(opts, positional);
    return -1;
}
