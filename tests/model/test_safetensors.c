/* test_safetensors.c — the reference crate's (huggingface/safetensors,
 * safetensors/src/tensor.rs) deserialization tests, ported: the same byte
 * strings must be accepted or refused, plus the cases the issue names
 * (overlap, gap, lying header, bad metadata). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static mg_model_storage *S;
static mg__tset TS;
static mg_error ERR;

static void setup(void)
{
    S = calloc(1, sizeof *S);
    memset(&TS, 0, sizeof TS);
    memset(&ERR, 0, sizeof ERR);
}
static void teardown(void)
{
    mg__tset_free(&TS);
    mg__storage_free(S);
}

/* Parses a byte string given as a C literal (sizeof - 1 drops the NUL). */
#define PARSE(lit)                                                                                 \
    mg__st_parse(S, "t.safetensors", (const uint8_t *)(lit), sizeof(lit) - 1, &TS, &ERR)

/* A header + data buffer built from a JSON header string. */
static int parse_hdr(const char *json, size_t data_len)
{
    size_t n = strlen(json), len = 8 + n + data_len;
    uint8_t *b = calloc(1, len);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, n);
    int rc = mg__st_parse(S, "t.safetensors", b, len, &TS, &ERR);
    /* the tensors point into b: keep it alive for the test's lifetime */
    mg__keep(S, b);
    return rc;
}

TestSuite(safetensors, .init = setup, .fini = teardown);

Test(safetensors, deserialization)
{
    cr_assert_eq(PARSE("<\x00\x00\x00\x00\x00\x00\x00{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],"
                       "\"data_offsets\":[0,16]}}\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                       "\x00\x00\x00\x00"),
                 0, "%s", ERR.msg);
    cr_assert_eq(TS.n, 1);
    cr_assert_str_eq(TS.e[0].t.name, "test");
    cr_assert_eq(TS.e[0].t.dtype, MG_DTYPE_I32);
    cr_assert_eq(TS.e[0].t.shape[1], 2);
    cr_assert_eq(TS.e[0].nbytes, 16);
}

Test(safetensors, empty_shapes_allowed)
{
    cr_assert_eq(PARSE("8\x00\x00\x00\x00\x00\x00\x00{\"test\":{\"dtype\":\"I32\",\"shape\":[],"
                       "\"data_offsets\":[0,4]}}\x00\x00\x00\x00"),
                 0, "%s", ERR.msg);
    cr_assert_eq(TS.e[0].t.ndim, 0);
}

Test(safetensors, zero_sized_tensor)
{
    cr_assert_eq(
        parse_hdr("{\"test\":{\"dtype\":\"I32\",\"shape\":[2,0],\"data_offsets\":[0, 0]}}", 0), 0,
        "%s", ERR.msg);
    cr_assert_eq(TS.e[0].nbytes, 0);
}

Test(safetensors, whitespace_padded_header)
{
    cr_assert_eq(PARSE("\x06\x00\x00\x00\x00\x00\x00\x00{}\x0D\x20\x09\x0A"), 0, "%s", ERR.msg);
    cr_assert_eq(TS.n, 0);
}

Test(safetensors, header_must_start_with_brace)
{
    cr_assert_eq(PARSE("\x06\x00\x00\x00\x00\x00\x00\x00\x09\x0A{}\x0D\x20"), MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "start with '{'"), "%s", ERR.msg);
}

Test(safetensors, json_attack_overlapping_offsets)
{
    /* ten tensors all claiming bytes [0, 16) */
    char json[2048] = "{";
    for (int i = 0; i < 10; i++)
        snprintf(json + strlen(json), sizeof json - strlen(json),
                 "%s\"weight_%d\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}",
                 i ? "," : "", i);
    strcat(json, "}");
    cr_assert_eq(parse_hdr(json, 16), MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "overlaps"), "%s", ERR.msg);
    cr_assert(strstr(ERR.msg, "t.safetensors"), "%s", ERR.msg);
}

Test(safetensors, metadata_incomplete_buffer)
{
    cr_assert_eq(PARSE("<\x00\x00\x00\x00\x00\x00\x00{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],"
                       "\"data_offsets\":[0,16]}}\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                       "\x00\x00\x00\x00extra_bogus_data_for_polyglot_file"),
                 MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "trailing bytes"), "%s", ERR.msg);
    mg__tset_free(&TS);
    cr_assert_eq(PARSE("<\x00\x00\x00\x00\x00\x00\x00{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],"
                       "\"data_offsets\":[0,16]}}\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                       "\x00\x00"),
                 MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "truncated"), "%s", ERR.msg);
}

