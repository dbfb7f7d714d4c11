/* zip.c — the zip container torch.save writes (.pt, .bin), read from a
 * mapped buffer. Stored entries are returned in place (zero copy); deflated
 * entries are inflated with zlib into a buffer the storage owns. Zip64 is
 * handled (torch writes it for large checkpoints); encrypted, split and
 * other compression methods are refused. Every offset and size comes from
 * the file and is checked against the buffer before use. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

#define SIG_EOCD   0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64  0x07064b50u
#define SIG_CEN    0x02014b50u
#define SIG_LOC    0x04034b50u

static int fail(mg_error *err, const char *name, const char *what)
{
    return mg_error_set(err, MG_EFORMAT, "%s: not a valid zip archive: %s", name, what);
}

int mg__zip_open(mg__zip *z, const char *name, const uint8_t *buf, size_t len, mg_error *err)
{
    memset(z, 0, sizeof *z);
    z->buf = buf;
    z->len = len;
    if (len < 22) return fail(err, name, "too short (truncated?)");
    /* The end-of-central-directory record sits in the last 22 + 65535 bytes. */
    size_t eocd = SIZE_MAX;
    size_t lo = len > 22 + 65535 ? len - 22 - 65535 : 0;
    for (size_t i = len - 22 + 1; i-- > lo;)
        if (rd32(buf + i) == SIG_EOCD && i + 22 + rd16(buf + i + 20) == len) {
            eocd = i;
            break;
        }
    if (eocd == SIZE_MAX) return fail(err, name, "no end-of-central-directory record (truncated?)");
    const uint8_t *e = buf + eocd;
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0) return fail(err, name, "multi-disk archive");
    uint64_t count = rd16(e + 10), cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    if (count == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        if (eocd < 20 || rd32(buf + eocd - 20) != SIG_LOC64)
            return fail(err, name, "zip64 locator missing");
        uint64_t off64 = rd64(buf + eocd - 20 + 8);
        if (off64 > len || len - off64 < 56 || rd32(buf + off64) != SIG_EOCD64)
            return fail(err, name, "zip64 end record out of bounds");
        count = rd64(buf + off64 + 32);
        cd_size = rd64(buf + off64 + 40);
        cd_off = rd64(buf + off64 + 48);
    }
    if (cd_off > len || cd_size > len - cd_off)
        return fail(err, name, "central directory out of bounds");
    if (count > cd_size / 46) return fail(err, name, "entry count larger than the directory");
    z->e = calloc(count ? count : 1, sizeof *z->e);
    if (!z->e) return mg_error_set(err, MG_ENOMEM, "%s: out of memory", name);
    const uint8_t *p = buf + cd_off, *end = p + cd_size;
    for (uint64_t k = 0; k < count; k++) {
        if (end - p < 46 || rd32(p) != SIG_CEN) goto bad_cd;
        uint16_t flags = rd16(p + 8), method = rd16(p + 10);
        uint64_t csize = rd32(p + 20), usize = rd32(p + 24), loff = rd32(p + 42);
        size_t nl = rd16(p + 28), xl = rd16(p + 30), cl = rd16(p + 32);
        if ((size_t)(end - p) - 46 < nl + xl + cl) goto bad_cd;
        const uint8_t *x = p + 46 + nl, *xe = x + xl;
        /* Zip64 extra field: only the fields saturated in the record follow. */
        while (xe - x >= 4) {
            uint16_t id = rd16(x), sz = rd16(x + 2);
            if ((size_t)(xe - x) - 4 < sz) goto bad_cd;
            if (id == 1) {
                const uint8_t *q = x + 4, *qe = q + sz;
                if (usize == 0xffffffffu) {
                    if (qe - q < 8) goto bad_cd;
                    usize = rd64(q), q += 8;
                }
                if (csize == 0xffffffffu) {
                    if (qe - q < 8) goto bad_cd;
                    csize = rd64(q), q += 8;
                }
                if (loff == 0xffffffffu) {
                    if (qe - q < 8) goto bad_cd;
                    loff = rd64(q);
                }
            }
            x += 4 + sz;
        }
        mg__zip_entry *ze = &z->e[z->n];
        ze->name = strndup((const char *)p + 46, nl);
        if (!ze->name) {
            mg__zip_close(z);
            return mg_error_set(err, MG_ENOMEM, "%s: out of memory", name);
        }
        z->n++;
        if (strlen(ze->name) != nl) {
            mg_error_set(err, MG_EFORMAT, "%s: zip entry name contains NUL", name);
            mg__zip_close(z);
            return MG_EFORMAT;
        }
        if (flags & 1) {
            mg_error_set(err, MG_EUNSUPPORTED, "%s: zip entry '%s' is encrypted", name, ze->name);
            mg__zip_close(z);
            return MG_EUNSUPPORTED;
        }
        if (method != 0 && method != 8) {
            mg_error_set(err, MG_EUNSUPPORTED,
                         "%s: zip entry '%s' uses compression method %u (only stored and "
                         "deflated are supported)",
                         name, ze->name, method);
            mg__zip_close(z);
            return MG_EUNSUPPORTED;
        }
        if (loff > len || len - loff < 30 || rd32(buf + loff) != SIG_LOC) {
            mg_error_set(err, MG_EFORMAT, "%s: zip entry '%s': local header out of bounds", name,
                         ze->name);
            mg__zip_close(z);
            return MG_EFORMAT;
        }
        uint64_t data = loff + 30 + (uint64_t)rd16(buf + loff + 26) + rd16(buf + loff + 28);
        if (data > len || csize > len - data) {
            mg_error_set(err, MG_EFORMAT,
                         "%s: zip entry '%s': data runs past the end of the file (truncated?)",
                         name, ze->name);
            mg__zip_close(z);
            return MG_EFORMAT;
        }
        if (method == 0 && csize != usize) {
            mg_error_set(err, MG_EFORMAT, "%s: zip entry '%s': stored sizes disagree", name,
                         ze->name);
            mg__zip_close(z);
            return MG_EFORMAT;
        }
        ze->method = method;
        ze->csize = csize;
        ze->usize = usize;
        ze->data_off = data;
        ze->crc = rd32(p + 16);
        p += 46 + nl + xl + cl;
    }
    return 0;
