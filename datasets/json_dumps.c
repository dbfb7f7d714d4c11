/* json_dumps.c — byte-for-byte Python json.dumps for sample records, Python's
 * repr(float) and EvalPlus's output identifier.
 *
 * EvalPlus writes every sample with json.dumps defaults (ensure_ascii=True,
 * separators ", " and ": "), and tools compare and hash these files, so we
 * reproduce the exact bytes rather than any valid JSON. */
#include "ds_internal.h"
#include "mg_dataset.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *output_id(const char *model, const char *backend, const char *t);

int mg_sbuf_append(mg_sbuf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX - b->len - 1) return MG_ENOMEM;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        char *d = realloc(b->data, cap);
        if (!d) return MG_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void mg_sbuf_free(mg_sbuf *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *mg_ds__strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

size_t mg_ds__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((c & 0xe0) == 0xc0) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

static int put_u(mg_sbuf *out, unsigned v)
{
    char tmp[8];
    /* Python writes '\\u{0:04x}': lowercase hex. */
    snprintf(tmp, sizeof tmp, "\\u%04x", v & 0xffff);
    return mg_sbuf_append(out, tmp, 6);
}

int mg_json_dumps_string(mg_sbuf *out, const char *s, size_t len, mg_error *err)
{
    const unsigned char *p = (const unsigned char *)s;
    int rc = mg_sbuf_append(out, "\"", 1);
    size_t i = 0;
    while (rc == 0 && i < len) {
        /* Copy runs of printable ASCII that need no escape in one go. */
        size_t j = i;
        while (j < len && p[j] >= 0x20 && p[j] <= 0x7e && p[j] != '"' && p[j] != '\\') j++;
        if (j > i) {
            rc = mg_sbuf_append(out, p + i, j - i);
            i = j;
            continue;
        }
        unsigned char c = p[i];
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            break;
        }
        if (esc) {
            rc = mg_sbuf_append(out, esc, 2);
            i++;
            continue;
        }
        if (c < 0x80) { /* other controls and DEL */
            rc = put_u(out, c);
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = mg_ds__utf8_decode(p + i, len - i, &cp);
        if (!n) return mg_error_set(err, MG_EFORMAT, "invalid UTF-8 at byte %zu", i);
        if (cp >= 0x10000) { /* astral: a surrogate pair, as Python */
            uint32_t v = cp - 0x10000;
            rc = put_u(out, 0xd800 | (v >> 10));
            if (rc == 0) rc = put_u(out, 0xdc00 | (v & 0x3ff));
        } else {
            rc = put_u(out, cp);
        }
        i += n;
    }
    if (rc == 0) rc = mg_sbuf_append(out, "\"", 1);
    if (rc < 0) return mg_error_set(err, rc, "out of memory");
    return 0;
}

int mg_json_dumps_record(mg_sbuf *out, const char *task_id, const char *solution,
                         size_t solution_len, mg_error *err)
{
    size_t mark = out->len;
    int rc = mg_sbuf_append(out, "{\"task_id\": ", 12);
    if (rc == 0) rc = mg_json_dumps_string(out, task_id, strlen(task_id), err);
    if (rc < 0) {
        if (rc == MG_EFORMAT) mg_error_prefix(err, rc, "task_id");
        goto fail;
    }
    rc = mg_sbuf_append(out, ", \"solution\": ", 14);
    if (rc == 0) rc = mg_json_dumps_string(out, solution, solution_len, err);
    if (rc < 0) {
        if (rc == MG_EFORMAT) mg_error_prefix(err, rc, "task %s: solution", task_id);
        goto fail;
    }
    rc = mg_sbuf_append(out, "}\n", 2);
    if (rc == 0) return 0;
fail:
    if (rc == MG_ENOMEM) mg_error_set(err, rc, "out of memory");
    out->len = mark; /* nothing half-built stays in the buffer */
    if (out->data) out->data[mark] = '\0';
    return rc;
}

char *mg_py_float_repr(double v)
{
    if (isnan(v)) return mg_ds__strndup("nan", 3);
    if (isinf(v)) return v < 0 ? mg_ds__strndup("-inf", 4) : mg_ds__strndup("inf", 3);
    if (v == 0) return signbit(v) ? mg_ds__strndup("-0.0", 4) : mg_ds__strndup("0.0", 3);
    /* Shortest digit string that reads back as the same double (what Python's
     * repr gives since 3.1): try 1..17 significant digits. */
    char e[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v) break;
    }
    /* e = "[-]d.ddde[+-]XX": split into sign, digits and exponent. */
    const char *p = e;
    int neg = 0;
    if (*p == '-') neg = 1, p++;
    char digits[24];
    size_t nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--; /* %.*e may pad with zeros */
    digits[nd] = '\0';
    int decpt = exp10 + 1; /* value = 0.DIGITS * 10^decpt */
    char out[64];
    size_t o = 0;
    if (neg) out[o++] = '-';
    /* float_repr_style 'short', mode 'r': exponent when decpt <= -4 or > 16. */
    if (decpt <= -4 || decpt > 16) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, nd - 1);
            o += nd - 1;
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "e%c%02d", exp10 < 0 ? '-' : '+',
                              exp10 < 0 ? -exp10 : exp10);
    } else if (decpt <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -decpt; i++) out[o++] = '0';
        memcpy(out + o, digits, nd);
        o += nd;
    } else {
        for (int i = 0; i < decpt; i++) out[o++] = (size_t)i < nd ? digits[i] : '0';
        out[o++] = '.';
        if ((size_t)decpt < nd) {
            memcpy(out + o, digits + decpt, nd - (size_t)decpt);
            o += nd - (size_t)decpt;
        } else {
            out[o++] = '0';
        }
    }
    return mg_ds__strndup(out, o);
}

