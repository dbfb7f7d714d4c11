/* fsutil.c — the file-system half of a safe download: folders, locks,
 * atomic writes and the digests files are checked against. */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg_hash.h"

int mg__lock(const char *path, mg_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return mg_error_set(err, mg_err_from_errno(errno), "%s: cannot open lock file: %s", path,
                            strerror(errno));
    while (flock(fd, LOCK_EX) < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        close(fd);
        return mg_error_set(err, mg_err_from_errno(e), "%s: cannot lock: %s", path, strerror(e));
    }
    return fd;
}

void mg__unlock(int fd)
{
    if (fd >= 0) close(fd); /* closing drops the flock */
}

int mg__read_small_file(const char *path, char **out, size_t *len, mg_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mg_error_set(err, mg_err_from_errno(errno), "%s: cannot open: %s", path,
                            strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap >= (1u << 20)) {
                free(buf);
                fclose(f);
                return mg_error_set(err, MG_ERANGE, "%s: larger than 1 MiB", path);
            }
            char *b = realloc(buf, cap * 2);
            if (!b) break;
            buf = b;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    if (!buf) return mg_error_set(err, MG_ENOMEM, "%s: out of memory", path);
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return 0;
}

long long mg__file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

typedef void (*update_fn)(void *state, const void *p, size_t n);

static int hash_file(const char *path, void *state, update_fn update, mg_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mg_error_set(err, mg_err_from_errno(errno), "%s: cannot open: %s", path,
                            strerror(errno));
    static _Thread_local unsigned char buf[1 << 16];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0) update(state, buf, r);
    int bad = ferror(f);
    fclose(f);
    return bad ? mg_error_set(err, MG_EIO, "%s: read error", path) : 0;
}

static void sha_update(void *s, const void *p, size_t n)
{
    mg_sha256_update(s, p, n);
}

static void md5_update(void *s, const void *p, size_t n)
{
    mg_md5_update(s, p, n);
}

int mg__file_sha256_hex(const char *path, char hex[65], mg_error *err)
{
    mg_sha256 s;
    mg_sha256_init(&s);
    int rc = hash_file(path, &s, sha_update, err);
    if (rc < 0) return rc;
    uint8_t d[32];
    mg_sha256_final(&s, d);
    mg_sha256_hex(d, hex);
    return 0;
}

int mg__file_md5_b64(const char *path, char b64[32], mg_error *err)
{
    mg_md5 m;
    mg_md5_init(&m);
    int rc = hash_file(path, &m, md5_update, err);
    if (rc < 0) return rc;
    uint8_t d[16];
    mg_md5_final(&m, d);
    mg__base64(d, sizeof d, b64);
    return 0;
}

void mg__base64(const void *data, size_t n, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *d = data;
    char *o = out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
                     (i + 2 < n ? d[i + 2] : 0);
        *o++ = tbl[v >> 18 & 63];
        *o++ = tbl[v >> 12 & 63];
        *o++ = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? tbl[v & 63] : '=';
    }
    *o = 0;
}

bool mg__safe_relpath(const char *f)
{
    if (!*f || f[0] == '/' || strlen(f) > 1024) return false;
    for (const char *seg = f; *seg;) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        seg += n;
        if (*seg == '/') seg++;
    }
    return true;
}
