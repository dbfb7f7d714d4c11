/* dataset.c — where a dataset comes from, and which of its tasks are used,
 * as evalplus/data/{utils,humaneval,mbpp}.py and codegen.py decide it. */
#include "ds_internal.h"
#include "mg_dataset.h"
#include "mg_log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

mg_dataset_params mg_dataset_default_params(void)
{
    mg_dataset_params p = {0};
    p.name = "humaneval";
    p.allow_download = true;
    return p;
}

/* Release files and the MD5 of their decompressed bytes (checked against the
 * files published on the release repositories' main branches). */
typedef struct release {
    const char *cache_name; /* file name in the evalplus cache */
    const char *url_path;   /* appended to https://github.com */
    const char *md5;
} release;

static const release RELEASES[] = {
    {"HumanEvalPlus-v0.1.10.jsonl",
     "/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz",
     "fe585eb4df8c88d844eeb463ea4d0302"},
    {"HumanEvalPlus-Mini-v0.1.10.jsonl",
     "/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus-Mini.jsonl.gz",
     "401e75ad986361dccc7afecb4121e295"},
    {"HumanEvalPlus-NoExtreme-v0.1.10.jsonl",
     "/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus-NoExtreme.jsonl.gz",
     "413980104ee0339c147ac09653cee3db"},
    {"MbppPlus-v0.2.0.jsonl",
     "/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz",
     "ee43ecabebf20deef4bb776a405ac5b1"},
    {"MbppPlus-NoExtreme-v0.2.0.jsonl",
     "/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus-NoExtreme.jsonl.gz",
     "85d8d7a406c0686e80353e676189bfee"},
    {"HumanEval.jsonl", "/openai/human-eval/raw/master/data/HumanEval.jsonl.gz",
     "88771747746422b8669027625578460c"},
};

static char *join3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

char *mg_evalplus_cache_dir(void)
{
    /* appdirs.user_cache_dir("evalplus") on Linux. */
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && *x) return join3(x, "/", "evalplus");
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw && pw->pw_dir ? pw->pw_dir : "/";
    }
    return join3(home, "/.cache/", "evalplus");
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL; /* Python tests `if OVERRIDE_PATH:` */
}

