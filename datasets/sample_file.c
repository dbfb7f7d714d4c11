/* sample_file.c — EvalPlus sample files: append-only JSONL, one record per
 * sample, resumable.
 *
 * Each record is written with a single write(2) on an O_APPEND descriptor, so
 * a crash leaves at most one torn (newline-less) last line; opening the file
 * cuts such a line off, and the sample it held is simply generated again. A
 * write that fails part-way is undone by truncating back to the old size. An
 * exclusive flock keeps two runs from interleaving records in one file. */
#include "ds_internal.h"
#include "mg_fs.h"
#include "mg_dataset.h"
#include "mg_log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct count_slot {
    char *task_id; /* NULL = empty */
    int n;
} count_slot;

struct mg_sample_file {
    int fd;
    char *path;
    off_t size;
    count_slot *slots;
    size_t cap, n_slots, n_tasks, n_records;
    /* Per record, in file order: its task id (owned by the count table, whose
     * strings never move) and the offset just past its newline. */
    const char **rec_id;
    off_t *rec_end;
    size_t rec_cap;
    mg_sbuf line;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static count_slot *find_slot(count_slot *slots, size_t cap, const char *id)
{
    size_t h = hash_str(id) & (cap - 1);
    while (slots[h].task_id && strcmp(slots[h].task_id, id)) h = (h + 1) & (cap - 1);
    return &slots[h];
}

static int count_add(mg_sample_file *f, const char *id, off_t end)
{
    if (f->n_records == f->rec_cap) {
        size_t cap = f->rec_cap ? f->rec_cap * 2 : 256;
        const char **ids = realloc(f->rec_id, cap * sizeof *ids);
        if (!ids) return MG_ENOMEM;
        f->rec_id = ids;
        off_t *ends = realloc(f->rec_end, cap * sizeof *ends);
        if (!ends) return MG_ENOMEM;
        f->rec_end = ends;
        f->rec_cap = cap;
    }
    if ((f->n_slots + 1) * 2 > f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        count_slot *s = calloc(cap, sizeof *s);
        if (!s) return MG_ENOMEM;
        for (size_t i = 0; i < f->cap; i++)
            if (f->slots[i].task_id) *find_slot(s, cap, f->slots[i].task_id) = f->slots[i];
        free(f->slots);
        f->slots = s;
        f->cap = cap;
    }
    count_slot *c = find_slot(f->slots, f->cap, id);
    if (!c->task_id) {
        c->task_id = mg_ds__strndup(id, strlen(id));
        if (!c->task_id) return MG_ENOMEM;
        f->n_slots++;
    }
    if (c->n++ == 0) f->n_tasks++; /* also a task whose records were truncated away */
    f->rec_id[f->n_records] = c->task_id;
    f->rec_end[f->n_records] = end;
    f->n_records++;
    return 0;
}

int mg_sample_file_count(const mg_sample_file *f, const char *task_id)
{
    if (!f || !f->cap) return 0;
    count_slot *c = find_slot(f->slots, f->cap, task_id);
    return c->task_id ? c->n : 0;
}

size_t mg_sample_file_n_tasks(const mg_sample_file *f)
{
    return f ? f->n_tasks : 0;
}

size_t mg_sample_file_n_records(const mg_sample_file *f)
{
    return f ? f->n_records : 0;
}

void mg_sample_file_close(mg_sample_file *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd); /* also drops the flock */
    for (size_t i = 0; i < f->cap; i++) free(f->slots[i].task_id);
    free(f->slots);
    free(f->rec_id);
    free(f->rec_end);
    free(f->path);
    mg_sbuf_free(&f->line);
    free(f);
}

