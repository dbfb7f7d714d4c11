/* evaluate.c — `mg_evaluate_file`: samples in, EvalPlus results JSON out.
 * Reads the dataset (mg_dataset), the sample file, makes sure the expected
 * outputs are cached (gt.c), runs the samples (pool.c) and writes the file
 * (results.c). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ev_pool.h"
#include "ev_results.h"
#include "mg_dataset.h"
#include "mg_evaluate.h"
#include "mg_log.h"

static long long total_ram(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (long long)pages * size : -1;
}

mg_evaluate_params mg_evaluate_default_params(void)
{
    mg_evaluate_params p = {0};
    p.dataset = "humaneval";
    p.min_time_limit = 4.0;
    p.gt_time_limit_factor = 4.0;
    p.per_task_timeout = 60.0;
    const char *t = getenv("EVALPLUS_TIMEOUT_PER_TASK");
    if (t && *t) {
        char *end = NULL;
        double v = strtod(t, &end);
        if (end != t && !*end && v > 0) p.per_task_timeout = v;
    }
    /* EvalPlus: min(EVALPLUS_MAX_MEMORY_BYTES or 4 GiB, RAM); -1 means none. */
    long long mem = 4ll << 30;
    const char *m = getenv("EVALPLUS_MAX_MEMORY_BYTES");
    if (m && *m) {
        char *end = NULL;
        long long v = strtoll(m, &end, 10);
        if (end != m && !*end) mem = v;
    }
    long long ram = total_ram();
    if (mem != -1 && ram > 0 && mem > ram) mem = ram;
    p.max_memory = mem;
    return p;
}

int mg_evaluate_find_python(const char *python, char **out, mg_error *err)
{
    /* Ask the interpreter itself: PATH lookup, shims and venvs all resolve to
     * sys.executable, which is what every sample then execs directly. */
    const char *name = python && *python ? python : "python3";
    char cmd[4400];
    if (strlen(name) > 4000 || strchr(name, '\''))
        return mg_error_set(err, MG_EUSAGE, "--python: unusable path '%s'", name);
    snprintf(cmd, sizeof cmd, "'%s' -I -c 'import sys; print(sys.executable)' 2>/dev/null", name);
    FILE *f = popen(cmd, "r");
    if (!f) return mg_error_set(err, MG_ECHILD, "--python: cannot run '%s'", name);
    char buf[4096] = {0};
    char *got = fgets(buf, sizeof buf, f);
    int st = pclose(f);
    size_t n = got ? strlen(buf) : 0;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    if (st != 0 || n == 0 || buf[0] != '/')
        return mg_error_set(err, MG_ENOENT, "--python: '%s' is not a working python3", name);
    *out = strdup(buf);
    return *out ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
}

static char *cache_root(const char *given)
{
    if (given && *given) return strdup(given);
    const char *x = getenv("XDG_CACHE_HOME");
    char buf[4096];
    if (x && *x)
        snprintf(buf, sizeof buf, "%s/moegen", x);
    else
        snprintf(buf, sizeof buf, "%s/.cache/moegen", getenv("HOME") ? getenv("HOME") : "/tmp");
    return strdup(buf);
}

static char *results_path(const char *samples)
{
    /* EvalPlus HEAD: samples.replace(".jsonl", ".eval_results.json"); we
     * replace the suffix only. */
    size_t n = strlen(samples);
    char *out = malloc(n + 32);
    if (!out) return NULL;
    memcpy(out, samples, n + 1);
    if (n >= 6 && !strcmp(samples + n - 6, ".jsonl")) out[n - 6] = '\0';
    strcat(out, ".eval_results.json");
    return out;
}

static int find_task(const mg_dataset *ds, const char *id)
{
    for (size_t i = 0; i < ds->n_tasks; i++)
        if (!strcmp(ds->tasks[i].task_id, id)) return (int)i;
    return -1;
}

static char *concat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

void ev_samples_free(ev_sample *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].solution);
        free(s[i].det[0]);
        free(s[i].det[1]);
    }
    free(s);
}

/* load_solutions(): one record a line, `solution` wins over `completion`
 * (then prompt + completion), unknown tasks skipped with a warning. */
