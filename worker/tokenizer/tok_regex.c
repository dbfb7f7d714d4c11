/* tok_regex.c — Oniguruma regexes with the tokenizers crate's semantics.
 *
 * The reference compiles its patterns with the `onig` crate (Oniguruma, UTF-8,
 * default syntax, no options), so using the same library here gives the same
 * meaning to \p{L}, \s, lookaheads and (?i:...). String patterns are escaped
 * and compiled too, exactly as the reference does (regex::escape then onig). */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t onig_once = PTHREAD_ONCE_INIT;
static int onig_init_rc;

static void mg__tok_onig_init(void)
{
    OnigEncoding encs[1] = {ONIG_ENCODING_UTF8};
    onig_init_rc = onig_initialize(encs, 1);
}

int mg__tok_regex_compile(mg__tok_regex *r, const char *pattern, size_t len, bool literal,
                          mg_error *err)
{
    pthread_once(&onig_once, mg__tok_onig_init);
    if (onig_init_rc != ONIG_NORMAL) return mg_error_set(err, MG_EINVAL, "oniguruma init failed");
    if (mg__tok_utf8_valid_prefix(pattern, len) != len)
        return mg_error_set(err, MG_EFORMAT, "regex pattern is not valid UTF-8");
    mg__tok_buf esc = {0};
    const char *p = pattern;
    size_t n = len;
    if (literal) {
        /* regex::escape's meta characters; backslash before any of them is a
         * literal in Oniguruma too. */
        for (size_t i = 0; i < len; i++) {
            if (strchr("\\.+*?()|[]{}^$#&-~", pattern[i]) && pattern[i]) {
                if (mg__tok_buf_put(&esc, "\\", 1) < 0) goto oom;
            }
            if (mg__tok_buf_put(&esc, pattern + i, 1) < 0) goto oom;
        }
        if (mg__tok_buf_put(&esc, "", 0) < 0) goto oom;
        p = esc.p;
        n = esc.len;
    }
    OnigErrorInfo einfo;
    int rc = onig_new(&r->re, (const OnigUChar *)p, (const OnigUChar *)p + n, ONIG_OPTION_NONE,
                      ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &einfo);
    if (rc != ONIG_NORMAL) {
        OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(msg, rc, &einfo);
        r->re = NULL;
        free(esc.p);
        return mg_error_set(err, MG_EFORMAT, "bad regex /%.*s/: %s", (int)(n > 200 ? 200 : n), p,
                            (const char *)msg);
    }
    free(esc.p);
    return 0;
oom:
    free(esc.p);
    return mg_error_set(err, MG_ENOMEM, "out of memory compiling a regex");
}

void mg__tok_regex_free(mg__tok_regex *r)
{
    if (r && r->re) onig_free(r->re);
    if (r) r->re = NULL;
}

int mg__tok_regex_find_matches(const mg__tok_regex *r, const char *s, size_t n, mg__tok_match_cb cb,
                               void *ud)
{
    if (n == 0) return cb(ud, 0, 0, false);
    OnigRegion *region = onig_region_new();
    if (!region) return MG_ENOMEM;
    const OnigUChar *str = (const OnigUChar *)s, *end = str + n;
    size_t prev = 0, last_end = 0;
    bool have_last = false;
    size_t last_match_end = 0;
    int rc = 0;
    while (last_end <= n) {
        onig_region_clear(region);
        int pos = onig_search(r->re, str, end, str + last_end, end, region, ONIG_OPTION_NONE);
        if (pos == ONIG_MISMATCH) break;
        if (pos < 0) {
            rc = MG_EFORMAT;
            goto out;
        }
        size_t ms = (size_t)region->beg[0], me = (size_t)region->end[0];
        /* As the onig crate's FindMatches: no empty match right after the
         * previous match (no infinite loop); step one character instead. */
        if (ms == me && have_last && last_match_end == me) {
            if (last_end >= n) break;
            int32_t cp;
            last_end += mg__tok_utf8_next(s + last_end, n - last_end, &cp);
            continue;
        }
        last_end = me;
        have_last = true;
        last_match_end = me;
        if (prev != ms && (rc = cb(ud, prev, ms, false)) < 0) goto out;
        if ((rc = cb(ud, ms, me, true)) < 0) goto out;
        prev = me;
        /* An empty match at the end: the next search would only find it again. */
        if (ms == me && me >= n) break;
    }
    if (prev != n) rc = cb(ud, prev, n, false);
out:
    onig_region_free(region, 1);
    return rc < 0 ? rc : 0;
}
