/* merge.c — `moegen merge`: joins the files of a `--shard I/N` run.
 *
 * Shard i of N holds the selected tasks at positions i, i+N, i+2N, ... in
 * dataset order, each as a group of consecutive records with one task_id.
 * The merged file takes group p/N of shard p%N for p = 0, 1, ..., which is
 * exactly the unsharded order, so a merged sharded run is byte-identical to
 * an unsharded one. Records are copied byte for byte (no re-encoding). */
#include "internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct group {
    size_t start, end; /* byte range in the file's text */
    char *id;
} group;

typedef struct shard {
    const char *path;
    char *text;
    size_t len;
    group *groups;
    size_t n_groups;
} shard;

static int read_file(const char *path, char **out, size_t *len, mg_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return mg_error_set(err, mg_err_from_errno(errno), "%s: %s", path, strerror(errno));
    mg_sbuf b = {0};
    char buf[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0) rc = mg_sbuf_append(&b, buf, n);
    if (rc == 0 && ferror(f))
        rc = mg_error_set(err, MG_EIO, "%s: read error", path);
    else if (rc < 0)
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
    fclose(f);
    if (rc == 0 && mg_sbuf_append(&b, "", 1) < 0)
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
    if (rc < 0) {
        mg_sbuf_free(&b);
        return rc;
    }
    *out = b.data;
    *len = b.len - 1;
    return 0;
}

/* Splits a sample file into task groups; every line must be a record with a
 * string task_id, and a task may not appear in two separate groups. */
