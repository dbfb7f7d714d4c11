/* sanitize.c — EvalPlus's sanitizer for a batch of programs (one sanitizer
 * process, sanitizer.c), and the `moegen sanitize` file conversion. The
 * script only parses (never runs) the code, but it still runs in the
 * sandbox: the text is untrusted input. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ev_internal.h"
#include "mg_dataset.h"
#include "mg_evaluate.h"
#include "mg_log.h"

void mg_sanitize_free(char **out, size_t n)
{
    if (!out) return;
    for (size_t i = 0; i < n; i++) free(out[i]);
    free(out);
}

int mg_sanitize(const char *python, const char *const *codes, const char *const *entry_points,
                size_t n, char ***out, mg_error *err)
{
    *out = NULL;
    mg_sanitizer *s = NULL;
    int rc = mg_sanitizer_open(python, &s, err);
    for (size_t i = 0; i < n && !rc; i++)
        rc = mg_sanitizer_submit(s, codes[i], entry_points ? entry_points[i] : NULL, err);
    char **res = NULL;
    if (!rc && !(res = calloc(n ? n : 1, sizeof *res)))
        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
    for (size_t got = 0; got < n && !rc;) {
        rc = mg_sanitizer_wait(s, MG_SANITIZE_TIMEOUT_S, err);
        while (!rc && got < n && mg_sanitizer_next(s, &res[got]) == 1) got++;
    }
    mg_sanitizer_close(s);
    if (rc) {
        mg_sanitize_free(res, n);
        res = NULL;
    }
    *out = res;
    return rc;
}

/* pathlib: parent / name.replace(".jsonl", "-sanitized.jsonl") */
static char *sanitized_path(const char *samples)
{
    const char *slash = strrchr(samples, '/');
    size_t dir_len = slash ? (size_t)(slash - samples) + 1 : 0;
    ev_buf b = {0};
    ev_buf_add(&b, samples, dir_len);
    const char *name = samples + dir_len;
    while (*name) {
        if (!strncmp(name, ".jsonl", 6)) {
            ev_buf_add(&b, "-sanitized.jsonl", 16);
            name += 6;
        } else {
            ev_buf_add(&b, name, 1);
            name++;
        }
    }
    return b.data;
}

static const mg_task *lookup(mg_dataset *ds, int nds, const char *id)
{
    for (int d = 0; d < nds; d++)
        for (size_t i = 0; i < ds[d].n_tasks; i++)
            if (!strcmp(ds[d].tasks[i].task_id, id)) return &ds[d].tasks[i];
    return NULL;
}

int mg_sanitize_file(const char *samples, const char *dataset, const char *dataset_path,
                     const char *python, char **out_path, size_t *n_changed, size_t *n_total,
                     mg_error *err)
{
    *out_path = NULL;
    *n_changed = *n_total = 0;
    if (dataset_path && !dataset)
        return mg_error_set(err, MG_EUSAGE, "--dataset-path needs --dataset");
    mg_dataset ds[2];
    memset(ds, 0, sizeof ds);
    int nds = 0, rc = 0;
    const char *names[2] = {dataset ? dataset : "humaneval", dataset ? NULL : "mbpp"};
    for (int i = 0; i < 2 && names[i] && !rc; i++) {
        mg_dataset_params dp = mg_dataset_default_params();
        dp.name = names[i];
        dp.path = dataset_path;
        dp.allow_download = true;
        rc = mg_dataset_open(&dp, &ds[nds], err);
        if (!rc) nds++;
    }
    char *data = NULL;
    size_t len = 0;
    if (!rc) rc = ev_read_file(samples, &data, &len, err);
    const char **codes = NULL, **eps = NULL;
    char **ids = NULL;
    size_t n = 0, cap = 0, line_no = 0;
    for (char *p = data, *end = data + len; !rc && p && p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *line = p;
        p += ll + (nl ? 1 : 0);
        line_no++;
        bool blank = true;
        for (size_t i = 0; i < ll && blank; i++)
            if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') blank = false;
        if (blank) continue;
        json_error_t je;
        json_t *rec = json_loadb(line, ll, 0, &je);
        const char *tid = json_string_value(json_object_get(rec, "task_id"));
        json_t *so = json_object_get(rec, "solution"), *co = json_object_get(rec, "completion");
        if (!tid || (!json_is_string(so) && !json_is_string(co))) {
            rc = mg_error_set(err, MG_EFORMAT,
                              "%s:%zu: need a string \"task_id\" and a string \"solution\" or "
                              "\"completion\"",
                              samples, line_no);
        } else {
            const mg_task *t = lookup(ds, nds, tid);
            if (!t) {
                mg_warn("%s:%zu: skipping %s: not in the dataset", samples, line_no, tid);
            } else {
                if (n == cap) {
                    cap = cap ? cap * 2 : 256;
                    codes = realloc(codes, cap * sizeof *codes);
                    eps = realloc(eps, cap * sizeof *eps);
                    ids = realloc(ids, cap * sizeof *ids);
                    if (!codes || !eps || !ids) rc = mg_error_set(err, MG_ENOMEM, "out of memory");
                }
                if (!rc) {
                    ev_buf c = {0};
                    if (json_is_string(so)) {
                        ev_buf_add(&c, json_string_value(so), json_string_length(so));
                    } else {
                        ev_buf_add(&c, t->prompt, strlen(t->prompt));
                        ev_buf_add(&c, "\n", 1);
                        ev_buf_add(&c, json_string_value(co), json_string_length(co));
                    }
                    if (!c.data) ev_buf_add(&c, "", 0);
                    codes[n] = c.data;
                    eps[n] = t->entry_point;
                    ids[n] = strdup(tid);
                    n++;
                }
            }
        }
        json_decref(rec);
    }
    free(data);
    char **res = NULL;
    if (!rc) rc = mg_sanitize(python, codes, eps, n, &res, err);
    if (!rc) {
        ev_buf b = {0};
        for (size_t i = 0; i < n; i++) {
            ev_buf_add(&b, "{\"task_id\": ", 12);
            ev_buf_json_string(&b, ids[i], strlen(ids[i]));
            ev_buf_add(&b, ", \"solution\": ", 14);
            ev_buf_json_string(&b, res[i], strlen(res[i]));
            ev_buf_add(&b, "}\n", 2);
            if (strcmp(res[i], codes[i])) (*n_changed)++;
        }
        *n_total = n;
        char *op = sanitized_path(samples);
        if (!op)
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        else
            rc = mg_write_file_atomic(op, b.data ? b.data : "", b.len, err);
        if (!rc)
            *out_path = op;
        else
            free(op);
        ev_buf_free(&b);
    }
    mg_sanitize_free(res, n);
    for (size_t i = 0; i < n; i++) {
        free((char *)codes[i]);
        free(ids[i]);
    }
    free(codes);
    free(eps);
    free(ids);
    for (int i = 0; i < nds; i++) mg_dataset_free(&ds[i]);
    return rc;
}
