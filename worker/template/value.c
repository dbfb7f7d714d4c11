/* value.c — the arena and the Python value model: construction, truthiness,
 * equality and ordering, str()/repr() (JSON in and out is tojson.c).
 * Printing must match Python byte for byte, since chat templates print
 * lists, booleans and floats straight into prompts. */
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ------------------------------------------------------------------ */

struct mg__chunk {
    mg__chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

#define CHUNK_SIZE (64 * 1024)

_Noreturn void mg__fail(mg__arena *a, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (a->err) mg_error_vset(a->err, code, fmt, ap);
    va_end(ap);
    longjmp(*a->jb, 1);
}

void *mg__alloc(mg__arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    mg__chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t sz = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
        if (a->limit && a->used + sz + sizeof(mg__chunk) > a->limit)
            mg__fail(a, MG_ERANGE, "template render exceeds the memory limit (%zu bytes)",
                     a->limit);
        c = malloc(sizeof(mg__chunk) + sz);
        if (!c) mg__fail(a, MG_ENOMEM, "out of memory");
        a->used += sz + sizeof(mg__chunk);
        c->size = sz;
        c->used = 0;
        if (sz == CHUNK_SIZE || !a->head) {
            c->next = a->head;
            a->head = c;
        } else {
            /* a big one-off block: keep the current chunk for small allocations */
            c->next = a->head->next;
            a->head->next = c;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *mg__strndup(mg__arena *a, const char *s, size_t n)
{
    char *p = mg__alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void mg__arena_free(mg__arena *a)
{
    mg__chunk *c = a->head;
    while (c) {
        mg__chunk *nx = c->next;
        free(c);
        c = nx;
    }
    a->head = NULL;
    a->used = 0;
}

/* ---- constructors ------------------------------------------------------------- */

size_t utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

jstr *mk_jstr(mg__arena *a, const char *s, size_t len)
{
    jstr *j = mg__alloc(a, sizeof(jstr) + len + 1);
    j->len = len;
    if (len) memcpy(j->s, s, len);
    j->s[len] = 0;
    j->ncp = utf8_count(s, len);
    return j;
}

jv jv_undef(const char *why)
{
    jv v = {.t = JT_UNDEF};
    v.u.uname = why;
    return v;
}
jv jv_none(void)
{
    return (jv){.t = JT_NONE};
}
jv jv_bool(bool b)
{
    jv v = {.t = JT_BOOL};
    v.u.b = b;
    return v;
}
jv jv_int(int64_t i)
{
    jv v = {.t = JT_INT};
    v.u.i = i;
    return v;
}
jv jv_float(double f)
{
    jv v = {.t = JT_FLOAT};
    v.u.f = f;
    return v;
}
jv jv_str(rctx *r, const char *s, size_t len)
{
    jv v = {.t = JT_STR};
    v.u.s = mk_jstr(&r->ar, s, len);
    return v;
}
jv jv_cstr(rctx *r, const char *s)
{
    return jv_str(r, s, strlen(s));
}
jv jv_strbuf(rctx *r, sbuf *b)
{
    return jv_str(r, b->p ? b->p : "", b->n);
}
jv jv_newlist(rctx *r, size_t cap)
{
    jv v = {.t = JT_LIST};
    v.u.l = mg__alloc(&r->ar, sizeof(jlist));
    if (cap) {
        v.u.l->v = mg__alloc(&r->ar, cap * sizeof(jv));
        v.u.l->cap = cap;
    }
    return v;
}
jv jv_newtuple(rctx *r, size_t cap)
{
    jv v = jv_newlist(r, cap);
    v.t = JT_TUPLE;
    return v;
}
jv jv_newdict(rctx *r)
{
    jv v = {.t = JT_DICT};
    v.u.d = mg__alloc(&r->ar, sizeof(jdict));
    return v;
}

void jl_push(rctx *r, jlist *l, jv v)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 4;
        jv *nv = mg__alloc(&r->ar, nc * sizeof(jv));
        if (l->n) memcpy(nv, l->v, l->n * sizeof(jv));
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = v;
}

jv *jd_get(const jdict *d, jv k)
{
    for (size_t i = 0; i < d->n; i++)
        if (jv_eq(d->k[i], k)) return &d->v[i];
    return NULL;
}

jv *jd_gets(const jdict *d, const char *k)
{
    size_t kl = strlen(k);
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == JT_STR && d->k[i].u.s->len == kl && !memcmp(d->k[i].u.s->s, k, kl))
            return &d->v[i];
    return NULL;
}

void jd_set(rctx *r, jdict *d, jv k, jv v)
{
    jv *p = jd_get(d, k);
    if (p) {
        *p = v;
        return;
    }
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 8;
        jv *nk = mg__alloc(&r->ar, nc * sizeof(jv)), *nv = mg__alloc(&r->ar, nc * sizeof(jv));
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof(jv));
            memcpy(nv, d->v, d->n * sizeof(jv));
        }
        d->k = nk;
        d->v = nv;
        d->cap = nc;
    }
    d->k[d->n] = k;
    d->v[d->n++] = v;
}

