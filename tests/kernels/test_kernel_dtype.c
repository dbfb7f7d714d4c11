/* test_kernel_dtype.c — the fp16/bf16 conversions over all 65536 bit patterns
 * against formulas written independently of the implementation (ldexp of
 * the decoded fields), and fp32 -> 16-bit rounding at every midpoint between
 * adjacent representable values (ties to even, one fp32 ulp either side). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kt_util.h"

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* IEEE binary16 value of h, decoded field by field. */
static double f16_value(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return sign ? -v : v;
}

/* bfloat16 value of h: the top half of an fp32. */
static double bf16_value(uint16_t h)
{
    int sign = h >> 15, e = (h >> 7) & 255, m = h & 127;
    double v = e == 0 ? ldexp(m, -133) : ldexp(128 + m, e - 134);
    return sign ? -v : v;
}

Test(dtype, names_and_sizes)
{
    cr_assert_eq(mg_dtype_size(MG_DTYPE_BF16), 2);
    cr_assert_eq(mg_dtype_size(MG_DTYPE_F64), 8);
    cr_assert_eq(mg_dtype_size(MG_DTYPE_BOOL), 1);
    cr_assert_eq(mg_dtype_size(MG_DTYPE_COUNT), 0);
    cr_assert_str_eq(mg_dtype_name(MG_DTYPE_BF16), "BF16");
    cr_assert_str_eq(mg_dtype_name(MG_DTYPE_I8), "I8");
}

Test(dtype, f16_to_f32_all_patterns)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = mg_f16_to_f32((uint16_t)h);
        int e = (h >> 10) & 31, m = h & 1023;
        uint32_t sign = (h & 0x8000u) << 16;
        if (e == 31) {
            /* inf or NaN: sign kept, payload shifted into the fp32 mantissa */
            cr_assert_eq(bits(f), sign | 0x7f800000u | ((uint32_t)m << 13), "h=%04x", h);
            continue;
        }
        cr_assert_eq((double)f, f16_value((uint16_t)h), "h=%04x", h);
        cr_assert_eq(bits(f) & 0x80000000u, sign, "sign of h=%04x", h); /* -0 stays -0 */
    }
}

Test(dtype, bf16_to_f32_all_patterns)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = mg_bf16_to_f32((uint16_t)h);
        cr_assert_eq(bits(f), h << 16, "h=%04x", h);
        if (((h >> 7) & 255) != 255) cr_assert_eq((double)f, bf16_value((uint16_t)h), "h=%04x", h);
    }
}

Test(dtype, round_trip_all_patterns)
{
    for (uint32_t h = 0; h < 65536; h++) {
        bool f16_nan = ((h >> 10) & 31) == 31 && (h & 1023);
        uint16_t r = mg_f32_to_f16(mg_f16_to_f32((uint16_t)h));
        cr_assert_eq(r, f16_nan ? (uint16_t)((h & 0x8000u) | 0x7e00u) : h, "f16 h=%04x", h);
        bool bf_nan = ((h >> 7) & 255) == 255 && (h & 127);
        uint16_t b = mg_f32_to_bf16(mg_bf16_to_f32((uint16_t)h));
        cr_assert_eq(b, bf_nan ? 0x7fc0 : h, "bf16 h=%04x", h); /* torch: canonical NaN */
    }
}

/* Every positive finite f16 h: the midpoint to the next value up is exact in
 * fp32; it must round to the even one of the two, and one fp32 ulp below or
 * above it to the nearer one. The top midpoint (65520) must overflow to inf. */
Test(dtype, f32_to_f16_midpoints)
{
    for (uint32_t h = 0; h < 0x7c00; h++) {
        double lo = f16_value((uint16_t)h);
        double hi = h + 1 == 0x7c00 ? 65536.0 : f16_value((uint16_t)(h + 1));
        float mid = (float)((lo + hi) / 2);
        cr_assert_eq((double)mid, (lo + hi) / 2, "midpoint not exact at %04x", h);
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        for (int s = 0; s < 2; s++) {
            uint16_t sg = s ? 0x8000 : 0;
            float sm = s ? -mid : mid;
            cr_assert_eq(mg_f32_to_f16(sm), sg | even, "tie above %04x", h);
            cr_assert_eq(mg_f32_to_f16(nextafterf(sm, 0.0f)), sg | h, "below mid %04x", h);
            cr_assert_eq(mg_f32_to_f16(nextafterf(sm, s ? -INFINITY : INFINITY)), sg | (h + 1),
                         "above mid %04x", h);
            cr_assert_eq(mg_f32_to_f16(s ? -(float)lo : (float)lo), sg | h, "exact %04x", h);
        }
    }
    cr_assert_eq(mg_f32_to_f16(1e9f), 0x7c00);
    cr_assert_eq(mg_f32_to_f16(-INFINITY), 0xfc00);
    cr_assert_eq(mg_f32_to_f16(NAN), 0x7e00);
    cr_assert_eq(mg_f32_to_f16(1e-30f), 0x0000);
    cr_assert_eq(mg_f32_to_f16(-1e-30f), 0x8000);
}

