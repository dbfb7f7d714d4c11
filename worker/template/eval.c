/* eval.c — the interpreter: expressions (Python operator semantics), scopes
 * (Jinja2's: a for body gets a fresh scope per iteration, so `set` inside a
 * loop does not leak out; if-blocks share the enclosing scope; macros close
 * over the scope that defined them), statements, and the public entry points.
 * Errors unwind with longjmp (see internal.h) carrying "LINE:COL: message". */
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mg_jinja {
    mg__arena ar;
    node *root;
};

enum { FL_NONE, FL_BREAK, FL_CONTINUE };

static jv ev(rctx *r, frame *f, const node *n);
static int exec_body(rctx *r, frame *f, const nodelist *body);

/* ---- errors and limits ---------------------------------------------------------- */

_Noreturn void mg__rfail(rctx *r, const node *n, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = n ? n->line : r->line, col = n ? n->col : r->col;
    mg__fail(&r->ar, MG_EFORMAT, "%d:%d: %s", line, col, msg);
}

_Noreturn void mg__undef_fail(rctx *r, const node *n, jv u)
{
    if (u.u.uname &&
        (!strncmp(u.u.uname, "SecurityError: ", 15) || !strncmp(u.u.uname, "TypeError: ", 11)))
        mg__rfail(r, n, "%s", u.u.uname); /* an unsafe attribute of the sandbox */
    mg__rfail(r, n, "UndefinedError: %s", u.u.uname ? u.u.uname : "value is undefined");
}

void mg__step(rctx *r, const node *n, uint64_t k)
{
    r->steps += k;
    if (r->opt->max_steps && r->steps > r->opt->max_steps) {
        int line = n ? n->line : r->line, col = n ? n->col : r->col;
        mg__fail(&r->ar, MG_ERANGE, "%d:%d: template exceeds the step limit (%llu)", line, col,
                 (unsigned long long)r->opt->max_steps);
    }
}

static void emit(rctx *r, const node *n, const char *s, size_t len)
{
    if (r->out->n + len > r->opt->max_output)
        mg__fail(&r->ar, MG_ERANGE, "%d:%d: template output exceeds the limit (%zu bytes)",
                 n ? n->line : 0, n ? n->col : 0, r->opt->max_output);
    sb_put(r, r->out, s, len);
}

static frame *new_frame(rctx *r, frame *parent)
{
    frame *f = mg__alloc(&r->ar, sizeof(frame));
    f->parent = parent;
    return f;
}

static void set_var(rctx *r, frame *f, const char *name, jv v)
{
    jv k;
    k.t = JT_STR;
    k.u.s = mk_jstr(&r->ar, name, strlen(name));
    jd_set(r, &f->vars, k, v);
}

static jv lookup(rctx *r, frame *f, const node *n)
{
    for (; f; f = f->parent) {
        jv *p = jd_gets(&f->vars, n->name);
        if (p) return *p;
    }
    jv *p = jd_gets(&r->globals, n->name);
    if (p) return *p;
    jv g = mg__global(r, n->name);
    if (g.t != JT_UNDEF) return g;
    char *why = mg__alloc(&r->ar, strlen(n->name) + 20);
    sprintf(why, "'%s' is undefined", n->name);
    return jv_undef(why);
}

/* ---- attribute and item access ------------------------------------------------- */

jv jv_undef_attr(rctx *r, jv obj, const char *name)
{
    char *why = mg__alloc(&r->ar, strlen(name) + 64);
    sprintf(why, "'%s object' has no attribute '%s'", jv_typename(obj), name);
    return jv_undef(why);
}

static bool is_dict_method(const char *nm)
{
    static const char *const m[] = {"items",  "keys",       "values", "get",  "pop",      "popitem",
                                    "update", "setdefault", "clear",  "copy", "fromkeys", NULL};
    for (int i = 0; m[i]; i++)
        if (!strcmp(m[i], nm)) return true;
    return false;
}

static jv loop_attr(rctx *r, jloop *L, const char *nm)
{
    size_t n = L->items->n, i = L->idx;
    if (!strcmp(nm, "index")) return jv_int((int64_t)i + 1);
    if (!strcmp(nm, "index0")) return jv_int((int64_t)i);
    if (!strcmp(nm, "revindex")) return jv_int((int64_t)(n - i));
    if (!strcmp(nm, "revindex0")) return jv_int((int64_t)(n - i - 1));
    if (!strcmp(nm, "first")) return jv_bool(i == 0);
    if (!strcmp(nm, "last")) return jv_bool(i + 1 == n);
    if (!strcmp(nm, "length")) return jv_int((int64_t)n);
    if (!strcmp(nm, "depth")) return jv_int(L->depth0 + 1);
    if (!strcmp(nm, "depth0")) return jv_int(L->depth0);
    if (!strcmp(nm, "previtem"))
        return i > 0 ? L->items->v[i - 1] : jv_undef("there is no previous item");
    if (!strcmp(nm, "nextitem"))
        return i + 1 < n ? L->items->v[i + 1] : jv_undef("there is no next item");
    if (!strcmp(nm, "cycle")) return L->cycle_fn;
    if (!strcmp(nm, "changed")) return L->changed_fn;
    return jv_undef_attr(r, (jv){.t = JT_LOOP}, nm);
}