static int split(shard *s, mg_error *err)
{
    size_t cap = 0, line_no = 0;
    char *prev_id = NULL;
    int rc = 0;
    for (size_t pos = 0; pos < s->len && rc == 0;) {
        char *nl = memchr(s->text + pos, '\n', s->len - pos);
        line_no++;
        if (!nl) {
            rc = mg_error_set(err, MG_EFORMAT, "%s:%zu: last line has no newline (torn write?)",
                              s->path, line_no);
            break;
        }
        size_t end = (size_t)(nl - s->text) + 1;
        json_error_t je;
        json_t *j = json_loadb(s->text + pos, end - pos, 0, &je);
        const char *id = j ? json_string_value(json_object_get(j, "task_id")) : NULL;
        if (!id) {
            rc = mg_error_set(err, MG_EFORMAT, "%s:%zu: not a sample record with a task_id",
                              s->path, line_no);
        } else if (prev_id && !strcmp(prev_id, id)) {
            s->groups[s->n_groups - 1].end = end;
        } else {
            /* A task in two separate runs of lines: not one run's output. */
            for (size_t g = 0; g < s->n_groups && rc == 0; g++)
                if (!strcmp(s->groups[g].id, id))
                    rc = mg_error_set(err, MG_EFORMAT,
                                      "%s:%zu: %s appears in two separate runs of lines", s->path,
                                      line_no, id);
            if (rc == 0 && s->n_groups == cap) {
                cap = cap ? 2 * cap : 64;
                group *g = realloc(s->groups, cap * sizeof *g);
                if (!g)
                    rc = mg_error_set(err, MG_ENOMEM, "out of memory");
                else
                    s->groups = g;
            }
            if (rc == 0) {
                char *d = strdup(id);
                if (!d)
                    rc = mg_error_set(err, MG_ENOMEM, "out of memory");
                else
                    s->groups[s->n_groups++] = (group){pos, end, d};
                prev_id = d;
            }
        }
        json_decref(j);
        pos = end;
    }
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int merge_one(const char *out_path, const char *const *inputs, int n, mg_error *err)
{
    shard *sh = calloc((size_t)n, sizeof *sh);
    if (!sh) return mg_error_set(err, MG_ENOMEM, "out of memory");
    int rc = 0;
    size_t total = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        sh[i].path = inputs[i];
        rc = read_file(inputs[i], &sh[i].text, &sh[i].len, err);
        if (rc == 0) rc = split(&sh[i], err);
        total += sh[i].n_groups;
    }
    /* A task in two shards: the same shard twice, or shards of different runs. */
    const char **ids = rc == 0 ? malloc((total ? total : 1) * sizeof *ids) : NULL;
    if (rc == 0 && !ids) rc = mg_error_set(err, MG_ENOMEM, "out of memory");
    if (rc == 0) {
        size_t k = 0;
        for (int i = 0; i < n; i++)
            for (size_t g = 0; g < sh[i].n_groups; g++) ids[k++] = sh[i].groups[g].id;
        qsort(ids, total, sizeof *ids, cmp_str);
        for (size_t k2 = 1; k2 < total && rc == 0; k2++)
            if (!strcmp(ids[k2 - 1], ids[k2])) {
                int a = -1, b = -1;
                for (int i = 0; i < n; i++)
                    for (size_t g = 0; g < sh[i].n_groups; g++)
                        if (!strcmp(sh[i].groups[g].id, ids[k2])) {
                            if (a < 0)
                                a = i;
                            else if (b < 0)
                                b = i;
                        }
                rc = mg_error_set(err, MG_EFORMAT,
                                  "%s: task %s is also in %s (the same shard "
                                  "twice, or shards of different runs?)",
                                  inputs[b], ids[k2], inputs[a]);
            }
    }
    free(ids);
    /* Shard i holds ceil((T - i) / N) groups of T tasks: check before writing. */
    for (int i = 0; i < n && rc == 0; i++) {
        size_t want = total / (size_t)n + ((size_t)i < total % (size_t)n ? 1 : 0);
        if (sh[i].n_groups != want)
            rc = mg_error_set(err, MG_EFORMAT,
                              "%s: %zu tasks, expected %zu for shard %d of %d (%zu tasks in all): "
                              "incomplete shard or wrong order",
                              inputs[i], sh[i].n_groups, want, i, n, total);
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_path, (long)getpid());
    FILE *f = NULL;
    if (rc == 0 && !(f = fopen(tmp, "wb")))
        rc = mg_error_set(err, mg_err_from_errno(errno), "%s: %s", tmp, strerror(errno));
    for (size_t p = 0; rc == 0 && p < total; p++) {
        shard *s = &sh[p % (size_t)n];
        group *g = &s->groups[p / (size_t)n];
        if (fwrite(s->text + g->start, 1, g->end - g->start, f) != g->end - g->start)
            rc = mg_error_set(err, MG_EIO, "%s: write failed", tmp);
    }
    if (f && (fflush(f) != 0 || fsync(fileno(f)) != 0) && rc == 0)
        rc = mg_error_set(err, MG_EIO, "%s: write failed", tmp);
    if (f) fclose(f);
    if (rc == 0 && rename(tmp, out_path) < 0)
        rc = mg_error_set(err, mg_err_from_errno(errno), "%s: %s", out_path, strerror(errno));
    if (rc < 0 && f) unlink(tmp);
    for (int i = 0; i < n; i++) {
        free(sh[i].text);
        for (size_t g = 0; g < sh[i].n_groups; g++) free(sh[i].groups[g].id);
        free(sh[i].groups);
    }
    free(sh);
    return rc;
}

/* I and N from a name ending "_shard-I-of-N.jsonl" (codegen's naming);
 * false when the name does not carry them. */
static bool shard_of_name(const char *path, long *i, long *n)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *at = NULL;
    for (const char *q = strstr(base, "_shard-"); q; q = strstr(q + 1, "_shard-")) at = q;
    if (!at) return false;
    char *end;
    const char *a = at + strlen("_shard-");
    if (*a < '0' || *a > '9') return false;
    *i = strtol(a, &end, 10);
    if (strncmp(end, "-of-", 4) || end[4] < '0' || end[4] > '9') return false;
    *n = strtol(end + 4, &end, 10);
    return !strcmp(end, ".jsonl") && *n >= 1 && *i >= 0;
}

