/* test_template_errors.c — malformed templates give one error with
 * LINE:COL and never crash; hostile templates (runaway recursion, huge
 * ranges, exponential growth, deep nesting) stop at the render limits.
 * (No Criterion .timeout in these suites: its timeout watchdog leaks a block
 * under --jobs=2 that LeakSanitizer reports; ctest's TIMEOUT bounds them.) */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_template.h"

static int render(const char *src, const char *ctx, const mg_jinja_options *o, char **out,
                  mg_error *err)
{
    mg_jinja *t = NULL;
    *out = NULL;
    int rc = mg_jinja_parse(src, strlen(src), &t, err);
    if (rc < 0) {
        cr_assert_null(t);
        return rc;
    }
    size_t n;
    rc = ctx ? mg_jinja_render_json(t, ctx, strlen(ctx), o, out, &n, err)
             : mg_jinja_render(t, NULL, o, out, &n, err);
    mg_jinja_free(t);
    return rc;
}

static bool has_pos(const char *msg, int line, int col)
{
    char want[32];
    snprintf(want, sizeof want, "%d:%d: ", line, col);
    return !strncmp(msg, want, strlen(want));
}

/* Each malformed template: MG_EFORMAT, message starts with LINE:COL. */
Test(template_errors, malformed_templates_report_line_col)
{
    static const struct {
        const char *src;
        int line, col;
        const char *needle;
    } cases[] = {
        {"{% if x %}abc", 1, 14, "endif"},
        {"{{ 1 + }}", 1, 8, "unexpected"},
        {"line1\n  {{ foo( }}", 2, 11, "unexpected '}', expected ')'"},
        {"{% endfor %}", 1, 4, "endfor"},
        {"ab\n{{ 'abc }}", 2, 4, "unterminated string"},
        {"{% foo %}", 1, 4, "unknown tag 'foo'"},
        {"{{ x | nofilter }}", 1, 8, "no filter named 'nofilter'"},
        {"{{ x is notatest }}", 1, 9, "no test named 'notatest'"},
        {"{% for %}{% endfor %}", 1, 8, "cannot assign"},
        {"{# unclosed", 1, 1, "comment"},
        {"x\n\n{{ x", 3, 5, "expected '}}'"},
        {"{% raw %}abc", 1, 1, "raw"},
        {"{{ ) }}", 1, 4, "unexpected ')'"},
        {"{{ 1 2 }}", 1, 6, "expected '}}'"},
        {"{% break %}", 1, 4, "outside of a loop"},
        {"{% macro m( %}{% endmacro %}", 1, 14, "unexpected '}'"},
        {"{% if a %}{% else %}{% else %}{% endif %}", 1, 24, "else"},
        {"{% include 'x' %}", 1, 4, "not supported"},
        {"{{ 99999999999999999999 }}", 1, 4, "too large"},
        {"{{ 'bad \\x4 escape' }}", 1, 12, "hex"},
        {"{% set %}", 1, 8, "cannot assign"},
        {"{{ a is defined is defined }}", 1, 17, "chain"},
        {"{% for x in y %}{% endif %}", 1, 20, "endif"},
        {"{{ x.(1) }}", 1, 6, "name after '.'"},
        /* found by fuzz_template: a slice inside a subscript tuple */
        {"{{ [1][-2:x, 2] }}", 1, 7, "slice inside a subscript tuple"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mg_error err = {0};
        char *out;
        int rc = render(cases[i].src, NULL, NULL, &out, &err);
        cr_expect_eq(rc, MG_EFORMAT, "[%s] rc=%d", cases[i].src, rc);
        cr_expect(has_pos(err.msg, cases[i].line, cases[i].col), "[%s] want %d:%d, got: %s",
                  cases[i].src, cases[i].line, cases[i].col, err.msg);
        cr_expect(strstr(err.msg, cases[i].needle), "[%s] want '%s' in: %s", cases[i].src,
                  cases[i].needle, err.msg);
        cr_expect_null(strchr(err.msg, '\n'), "one line: %s", err.msg);
        free(out);
    }
}

Test(template_errors, runtime_errors_carry_position)
{
    mg_error err = {0};
    char *out;
    cr_assert_eq(render("ok\n  {{ 1 }}{{ x.y }}", NULL, NULL, &out, &err), MG_EFORMAT);
    cr_expect(has_pos(err.msg, 2, 14), "%s", err.msg);
    cr_expect(strstr(err.msg, "'x' is undefined"), "%s", err.msg);
    cr_assert_eq(render("{{ raise_exception('bad role') }}", NULL, NULL, &out, &err), MG_EFORMAT);
    cr_expect(strstr(err.msg, "bad role"), "%s", err.msg);
    cr_assert_eq(render("{{ 'a' + 1 }}", NULL, NULL, &out, &err), MG_EFORMAT);
    cr_expect(strstr(err.msg, "TypeError"), "%s", err.msg);
    cr_assert_eq(render("{{ 1 // 0 }}", NULL, NULL, &out, &err), MG_EFORMAT);
    cr_assert_eq(render("{{ x }}", "{\"x\": [1,", NULL, &out, &err), MG_EFORMAT);
    cr_expect(strstr(err.msg, "context JSON"), "%s", err.msg);
    cr_assert_eq(render("{{ x }}", "[1]", NULL, &out, &err), MG_EINVAL);
}

static mg_jinja_options small_limits(void)
{
    mg_jinja_options o = mg_jinja_default_options();
    o.max_steps = 200000;
    o.max_output = 1 << 20;
    o.max_memory = 32 << 20;
    o.max_depth = 50;
    return o;
}

Test(template_errors, hostile_templates_hit_limits)
{
    static const char *const hostile[] = {
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "{% macro f(n) %}{{ f(n) ~ f(n) }}{% endmacro %}{{ f(1) }}",
        "{{ range(1000000000) | length }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s | length }}",
        "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
        "{{ 'x' * 1000000000000 }}",
        "{{ [1, 2] * 1000000000000 }}",
        "{% for t in tree recursive %}{{ loop(tree) }}{% endfor %}",
        "{{ ''.replace('', 'abc', -1) }}{{ ('x' * 100000).replace('', 'yyyyyyyyyy') }}",
    };
    mg_jinja_options o = small_limits();
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        mg_error err = {0};
        char *out;
        int rc = render(hostile[i], "{\"tree\": [1]}", &o, &out, &err);
        cr_expect_eq(rc, MG_ERANGE, "[%s] rc=%d %s", hostile[i], rc, err.msg);
        cr_expect(err.msg[0] >= '0' && err.msg[0] <= '9' ? strchr(err.msg, ':') != NULL : true,
                  "%s", err.msg);
        free(out);
    }
}