jv jv_getattr(rctx *r, const node *n, jv obj, const char *name)
{
    if (obj.t == JT_UNDEF) mg__undef_fail(r, n, obj);
    if (name[0] == '_') {
        /* the sandbox hides private/dunder attributes */
        return jv_undef_attr(r, obj, name);
    }
    switch (obj.t) {
    case JT_DICT: {
        if (is_dict_method(name)) return mg__method(r, obj, name);
        jv *p = jd_gets(obj.u.d, name);
        return p ? *p : jv_undef_attr(r, obj, name);
    }
    case JT_NS: {
        jv *p = jd_gets(obj.u.d, name);
        return p ? *p : jv_undef_attr(r, obj, name);
    }
    case JT_LOOP:
        return loop_attr(r, obj.u.loop, name);
    case JT_TUPLE:
        if (obj.u.l->group && !strcmp(name, "grouper")) return obj.u.l->v[0];
        if (obj.u.l->group && !strcmp(name, "list")) return obj.u.l->v[1];
        /* fall through */
    default: {
        jv m = mg__method(r, obj, name);
        return m.t != JT_UNDEF || m.u.uname ? m : jv_undef_attr(r, obj, name);
    }
    }
}

jv jv_getitem(rctx *r, const node *n, jv obj, jv key)
{
    if (obj.t == JT_UNDEF) mg__undef_fail(r, n, obj);
    switch (obj.t) {
    case JT_DICT: {
        jv *p = jd_get(obj.u.d, key);
        if (p) return *p;
        if (key.t == JT_STR && is_dict_method(key.u.s->s)) return mg__method(r, obj, key.u.s->s);
        break;
    }
    case JT_LIST:
    case JT_TUPLE:
        if (!obj.u.l->generator && !obj.u.l->view && (key.t == JT_INT || key.t == JT_BOOL)) {
            int64_t i = key.t == JT_BOOL ? key.u.b : key.u.i, len = (int64_t)obj.u.l->n;
            if (i < 0) i += len;
            if (i >= 0 && i < len) return obj.u.l->v[i];
        }
        break;
    case JT_STR:
        if (key.t == JT_INT || key.t == JT_BOOL) {
            const jstr *s = obj.u.s;
            int64_t i = key.t == JT_BOOL ? key.u.b : key.u.i, len = (int64_t)s->ncp;
            if (i < 0) i += len;
            if (i < 0 || i >= len) break;
            size_t b = 0;
            if (s->ncp == s->len)
                b = (size_t)i;
            else
                for (int64_t c = 0; c < i; b++)
                    if (((unsigned char)s->s[b + 1] & 0xC0) != 0x80) c++;
            size_t e = b + 1;
            while (e < s->len && ((unsigned char)s->s[e] & 0xC0) == 0x80) e++;
            return jv_str(r, s->s + b, e - b);
        }
        break;
    default:
        break;
    }
    if (key.t == JT_STR && obj.t != JT_DICT) return jv_getattr(r, n, obj, key.u.s->s);
    if (key.t == JT_STR) return jv_undef_attr(r, obj, key.u.s->s);
    return jv_undef("index out of range or not subscriptable");
}

/* Python slice semantics on len items; fills idx[] with the selected indices */
static size_t slice_indices(rctx *r, const node *n, int64_t len, jv start, jv stop, jv step,
                            int64_t **out)
{
    int64_t st = 1;
    if (step.t != JT_NONE && step.t != JT_UNDEF) {
        if (step.t != JT_INT && step.t != JT_BOOL)
            mg__rfail(r, n, "TypeError: slice indices must be integers or None");
        st = step.t == JT_BOOL ? step.u.b : step.u.i;
        if (st == 0) mg__rfail(r, n, "ValueError: slice step cannot be zero");
    }
    int64_t lo, hi;
    jv bounds[2] = {start, stop};
    int64_t vals[2];
    for (int k = 0; k < 2; k++) {
        jv b = bounds[k];
        if (b.t == JT_NONE || b.t == JT_UNDEF) {
            vals[k] = st > 0 ? (k == 0 ? 0 : len) : (k == 0 ? len - 1 : -1);
            continue;
        }
        if (b.t != JT_INT && b.t != JT_BOOL)
            mg__rfail(r, n, "TypeError: slice indices must be integers or None");
        int64_t v = b.t == JT_BOOL ? b.u.b : b.u.i;
        if (v < 0) {
            v += len;
            if (v < 0) v = st > 0 ? 0 : -1;
        } else if (v >= len)
            v = st > 0 ? len : len - 1;
        vals[k] = v;
    }
    lo = vals[0];
    hi = vals[1];
    size_t cnt = 0;
    int64_t *idx = mg__alloc(&r->ar, (size_t)(len > 0 ? len : 1) * sizeof(int64_t));
    if (st > 0)
        for (int64_t i = lo; i < hi; i += st) idx[cnt++] = i;
    else
        for (int64_t i = lo; i > hi; i += st) idx[cnt++] = i;
    *out = idx;
    return cnt;
}

static jv do_slice(rctx *r, const node *n, jv obj, jv a, jv b, jv c)
{
    if (obj.t == JT_UNDEF) mg__undef_fail(r, n, obj);
    int64_t *idx;
    if (obj.t == JT_STR) {
        const jstr *s = obj.u.s;
        /* code point offsets */
        size_t *off = mg__alloc(&r->ar, (s->ncp + 1) * sizeof(size_t));
        size_t k = 0;
        for (size_t i = 0; i < s->len; i++)
            if (((unsigned char)s->s[i] & 0xC0) != 0x80) off[k++] = i;
        off[k] = s->len;
        size_t cnt = slice_indices(r, n, (int64_t)s->ncp, a, b, c, &idx);
        sbuf o = {0};
        for (size_t i = 0; i < cnt; i++)
            sb_put(r, &o, s->s + off[idx[i]], off[idx[i] + 1] - off[idx[i]]);
        return jv_strbuf(r, &o);
    }
    if ((obj.t == JT_LIST || obj.t == JT_TUPLE) && !obj.u.l->generator && !obj.u.l->view) {
        size_t cnt = slice_indices(r, n, (int64_t)obj.u.l->n, a, b, c, &idx);
        jv l = obj.t == JT_LIST ? jv_newlist(r, cnt) : jv_newtuple(r, cnt);
        for (size_t i = 0; i < cnt; i++) jl_push(r, l.u.l, obj.u.l->v[idx[i]]);
        return l;
    }
    mg__rfail(r, n, "TypeError: '%s' object is not subscriptable", jv_typename(obj));
}

