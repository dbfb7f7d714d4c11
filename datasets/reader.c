/* reader.c — JSONL(.gz) datasets as EvalPlus's stream_jsonl reads them.
 *
 * Python reads the file in text mode (universal newlines: \n, \r\n and \r end
 * a line), skips lines made only of whitespace (str.isspace) and json.loads
 * each other line. Python's json also accepts the bare tokens NaN, Infinity
 * and -Infinity, which MBPP+ uses inside its test inputs, integers of any size
 * and 1e400; jansson rejects all of these, so a pre-pass that knows where
 * strings are rewrites them (mg_ds__rewrite_for_jansson). Numbers are never read by
 * moegen; mg_task.json keeps the original record text for anyone who needs
 * them. MBPP+ also has "\u0000" inside test inputs, which Python accepts, so
 * JSON_ALLOW_NUL is on; only the fields moegen copies into C strings must be
 * free of NUL. */
#include "ds_internal.h"
#include "mg_dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* A dataset file is a few MB; refuse absurd sizes (a gzip bomb) outright. */
#define MAX_FILE_BYTES ((size_t)1 << 30)

int mg_gunzip_maybe(const char *what, const void *in, size_t in_len, char **data, size_t *len,
                    mg_error *err)
{
    const unsigned char *p = in;
    *data = NULL;
    *len = 0;
    if (in_len < 2 || p[0] != 0x1f || p[1] != 0x8b) {
        char *d = malloc(in_len + 1);
        if (!d) return mg_error_set(err, MG_ENOMEM, "%s: out of memory", what);
        if (in_len) memcpy(d, in, in_len);
        d[in_len] = '\0';
        *data = d;
        *len = in_len;
        return 0;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return mg_error_set(err, MG_ENOMEM, "%s: cannot start zlib", what);
    size_t cap = in_len * 4 + 1024, n = 0, pos = 0;
    char *out = malloc(cap + 1);
    int rc = 0;
    if (!out) {
        rc = mg_error_set(err, MG_ENOMEM, "%s: out of memory", what);
        goto done;
    }
    for (;;) {
        /* One gzip member; Python's gzip reads members back to back. */
        z.next_in = (Bytef *)(p + pos);
        size_t avail = in_len - pos;
        z.avail_in = avail > UINT32_MAX ? UINT32_MAX : (uInt)avail;
        for (;;) {
            if (n == cap) {
                if (cap >= MAX_FILE_BYTES) {
                    rc =
                        mg_error_set(err, MG_EFORMAT, "%s: decompressed data larger than %zu bytes",
                                     what, MAX_FILE_BYTES);
                    goto done;
                }
                cap = cap * 2 > MAX_FILE_BYTES ? MAX_FILE_BYTES : cap * 2;
                char *o2 = realloc(out, cap + 1);
                if (!o2) {
                    rc = mg_error_set(err, MG_ENOMEM, "%s: out of memory", what);
                    goto done;
                }
                out = o2;
            }
            z.next_out = (Bytef *)(out + n);
            size_t room = cap - n;
            z.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
            uInt before = z.avail_out;
            int zr = inflate(&z, Z_NO_FLUSH);
            n += before - z.avail_out;
            if (zr == Z_STREAM_END) break;
            if (zr == Z_OK) continue;
            if (zr == Z_BUF_ERROR && z.avail_in == 0) {
                rc = mg_error_set(err, MG_EFORMAT,
                                  "%s: truncated gzip data (ended before the end-of-stream marker)",
                                  what);
                goto done;
            }
            if (zr == Z_BUF_ERROR) continue; /* output full: grow */
            rc = mg_error_set(err, MG_EFORMAT, "%s: corrupt gzip data (%s)", what,
                              z.msg ? z.msg : "inflate failed");
            goto done;
        }
        pos = (size_t)(z.next_in - (const Bytef *)p);
        while (pos < in_len && p[pos] == 0) pos++; /* zero padding is allowed */
        if (pos == in_len) break;
        if (in_len - pos < 2 || p[pos] != 0x1f || p[pos + 1] != 0x8b) {
            rc = mg_error_set(err, MG_EFORMAT, "%s: trailing garbage after gzip data", what);
            goto done;
        }
        inflateReset(&z);
    }
    out[n] = '\0';
    *data = out;
    *len = n;
    out = NULL;
done:
    inflateEnd(&z);
    free(out);
    return rc;
}

int mg_read_maybe_gz(const char *path, char **data, size_t *len, mg_error *err)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mg_error_set(err, mg_err_from_errno(errno), "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return mg_error_set(err, mg_err_from_errno(e), "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return mg_error_set(err, MG_EINVAL, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > MAX_FILE_BYTES) {
        close(fd);
        return mg_error_set(err, MG_EFORMAT, "%s: file larger than %zu bytes", path,
                            MAX_FILE_BYTES);
    }
    size_t sz = (size_t)st.st_size, got = 0;
    char *raw = malloc(sz + 1);
    if (!raw) {
        close(fd);
        return mg_error_set(err, MG_ENOMEM, "%s: out of memory", path);
    }
    while (got < sz) {
        ssize_t r = read(fd, raw + got, sz - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(raw);
            close(fd);
            return mg_error_set(err, mg_err_from_errno(e), "%s: %s", path, strerror(e));
        }
        if (r == 0) break; /* shrank while reading: use what is there */
        got += (size_t)r;
    }
    close(fd);
    int rc = mg_gunzip_maybe(path, raw, got, data, len, err);
    free(raw);
    return rc;
}

/* ---- JSON lines ------------------------------------------------------------- */

/* Length of the JSON number at s[0..n) (RFC 8259 grammar), 0 when none. */
static size_t json_number_len(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i >= n || s[i] < '0' || s[i] > '9') return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i + 1 < n && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-')) j++;
        if (j < n && s[j] >= '0' && s[j] <= '9') {
            while (j < n && s[j] >= '0' && s[j] <= '9') j++;
            i = j;
        }
    }
    return i;
}