Test(template_errors, deep_nesting_is_an_error_not_a_crash)
{
    static const char *const unit[][3] = {
        {"{{ ", "(", ")"},
        {"{{ ", "[", "]"},
        {"{{ ", "not ", ""},
        {"{{ ", "-", ""},
        {"", "{% if true %}", "{% endif %}"},
        {"{{ ", "1 if x else ", ""},
    };
    size_t depth = 20000;
    for (size_t u = 0; u < sizeof unit / sizeof unit[0]; u++) {
        size_t ol = strlen(unit[u][1]), cl = strlen(unit[u][2]);
        char *src = malloc(8 + depth * (ol + cl) + 16);
        size_t k = 0;
        k += (size_t)sprintf(src + k, "%s", unit[u][0]);
        for (size_t i = 0; i < depth; i++) memcpy(src + k, unit[u][1], ol), k += ol;
        if (unit[u][0][0]) k += (size_t)sprintf(src + k, "1");
        for (size_t i = 0; i < depth; i++) memcpy(src + k, unit[u][2], cl), k += cl;
        if (unit[u][0][0]) k += (size_t)sprintf(src + k, " }}");
        src[k] = 0;
        mg_error err = {0};
        char *out;
        int rc = render(src, NULL, NULL, &out, &err);
        cr_expect_eq(rc, MG_EFORMAT, "unit %zu: rc=%d %s", u, rc, err.msg);
        cr_expect(strstr(err.msg, "too deeply"), "unit %zu: %s", u, err.msg);
        free(out);
        free(src);
    }
    /* runtime-built nesting: comparison and printing stay bounded */
    mg_jinja_options o = small_limits();
    o.max_steps = 0;
    mg_error err = {0};
    char *out;
    int rc = render("{% set ns = namespace(x=[]) %}{% for i in range(50000) %}"
                    "{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x == ns.x }}{{ ns.x }}",
                    NULL, &o, &out, &err);
    cr_expect_eq(rc, MG_EFORMAT, "rc=%d %s", rc, err.msg);
    cr_expect(strstr(err.msg, "nested too deeply"), "%s", err.msg);
    free(out);
}

