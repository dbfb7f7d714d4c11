/* mg_fs.h — the two file-system steps every component that writes caches or
 * results needs: creating a folder path, and replacing a file atomically so a
 * crash never leaves it half-written. */
#ifndef MG_FS_H
#define MG_FS_H

#include <stddef.h>

#include "mg_error.h"

/* mkdir -p with `mode` for the folders it creates. */
int mg_mkdirs(const char *dir, int mode, mg_error *err);

/* Writes data[0, len) to a unique temporary file beside `path` (creating the
 * folder), fsyncs it, makes it 0644 and renames it over `path`. On failure
 * the temporary file is removed and `path` is untouched. */
int mg_write_file_atomic(const char *path, const void *data, size_t len, mg_error *err);

#endif /* MG_FS_H */
