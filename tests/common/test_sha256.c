#include <criterion/criterion.h>
#include <string.h>

#include "mg_hash.h"

/* Vectors from FIPS 180-4's examples (NIST CSRC). */
Test(common_sha256, nist_vectors)
{
    char hex[65];
    mg_sha256_buf_hex("", 0, hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    mg_sha256_buf_hex("abc", 3, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    mg_sha256_buf_hex(m, strlen(m), hex);
    cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(common_sha256, million_a_in_uneven_chunks)
{
    mg_sha256 s;
    uint8_t d[32];
    char hex[65], chunk[997];
    memset(chunk, 'a', sizeof chunk);
    mg_sha256_init(&s);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof chunk ? left : sizeof chunk;
        mg_sha256_update(&s, chunk, n);
        left -= n;
    }
    mg_sha256_final(&s, d);
    mg_sha256_hex(d, hex);
    cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
