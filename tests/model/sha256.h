/* sha256.h — a small SHA-256 for the fixture tests (FIPS 180-4), so the
 * golden checksums from Python's hashlib can be compared byte for byte. */
#ifndef MG_TEST_SHA256_H
#define MG_TEST_SHA256_H

#include <stddef.h>

/* Writes the lowercase hex digest (64 chars + NUL) of data[0, n) to hex. */
void mg_test_sha256_hex(const void *data, size_t n, char hex[65]);

#endif
