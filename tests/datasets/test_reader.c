/* Dataset readers: the three real files, Mini, custom JSONL(.gz), selection,
 * resolution order, and every kind of bad input. */
#include "ds_test_util.h"
#include "mg_dataset.h"

static mg_dataset read_ok(const char *path, const char *name)
{
    mg_dataset ds;
    mg_error err = {0};
    int rc = mg_dataset_read_file(path, name, &ds, &err);
    cr_assert_eq(rc, 0, "%s: %s", path, err.msg);
    return ds;
}

Test(reader, humanevalplus_v0_1_10)
{
    NEED_SHARED();
    mg_dataset ds = read_ok(SHARED_DS "/HumanEvalPlus-v0.1.10.jsonl.gz", "humaneval");
    cr_assert_eq(ds.n_tasks, 164);
    cr_assert_str_eq(ds.hash, "fe585eb4df8c88d844eeb463ea4d0302");
    cr_assert_str_eq(ds.tasks[0].task_id, "HumanEval/0");
    cr_assert_str_eq(ds.tasks[163].task_id, "HumanEval/163");
    cr_assert_str_eq(ds.tasks[0].entry_point, "has_close_elements");
    cr_assert_not_null(ds.tasks[0].canonical_solution);
    cr_assert_not_null(ds.tasks[0].test);
    cr_assert(!strncmp(ds.tasks[0].json, "{\"task_id\": \"HumanEval/0\"", 25));
    mg_dataset_free(&ds);
}

Test(reader, mbppplus_v0_2_0_with_infinity_tokens)
{
    NEED_SHARED();
    mg_dataset ds = read_ok(SHARED_DS "/MbppPlus-v0.2.0.jsonl.gz", "mbpp");
    cr_assert_eq(ds.n_tasks, 378);
    cr_assert_str_eq(ds.hash, "ee43ecabebf20deef4bb776a405ac5b1");
    cr_assert_str_eq(ds.tasks[0].task_id, "Mbpp/2");
    cr_assert_str_eq(ds.tasks[377].task_id, "Mbpp/809");
    cr_assert_null(ds.tasks[0].test); /* MBPP+ has "assertion", not "test" */
    /* The original text keeps the bare tokens. */
    size_t inf = 0;
    for (size_t i = 0; i < ds.n_tasks; i++)
        for (const char *p = ds.tasks[i].json; (p = strstr(p, "Infinity")); p++) inf++;
    cr_assert_gt(inf, 0);
    mg_dataset_free(&ds);
}

Test(reader, original_humaneval_and_mini)
{
    NEED_SHARED();
    mg_dataset ds = read_ok(SHARED_DS "/HumanEval.jsonl.gz", "humaneval-orig");
    cr_assert_eq(ds.n_tasks, 164);
    cr_assert_str_eq(ds.hash, "88771747746422b8669027625578460c");
    mg_dataset_free(&ds);
    ds = read_ok(SHARED_DS "/HumanEvalPlus-Mini-v0.1.10.jsonl.gz", "humaneval");
    cr_assert_eq(ds.n_tasks, 164);
    cr_assert_str_eq(ds.hash, "401e75ad986361dccc7afecb4121e295");
    mg_dataset_free(&ds);
}

static const char CUSTOM[] =
    "{\"task_id\": \"X/1\", \"prompt\": \"def f():\\n\", \"extra\": [1, NaN, -Infinity, "
    "Infinity, \"NaN in a string\"]}\r\n"
    "   \n"
    "\t\n"
    "{\"task_id\": \"X/3\", \"prompt\": \"p3\", \"entry_point\": \"g\", \"test\": 5, "
    "\"big\": 123456789012345678901234567890123456789012345678901234567890123456789012345678901234"
    "56789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
    "12345678901234567890123456789012345678901234567890123456789012345678901234567890123456"
    "789012345678901234567890123456789012345678901234567890, \"huge\": -1.5e400, \"tiny\": "
    "1E-999, \"ok\": [0, -0.0, 10.25e+3]}\r"
    "{\"task_id\": \"X/10\", \"prompt\": \"caf\\u00e9\"}";

