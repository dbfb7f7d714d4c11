/* fake_python.h — a stand-in python3 for the sanitizer tests (evaluate/ and
 * pipeline/): a shell script that answers mg_evaluate_find_python's probe
 * with its own path, then, run as the sanitizer (argv "-I -B -c SCRIPT"),
 * says the sanitizer's hello and runs `body` — just enough of the protocol
 * to crash, hang or misbehave on purpose. */
#ifndef FAKE_PYTHON_H
#define FAKE_PYTHON_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/stat.h>

static inline void write_fake_python(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fprintf(f,
            "#!/bin/sh\n"
            "if [ \"$3\" != \"-c\" ]; then echo \"$0\"; exit 0; fi\n"
            "echo 'moegen-sanitize 1' >&4\n"
            "%s\n",
            body);
    fclose(f);
    chmod(path, 0755);
}

#endif /* FAKE_PYTHON_H */
