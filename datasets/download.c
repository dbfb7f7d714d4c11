/* download.c — fetching a release file into the evalplus cache.
 *
 * EvalPlus downloads with wget and writes the cache file in place, so an
 * interrupted download leaves a truncated cache that is trusted forever. We
 * keep the download in memory, check that it gunzips, parses and has the
 * release's MD5, and only then write a temporary file in the cache folder and
 * rename it over the cache path (atomic on POSIX). */
#include "ds_internal.h"
#include "mg_fs.h"
#include "mg_dataset.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Release files are < 1 MB gzipped; anything much larger is not one. */
#define MAX_DOWNLOAD ((size_t)256 << 20)

typedef struct dl {
    mg_sbuf buf;
    int too_big, oom;
} dl;

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    dl *d = ud;
    size_t n = size * nmemb;
    if (d->buf.len + n > MAX_DOWNLOAD) {
        d->too_big = 1;
        return 0;
    }
    if (mg_sbuf_append(&d->buf, p, n) < 0) {
        d->oom = 1;
        return 0;
    }
    return n;
}

int mg_dataset_download(const char *url, const char *cache_path, const char *expected_md5,
                        mg_error *err)
{
    static int curl_ready = 0;
    if (!curl_ready) {
        /* Not thread-safe in old libcurl; datasets are opened once at start-up. */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
            return mg_error_set(err, MG_EIO, "cannot initialise libcurl");
        curl_ready = 1;
    }
    CURL *c = curl_easy_init();
    if (!c) return mg_error_set(err, MG_ENOMEM, "cannot create a libcurl handle");
    dl d = {0};
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L); /* GitHub redirects release assets */
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* give up on a stalled transfer */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "moegen/0.1");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cr = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    int rc = 0;
    if (d.too_big) {
        rc = mg_error_set(err, MG_EFORMAT, "%s: download larger than %zu bytes", url, MAX_DOWNLOAD);
    } else if (d.oom) {
        rc = mg_error_set(err, MG_ENOMEM, "%s: out of memory", url);
    } else if (cr != CURLE_OK) {
        rc = mg_error_set(err, MG_EHTTP, "%s: download failed: %s", url,
                          curl_err[0] ? curl_err : curl_easy_strerror(cr));
    } else if (status != 200) {
        rc = mg_error_set(err, MG_EHTTP, "%s: HTTP status %ld", url, status);
    }
    if (rc < 0) {
        mg_sbuf_free(&d.buf);
        return rc;
    }
    char *text = NULL;
    size_t len = 0;
    rc = mg_gunzip_maybe(url, d.buf.data ? d.buf.data : "", d.buf.len, &text, &len, err);
    mg_sbuf_free(&d.buf);
    if (rc < 0) return rc;
    char hex[33];
    mg_md5_hex(text, len, hex);
    if (expected_md5 && strcmp(hex, expected_md5)) {
        rc = mg_error_set(err, MG_ECHECKSUM, "%s: MD5 %s of the decompressed file, expected %s",
                          url, hex, expected_md5);
    } else {
        mg_dataset check;
        rc = mg_dataset_parse(url, "download", text, len, &check, err);
        if (rc == 0) mg_dataset_free(&check);
    }
    if (rc == 0) rc = mg_write_file_atomic(cache_path, text, len, err);
    free(text);
    return rc;
}