Test(reader, custom_jsonl_and_gz_same_content)
{
    char *dir = ds_tmpdir();
    char *plain = ds_path(dir, "tasks.jsonl"), *gz = ds_path(dir, "tasks.data");
    ds_write(plain, CUSTOM, sizeof CUSTOM - 1);
    size_t zn;
    unsigned char *z = ds_gzip(CUSTOM, sizeof CUSTOM - 1, &zn);
    ds_write(gz, z, zn); /* no .gz suffix: detected by the magic bytes */
    char want[33];
    mg_md5_hex(CUSTOM, sizeof CUSTOM - 1, want);
    for (int k = 0; k < 2; k++) {
        mg_dataset ds = read_ok(k ? gz : plain, "custom");
        cr_assert_eq(ds.n_tasks, 3);
        cr_assert_str_eq(ds.hash, want);
        cr_assert_str_eq(ds.tasks[0].task_id, "X/1");
        cr_assert_str_eq(ds.tasks[0].prompt, "def f():\n");
        cr_assert_null(ds.tasks[0].entry_point);
        cr_assert(strstr(ds.tasks[0].json, "-Infinity"));
        cr_assert_str_eq(ds.tasks[1].entry_point, "g");
        cr_assert_null(ds.tasks[1].test); /* non-string optional field: absent */
        cr_assert_str_eq(ds.tasks[2].prompt, "caf\xc3\xa9");
        mg_dataset_free(&ds);
    }
    /* Two gzip members back to back plus zero padding read as one stream. */
    size_t n1, n2;
    const char *l1 = "{\"task_id\": \"A/1\", \"prompt\": \"a\"}\n";
    const char *l2 = "{\"task_id\": \"A/2\", \"prompt\": \"b\"}\n";
    unsigned char *a = ds_gzip(l1, strlen(l1), &n1);
    unsigned char *b = ds_gzip(l2, strlen(l2), &n2);
    unsigned char *cat = calloc(n1 + n2 + 8, 1);
    memcpy(cat, a, n1);
    memcpy(cat + n1, b, n2);
    char *multi = ds_path(dir, "multi.jsonl.gz");
    ds_write(multi, cat, n1 + n2 + 8);
    mg_dataset ds = read_ok(multi, "custom");
    cr_assert_eq(ds.n_tasks, 2);
    mg_dataset_free(&ds);
    free(a), free(b), free(cat), free(multi), free(z), free(plain), free(gz), free(dir);
}

static void expect_bad(const char *content, size_t n, int gz, const char *want_substr)
{
    char *dir = ds_tmpdir();
    char *p = ds_path(dir, gz ? "bad.jsonl.gz" : "bad.jsonl");
    if (gz) {
        size_t zn;
        unsigned char *z = ds_gzip(content, n, &zn);
        ds_write(p, z, zn);
        free(z);
    } else {
        ds_write(p, content, n);
    }
    mg_dataset ds;
    mg_error err = {0};
    cr_assert_lt(mg_dataset_read_file(p, "custom", &ds, &err), 0, "accepted: %s", content);
    cr_assert(strstr(err.msg, p), "message names the file: %s", err.msg);
    cr_assert(strstr(err.msg, want_substr), "'%s' not in: %s", want_substr, err.msg);
    cr_assert_null(strchr(err.msg, '\n'));
    cr_assert_null(ds.tasks);
    free(p), free(dir);
}

#define BAD(s, want) expect_bad(s, sizeof(s) - 1, 0, want)

