/* log.c — the process-wide log sink. It is the one piece of global state in
 * the libraries, set once by main() before any work starts (like ggml_log_set). */
#include "mg_log.h"

#include <stdarg.h>
#include <stdio.h>

static mg_log_cb log_cb;
static void *log_ud;
static mg_log_level log_min = MG_LOG_INFO;

void mg_log_set(mg_log_cb cb, void *user_data)
{
    log_cb = cb;
    log_ud = user_data;
}

void mg_log_set_level(mg_log_level level)
{
    log_min = level;
}

void mg_log(mg_log_level level, const char *fmt, ...)
{
    if (level < log_min) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (log_cb) {
        log_cb(level, buf, log_ud);
        return;
    }
    static const char *const names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "moegen: %s: %s\n", names[level], buf);
}