/* ---- output buffers -------------------------------------------------------------- */

void sb_put(rctx *r, sbuf *b, const char *s, size_t n)
{
    if (!n) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->n + n + 1) nc *= 2;
        char *np = mg__alloc(&r->ar, nc);
        if (b->n) memcpy(np, b->p, b->n);
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
void sb_puts(rctx *r, sbuf *b, const char *s)
{
    sb_put(r, b, s, strlen(s));
}
void sb_putc(rctx *r, sbuf *b, char c)
{
    sb_put(r, b, &c, 1);
}

/* ---- semantics ------------------------------------------------------------------- */

const char *jv_typename(jv v)
{
    switch (v.t) {
    case JT_UNDEF:
        return "Undefined";
    case JT_NONE:
        return "NoneType";
    case JT_BOOL:
        return "bool";
    case JT_INT:
        return "int";
    case JT_FLOAT:
        return "float";
    case JT_STR:
        return "str";
    case JT_LIST:
        if (v.u.l->view)
            return v.u.l->view == VIEW_ITEMS  ? "dict_items"
                   : v.u.l->view == VIEW_KEYS ? "dict_keys"
                                              : "dict_values";
        return v.u.l->generator ? "generator" : "list";
    case JT_TUPLE:
        return "tuple";
    case JT_DICT:
        return "dict";
    case JT_NS:
        return "Namespace";
    case JT_FUNC:
        return v.u.fn->kind == JF_MACRO ? "Macro" : "function";
    case JT_LOOP:
        return "LoopContext";
    }
    return "object";
}

bool jv_is_num(jv v)
{
    return v.t == JT_INT || v.t == JT_FLOAT || v.t == JT_BOOL;
}

double jv_num(jv v)
{
    return v.t == JT_FLOAT ? v.u.f : v.t == JT_INT ? (double)v.u.i : v.t == JT_BOOL ? v.u.b : 0;
}

bool jv_truthy(jv v)
{
    switch (v.t) {
    case JT_UNDEF:
    case JT_NONE:
        return false;
    case JT_BOOL:
        return v.u.b;
    case JT_INT:
        return v.u.i != 0;
    case JT_FLOAT:
        return v.u.f != 0;
    case JT_STR:
        return v.u.s->len != 0;
    case JT_LIST:
        return v.u.l->generator || v.u.l->n != 0;
    case JT_TUPLE:
        return v.u.l->n != 0;
    case JT_DICT:
    case JT_NS:
        return v.t == JT_NS || v.u.d->n != 0;
    default:
        return true;
    }
}

/* Python raises RecursionError around depth 1000; deeper structures (only a
 * hostile template builds them) compare unequal instead of exhausting the stack */
#define MAX_CMP_DEPTH 2000
static bool eq_d(jv a, jv b, int depth);

bool jv_eq(jv a, jv b)
{
    return eq_d(a, b, 0);
}

static bool eq_d(jv a, jv b, int depth)
{
    if (depth > MAX_CMP_DEPTH) return false;
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.t == JT_FLOAT || b.t == JT_FLOAT) return jv_num(a) == jv_num(b);
        int64_t x = a.t == JT_BOOL ? a.u.b : a.u.i, y = b.t == JT_BOOL ? b.u.b : b.u.i;
        return x == y;
    }
    if (a.t != b.t) return false;
    switch (a.t) {
    case JT_UNDEF:
    case JT_NONE:
        return true;
    case JT_STR:
        return a.u.s->len == b.u.s->len && !memcmp(a.u.s->s, b.u.s->s, a.u.s->len);
    case JT_LIST:
    case JT_TUPLE:
        if (a.u.l->generator || b.u.l->generator) return a.u.l == b.u.l;
        /* views equal only views of the same kind; values views only themselves */
        if (a.u.l->view != b.u.l->view) return false;
        if (a.u.l->view == VIEW_VALUES) return a.u.l == b.u.l;
        if (a.u.l->n != b.u.l->n) return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!eq_d(a.u.l->v[i], b.u.l->v[i], depth + 1)) return false;
        return true;
    case JT_DICT:
        if (a.u.d->n != b.u.d->n) return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jv *o = jd_get(b.u.d, a.u.d->k[i]);
            if (!o || !eq_d(a.u.d->v[i], *o, depth + 1)) return false;
        }
        return true;
    case JT_NS:
        return a.u.d == b.u.d;
    case JT_FUNC:
        return a.u.fn == b.u.fn;
    case JT_LOOP:
        return a.u.loop == b.u.loop;
    }
    return false;
}

