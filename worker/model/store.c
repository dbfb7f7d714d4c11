/* store.c — the storage behind a model (mappings, owned buffers), tensor sets,
 * dtype helpers and small file utilities. */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg_log.h"

static int grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return MG_ENOMEM;
    *arr = p;
    *cap = nc;
    return 0;
}

int mg__map_file(mg_model_storage *s, const char *path, const uint8_t **data, size_t *len,
                 mg_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return mg_error_set(err, mg_err_from_errno(e), "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return mg_error_set(err, MG_EINVAL, "%s: not a regular file", path);
    }
    if (grow((void **)&s->maps, &s->cap_maps, s->n_maps + 1, sizeof *s->maps) < 0) {
        close(fd);
        return mg_error_set(err, MG_ENOMEM, "%s: out of memory", path);
    }
    static const uint8_t empty[1];
    if (st.st_size == 0) {
        close(fd);
        *data = empty;
        *len = 0;
        return 0;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return mg_error_set(err, mg_err_from_errno(e), "%s: mmap: %s", path, strerror(e));
    s->maps[s->n_maps].addr = p;
    s->maps[s->n_maps].len = (size_t)st.st_size;
    s->n_maps++;
    *data = p;
    *len = (size_t)st.st_size;
    return 0;
}

void *mg__keep(mg_model_storage *s, void *p)
{
    if (!p) return NULL;
    if (grow((void **)&s->bufs, &s->cap_bufs, s->n_bufs + 1, sizeof *s->bufs) < 0) {
        free(p);
        return NULL;
    }
    s->bufs[s->n_bufs++] = p;
    return p;
}

char *mg__keep_str(mg_model_storage *s, const char *str)
{
    return mg__keep(s, strdup(str));
}

void mg__storage_drop_range(mg_model_storage *s, const void *p, size_t len)
{
    const uintptr_t a = (uintptr_t)p, page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < s->n_maps; i++) {
        uintptr_t lo = (uintptr_t)s->maps[i].addr, hi = lo + s->maps[i].len;
        if (a < lo || a + len > hi) continue;
        /* Only whole pages of the range: a page it shares with a neighbour
         * stays. The mapping is private and read-only, so MADV_DONTNEED loses
         * nothing; heap buffers (torch checkpoints) are never touched, since
         * there it would zero the memory. */
        uintptr_t b = (a + page - 1) & ~(page - 1), e = (a + len) & ~(page - 1);
        if (e > b) madvise((void *)b, e - b, MADV_DONTNEED);
        return;
    }
}

void mg__storage_free(mg_model_storage *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_maps; i++) munmap(s->maps[i].addr, s->maps[i].len);
    for (int i = 0; i < s->n_bufs; i++) free(s->bufs[i]);
    free(s->maps);
    free(s->bufs);
    free(s);
}

/* ---- tensor sets ----------------------------------------------------------- */

int mg__tset_add(mg_model_storage *s, mg__tset *ts, const mg__tentry *e, mg_error *err)
{
    if (grow((void **)&ts->e, &ts->cap, ts->n + 1, sizeof *ts->e) < 0)
        return mg_error_set(err, MG_ENOMEM, "%s: out of memory", e->file);
    mg__tentry x = *e;
    size_t es = mg__dtype_size(x.t.dtype);
    if (x.nbytes && ((uintptr_t)x.t.data % es) != 0) {
        void *copy = mg__keep(s, malloc(x.nbytes));
        if (!copy) return mg_error_set(err, MG_ENOMEM, "%s: out of memory", e->file);
        memcpy(copy, x.t.data, x.nbytes);
        x.t.data = copy;
    }
    ts->e[ts->n++] = x;
    ts->sorted = false;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const mg__tentry *)a)->t.name, ((const mg__tentry *)b)->t.name);
}

int mg__tset_finish(mg__tset *ts, mg_error *err)
{
    if (ts->n) qsort(ts->e, (size_t)ts->n, sizeof *ts->e, cmp_entry);
    for (int i = 1; i < ts->n; i++)
        if (strcmp(ts->e[i - 1].t.name, ts->e[i].t.name) == 0)
            return mg_error_set(err, MG_EFORMAT, "%s: tensor '%s' also appears in %s",
                                ts->e[i].file, ts->e[i].t.name, ts->e[i - 1].file);
    ts->sorted = true;
    return 0;
}

