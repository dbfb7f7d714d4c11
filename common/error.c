/* error.c — the MG_ERRNO_MAP tables and error-context helpers. */
#include "mg_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mg_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define MG__ERR_TEXT(name, value, text)                                                            \
    case value:                                                                                    \
        return text;
        MG_ERRNO_MAP(MG__ERR_TEXT)
#undef MG__ERR_TEXT
    default:
        return "unknown error";
    }
}

const char *mg_err_name(int code)
{
    switch (code) {
    case 0:
        return "MG_OK";
#define MG__ERR_NAME(name, value, text)                                                            \
    case value:                                                                                    \
        return "MG_" #name;
        MG_ERRNO_MAP(MG__ERR_NAME)
#undef MG__ERR_NAME
    default:
        return "MG_UNKNOWN";
    }
}

int mg_err_from_errno(int e)
{
    if (e <= 0) return MG_EIO;
    switch (-e) {
#define MG__ERR_KNOWN(name, value, text)                                                           \
    case value:                                                                                    \
        return value;
        MG_ERRNO_MAP(MG__ERR_KNOWN)
#undef MG__ERR_KNOWN
    default:
        return MG_EIO;
    }
}

int mg_error_vset(mg_error *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        /* Messages are one line: newlines from untrusted input would break that. */
        for (char *p = err->msg; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
    }
    return code;
}

int mg_error_set(mg_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mg_error_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int mg_error_prefix(mg_error *err, int code, const char *fmt, ...)
{
    if (!err) return code;
    if (err->code == 0) err->code = code;
    char ctx[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    if (old[0])
        snprintf(err->msg, sizeof err->msg, "%s: %s", ctx, old);
    else
        snprintf(err->msg, sizeof err->msg, "%s", ctx);
    return err->code;
}

void mg__assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "moegen: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
    abort();
}