int mg_dataset_resolve(const mg_dataset_params *p, char **path, char **url,
                       const char **expected_md5, mg_error *err)
{
    *path = NULL;
    *url = NULL;
    *expected_md5 = NULL;
    const char *name = p->name ? p->name : "humaneval";
    int he = !strcmp(name, "humaneval"), mbpp = !strcmp(name, "mbpp");
    int orig = !strcmp(name, "humaneval-orig"), custom = !strcmp(name, "custom");
    if (!he && !mbpp && !orig && !custom)
        return mg_error_set(err, MG_EUSAGE,
                            "--dataset: unknown dataset '%s' (humaneval, mbpp, humaneval-orig "
                            "or custom)",
                            name);
    if (p->mini && p->noextreme)
        return mg_error_set(err, MG_EUSAGE, "--mini and --noextreme cannot be used together");
    if (p->mini && !he)
        return mg_error_set(err, MG_EUSAGE, "--mini: only HumanEval+ has a Mini version");
    if (p->noextreme && !he && !mbpp)
        return mg_error_set(err, MG_EUSAGE, "--noextreme: only HumanEval+ and MBPP+ have one");
    if (p->path) {
        if (p->mini || p->noextreme)
            return mg_error_set(err, MG_EUSAGE,
                                "--mini/--noextreme pick a release file and cannot be combined "
                                "with --dataset-path");
        *path = mg_ds__strndup(p->path, strlen(p->path));
        return *path ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    if (custom)
        return mg_error_set(err, MG_EUSAGE, "--dataset-path is required for a custom dataset");
    const char *ov = he     ? env_nonempty("HUMANEVAL_OVERRIDE_PATH")
                     : mbpp ? env_nonempty("MBPP_OVERRIDE_PATH")
                            : NULL;
    if (ov) {
        /* EvalPlus returns the override before looking at mini/noextreme. */
        if (p->mini || p->noextreme)
            mg_warn("%s_OVERRIDE_PATH is set: --mini/--noextreme are ignored, as in EvalPlus",
                    he ? "HUMANEVAL" : "MBPP");
        *path = mg_ds__strndup(ov, strlen(ov));
        return *path ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    const release *r = orig   ? &RELEASES[5]
                       : mbpp ? &RELEASES[p->noextreme ? 4 : 3]
                              : &RELEASES[p->mini        ? 1
                                          : p->noextreme ? 2
                                                         : 0];
    char *dir = mg_evalplus_cache_dir();
    if (!dir) return mg_error_set(err, MG_ENOMEM, "out of memory");
    *path = join3(dir, "/", r->cache_name);
    free(dir);
    if (!*path) return mg_error_set(err, MG_ENOMEM, "out of memory");
    *expected_md5 = r->md5;
    if (access(*path, F_OK) == 0) return 0;
    const char *base = env_nonempty(MG_EVALPLUS_RELEASE_URL_ENV);
    *url = join3(base ? base : "https://github.com", r->url_path, "");
    if (!*url) {
        free(*path);
        *path = NULL;
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    return 0;
}

/* get_human_eval(): EvalPlus moves task 115's `import math` to the top of the
 * prompt (prompt = "import math\n" + prompt.replace("import math\n", "")). */
static int patch_humaneval_115(mg_dataset *ds, mg_error *err)
{
    if (ds->n_tasks <= 115) return 0;
    mg_task *t = &ds->tasks[115];
    static const char pat[] = "import math\n";
    size_t pl = sizeof pat - 1;
    mg_sbuf s = {0};
    int rc = mg_sbuf_append(&s, pat, pl);
    for (const char *q = t->prompt; rc == 0 && *q;) {
        const char *hit = strstr(q, pat);
        size_t n = hit ? (size_t)(hit - q) : strlen(q);
        rc = mg_sbuf_append(&s, q, n);
        q += n + (hit ? pl : 0);
    }
    if (rc < 0) {
        mg_sbuf_free(&s);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    free(t->prompt);
    t->prompt = s.data;
    return 0;
}

int mg_dataset_open(const mg_dataset_params *p, mg_dataset *out, mg_error *err)
{
    memset(out, 0, sizeof *out);
    char *path = NULL, *url = NULL;
    const char *md5 = NULL;
    int rc = mg_dataset_resolve(p, &path, &url, &md5, err);
    if (rc < 0) return rc;
    const char *name = p->name ? p->name : "humaneval";
    if (url) {
        if (!p->allow_download) {
            rc = mg_error_set(err, MG_ENOENT, "%s: not in the evalplus cache and downloads are off",
                              path);
            goto done;
        }
        mg_info("downloading %s to %s", url, path);
        rc = mg_dataset_download(url, path, md5, err);
        if (rc < 0) goto done;
    }
    rc = mg_dataset_read_file(path, name, out, err);
    if (rc < 0) goto done;
    if (md5 && strcmp(md5, out->hash))
        mg_warn("%s: MD5 %s differs from the release file's %s (a modified or stale cache?)", path,
                out->hash, md5);
    if (!strcmp(name, "humaneval-orig")) rc = patch_humaneval_115(out, err);
    if (rc == 0) rc = mg_dataset_select(out, p->id_range, p->task_ids, err);
    if (rc < 0) mg_dataset_free(out);
done:
    free(path);
    free(url);
    return rc;
}

/* Python int() on the part after the first "/": optional spaces and sign,
 * digits with single underscores between them. */
static int py_int(const char *s, size_t n, long long *v)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i])) i++;
    while (n > i && isspace((unsigned char)s[n - 1])) n--;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i >= n || !isdigit((unsigned char)s[i])) return -1;
    long long x = 0;
    for (; i < n; i++) {
        if (s[i] == '_' && i + 1 < n && isdigit((unsigned char)s[i + 1]) &&
            isdigit((unsigned char)s[i - 1]))
            continue;
        if (!isdigit((unsigned char)s[i])) return -1;
        if (x > (LLONG_MAX - 9) / 10) return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = neg ? -x : x;
    return 0;
}