static int cmp_d(rctx *r, const node *n, jv a, jv b, int depth);

int jv_cmp(rctx *r, const node *n, jv a, jv b)
{
    return cmp_d(r, n, a, b, 0);
}

static int cmp_d(rctx *r, const node *n, jv a, jv b, int depth)
{
    if (depth > MAX_CMP_DEPTH)
        mg__rfail(r, n, "RecursionError: maximum recursion depth exceeded in comparison");
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.t != JT_FLOAT && b.t != JT_FLOAT) {
            int64_t x = a.t == JT_BOOL ? a.u.b : a.u.i, y = b.t == JT_BOOL ? b.u.b : b.u.i;
            return (x > y) - (x < y);
        }
        double x = jv_num(a), y = jv_num(b);
        return (x > y) - (x < y);
    }
    if (a.t == JT_STR && b.t == JT_STR) {
        /* UTF-8 byte order is code point order, as Python compares str */
        size_t m = a.u.s->len < b.u.s->len ? a.u.s->len : b.u.s->len;
        int c = memcmp(a.u.s->s, b.u.s->s, m);
        if (c) return c < 0 ? -1 : 1;
        return (a.u.s->len > b.u.s->len) - (a.u.s->len < b.u.s->len);
    }
    if ((a.t == JT_LIST && b.t == JT_LIST) || (a.t == JT_TUPLE && b.t == JT_TUPLE)) {
        size_t m = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < m; i++) {
            if (jv_eq(a.u.l->v[i], b.u.l->v[i])) continue;
            return cmp_d(r, n, a.u.l->v[i], b.u.l->v[i], depth + 1);
        }
        return (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
    }
    if (a.t == JT_UNDEF) mg__undef_fail(r, n, a);
    if (b.t == JT_UNDEF) mg__undef_fail(r, n, b);
    mg__rfail(r, n, "TypeError: '<' not supported between instances of '%s' and '%s'",
              jv_typename(a), jv_typename(b));
}

/* ---- printing ------------------------------------------------------------------ */

void fmt_float(double f, char *buf, size_t cap)
{
    if (isnan(f)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, cap, f < 0 ? "-inf" : "inf");
        return;
    }
    /* shortest digits that round-trip, as Python's repr */
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    /* tmp = [-]d.ddde[+-]XX */
    bool neg = tmp[0] == '-';
    const char *p = tmp + neg;
    char digits[24];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    char out[64];
    int o = 0;
    if (neg) out[o++] = '-';
    if (exp < -4 || exp >= 16) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++) out[o++] = digits[i];
        }
        o += snprintf(out + o, sizeof out - o, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
    } else if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp - 1; i++) out[o++] = '0';
        for (int i = 0; i < nd; i++) out[o++] = digits[i];
    } else {
        for (int i = 0; i <= exp; i++) out[o++] = i < nd ? digits[i] : '0';
        out[o++] = '.';
        if (nd > exp + 1)
            for (int i = exp + 1; i < nd; i++) out[o++] = digits[i];
        else
            out[o++] = '0';
    }
    out[o] = 0;
    snprintf(buf, cap, "%s", out);
}

static void repr_str(rctx *r, sbuf *b, const jstr *s)
{
    /* Python picks single quotes unless the text has ' and no " */
    bool sq = memchr(s->s, '\'', s->len) != NULL, dq = memchr(s->s, '"', s->len) != NULL;
    char q = (sq && !dq) ? '"' : '\'';
    sb_putc(r, b, q);
    for (size_t i = 0; i < s->len; i++) {
        unsigned char c = (unsigned char)s->s[i];
        char e[8];
        if (c == (unsigned char)q || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            sb_put(r, b, e, 2);
        } else if (c == '\n')
            sb_puts(r, b, "\\n");
        else if (c == '\r')
            sb_puts(r, b, "\\r");
        else if (c == '\t')
            sb_puts(r, b, "\\t");
        else if (c < 0x20 || c == 0x7f) {
            snprintf(e, sizeof e, "\\x%02x", c);
            sb_puts(r, b, e);
        } else if (c == 0xC2 && i + 1 < s->len && (unsigned char)s->s[i + 1] < 0xA0) {
            /* U+0080..U+009F are not printable: \x80.. */
            snprintf(e, sizeof e, "\\x%02x", (unsigned char)s->s[i + 1]);
            sb_puts(r, b, e);
            i++;
        } else
            sb_putc(r, b, (char)c);
    }
    sb_putc(r, b, q);
}

