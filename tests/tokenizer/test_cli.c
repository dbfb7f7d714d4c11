/* test_cli.c — `moegen tokenize` / `moegen detokenize` as a user runs them:
 * ids against the ../shared goldens, JSON round-trip of awkward strings, and
 * bad input (one line naming the line number, exit 2, nothing on stdout). */
#include "tok_test_util.h"

#include <sys/wait.h>

#define MOEGEN MG_BINARY_DIR "/moegen"
#define TOKS   MG_SHARED_DIR "/tokenizers"

static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mgtokcli.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    cr_expect_eq(system(cmd), 0);
}

static void write_file(const char *name, const char *data, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char *read_back(const char *name, size_t *n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)l + 1);
    cr_assert_eq(fread(s, 1, (size_t)l, f), (size_t)l);
    s[l] = 0;
    fclose(f);
    *n = (size_t)l;
    return s;
}

/* Runs `moegen ARGS < in > out 2> err` in tmpdir; returns the exit status. */
static int run(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s < in > out 2> err", tmpdir, MOEGEN, args);
    int st = system(cmd);
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void need_shared(void)
{
    if (access(TOKS "/qwen3/tokenizer.json", R_OK) != 0) cr_skip_test("needs ../shared/tokenizers");
}

TestSuite(tokenizer_cli, .init = setup, .fini = teardown);

Test(tokenizer_cli, tokenize_matches_goldens, .timeout = 120)
{
    need_shared();
    json_t *cases = tt_read_jsonl(TOKS "/golden/mistral.jsonl");
    char *in = NULL;
    size_t in_len = 0;
    FILE *m = open_memstream(&in, &in_len);
    for (size_t i = 0; i < 60; i++) {
        json_t *o = json_pack("{s:O}", "text", json_object_get(json_array_get(cases, i), "text"));
        char *d = json_dumps(o, JSON_COMPACT);
        fprintf(m, "%s\n", d);
        free(d);
        json_decref(o);
    }
    fclose(m);
    write_file("in", in, in_len);
    free(in);
    for (int sp = 0; sp < 2; sp++) {
        cr_assert_eq(run(sp ? "tokenize --tokenizer " TOKS "/mistral --add-special-tokens"
                            : "tokenize --tokenizer " TOKS "/mistral"),
                     0);
        size_t n;
        char *out = read_back("out", &n);
        char *save = NULL, *line = strtok_r(out, "\n", &save);
        for (size_t i = 0; i < 60; i++, line = strtok_r(NULL, "\n", &save)) {
            cr_assert_not_null(line, "missing output line %zu", i);
            json_t *o = json_loads(line, 0, NULL);
            json_t *want = json_object_get(json_array_get(cases, i), sp ? "ids_special" : "ids");
            cr_expect(json_equal(json_object_get(o, "ids"), want), "line %zu differs", i + 1);
            json_decref(o);
        }
        cr_expect_null(line, "extra output");
        free(out);
    }
    json_decref(cases);
}

Test(tokenizer_cli, detokenize_round_trips_any_string, .timeout = 120)
{
    need_shared();
    /* NUL, quotes, backslash, control characters, non-BMP, U+2028 */
    static const char text[] =
        "a\0b \"q\" \\ \n\t\x01 caf\xc3\xa9 \xf0\x9f\xa6\x99 \xe2\x80\xa8 end";
    json_t *o = json_pack("{s:s%}", "text", text, sizeof text - 1);
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    size_t ll = strlen(line);
    line = realloc(line, ll + 2);
    line[ll] = '\n';
    write_file("in", line, ll + 1);
    free(line);
    cr_assert_eq(run("tokenize --tokenizer " TOKS "/qwen3"), 0);
    size_t n;
    char *ids = read_back("out", &n);
    write_file("in", ids, n);
    free(ids);
    cr_assert_eq(run("detokenize --tokenizer " TOKS "/qwen3"), 0);
    char *out = read_back("out", &n);
    json_error_t je;
    json_t *back = json_loads(out, JSON_ALLOW_NUL, &je);
    cr_assert_not_null(back, "%s: %s", out, je.text);
    json_t *t = json_object_get(back, "text");
    cr_expect(json_string_length(t) == sizeof text - 1 &&
                  !memcmp(json_string_value(t), text, sizeof text - 1),
              "round trip differs: %s", out);
    json_decref(back);
    free(out);
}

Test(tokenizer_cli, bad_lines_name_the_line_and_write_nothing, .timeout = 60)
{
    need_shared();
    static const char in1[] = "{\"text\":\"ok\"}\nnot json\n";
    write_file("in", in1, sizeof in1 - 1);
    cr_expect_eq(run("tokenize --tokenizer " TOKS "/mistral"), 2);
    size_t n;
    char *s = read_back("out", &n);
    cr_expect_eq(n, 0, "stdout must stay empty");
    free(s);
    s = read_back("err", &n);
    cr_expect(strstr(s, "stdin:2") != NULL, "%s", s);
    cr_expect(n > 0 && strchr(s, '\n') == s + n - 1, "one line: %s", s);
    free(s);

    static const char in2[] = "{\"text\":5}\n";
    write_file("in", in2, sizeof in2 - 1);
    cr_expect_eq(run("tokenize --tokenizer " TOKS "/mistral"), 2);
    s = read_back("err", &n);
    cr_expect(strstr(s, "stdin:1") != NULL, "%s", s);
    free(s);

    static const char in3[] = "{\"ids\":[1,2]}\n{\"ids\":[1,-5]}\n";
    write_file("in", in3, sizeof in3 - 1);
    cr_expect_eq(run("detokenize --tokenizer " TOKS "/mistral"), 2);
    s = read_back("err", &n);
    cr_expect(strstr(s, "stdin:2") != NULL, "%s", s);
    free(s);
    s = read_back("out", &n);
    cr_expect_eq(n, 0);
    free(s);
}

Test(tokenizer_cli, usage_errors, .timeout = 60)
{
    write_file("in", "", 0);
    cr_expect_eq(run("tokenize"), 2);
    size_t n;
    char *s = read_back("err", &n);
    cr_expect(strstr(s, "--tokenizer") != NULL, "%s", s);
    free(s);
    cr_expect_eq(run("detokenize --tokenizer /nonexistent"), 2);
    s = read_back("err", &n);
    cr_expect(strstr(s, "/nonexistent/tokenizer.json") != NULL, "%s", s);
    free(s);
    cr_expect_eq(run("tokenize --tokenizer /nonexistent --bogus"), 2);
}
