/* test_template_cli.c — `moegen render-template`: writes exactly the render
 * (no newline added), pins the clock with --now, and reports template and
 * context errors as one line with FILE:LINE:COL and exit status 2. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MOEGEN MG_BINARY_DIR "/moegen"

static char dir[] = "/tmp/mg_tpl_cli_XXXXXX";

static void setup(void)
{
    cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

static void put(const char *name, const char *text, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

/* runs moegen with args; returns the exit status, stdout and stderr */
static int run(const char *args, char *out, size_t *out_len, char *errbuf)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' render-template %s >out.bin 2>err.txt", dir, MOEGEN,
             args);
    int st = system(cmd);
    char path[256];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    FILE *f = fopen(path, "rb");
    *out_len = f ? fread(out, 1, 4095, f) : 0;
    if (f) fclose(f);
    out[*out_len] = 0;
    snprintf(path, sizeof path, "%s/err.txt", dir);
    f = fopen(path, "rb");
    size_t k = f ? fread(errbuf, 1, 1023, f) : 0;
    if (f) fclose(f);
    errbuf[k] = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TestSuite(template_cli, .init = setup, .fini = teardown);

Test(template_cli, renders_exact_bytes)
{
    if (access(MOEGEN, X_OK) != 0) cr_skip_test("needs the moegen binary");
    /* SmolLM3-style clock use, a trailing newline that Jinja2 drops, non-ASCII */
    const char *tpl = "{%- for m in messages %}<{{ m.role }}>{{ m.content | trim }}\n"
                      "{%- endfor %}|{{ strftime_now('%d %B %Y') }}|{{ [1.0, none, 'é'] }}\n";
    put("t.jinja", tpl, strlen(tpl));
    const char *ctx = "{\"messages\": [{\"role\": \"user\", \"content\": \" hi \"},"
                      " {\"role\": \"assistant\", \"content\": \"yo\"}]}";
    put("c.json", ctx, strlen(ctx));
    char out[4096], err[1024];
    size_t n;
    int rc = run("--template t.jinja --context c.json --now 2025-07-10T12:00:00", out, &n, err);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    const char *want = "<user>hi<assistant>yo|10 July 2025|[1.0, None, 'é']";
    cr_assert_eq(n, strlen(want), "got [%s]", out);
    cr_assert_str_eq(out, want);
    cr_assert_str_eq(err, "");
}

Test(template_cli, errors_are_one_line_with_position)
{
    if (access(MOEGEN, X_OK) != 0) cr_skip_test("needs the moegen binary");
    char out[4096], err[1024];
    size_t n;
    put("c.json", "{}", 2);
    put("bad.jinja", "ok\n{% for x in %}", 16);
    cr_assert_eq(run("--template bad.jinja --context c.json", out, &n, err), 2);
    cr_expect(strstr(err, "bad.jinja:2:"), "%s", err);
    cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
    cr_expect_eq(n, 0, "nothing on stdout");

    put("rt.jinja", "{{ raise_exception('no system role') }}", 39);
    cr_assert_eq(run("--template rt.jinja --context c.json", out, &n, err), 2);
    cr_expect(strstr(err, "rt.jinja:1:") && strstr(err, "no system role"), "%s", err);

    put("ok.jinja", "{{ x }}", 7);
    put("badctx.json", "{\"x\": [1,}", 10);
    cr_assert_eq(run("--template ok.jinja --context badctx.json", out, &n, err), 2);
    cr_expect(strstr(err, "badctx.json:1:"), "%s", err);
    cr_assert_eq(run("--template ok.jinja --context missing.json", out, &n, err), 2);
    cr_expect(strstr(err, "missing.json"), "%s", err);
    cr_assert_eq(
        run("--template ok.jinja --context c.json --now 2025-13-01T00:00:00", out, &n, err), 2);
    cr_expect(strstr(err, "--now"), "%s", err);
    cr_assert_eq(run("--context c.json", out, &n, err), 2);
    cr_expect(strstr(err, "--template"), "%s", err);
}