/* Same for bf16, where the midpoint above h is the fp32 with bits
 * (h << 16) | 0x8000. Includes fp32 subnormals and the overflow to inf. */
Test(dtype, f32_to_bf16_midpoints)
{
    for (uint32_t h = 0; h < 0x7f80; h++) {
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        for (uint32_t s = 0; s < 2; s++) {
            uint32_t sg = s << 15;
            uint32_t mid = ((sg | h) << 16) | 0x8000u;
            cr_assert_eq(mg_f32_to_bf16(from_bits(mid)), sg | even, "tie above %04x", h);
            cr_assert_eq(mg_f32_to_bf16(from_bits(mid - 1)), sg | h, "below mid %04x", h);
            cr_assert_eq(mg_f32_to_bf16(from_bits(mid + 1)), sg | (h + 1), "above mid %04x", h);
            cr_assert_eq(mg_f32_to_bf16(from_bits((sg | h) << 16)), sg | h, "exact %04x", h);
        }
    }
    cr_assert_eq(mg_f32_to_bf16(-NAN), 0x7fc0);
    cr_assert_eq(mg_f32_to_bf16(3.0e38f), 0x7f62);       /* 3e38 = 0x7f61b1e6 rounds up */
    cr_assert_eq(mg_f32_to_bf16(3.4028235e38f), 0x7f80); /* FLT_MAX rounds to inf */
}

Test(dtype, to_f32_every_dtype)
{
    uint16_t h[3] = {0x3c00, 0xc000, 0x0001}; /* 1, -2, 2^-24 */
    float out[3];
    mg_k_to_f32(out, h, MG_DTYPE_F16, 3);
    cr_assert(out[0] == 1.0f && out[1] == -2.0f && out[2] == ldexpf(1, -24));
    uint16_t b[2] = {0x3f80, 0xc040}; /* 1, -3 */
    mg_k_to_f32(out, b, MG_DTYPE_BF16, 2);
    cr_assert(out[0] == 1.0f && out[1] == -3.0f);
    double d[2] = {0.5, -1e40};
    mg_k_to_f32(out, d, MG_DTYPE_F64, 2);
    cr_assert(out[0] == 0.5f && isinf(out[1]) && out[1] < 0);
    int64_t i64[2] = {-7, 1ll << 40};
    mg_k_to_f32(out, i64, MG_DTYPE_I64, 2);
    cr_assert(out[0] == -7.0f && out[1] == ldexpf(1, 40));
    int8_t i8[2] = {-128, 127};
    mg_k_to_f32(out, i8, MG_DTYPE_I8, 2);
    cr_assert(out[0] == -128.0f && out[1] == 127.0f);
    uint8_t u8[2] = {255, 1};
    mg_k_to_f32(out, u8, MG_DTYPE_U8, 2);
    cr_assert(out[0] == 255.0f && out[1] == 1.0f);
    float f[2] = {1.5f, -0.0f};
    mg_k_to_f32(out, f, MG_DTYPE_F32, 2);
    cr_assert(out[0] == 1.5f && bits(out[1]) == 0x80000000u);
}

/* The bulk conversion must agree bit for bit with the scalar one. */
Test(dtype, bulk_conversion_matches_scalar)
{
    static uint16_t h[65536];
    static float f[65536];
    for (uint32_t i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    mg_k_to_f32(f, h, MG_DTYPE_F16, 65536);
    for (uint32_t i = 0; i < 65536; i++)
        cr_assert_eq(bits(f[i]), bits(mg_f16_to_f32((uint16_t)i)), "f16 %04x", i);
    mg_k_to_f32(f, h, MG_DTYPE_BF16, 65536);
    for (uint32_t i = 0; i < 65536; i++)
        cr_assert_eq(bits(f[i]), bits(mg_bf16_to_f32((uint16_t)i)), "bf16 %04x", i);
}
