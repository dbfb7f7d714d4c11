/* testutil.h — helpers for the model-store tests: a stored-entry zip writer
 * (to craft torch-style checkpoints with hostile pickles), scratch folders
 * and fixture copies. */
#ifndef MG_TEST_MODEL_UTIL_H
#define MG_TEST_MODEL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FIX MG_SOURCE_DIR "/tests/fixtures/models"

typedef struct tz_entry {
    const char *name;
    const void *data;
    size_t len;
} tz_entry;

/* Write zip64 central directory records (default false). */
extern bool tz_zip64;
/* Writes a zip of stored entries to path; returns 0 on success. */
int tz_write(const char *path, const tz_entry *e, int n);
/* Builds a zip in memory (malloc'd, *len set). */
uint8_t *tz_build(const tz_entry *e, int n, size_t *len);
/* A fresh scratch folder (mkdtemp); the path is static until the next call.
 * Every suite that makes them sets .fini = tu_cleanup, which removes them. */
const char *tu_tmpdir(void);
void tu_cleanup(void);
/* cp -r FIX/<fixture> <dst> */
void tu_copy_fixture(const char *fixture, const char *dst);
/* Reads/writes whole files. */
uint8_t *tu_read(const char *path, size_t *len);
void tu_write(const char *path, const void *data, size_t len);

#endif