/* Prepares a line for jansson, outside strings only and keeping every length
 * (so error columns stay right):
 *  - NaN / Infinity / -Infinity (Python extensions) become 0.0 / null;
 *  - every valid number becomes "0" plus spaces: Python reads integers of any
 *    size and 1e400 as inf, jansson fails on both, and moegen never uses the
 *    numbers (mg_task.json keeps them). Invalid number text is left alone for
 *    jansson to reject, as Python would ("01", "1.", "-NaN"). */
void mg_ds__rewrite_for_jansson(char *s, size_t n)
{
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        size_t k;
        if (c == '"') {
            in_str = 1;
        } else if (c == 'N' && n - i >= 3 && !memcmp(s + i, "NaN", 3)) {
            memcpy(s + i, "0.0", 3);
            i += 2;
        } else if (c == 'I' && n - i >= 8 && !memcmp(s + i, "Infinity", 8)) {
            memcpy(s + i, "null    ", 8);
            i += 7;
        } else if (c == '-' && n - i >= 9 && !memcmp(s + i, "-Infinity", 9)) {
            memcpy(s + i, "null     ", 9);
            i += 8;
        } else if ((k = json_number_len(s + i, n - i)) > 0) {
            s[i] = '0';
            memset(s + i + 1, ' ', k - 1);
            i += k - 1;
        } else if (c == '-') {
            i++; /* "-NaN", "-x": leave the next character for jansson to reject */
        }
    }
}

static int blank_line(const char *s, size_t n)
{
    size_t a, b;
    mg_py_strip(s, n, &a, &b);
    return a == b;
}

/* Open-addressing set of task ids (index into tasks + 1; 0 = empty). */
typedef struct idset {
    size_t *slots;
    size_t cap;
} idset;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Returns the index of an existing equal id, SIZE_MAX after inserting, or
 * SIZE_MAX - 1 on ENOMEM. */
static size_t idset_add(idset *set, const mg_task *tasks, size_t idx)
{
    if (set->cap == 0 || (idx + 1) * 2 > set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        size_t *sl = calloc(cap, sizeof *sl);
        if (!sl) return SIZE_MAX - 1;
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slots[i]) continue;
            size_t h = hash_str(tasks[set->slots[i] - 1].task_id) & (cap - 1);
            while (sl[h]) h = (h + 1) & (cap - 1);
            sl[h] = set->slots[i];
        }
        free(set->slots);
        set->slots = sl;
        set->cap = cap;
    }
    size_t h = hash_str(tasks[idx].task_id) & (set->cap - 1);
    while (set->slots[h]) {
        if (!strcmp(tasks[set->slots[h] - 1].task_id, tasks[idx].task_id)) return set->slots[h] - 1;
        h = (h + 1) & (set->cap - 1);
    }
    set->slots[h] = idx + 1;
    return SIZE_MAX;
}

static void task_free(mg_task *t)
{
    free(t->task_id);
    free(t->prompt);
    free(t->entry_point);
    free(t->canonical_solution);
    free(t->test);
    free(t->json);
}

/* Copies a string member. required: missing or non-string is an error;
 * otherwise a non-string member is treated as absent. */
static int get_str(json_t *obj, const char *key, int required, char **out, const char *what,
                   size_t line, mg_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || !json_is_string(v)) {
        if (!required) return 0;
        return mg_error_set(err, MG_EFORMAT, "%s:%zu: %s \"%s\"", what, line,
                            v ? "non-string" : "missing", key);
    }
    if (strlen(json_string_value(v)) != json_string_length(v))
        return mg_error_set(err, MG_EFORMAT, "%s:%zu: \"%s\" contains a NUL character (\\u0000)",
                            what, line, key);
    *out = mg_ds__strndup(json_string_value(v), json_string_length(v));
    if (!*out) return mg_error_set(err, MG_ENOMEM, "%s:%zu: out of memory", what, line);
    return 0;
}

