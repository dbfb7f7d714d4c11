/* torchfile.c — torch.save checkpoints (.pt, .bin): a zip holding
 * <archive>/data.pkl (the pickled object) and <archive>/data/<key> (one raw
 * little-endian storage per key). Tensors are views into storages; a
 * contiguous view points straight into the mapped file (stored entries),
 * anything else is copied into a contiguous buffer. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ptctx {
    mg_model_storage *s;
    const char *file;
    mg__zip z;
    char prefix[256];
    const uint8_t **cache; /* per zip entry: read data, NULL until read */
    size_t *cache_len;
    mg__tset *ts;
    mg_error *err;
} ptctx;

static int storage_bytes(ptctx *c, const mg__pk *st, const uint8_t **data, size_t *len)
{
    char name[512];
    snprintf(name, sizeof name, "%sdata/%s", c->prefix, st->s);
    const mg__zip_entry *e = mg__zip_find(&c->z, name);
    if (!e)
        return mg_error_set(c->err, MG_EFORMAT, "%s: storage '%s' is missing from the archive",
                            c->file, st->s);
    int idx = (int)(e - c->z.e);
    if (!c->cache[idx]) {
        int rc = mg__zip_read(c->s, &c->z, e, &c->cache[idx], &c->cache_len[idx], c->err);
        if (rc < 0) return mg_error_prefix(c->err, rc, "%s", c->file);
    }
    *data = c->cache[idx];
    *len = c->cache_len[idx];
    return 0;
}

static int add_tensor(ptctx *c, const char *key, const mg__pk *t)
{
    const uint8_t *sdata = NULL;
    size_t slen = 0;
    int rc = storage_bytes(c, t->storage, &sdata, &slen);
    if (rc < 0) return rc;
    size_t es = mg__dtype_size(t->dtype);
    uint64_t snumel = (uint64_t)t->storage->numel_storage, need;
    if (__builtin_mul_overflow(snumel, (uint64_t)es, &need) || need > slen)
        return mg_error_set(c->err, MG_EFORMAT,
                            "%s: tensor '%s': storage '%s' claims %llu elements but holds %zu "
                            "bytes",
                            c->file, key, t->storage->s, (unsigned long long)snumel, slen);
    /* Highest element the view touches must lie inside the storage. */
    uint64_t numel = 1, last = (uint64_t)t->offset;
    bool ovf = false;
    for (int i = 0; i < t->ndim; i++) {
        uint64_t d = (uint64_t)t->shape[i], span;
        ovf |= __builtin_mul_overflow(numel, d, &numel);
        if (d) {
            ovf |= __builtin_mul_overflow(d - 1, (uint64_t)t->stride[i], &span);
            ovf |= __builtin_add_overflow(last, span, &last);
        }
    }
    if (ovf || (numel && last >= snumel))
        return mg_error_set(c->err, MG_EFORMAT,
                            "%s: tensor '%s': view (offset %lld) runs past its storage of %llu "
                            "elements",
                            c->file, key, (long long)t->offset, (unsigned long long)snumel);
    /* A view with more elements than its storage repeats elements (stride 0,
     * an expand()): state dicts do not hold those, and copying one could
     * turn a small file into an enormous buffer. */
    if (numel > snumel)
        return mg_error_set(c->err, MG_EUNSUPPORTED,
                            "%s: tensor '%s': view has %llu elements over a storage of %llu "
                            "(expanded views are not supported)",
                            c->file, key, (unsigned long long)numel, (unsigned long long)snumel);
    bool contig = true;
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != expect) contig = false;
        expect *= t->shape[i];
    }
    mg__tentry e = {0};
    e.t.name = mg__keep_str(c->s, key);
    if (!e.t.name) return mg_error_set(c->err, MG_ENOMEM, "%s: out of memory", c->file);
    e.t.dtype = t->dtype;
    e.t.ndim = t->ndim;
    memcpy(e.t.shape, t->shape, sizeof e.t.shape);
    e.dtype_name = mg__dtype_name(t->dtype);
    e.supported = true;
    e.nbytes = (size_t)(numel * es);
    e.file = c->file;
    if (contig || numel == 0) {
        e.t.data = sdata + (size_t)t->offset * es;
    } else {
        uint8_t *dst = mg__keep(c->s, malloc(e.nbytes));
        if (!dst) return mg_error_set(c->err, MG_ENOMEM, "%s: out of memory", c->file);
        int64_t idx[MG_MAX_DIMS] = {0};
        for (uint64_t k = 0; k < numel; k++) {
            int64_t src = t->offset;
            for (int i = 0; i < t->ndim; i++) src += idx[i] * t->stride[i];
            memcpy(dst + k * es, sdata + (size_t)src * es, es);
            for (int i = t->ndim - 1; i >= 0; i--) {
                if (++idx[i] < t->shape[i]) break;
                idx[i] = 0;
            }
        }
        e.t.data = dst;
    }
    return mg__tset_add(c->s, c->ts, &e, c->err);
}