Test(template_errors, garbage_input_never_crashes)
{
    /* every prefix of some tricky templates, and random bytes */
    static const char *const seeds[] = {
        "{%- for m in messages if m.role != 'x' recursive -%}{{ loop.index ~ m['content'][1:-1] "
        "| trim | tojson(indent=2) }}{% else %}{#- c -#}{% endfor +%}",
        "{% macro f(a, b=[1, {'k': (2,)}]) %}{{ caller(a) }}{% endmacro %}{% call(x) f(1) %}{{ "
        "x }}{% endcall %}{% raw %}{{{% endraw %}",
        "{% set ns = namespace(a=1) %}{% set ns.a = ns.a ** 2 // 3 %}{{ '%s|%5.2f' % (ns.a, "
        "1.5) }}{{ '{}{:>3}'.format(1, 2) }}",
    };
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        size_t len = strlen(seeds[s]);
        for (size_t k = 0; k <= len; k++) {
            mg_jinja *t = NULL;
            mg_error err = {0};
            if (mg_jinja_parse(seeds[s], k, &t, &err) == 0) {
                char *out = NULL;
                mg_jinja_render_json(t, "{\"messages\": [{\"role\": \"u\", \"content\": \"xyz\"}]}",
                                     52, NULL, &out, NULL, &err);
                free(out);
                mg_jinja_free(t);
            } else
                cr_expect(err.msg[0], "an error has a message");
        }
    }
    unsigned int seed = 12345;
    char buf[256];
    for (int it = 0; it < 3000; it++) {
        size_t len = (size_t)(rand_r(&seed) % sizeof buf);
        static const char alphabet[] = "{}%#-+ ()[]'\"\\.|,:~*/=<>!abcxyz0123456789\n\t\x80\xff";
        for (size_t i = 0; i < len; i++)
            buf[i] = alphabet[(size_t)rand_r(&seed) % (sizeof alphabet - 1)];
        mg_jinja *t = NULL;
        mg_error err = {0};
        if (mg_jinja_parse(buf, len, &t, &err) == 0) {
            char *out = NULL;
            mg_jinja_options o = small_limits();
            mg_jinja_render(t, NULL, &o, &out, NULL, &err);
            free(out);
            mg_jinja_free(t);
        }
    }
}

Test(template_errors, api_contract)
{
    mg_error err = {0};
    mg_jinja *t = NULL;
    const char *src = "{{ a }}-{{ strftime_now('%Y-%m-%d') }}";
    cr_assert_eq(mg_jinja_parse(src, strlen(src), &t, &err), 0, "%s", err.msg);
    mg_jinja_options o = mg_jinja_default_options();
    o.fixed_now = true;
    o.now = 1752148800;
    char *out = NULL;
    size_t n = 0;
    /* the same parsed template renders any number of times */
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(mg_jinja_render_json(t, "{\"a\": \"x\\u0000y\"}", 17, &o, &out, &n, &err), 0,
                     "%s", err.msg);
        cr_assert_eq(n, 14);
        cr_assert(!memcmp(out, "x\0y-2025-07-10", 14));
        free(out);
    }
    cr_assert_eq(mg_jinja_render(t, NULL, NULL, &out, &n, &err), 0);
    cr_assert_eq(out[0], '-', "undefined prints as nothing");
    free(out);
    mg_jinja_free(t);
    mg_jinja_free(NULL);
    mg_chat_template_free(NULL);
}

/* The memory cap unwinds from wherever an allocation crosses it: sweeping the
 * cap across a real render makes every failure point free what it took
 * (checked by LeakSanitizer) and either fail with MG_ERANGE or give the full
 * output. */
Test(template_errors, memory_limit_sweep)
{
    const char *src = "{%- set ns = namespace(sys='') -%}{%- for m in messages -%}"
                      "{%- if m.role == 'system' %}{% set ns.sys = m.content %}{% else -%}"
                      "<|{{ m.role }}|>{{ (ns.sys ~ m.content) | trim | tojson }}"
                      "{{ m | dictsort | map('join', '=') | join(',') }}\n"
                      "{%- endif %}{% endfor %}{% for i in range(2000) %}{{ i }}{% endfor %}";
    const char *ctx = "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, "
                      "{\"role\": \"user\", \"content\": \" hello \"}, "
                      "{\"role\": \"assistant\", \"content\": \"w\u00f6rld\"}]}";
    mg_jinja *t = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_jinja_parse(src, strlen(src), &t, &err), 0, "%s", err.msg);
    char *full = NULL;
    size_t full_n = 0;
    cr_assert_eq(mg_jinja_render_json(t, ctx, strlen(ctx), NULL, &full, &full_n, &err), 0, "%s",
                 err.msg);
    int fails = 0, oks = 0;
    for (size_t cap = 16 << 10; cap <= (4 << 20); cap += 24 << 10) {
        mg_jinja_options o = mg_jinja_default_options();
        o.max_memory = cap;
        char *out = NULL;
        size_t n = 0;
        int rc = mg_jinja_render_json(t, ctx, strlen(ctx), &o, &out, &n, &err);
        if (rc == 0) {
            cr_expect(n == full_n && !memcmp(out, full, n), "cap %zu: different output", cap);
            oks++;
        } else {
            cr_expect_eq(rc, MG_ERANGE, "cap %zu: rc=%d %s", cap, rc, err.msg);
            cr_expect_null(out);
            fails++;
        }
        free(out);
    }
    cr_expect(fails > 0 && oks > 0, "the sweep crosses the cap (%d fails, %d oks)", fails, oks);
    free(full);
    mg_jinja_free(t);
}
