/* mg_hash.h — the digests moegen checks data against: SHA-256 (FIPS 180-4),
 * the Hugging Face Hub's ETag of LFS files, and MD5 (RFC 1321), EvalPlus's
 * dataset hash and W&B's file digests. Neither is used for security. */
#ifndef MG_HASH_H
#define MG_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct mg_sha256 {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    uint8_t buf[64];
    size_t n; /* bytes waiting in buf */
} mg_sha256;

void mg_sha256_init(mg_sha256 *s);
void mg_sha256_update(mg_sha256 *s, const void *data, size_t n);
void mg_sha256_final(mg_sha256 *s, uint8_t out[32]);
/* Writes 64 lowercase hex digits and a NUL into hex. */
void mg_sha256_hex(const uint8_t digest[32], char hex[65]);
/* One call: the hex digest of data[0, n). */
void mg_sha256_buf_hex(const void *data, size_t n, char hex[65]);

/* MD5 (RFC 1321). */
typedef struct mg_md5 {
    uint32_t s[4];
    uint64_t n;
    uint8_t buf[64];
} mg_md5;
void mg_md5_init(mg_md5 *m);
void mg_md5_update(mg_md5 *m, const void *p, size_t n);
void mg_md5_final(mg_md5 *m, uint8_t digest[16]);
/* Lowercase hex of the MD5 of p[0..n) into out (33 bytes with the NUL). */
void mg_md5_hex(const void *p, size_t n, char out[33]);

#endif /* MG_HASH_H */