Test(reader, bad_inputs_name_file_and_line)
{
    BAD("{\"task_id\": \"a\", \"prompt\": \"p\"}\n{\"task_id\": \"b\", \"prompt\": }\n",
        ":2: malformed JSON");
    BAD("\n\n{\"prompt\": \"p\"}\n", ":3: missing \"task_id\"");
    BAD("{\"task_id\": \"a\"}\n", ":1: missing \"prompt\"");
    BAD("{\"task_id\": 7, \"prompt\": \"p\"}\n", ":1: non-string \"task_id\"");
    BAD("{\"task_id\": \"a\", \"prompt\": \"p\"}\n{\"task_id\": \"a\", \"prompt\": \"q\"}\n",
        ":2: duplicate task_id \"a\"");
    BAD("[1, 2]\n", ":1: a line must hold a JSON object");
    BAD("{\"task_id\": \"a\", \"prompt\": \"p\"} {}\n", ":1: malformed JSON");
    BAD("{\"task_id\": \"a\", \"prompt\": \"p\", \"x\": -NaN}\n", ":1: malformed JSON");
    BAD("{\"task_id\": \"a\", \"prompt\": \"\xff\"}\n", ":1: malformed JSON");
    BAD("\n  \n", "no tasks");
    BAD("{\"task_id\": \"a\", \"prompt\": \"p\", \"x\": 01}\n", ":1: malformed JSON");
    BAD("{\"task_id\": \"a\", \"prompt\": \"p\", \"x\": 1.}\n", ":1: malformed JSON");
    BAD("{\"task_id\": \"a\", \"prompt\": \"p\", \"x\": .5}\n", ":1: malformed JSON");
    BAD("{\"task_id\": \"a\", \"prompt\": \"p\", \"x\": -}\n", ":1: malformed JSON");
    BAD("{\"task_id\": \"a\", \"prompt\": \"p\", \"x\": 1e}\n", ":1: malformed JSON");
    BAD("{\"task_id\": \"a\", \"prompt\": \"p\", \"x\": 1true}\n", ":1: malformed JSON");
    BAD("{\"task_id\": \"a\", \"prompt\": \"p\", \"x\": nan}\n", ":1: malformed JSON");
    BAD("{\"task_id\": 12, \"prompt\": \"p\"}\n", ":1: non-string \"task_id\"");
    BAD("{\"task_id\": \"a\", \"prompt\": \"x\\u0000y\"}\n", ":1: \"prompt\" contains a NUL");
    expect_bad("{\"task_id\": \"a\"\n", 16, 1, ":1: malformed JSON");
}

Test(reader, bad_files)
{
    char *dir = ds_tmpdir();
    mg_dataset ds;
    mg_error err = {0};
    char *missing = ds_path(dir, "nope.jsonl");
    cr_assert_eq(mg_dataset_read_file(missing, "custom", &ds, &err), MG_ENOENT);
    cr_assert(strstr(err.msg, missing));
    cr_assert_lt(mg_dataset_read_file(dir, "custom", &ds, &err), 0); /* a folder */
    /* Truncated gzip and flipped bytes in the deflate stream / CRC. */
    const char *text = "{\"task_id\": \"a\", \"prompt\": \"p\"}\n";
    size_t zn;
    unsigned char *z = ds_gzip(text, strlen(text), &zn);
    char *p = ds_path(dir, "t.jsonl.gz");
    ds_write(p, z, zn - 5);
    cr_assert_eq(mg_dataset_read_file(p, "custom", &ds, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, "truncated gzip"), "%s", err.msg);
    z[zn - 6] ^= 0x55; /* CRC32 */
    ds_write(p, z, zn);
    cr_assert_eq(mg_dataset_read_file(p, "custom", &ds, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, "corrupt gzip"), "%s", err.msg);
    z[zn - 6] ^= 0x55;
    unsigned char *g = malloc(zn + 3);
    memcpy(g, z, zn);
    memcpy(g + zn, "xyz", 3);
    ds_write(p, g, zn + 3);
    cr_assert_eq(mg_dataset_read_file(p, "custom", &ds, &err), MG_EFORMAT);
    cr_assert(strstr(err.msg, "trailing garbage"), "%s", err.msg);
    free(g), free(z), free(p), free(missing), free(dir);
}

static mg_dataset open_custom(const char *path, const char *range, const char *ids, int *rc,
                              mg_error *err)
{
    mg_dataset_params p = mg_dataset_default_params();
    p.name = "custom";
    p.path = path;
    p.id_range = range;
    p.task_ids = ids;
    mg_dataset ds;
    *rc = mg_dataset_open(&p, &ds, err);
    return ds;
}

