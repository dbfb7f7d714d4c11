/* test_canonical.c — canonical solutions pass, base and plus, on a subset of
 * HumanEval+ and MBPP+ chosen to cover every special rule (float atol,
 * find_zero, set equality, "not None" outputs, the reference oracles, the
 * tuple/set/complex input conversions). The full 164 + 378 run is recorded in
 * docs/EVALUATION.md (it takes minutes on two cores). Needs ../shared. */
#include "ev_test_util.h"
#include "mg_dataset.h"

static const char *const HE_IDS[] = {"HumanEval/0",   "HumanEval/2",   "HumanEval/4",
                                     "HumanEval/32",  "HumanEval/53",  "HumanEval/115",
                                     "HumanEval/148", "HumanEval/163", NULL};
static const char *const MBPP_IDS[] = {"Mbpp/2",   "Mbpp/63",  "Mbpp/75",  "Mbpp/82",  "Mbpp/106",
                                       "Mbpp/124", "Mbpp/252", "Mbpp/259", "Mbpp/278", "Mbpp/558",
                                       "Mbpp/409", "Mbpp/615", "Mbpp/580", "Mbpp/581", "Mbpp/722",
                                       "Mbpp/737", "Mbpp/787", "Mbpp/794", NULL};

static bool wanted(const char *id, const char *const *ids)
{
    for (; *ids; ids++)
        if (!strcmp(*ids, id)) return true;
    return false;
}

static void run_subset(const char *kind, const char *file, const char *const *ids)
{
    if (access(file, R_OK) != 0) cr_skip_test("needs %s", file);
    mg_dataset ds;
    mg_error err = {0};
    cr_assert_eq(mg_dataset_read_file(file, kind, &ds, &err), 0, "%s", err.msg);
    char dir[] = "/tmp/mg-evcanon-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char dpath[128], spath[128];
    snprintf(dpath, sizeof dpath, "%s/subset.jsonl", dir);
    snprintf(spath, sizeof spath, "%s/canonical.jsonl", dir);
    FILE *df = fopen(dpath, "w"), *sf = fopen(spath, "w");
    cr_assert(df && sf);
    size_t n = 0;
    for (size_t i = 0; i < ds.n_tasks; i++) {
        const mg_task *t = &ds.tasks[i];
        if (!wanted(t->task_id, ids)) continue;
        fprintf(df, "%s\n", t->json);
        char *prog = malloc(strlen(t->prompt) + strlen(t->canonical_solution) + 1);
        strcpy(prog, t->prompt);
        strcat(prog, t->canonical_solution);
        char *rec = ev_record(t->task_id, prog);
        fprintf(sf, "%s\n", rec);
        free(rec);
        free(prog);
        n++;
    }
    fclose(df);
    fclose(sf);
    mg_dataset_free(&ds);
    size_t want = 0;
    while (ids[want]) want++;
    cr_assert_eq(n, want);

    mg_evaluate_params p = mg_evaluate_default_params();
    p.dataset = kind;
    p.dataset_path = dpath;
    p.samples = spath;
    p.cache_dir = MG_BINARY_DIR "/evaluate-test-cache";
    p.quiet = true;
    mg_evaluate_summary s;
    int rc = mg_evaluate_file(&p, &s, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    json_error_t je;
    json_t *res = json_load_file(s.results_path, 0, &je);
    cr_assert_not_null(res, "%s", je.text);
    const char *key;
    json_t *arr;
    json_object_foreach(json_object_get(res, "eval"), key, arr)
    {
        json_t *r = json_array_get(arr, 0);
        cr_expect_str_eq(json_string_value(json_object_get(r, "base_status")), "pass", "%s base",
                         key);
        cr_expect_str_eq(json_string_value(json_object_get(r, "plus_status")), "pass", "%s plus",
                         key);
    }
    cr_assert_eq(s.n_plus, 1);
    cr_assert_eq(s.plus[0].value, 1.0);
    json_decref(res);
    mg_evaluate_summary_free(&s);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(canonical, humaneval_plus_subset_passes)
{
    run_subset("humaneval", MG_SHARED_DIR "/datasets/HumanEvalPlus-v0.1.10.jsonl.gz", HE_IDS);
}

Test(canonical, mbpp_plus_subset_passes)
{
    run_subset("mbpp", MG_SHARED_DIR "/datasets/MbppPlus-v0.2.0.jsonl.gz", MBPP_IDS);
}
