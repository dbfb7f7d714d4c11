/* RFC 1321 appendix A.5 test suite, plus streaming in odd-sized pieces. */
#include <criterion/criterion.h>
#include <string.h>

#include "mg_dataset.h"

Test(md5, rfc1321_vectors)
{
    static const char *const v[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char hex[33];
        mg_md5_hex(v[i][0], strlen(v[i][0]), hex);
        cr_assert_str_eq(hex, v[i][1], "MD5(\"%s\")", v[i][0]);
    }
}

Test(md5, streaming_matches_one_shot)
{
    unsigned char buf[1000];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len <= sizeof buf; len += 37) {
        char one[33];
        mg_md5_hex(buf, len, one);
        for (size_t step = 1; step < 130; step += 11) {
            mg_md5 m;
            uint8_t d[16];
            mg_md5_init(&m);
            for (size_t off = 0; off < len; off += step)
                mg_md5_update(&m, buf + off, len - off < step ? len - off : step);
            mg_md5_final(&m, d);
            char hex[33];
            for (int k = 0; k < 16; k++) sprintf(hex + 2 * k, "%02x", d[k]);
            cr_assert_str_eq(hex, one, "len %zu step %zu", len, step);
        }
    }
}
