/* results.c — the results file EvalPlus writes (json.dump, default
 * separators, ensure_ascii) and pass@k as EvalPlus computes it with numpy. */
#include "ev_results.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double mg_pass_at_k_estimate(int n, int c, int k)
{
    /* 1 - prod(1 - k / arange(n - c + 1, n + 1)), folded left as np.prod. */
    if (n - c < k) return 1.0;
    double prod = 1.0;
    for (int i = n - c + 1; i <= n; i++) prod *= 1.0 - (double)k / (double)i;
    return 1.0 - prod;
}

/* numpy's pairwise summation (np.mean of a float64 array), so that the value
 * written is the same double EvalPlus writes. */
static double pairwise_sum(const double *a, size_t n)
{
    if (n < 8) {
        double r = 0.;
        for (size_t i = 0; i < n; i++) r += a[i];
        return r;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + (size_t)j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

int ev_pass_at_k(const int *n, const int *c, size_t n_tasks, mg_pass_at_k *out)
{
    static const int ks[3] = {1, 10, 100};
    if (n_tasks == 0) return 0;
    int min_n = n[0];
    for (size_t t = 1; t < n_tasks; t++)
        if (n[t] < min_n) min_n = n[t];
    double *v = malloc(n_tasks * sizeof *v);
    if (!v) return MG_ENOMEM;
    int cnt = 0;
    for (int i = 0; i < 3; i++) {
        if (min_n < ks[i]) continue;
        for (size_t t = 0; t < n_tasks; t++) v[t] = mg_pass_at_k_estimate(n[t], c[t], ks[i]);
        out[cnt].k = ks[i];
        out[cnt].value = pairwise_sum(v, n_tasks) / (double)n_tasks;
        cnt++;
    }
    free(v);
    return cnt;
}

void mg_evaluate_format_table(const char *dataset, const mg_evaluate_summary *s, char *buf,
                              size_t cap)
{
    size_t o = 0;
    if (!cap) return;
    buf[0] = '\0';
#define OUT(...)                                                                                   \
    do {                                                                                           \
        if (o < cap) o += (size_t)snprintf(buf + o, cap - o, __VA_ARGS__);                         \
    } while (0)
    OUT("%s (base tests)\n", dataset);
    for (int i = 0; i < s->n_base; i++) OUT("pass@%d:\t%.3f\n", s->base[i].k, s->base[i].value);
    if (s->n_plus) {
        OUT("%s+ (base + extra tests)\n", dataset);
        for (int i = 0; i < s->n_plus; i++) OUT("pass@%d:\t%.3f\n", s->plus[i].k, s->plus[i].value);
    }
#undef OUT
}

static const char *status_name(int s)
{
    switch (s) {
    case EV_PASS:
        return "pass";
    case EV_FAIL:
        return "fail";
    case EV_TIMEOUT:
        return "timeout";
    default:
        return NULL;
    }
}

/* The JSON text of input #i (line i of <task>.inp: base inputs, then plus). */
typedef struct inp_cache {
    char *data;
    size_t len;
    size_t *lines; /* start offsets */
    size_t n_lines;
} inp_cache;

static int load_inputs(const char *gt_dir, size_t task, inp_cache *c, mg_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%zu.inp", gt_dir, task);
    int rc = ev_read_file(path, &c->data, &c->len, err);
    if (rc < 0) return rc;
    size_t n = 0;
    for (size_t i = 0; i < c->len; i++) n += c->data[i] == '\n';
    c->lines = malloc((n + 1) * sizeof *c->lines);
    if (!c->lines) return mg_error_set(err, MG_ENOMEM, "out of memory");
    c->n_lines = 0;
    size_t start = 0;
    for (size_t i = 0; i < c->len; i++)
        if (c->data[i] == '\n') {
            c->lines[c->n_lines++] = start;
            c->data[i] = '\0';
            start = i + 1;
        }
    return 0;
}

static int add_fail_tests(ev_buf *b, const ev_sample *s, int ph, inp_cache *c, bool details,
                          mg_error *err)
{
    int rc = ev_buf_add(b, "[", 1);
    if (s->status[ph] == EV_PASS || s->ndet[ph] == 0 || !c) return rc ? rc : ev_buf_add(b, "]", 1);
    size_t offset = ph == 1 ? s->n_inputs[0] : 0;
    bool first = true;
    for (size_t i = 0; i < s->ndet[ph] && !rc; i++) {
        /* Without --test-details, only the last input run (the failing one). */
        bool take = details ? s->det[ph][i] == '-' : i + 1 == s->ndet[ph];
        if (!take) continue;
        size_t li = offset + i;
        if (li >= c->n_lines)
            return mg_error_set(err, MG_EPROTO, "evaluate: input #%zu of %s missing from the cache",
                                li, s->task_id);
        if (!first) rc = ev_buf_add(b, ", ", 2);
        first = false;
        const char *t = c->data + c->lines[li];
        if (!rc) rc = ev_buf_add(b, t, strlen(t));
    }
    return rc ? rc : ev_buf_add(b, "]", 1);
}

int ev_results_write(const ev_results_in *in, const char *path, bool overwrite,
                     mg_evaluate_summary *out, mg_error *err)
{
    const mg_dataset *ds = in->dataset;
    int *n = calloc(ds->n_tasks + 1, sizeof *n), *cb = calloc(ds->n_tasks + 1, sizeof *cb),
        *cp = calloc(ds->n_tasks + 1, sizeof *cp);
    ev_buf b = {0};
    int rc = (!n || !cb || !cp) ? mg_error_set(err, MG_ENOMEM, "out of memory") : 0;
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", localtime_r(&now, &tm));
    if (!rc) {
        ev_buf_printf(&b, "{\"date\": \"%s\", \"hash\": \"%s\", \"eval\": {", date, ds->hash);
    }
    bool first_task = true;
    for (size_t t = 0; t < ds->n_tasks && !rc; t++) {
        inp_cache c = {0};
        bool have_c = false;
        bool any = false;
        for (size_t i = 0; i < in->n_samples && !rc; i++) {
            const ev_sample *s = &in->samples[i];
            if (s->task != t) continue;
            if (!any) {
                if (!first_task) ev_buf_add(&b, ", ", 2);
                first_task = false;
                ev_buf_json_string(&b, s->task_id, strlen(s->task_id));
                ev_buf_add(&b, ": [", 3);
            } else {
                ev_buf_add(&b, ", ", 2);
            }
            any = true;
            bool needs = in->gt_dir && ((s->status[0] != EV_PASS && s->ndet[0]) ||
                                        (!in->base_only && s->status[1] != EV_PASS && s->ndet[1]));
            if (needs && !have_c) {
                rc = load_inputs(in->gt_dir, t, &c, err);
                have_c = rc == 0;
                if (rc) break;
            }
            n[t]++;
            cb[t] += s->status[0] == EV_PASS;
            cp[t] += s->status[0] == EV_PASS && s->status[1] == EV_PASS;
            ev_buf_add(&b, "{\"task_id\": ", 12);
            ev_buf_json_string(&b, s->task_id, strlen(s->task_id));
            ev_buf_add(&b, ", \"solution\": ", 14);
            ev_buf_json_string(&b, s->solution, strlen(s->solution));
            ev_buf_printf(&b, ", \"base_status\": \"%s\", \"plus_status\": ",
                          status_name(s->status[0]) ? status_name(s->status[0]) : "timeout");
            if (in->base_only || !status_name(s->status[1]))
                ev_buf_add(&b, "null", 4);
            else
                ev_buf_printf(&b, "\"%s\"", status_name(s->status[1]));
            ev_buf_add(&b, ", \"base_fail_tests\": ", 21);
            rc = add_fail_tests(&b, s, 0, have_c ? &c : NULL, in->test_details, err);
            ev_buf_add(&b, ", \"plus_fail_tests\": ", 21);
            if (!rc) {
                if (in->base_only)
                    rc = ev_buf_add(&b, "[]", 2);
                else
                    rc = add_fail_tests(&b, s, 1, have_c ? &c : NULL, in->test_details, err);
            }
            ev_buf_add(&b, "}", 1);
        }
        if (any) ev_buf_add(&b, "]", 1);
        free(c.data);
        free(c.lines);
    }
    if (!rc) {
        out->n_tasks = ds->n_tasks;
        out->n_samples = in->n_samples;
        snprintf(out->dataset_hash, sizeof out->dataset_hash, "%s", ds->hash);
        int nb = ev_pass_at_k(n, cb, ds->n_tasks, out->base);
        int np = in->base_only ? 0 : ev_pass_at_k(n, cp, ds->n_tasks, out->plus);
        if (nb < 0 || np < 0) rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        out->n_base = nb > 0 ? nb : 0;
        out->n_plus = np > 0 ? np : 0;
    }
    if (!rc) {
        ev_buf_add(&b, "}, \"pass_at_k\": {\"base\": {", 26);
        for (int i = 0; i < out->n_base; i++) {
            ev_buf_printf(&b, "%s\"pass@%d\": ", i ? ", " : "", out->base[i].k);
            ev_buf_py_float(&b, out->base[i].value);
        }
        ev_buf_add(&b, "}", 1);
        if (!in->base_only) {
            ev_buf_add(&b, ", \"plus\": {", 11);
            for (int i = 0; i < out->n_plus; i++) {
                ev_buf_printf(&b, "%s\"pass@%d\": ", i ? ", " : "", out->plus[i].k);
                ev_buf_py_float(&b, out->plus[i].value);
            }
            ev_buf_add(&b, "}", 1);
        }
        rc = ev_buf_add(&b, "}}", 2);
        if (rc) mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    if (!rc && overwrite) {
        struct stat st;
        if (stat(path, &st) == 0) {
            /* EvalPlus asks, then keeps the old file as .bak (.bak.bak ...). */
            ev_buf bak = {0};
            ev_buf_printf(&bak, "%s.bak", path);
            while (bak.data && stat(bak.data, &st) == 0) ev_buf_add(&bak, ".bak", 4);
            if (!bak.data || rename(path, bak.data) < 0)
                rc = mg_error_set(err, mg_err_from_errno(errno), "%s: cannot keep a backup: %s",
                                  path, strerror(errno));
            ev_buf_free(&bak);
        }
    }
    if (!rc) rc = mg_write_file_atomic(path, b.data, b.len, err);
    ev_buf_free(&b);
    free(n);
    free(cb);
    free(cp);
    return rc;
}

/* jansson has no NaN/Infinity; failing inputs may hold them (MBPP+), and only
 * the statuses matter here, so they become null outside strings. */
static void blank_nonfinite(char *s, size_t len)
{
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
            continue;
        }
        static const char *toks[] = {"-Infinity", "Infinity", "NaN"};
        for (int t = 0; t < 3; t++) {
            size_t tl = strlen(toks[t]);
            if (i + tl <= len && !memcmp(s + i, toks[t], tl)) {
                memset(s + i, ' ', tl);
                memcpy(s + i, "0", 1);
                i += tl - 1;
                break;
            }
        }
    }
}

int ev_results_load(const char *path, bool with_plus, mg_evaluate_summary *out, mg_error *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = ev_read_file(path, &data, &len, err);
    if (rc < 0) return rc;
    blank_nonfinite(data, len);
    json_error_t je;
    json_t *root = json_loadb(data, len, 0, &je);
    free(data);
    json_t *ev = root ? json_object_get(root, "eval") : NULL;
    json_t *hash = root ? json_object_get(root, "hash") : NULL;
    if (!json_is_object(ev))
        rc = mg_error_set(err, MG_EFORMAT, "%s:%d: not an EvalPlus results file%s%s", path,
                          root ? 0 : je.line, root ? "" : ": ", root ? "" : je.text);
    size_t nt = rc ? 0 : json_object_size(ev);
    int *n = calloc(nt + 1, sizeof *n), *cb = calloc(nt + 1, sizeof *cb),
        *cp = calloc(nt + 1, sizeof *cp);
    if (!rc && (!n || !cb || !cp)) rc = mg_error_set(err, MG_ENOMEM, "out of memory");
    size_t t = 0, ns = 0;
    const char *key;
    json_t *arr;
    if (!rc) json_object_foreach(ev, key, arr)
        {
            if (!json_is_array(arr)) {
                rc = mg_error_set(err, MG_EFORMAT, "%s: eval[%s] is not a list", path, key);
                break;
            }
            size_t i;
            json_t *r;
            json_array_foreach(arr, i, r)
            {
                const char *bs = json_string_value(json_object_get(r, "base_status"));
                const char *ps = json_string_value(json_object_get(r, "plus_status"));
                bool bp = bs && !strcmp(bs, "pass"), pp = ps && !strcmp(ps, "pass");
                n[t]++;
                cb[t] += bp;
                cp[t] += bp && pp;
                ns++;
            }
            t++;
        }
    if (!rc) {
        out->n_tasks = nt;
        out->n_samples = ns;
        if (json_is_string(hash))
            snprintf(out->dataset_hash, sizeof out->dataset_hash, "%s", json_string_value(hash));
        int nb = ev_pass_at_k(n, cb, nt, out->base);
        int np = with_plus ? ev_pass_at_k(n, cp, nt, out->plus) : 0;
        out->n_base = nb > 0 ? nb : 0;
        out->n_plus = np > 0 ? np : 0;
    }
    free(n);
    free(cb);
    free(cp);
    json_decref(root);
    return rc;
}