/* Reads the whole file, cuts a torn last line, counts records per task. */
static int load_existing(mg_sample_file *f, mg_error *err)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return mg_error_set(err, mg_err_from_errno(errno), "%s: %s", f->path, strerror(errno));
    size_t sz = (size_t)st.st_size;
    if (sz == 0) return 0;
    char *buf = malloc(sz + 1);
    if (!buf) return mg_error_set(err, MG_ENOMEM, "%s: out of memory", f->path);
    size_t got = 0;
    while (got < sz) {
        ssize_t r = pread(f->fd, buf + got, sz - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            free(buf);
            return mg_error_set(err, mg_err_from_errno(e), "%s: read failed: %s", f->path,
                                strerror(e));
        }
        got += (size_t)r;
    }
    buf[sz] = '\0';
    size_t keep = sz;
    while (keep > 0 && buf[keep - 1] != '\n') keep--;
    if (keep < sz) {
        if (ftruncate(f->fd, (off_t)keep) < 0) {
            int e = errno;
            free(buf);
            return mg_error_set(err, mg_err_from_errno(e), "%s: cannot cut the torn last line: %s",
                                f->path, strerror(e));
        }
        mg_warn("%s: cut off a torn last line (%zu bytes) left by an interrupted write", f->path,
                sz - keep);
    }
    f->size = (off_t)keep;
    int rc = 0;
    size_t line = 0;
    for (size_t i = 0; i < keep && rc == 0;) {
        char *nl = memchr(buf + i, '\n', keep - i);
        size_t n = (size_t)(nl - (buf + i));
        line++;
        size_t a, b;
        mg_py_strip(buf + i, n, &a, &b);
        if (a < b) { /* EvalPlus skips blank lines */
            /* json.loads semantics (NaN, big numbers) as for datasets. */
            mg_ds__rewrite_for_jansson(buf + i, n);
            json_error_t je;
            json_t *o = json_loadb(buf + i, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
            json_t *id = o && json_is_object(o) ? json_object_get(o, "task_id") : NULL;
            if (!o)
                rc = mg_error_set(err, MG_EFORMAT, "%s:%zu: malformed JSON at column %d: %s",
                                  f->path, line, je.column, je.text);
            else if (!json_is_string(id) || strlen(json_string_value(id)) != json_string_length(id))
                rc = mg_error_set(err, MG_EFORMAT, "%s:%zu: record without a string \"task_id\"",
                                  f->path, line);
            else if (count_add(f, json_string_value(id), (off_t)(i + n + 1)) < 0)
                rc = mg_error_set(err, MG_ENOMEM, "out of memory");
            json_decref(o);
        }
        i += n + 1;
    }
    free(buf);
    return rc;
}

