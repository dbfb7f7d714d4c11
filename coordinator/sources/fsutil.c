/* fsutil.c — the file-system half of a safe download: folders, locks,
 * atomic writes and the digests files are checked against. */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg_dataset.h" /* mg_md5 */
#include "mg_hash.h"

int mg__mkdirs(const char *dir, mg_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return mg_error_set(err, MG_ERANGE, "%s: path too long", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return mg_error_set(err, mg_err_from_errno(errno), "%s: cannot create folder: %s", path,
                                strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return mg_error_set(err, mg_err_from_errno(errno), "%s: cannot create folder: %s", path,
                            strerror(errno));
    return 0;
}

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

int mg__write_file_atomic(const char *path, const void *data, size_t len, mg_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return mg_error_set(err, mg_err_from_errno(errno), "%s: cannot create: %s", tmp,
                            strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return mg_error_set(err, mg_err_from_errno(e), "%s: write failed: %s", tmp,
                                strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return mg_error_set(err, mg_err_from_errno(e), "%s: cannot finish writing: %s", path,
                            strerror(e));
    }
    return 0;
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
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = b64;
    for (int i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < 16 ? (uint32_t)d[i + 1] << 8 : 0) |
                     (i + 2 < 16 ? d[i + 2] : 0);
        *o++ = tbl[v >> 18 & 63];
        *o++ = tbl[v >> 12 & 63];
        *o++ = i + 1 < 16 ? tbl[v >> 6 & 63] : '=';
        *o++ = i + 2 < 16 ? tbl[v & 63] : '=';
    }
    *o = 0;
    return 0;
}
