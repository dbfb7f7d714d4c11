/* util.c — buffers, Python-compatible JSON text, files, and running one
 * sandboxed job to completion. */
#define _XOPEN_SOURCE 700
#include "ev_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int ev_buf_add(ev_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return MG_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ev_buf_printf(ev_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return MG_EINVAL;
    if ((size_t)n < sizeof small) return ev_buf_add(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) return MG_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = ev_buf_add(b, big, (size_t)n);
    free(big);
    return rc;
}

void ev_buf_free(ev_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Decodes one UTF-8 sequence; returns its length, or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, min = 0x80, c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, min = 0x800, c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

int ev_buf_json_string(ev_buf *b, const char *s, size_t len)
{
    int rc = ev_buf_add(b, "\"", 1);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len && !rc;) {
        unsigned cp = 0;
        size_t l = utf8_decode(u + i, len - i, &cp);
        char tmp[16];
        if (l == 0) { /* surrogateescape, as Python reads undecodable bytes */
            snprintf(tmp, sizeof tmp, "\\udc%02x", u[i]);
            rc = ev_buf_add(b, tmp, 6);
            i++;
            continue;
        }
        i += l;
        switch (cp) {
        case '"':
            rc = ev_buf_add(b, "\\\"", 2);
            break;
        case '\\':
            rc = ev_buf_add(b, "\\\\", 2);
            break;
        case '\n':
            rc = ev_buf_add(b, "\\n", 2);
            break;
        case '\r':
            rc = ev_buf_add(b, "\\r", 2);
            break;
        case '\t':
            rc = ev_buf_add(b, "\\t", 2);
            break;
        case '\b':
            rc = ev_buf_add(b, "\\b", 2);
            break;
        case '\f':
            rc = ev_buf_add(b, "\\f", 2);
            break;
        default:
            if (cp >= 0x20 && cp < 0x7F) {
                char ch = (char)cp;
                rc = ev_buf_add(b, &ch, 1);
            } else if (cp < 0x10000) {
                snprintf(tmp, sizeof tmp, "\\u%04x", cp);
                rc = ev_buf_add(b, tmp, 6);
            } else {
                unsigned v = cp - 0x10000;
                snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", 0xD800 + (v >> 10),
                         0xDC00 + (v & 0x3FF));
                rc = ev_buf_add(b, tmp, 12);
            }
        }
    }
    return rc ? rc : ev_buf_add(b, "\"", 1);
}

int ev_buf_py_float(ev_buf *b, double v)
{
    if (isnan(v)) return ev_buf_add(b, "NaN", 3);
    if (isinf(v)) return v > 0 ? ev_buf_add(b, "Infinity", 8) : ev_buf_add(b, "-Infinity", 9);
    /* Shortest digits that read back as v, then Python's layout: positional
     * for 1e-4 <= |v| < 1e16, else d.ddde+XX; always a "." or an exponent. */
    char tmp[48];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v) break;
    }
    int neg = tmp[0] == '-';
    char *e = strchr(tmp, 'e');
    int exp = atoi(e + 1);
    char digits[24];
    size_t nd = 0;
    for (char *p = tmp + neg; p < e && nd < sizeof digits - 1; p++)
        if (*p != '.') digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    char out[64];
    size_t o = 0;
    if (neg) out[o++] = '-';
    if (v == 0) {
        o += (size_t)snprintf(out + o, sizeof out - o, "0.0");
    } else if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int z = 0; z < -exp - 1; z++) out[o++] = '0';
            for (size_t k = 0; k < nd; k++) out[o++] = digits[k];
        } else {
            for (int k = 0; k <= exp; k++) out[o++] = (size_t)k < nd ? digits[k] : '0';
            out[o++] = '.';
            if ((size_t)exp + 1 < nd)
                for (size_t k = (size_t)exp + 1; k < nd; k++) out[o++] = digits[k];
            else
                out[o++] = '0';
        }
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (size_t k = 1; k < nd; k++) out[o++] = digits[k];
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
    }
    out[o] = '\0';
    return ev_buf_add(b, out, o);
}

double ev_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int ev_read_file(const char *path, char **data, size_t *len, mg_error *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return mg_error_set(err, mg_err_from_errno(errno), "%s: %s", path, strerror(errno));
    ev_buf b = {0};
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if ((rc = ev_buf_add(&b, chunk, n)) < 0) break;
    if (!rc && ferror(f))
        rc = mg_error_set(err, MG_EIO, "%s: read error", path);
    else if (rc)
        mg_error_set(err, rc, "%s: out of memory", path);
    fclose(f);
    if (rc) {
        ev_buf_free(&b);
        return rc;
    }
    if (!b.data && ev_buf_add(&b, "", 0) < 0) return mg_error_set(err, MG_ENOMEM, "out of memory");
    *data = b.data;
    *len = b.len;
    return 0;
}

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

void ev_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int ev_run_collect(const ev_sbx_params *p, double timeout_s, ev_buf *ev, size_t ev_cap, ev_buf *out,
                   int *status, mg_error *err)
{
    ev_proc pr;
    int rc = ev_sbx_spawn(p, &pr, err);
    if (rc < 0) return rc;
    double deadline = ev_now() + timeout_s;
    bool ev_open = true, out_open = true, timed_out = false;
    char chunk[65536];
    while (ev_open || out_open) {
        double left = deadline - ev_now();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd fds[2] = {{ev_open ? pr.ev_fd : -1, POLLIN, 0},
                                {out_open ? pr.out_fd : -1, POLLIN, 0}};
        int n = poll(fds, 2, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = read(fds[i].fd, chunk, sizeof chunk);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                if (i == 0)
                    ev_open = false;
                else
                    out_open = false;
                continue;
            }
            if (r < 0) continue;
            ev_buf *dst = i == 0 ? ev : out;
            size_t cap = i == 0 ? ev_cap : 65536;
            if (dst && dst->len < cap) {
                size_t take = (size_t)r;
                if (dst->len + take > cap) take = cap - dst->len;
                if (ev_buf_add(dst, chunk, take) < 0) {
                    timed_out = false;
                    ev_sbx_kill(&pr);
                    ev_sbx_reap(&pr);
                    return mg_error_set(err, MG_ENOMEM, "evaluate: out of memory");
                }
            }
        }
    }
    /* Both pipes closed: the process is exiting; give it until the deadline. */
    while (!timed_out) {
        int st = 0;
        pid_t w = waitpid(pr.pid, &st, WNOHANG);
        if (w == pr.pid) {
            pr.pid = -1;
            ev_sbx_reap(&pr);
            if (status) *status = st;
            return 0;
        }
        if (w < 0 && errno != EINTR) break;
        if (ev_now() >= deadline) {
            timed_out = true;
            break;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    int st = ev_sbx_reap(&pr);
    if (status) *status = st;
    return timed_out ? MG_ETIMEDOUT : 0;
}