bad_cd:
    mg__zip_close(z);
    return fail(err, name, "central directory entry truncated");
}

void mg__zip_close(mg__zip *z)
{
    for (int i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e);
    z->e = NULL;
    z->n = 0;
}

const mg__zip_entry *mg__zip_find(const mg__zip *z, const char *name)
{
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->e[i].name, name) == 0) return &z->e[i];
    return NULL;
}

int mg__zip_read(mg_model_storage *s, const mg__zip *z, const mg__zip_entry *e,
                 const uint8_t **data, size_t *len, mg_error *err)
{
    const uint8_t *src = z->buf + e->data_off;
    if (e->method == 0) {
        *data = src;
        *len = (size_t)e->usize;
    } else {
        /* Deflate expands at most ~1032:1; a larger claim is a lie. */
        if (e->usize > (e->csize + 1) * 1032 || e->usize > SIZE_MAX / 2)
            return mg_error_set(err, MG_EFORMAT, "zip entry '%s': implausible size %llu", e->name,
                                (unsigned long long)e->usize);
        uint8_t *out = mg__keep(s, malloc(e->usize ? (size_t)e->usize : 1));
        if (!out) return mg_error_set(err, MG_ENOMEM, "zip entry '%s': out of memory", e->name);
        z_stream zs = {0};
        if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
            return mg_error_set(err, MG_ENOMEM, "zip entry '%s': inflateInit failed", e->name);
        uint64_t in_left = e->csize, out_left = e->usize;
        zs.next_in = (Bytef *)src;
        zs.next_out = out;
        int zr = Z_OK;
        /* zlib counts in uInt: feed and drain in chunks under 4 GiB. */
        while (zr == Z_OK) {
            if (zs.avail_in == 0 && in_left) {
                zs.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
                in_left -= zs.avail_in;
            }
            if (zs.avail_out == 0 && out_left) {
                zs.avail_out = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
                out_left -= zs.avail_out;
            }
            zr = inflate(&zs, Z_NO_FLUSH);
            if (zr == Z_BUF_ERROR && (zs.avail_in == 0 && in_left == 0)) break;
            if (zr == Z_BUF_ERROR && zs.avail_out == 0 && out_left == 0) break;
        }
        uint64_t produced = zs.total_out;
        inflateEnd(&zs);
        if (zr != Z_STREAM_END || produced != e->usize)
            return mg_error_set(err, MG_EFORMAT, "zip entry '%s': corrupt deflate stream (%s)",
                                e->name,
                                zr == Z_STREAM_END ? "size differs from the directory"
                                                   : "stream error or truncated");
        *data = out;
        *len = (size_t)e->usize;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    const uint8_t *q = *data;
    size_t left = *len;
    while (left) {
        uInt n = left > (1u << 30) ? (1u << 30) : (uInt)left;
        crc = crc32(crc, q, n);
        q += n;
        left -= n;
    }
    if ((uint32_t)crc != e->crc)
        return mg_error_set(err, MG_ECHECKSUM, "zip entry '%s': CRC-32 mismatch (corrupt file)",
                            e->name);
    return 0;
}
