/* http.c — one libcurl request helper for the Hub and W&B clients.
 *
 * Why a helper of our own rather than curl calls spread around: every
 * request needs the same care — headers parsed case-insensitively (the Hub's
 * X-Linked-Etag / X-Repo-Commit), bodies capped, slow transfers aborted,
 * truncated bodies detected, and credentials kept out of every message. */
#include "internal.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct ctx {
    CURL *h;
    const mg__http_req *req;
    mg__http_resp *resp;
    size_t cap, max_body;
    bool overflow, write_failed, restarted;
    double last_progress;
} ctx;

static void copy_trimmed(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && isspace((unsigned char)*v)) v++, n--;
    while (n && isspace((unsigned char)v[n - 1])) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

/* ETags arrive as "abc", W/"abc" or abc; the cache uses the bare value. */
static void normalise_etag(char *e)
{
    char *p = e;
    if (p[0] == 'W' && p[1] == '/') p += 2;
    size_t n = strlen(p);
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
        p++;
        n -= 2;
    }
    memmove(e, p, n);
    e[n] = 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    ctx *c = ud;
    size_t n = size * nitems;
    mg__http_resp *r = c->resp;
    if (n >= 5 && !strncmp(buf, "HTTP/", 5)) {
        /* A new response (after a redirect): forget the previous headers. */
        r->location[0] = r->etag[0] = r->linked_etag[0] = r->error_code[0] = 0;
        r->linked_size = -1;
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (!colon) return n;
    size_t klen = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vlen = n - klen - 1;
#define IS(k) (klen == strlen(k) && !strncasecmp(buf, k, klen))
    if (IS("location"))
        copy_trimmed(r->location, sizeof r->location, v, vlen);
    else if (IS("etag")) {
        copy_trimmed(r->etag, sizeof r->etag, v, vlen);
        normalise_etag(r->etag);
    } else if (IS("x-linked-etag")) {
        copy_trimmed(r->linked_etag, sizeof r->linked_etag, v, vlen);
        normalise_etag(r->linked_etag);
    } else if (IS("x-linked-size")) {
        char tmp[32];
        copy_trimmed(tmp, sizeof tmp, v, vlen);
        char *end;
        long long s = strtoll(tmp, &end, 10);
        r->linked_size = (*tmp && !*end && s >= 0) ? s : -1;
    } else if (IS("x-repo-commit"))
        copy_trimmed(r->repo_commit, sizeof r->repo_commit, v, vlen);
    else if (IS("x-error-code"))
        copy_trimmed(r->error_code, sizeof r->error_code, v, vlen);
#undef IS
    return n;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *ud)
{
    ctx *c = ud;
    size_t n = size * nmemb;
    mg__http_resp *r = c->resp;
    long status = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    /* Only a successful answer's body belongs in the file; an error page goes
     * to memory, where the caller can quote it. */
    if (c->req->out && (status == 200 || status == 206)) {
        if (status == 200 && c->req->resume_from > 0 && !c->restarted) {
            /* The server ignored our Range: start the file over. */
            c->restarted = true;
            fflush(c->req->out);
            if (ftruncate(fileno(c->req->out), 0) < 0 || fseeko(c->req->out, 0, SEEK_SET) < 0) {
                c->write_failed = true;
                return 0;
            }
        }
        if (fwrite(buf, 1, n, c->req->out) != n) {
            c->write_failed = true;
            return 0;
        }
        r->bytes_written += (long long)n;
        return n;
    }
    if (r->body_len + n + 1 > c->max_body) {
        c->overflow = true;
        return 0;
    }
    if (r->body_len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < r->body_len + n + 1) cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) {
            c->overflow = true;
            return 0;
        }
        r->body = b;
        c->cap = cap;
    }
    memcpy(r->body + r->body_len, buf, n);
    r->body_len += n;
    r->body[r->body_len] = 0;
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ult,
                       curl_off_t uln)
{
    ctx *c = ud;
    if (!c->req->progress || dltotal < (1 << 20)) return 0;
    double t = now_s();
    if (t - c->last_progress < 0.2 && dlnow != dltotal) return 0;
    c->last_progress = t;
    double have = (double)(dlnow + c->req->resume_from);
    double total = (double)(dltotal + c->req->resume_from);
    int width = 30, filled = (int)(width * have / total);
    fprintf(stderr, "\r%-40.40s [%.*s%*s] %6.1f/%.1f MiB", c->req->label ? c->req->label : "",
            filled, "##############################", width - filled, "", have / 1048576.0,
            total / 1048576.0);
    if (dlnow == dltotal) fputc('\n', stderr);
    return 0;
}

int mg__http(const mg__http_req *req, mg__http_resp *resp, mg_error *err)
{
    pthread_once(&curl_once, curl_init_once);
    memset(resp, 0, sizeof *resp);
    resp->content_length = -1;
    resp->linked_size = -1;
    CURL *h = curl_easy_init();
    if (!h) return mg_error_set(err, MG_ENOMEM, "%s: cannot start a curl handle", req->url);
    ctx c = {
        .h = h, .req = req, .resp = resp, .max_body = req->max_body ? req->max_body : 64u << 20};
    struct curl_slist *hdrs = NULL;
    if (req->auth_header) hdrs = curl_slist_append(hdrs, req->auth_header);
    if (req->content_type) {
        char ct[256];
        snprintf(ct, sizeof ct, "Content-Type: %s", req->content_type);
        hdrs = curl_slist_append(hdrs, ct);
    }
    /* The Hub reports sizes of the stored bytes; compression would hide them. */
    hdrs = curl_slist_append(hdrs, "Accept-Encoding: identity");
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "moegen/0.1");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &c);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, req->progress ? 0L : 1L);
    if (req->low_speed_secs > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, req->low_speed_secs);
    }
    if (!strcmp(req->method, "HEAD"))
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (!strcmp(req->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    }
    if (req->resume_from > 0)
        curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)req->resume_from);

    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_off_t cl = -1;
    curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    resp->content_length = cl;
    resp->range_honoured = resp->status == 206;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (req->progress && c.last_progress > 0 && rc != CURLE_OK) fputc('\n', stderr);

    if (rc == CURLE_OK) return 0;
    int code = MG_EHTTP;
    const char *why = curl_easy_strerror(rc);
    if (c.overflow) why = "response too large";
    if (c.write_failed) {
        why = "cannot write the downloaded data";
        code = MG_EIO;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) code = MG_ETIMEDOUT;
    /* A range request answered with 416 or a body cut short lands here too. */
    return mg_error_set(err, code, "%s: %s", req->url, why);
}

void mg__http_resp_free(mg__http_resp *resp)
{
    if (!resp) return;
    free(resp->body);
    resp->body = NULL;
}

char *mg__url_quote(const char *s, bool keep_slash)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p) || (keep_slash && *p == '/'))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = 0;
    return out;
}