static void print_any(rctx *r, sbuf *b, jv v, bool repr, int depth)
{
    char num[64];
    if (depth > 200) mg__rfail(r, NULL, "RecursionError: value nested too deeply to print");
    switch (v.t) {
    case JT_UNDEF:
        if (repr) sb_puts(r, b, "Undefined");
        return;
    case JT_NONE:
        sb_puts(r, b, "None");
        return;
    case JT_BOOL:
        sb_puts(r, b, v.u.b ? "True" : "False");
        return;
    case JT_INT:
        snprintf(num, sizeof num, "%lld", (long long)v.u.i);
        sb_puts(r, b, num);
        return;
    case JT_FLOAT:
        fmt_float(v.u.f, num, sizeof num);
        sb_puts(r, b, num);
        return;
    case JT_STR:
        if (repr && v.u.s->markup) {
            sb_puts(r, b, "Markup(");
            repr_str(r, b, v.u.s);
            sb_putc(r, b, ')');
        } else if (repr)
            repr_str(r, b, v.u.s);
        else
            sb_put(r, b, v.u.s->s, v.u.s->len);
        return;
    case JT_LIST:
    case JT_TUPLE:
        if (v.u.l->generator) {
            snprintf(num, sizeof num, "<generator object at %p>", (void *)v.u.l);
            sb_puts(r, b, num);
            return;
        }
        if (v.u.l->view) {
            sb_puts(r, b, jv_typename(v));
            sb_putc(r, b, '(');
        }
        sb_putc(r, b, v.t == JT_LIST ? '[' : '(');
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i) sb_puts(r, b, ", ");
            print_any(r, b, v.u.l->v[i], true, depth + 1);
        }
        if (v.t == JT_TUPLE && v.u.l->n == 1) sb_putc(r, b, ',');
        sb_putc(r, b, v.t == JT_LIST ? ']' : ')');
        if (v.u.l->view) sb_putc(r, b, ')');
        return;
    case JT_DICT:
    case JT_NS:
        sb_puts(r, b, v.t == JT_NS ? "<Namespace {" : "{");
        for (size_t i = 0; i < v.u.d->n; i++) {
            if (i) sb_puts(r, b, ", ");
            print_any(r, b, v.u.d->k[i], true, depth + 1);
            sb_puts(r, b, ": ");
            print_any(r, b, v.u.d->v[i], true, depth + 1);
        }
        sb_puts(r, b, v.t == JT_NS ? "}>" : "}");
        return;
    case JT_FUNC:
        if (v.u.fn->kind == JF_MACRO)
            sb_puts(r, b, "<Macro>");
        else {
            sb_puts(r, b, "<built-in method ");
            sb_puts(r, b, v.u.fn->name ? v.u.fn->name : "?");
            sb_puts(r, b, ">");
        }
        return;
    case JT_LOOP:
        snprintf(num, sizeof num, "<LoopContext %zu/%zu>", v.u.loop->idx + 1, v.u.loop->items->n);
        sb_puts(r, b, num);
        return;
    }
}

void jv_str_into(rctx *r, sbuf *b, jv v)
{
    print_any(r, b, v, false, 0);
}
void jv_repr_into(rctx *r, sbuf *b, jv v)
{
    print_any(r, b, v, true, 0);
}
jv jv_to_str(rctx *r, jv v)
{
    if (v.t == JT_STR) return v;
    sbuf b = {0};
    jv_str_into(r, &b, v);
    return jv_strbuf(r, &b);
}

/* ---- Markup (markupsafe) ------------------------------------------------------------ */

jv mg__as_markup(rctx *r, jv s)
{
    jv c = jv_str(r, s.u.s->s, s.u.s->len);
    c.u.s->markup = true;
    return c;
}

jv mg__escape(rctx *r, jv v)
{
    if (is_markup(v)) return v;
    jv s = jv_to_str(r, v);
    sbuf b = {0};
    for (size_t i = 0; i < s.u.s->len; i++) {
        char c = s.u.s->s[i];
        switch (c) {
        case '&':
            sb_puts(r, &b, "&amp;");
            break;
        case '<':
            sb_puts(r, &b, "&lt;");
            break;
        case '>':
            sb_puts(r, &b, "&gt;");
            break;
        case '"':
            sb_puts(r, &b, "&#34;");
            break;
        case '\'':
            sb_puts(r, &b, "&#39;");
            break;
        default:
            sb_putc(r, &b, c);
        }
    }
    jv e = jv_strbuf(r, &b);
    e.u.s->markup = true;
    return e;
}
