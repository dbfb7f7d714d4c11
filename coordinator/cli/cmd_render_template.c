/* cmd_render_template.c — `moegen render-template`: renders a Jinja chat
 * template with a JSON context and writes the result to stdout exactly (no
 * newline added). The test interface for worker/template (mg_template.h). */
#include "mg_cli.h"
#include "mg_template.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (n < cap) break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* "YYYY-MM-DDTHH:MM:SS" (UTC) -> seconds since the epoch */
static int parse_now(const char *s, int64_t *out)
{
    struct tm tm = {0};
    char tail;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &tail) != 6)
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

static int run(int argc, char **argv)
{
    const char *tpath = NULL, *cpath = NULL, *now = NULL;
    long repeat = 1;
    const mg_opt opts[] = {
        {"template", MG_OPT_STRING, &tpath, "FILE", "Jinja template to render (required)"},
        {"context", MG_OPT_STRING, &cpath, "FILE.json",
         "JSON object with the template variables (required)"},
        {"now", MG_OPT_STRING, &now, "YYYY-MM-DDTHH:MM:SS",
         "fixed UTC time for strftime_now (default: the local clock)"},
        {"repeat", MG_OPT_INT, &repeat, "N",
         "benchmark: parse once, render N times, print the time per render on stderr (default 1)"},
        {0}};
    int rc = mg_cli_parse("render-template", "--template FILE --context FILE.json [--now TIME]",
                          opts, argc, argv, NULL);
    if (rc) return rc > 0 ? MG_EXIT_OK : MG_EXIT_USAGE;
    if (!tpath || !cpath) {
        mg_cli_error("render-template", "--template and --context are required");
        return MG_EXIT_USAGE;
    }
    mg_jinja_options o = mg_jinja_default_options();
    if (now) {
        if (parse_now(now, &o.now) < 0) {
            mg_cli_error("render-template", "--now: expected YYYY-MM-DDTHH:MM:SS, got '%s'", now);
            return MG_EXIT_USAGE;
        }
        o.fixed_now = true;
    }
    size_t len;
    char *src = read_all(tpath, &len);
    if (!src) {
        mg_cli_error("render-template", "%s: cannot read the template", tpath);
        return MG_EXIT_USAGE;
    }
    /* the context is parsed as Python's json.loads would (NUL bytes in keys
     * included), by the renderer itself */
    size_t clen;
    char *ctext = read_all(cpath, &clen);
    if (!ctext) {
        mg_cli_error("render-template", "%s: cannot read the context", cpath);
        free(src);
        return MG_EXIT_USAGE;
    }
    mg_error err = {0};
    mg_jinja *t = NULL;
    char *out = NULL;
    size_t out_len = 0;
    if (repeat < 1) {
        mg_cli_error("render-template", "--repeat: expected a positive count, got %ld", repeat);
        free(ctext);
        free(src);
        return MG_EXIT_USAGE;
    }
    rc = mg_jinja_parse(src, len, &t, &err);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; rc == 0 && i < repeat; i++) {
        free(out);
        out = NULL;
        rc = mg_jinja_render_json(t, ctext, clen, &o, &out, &out_len, &err);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc == 0 && repeat > 1) {
        double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                    1e3 / (double)repeat;
        fprintf(stderr,
                "render-template: %ld renders, %.2f us per render (context parse included)\n",
                repeat, us);
    }
    mg_jinja_free(t);
    free(ctext);
    free(src);
    if (rc < 0) {
        /* "FILE:LINE:COL: message", naming the context file for its errors */
        if (!strncmp(err.msg, "context JSON ", 13))
            mg_cli_error("render-template", "%s:%s (%s)", cpath, err.msg + 13, mg_err_name(rc));
        else if (rc == MG_EINVAL)
            mg_cli_error("render-template", "%s: %s (%s)", cpath, err.msg, mg_err_name(rc));
        else
            mg_cli_error("render-template", "%s:%s (%s)", tpath, err.msg, mg_err_name(rc));
        return rc == MG_ENOMEM ? MG_EXIT_FAIL : MG_EXIT_USAGE;
    }
    int bad = fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0;
    free(out);
    if (bad) {
        mg_cli_error("render-template", "writing stdout failed");
        return MG_EXIT_FAIL;
    }
    return MG_EXIT_OK;
}

const mg_command mg_cmd_render_template = {
    "render-template", "render a Jinja chat template with a JSON context to stdout", run};
