/* ds_test_util.h — small file helpers shared by the datasets tests. */
#ifndef DS_TEST_UTIL_H
#define DS_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SHARED_DS MG_SHARED_DIR "/datasets"
#define NEED_SHARED()                                                                              \
    do {                                                                                           \
        if (access(SHARED_DS "/HumanEvalPlus-v0.1.10.jsonl.gz", R_OK) != 0)                        \
            cr_skip_test("needs ../shared/datasets (absent in this checkout)");                    \
    } while (0)

/* A fresh temporary folder (removed by the OS's tmp cleaning; tests use unique names). */
static inline char *ds_tmpdir(void)
{
    char *t = strdup("/tmp/mg_ds_test.XXXXXX");
    cr_assert_not_null(mkdtemp(t));
    return t;
}

static inline void ds_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static inline char *ds_slurp(const char *path, size_t *n)
{
    if (n) *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)sz + 1);
    size_t got = fread(d, 1, (size_t)sz, f);
    d[got] = '\0';
    fclose(f);
    if (n) *n = got;
    return d;
}

/* gzip-compresses data (one member) into a malloc'd buffer. */
static inline unsigned char *ds_gzip(const void *data, size_t n, size_t *out_n)
{
    z_stream z = {0};
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, n) + 64;
    unsigned char *o = malloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)n;
    z.next_out = o;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return o;
}

static inline char *ds_path(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

#endif