/* Adds every tensor reachable through dicts, named by the dotted key path. */
static int walk(ptctx *c, const mg__pk *v, const char *path, int depth)
{
    if (depth > 16)
        return mg_error_set(c->err, MG_EFORMAT, "%s: dicts nested too deeply at '%s'", c->file,
                            path);
    if (v->kind == MG__PK_TENSOR) return add_tensor(c, path, v);
    if (v->kind != MG__PK_DICT) return 0;
    for (int i = 0; i + 1 < v->n; i += 2) {
        const mg__pk *k = v->items[i];
        char key[1024];
        char kbuf[32];
        const char *ks;
        if (k->kind == MG__PK_STR)
            ks = k->s;
        else if (k->kind == MG__PK_INT)
            snprintf(kbuf, sizeof kbuf, "%lld", (long long)k->i), ks = kbuf;
        else
            continue;
        int n = snprintf(key, sizeof key, "%s%s%s", path, *path ? "." : "", ks);
        if (n < 0 || (size_t)n >= sizeof key)
            return mg_error_set(c->err, MG_EFORMAT, "%s: key path too long at '%s'", c->file, path);
        int rc = walk(c, v->items[i + 1], key, depth + 1);
        if (rc < 0) return rc;
    }
    return 0;
}

int mg__pt_load(mg_model_storage *s, const char *path, mg__tset *ts, mg__pk_arena *arena,
                mg__pk **root, mg_error *err)
{
    const uint8_t *buf;
    size_t len;
    const char *file = mg__keep_str(s, path);
    if (!file) return mg_error_set(err, MG_ENOMEM, "%s: out of memory", path);
    int rc = mg__map_file(s, path, &buf, &len, err);
    if (rc < 0) return rc;
    return mg__pt_parse(s, file, buf, len, ts, arena, root, err);
}

int mg__pt_parse(mg_model_storage *s, const char *file, const uint8_t *buf, size_t len,
                 mg__tset *ts, mg__pk_arena *arena, mg__pk **root, mg_error *err)
{
    const char *path = file;
    int rc;
    if (len >= 2 && buf[0] == 0x80 && buf[1] <= 5)
        return mg_error_set(err, MG_EUNSUPPORTED,
                            "%s: legacy (pre-1.6, non-zip) torch.save format is not supported; "
                            "re-save it with a current torch or convert to safetensors",
                            path);
    ptctx c = {.s = s, .file = file, .ts = ts, .err = err};
    if ((rc = mg__zip_open(&c.z, file, buf, len, err)) < 0) return rc;
    const mg__zip_entry *pkl = NULL;
    for (int i = 0; i < c.z.n; i++) {
        const char *n = c.z.e[i].name, *slash = strchr(n, '/');
        if (slash && strcmp(slash, "/data.pkl") == 0 && (size_t)(slash - n) < sizeof c.prefix) {
            pkl = &c.z.e[i];
            snprintf(c.prefix, sizeof c.prefix, "%.*s/", (int)(slash - n), n);
            break;
        }
    }
    if (!pkl) {
        rc = mg_error_set(err, MG_EFORMAT, "%s: zip archive has no <archive>/data.pkl", path);
        goto done;
    }
    char bo_name[300];
    snprintf(bo_name, sizeof bo_name, "%sbyteorder", c.prefix);
    c.cache = calloc((size_t)c.z.n, sizeof *c.cache);
    c.cache_len = calloc((size_t)c.z.n, sizeof *c.cache_len);
    if (!c.cache || !c.cache_len) {
        rc = mg_error_set(err, MG_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    const mg__zip_entry *bo = mg__zip_find(&c.z, bo_name);
    if (bo) {
        const uint8_t *d;
        size_t dl;
        if ((rc = mg__zip_read(s, &c.z, bo, &d, &dl, err)) < 0) {
            mg_error_prefix(err, rc, "%s", path);
            goto done;
        }
        if (dl != 6 || memcmp(d, "little", 6) != 0) {
            rc = mg_error_set(err, MG_EUNSUPPORTED, "%s: storages are not little-endian", path);
            goto done;
        }
    }
    const uint8_t *pd;
    size_t pl;
    if ((rc = mg__zip_read(s, &c.z, pkl, &pd, &pl, err)) < 0) {
        mg_error_prefix(err, rc, "%s", path);
        goto done;
    }
    mg__pk *top = NULL;
    if ((rc = mg__pk_parse(arena, file, pd, pl, &top, err)) < 0) goto done;
    if (root) *root = top;
    rc = walk(&c, top, "", 0);
done:
    free(c.cache);
    free(c.cache_len);
    mg__zip_close(&c.z);
    return rc;
}