jlist *jv_iterate(rctx *r, const node *n, jv v)
{
    switch (v.t) {
    case JT_UNDEF:
        return jv_newlist(r, 0).u.l;
    case JT_LIST:
    case JT_TUPLE:
        return v.u.l;
    case JT_DICT: {
        jv l = jv_newlist(r, v.u.d->n);
        for (size_t i = 0; i < v.u.d->n; i++) jl_push(r, l.u.l, v.u.d->k[i]);
        return l.u.l;
    }
    case JT_STR: {
        jv l = jv_newlist(r, v.u.s->ncp);
        const jstr *s = v.u.s;
        for (size_t i = 0; i < s->len;) {
            size_t e = i + 1;
            while (e < s->len && ((unsigned char)s->s[e] & 0xC0) == 0x80) e++;
            jl_push(r, l.u.l, jv_str(r, s->s + i, e - i));
            i = e;
        }
        return l.u.l;
    }
    default:
        mg__rfail(r, n, "TypeError: '%s' object is not iterable", jv_typename(v));
    }
}

/* ---- operators ---------------------------------------------------------------- */

static int64_t as_i(jv v)
{
    return v.t == JT_BOOL ? v.u.b : v.u.i;
}

static double py_fmod(double a, double b)
{
    double m = fmod(a, b);
    if (m) {
        if ((b < 0) != (m < 0)) m += b;
    } else
        m = copysign(0.0, b);
    return m;
}

static double py_floordiv(double vx, double wx)
{
    double mod = fmod(vx, wx), div = (vx - mod) / wx;
    if (mod && ((wx < 0) != (mod < 0))) div -= 1.0;
    if (div) {
        double fl = floor(div);
        if (div - fl > 0.5) fl += 1.0;
        return fl;
    }
    return copysign(0.0, vx / wx);
}

static jv repeat(rctx *r, const node *n, jv seq, int64_t k)
{
    if (k < 0) k = 0;
    if (seq.t == JT_STR) {
        if (seq.u.s->len && (uint64_t)k > r->opt->max_output / seq.u.s->len)
            mg__fail(&r->ar, MG_ERANGE, "%d:%d: string repetition exceeds the output limit",
                     n->line, n->col);
        sbuf b = {0};
        for (int64_t i = 0; i < k; i++) sb_put(r, &b, seq.u.s->s, seq.u.s->len);
        return jv_strbuf(r, &b);
    }
    if (seq.u.l->n &&
        (uint64_t)k > (r->opt->max_steps ? r->opt->max_steps : UINT32_MAX) / seq.u.l->n)
        mg__fail(&r->ar, MG_ERANGE, "%d:%d: list repetition exceeds the step limit", n->line,
                 n->col);
    jv l = seq.t == JT_LIST ? jv_newlist(r, 0) : jv_newtuple(r, 0);
    for (int64_t i = 0; i < k; i++)
        for (size_t j = 0; j < seq.u.l->n; j++) jl_push(r, l.u.l, seq.u.l->v[j]);
    return l;
}

static const char *opname(int op)
{
    static const char *const s[] = {"?", "+", "-", "*", "/", "//", "%", "**"};
    return s[op];
}

