/* mg_error.h — error codes and error context shared by every moegen library.
 *
 * Conventions (as in libuv): every fallible function returns 0 on success or a
 * negative MG_E* code, and takes an optional `mg_error *` that it fills with a
 * one-line message carrying the context (file, line, key, value):
 *
 *     mg_error err = {0};
 *     if (mg_model_load(&p, &model, &err) < 0)
 *         fprintf(stderr, "moegen: %s (%s)\n", err.msg, mg_err_name(err.code));
 *
 * Codes on POSIX are -errno for system errors; moegen's own conditions live
 * below -1000 so they never collide with errno values.
 */
#ifndef MG_ERROR_H
#define MG_ERROR_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>

#define MG_ERRNO_MAP(XX)                                                                           \
    XX(EPERM, -EPERM, "operation not permitted")                                                   \
    XX(ENOENT, -ENOENT, "no such file or directory")                                               \
    XX(EIO, -EIO, "input/output error")                                                            \
    XX(ENOMEM, -ENOMEM, "out of memory")                                                           \
    XX(EACCES, -EACCES, "permission denied")                                                       \
    XX(EEXIST, -EEXIST, "file exists")                                                             \
    XX(EINVAL, -EINVAL, "invalid argument")                                                        \
    XX(ENOSPC, -ENOSPC, "no space left on device")                                                 \
    XX(EPIPE, -EPIPE, "broken pipe")                                                               \
    XX(ERANGE, -ERANGE, "value out of range")                                                      \
    XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                                        \
    XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                                         \
    XX(ECANCELED, -ECANCELED, "canceled")                                                          \
    XX(EFORMAT, -1001, "malformed input")                                                          \
    XX(EUNSUPPORTED, -1002, "unsupported feature")                                                 \
    XX(ESHAPE, -1003, "tensor shape mismatch")                                                     \
    XX(ECHECKSUM, -1004, "checksum mismatch")                                                      \
    XX(EHTTP, -1005, "http error")                                                                 \
    XX(EPROTO, -1006, "protocol error")                                                            \
    XX(ECUDA, -1007, "cuda error")                                                                 \
    XX(EUSAGE, -1008, "usage error")                                                               \
    XX(ECHILD, -1009, "child process failed")                                                      \
    XX(EINTERRUPTED, -1010, "interrupted")

typedef enum mg_err {
#define MG__ERR_ENUM(name, value, text) MG_##name = (value),
    MG_ERRNO_MAP(MG__ERR_ENUM)
#undef MG__ERR_ENUM
        MG_OK = 0
} mg_err;

/* Error context filled by a failing call. `msg` is one line, no newline. */
typedef struct mg_error {
    int code;
    char msg[1024];
} mg_error;

/* Human-readable text and symbolic name ("MG_EFORMAT") for a code. */
const char *mg_strerror(int code);
const char *mg_err_name(int code);

/* Maps an errno value (positive) to a negative moegen code. */
int mg_err_from_errno(int e);

/* Fills `err` (when non-NULL) and returns `code`, so a caller can write
 *     return mg_error_set(err, MG_EFORMAT, "%s:%d: missing \"prompt\"", path, line);
 */
int mg_error_set(mg_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int mg_error_vset(mg_error *err, int code, const char *fmt, va_list ap);

/* Prepends context to an existing message: "ctx: old message". Returns err->code
 * (or `code` when err is NULL). */
int mg_error_prefix(mg_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Always-on assertion for broken internal invariants (never for input). */
#define MG_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) mg__assert_fail(#cond, __FILE__, __LINE__, __func__);                         \
    } while (0)
_Noreturn void mg__assert_fail(const char *expr, const char *file, int line, const char *func);

#endif /* MG_ERROR_H */