static int parse_range(const char *r, long long *lo, long long *hi, mg_error *err)
{
    /* "LO,HI", also "[LO, HI]" / "(LO,HI)" as python-fire would take a list. */
    size_t n = strlen(r);
    size_t a = 0, b = n;
    while (a < b && isspace((unsigned char)r[a])) a++;
    while (b > a && isspace((unsigned char)r[b - 1])) b--;
    if (b - a >= 2 && ((r[a] == '[' && r[b - 1] == ']') || (r[a] == '(' && r[b - 1] == ')')))
        a++, b--;
    const char *comma = memchr(r + a, ',', b - a);
    if (!comma || memchr(comma + 1, ',', (size_t)(r + b - comma - 1)) ||
        py_int(r + a, (size_t)(comma - r - a), lo) < 0 ||
        py_int(comma + 1, (size_t)(r + b - comma - 1), hi) < 0)
        return mg_error_set(err, MG_EUSAGE, "--id-range: '%s' is not LO,HI (two integers)", r);
    if (*lo >= *hi)
        return mg_error_set(err, MG_EUSAGE, "--id-range: '%s' needs LO < HI (half-open)", r);
    return 0;
}

int mg_dataset_select(mg_dataset *ds, const char *id_range, const char *task_ids, mg_error *err)
{
    if (!id_range && !task_ids) return 0;
    long long lo = 0, hi = 0;
    if (id_range && parse_range(id_range, &lo, &hi, err) < 0) return MG_EUSAGE;
    char *keep = calloc(ds->n_tasks ? ds->n_tasks : 1, 1);
    if (!keep) return mg_error_set(err, MG_ENOMEM, "out of memory");
    for (size_t i = 0; i < ds->n_tasks; i++) keep[i] = 1;
    int rc = 0;
    if (id_range) {
        for (size_t i = 0; i < ds->n_tasks; i++) {
            /* codegen.py: id_num = int(task_id.split("/")[1]) */
            const char *id = ds->tasks[i].task_id;
            const char *s1 = strchr(id, '/');
            const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
            long long num;
            if (!s1 || py_int(s1 + 1, s2 ? (size_t)(s2 - s1 - 1) : strlen(s1 + 1), &num) < 0) {
                rc = mg_error_set(err, MG_EUSAGE,
                                  "--id-range: task_id \"%s\" has no number after '/'", id);
                goto done;
            }
            if (num < lo || num >= hi) keep[i] = 0;
        }
    }
    if (task_ids) {
        char *want = calloc(ds->n_tasks ? ds->n_tasks : 1, 1);
        if (!want) {
            rc = mg_error_set(err, MG_ENOMEM, "out of memory");
            goto done;
        }
        for (const char *q = task_ids; *q;) {
            const char *e = strchr(q, ',');
            size_t n = e ? (size_t)(e - q) : strlen(q);
            size_t a = 0, b = n;
            while (a < b && isspace((unsigned char)q[a])) a++;
            while (b > a && isspace((unsigned char)q[b - 1])) b--;
            if (b > a) {
                size_t i;
                for (i = 0; i < ds->n_tasks; i++)
                    if (strlen(ds->tasks[i].task_id) == b - a &&
                        !memcmp(ds->tasks[i].task_id, q + a, b - a))
                        break;
                if (i == ds->n_tasks) {
                    rc = mg_error_set(err, MG_EUSAGE, "--task-ids: no task \"%.*s\" in %s",
                                      (int)(b - a), q + a, ds->path ? ds->path : ds->name);
                    free(want);
                    goto done;
                }
                want[i] = 1;
            }
            q += n + (e ? 1 : 0);
        }
        for (size_t i = 0; i < ds->n_tasks; i++) keep[i] &= want[i];
        free(want);
    }
    size_t o = 0;
    for (size_t i = 0; i < ds->n_tasks; i++) {
        if (keep[i]) {
            ds->tasks[o++] = ds->tasks[i];
        } else {
            mg_task *t = &ds->tasks[i];
            free(t->task_id), free(t->prompt), free(t->entry_point);
            free(t->canonical_solution), free(t->test), free(t->json);
        }
    }
    ds->n_tasks = o;
done:
    free(keep);
    return rc;
}
