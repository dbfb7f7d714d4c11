/* fs.c — see mg_fs.h. */
#include "mg_fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mg_mkdirs(const char *dir, int mode, mg_error *err)
{
    size_t n = strlen(dir);
    if (n == 0) return mg_error_set(err, MG_EINVAL, "empty folder name");
    char *s = malloc(n + 1);
    if (!s) return mg_error_set(err, MG_ENOMEM, "out of memory");
    memcpy(s, dir, n + 1);
    for (char *q = s + 1;; q++) {
        if (*q != '/' && *q != '\0') continue;
        char c = *q;
        *q = '\0';
        if (mkdir(s, (mode_t)mode) < 0 && errno != EEXIST) {
            int e = errno;
            int rc = mg_error_set(err, mg_err_from_errno(e), "%s: cannot create folder: %s", s,
                                  strerror(e));
            free(s);
            return rc;
        }
        *q = c;
        if (!c) break;
    }
    free(s);
    return 0;
}

int mg_write_file_atomic(const char *path, const void *data, size_t len, mg_error *err)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) return mg_error_set(err, MG_ENOMEM, "out of memory");
    memcpy(tmp, path, pl + 1);
    char *slash = strrchr(tmp, '/');
    int rc = 0;
    if (slash && slash != tmp) {
        *slash = '\0';
        rc = mg_mkdirs(tmp, 0755, err);
    }
    if (rc < 0) {
        free(tmp);
        return rc;
    }
    memcpy(tmp + pl, ".part.XXXXXX", 13);
    memcpy(tmp, path, pl);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        rc = mg_error_set(err, mg_err_from_errno(e), "%s: cannot create: %s", tmp, strerror(e));
        free(tmp);
        return rc;
    }
    const char *p = data;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            int e = errno;
            rc = mg_error_set(err, mg_err_from_errno(e), "%s: write failed: %s", tmp, strerror(e));
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) < 0) {
        int e = errno;
        rc = mg_error_set(err, mg_err_from_errno(e), "%s: fsync failed: %s", tmp, strerror(e));
    }
    /* mkstemp makes the file 0600; caches and results are ordinary files. */
    if (rc == 0) fchmod(fd, 0644);
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0) {
        int e = errno;
        rc = mg_error_set(err, mg_err_from_errno(e), "%s: rename failed: %s", path, strerror(e));
    }
    if (rc < 0) unlink(tmp);
    free(tmp);
    return rc;
}