int mg_sample_file_open(const char *path, mg_sample_file **out, mg_error *err)
{
    *out = NULL;
    mg_sample_file *f = calloc(1, sizeof *f);
    if (!f) return mg_error_set(err, MG_ENOMEM, "out of memory");
    f->fd = -1;
    f->path = mg_ds__strndup(path, strlen(path));
    if (!f->path) {
        mg_sample_file_close(f);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    f->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        int e = errno;
        mg_sample_file_close(f);
        return mg_error_set(err, mg_err_from_errno(e), "%s: %s", path, strerror(e));
    }
    if (flock(f->fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        mg_sample_file_close(f);
        return mg_error_set(err, e == EWOULDBLOCK ? MG_EAGAIN : mg_err_from_errno(e),
                            "%s: another process is writing this sample file", path);
    }
    int rc = load_existing(f, err);
    if (rc < 0) {
        mg_sample_file_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

int mg_sample_file_append(mg_sample_file *f, const char *task_id, const char *solution,
                          mg_error *err)
{
    f->line.len = 0;
    int rc = mg_json_dumps_record(&f->line, task_id, solution, strlen(solution), err);
    if (rc < 0) return mg_error_prefix(err, rc, "%s", f->path);
    size_t off = 0;
    while (off < f->line.len) {
        ssize_t w = write(f->fd, f->line.data + off, f->line.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            int e = errno;
            /* Undo a partial record so the file stays whole lines. */
            if (off && ftruncate(f->fd, f->size) < 0)
                mg_warn("%s: could not undo a partial record", f->path);
            return mg_error_set(err, mg_err_from_errno(e), "%s: write failed: %s", f->path,
                                strerror(e));
        }
        off += (size_t)w;
    }
    f->size += (off_t)off;
    if (count_add(f, task_id, f->size) < 0) return mg_error_set(err, MG_ENOMEM, "out of memory");
    return 0;
}

int mg_sample_file_truncate_records(mg_sample_file *f, size_t keep, mg_error *err)
{
    if (keep >= f->n_records) return 0;
    off_t end = keep ? f->rec_end[keep - 1] : 0;
    if (ftruncate(f->fd, end) < 0)
        return mg_error_set(err, mg_err_from_errno(errno), "%s: cannot truncate: %s", f->path,
                            strerror(errno));
    for (size_t i = keep; i < f->n_records; i++) {
        count_slot *c = find_slot(f->slots, f->cap, f->rec_id[i]);
        if (--c->n == 0) f->n_tasks--;
    }
    f->n_records = keep;
    f->size = end;
    return 0;
}

const char *mg_sample_file_record_task(const mg_sample_file *f, size_t i)
{
    return f && i < f->n_records ? f->rec_id[i] : NULL;
}

/* ---- the sanitized + raw pair -------------------------------------------------- */

int mg_sample_pair_open(const char *path, const char *raw_path, mg_sample_pair *out, mg_error *err)
{
    out->main = out->raw = NULL;
    int rc = mg_sample_file_open(path, &out->main, err);
    if (rc == 0) rc = mg_sample_file_open(raw_path, &out->raw, err);
    if (rc < 0) goto fail;
    size_t nm = out->main->n_records, nr = out->raw->n_records;
    size_t common = nm < nr ? nm : nr;
    for (size_t i = 0; i < common; i++) {
        if (strcmp(out->main->rec_id[i], out->raw->rec_id[i])) {
            rc = mg_error_set(err, MG_EFORMAT,
                              "%s and %s are not a pair: record %zu is %s in one and %s in the "
                              "other",
                              path, raw_path, i + 1, out->main->rec_id[i], out->raw->rec_id[i]);
            goto fail;
        }
    }
    if (nm != nr) {
        /* A crash between the two appends of one sample: drop the record
         * that has no twin so the sample is generated again. */
        mg_sample_file *longer = nm > nr ? out->main : out->raw;
        mg_warn("%s: dropped %zu record(s) with no twin in %s (interrupted write)", longer->path,
                (nm > nr ? nm : nr) - common, nm > nr ? raw_path : path);
        rc = mg_sample_file_truncate_records(longer, common, err);
        if (rc < 0) goto fail;
    }
    return 0;
fail:
    mg_sample_pair_close(out);
    return rc;
}

int mg_sample_pair_append(mg_sample_pair *p, const char *task_id, const char *solution,
                          const char *raw_solution, mg_error *err)
{
    /* Sanitized first, then raw, as EvalPlus; if the raw write fails, the
     * sanitized record is taken back so the files stay in step. */
    size_t before = p->main->n_records;
    int rc = mg_sample_file_append(p->main, task_id, solution, err);
    if (rc < 0) return rc;
    rc = mg_sample_file_append(p->raw, task_id, raw_solution, err);
    if (rc < 0) {
        mg_error keep = *err;
        if (mg_sample_file_truncate_records(p->main, before, err) < 0)
            mg_warn("%s: could not take back the record whose raw twin failed", p->main->path);
        *err = keep;
    }
    return rc;
}

void mg_sample_pair_close(mg_sample_pair *p)
{
    if (!p) return;
    mg_sample_file_close(p->main);
    mg_sample_file_close(p->raw);
    p->main = p->raw = NULL;
}

int mg_sample_paths(const char *root, const char *dataset, const char *id, char **path,
                    char **raw_path, mg_error *err)
{
    *path = *raw_path = NULL;
    mg_sbuf dir = {0}, p = {0}, raw = {0};
    int rc = mg_sbuf_append(&dir, root, strlen(root));
    if (rc == 0) rc = mg_sbuf_append(&dir, "/", 1);
    if (rc == 0) rc = mg_sbuf_append(&dir, dataset, strlen(dataset));
    if (rc == 0) rc = mg_sbuf_append(&p, dir.data, dir.len);
    if (rc == 0) rc = mg_sbuf_append(&p, "/", 1);
    if (rc == 0) rc = mg_sbuf_append(&p, id, strlen(id));
    if (rc == 0) rc = mg_sbuf_append(&p, ".jsonl", 6);
    /* target_path.replace(".jsonl", ".raw.jsonl"): every occurrence, as EvalPlus. */
    for (const char *q = p.data; rc == 0 && q && *q;) {
        const char *hit = strstr(q, ".jsonl");
        size_t n = hit ? (size_t)(hit - q) : strlen(q);
        rc = mg_sbuf_append(&raw, q, n);
        if (rc == 0 && hit) rc = mg_sbuf_append(&raw, ".raw.jsonl", 10);
        q += n + (hit ? 6 : 0);
    }
    if (rc < 0) {
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
    } else {
        rc = mg_mkdirs(dir.data, 0755, err);
    }
    mg_sbuf_free(&dir);
    if (rc < 0) {
        mg_sbuf_free(&p);
        mg_sbuf_free(&raw);
        return rc;
    }
    *path = p.data;
    *raw_path = raw.data;
    return 0;
}
