/* safetensors.c — a strict safetensors reader.
 *
 * Layout: 8 bytes little-endian N, N bytes of UTF-8 JSON header, then the
 * data section. The checks follow the reference crate (huggingface/
 * safetensors, tensor.rs): N bounded (100 MB) and within the file, header
 * starting with '{', valid UTF-8 JSON (trailing whitespace allowed), every
 * entry {dtype, shape, data_offsets} with a known dtype, shape × dtype size
 * equal to the byte range without overflow, ranges sorted by offset that
 * neither overlap nor leave gaps, and the last range ending exactly at the
 * end of the file. `__metadata__` must map strings to strings. A file is
 * untrusted input: every count and offset is checked before use. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define MG__ST_MAX_HEADER 100000000ull

/* Every dtype the reference crate knows, with its size in bits, so a valid
 * file with exotic dtypes validates; only the mg_dtype ones load as weights. */
static const struct {
    const char *name;
    int bits;
    int mg; /* mg_dtype or -1 */
} st_dtypes[] = {
    {"BOOL", 8, MG_DTYPE_BOOL},
    {"U8", 8, MG_DTYPE_U8},
    {"I8", 8, MG_DTYPE_I8},
    {"F8_E5M2", 8, -1},
    {"F8_E4M3", 8, -1},
    {"F8_E8M0", 8, -1},
    {"I16", 16, MG_DTYPE_I16},
    {"U16", 16, -1},
    {"F16", 16, MG_DTYPE_F16},
    {"BF16", 16, MG_DTYPE_BF16},
    {"I32", 32, MG_DTYPE_I32},
    {"U32", 32, -1},
    {"F32", 32, MG_DTYPE_F32},
    {"F64", 64, MG_DTYPE_F64},
    {"I64", 64, MG_DTYPE_I64},
    {"U64", 64, -1},
    {"C64", 64, -1},
    {"F4", 4, -1},
    {"F6_E2M3", 6, -1},
    {"F6_E3M2", 6, -1},
};

typedef struct st_info {
    const char *name;
    int dt;
    int ndim;
    int64_t shape[MG_MAX_DIMS];
    uint64_t begin, end;
} st_info;

static int cmp_info(const void *a, const void *b)
{
    const st_info *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int parse_entry(const char *file, const char *key, json_t *v, st_info *out, mg_error *err)
{
    if (!json_is_object(v))
        return mg_error_set(err, MG_EFORMAT, "%s: tensor '%s': header entry is not an object", file,
                            key);
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
           *offs = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs))
        return mg_error_set(err, MG_EFORMAT,
                            "%s: tensor '%s': needs string \"dtype\", array \"shape\" and "
                            "array \"data_offsets\"",
                            file, key);
    out->name = key;
    out->dt = -1;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(json_string_value(dt), st_dtypes[i].name) == 0) out->dt = (int)i;
    if (out->dt < 0)
        return mg_error_set(err, MG_EFORMAT, "%s: tensor '%s': unknown dtype \"%s\"", file, key,
                            json_string_value(dt));
    size_t nd = json_array_size(shape);
    if (nd > MG_MAX_DIMS)
        return mg_error_set(err, MG_EUNSUPPORTED, "%s: tensor '%s': %zu dimensions (at most %d)",
                            file, key, nd, MG_MAX_DIMS);
    out->ndim = (int)nd;
    uint64_t numel = 1;
    bool overflow = false;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return mg_error_set(err, MG_EFORMAT,
                                "%s: tensor '%s': shape[%zu] is not a non-negative integer", file,
                                key, i);
        uint64_t x = (uint64_t)json_integer_value(d);
        out->shape[i] = (int64_t)x;
        if (x && numel > UINT64_MAX / x) overflow = true;
        numel *= x;
    }
    if (json_array_size(offs) != 2)
        return mg_error_set(err, MG_EFORMAT, "%s: tensor '%s': data_offsets needs 2 integers", file,
                            key);
    for (int i = 0; i < 2; i++) {
        json_t *o = json_array_get(offs, (size_t)i);
        if (!json_is_integer(o) || json_integer_value(o) < 0)
            return mg_error_set(err, MG_EFORMAT,
                                "%s: tensor '%s': data_offsets[%d] is not a non-negative integer",
                                file, key, i);
    }
    out->begin = (uint64_t)json_integer_value(json_array_get(offs, 0));
    out->end = (uint64_t)json_integer_value(json_array_get(offs, 1));
    int bits = st_dtypes[out->dt].bits;
    if (overflow || numel > UINT64_MAX / (uint64_t)bits)
        return mg_error_set(err, MG_EFORMAT, "%s: tensor '%s': shape × dtype size overflows", file,
                            key);
    uint64_t nbits = numel * (uint64_t)bits;
    if (nbits % 8)
        return mg_error_set(err, MG_EFORMAT,
                            "%s: tensor '%s': %llu elements of %s are not a whole number of "
                            "bytes",
                            file, key, (unsigned long long)numel, st_dtypes[out->dt].name);
    if (out->end < out->begin)
        return mg_error_set(err, MG_EFORMAT,
                            "%s: tensor '%s': data_offsets [%llu, %llu] end "
                            "before they begin",
                            file, key, (unsigned long long)out->begin,
                            (unsigned long long)out->end);
    if (out->end - out->begin != nbits / 8)
        return mg_error_set(err, MG_EFORMAT,
                            "%s: tensor '%s': shape and dtype %s need %llu bytes, data_offsets "
                            "[%llu, %llu] hold %llu",
                            file, key, st_dtypes[out->dt].name, (unsigned long long)(nbits / 8),
                            (unsigned long long)out->begin, (unsigned long long)out->end,
                            (unsigned long long)(out->end - out->begin));
    return 0;
}