/* Python's str(int(literal)) for a decimal integer literal with optional sign
 * and single underscores between digits; NULL when `s` is not one. */
static char *py_int_literal(const char *s)
{
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    const char *start = p;
    char digits[256];
    size_t n = 0;
    for (; *p; p++) {
        if (*p == '_' && p > start && isdigit((unsigned char)p[-1]) && isdigit((unsigned char)p[1]))
            continue;
        if (!isdigit((unsigned char)*p) || n + 1 >= sizeof digits) return NULL;
        digits[n++] = *p;
    }
    if (n == 0) return NULL;
    if (digits[0] == '0') {
        /* "00" is 0 in Python, "01" a syntax error (then fire keeps a string). */
        for (size_t i = 0; i < n; i++)
            if (digits[i] != '0') return NULL;
        return mg_ds__strndup("0", 1);
    }
    char out[260];
    size_t o = 0;
    if (neg) out[o++] = '-';
    memcpy(out + o, digits, n);
    return mg_ds__strndup(out, o + n);
}

/* float(text) for a Python float literal (underscores between digits allowed). */
static int py_float_literal(const char *s, double *v)
{
    char buf[128];
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '_') {
            if (p == s || !isdigit((unsigned char)p[-1]) || !isdigit((unsigned char)p[1]))
                return -1;
            continue;
        }
        /* Python float literals are decimal: no hex floats, no inf/nan names. */
        if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p)) return -1;
        if (n + 1 >= sizeof buf) return -1;
        buf[n++] = *p;
    }
    buf[n] = '\0';
    /* Without '.' or an exponent it is an integer literal ("01" is invalid). */
    if (!n || !strpbrk(buf, ".eE")) return -1;
    char *end;
    *v = strtod(buf, &end);
    return *end == '\0' ? 0 : -1;
}

char *mg_output_id_arg(const char *model, const char *backend, const char *temperature_arg)
{
    char *t = py_int_literal(temperature_arg);
    if (!t) {
        double v;
        if (py_float_literal(temperature_arg, &v) < 0) return NULL;
        t = mg_py_float_repr(v);
        if (!t) return NULL;
    }
    char *id = output_id(model, backend, t);
    free(t);
    return id;
}

char *mg_output_id(const char *model, const char *backend, double temperature)
{
    char *t = mg_py_float_repr(temperature);
    if (!t) return NULL;
    char *id = output_id(model, backend, t);
    free(t);
    return id;
}

static char *output_id(const char *model, const char *backend, const char *t)
{
    /* model.strip("./"): a character set, stripped at both ends. */
    size_t a = 0, b = strlen(model);
    while (a < b && (model[a] == '.' || model[a] == '/')) a++;
    while (b > a && (model[b - 1] == '.' || model[b - 1] == '/')) b--;
    mg_sbuf s = {0};
    int rc = 0;
    for (size_t i = a; i < b && rc == 0; i++)
        rc = model[i] == '/' ? mg_sbuf_append(&s, "--", 2) : mg_sbuf_append(&s, model + i, 1);
    if (rc == 0) rc = mg_sbuf_append(&s, "_", 1);
    if (rc == 0) rc = mg_sbuf_append(&s, backend, strlen(backend));
    if (rc == 0) rc = mg_sbuf_append(&s, "_temp_", 6);
    if (rc == 0) rc = mg_sbuf_append(&s, t, strlen(t));
    if (rc < 0) {
        mg_sbuf_free(&s);
        return NULL;
    }
    return s.data;
}
