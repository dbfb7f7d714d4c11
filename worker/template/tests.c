/* tests.c — Jinja2's builtin tests (jinja2/tests.py) for `is`, select and
 * reject, with Python semantics (bool counts as a number, Undefined is
 * callable and iterable, ...). */
#include "internal.h"

#include <math.h>
#include <string.h>

#define T(name) static bool t_##name(rctx *r, const node *n, jv v, jargs *a)

static jv soft_str(rctx *r, jv v)
{
    return jv_to_str(r, v);
}

static jv targ(rctx *r, const node *n, jargs *a, const char *name)
{
    if (a->npos < 1) mg__rfail(r, n, "TypeError: test '%s' needs an argument", name);
    return a->pos[0];
}
T(defined)
{
    return v.t != JT_UNDEF;
}
T(undefined)
{
    return v.t == JT_UNDEF;
}
T(none)
{
    return v.t == JT_NONE;
}
T(boolean)
{
    return v.t == JT_BOOL;
}
T(false)
{
    return v.t == JT_BOOL && !v.u.b;
}
T(true)
{
    return v.t == JT_BOOL && v.u.b;
}
T(integer)
{
    return v.t == JT_INT;
}
T(float)
{
    return v.t == JT_FLOAT;
}
T(number)
{
    return jv_is_num(v);
}
T(string)
{
    return v.t == JT_STR;
}
T(mapping)
{
    return v.t == JT_DICT;
}
T(iterable)
{
    return v.t == JT_UNDEF || v.t == JT_STR || v.t == JT_LIST || v.t == JT_TUPLE ||
           v.t == JT_DICT || v.t == JT_LOOP;
}
T(sequence)
{
    return v.t == JT_UNDEF || v.t == JT_STR ||
           ((v.t == JT_LIST || v.t == JT_TUPLE) && !v.u.l->generator && !v.u.l->view) ||
           v.t == JT_DICT;
}
T(callable)
{
    /* Undefined defines __call__ (to raise), so Python calls it callable */
    return v.t == JT_FUNC || v.t == JT_UNDEF || (v.t == JT_LOOP && v.u.loop->fornode->recursive);
}
T(odd)
{
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v);
    if (!jv_is_num(v))
        mg__rfail(r, n, "TypeError: not all arguments converted during string formatting");
    if (v.t == JT_FLOAT) return fmod(fabs(v.u.f), 2.0) == 1.0;
    int64_t i = v.t == JT_BOOL ? v.u.b : v.u.i;
    return (i % 2) != 0;
}
T(even)
{
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v);
    if (!jv_is_num(v))
        mg__rfail(r, n, "TypeError: not all arguments converted during string formatting");
    if (v.t == JT_FLOAT) return fmod(v.u.f, 2.0) == 0.0;
    int64_t i = v.t == JT_BOOL ? v.u.b : v.u.i;
    return (i % 2) == 0;
}
T(divisibleby)
{
    jv d = targ(r, n, a, "divisibleby");
    if (v.t == JT_UNDEF) mg__undef_fail(r, n, v);
    if (!jv_is_num(v) || !jv_is_num(d)) mg__rfail(r, n, "TypeError: divisibleby needs numbers");
    if (v.t == JT_FLOAT || d.t == JT_FLOAT) {
        if (jv_num(d) == 0) mg__rfail(r, n, "ZeroDivisionError: float modulo");
        return fmod(jv_num(v), jv_num(d)) == 0;
    }
    int64_t x = v.t == JT_BOOL ? v.u.b : v.u.i, y = d.t == JT_BOOL ? d.u.b : d.u.i;
    if (!y) mg__rfail(r, n, "ZeroDivisionError: integer division or modulo by zero");
    if (y == -1) return true;
    return x % y == 0;
}
T(eq)
{
    return jv_eq(v, targ(r, n, a, "eq"));
}
T(ne)
{
    return !jv_eq(v, targ(r, n, a, "ne"));
}
T(lt)
{
    return jv_cmp(r, n, v, targ(r, n, a, "lt")) < 0;
}
T(le)
{
    return jv_cmp(r, n, v, targ(r, n, a, "le")) <= 0;
}
T(gt)
{
    return jv_cmp(r, n, v, targ(r, n, a, "gt")) > 0;
}
T(ge)
{
    return jv_cmp(r, n, v, targ(r, n, a, "ge")) >= 0;
}
T(in)
{
    jv c = targ(r, n, a, "in");
    switch (c.t) {
    case JT_STR:
        if (v.t != JT_STR)
            mg__rfail(r, n, "TypeError: 'in <string>' requires string as left operand");
        return !v.u.s->len || memmem(c.u.s->s, c.u.s->len, v.u.s->s, v.u.s->len);
    case JT_LIST:
    case JT_TUPLE:
        for (size_t i = 0; i < c.u.l->n; i++)
            if (jv_eq(c.u.l->v[i], v)) return true;
        return false;
    case JT_DICT:
        return jd_get(c.u.d, v) != NULL;
    case JT_UNDEF:
        return false;
    default:
        mg__rfail(r, n, "TypeError: argument of type '%s' is not iterable", jv_typename(c));
    }
}
T(lower)
{
    jv s = soft_str(r, v);
    jargs none = {0};
    return jv_truthy(jv_call(r, n, jv_getattr(r, n, s, "islower"), &none));
}
T(upper)
{
    jv s = soft_str(r, v);
    jargs none = {0};
    return jv_truthy(jv_call(r, n, jv_getattr(r, n, s, "isupper"), &none));
}
T(sameas)
{
    jv o = targ(r, n, a, "sameas");
    if (v.t != o.t) return false;
    switch (v.t) {
    case JT_NONE:
    case JT_UNDEF:
        return true;
    case JT_BOOL:
        return v.u.b == o.u.b;
    case JT_INT:
        return v.u.i == o.u.i && v.u.i >= -5 && v.u.i <= 256;
    case JT_STR:
        return v.u.s == o.u.s;
    case JT_LIST:
    case JT_TUPLE:
        return v.u.l == o.u.l;
    case JT_DICT:
    case JT_NS:
        return v.u.d == o.u.d;
    default:
        return false;
    }
}
T(escaped)
{
    return false;
}
T(filter)
{
    return v.t == JT_STR && mg__find_filter(v.u.s->s);
}
T(test)
{
    return v.t == JT_STR && mg__find_test(v.u.s->s);
}

