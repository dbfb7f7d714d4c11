/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

bool tz_zip64 = false;

/* With tz_zip64 the central directory saturates sizes and offsets to
 * 0xffffffff and carries them in zip64 extra fields, behind a zip64 end
 * record and locator, as writers do for archives over 4 GiB. */
uint8_t *tz_build(const tz_entry *e, int n, size_t *len)
{
    size_t cap = 22 + 56 + 20;
    for (int i = 0; i < n; i++) cap += 30 + 46 + 28 + 2 * strlen(e[i].name) + e[i].len;
    uint8_t *buf = calloc(1, cap), *p = buf;
    uint32_t *offs = calloc((size_t)n + 1, sizeof *offs);
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(e[i].name);
        uint32_t crc = (uint32_t)crc32(0, e[i].data, (uInt)e[i].len);
        offs[i] = (uint32_t)(p - buf);
        put32(p, 0x04034b50), put16(p + 4, 20), put16(p + 8, 0);
        put32(p + 14, crc), put32(p + 18, (uint32_t)e[i].len), put32(p + 22, (uint32_t)e[i].len);
        put16(p + 26, (uint16_t)nl), put16(p + 28, 0);
        memcpy(p + 30, e[i].name, nl);
        memcpy(p + 30 + nl, e[i].data, e[i].len);
        p += 30 + nl + e[i].len;
    }
    uint8_t *cd = p;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(e[i].name);
        uint32_t crc = (uint32_t)crc32(0, e[i].data, (uInt)e[i].len);
        put32(p, 0x02014b50), put16(p + 4, 45), put16(p + 6, 45), put16(p + 10, 0);
        put32(p + 16, crc);
        put16(p + 28, (uint16_t)nl);
        memcpy(p + 46, e[i].name, nl);
        if (tz_zip64) {
            put32(p + 20, 0xffffffffu), put32(p + 24, 0xffffffffu), put32(p + 42, 0xffffffffu);
            put16(p + 30, 28);
            uint8_t *x = p + 46 + nl;
            put16(x, 1), put16(x + 2, 24);
            put64(x + 4, e[i].len), put64(x + 12, e[i].len), put64(x + 20, offs[i]);
            p += 46 + nl + 28;
        } else {
            put32(p + 20, (uint32_t)e[i].len), put32(p + 24, (uint32_t)e[i].len);
            put32(p + 42, offs[i]);
            p += 46 + nl;
        }
    }
    uint64_t cd_size = (uint64_t)(p - cd), cd_off = (uint64_t)(cd - buf);
    if (tz_zip64) {
        uint8_t *z = p;
        put32(p, 0x06064b50), put64(p + 4, 44), put16(p + 12, 45), put16(p + 14, 45);
        put64(p + 24, (uint64_t)n), put64(p + 32, (uint64_t)n);
        put64(p + 40, cd_size), put64(p + 48, cd_off);
        p += 56;
        put32(p, 0x07064b50), put64(p + 8, (uint64_t)(z - buf)), put32(p + 16, 1);
        p += 20;
        put32(p, 0x06054b50), put16(p + 8, 0xffff), put16(p + 10, 0xffff);
        put32(p + 12, 0xffffffffu), put32(p + 16, 0xffffffffu);
    } else {
        put32(p, 0x06054b50), put16(p + 8, (uint16_t)n), put16(p + 10, (uint16_t)n);
        put32(p + 12, (uint32_t)cd_size), put32(p + 16, (uint32_t)cd_off);
    }
    p += 22;
    *len = (size_t)(p - buf);
    free(offs);
    return buf;
}

int tz_write(const char *path, const tz_entry *e, int n)
{
    size_t len;
    uint8_t *b = tz_build(e, n, &len);
    tu_write(path, b, len);
    free(b);
    return 0;
}

/* Scratch folders made by this test; tu_cleanup (each suite's .fini: Criterion
 * workers end without running atexit handlers) removes them. */
static char made[64][64];
static int n_made;

void tu_cleanup(void)
{
    for (int i = 0; i < n_made; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", made[i]);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", made[i]);
    }
    n_made = 0;
}

const char *tu_tmpdir(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/mg_model_test.XXXXXX");
    cr_assert(mkdtemp(dir), "mkdtemp failed");
    cr_assert_lt(n_made, 64, "too many scratch folders in one test");
    snprintf(made[n_made++], sizeof made[0], "%s", dir);
    return dir;
}

void tu_copy_fixture(const char *fixture, const char *dst)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r '%s/%s' '%s'", FIX, fixture, dst);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

uint8_t *tu_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

void tu_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}
