/* internal.h — what hub.c and wandb.c share: one libcurl request helper and
 * the file-system steps of a safe download (lock, .incomplete, rename). */
#ifndef MG_SOURCES_INTERNAL_H
#define MG_SOURCES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mg_error.h"
#include "mg_fs.h" /* mg_mkdirs, mg_write_file_atomic */

typedef struct mg__http_req {
    const char *url;
    const char *method;       /* "GET", "HEAD" or "POST" */
    const char *auth_header;  /* full header line ("Authorization: Bearer ...") or NULL */
    const char *content_type; /* for POST */
    const char *body;         /* for POST */
    bool follow_redirects;
    FILE *out;             /* stream the body here instead of into memory */
    long long resume_from; /* > 0: ask for bytes resume_from.. (Range) */
    long low_speed_secs;   /* abort below 1 KiB/s for this long; 0 = never */
    bool progress;         /* progress bar on stderr */
    const char *label;     /* name shown in the progress bar */
    size_t max_body;       /* cap for in-memory bodies (0 = 64 MiB) */
} mg__http_req;

typedef struct mg__http_resp {
    long status;
    char *body; /* in-memory body (NUL-terminated), when req.out is NULL */
    size_t body_len;
    long long bytes_written;  /* to req.out */
    long long content_length; /* -1 when unknown */
    char location[2048];
    char etag[256];        /* normalised: no W/ prefix, no quotes */
    char linked_etag[256]; /* X-Linked-Etag (LFS sha256) */
    long long linked_size; /* X-Linked-Size, -1 when absent */
    char repo_commit[128]; /* X-Repo-Commit */
    char error_code[128];  /* X-Error-Code */
    bool range_honoured;   /* 206 Partial Content */
} mg__http_resp;

/* Performs one request. Transport failures (DNS, refused, timeout, truncated
 * body) return MG_EHTTP with the URL in the message (never the headers);
 * HTTP status codes are left to the caller. */
int mg__http(const mg__http_req *req, mg__http_resp *resp, mg_error *err);
void mg__http_resp_free(mg__http_resp *resp);

/* URL-encodes one path segment (or a path, keeping '/' when keep_slash). */
char *mg__url_quote(const char *s, bool keep_slash);

/* Opens `path` and takes an exclusive flock on it; returns the fd. */
int mg__lock(const char *path, mg_error *err);
void mg__unlock(int fd);
/* Reads a whole small file (<= 1 MiB) into a NUL-terminated buffer. */
int mg__read_small_file(const char *path, char **out, size_t *len, mg_error *err);
long long mg__file_size(const char *path); /* -1 when missing */

/* sha256 / base64(md5) of a file, for verification. */
int mg__file_sha256_hex(const char *path, char hex[65], mg_error *err);
int mg__file_md5_b64(const char *path, char b64[32], mg_error *err);

/* Base64 (RFC 4648, padded) of data[0, n) into out (4 * ceil(n / 3) + 1 bytes). */
void mg__base64(const void *data, size_t n, char *out);
/* A relative path from a server that stays inside its folder: no leading
 * '/', no empty, "." or ".." segment. */
bool mg__safe_relpath(const char *f);

#endif /* MG_SOURCES_INTERNAL_H */