static const test_entry TESTS[] = {{"boolean", t_boolean, 0},
                                   {"callable", t_callable, 0},
                                   {"defined", t_defined, 0},
                                   {"divisibleby", t_divisibleby, 1},
                                   {"eq", t_eq, 1},
                                   {"equalto", t_eq, 1},
                                   {"==", t_eq, 1},
                                   {"escaped", t_escaped, 0},
                                   {"even", t_even, 0},
                                   {"false", t_false, 0},
                                   {"filter", t_filter, 0},
                                   {"float", t_float, 0},
                                   {"ge", t_ge, 1},
                                   {">=", t_ge, 1},
                                   {"gt", t_gt, 1},
                                   {"greaterthan", t_gt, 1},
                                   {">", t_gt, 1},
                                   {"in", t_in, 1},
                                   {"integer", t_integer, 0},
                                   {"iterable", t_iterable, 0},
                                   {"le", t_le, 1},
                                   {"<=", t_le, 1},
                                   {"lower", t_lower, 0},
                                   {"lt", t_lt, 1},
                                   {"lessthan", t_lt, 1},
                                   {"<", t_lt, 1},
                                   {"mapping", t_mapping, 0},
                                   {"ne", t_ne, 1},
                                   {"!=", t_ne, 1},
                                   {"none", t_none, 0},
                                   {"number", t_number, 0},
                                   {"odd", t_odd, 0},
                                   {"sameas", t_sameas, 1},
                                   {"sequence", t_sequence, 0},
                                   {"string", t_string, 0},
                                   {"test", t_test, 0},
                                   {"true", t_true, 0},
                                   {"undefined", t_undefined, 0},
                                   {"upper", t_upper, 0},
                                   {NULL, NULL, 0}};

const test_entry *mg__find_test(const char *name)
{
    for (int i = 0; TESTS[i].name; i++)
        if (!strcmp(TESTS[i].name, name)) return &TESTS[i];
    return NULL;
}
