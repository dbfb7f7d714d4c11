/* mg_hash.h — SHA-256 (FIPS 180-4), used to verify downloaded files against
 * the sha256 ETags the Hugging Face Hub gives LFS files. */
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

#endif /* MG_HASH_H */