static int read_samples(const char *path, const mg_dataset *ds, bool orig, ev_sample **out,
                        size_t *n_out, mg_error *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = ev_read_file(path, &data, &len, err);
    if (rc < 0) return mg_error_prefix(err, rc, "--samples");
    ev_sample *s = NULL;
    size_t n = 0, cap = 0;
    size_t line_no = 0;
    char *p = data, *end = data + len;
    while (p < end && rc == 0) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line_no++;
        char *line = p;
        p += ll + (nl ? 1 : 0);
        bool blank = true;
        for (size_t i = 0; i < ll && blank; i++)
            if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') blank = false;
        if (blank) continue;
        json_error_t je;
        json_t *rec = json_loadb(line, ll, JSON_DECODE_ANY, &je);
        const char *tid = NULL, *sol = NULL, *comp = NULL;
        if (!rec || !json_is_object(rec)) {
            rc = mg_error_set(err, MG_EFORMAT, "%s:%zu: not a JSON object%s%s", path, line_no,
                              rec ? "" : ": ", rec ? "" : je.text);
        } else {
            json_t *t = json_object_get(rec, "task_id"), *so = json_object_get(rec, "solution"),
                   *co = json_object_get(rec, "completion");
            if (!json_is_string(t))
                rc = mg_error_set(err, MG_EFORMAT, "%s:%zu: missing string \"task_id\"", path,
                                  line_no);
            else if (!so && !co)
                rc = mg_error_set(err, MG_EFORMAT,
                                  "%s:%zu: no \"solution\" or \"completion\" in the record", path,
                                  line_no);
            else if ((so && !json_is_string(so)) || (co && !json_is_string(co)))
                rc = mg_error_set(err, MG_EFORMAT,
                                  "%s:%zu: \"solution\"/\"completion\" must be a string (repeat "
                                  "the task_id for several samples)",
                                  path, line_no);
            else {
                tid = json_string_value(t);
                sol = so ? json_string_value(so) : NULL;
                comp = co ? json_string_value(co) : NULL;
            }
        }
        if (rc == 0) {
            int ti = find_task(ds, tid);
            if (ti < 0) {
                mg_warn("%s:%zu: task %s is not in the dataset: skipped", path, line_no, tid);
            } else {
                if (n == cap) {
                    size_t nc = cap ? cap * 2 : 256;
                    ev_sample *ns = realloc(s, nc * sizeof *ns);
                    if (!ns)
                        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
                    else
                        s = ns, cap = nc;
                }
                if (rc == 0) {
                    const mg_task *task = &ds->tasks[ti];
                    char *prog = NULL;
                    if (sol) {
                        prog = strdup(sol);
                    } else if (orig) {
                        /* human-eval glues the completion to its own prompt,
                         * not to EvalPlus's task-115 patch of it. */
                        json_t *raw = json_loads(task->json, 0, NULL);
                        const char *op = json_string_value(json_object_get(raw, "prompt"));
                        prog = concat3(op ? op : task->prompt, comp, "");
                        json_decref(raw);
                    } else {
                        prog = concat3(task->prompt, comp, "");
                    }
                    if (prog && orig) {
                        /* human-eval: program + test + check(entry_point). */
                        char *chk =
                            concat3("\ncheck(", task->entry_point ? task->entry_point : "", ")");
                        char *full = chk ? concat3(prog, "\n", task->test ? task->test : "") : NULL;
                        char *all = full ? concat3(full, chk, "") : NULL;
                        free(prog);
                        free(chk);
                        free(full);
                        prog = all;
                    }
                    if (!prog)
                        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
                    else {
                        memset(&s[n], 0, sizeof s[n]);
                        s[n].task = (size_t)ti;
                        s[n].task_id = task->task_id;
                        s[n].solution = prog;
                        s[n].status[0] = s[n].status[1] = EV_NONE;
                        n++;
                    }
                }
            }
        }
        json_decref(rec);
    }
    free(data);
    if (rc < 0) {
        ev_samples_free(s, n);
        return rc;
    }
    *out = s;
    *n_out = n;
    return 0;
}

/* Every task must have a sample (EvalPlus: "Missing problems in samples"). */
static int check_complete(const char *path, const mg_dataset *ds, const ev_sample *s, size_t n,
                          mg_error *err)
{
    bool *seen = calloc(ds->n_tasks ? ds->n_tasks : 1, 1);
    if (!seen) return mg_error_set(err, MG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) seen[s[i].task] = true;
    size_t missing = 0;
    ev_buf list = {0};
    for (size_t i = 0; i < ds->n_tasks; i++) {
        if (seen[i]) continue;
        if (missing < 40) ev_buf_printf(&list, "%s%s", missing ? ", " : "", ds->tasks[i].task_id);
        missing++;
    }
    free(seen);
    int rc = 0;
    if (missing)
        rc = mg_error_set(err, MG_EFORMAT, "%s: %zu task(s) of the dataset have no sample: %s%s",
                          path, missing, list.data ? list.data : "", missing > 40 ? ", ..." : "");
    ev_buf_free(&list);
    return rc;
}

static int make_root(char **root, mg_error *err)
{
    const char *t = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/moegen-eval-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(buf))
        return mg_error_set(err, mg_err_from_errno(errno), "%s: %s", buf, strerror(errno));
    *root = strdup(buf);
    return *root ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
}