const mg__tentry *mg__tset_find(const mg__tset *ts, const char *name)
{
    MG_ASSERT(ts->sorted);
    int lo = 0, hi = ts->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(ts->e[mid].t.name, name);
        if (c == 0) return &ts->e[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

void mg__tset_free(mg__tset *ts)
{
    free(ts->e);
    memset(ts, 0, sizeof *ts);
}

/* ---- dtypes ------------------------------------------------------------------ */

size_t mg__dtype_size(mg_dtype t)
{
    switch (t) {
    case MG_DTYPE_F64:
    case MG_DTYPE_I64:
        return 8;
    case MG_DTYPE_F32:
    case MG_DTYPE_I32:
        return 4;
    case MG_DTYPE_F16:
    case MG_DTYPE_BF16:
    case MG_DTYPE_I16:
        return 2;
    default:
        return 1;
    }
}

const char *mg__dtype_name(mg_dtype t)
{
    static const char *names[] = {"F32", "F16", "BF16", "F64", "I64",
                                  "I32", "I16", "I8",   "U8",  "BOOL"};
    return (unsigned)t < MG_DTYPE_COUNT ? names[t] : "?";
}

bool mg__dtype_is_float(mg_dtype t)
{
    return t == MG_DTYPE_F32 || t == MG_DTYPE_F16 || t == MG_DTYPE_BF16 || t == MG_DTYPE_F64;
}

static float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint16_t f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float f;
    if (exp == 0) {
        f = ldexpf((float)man, -24); /* zero or subnormal */
        return sign ? -f : f;
    }
    uint32_t u =
        exp == 31 ? sign | 0x7f800000u | (man << 13) : sign | ((exp + 112) << 23) | (man << 13);
    memcpy(&f, &u, 4);
    return f;
}

static uint16_t f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00;  /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00; /* overflow to inf (incl. rounding) */
    if (a < 0x38800000u) {                      /* subnormal or zero in f16 */
        float af;
        memcpy(&af, &a, 4);
        /* scale so the f16 subnormal unit (2^-24) becomes 1, round to even */
        float q = nearbyintf(af * 16777216.0f);
        return sign | (uint16_t)q;
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u); /* round to nearest even at bit 13 */
    return sign | (uint16_t)(((r >> 23) - 112) << 10 | ((r >> 13) & 0x3ff));
}

static double load_f(const void *src, mg_dtype t, size_t i)
{
    const uint8_t *p = (const uint8_t *)src;
    switch (t) {
    case MG_DTYPE_F32: {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    case MG_DTYPE_F64: {
        double d;
        memcpy(&d, p + 8 * i, 8);
        return d;
    }
    case MG_DTYPE_F16: {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        return f16_to_f32(h);
    }
    case MG_DTYPE_BF16: {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        return bf16_to_f32(h);
    }
    default:
        MG_ASSERT(0 && "not a float dtype");
        return 0;
    }
}

void mg__convert(void *dst, mg_dtype dt, const void *src, mg_dtype st, size_t n)
{
    uint8_t *d = dst;
    for (size_t i = 0; i < n; i++) {
        double v = load_f(src, st, i);
        switch (dt) {
        case MG_DTYPE_F32: {
            float f = (float)v;
            memcpy(d + 4 * i, &f, 4);
            break;
        }
        case MG_DTYPE_F64:
            memcpy(d + 8 * i, &v, 8);
            break;
        case MG_DTYPE_F16: {
            /* torch converts double → half directly; from F32/F16/BF16 sources the
             * double holds an exact float, so going through float is the same. */
            uint16_t h = f32_to_f16((float)v);
            memcpy(d + 2 * i, &h, 2);
            break;
        }
        case MG_DTYPE_BF16: {
            uint16_t h = f32_to_bf16((float)v);
            memcpy(d + 2 * i, &h, 2);
            break;
        }
        default:
            MG_ASSERT(0 && "not a float dtype");
        }
    }
}

/* ---- files -------------------------------------------------------------------- */

bool mg__is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool mg__is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool stat_in(const char *dir, const char *name, bool want_dir)
{
    char p[PATH_MAX];
    int n = snprintf(p, sizeof p, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof p) return false;
    return want_dir ? mg__is_dir(p) : mg__is_file(p);
}

bool mg__file_in(const char *dir, const char *name)
{
    return stat_in(dir, name, false);
}
bool mg__dir_in(const char *dir, const char *name)
{
    return stat_in(dir, name, true);
}

char *mg__join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    size_t o = la;
    if (la && a[la - 1] != '/') p[o++] = '/';
    memcpy(p + o, b, lb + 1);
    return p;
}

int mg__json_load(const char *path, json_t **out, mg_error *err)
{
    json_error_t je;
    *out = NULL;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        if (!mg__is_file(path)) return mg_error_set(err, MG_ENOENT, "%s: not found", path);
        return mg_error_set(err, MG_EFORMAT, "%s:%d: invalid JSON: %s", path, je.line, je.text);
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return mg_error_set(err, MG_EFORMAT, "%s: expected a JSON object", path);
    }
    *out = j;
    return 0;
}