static int parse_line(const char *what, size_t line, const char *s, size_t n, mg_task *t,
                      mg_error *err)
{
    memset(t, 0, sizeof *t);
    t->json = mg_ds__strndup(s, n);
    char *tmp = mg_ds__strndup(s, n);
    if (!t->json || !tmp) {
        free(tmp);
        return mg_error_set(err, MG_ENOMEM, "%s:%zu: out of memory", what, line);
    }
    mg_ds__rewrite_for_jansson(tmp, n);
    json_error_t je;
    json_t *obj = json_loadb(tmp, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    free(tmp);
    if (!obj)
        return mg_error_set(err, MG_EFORMAT, "%s:%zu: malformed JSON at column %d: %s", what, line,
                            je.column, je.text);
    int rc = 0;
    if (!json_is_object(obj)) {
        rc = mg_error_set(err, MG_EFORMAT, "%s:%zu: a line must hold a JSON object", what, line);
    } else {
        rc = get_str(obj, "task_id", 1, &t->task_id, what, line, err);
        if (rc == 0) rc = get_str(obj, "prompt", 1, &t->prompt, what, line, err);
        if (rc == 0) rc = get_str(obj, "entry_point", 0, &t->entry_point, what, line, err);
        if (rc == 0)
            rc = get_str(obj, "canonical_solution", 0, &t->canonical_solution, what, line, err);
        if (rc == 0) rc = get_str(obj, "test", 0, &t->test, what, line, err);
    }
    json_decref(obj);
    return rc;
}

int mg_dataset_parse(const char *what, const char *name, const char *text, size_t len,
                     mg_dataset *out, mg_error *err)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0, line = 0;
    idset set = {0};
    int rc = 0;
    out->name = mg_ds__strndup(name, strlen(name));
    if (!out->name) return mg_error_set(err, MG_ENOMEM, "out of memory");
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n' && text[j] != '\r') j++;
        size_t next = j;
        if (next < len)
            next += (text[next] == '\r' && next + 1 < len && text[next + 1] == '\n') ? 2 : 1;
        line++;
        if (!blank_line(text + i, j - i)) {
            if (out->n_tasks == cap) {
                size_t nc = cap ? cap * 2 : 256;
                mg_task *nt = realloc(out->tasks, nc * sizeof *nt);
                if (!nt) {
                    rc = mg_error_set(err, MG_ENOMEM, "out of memory");
                    goto fail;
                }
                out->tasks = nt;
                cap = nc;
            }
            mg_task *t = &out->tasks[out->n_tasks];
            rc = parse_line(what, line, text + i, j - i, t, err);
            if (rc < 0) {
                task_free(t);
                goto fail;
            }
            out->n_tasks++;
            size_t dup = idset_add(&set, out->tasks, out->n_tasks - 1);
            if (dup == SIZE_MAX - 1) {
                rc = mg_error_set(err, MG_ENOMEM, "out of memory");
                goto fail;
            }
            if (dup != SIZE_MAX) {
                rc = mg_error_set(err, MG_EFORMAT, "%s:%zu: duplicate task_id \"%s\"", what, line,
                                  t->task_id);
                goto fail;
            }
        }
        i = next;
    }
    if (out->n_tasks == 0) {
        rc = mg_error_set(err, MG_EFORMAT, "%s: no tasks in the file", what);
        goto fail;
    }
    free(set.slots);
    return 0;
fail:
    free(set.slots);
    mg_dataset_free(out);
    return rc;
}

int mg_dataset_read_file(const char *path, const char *name, mg_dataset *out, mg_error *err)
{
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    int rc = mg_read_maybe_gz(path, &text, &len, err);
    if (rc < 0) return rc;
    char hex[33];
    mg_md5_hex(text, len, hex);
    rc = mg_dataset_parse(path, name ? name : "custom", text, len, out, err);
    free(text);
    if (rc < 0) return rc;
    out->path = mg_ds__strndup(path, strlen(path));
    out->hash = mg_ds__strndup(hex, 32);
    if (!out->path || !out->hash) {
        mg_dataset_free(out);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    return 0;
}

void mg_dataset_free(mg_dataset *ds)
{
    if (!ds) return;
    for (size_t i = 0; i < ds->n_tasks; i++) task_free(&ds->tasks[i]);
    free(ds->tasks);
    free(ds->name);
    free(ds->path);
    free(ds->hash);
    memset(ds, 0, sizeof *ds);
}