int mg_evaluate_file(const mg_evaluate_params *p, mg_evaluate_summary *out, mg_error *err)
{
    memset(out, 0, sizeof *out);
    if (!p->samples) return mg_error_set(err, MG_EUSAGE, "--samples is required");
    const char *kind = p->dataset ? p->dataset : "humaneval";
    /* A custom dataset (HumanEval-format JSONL with `test` and `entry_point`)
     * is scored as the original HumanEval is: program + test + check(). */
    bool custom = !strcmp(kind, "custom");
    bool orig = !strcmp(kind, "humaneval-orig") || custom;
    if (strcmp(kind, "humaneval") && strcmp(kind, "mbpp") && !orig)
        return mg_error_set(err, MG_EUSAGE,
                            "--dataset: '%s' cannot be evaluated (humaneval, mbpp, "
                            "humaneval-orig or custom)",
                            kind);
    if (custom && !p->dataset_path)
        return mg_error_set(err, MG_EUSAGE, "--dataset custom needs --dataset-path");
    size_t sl = strlen(p->samples);
    if (sl < 6 || strcmp(p->samples + sl - 6, ".jsonl"))
        return mg_error_set(err, MG_EUSAGE, "--samples: '%s' is not a .jsonl file", p->samples);
    char *rpath = p->output ? strdup(p->output) : results_path(p->samples);
    if (!rpath) return mg_error_set(err, MG_ENOMEM, "out of memory");
    out->results_path = rpath;

    struct stat st;
    if (stat(rpath, &st) == 0 && !p->overwrite) {
        if (!p->quiet) mg_info("evaluate: loading previous results from %s", rpath);
        int rc = ev_results_load(rpath, !p->base_only, out, err);
        if (rc == 0) out->loaded = true;
        return rc;
    }

    mg_dataset ds;
    mg_dataset_params dp = mg_dataset_default_params();
    dp.name = kind;
    /* The ground-truth step runs Python in another folder: give it an
     * absolute path. */
    char *abs_path = p->dataset_path ? realpath(p->dataset_path, NULL) : NULL;
    dp.path = abs_path ? abs_path : p->dataset_path;
    dp.allow_download = true;
    int rc = mg_dataset_open(&dp, &ds, err);
    free(abs_path);
    if (rc < 0) return rc;
    for (size_t t = 0; custom && t < ds.n_tasks; t++)
        if (!ds.tasks[t].test || !ds.tasks[t].entry_point) {
            rc = mg_error_set(err, MG_EFORMAT,
                              "%s: task %s has no \"test\" or \"entry_point\" to evaluate with",
                              ds.path, ds.tasks[t].task_id);
            mg_dataset_free(&ds);
            return rc;
        }
    ev_sample *samples = NULL;
    size_t n = 0;
    char *python = NULL, *croot = NULL, *gt_dir = NULL, *root = NULL;
    rc = read_samples(p->samples, &ds, orig, &samples, &n, err);
    if (rc == 0) rc = check_complete(p->samples, &ds, samples, n, err);
    if (rc == 0) rc = mg_evaluate_find_python(p->python, &python, err);
    int par = p->parallel > 0 ? p->parallel : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (par < 1) par = 1;
    if (rc == 0 && !orig) {
        croot = cache_root(p->cache_dir);
        if (!croot)
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        else
            rc = ev_gt_ensure(python, croot, ds.path, kind, ds.hash, ds.n_tasks, par, p->quiet,
                              &gt_dir, err);
    }
    if (rc == 0) rc = make_root(&root, err);
    if (rc == 0) {
        ev_pool pl = {.samples = samples,
                      .n_samples = n,
                      .python = python,
                      .kind = kind,
                      .gt_dir = gt_dir,
                      .root = root,
                      .root_is_ns = ev_sbx_namespaces(),
                      .orig = orig,
                      .base_only = p->base_only || orig,
                      .test_details = p->test_details,
                      .quiet = p->quiet,
                      .parallel = par,
                      .min_time_limit = p->min_time_limit,
                      .factor = p->gt_time_limit_factor,
                      .per_task = p->per_task_timeout,
                      .max_memory = p->max_memory};
        double t0 = ev_now();
        /* Without a pid namespace, a sample of the same user could read our
         * /proc/PID/environ; a non-dumpable process hides it. */
        int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
        if (!pl.root_is_ns) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        rc = ev_pool_run(&pl, err);
        if (!pl.root_is_ns && dumpable > 0) prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0);
        if (rc == 0 && !p->quiet)
            mg_info("evaluate: %zu samples in %.1f s (%s sandbox, %d in parallel)", n,
                    ev_now() - t0, mg_sandbox_mode(), par);
    }
    if (root) {
        ev_rmtree(root);
        rmdir(root);
    }
    if (rc == 0) {
        ev_results_in in = {.dataset = &ds,
                            .kind = kind,
                            .samples = samples,
                            .n_samples = n,
                            .gt_dir = gt_dir,
                            .base_only = p->base_only || orig,
                            .test_details = p->test_details};
        rc = ev_results_write(&in, rpath, p->overwrite, out, err);
    }
    ev_samples_free(samples, n);
    free(python);
    free(croot);
    free(gt_dir);
    free(root);
    mg_dataset_free(&ds);
    return rc;
}

void mg_evaluate_summary_free(mg_evaluate_summary *s)
{
    if (!s) return;
    free(s->results_path);
    memset(s, 0, sizeof *s);
}