static jv arith(rctx *r, const node *n, int op, jv a, jv b)
{
    if (op == OP_MOD && a.t == JT_STR && b.t == JT_UNDEF) {
        /* str % Undefined: str.__mod__ runs first and formats it */
        jargs ar = {.npos = 1, .pos = &b};
        return mg__python_format(r, n, a, &ar);
    }
    if (a.t == JT_UNDEF) mg__undef_fail(r, n, a);
    if (b.t == JT_UNDEF) mg__undef_fail(r, n, b);
    if (jv_is_num(a) && jv_is_num(b)) {
        bool fl = a.t == JT_FLOAT || b.t == JT_FLOAT;
        if (!fl) {
            int64_t x = as_i(a), y = as_i(b), z;
            switch (op) {
            case OP_ADD:
                if (__builtin_add_overflow(x, y, &z)) goto ovf;
                return jv_int(z);
            case OP_SUB:
                if (__builtin_sub_overflow(x, y, &z)) goto ovf;
                return jv_int(z);
            case OP_MUL:
                if (__builtin_mul_overflow(x, y, &z)) goto ovf;
                return jv_int(z);
            case OP_DIV:
                if (!y) mg__rfail(r, n, "ZeroDivisionError: division by zero");
                return jv_float((double)x / (double)y);
            case OP_FLOORDIV:
            case OP_MOD: {
                if (!y) mg__rfail(r, n, "ZeroDivisionError: integer division or modulo by zero");
                if (x == INT64_MIN && y == -1) goto ovf;
                int64_t q = x / y, m = x % y;
                if (m && ((m < 0) != (y < 0))) {
                    q--;
                    m += y;
                }
                return jv_int(op == OP_MOD ? m : q);
            }
            case OP_POW:
                if (y < 0 && x == 0)
                    mg__rfail(r, n, "ZeroDivisionError: 0.0 cannot be raised to a negative power");
                if (y < 0) return jv_float(pow((double)x, (double)y));
                z = 1;
                for (int64_t i = 0; i < y; i++) {
                    if (__builtin_mul_overflow(z, x, &z)) goto ovf;
                    if (z == 0 || z == 1) break;
                    if (z == -1) {
                        z = ((y - i - 1) % 2) ? -z : z;
                        break;
                    }
                }
                return jv_int(z);
            }
        }
        double x = jv_num(a), y = jv_num(b);
        switch (op) {
        case OP_ADD:
            return jv_float(x + y);
        case OP_SUB:
            return jv_float(x - y);
        case OP_MUL:
            return jv_float(x * y);
        case OP_DIV:
            if (y == 0) mg__rfail(r, n, "ZeroDivisionError: float division by zero");
            return jv_float(x / y);
        case OP_FLOORDIV:
            if (y == 0) mg__rfail(r, n, "ZeroDivisionError: float floor division by zero");
            return jv_float(py_floordiv(x, y));
        case OP_MOD:
            if (y == 0) mg__rfail(r, n, "ZeroDivisionError: float modulo");
            return jv_float(py_fmod(x, y));
        case OP_POW:
            if (x == 0 && y < 0)
                mg__rfail(r, n, "ZeroDivisionError: 0.0 cannot be raised to a negative power");
            return jv_float(pow(x, y));
        }
    }
    if (op == OP_ADD && a.t == b.t && a.t == JT_STR) {
        sbuf s = {0};
        sb_put(r, &s, a.u.s->s, a.u.s->len);
        sb_put(r, &s, b.u.s->s, b.u.s->len);
        return jv_strbuf(r, &s);
    }
    if (op == OP_ADD && a.t == b.t && (a.t == JT_LIST || a.t == JT_TUPLE) && !a.u.l->generator &&
        !b.u.l->generator) {
        jv l = a.t == JT_LIST ? jv_newlist(r, a.u.l->n + b.u.l->n)
                              : jv_newtuple(r, a.u.l->n + b.u.l->n);
        for (size_t i = 0; i < a.u.l->n; i++) jl_push(r, l.u.l, a.u.l->v[i]);
        for (size_t i = 0; i < b.u.l->n; i++) jl_push(r, l.u.l, b.u.l->v[i]);
        return l;
    }
    if (op == OP_MUL) {
        bool seq_a = a.t == JT_STR || ((a.t == JT_LIST || a.t == JT_TUPLE) && !a.u.l->generator);
        bool seq_b = b.t == JT_STR || ((b.t == JT_LIST || b.t == JT_TUPLE) && !b.u.l->generator);
        if (seq_a && (b.t == JT_INT || b.t == JT_BOOL)) return repeat(r, n, a, as_i(b));
        if (seq_b && (a.t == JT_INT || a.t == JT_BOOL)) return repeat(r, n, b, as_i(a));
    }
    if (op == OP_MOD && a.t == JT_STR) {
        jargs ar = {0};
        if (b.t == JT_TUPLE) {
            ar.npos = (int)b.u.l->n;
            ar.pos = b.u.l->v;
        } else {
            ar.npos = 1;
            ar.pos = &b;
        }
        return mg__python_format(r, n, a, &ar);
    }
    if (op == OP_ADD && a.t == JT_STR)
        mg__rfail(r, n, "TypeError: can only concatenate str (not \"%s\") to str", jv_typename(b));
    mg__rfail(r, n, "TypeError: unsupported operand type(s) for %s: '%s' and '%s'", opname(op),
              jv_typename(a), jv_typename(b));
ovf:
    mg__rfail(r, n, "OverflowError: integer result does not fit in 64 bits");
}

static bool contains(rctx *r, const node *n, jv item, jv container)
{
    switch (container.t) {
    case JT_UNDEF:
        return false;
    case JT_STR:
        if (item.t != JT_STR)
            mg__rfail(r, n, "TypeError: 'in <string>' requires string as left operand, not %s",
                      jv_typename(item));
        if (!item.u.s->len) return true;
        return memmem(container.u.s->s, container.u.s->len, item.u.s->s, item.u.s->len) != NULL;
    case JT_LIST:
    case JT_TUPLE:
        for (size_t i = 0; i < container.u.l->n; i++)
            if (jv_eq(container.u.l->v[i], item)) return true;
        return false;
    case JT_DICT:
        if (item.t == JT_LIST || item.t == JT_DICT || item.t == JT_NS)
            mg__rfail(r, n, "TypeError: unhashable type: '%s'", jv_typename(item));
        return jd_get(container.u.d, item) != NULL;
    default:
        mg__rfail(r, n, "TypeError: argument of type '%s' is not iterable", jv_typename(container));
    }
}

