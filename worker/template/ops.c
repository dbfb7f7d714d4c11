/* ops.c — Python's binary operators and comparisons on template values:
 * int/float/bool arithmetic with Python's floor division and modulo, str and
 * list concatenation and repetition, `str % args`, `in`, ordering. */
#include "internal.h"

#include <math.h>
#include <string.h>

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

jv mg__arith(rctx *r, const node *n, int op, jv a, jv b)
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
    if (op == OP_ADD && a.t == b.t && a.t == JT_STR && (is_markup(a) || is_markup(b))) {
        /* Markup + str escapes the str (markupsafe __add__ / __radd__) */
        jv x = mg__escape(r, a), y = mg__escape(r, b);
        sbuf s = {0};
        sb_put(r, &s, x.u.s->s, x.u.s->len);
        sb_put(r, &s, y.u.s->s, y.u.s->len);
        return mg__as_markup(r, jv_strbuf(r, &s));
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
        if (seq_a && (b.t == JT_INT || b.t == JT_BOOL)) {
            jv o = repeat(r, n, a, as_i(b));
            return is_markup(a) ? mg__as_markup(r, o) : o;
        }
        if (seq_b && (a.t == JT_INT || a.t == JT_BOOL)) {
            jv o = repeat(r, n, b, as_i(a));
            return is_markup(b) ? mg__as_markup(r, o) : o;
        }
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
        if (is_markup(a)) {
            /* Markup % args escapes the string arguments */
            jv *esc = mg__alloc(&r->ar, (size_t)(ar.npos + 1) * sizeof(jv));
            for (int i = 0; i < ar.npos; i++)
                esc[i] = ar.pos[i].t == JT_STR ? mg__escape(r, ar.pos[i]) : ar.pos[i];
            ar.pos = esc;
            return mg__as_markup(r, mg__python_format(r, n, a, &ar));
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
        if (container.u.l->generator) {
            /* `x in gen` consumes the generator up to and including the match */
            jlist *items = mg__peek(r, n, container), *g = container.u.l;
            for (size_t i = 0; i < items->n; i++)
                if (jv_eq(items->v[i], item)) {
                    memmove(g->v, g->v + i + 1, (g->n - i - 1) * sizeof(jv));
                    g->n -= i + 1;
                    return true;
                }
            jv_iterate(r, n, container); /* not found: exhausted */
            return false;
        }
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

bool mg__compare(rctx *r, const node *n, int op, jv a, jv b)
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
