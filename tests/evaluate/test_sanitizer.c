/* test_sanitizer.c — the long-lived sanitizer process (mg_sanitizer_*): answers
 * in submit order equal to EvalPlus's sanitizer, bytes that are not UTF-8
 * come back unchanged, and a missing, crashing or hung interpreter gives a
 * clear error instead of a hang. The misbehaving interpreters are small shell
 * scripts that speak just enough of the protocol. */
#include <signal.h>

#include "../fake_python.h"
#include "ev_test_util.h"

/* A fake interpreter (../fake_python.h) in a fresh temporary file. */
static char *fake_python(const char *body)
{
    char *path = strdup("/tmp/mg-fakepy-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_fake_python(path, body);
    return path;
}

Test(sanitizer, streams_answers_in_order_as_evalplus, .timeout = 120)
{
    json_t *recs[128];
    size_t n = ev_load_sanitize_cases(recs, 128);
    mg_sanitizer *s = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_sanitizer_open(NULL, &s, &err), 0, "%s", err.msg);
    /* Twice through the cases, submitted in two waves while answers come back. */
    size_t got = 0, total = 2 * n;
    for (size_t i = 0; i < total; i++) {
        json_t *r = recs[i % n];
        cr_assert_eq(mg_sanitizer_submit(s, json_string_value(json_object_get(r, "code")),
                                         json_string_value(json_object_get(r, "entry_point")),
                                         &err),
                     0, "%s", err.msg);
        if (i == n - 1 || i == total - 1) {
            cr_assert_eq(mg_sanitizer_unanswered(s), i + 1 - got);
            while (got <= i) {
                cr_assert_eq(mg_sanitizer_wait(s, 60, &err), 0, "%s", err.msg);
                char *a;
                while (mg_sanitizer_next(s, &a) == 1) {
                    const char *want =
                        json_string_value(json_object_get(recs[got % n], "expected"));
                    cr_expect_str_eq(a, want, "answer %zu", got);
                    free(a);
                    got++;
                }
            }
        }
    }
    cr_assert_eq(got, total);
    cr_assert_eq(mg_sanitizer_unanswered(s), 0);
    cr_assert_eq(mg_sanitizer_waiting_s(s), 0.0);
    mg_sanitizer_close(s);
    for (size_t i = 0; i < n; i++) json_decref(recs[i]);
}

Test(sanitizer, bytes_that_are_not_utf8_come_back_unchanged, .timeout = 60)
{
    /* Nothing parses past the first line: the answer is that line, byte for byte. */
    const char *code = "x = '\xff\xfe'\n\xc3(\n)))";
    char **out = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_sanitize(NULL, &code, NULL, 1, &out, &err), 0, "%s", err.msg);
    cr_assert_str_eq(out[0], "x = '\xff\xfe'");
    mg_sanitize_free(out, 1);
}

Test(sanitizer, a_missing_interpreter_is_one_clear_error)
{
    mg_sanitizer *s = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_sanitizer_open("/nonexistent/python3", &s, &err), MG_ENOENT);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, "/nonexistent/python3"), "%s", err.msg);
}

Test(sanitizer, a_crash_names_its_status_and_stderr, .timeout = 60)
{
    signal(SIGPIPE, SIG_DFL); /* a write to the dead child must not kill us */
    char *py = fake_python("read line <&3\necho 'Traceback: boom' >&2\nexit 3");
    mg_sanitizer *s = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_sanitizer_open(py, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_sanitizer_submit(s, "def f():\n    return 1\n", "f", &err), 0);
    int rc = mg_sanitizer_wait(s, 30, &err);
    cr_assert_eq(rc, MG_ECHILD, "%d %s", rc, err.msg);
    cr_assert(strstr(err.msg, "exited with status 3"), "%s", err.msg);
    cr_assert(strstr(err.msg, "Traceback: boom"), "%s", err.msg);
    /* Later requests fail the same way, without SIGPIPE. */
    cr_assert_eq(mg_sanitizer_submit(s, "x", NULL, &err), MG_ECHILD);
    cr_assert_lt(mg_sanitizer_io(s, &err), 0);
    mg_sanitizer_close(s);
    unlink(py);
    free(py);
}

Test(sanitizer, a_hang_times_out_and_close_kills_it, .timeout = 60)
{
    char *py = fake_python("exec sleep 600");
    mg_sanitizer *s = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_sanitizer_open(py, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(mg_sanitizer_submit(s, "def f():\n    return 1\n", "f", &err), 0);
    cr_assert_eq(mg_sanitizer_io(s, &err), 0, "%s", err.msg);
    double t0 = ev_test_now();
    cr_assert_eq(mg_sanitizer_wait(s, 1.0, &err), MG_ETIMEDOUT, "%s", err.msg);
    cr_assert(strstr(err.msg, "no answer"), "%s", err.msg);
    cr_assert_geq(mg_sanitizer_waiting_s(s), 1.0);
    mg_sanitizer_close(s);
    cr_assert_lt(ev_test_now() - t0, 10.0, "close does not wait for the sleeper");
    unlink(py);
    free(py);
}

Test(sanitizer, not_a_sanitizer_is_refused_at_open, .timeout = 60)
{
    char *py = strdup("/tmp/mg-fakepy-XXXXXX");
    int fd = mkstemp(py);
    cr_assert_geq(fd, 0);
    dprintf(fd, "#!/bin/sh\nif [ \"$3\" != \"-c\" ]; then echo \"$0\"; exit 0; fi\n"
                "echo 'Python 2.7' >&2\nexit 1\n");
    close(fd);
    chmod(py, 0755);
    mg_sanitizer *s = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_sanitizer_open(py, &s, &err), MG_ECHILD, "%s", err.msg);
    cr_assert(strstr(err.msg, "at start-up") && strstr(err.msg, "Python 2.7"), "%s", err.msg);
    cr_assert_null(s);
    unlink(py);
    free(py);
}