static bool compare(rctx *r, const node *n, int op, jv a, jv b)
{
    switch (op) {
    case CMP_EQ:
        return jv_eq(a, b);
    case CMP_NE:
        return !jv_eq(a, b);
    case CMP_IN:
        return contains(r, n, a, b);
    case CMP_NOTIN:
        return !contains(r, n, a, b);
    }
    int c = jv_cmp(r, n, a, b);
    switch (op) {
    case CMP_LT:
        return c < 0;
    case CMP_LE:
        return c <= 0;
    case CMP_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

/* ---- calls ---------------------------------------------------------------------- */

static void eval_args(rctx *r, frame *f, const callargs *ca, jargs *out, int extra_kw)
{
    int npos = ca->pos.n, nkw = ca->kwval.n;
    jv star = {0}, dstar = {0};
    if (ca->star) {
        star = ev(r, f, ca->star);
        jlist *l = jv_iterate(r, ca->star, star);
        npos += (int)l->n;
        star.u.l = l;
    }
    if (ca->dstar) {
        dstar = ev(r, f, ca->dstar);
        if (dstar.t != JT_DICT)
            mg__rfail(r, ca->dstar, "TypeError: argument after ** must be a mapping");
        nkw += (int)dstar.u.d->n;
    }
    out->pos = mg__alloc(&r->ar, (size_t)(npos + 1) * sizeof(jv));
    out->kw = mg__alloc(&r->ar, (size_t)(nkw + extra_kw + 1) * sizeof(jv));
    out->kwname = mg__alloc(&r->ar, (size_t)(nkw + extra_kw + 1) * sizeof(char *));
    out->npos = 0;
    for (int i = 0; i < ca->pos.n; i++) out->pos[out->npos++] = ev(r, f, ca->pos.v[i]);
    if (ca->star)
        for (size_t i = 0; i < star.u.l->n; i++) out->pos[out->npos++] = star.u.l->v[i];
    out->nkw = 0;
    for (int i = 0; i < ca->kwval.n; i++) {
        out->kwname[out->nkw] = ca->kwname[i];
        out->kw[out->nkw++] = ev(r, f, ca->kwval.v[i]);
    }
    if (ca->dstar)
        for (size_t i = 0; i < dstar.u.d->n; i++) {
            jv k = dstar.u.d->k[i];
            if (k.t != JT_STR) mg__rfail(r, ca->dstar, "TypeError: keywords must be strings");
            out->kwname[out->nkw] = k.u.s->s;
            out->kw[out->nkw++] = dstar.u.d->v[i];
        }
}

static void enter(rctx *r, const node *n)
{
    if (++r->depth > r->opt->max_depth)
        mg__fail(&r->ar, MG_ERANGE, "%d:%d: maximum recursion depth (%d) exceeded", n->line, n->col,
                 r->opt->max_depth);
}

static jv capture(rctx *r, frame *f, const nodelist *body)
{
    sbuf buf = {0}, *saved = r->out;
    r->out = &buf;
    exec_body(r, f, body);
    r->out = saved;
    return jv_strbuf(r, &buf);
}

static jv call_macro(rctx *r, const node *n, jfunc *fn, jargs *a)
{
    const node *d = fn->def;
    enter(r, n);
    mg__step(r, n, 1);
    frame *mf = new_frame(r, fn->closure);
    int np = d->params.n;
    jv varargs = jv_newtuple(r, 0), kwargs = jv_newdict(r);
    bool *bound = mg__alloc(&r->ar, (size_t)(np + 1) * sizeof(bool));
    const char *mname = d->kind == NK_MACRO ? d->name : "caller";
    if (a->npos > np && !(d->uses & USES_VARARGS))
        mg__rfail(r, n, "TypeError: macro '%s' takes not more than %d argument(s)", mname, np);
    for (int i = 0; i < a->npos; i++) {
        if (i < np) {
            set_var(r, mf, d->params.v[i]->name, a->pos[i]);
            bound[i] = true;
        } else
            jl_push(r, varargs.u.l, a->pos[i]);
    }
    jv caller = fn->caller;
    for (int k = 0; k < a->nkw; k++) {
        int i;
        for (i = 0; i < np; i++)
            if (!strcmp(d->params.v[i]->name, a->kwname[k])) break;
        if (i < np) {
            if (bound[i])
                mg__rfail(r, n, "TypeError: macro '%s' got multiple values for argument '%s'",
                          d->name, a->kwname[k]);
            set_var(r, mf, d->params.v[i]->name, a->kw[k]);
            bound[i] = true;
        } else if (!strcmp(a->kwname[k], "caller") && (d->uses & USES_CALLER))
            caller = a->kw[k];
        else if (d->uses & USES_KWARGS)
            jd_set(r, kwargs.u.d, jv_cstr(r, a->kwname[k]), a->kw[k]);
        else if (!strcmp(a->kwname[k], "caller"))
            mg__rfail(r, n,
                      "TypeError: macro '%s' was invoked with two values for the special caller "
                      "argument. This is most likely a bug.",
                      mname);
        else
            mg__rfail(r, n, "TypeError: macro '%s' takes no keyword argument '%s'", mname,
                      a->kwname[k]);
    }
    for (int i = 0; i < np; i++) {
        if (bound[i]) continue;
        const node *dflt = d->defaults.v[i];
        if (dflt)
            set_var(r, mf, d->params.v[i]->name, ev(r, mf, dflt));
        else {
            char *why = mg__alloc(&r->ar, strlen(d->params.v[i]->name) + 64);
            sprintf(why, "parameter '%s' was not provided", d->params.v[i]->name);
            set_var(r, mf, d->params.v[i]->name, jv_undef(why));
        }
    }
    set_var(r, mf, "varargs", varargs);
    set_var(r, mf, "kwargs", kwargs);
    if (d->uses & USES_CALLER)
        set_var(r, mf, "caller", caller.t == JT_FUNC ? caller : jv_undef("No caller defined"));
    jv out = capture(r, mf, &d->body);
    r->depth--;
    return out;
}

static void run_for(rctx *r, frame *f, const node *n, jv iterable, int depth0);

jv jv_call(rctx *r, const node *n, jv fnv, jargs *a)
{
    if (fnv.t == JT_UNDEF) mg__undef_fail(r, n, fnv);
    if (fnv.t == JT_LOOP) {
        /* loop(children) in a `for ... recursive` renders the body again */
        jloop *L = fnv.u.loop;
        if (!L->fornode->recursive)
            mg__rfail(r, n, "TypeError: the loop is not recursive; add 'recursive' to call it");
        if (a->npos != 1 || a->nkw) mg__rfail(r, n, "TypeError: loop() takes exactly one argument");
        enter(r, n);
        sbuf buf = {0}, *saved = r->out;
        r->out = &buf;
        run_for(r, L->fr, L->fornode, a->pos[0], L->depth0 + 1);
        r->out = saved;
        r->depth--;
        return jv_strbuf(r, &buf);
    }
    if (fnv.t != JT_FUNC)
        mg__rfail(r, n, "TypeError: '%s' object is not callable", jv_typename(fnv));
    jfunc *fn = fnv.u.fn;
    switch (fn->kind) {
    case JF_BUILTIN:
        return fn->fn(r, n, jv_none(), a);
    case JF_METHOD:
        return fn->fn(r, n, fn->self, a);
    case JF_MACRO:
        return call_macro(r, n, fn, a);
    default:
        break;
    }
    mg__rfail(r, n, "TypeError: object is not callable");
}

/* ---- expressions ------------------------------------------------------------------- */

static jv ev_filter(rctx *r, frame *f, const node *n, jv hole)
{
    jv v;
    if (!n->a)
        v = hole;
    else if (n->a->kind == NK_FILTER)
        v = ev_filter(r, f, n->a, hole);
    else
        v = ev(r, f, n->a);
    jargs a = {0};
    eval_args(r, f, &n->args, &a, 0);
    const filter_entry *fe = n->fn;
    r->line = n->line;
    r->col = n->col;
    return fe->fn(r, n, v, &a);
}

static jv ev(rctx *r, frame *f, const node *n)
{
    switch (n->kind) {
    case NK_LIT:
        return n->lit;
    case NK_NAME:
        return lookup(r, f, n);
    case NK_LIST:
    case NK_TUPLE: {
        jv l = n->kind == NK_LIST ? jv_newlist(r, (size_t)n->kids.n)
                                  : jv_newtuple(r, (size_t)n->kids.n);
        for (int i = 0; i < n->kids.n; i++) jl_push(r, l.u.l, ev(r, f, n->kids.v[i]));
        return l;
    }
    case NK_DICT: {
        jv d = jv_newdict(r);
        for (int i = 0; i + 1 < n->kids.n; i += 2)
            jd_set(r, d.u.d, ev(r, f, n->kids.v[i]), ev(r, f, n->kids.v[i + 1]));
        return d;
    }
    case NK_GETATTR:
        return jv_getattr(r, n, ev(r, f, n->a), n->name);
    case NK_GETITEM: {
        jv o = ev(r, f, n->a);
        return jv_getitem(r, n, o, ev(r, f, n->b));
    }
    case NK_SLICE: {
        jv o = ev(r, f, n->a), p[3];
        for (int i = 0; i < 3; i++) p[i] = n->kids.v[i] ? ev(r, f, n->kids.v[i]) : jv_none();
        if (n->konst) {
            /* folded by Jinja2 through environment.getitem: TypeError -> Undefined */
            bool seq = o.t == JT_STR ||
                       ((o.t == JT_LIST || o.t == JT_TUPLE) && !o.u.l->generator && !o.u.l->view);
            for (int i = 0; i < 3; i++)
                seq = seq && (p[i].t == JT_NONE || p[i].t == JT_INT || p[i].t == JT_BOOL);
            if (!seq) {
                /* used later, Python would not have folded it and raises this */
                char *why = mg__alloc(&r->ar, 96);
                snprintf(why, 96, "TypeError: '%s' object is not subscriptable", jv_typename(o));
                return jv_undef(why);
            }
        }
        return do_slice(r, n, o, p[0], p[1], p[2]);
    }
    case NK_CALL: {
        jv fn = ev(r, f, n->a);
        jargs a = {0};
        eval_args(r, f, &n->args, &a, 0);
        return jv_call(r, n, fn, &a);
    }
    case NK_FILTER:
        return ev_filter(r, f, n, jv_undef(NULL));
    case NK_TEST: {
        jv v = ev(r, f, n->a);
        jargs a = {0};
        eval_args(r, f, &n->args, &a, 0);
        const test_entry *te = n->fn;
        if (a.npos > te->nargs)
            mg__rfail(r, n, "TypeError: test_%s() takes %d positional argument%s but %d were given",
                      te->name, te->nargs + 1, te->nargs ? "s" : "", a.npos + 1);
        bool res = te->fn(r, n, v, &a);
        return jv_bool(res != n->negate);
    }
    case NK_BINOP: {
        jv a = ev(r, f, n->a);
        return arith(r, n, n->op, a, ev(r, f, n->b));
    }
    case NK_UNARY: {
        jv a = ev(r, f, n->a);
        if (a.t == JT_UNDEF) mg__undef_fail(r, n, a);
        if (a.t == JT_FLOAT) return jv_float(n->op == OP_SUB ? -a.u.f : a.u.f);
        if (a.t == JT_INT || a.t == JT_BOOL) {
            int64_t x = as_i(a);
            if (n->op == OP_SUB) {
                if (x == INT64_MIN) mg__rfail(r, n, "OverflowError: integer negation");
                x = -x;
            }
            return jv_int(x);
        }
        mg__rfail(r, n, "TypeError: bad operand type for unary %c: '%s'",
                  n->op == OP_SUB ? '-' : '+', jv_typename(a));
    }
    case NK_NOT:
        return jv_bool(!jv_truthy(ev(r, f, n->a)));
    case NK_AND: {
        jv a = ev(r, f, n->a);
        return jv_truthy(a) ? ev(r, f, n->b) : a;
    }
    case NK_OR: {
        jv a = ev(r, f, n->a);
        return jv_truthy(a) ? a : ev(r, f, n->b);
    }
    case NK_COMPARE: {
        jv a = ev(r, f, n->a);
        for (int i = 0; i < n->kids.n; i++) {
            jv b = ev(r, f, n->kids.v[i]);
            if (!compare(r, n, n->ops[i], a, b)) return jv_bool(false);
            a = b;
        }
        return jv_bool(true);
    }
    case NK_COND:
        if (jv_truthy(ev(r, f, n->a))) return ev(r, f, n->b);
        return n->c ? ev(r, f, n->c) : jv_undef("the inline if-expression evaluated to false");
    case NK_CONCAT: {
        sbuf b = {0};
        for (int i = 0; i < n->kids.n; i++) jv_str_into(r, &b, ev(r, f, n->kids.v[i]));
        return jv_strbuf(r, &b);
    }
    default:
        mg__rfail(r, n, "internal error: not an expression");
    }
}

/* ---- statements ------------------------------------------------------------------- */

static void assign(rctx *r, frame *f, const node *target, jv v)
{
    if (target->kind == NK_NAME) {
        set_var(r, f, target->name, v);
        return;
    }
    if (target->kind == NK_GETATTR) {
        jv ns = lookup(r, f, target->a);
        if (ns.t != JT_NS)
            mg__rfail(r, target,
                      "TemplateRuntimeError: cannot assign attribute on non-namespace object");
        jd_set(r, ns.u.d, jv_cstr(r, target->name), v);
        return;
    }
    /* tuple unpacking */
    jlist *items = jv_iterate(r, target, v);
    if ((int)items->n != target->kids.n)
        mg__rfail(r, target, "ValueError: %s values to unpack (expected %d, got %zu)",
                  (int)items->n < target->kids.n ? "not enough" : "too many", target->kids.n,
                  items->n);
    for (int i = 0; i < target->kids.n; i++) assign(r, f, target->kids.v[i], items->v[i]);
}

static jv loop_cycle(rctx *r, const node *n, jv self, jargs *a)
{
    if (!a->npos) mg__rfail(r, n, "TypeError: no items for cycling given");
    return a->pos[self.u.loop->idx % (size_t)a->npos];
}

static jv loop_changed(rctx *r, const node *n, jv self, jargs *a)
{
    jloop *L = self.u.loop;
    jv t = jv_newlist(r, (size_t)a->npos);
    for (int i = 0; i < a->npos; i++) jl_push(r, t.u.l, a->pos[i]);
    if (L->has_changed && jv_eq(L->last_changed, t)) return jv_bool(false);
    L->has_changed = true;
    L->last_changed = t;
    return jv_bool(true);
}

static jv mk_method(rctx *r, const char *name, builtin_fn fn, jv self)
{
    jfunc *fc = mg__alloc(&r->ar, sizeof(jfunc));
    fc->kind = JF_METHOD;
    fc->name = name;
    fc->fn = fn;
    fc->self = self;
    return (jv){.t = JT_FUNC, .u.fn = fc};
}

static void run_for(rctx *r, frame *f, const node *n, jv iterable, int depth0)
{
    jlist *src = jv_iterate(r, n->a, iterable);
    jlist *items = src;
    if (n->b) {
        /* the inline filter sees the loop target but not `loop` */
        jv l = jv_newlist(r, src->n);
        for (size_t i = 0; i < src->n; i++) {
            mg__step(r, n, 1);
            frame *tf = new_frame(r, f);
            assign(r, tf, n->target, src->v[i]);
            if (jv_truthy(ev(r, tf, n->b))) jl_push(r, l.u.l, src->v[i]);
        }
        items = l.u.l;
    }
    if (!items->n) {
        exec_body(r, f, &n->orelse);
        return;
    }
    jloop *L = mg__alloc(&r->ar, sizeof(jloop));
    L->items = items;
    L->depth0 = depth0;
    L->fornode = n;
    L->fr = f;
    jv lv = {.t = JT_LOOP, .u.loop = L};
    L->cycle_fn = mk_method(r, "cycle", loop_cycle, lv);
    L->changed_fn = mk_method(r, "changed", loop_changed, lv);
    jv loopval = lv;
    for (size_t i = 0; i < items->n; i++) {
        mg__step(r, n, 1);
        L->idx = i;
        frame *it = new_frame(r, f);
        set_var(r, it, "loop", loopval);
        assign(r, it, n->target, items->v[i]);
        int fl = exec_body(r, it, &n->body);
        if (fl == FL_BREAK) break;
    }
}

static int exec_node(rctx *r, frame *f, const node *n)
{
    switch (n->kind) {
    case NK_DATA:
        emit(r, n, n->lit.u.s->s, n->lit.u.s->len);
        return FL_NONE;
    case NK_OUTPUT: {
        jv v = ev(r, f, n->a);
        if (v.t == JT_STR)
            emit(r, n, v.u.s->s, v.u.s->len);
        else {
            sbuf b = {0};
            jv_str_into(r, &b, v);
            emit(r, n, b.p ? b.p : "", b.n);
        }
        return FL_NONE;
    }
    case NK_IF:
        if (jv_truthy(ev(r, f, n->a))) return exec_body(r, f, &n->body);
        return exec_body(r, f, &n->orelse);
    case NK_FOR:
        run_for(r, f, n, ev(r, f, n->a), 0);
        return FL_NONE;
    case NK_SET:
        assign(r, f, n->target, ev(r, f, n->a));
        return FL_NONE;
    case NK_SETBLOCK: {
        jv v = capture(r, new_frame(r, f), &n->body);
        if (n->b) v = ev_filter(r, f, n->b, v);
        assign(r, f, n->target, v);
        return FL_NONE;
    }
    case NK_MACRO: {
        jfunc *fc = mg__alloc(&r->ar, sizeof(jfunc));
        fc->kind = JF_MACRO;
        fc->name = n->name;
        fc->def = n;
        fc->closure = f;
        set_var(r, f, n->name, (jv){.t = JT_FUNC, .u.fn = fc});
        return FL_NONE;
    }
    case NK_CALLBLOCK: {
        jfunc *cl = mg__alloc(&r->ar, sizeof(jfunc));
        cl->kind = JF_MACRO;
        cl->name = "caller";
        cl->def = n;
        cl->closure = f;
        const node *c = n->a;
        jv fn = ev(r, f, c->a);
        jargs a = {0};
        eval_args(r, f, &c->args, &a, 1);
        a.kwname[a.nkw] = "caller";
        a.kw[a.nkw++] = (jv){.t = JT_FUNC, .u.fn = cl};
        jv v = jv_call(r, c, fn, &a);
        sbuf b = {0};
        jv_str_into(r, &b, v);
        emit(r, n, b.p ? b.p : "", b.n);
        return FL_NONE;
    }
    case NK_FILTERBLOCK: {
        jv v = capture(r, new_frame(r, f), &n->body);
        v = ev_filter(r, f, n->b, v);
        sbuf b = {0};
        jv_str_into(r, &b, v);
        emit(r, n, b.p ? b.p : "", b.n);
        return FL_NONE;
    }
    case NK_WITH: {
        frame *w = new_frame(r, f);
        for (int i = 0; i < n->params.n; i++)
            assign(r, w, n->params.v[i], ev(r, f, n->defaults.v[i]));
        return exec_body(r, w, &n->body);
    }
    case NK_BLOCK:
        return exec_body(r, f, &n->body);
    case NK_BREAK:
        return FL_BREAK;
    case NK_CONTINUE:
        return FL_CONTINUE;
    default: {
        /* an expression statement cannot occur; keep the interpreter total */
        mg__rfail(r, n, "internal error: not a statement");
    }
    }
}

static int exec_body(rctx *r, frame *f, const nodelist *body)
{
    for (int i = 0; i < body->n; i++) {
        int fl = exec_node(r, f, body->v[i]);
        if (fl != FL_NONE) return fl;
    }
    return FL_NONE;
}

/* ---- public API ----------------------------------------------------------------------- */

mg_jinja_options mg_jinja_default_options(void)
{
    mg_jinja_options o = {0};
    o.max_output = (size_t)64 << 20;
    o.max_memory = (size_t)512 << 20;
    o.max_steps = 10000000;
    o.max_depth = 200;
    return o;
}

int mg_jinja_parse(const char *src, size_t len, mg_jinja **out, mg_error *err)
{
    *out = NULL;
    mg_jinja *t = calloc(1, sizeof *t);
    if (!t) return mg_error_set(err, MG_ENOMEM, "out of memory");
    jmp_buf jb;
    mg_error local = {0};
    t->ar.jb = &jb;
    t->ar.err = err ? err : &local;
    t->ar.limit = (size_t)1 << 30;
    if (setjmp(jb)) {
        int code = t->ar.err->code;
        mg__arena_free(&t->ar);
        free(t);
        return code ? code : MG_EFORMAT;
    }
    size_t n;
    char *s = mg__normalize_source(&t->ar, src ? src : "", src ? len : 0, &n);
    tokens toks = {0};
    mg__lex(&t->ar, s, n, &toks);
    t->root = mg__parse(&t->ar, &toks);
    t->ar.jb = NULL;
    t->ar.err = NULL;
    *out = t;
    return 0;
}

void mg_jinja_free(mg_jinja *t)
{
    if (!t) return;
    mg__arena_free(&t->ar);
    free(t);
}

static int render_any(const mg_jinja *t, const json_t *context, const char *text, size_t text_len,
                      const mg_jinja_options *opt, char **out, size_t *out_len, mg_error *err)
{
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!t) return mg_error_set(err, MG_EINVAL, "no template");
    if (context && !json_is_object(context))
        return mg_error_set(err, MG_EINVAL, "template context must be a JSON object");
    mg_jinja_options dflt = mg_jinja_default_options();
    if (!opt) opt = &dflt;
    rctx *r = calloc(1, sizeof *r);
    if (!r) return mg_error_set(err, MG_ENOMEM, "out of memory");
    jmp_buf jb;
    mg_error local = {0};
    r->ar.jb = &jb;
    r->ar.err = err ? err : &local;
    r->ar.limit = opt->max_memory;
    r->opt = opt;
    if (setjmp(jb)) {
        int code = r->ar.err->code;
        mg__arena_free(&r->ar);
        free(r);
        return code ? code : MG_EFORMAT;
    }
    if (context) {
        jv ctx = jv_from_json(r, context);
        r->globals = *ctx.u.d;
    } else if (text) {
        jv ctx = mg__parse_json_text(r, text, text_len);
        if (ctx.t != JT_DICT) mg__fail(&r->ar, MG_EINVAL, "template context must be a JSON object");
        r->globals = *ctx.u.d;
    }
    sbuf top = {0};
    r->out = &top;
    frame *root = new_frame(r, NULL);
    exec_body(r, root, &t->root->body);
    char *res = malloc(top.n + 1);
    if (!res) mg__fail(&r->ar, MG_ENOMEM, "out of memory");
    if (top.n) memcpy(res, top.p, top.n);
    res[top.n] = 0;
    *out = res;
    if (out_len) *out_len = top.n;
    mg__arena_free(&r->ar);
    free(r);
    return 0;
}

int mg_jinja_render(const mg_jinja *t, const json_t *context, const mg_jinja_options *opt,
                    char **out, size_t *out_len, mg_error *err)
{
    return render_any(t, context, NULL, 0, opt, out, out_len, err);
}

int mg_jinja_render_json(const mg_jinja *t, const char *json, size_t len,
                         const mg_jinja_options *opt, char **out, size_t *out_len, mg_error *err)
{
    if (!json) {
        *out = NULL;
        return mg_error_set(err, MG_EINVAL, "no context");
    }
    return render_any(t, NULL, json, len, opt, out, out_len, err);
}