Test(reader, id_range_and_task_ids_as_evalplus)
{
    char *dir = ds_tmpdir();
    char *p = ds_path(dir, "m.jsonl");
    /* MBPP-style ids with gaps: --id-range compares the number, not the position. */
    const char *t = "{\"task_id\": \"Mbpp/2\", \"prompt\": \"a\"}\n"
                    "{\"task_id\": \"Mbpp/3\", \"prompt\": \"b\"}\n"
                    "{\"task_id\": \"Mbpp/11\", \"prompt\": \"c\"}\n"
                    "{\"task_id\": \"Mbpp/12\", \"prompt\": \"d\"}\n";
    ds_write(p, t, strlen(t));
    mg_error err = {0};
    int rc;
    mg_dataset ds = open_custom(p, "3,12", NULL, &rc, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(ds.n_tasks, 2);
    cr_assert_str_eq(ds.tasks[0].task_id, "Mbpp/3");
    cr_assert_str_eq(ds.tasks[1].task_id, "Mbpp/11");
    mg_dataset_free(&ds);
    ds = open_custom(p, "[0, 3]", "Mbpp/12, Mbpp/2", &rc, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(ds.n_tasks, 1);
    cr_assert_str_eq(ds.tasks[0].task_id, "Mbpp/2");
    mg_dataset_free(&ds);
    ds = open_custom(p, NULL, "Mbpp/12,Mbpp/2", &rc, &err);
    cr_assert_eq(ds.n_tasks, 2);
    cr_assert_str_eq(ds.tasks[0].task_id, "Mbpp/2"); /* dataset order */
    mg_dataset_free(&ds);
    ds = open_custom(p, "5,5", NULL, &rc, &err);
    cr_assert_eq(rc, MG_EUSAGE);
    cr_assert(strstr(err.msg, "--id-range"));
    ds = open_custom(p, "1,x", NULL, &rc, &err);
    cr_assert_eq(rc, MG_EUSAGE);
    ds = open_custom(p, NULL, "Mbpp/4", &rc, &err);
    cr_assert_eq(rc, MG_EUSAGE);
    cr_assert(strstr(err.msg, "Mbpp/4"), "%s", err.msg);
    free(p), free(dir);
}

Test(reader, resolution_order_and_cache_names)
{
    char *dir = ds_tmpdir();
    setenv("XDG_CACHE_HOME", dir, 1);
    unsetenv("HUMANEVAL_OVERRIDE_PATH");
    unsetenv("MBPP_OVERRIDE_PATH");
    setenv(MG_EVALPLUS_RELEASE_URL_ENV, "http://127.0.0.1:9", 1);
    mg_dataset_params p = mg_dataset_default_params();
    char *path, *url;
    const char *md5;
    mg_error err = {0};
    struct {
        const char *name;
        bool mini, noext;
        const char *file, *url_tail, *md5;
    } cases[] = {
        {"humaneval", 0, 0, "HumanEvalPlus-v0.1.10.jsonl",
         "/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz",
         "fe585eb4df8c88d844eeb463ea4d0302"},
        {"humaneval", 1, 0, "HumanEvalPlus-Mini-v0.1.10.jsonl",
         "/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus-Mini.jsonl.gz",
         "401e75ad986361dccc7afecb4121e295"},
        {"humaneval", 0, 1, "HumanEvalPlus-NoExtreme-v0.1.10.jsonl",
         "/evalplus/humanevalplus_release/releases/download/v0.1.10/"
         "HumanEvalPlus-NoExtreme.jsonl.gz",
         "413980104ee0339c147ac09653cee3db"},
        {"mbpp", 0, 0, "MbppPlus-v0.2.0.jsonl",
         "/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz",
         "ee43ecabebf20deef4bb776a405ac5b1"},
        {"mbpp", 0, 1, "MbppPlus-NoExtreme-v0.2.0.jsonl",
         "/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus-NoExtreme.jsonl.gz",
         "85d8d7a406c0686e80353e676189bfee"},
        {"humaneval-orig", 0, 0, "HumanEval.jsonl",
         "/openai/human-eval/raw/master/data/HumanEval.jsonl.gz",
         "88771747746422b8669027625578460c"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        p.name = cases[i].name;
        p.mini = cases[i].mini;
        p.noextreme = cases[i].noext;
        cr_assert_eq(mg_dataset_resolve(&p, &path, &url, &md5, &err), 0, "%s", err.msg);
        char want[512];
        snprintf(want, sizeof want, "%s/evalplus/%s", dir, cases[i].file);
        cr_assert_str_eq(path, want);
        snprintf(want, sizeof want, "http://127.0.0.1:9%s", cases[i].url_tail);
        cr_assert_str_eq(url, want);
        cr_assert_str_eq(md5, cases[i].md5);
        free(path), free(url);
    }
    /* Override variables come before the cache; --dataset-path before both. */
    setenv("HUMANEVAL_OVERRIDE_PATH", "/x/he.jsonl", 1);
    setenv("MBPP_OVERRIDE_PATH", "/x/mbpp.jsonl.gz", 1);
    p.name = "humaneval", p.mini = p.noextreme = 0;
    cr_assert_eq(mg_dataset_resolve(&p, &path, &url, &md5, &err), 0);
    cr_assert_str_eq(path, "/x/he.jsonl");
    cr_assert_null(url);
    free(path);
    p.name = "mbpp";
    cr_assert_eq(mg_dataset_resolve(&p, &path, &url, &md5, &err), 0);
    cr_assert_str_eq(path, "/x/mbpp.jsonl.gz");
    free(path);
    p.path = "/y/mine.jsonl";
    cr_assert_eq(mg_dataset_resolve(&p, &path, &url, &md5, &err), 0);
    cr_assert_str_eq(path, "/y/mine.jsonl");
    free(path);
    /* Invalid combinations. */
    p.path = NULL;
    p.mini = 1;
    cr_assert_eq(mg_dataset_resolve(&p, &path, &url, &md5, &err), MG_EUSAGE); /* mbpp mini */
    p.name = "humaneval", p.noextreme = 1;
    cr_assert_eq(mg_dataset_resolve(&p, &path, &url, &md5, &err), MG_EUSAGE);
    p.name = "custom", p.mini = p.noextreme = 0;
    cr_assert_eq(mg_dataset_resolve(&p, &path, &url, &md5, &err), MG_EUSAGE);
    p.name = "apps";
    cr_assert_eq(mg_dataset_resolve(&p, &path, &url, &md5, &err), MG_EUSAGE);
    /* A cached file is used without a URL; downloads off and not cached: error. */
    unsetenv("HUMANEVAL_OVERRIDE_PATH");
    p.name = "humaneval";
    p.allow_download = false;
    mg_dataset ds;
    cr_assert_eq(mg_dataset_open(&p, &ds, &err), MG_ENOENT);
    cr_assert(strstr(err.msg, "downloads are off"), "%s", err.msg);
    unsetenv("MBPP_OVERRIDE_PATH");
    unsetenv("XDG_CACHE_HOME");
    free(dir);
}

Test(reader, open_cached_orig_humaneval_patches_task_115)
{
    NEED_SHARED();
    char *dir = ds_tmpdir();
    setenv("XDG_CACHE_HOME", dir, 1);
    char *ev = ds_path(dir, "evalplus");
    mkdir(ev, 0755);
    char *text;
    size_t n;
    mg_error err = {0};
    cr_assert_eq(mg_read_maybe_gz(SHARED_DS "/HumanEval.jsonl.gz", &text, &n, &err), 0);
    char *cache = ds_path(ev, "HumanEval.jsonl");
    ds_write(cache, text, n);
    mg_dataset_params p = mg_dataset_default_params();
    p.name = "humaneval-orig";
    p.allow_download = false;
    mg_dataset ds;
    cr_assert_eq(mg_dataset_open(&p, &ds, &err), 0, "%s", err.msg);
    cr_assert_str_eq(ds.hash, "88771747746422b8669027625578460c");
    cr_assert(!strncmp(ds.tasks[115].prompt, "import math\n\ndef max_fill", 25), "%s",
              ds.tasks[115].prompt);
    cr_assert_null(strstr(ds.tasks[115].prompt + 12, "import math\n"));
    /* EvalPlus's replace() leaves the line's indentation behind. */
    cr_assert(strstr(ds.tasks[115].prompt, "capacity):\n        \"\"\""));
    mg_dataset_free(&ds);
    unsetenv("XDG_CACHE_HOME");
    free(text), free(cache), free(ev), free(dir);
}