Test(safetensors, header_too_large)
{
    cr_assert_eq(PARSE("<\x00\x00\x00\x00\xff\xff\xff{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],"
                       "\"data_offsets\":[0,16]}}\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                       "\x00\x00\x00\x00"),
                 MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "100 MB"), "%s", ERR.msg);
}

Test(safetensors, header_too_small)
{
    cr_assert_eq(mg__st_parse(S, "t.safetensors", (const uint8_t *)"", 0, &TS, &ERR), MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "too small"), "%s", ERR.msg);
}

Test(safetensors, invalid_header_length)
{
    cr_assert_eq(PARSE("<\x00\x00\x00\x00\x00\x00\x00"), MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "past the end"), "%s", ERR.msg);
}

Test(safetensors, invalid_header_non_utf8)
{
    cr_assert_eq(PARSE("\x01\x00\x00\x00\x00\x00\x00\x00\xff"), MG_EFORMAT);
    cr_assert_eq(PARSE("\x04\x00\x00\x00\x00\x00\x00\x00{\"\xff\""), MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "UTF-8"), "%s", ERR.msg);
}

Test(safetensors, invalid_header_not_json)
{
    cr_assert_eq(PARSE("\x01\x00\x00\x00\x00\x00\x00\x00{"), MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "not valid JSON"), "%s", ERR.msg);
}

Test(safetensors, invalid_info_size_mismatch)
{
    cr_assert_eq(
        parse_hdr("{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0, 4]}}", 4),
        MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "need 16 bytes"), "%s", ERR.msg);
}

Test(safetensors, validation_overflow)
{
    /* u64::MAX - 1 does not even fit JSON integers here: refused either way */
    cr_assert_lt(parse_hdr("{\"test\":{\"dtype\":\"I32\",\"shape\":[2,18446744073709551614],"
                           "\"data_offsets\":[0,16]}}",
                           16),
                 0);
    mg__tset_free(&TS);
    cr_assert_eq(parse_hdr("{\"test\":{\"dtype\":\"I32\",\"shape\":[2,9223372036854775807],"
                           "\"data_offsets\":[0,16]}}",
                           16),
                 MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "overflow"), "%s", ERR.msg);
}

Test(safetensors, gap_between_tensors)
{
    cr_assert_eq(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                           12),
                 MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "gap"), "%s", ERR.msg);
}

Test(safetensors, partial_overlap)
{
    cr_assert_eq(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                           12),
                 MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "'b'") && strstr(ERR.msg, "overlaps"), "%s", ERR.msg);
}

Test(safetensors, end_before_begin)
{
    cr_assert_eq(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8),
                 MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "end before"), "%s", ERR.msg);
}

Test(safetensors, unknown_dtype)
{
    cr_assert_eq(
        parse_hdr("{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16),
        MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "unknown dtype \"F128\""), "%s", ERR.msg);
}

Test(safetensors, exotic_known_dtype_validates_but_is_flagged)
{
    cr_assert_eq(parse_hdr("{\"a\":{\"dtype\":\"U16\",\"shape\":[3],\"data_offsets\":[0,6]}}", 6),
                 0, "%s", ERR.msg);
    cr_assert_not(TS.e[0].supported);
}

Test(safetensors, metadata_must_map_strings_to_strings)
{
    cr_assert_eq(parse_hdr("{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\","
                           "\"shape\":[1],\"data_offsets\":[0,4]}}",
                           4),
                 0, "%s", ERR.msg);
    mg__tset_free(&TS);
    cr_assert_eq(parse_hdr("{\"__metadata__\":{\"format\":1}}", 0), MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "__metadata__"), "%s", ERR.msg);
    cr_assert_eq(parse_hdr("{\"__metadata__\":[\"x\"]}", 0), MG_EFORMAT);
}

Test(safetensors, malformed_entries)
{
    cr_assert_eq(parse_hdr("{\"a\":5}", 0), MG_EFORMAT);
    cr_assert_eq(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4),
                 MG_EFORMAT);
    cr_assert_eq(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
                 MG_EFORMAT);
    cr_assert_eq(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]}}", 4),
                 MG_EFORMAT);
    cr_assert_eq(
        parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4),
        MG_EUNSUPPORTED);
    cr_assert_eq(parse_hdr("[]", 0), MG_EFORMAT);
}

Test(safetensors, duplicate_names_are_refused)
{
    cr_assert_eq(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                           8),
                 MG_EFORMAT);
}
