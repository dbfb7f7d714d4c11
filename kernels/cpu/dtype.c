/* dtype.c — dtype sizes and names, and the scalar fp16/bf16 <-> fp32
 * conversions. The rounding rules are torch's (c10/util/BFloat16.h and
 * c10/util/Half.h): bf16 rounds to nearest even and maps every NaN to 0x7FC0
 * (c10's scalar rule; torch's vectorized CPU path writes 0xFFFF instead, so
 * torch itself is not consistent about NaN bits); f16 rounds to nearest
 * even, keeps subnormals, overflows to inf and maps a NaN to a quiet NaN of
 * the same sign (0x7E00 / 0xFE00, as torch's tensor.to(float16) gives).
 * Finite values round identically everywhere. Bit manipulation rather than
 * float arithmetic, so the result never depends on the FPU's rounding mode or
 * on flush-to-zero. */
#include "mg_kernels.h"

#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtype_info[MG_DTYPE_COUNT] = {
    [MG_DTYPE_F32] = {"F32", 4},   [MG_DTYPE_F16] = {"F16", 2}, [MG_DTYPE_BF16] = {"BF16", 2},
    [MG_DTYPE_F64] = {"F64", 8},   [MG_DTYPE_I64] = {"I64", 8}, [MG_DTYPE_I32] = {"I32", 4},
    [MG_DTYPE_I16] = {"I16", 2},   [MG_DTYPE_I8] = {"I8", 1},   [MG_DTYPE_U8] = {"U8", 1},
    [MG_DTYPE_BOOL] = {"BOOL", 1},
};

size_t mg_dtype_size(mg_dtype t)
{
    return (unsigned)t < MG_DTYPE_COUNT ? dtype_info[t].size : 0;
}

const char *mg_dtype_name(mg_dtype t)
{
    return (unsigned)t < MG_DTYPE_COUNT ? dtype_info[t].name : "?";
}

static inline float bits_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t f32_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float mg_bf16_to_f32(uint16_t h)
{
    return bits_to_f32((uint32_t)h << 16);
}

uint16_t mg_f32_to_bf16(float f)
{
    uint32_t u = f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0; /* torch drops the sign of NaN */
    /* Adding 0x7fff plus the lowest kept bit rounds ties to even; a carry out
     * of the mantissa bumps the exponent, and the largest finite values round
     * to inf, as they should. */
    uint32_t bias = ((u >> 16) & 1u) + 0x7fffu;
    return (uint16_t)((u + bias) >> 16);
}

float mg_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000u | (man << 13)); /* inf, NaN payload */
    if (exp != 0) return bits_to_f32(sign | ((exp + 112u) << 23) | (man << 13));
    if (man == 0) return bits_to_f32(sign);
    /* Subnormal: every f16 subnormal is a normal fp32; shift the leading one
     * into the implicit-bit position and lower the exponent to match. */
    uint32_t e = 113; /* exponent of 2^-14 in fp32 bias, the f16 subnormal scale */
    while (!(man & 0x400u)) {
        man <<= 1;
        e--;
    }
    return bits_to_f32(sign | (e << 23) | ((man & 0x3ffu) << 13));
}

uint16_t mg_f32_to_f16(float f)
{
    uint32_t u = f32_to_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;
    if (a >= 0x38800000u) { /* |f| >= 2^-14: a normal f16, or overflow */
        uint32_t h = (a >> 13) - (112u << 10);
        uint32_t rem = a & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
        if (h >= 0x7c00u) h = 0x7c00u; /* includes inf itself */
        return sign | (uint16_t)h;
    }
    if (a <= 0x33000000u) return sign; /* <= 2^-25: rounds to (signed) zero; 2^-25 is a tie */
    /* f16 subnormal: value / 2^-24 rounded to nearest even. */
    uint32_t e32 = a >> 23;
    uint32_t m = (a & 0x7fffffu) | 0x800000u;
    uint32_t s = 126u - e32; /* 14..24 here */
    uint32_t h = m >> s;
    uint32_t rem = m & ((1u << s) - 1u);
    uint32_t half = 1u << (s - 1u);
    if (rem > half || (rem == half && (h & 1u))) h++;
    return sign | (uint16_t)h;
}

void mg_k_to_f32(float *dst, const void *src, mg_dtype t, size_t n)
{
    switch (t) {
    case MG_DTYPE_F32:
        memcpy(dst, src, n * sizeof(float));
        break;
    case MG_DTYPE_F16: {
        /* Branch-free so compilers vectorize it (the portable matmul widens
         * every weight through here): normal and inf/NaN by moving the
         * fields, zero/subnormal as em * 2^-24, which is exact and a normal
         * fp32, so flush-to-zero modes cannot change it. Bit-identical to
         * mg_f16_to_f32 (tested over all 65536 patterns). */
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++) {
            uint32_t h = s[i], sign = (h & 0x8000u) << 16, em = h & 0x7fffu;
            /* masks instead of ?: so the loop has no control flow */
            uint32_t inf_nan = 0u - (uint32_t)(em >= 0x7c00u);
            uint32_t small = 0u - (uint32_t)(em < 0x400u);
            uint32_t big = (em << 13) + (112u << 23) + (inf_nan & (112u << 23));
            float sub_f = (float)(int32_t)em * 0x1p-24f; /* signed: vectorizable */
            uint32_t sub;
            memcpy(&sub, &sub_f, sizeof sub);
            uint32_t bits = sign | (sub & small) | (big & ~small);
            memcpy(&dst[i], &bits, sizeof bits);
        }
        break;
    }
    case MG_DTYPE_BF16: {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = mg_bf16_to_f32(s[i]);
        break;
    }
    case MG_DTYPE_F64: {
        const double *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = (float)s[i];
        break;
    }
    case MG_DTYPE_I64: {
        const int64_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = (float)s[i];
        break;
    }
    case MG_DTYPE_I32: {
        const int32_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = (float)s[i];
        break;
    }
    case MG_DTYPE_I16: {
        const int16_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = (float)s[i];
        break;
    }
    case MG_DTYPE_I8: {
        const int8_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = (float)s[i];
        break;
    }
    case MG_DTYPE_U8:
    case MG_DTYPE_BOOL: {
        const uint8_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = (float)s[i];
        break;
    }
    default:
        MG_ASSERT(!"mg_k_to_f32: bad dtype");
    }
}