static bool valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

int mg__st_parse(mg_model_storage *s, const char *file, const uint8_t *buf, size_t len,
                 mg__tset *ts, mg_error *err)
{
    if (len < 8)
        return mg_error_set(err, MG_EFORMAT, "%s: %zu bytes is too small for a safetensors file",
                            file, len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | buf[i];
    if (n > MG__ST_MAX_HEADER)
        return mg_error_set(err, MG_EFORMAT, "%s: header length %llu is over the 100 MB limit",
                            file, (unsigned long long)n);
    if (n > len - 8)
        return mg_error_set(err, MG_EFORMAT,
                            "%s: header length %llu runs past the end of the file (%zu bytes; "
                            "truncated?)",
                            file, (unsigned long long)n, len);
    const uint8_t *h = buf + 8;
    if (n == 0 || h[0] != '{')
        return mg_error_set(err, MG_EFORMAT, "%s: header does not start with '{'", file);
    if (!valid_utf8(h, (size_t)n))
        return mg_error_set(err, MG_EFORMAT, "%s: header is not valid UTF-8", file);
    json_error_t je;
    json_t *root = json_loadb((const char *)h, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return mg_error_set(err, MG_EFORMAT, "%s: header is not valid JSON: %s (at byte %d)", file,
                            je.text, je.position);
    int rc = 0;
    st_info *infos = NULL;
    if (!json_is_object(root)) {
        rc = mg_error_set(err, MG_EFORMAT, "%s: header is not a JSON object", file);
        goto done;
    }
    size_t cap = json_object_size(root);
    infos = calloc(cap ? cap : 1, sizeof *infos);
    if (!infos) {
        rc = mg_error_set(err, MG_ENOMEM, "%s: out of memory", file);
        goto done;
    }
    int ni = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(v)) {
                rc = mg_error_set(err, MG_EFORMAT, "%s: __metadata__ is not an object", file);
                goto done;
            }
            const char *mk;
            json_t *mv;
            json_object_foreach(v, mk, mv)
            {
                if (!json_is_string(mv)) {
                    rc =
                        mg_error_set(err, MG_EFORMAT,
                                     "%s: __metadata__ value for \"%s\" is not a string", file, mk);
                    goto done;
                }
            }
            continue;
        }
        if ((rc = parse_entry(file, key, v, &infos[ni], err)) < 0) goto done;
        ni++;
    }
    /* Sorted by offset, each range must start where the previous ended: no
     * overlap (two tensors sharing bytes) and no gap (unaccounted bytes). */
    qsort(infos, (size_t)ni, sizeof *infos, cmp_info);
    uint64_t at = 0;
    for (int i = 0; i < ni; i++) {
        if (infos[i].begin != at) {
            rc = mg_error_set(
                err, MG_EFORMAT, "%s: tensor '%s': data_offsets start at %llu, expected %llu (%s)",
                file, infos[i].name, (unsigned long long)infos[i].begin, (unsigned long long)at,
                infos[i].begin < at ? "overlaps the previous tensor"
                                    : "gap after the previous tensor");
            goto done;
        }
        at = infos[i].end;
    }
    uint64_t data_len = (uint64_t)(len - 8) - n;
    if (at != data_len) {
        rc = mg_error_set(err, MG_EFORMAT,
                          "%s: tensors cover %llu bytes of data but the file holds %llu (%s)", file,
                          (unsigned long long)at, (unsigned long long)data_len,
                          at > data_len ? "truncated" : "trailing bytes");
        goto done;
    }
    const uint8_t *data = h + n;
    for (int i = 0; i < ni; i++) {
        mg__tentry e = {0};
        e.t.name = mg__keep_str(s, infos[i].name);
        if (!e.t.name) {
            rc = mg_error_set(err, MG_ENOMEM, "%s: out of memory", file);
            goto done;
        }
        int mg = st_dtypes[infos[i].dt].mg;
        e.supported = mg >= 0;
        e.t.dtype = mg >= 0 ? (mg_dtype)mg : MG_DTYPE_U8;
        e.dtype_name = st_dtypes[infos[i].dt].name;
        e.t.ndim = infos[i].ndim;
        memcpy(e.t.shape, infos[i].shape, sizeof e.t.shape);
        e.t.data = data + infos[i].begin;
        e.nbytes = (size_t)(infos[i].end - infos[i].begin);
        e.file = file;
        if ((rc = mg__tset_add(s, ts, &e, err)) < 0) goto done;
    }
done:
    free(infos);
    json_decref(root);
    return rc;
}

int mg__st_load(mg_model_storage *s, const char *path, mg__tset *ts, mg_error *err)
{
    const uint8_t *buf;
    size_t len;
    const char *file = mg__keep_str(s, path);
    if (!file) return mg_error_set(err, MG_ENOMEM, "%s: out of memory", path);
    int rc = mg__map_file(s, path, &buf, &len, err);
    if (rc < 0) return rc;
    return mg__st_parse(s, file, buf, len, ts, err);
}