/* The inputs must be shards 0..N-1 of one run, each once, in order: checked
 * from the _shard-I-of-N names (every input must carry one when any does)
 * and, for any names, by file identity (the same file twice). */
static int check_inputs(const char *const *inputs, int n, mg_error *err)
{
    int named = 0;
    long n0 = 0;
    for (int k = 0; k < n; k++) {
        struct stat sk;
        if (stat(inputs[k], &sk) == 0)
            for (int j = 0; j < k; j++) {
                struct stat sj;
                if (stat(inputs[j], &sj) == 0 && sj.st_dev == sk.st_dev && sj.st_ino == sk.st_ino)
                    return mg_error_set(err, MG_EUSAGE, "%s: given twice (as %s too)", inputs[k],
                                        inputs[j]);
            }
        long i, cnt;
        if (!shard_of_name(inputs[k], &i, &cnt)) continue;
        if (named++ == 0) n0 = cnt;
        if (cnt != n0)
            return mg_error_set(err, MG_EUSAGE, "%s: shard of %ld but %s is a shard of %ld",
                                inputs[k], cnt, inputs[0], n0);
        if (cnt != n)
            return mg_error_set(err, MG_EUSAGE,
                                "%s: shard %ld of %ld, but %d shard file(s) were given: give "
                                "all %ld, once each",
                                inputs[k], i, cnt, n, cnt);
        if (i >= cnt)
            return mg_error_set(err, MG_EUSAGE, "%s: shard %ld of %ld does not exist", inputs[k], i,
                                cnt);
        if (i != k)
            return mg_error_set(err, MG_EUSAGE,
                                "%s: shard %ld given at position %d: give the shards once "
                                "each, in order 0..%ld (wrong order, a duplicate or a missing "
                                "shard)",
                                inputs[k], i, k, cnt - 1);
    }
    if (named && named != n)
        for (int k = 0; k < n; k++) {
            long i, cnt;
            if (!shard_of_name(inputs[k], &i, &cnt))
                return mg_error_set(err, MG_EUSAGE,
                                    "%s: not named _shard-I-of-N.jsonl like the other inputs",
                                    inputs[k]);
        }
    return 0;
}

/* "x.jsonl" -> "x.raw.jsonl" (only the final extension: shard names are ours). */
static char *raw_twin(const char *path)
{
    size_t l = strlen(path);
    if (l < 6 || strcmp(path + l - 6, ".jsonl") ||
        (l >= 10 && !strcmp(path + l - 10, ".raw.jsonl")))
        return NULL;
    char *r = malloc(l + 5);
    if (!r) return NULL;
    memcpy(r, path, l - 6);
    strcpy(r + l - 6, ".raw.jsonl");
    return r;
}

int mg_merge_shards(const char *out_path, const char *const *inputs, int n_inputs, mg_error *err)
{
    if (n_inputs < 1) return mg_error_set(err, MG_EUSAGE, "no shard files given");
    for (int i = 0; i < n_inputs; i++)
        if (!strcmp(inputs[i], out_path))
            return mg_error_set(err, MG_EUSAGE, "%s is both an input and the output", out_path);
    int rc = check_inputs(inputs, n_inputs, err);
    if (rc < 0) return rc;
    rc = merge_one(out_path, inputs, n_inputs, err);
    if (rc < 0) return rc;
    /* The raw twins, when every shard has one. */
    char *out_raw = raw_twin(out_path);
    char **raws = calloc((size_t)n_inputs, sizeof *raws);
    bool all = out_raw && raws;
    for (int i = 0; all && i < n_inputs; i++) {
        struct stat st;
        raws[i] = raw_twin(inputs[i]);
        if (!raws[i] || stat(raws[i], &st) < 0) all = false;
    }
    if (all) rc = merge_one(out_raw, (const char *const *)raws, n_inputs, err);
    for (int i = 0; raws && i < n_inputs; i++) free(raws[i]);
    free(raws);
    free(out_raw);
    return rc;
}
