/* parser.c — tokens to AST, following jinja2.parser.Parser's grammar and
 * precedence (lowest first):
 *   cond-expr (a if b else c) < or < and < not < compare (== != < <= > >= in,
 *   not in) < + - < ~ < * / // % < ** < unary - + < primary/postfix, with
 *   filters `|f`, tests `is t` and calls applied after a unary operand.
 * Unknown tags, filters and tests are parse errors, as in Jinja2 (where they
 * fail at compile time). Every error carries the token's line:column. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct ps {
    mg__arena *a;
    const token *t;
    size_t n, i;
    int loop_depth; /* break/continue need an enclosing for */
    int depth;      /* nesting of expressions and blocks: bounded, so hostile
                       input cannot overflow the C stack */
} ps;

#define MAX_NESTING 400

_Noreturn static void pfail(ps *P, const token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn static void pfail(ps *P, const token *t, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mg__fail(P->a, MG_EFORMAT, "%d:%d: TemplateSyntaxError: %s", t->line, t->col, msg);
}

static const token *cur(ps *P)
{
    return &P->t[P->i < P->n ? P->i : P->n - 1];
}
static const token *peek(ps *P, size_t k)
{
    size_t j = P->i + k;
    return &P->t[j < P->n ? j : P->n - 1];
}
static const token *next(ps *P)
{
    const token *t = cur(P);
    if (P->i < P->n - 1) P->i++;
    return t;
}
static bool is_op(const token *t, const char *op)
{
    return t->type == TK_OP && !strcmp(t->s, op);
}
static bool is_name(const token *t, const char *nm)
{
    return t->type == TK_NAME && !strcmp(t->s, nm);
}
static const char *describe(const token *t)
{
    switch (t->type) {
    case TK_EOF:
        return "end of template";
    case TK_DATA:
        return "template data";
    case TK_VAR_BEGIN:
        return "{{";
    case TK_VAR_END:
        return "}}";
    case TK_BLOCK_BEGIN:
        return "{%";
    case TK_BLOCK_END:
        return "%}";
    case TK_NAME:
        return t->s;
    case TK_STRING:
        return "string";
    case TK_INT:
        return "integer";
    case TK_FLOAT:
        return "float";
    case TK_OP:
        return t->s;
    }
    return "token";
}
static void expect_op(ps *P, const char *op)
{
    const token *t = cur(P);
    if (!is_op(t, op)) pfail(P, t, "expected '%s', got '%s'", op, describe(t));
    next(P);
}
static const token *expect_type(ps *P, int type, const char *what)
{
    const token *t = cur(P);
    if (t->type != type) pfail(P, t, "expected %s, got '%s'", what, describe(t));
    return next(P);
}
static void expect_block_end(ps *P)
{
    expect_type(P, TK_BLOCK_END, "'%}'");
}

static node *mk(ps *P, int kind, const token *at)
{
    node *n = mg__alloc(P->a, sizeof(node));
    n->kind = (uint8_t)kind;
    n->line = at->line;
    n->col = at->col;
    return n;
}

static void nl_push(ps *P, nodelist *l, node *x)
{
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 4;
        node **nv = mg__alloc(P->a, (size_t)nc * sizeof(node *));
        if (l->n) memcpy(nv, l->v, (size_t)l->n * sizeof(node *));
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = x;
}

/* ---- expressions ---------------------------------------------------------------- */

static node *parse_expr(ps *P, bool with_condexpr);
static node *parse_or(ps *P);
static node *parse_unary(ps *P, bool with_filter);
static node *parse_primary(ps *P);
static node *parse_postfix(ps *P, node *x);

static bool is_tuple_end(ps *P, const char *const *extra)
{
    const token *t = cur(P);
    if (t->type == TK_VAR_END || t->type == TK_BLOCK_END || t->type == TK_EOF) return true;
    if (is_op(t, ")") || is_op(t, "]") || is_op(t, "}")) return true;
    if (extra)
        for (int i = 0; extra[i]; i++)
            if (is_name(t, extra[i])) return true;
    return false;
}

/* a, b, c  -> tuple; a -> a. explicit: inside parentheses (allows "()"). */
static node *parse_tuple(ps *P, bool with_condexpr, bool explicit_parens,
                         const char *const *extra_end)
{
    const token *start = cur(P);
    node *tup = mk(P, NK_TUPLE, start);
    bool comma = false;
    for (;;) {
        if (tup->kids.n) expect_op(P, ",");
        if (is_tuple_end(P, extra_end)) break;
        nl_push(P, &tup->kids, parse_expr(P, with_condexpr));
        if (is_op(cur(P), ","))
            comma = true;
        else
            break;
    }
    if (!comma) {
        if (tup->kids.n) return tup->kids.v[0];
        if (!explicit_parens)
            pfail(P, cur(P), "expected an expression, got '%s'", describe(cur(P)));
    }
    return tup;
}

static void parse_call_args(ps *P, callargs *ca)
{
    /* after '(' */
    bool first = true;
    while (!is_op(cur(P), ")")) {
        if (!first) {
            expect_op(P, ",");
            if (is_op(cur(P), ")")) break;
        }
        first = false;
        const token *t = cur(P);
        if (is_op(t, "*")) {
            next(P);
            ca->star = parse_expr(P, true);
        } else if (is_op(t, "**")) {
            next(P);
            ca->dstar = parse_expr(P, true);
        } else if (t->type == TK_NAME && is_op(peek(P, 1), "=")) {
            next(P);
            next(P);
            int k = ca->kwval.n;
            nl_push(P, &ca->kwval, parse_expr(P, true));
            const char **nn = mg__alloc(P->a, (size_t)ca->kwval.cap * sizeof(char *));
            if (k) memcpy(nn, ca->kwname, (size_t)k * sizeof(char *));
            nn[k] = t->s;
            ca->kwname = nn;
        } else {
            if (ca->kwval.n) pfail(P, t, "positional argument follows keyword argument");
            nl_push(P, &ca->pos, parse_expr(P, true));
        }
    }
    expect_op(P, ")");
}

static const char *dotted_name(ps *P)
{
    const token *t = expect_type(P, TK_NAME, "a name");
    const char *nm = t->s;
    while (is_op(cur(P), ".") && peek(P, 1)->type == TK_NAME) {
        next(P);
        const token *u = next(P);
        size_t l1 = strlen(nm), l2 = strlen(u->s);
        char *c = mg__alloc(P->a, l1 + l2 + 2);
        memcpy(c, nm, l1);
        c[l1] = '.';
        memcpy(c + l1 + 1, u->s, l2 + 1);
        nm = c;
    }
    return nm;
}

static node *parse_filter(ps *P, node *operand)
{
    /* after '|' */
    const token *t = cur(P);
    const char *nm = dotted_name(P);
    node *f = mk(P, NK_FILTER, t);
    f->a = operand;
    f->name = nm;
    f->fn = mg__find_filter(nm);
    if (!f->fn) pfail(P, t, "no filter named '%s'", nm);
    if (is_op(cur(P), "(")) {
        next(P);
        parse_call_args(P, &f->args);
    }
    return f;
}

static node *parse_test(ps *P, node *operand)
{
    const token *is = next(P); /* 'is' */
    node *tn = mk(P, NK_TEST, is);
    tn->a = operand;
    if (is_name(cur(P), "not")) {
        next(P);
        tn->negate = true;
    }
    const token *t = cur(P);
    tn->name = dotted_name(P);
    tn->fn = mg__find_test(tn->name);
    if (!tn->fn) pfail(P, t, "no test named '%s'", tn->name);
    const token *c = cur(P);
    if (is_op(c, "(")) {
        next(P);
        parse_call_args(P, &tn->args);
    } else if ((c->type == TK_NAME || c->type == TK_STRING || c->type == TK_INT ||
                c->type == TK_FLOAT || is_op(c, "[") || is_op(c, "{")) &&
               !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
        if (is_name(c, "is")) pfail(P, c, "you cannot chain multiple tests with is");
        node *arg = parse_postfix(P, parse_primary(P));
        nl_push(P, &tn->args.pos, arg);
    }
    return tn;
}

static node *parse_subscript_arg(ps *P)
{
    const token *t = cur(P);
    node *parts[3] = {0};
    if (is_op(t, ":")) {
        /* slice with empty start */
    } else {
        node *e = parse_expr(P, true);
        if (!is_op(cur(P), ":")) return e;
        parts[0] = e;
    }
    next(P); /* ':' */
    if (!is_op(cur(P), "]") && !is_op(cur(P), ",") && !is_op(cur(P), ":"))
        parts[1] = parse_expr(P, true);
    if (is_op(cur(P), ":")) {
        next(P);
        if (!is_op(cur(P), "]") && !is_op(cur(P), ",")) parts[2] = parse_expr(P, true);
    }
    node *s = mk(P, NK_SLICE, t);
    for (int i = 0; i < 3; i++) nl_push(P, &s->kids, parts[i]);
    return s;
}

/* Whether Jinja2's optimizer can fold the expression to a constant. */
static bool is_const(const node *n, int depth)
{
    if (!n) return true;
    if (depth > MAX_NESTING) return false;
    switch (n->kind) {
    case NK_LIT:
        return true;
    case NK_LIST:
    case NK_TUPLE:
    case NK_DICT:
    case NK_CONCAT:
    case NK_COMPARE:
    case NK_SLICE:
        for (int i = 0; i < n->kids.n; i++)
            if (!is_const(n->kids.v[i], depth + 1)) return false;
        return is_const(n->a, depth + 1);
    case NK_UNARY:
    case NK_NOT:
    case NK_BINOP:
    case NK_AND:
    case NK_OR:
    case NK_COND:
    case NK_GETATTR:
    case NK_GETITEM:
        return is_const(n->a, depth + 1) && is_const(n->b, depth + 1) && is_const(n->c, depth + 1);
    case NK_FILTER:
    case NK_TEST:
        if (n->args.star || n->args.dstar) return false;
        /* filters that take the context (@pass_context) never fold */
        if (n->kind == NK_FILTER &&
            (!strcmp(n->name, "map") || !strcmp(n->name, "select") || !strcmp(n->name, "reject") ||
             !strcmp(n->name, "selectattr") || !strcmp(n->name, "rejectattr")))
            return false;
        for (int i = 0; i < n->args.pos.n; i++)
            if (!is_const(n->args.pos.v[i], depth + 1)) return false;
        for (int i = 0; i < n->args.kwval.n; i++)
            if (!is_const(n->args.kwval.v[i], depth + 1)) return false;
        return n->a && is_const(n->a, depth + 1);
    default:
        return false;
    }
}

static node *parse_postfix(ps *P, node *x)
{
    for (;;) {
        const token *t = cur(P);
        if (is_op(t, ".")) {
            next(P);
            const token *a = cur(P);
            if (a->type == TK_NAME) {
                next(P);
                node *g = mk(P, NK_GETATTR, t);
                g->a = x;
                g->name = a->s;
                x = g;
            } else if (a->type == TK_INT) {
                next(P);
                node *g = mk(P, NK_GETITEM, t);
                g->a = x;
                g->b = mk(P, NK_LIT, a);
                g->b->lit = jv_int(a->i);
                x = g;
            } else
                pfail(P, a, "expected a name after '.', got '%s'", describe(a));
        } else if (is_op(t, "[")) {
            next(P);
            node *args[64];
            int na = 0;
            while (!is_op(cur(P), "]")) {
                if (na) {
                    expect_op(P, ",");
                    if (is_op(cur(P), "]")) break;
                }
                if (na == 64) pfail(P, cur(P), "too many subscript items");
                args[na++] = parse_subscript_arg(P);
            }
            expect_op(P, "]");
            if (!na) pfail(P, t, "expected a subscript");
            node *key;
            if (na == 1)
                key = args[0];
            else {
                key = mk(P, NK_TUPLE, t);
                for (int i = 0; i < na; i++) {
                    /* x[a:b, c] indexes with a tuple holding a slice object:
                     * no Python value here supports that */
                    if (args[i]->kind == NK_SLICE)
                        pfail(P, t, "a slice inside a subscript tuple is not supported");
                    nl_push(P, &key->kids, args[i]);
                }
            }
            if (key->kind == NK_SLICE) {
                key->a = x;
                x = key;
            } else {
                node *g = mk(P, NK_GETITEM, t);
                g->a = x;
                g->b = key;
                x = g;
            }
        } else if (is_op(t, "(")) {
            next(P);
            node *c = mk(P, NK_CALL, t);
            c->a = x;
            parse_call_args(P, &c->args);
            x = c;
        } else
            return x;
    }
}

static node *parse_filter_expr(ps *P, node *x)
{
    for (;;) {
        const token *t = cur(P);
        if (is_op(t, "|")) {
            next(P);
            x = parse_filter(P, x);
        } else if (is_name(t, "is")) {
            x = parse_test(P, x);
        } else if (is_op(t, "(")) {
            next(P);
            node *c = mk(P, NK_CALL, t);
            c->a = x;
            parse_call_args(P, &c->args);
            x = c;
        } else
            return x;
    }
}

static node *parse_primary(ps *P)
{
    const token *t = cur(P);
    node *x;
    switch (t->type) {
    case TK_NAME:
        next(P);
        x = mk(P, NK_LIT, t);
        if (!strcmp(t->s, "true") || !strcmp(t->s, "True"))
            x->lit = jv_bool(true);
        else if (!strcmp(t->s, "false") || !strcmp(t->s, "False"))
            x->lit = jv_bool(false);
        else if (!strcmp(t->s, "none") || !strcmp(t->s, "None"))
            x->lit = jv_none();
        else {
            x->kind = NK_NAME;
            x->name = t->s;
        }
        return x;
    case TK_STRING: {
        /* adjacent literals concatenate: 'a' 'b' */
        size_t total = 0, k = 0;
        while (peek(P, k)->type == TK_STRING) total += peek(P, k++)->len;
        char *buf = mg__alloc(P->a, total + 1);
        size_t o = 0;
        while (cur(P)->type == TK_STRING) {
            const token *s = next(P);
            memcpy(buf + o, s->s, s->len);
            o += s->len;
        }
        x = mk(P, NK_LIT, t);
        x->lit.t = JT_STR;
        x->lit.u.s = mk_jstr(P->a, buf, o);
        return x;
    }
    case TK_INT:
        next(P);
        x = mk(P, NK_LIT, t);
        x->lit = jv_int(t->i);
        return x;
    case TK_FLOAT:
        next(P);
        x = mk(P, NK_LIT, t);
        x->lit = jv_float(t->f);
        return x;
    case TK_OP:
        if (is_op(t, "(")) {
            next(P);
            x = parse_tuple(P, true, true, NULL);
            expect_op(P, ")");
            return x;
        }
        if (is_op(t, "[")) {
            next(P);
            x = mk(P, NK_LIST, t);
            while (!is_op(cur(P), "]")) {
                if (x->kids.n) {
                    expect_op(P, ",");
                    if (is_op(cur(P), "]")) break;
                }
                nl_push(P, &x->kids, parse_expr(P, true));
            }
            expect_op(P, "]");
            return x;
        }
        if (is_op(t, "{")) {
            next(P);
            x = mk(P, NK_DICT, t);
            while (!is_op(cur(P), "}")) {
                if (x->kids.n) {
                    expect_op(P, ",");
                    if (is_op(cur(P), "}")) break;
                }
                nl_push(P, &x->kids, parse_expr(P, true));
                expect_op(P, ":");
                nl_push(P, &x->kids, parse_expr(P, true));
            }
            expect_op(P, "}");
            return x;
        }
        break;
    default:
        break;
    }
    pfail(P, t, "unexpected '%s'", describe(t));
}

static node *parse_unary(ps *P, bool with_filter)
{
    const token *t = cur(P);
    node *x;
    if (++P->depth > MAX_NESTING) pfail(P, t, "expression nested too deeply");
    if (is_op(t, "-") || is_op(t, "+")) {
        next(P);
        x = mk(P, NK_UNARY, t);
        x->op = t->s[0] == '-' ? OP_SUB : OP_ADD;
        x->a = parse_unary(P, false);
    } else
        x = parse_primary(P);
    x = parse_postfix(P, x);
    if (with_filter) x = parse_filter_expr(P, x);
    P->depth--;
    return x;
}

static node *binop(ps *P, const token *t, int op, node *l, node *r)
{
    node *x = mk(P, NK_BINOP, t);
    x->op = (uint8_t)op;
    x->a = l;
    x->b = r;
    return x;
}

static node *parse_pow(ps *P)
{
    node *l = parse_unary(P, true);
    while (is_op(cur(P), "**")) {
        const token *t = next(P);
        l = binop(P, t, OP_POW, l, parse_unary(P, true));
    }
    return l;
}

static node *parse_math2(ps *P)
{
    node *l = parse_pow(P);
    for (;;) {
        const token *t = cur(P);
        int op = is_op(t, "*")    ? OP_MUL
                 : is_op(t, "/")  ? OP_DIV
                 : is_op(t, "//") ? OP_FLOORDIV
                 : is_op(t, "%")  ? OP_MOD
                                  : 0;
        if (!op) return l;
        next(P);
        l = binop(P, t, op, l, parse_pow(P));
    }
}

static node *parse_concat(ps *P)
{
    const token *t = cur(P);
    node *l = parse_math2(P);
    if (!is_op(cur(P), "~")) return l;
    node *c = mk(P, NK_CONCAT, t);
    nl_push(P, &c->kids, l);
    while (is_op(cur(P), "~")) {
        next(P);
        nl_push(P, &c->kids, parse_math2(P));
    }
    return c;
}

static node *parse_math1(ps *P)
{
    node *l = parse_concat(P);
    for (;;) {
        const token *t = cur(P);
        int op = is_op(t, "+") ? OP_ADD : is_op(t, "-") ? OP_SUB : 0;
        if (!op) return l;
        next(P);
        l = binop(P, t, op, l, parse_concat(P));
    }
}

static node *parse_compare(ps *P)
{
    const token *t0 = cur(P);
    node *first = parse_math1(P);
    node *c = NULL;
    uint8_t ops[64];
    int nops = 0;
    for (;;) {
        const token *t = cur(P);
        int op = is_op(t, "==")     ? CMP_EQ
                 : is_op(t, "!=")   ? CMP_NE
                 : is_op(t, "<")    ? CMP_LT
                 : is_op(t, "<=")   ? CMP_LE
                 : is_op(t, ">")    ? CMP_GT
                 : is_op(t, ">=")   ? CMP_GE
                 : is_name(t, "in") ? CMP_IN
                                    : 0;
        if (!op && is_name(t, "not") && is_name(peek(P, 1), "in")) {
            next(P);
            op = CMP_NOTIN;
        }
        if (!op) break;
        next(P);
        if (!c) {
            c = mk(P, NK_COMPARE, t0);
            c->a = first;
        }
        if (nops == 64) pfail(P, t, "comparison chain too long");
        ops[nops++] = (uint8_t)op;
        nl_push(P, &c->kids, parse_math1(P));
    }
    if (!c) return first;
    c->ops = mg__alloc(P->a, (size_t)nops);
    memcpy(c->ops, ops, (size_t)nops);
    return c;
}

static node *parse_not(ps *P)
{
    const token *t = cur(P);
    if (is_name(t, "not")) {
        next(P);
        if (++P->depth > MAX_NESTING) pfail(P, t, "expression nested too deeply");
        node *x = mk(P, NK_NOT, t);
        x->a = parse_not(P);
        P->depth--;
        return x;
    }
    return parse_compare(P);
}

static node *parse_and(ps *P)
{
    node *l = parse_not(P);
    while (is_name(cur(P), "and")) {
        const token *t = next(P);
        node *x = mk(P, NK_AND, t);
        x->a = l;
        x->b = parse_not(P);
        l = x;
    }
    return l;
}

static node *parse_or(ps *P)
{
    node *l = parse_and(P);
    while (is_name(cur(P), "or")) {
        const token *t = next(P);
        node *x = mk(P, NK_OR, t);
        x->a = l;
        x->b = parse_and(P);
        l = x;
    }
    return l;
}

static node *parse_expr(ps *P, bool with_condexpr)
{
    if (!with_condexpr) return parse_or(P);
    node *x = parse_or(P);
    while (is_name(cur(P), "if")) {
        const token *t = next(P);
        node *c = mk(P, NK_COND, t);
        c->b = x;
        c->a = parse_or(P);
        if (is_name(cur(P), "else")) {
            const token *e = next(P);
            if (++P->depth > MAX_NESTING) pfail(P, e, "expression nested too deeply");
            c->c = parse_expr(P, true);
            P->depth--;
        }
        x = c;
    }
    return x;
}

/* ---- statements ------------------------------------------------------------------ */

static nodelist subparse(ps *P, const char *const *ends);
static node *parse_statement_inner(ps *P);

static node *parse_assign_target(ps *P, bool with_namespace, const char *const *extra_end)
{
    const token *t = cur(P);
    if (with_namespace && t->type == TK_NAME && is_op(peek(P, 1), ".") &&
        peek(P, 2)->type == TK_NAME) {
        next(P);
        next(P);
        const token *a = next(P);
        node *g = mk(P, NK_GETATTR, t);
        g->a = mk(P, NK_NAME, t);
        g->a->name = t->s;
        g->name = a->s;
        return g;
    }
    node *x;
    if (t->type == TK_NAME) {
        next(P);
        x = mk(P, NK_NAME, t);
        x->name = t->s;
        if (!is_op(cur(P), ",")) return x;
        /* a, b */
        node *tup = mk(P, NK_TUPLE, t);
        nl_push(P, &tup->kids, x);
        while (is_op(cur(P), ",")) {
            next(P);
            if (is_tuple_end(P, extra_end) || is_op(cur(P), "=")) break;
            const token *u = expect_type(P, TK_NAME, "a name");
            node *y = mk(P, NK_NAME, u);
            y->name = u->s;
            nl_push(P, &tup->kids, y);
        }
        return tup;
    }
    if (is_op(t, "(")) {
        next(P);
        node *tup = mk(P, NK_TUPLE, t);
        while (!is_op(cur(P), ")")) {
            if (tup->kids.n) {
                expect_op(P, ",");
                if (is_op(cur(P), ")")) break;
            }
            const token *u = expect_type(P, TK_NAME, "a name");
            node *y = mk(P, NK_NAME, u);
            y->name = u->s;
            nl_push(P, &tup->kids, y);
        }
        expect_op(P, ")");
        return tup;
    }
    pfail(P, t, "cannot assign to '%s'", describe(t));
}

static const char *const END_FOR[] = {"endfor", "else", NULL};
static const char *const END_FOR2[] = {"endfor", NULL};
static const char *const END_IF[] = {"elif", "else", "endif", NULL};
static const char *const END_IF2[] = {"endif", NULL};

static node *parse_for(ps *P, const token *t)
{
    static const char *const in_end[] = {"in", NULL};
    static const char *const rec_end[] = {"recursive", NULL};
    node *f = mk(P, NK_FOR, t);
    f->target = parse_assign_target(P, false, in_end);
    if (!is_name(cur(P), "in")) pfail(P, cur(P), "expected 'in', got '%s'", describe(cur(P)));
    next(P);
    f->a = parse_tuple(P, false, false, rec_end);
    if (is_name(cur(P), "if")) {
        next(P);
        f->b = parse_expr(P, true);
    }
    if (is_name(cur(P), "recursive")) {
        next(P);
        f->recursive = true;
    }
    expect_block_end(P);
    P->loop_depth++;
    f->body = subparse(P, END_FOR);
    P->loop_depth--;
    if (is_name(next(P), "else")) {
        expect_block_end(P);
        f->orelse = subparse(P, END_FOR2);
        next(P);
    }
    expect_block_end(P);
    return f;
}

static node *parse_if(ps *P, const token *t)
{
    node *root = mk(P, NK_IF, t), *x = root;
    for (;;) {
        /* as Jinja2: the test of if/elif is parsed without conditional
         * expressions, so `{% if a if b else c %}` is a syntax error */
        x->a = parse_tuple(P, false, false, NULL);
        expect_block_end(P);
        x->body = subparse(P, END_IF);
        const token *e = next(P);
        if (is_name(e, "elif")) {
            node *y = mk(P, NK_IF, e);
            nl_push(P, &x->orelse, y);
            x = y;
            continue;
        }
        if (is_name(e, "else")) {
            expect_block_end(P);
            x->orelse = subparse(P, END_IF2);
            next(P);
        }
        expect_block_end(P);
        return root;
    }
}

static node *parse_filter_chain(ps *P)
{
    /* name(args) | name ... with no operand: applied to a captured body */
    node *f = parse_filter(P, NULL);
    while (is_op(cur(P), "|")) {
        next(P);
        f = parse_filter(P, f);
    }
    return f;
}

static node *parse_set(ps *P, const token *t)
{
    static const char *const end[] = {"endset", NULL};
    node *target = parse_assign_target(P, true, NULL);
    if (is_op(cur(P), "=")) {
        next(P);
        node *s = mk(P, NK_SET, t);
        s->target = target;
        s->a = parse_tuple(P, true, false, NULL);
        expect_block_end(P);
        return s;
    }
    node *s = mk(P, NK_SETBLOCK, t);
    s->target = target;
    if (is_op(cur(P), "|")) {
        next(P);
        s->b = parse_filter_chain(P);
    }
    expect_block_end(P);
    int saved = P->loop_depth;
    s->body = subparse(P, end);
    P->loop_depth = saved;
    next(P);
    expect_block_end(P);
    return s;
}

static void parse_signature(ps *P, node *m)
{
    expect_op(P, "(");
    while (!is_op(cur(P), ")")) {
        if (m->params.n) {
            expect_op(P, ",");
            if (is_op(cur(P), ")")) break;
        }
        const token *u = expect_type(P, TK_NAME, "a parameter name");
        node *pn = mk(P, NK_NAME, u);
        pn->name = u->s;
        nl_push(P, &m->params, pn);
        node *dflt = NULL;
        if (is_op(cur(P), "=")) {
            next(P);
            dflt = parse_expr(P, true);
        } else if (m->defaults.n && m->defaults.v[m->defaults.n - 1])
            pfail(P, u, "non-default argument follows default argument");
        nl_push(P, &m->defaults, dflt);
    }
    expect_op(P, ")");
}

/* Jinja2 gives a macro `varargs`, `kwargs` and `caller` only when its body
 * reads those names (find_undeclared); otherwise extra arguments are errors. */
static uint8_t scan_uses(const node *n, int depth);
static uint8_t scan_list(const nodelist *l, int depth)
{
    uint8_t u = 0;
    for (int i = 0; i < l->n; i++) u |= scan_uses(l->v[i], depth);
    return u;
}
static uint8_t scan_uses(const node *n, int depth)
{
    if (!n || depth > 2 * MAX_NESTING + 10) return 0;
    uint8_t u = 0;
    if (n->kind == NK_NAME && n->name) {
        if (!strcmp(n->name, "varargs"))
            u |= USES_VARARGS;
        else if (!strcmp(n->name, "kwargs"))
            u |= USES_KWARGS;
        else if (!strcmp(n->name, "caller"))
            u |= USES_CALLER;
    }
    u |= scan_uses(n->a, depth + 1) | scan_uses(n->b, depth + 1) | scan_uses(n->c, depth + 1);
    u |= scan_list(&n->kids, depth + 1) | scan_list(&n->body, depth + 1) |
         scan_list(&n->orelse, depth + 1) | scan_list(&n->defaults, depth + 1);
    u |= scan_list(&n->args.pos, depth + 1) | scan_list(&n->args.kwval, depth + 1) |
         scan_uses(n->args.star, depth + 1) | scan_uses(n->args.dstar, depth + 1);
    return u;
}

static node *parse_macro(ps *P, const token *t)
{
    static const char *const end[] = {"endmacro", NULL};
    node *m = mk(P, NK_MACRO, t);
    m->name = expect_type(P, TK_NAME, "a macro name")->s;
    parse_signature(P, m);
    expect_block_end(P);
    int saved = P->loop_depth;
    P->loop_depth = 0;
    m->body = subparse(P, end);
    m->uses = scan_list(&m->body, 0) | scan_list(&m->defaults, 0);
    P->loop_depth = saved;
    next(P);
    if (cur(P)->type == TK_NAME) next(P); /* {% endmacro name %} */
    expect_block_end(P);
    return m;
}

static node *parse_call_block(ps *P, const token *t)
{
    static const char *const end[] = {"endcall", NULL};
    node *c = mk(P, NK_CALLBLOCK, t);
    c->name = "caller";
    if (is_op(cur(P), "(")) parse_signature(P, c);
    const token *e = cur(P);
    c->a = parse_expr(P, true);
    if (c->a->kind != NK_CALL) pfail(P, e, "expected a call after 'call'");
    expect_block_end(P);
    int saved = P->loop_depth;
    P->loop_depth = 0;
    c->body = subparse(P, end);
    c->uses = scan_list(&c->body, 0) | scan_list(&c->defaults, 0);
    P->loop_depth = saved;
    next(P);
    expect_block_end(P);
    return c;
}

static node *parse_statement(ps *P)
{
    const token *t = cur(P);
    if (++P->depth > MAX_NESTING) pfail(P, t, "blocks nested too deeply");
    node *s = parse_statement_inner(P);
    P->depth--;
    return s;
}

static node *parse_statement_inner(ps *P)
{
    const token *t = cur(P);
    if (t->type != TK_NAME) pfail(P, t, "tag name expected, got '%s'", describe(t));
    next(P);
    const char *nm = t->s;
    if (!strcmp(nm, "for")) return parse_for(P, t);
    if (!strcmp(nm, "if")) return parse_if(P, t);
    if (!strcmp(nm, "set")) return parse_set(P, t);
    if (!strcmp(nm, "macro")) return parse_macro(P, t);
    if (!strcmp(nm, "call")) return parse_call_block(P, t);
    if (!strcmp(nm, "filter")) {
        static const char *const end[] = {"endfilter", NULL};
        node *f = mk(P, NK_FILTERBLOCK, t);
        f->b = parse_filter_chain(P);
        expect_block_end(P);
        f->body = subparse(P, end);
        next(P);
        expect_block_end(P);
        return f;
    }
    if (!strcmp(nm, "with")) {
        static const char *const end[] = {"endwith", NULL};
        node *w = mk(P, NK_WITH, t);
        while (!(cur(P)->type == TK_BLOCK_END)) {
            if (w->params.n) expect_op(P, ",");
            node *target = parse_assign_target(P, false, NULL);
            expect_op(P, "=");
            nl_push(P, &w->params, target);
            nl_push(P, &w->defaults, parse_expr(P, true));
        }
        expect_block_end(P);
        w->body = subparse(P, end);
        next(P);
        expect_block_end(P);
        return w;
    }
    if (!strcmp(nm, "generation")) {
        /* transformers' AssistantTracker tag: outside assistant-mask mode it
         * renders its body unchanged */
        static const char *const end[] = {"endgeneration", NULL};
        node *b = mk(P, NK_BLOCK, t);
        expect_block_end(P);
        b->body = subparse(P, end);
        next(P);
        expect_block_end(P);
        return b;
    }
    if (!strcmp(nm, "break") || !strcmp(nm, "continue")) {
        if (!P->loop_depth) pfail(P, t, "'%s' outside of a loop", nm);
        node *b = mk(P, nm[0] == 'b' ? NK_BREAK : NK_CONTINUE, t);
        expect_block_end(P);
        return b;
    }
    if (!strcmp(nm, "include") || !strcmp(nm, "extends") || !strcmp(nm, "import") ||
        !strcmp(nm, "from") || !strcmp(nm, "block"))
        pfail(P, t, "tag '%s' is not supported (chat templates are single files)", nm);
    pfail(P, t, "encountered unknown tag '%s'", nm);
}

static nodelist subparse(ps *P, const char *const *ends)
{
    nodelist body = {0};
    for (;;) {
        const token *t = cur(P);
        switch (t->type) {
        case TK_EOF:
            if (ends) {
                const char *want = ends[0];
                for (int i = 0; ends[i]; i++)
                    if (!strncmp(ends[i], "end", 3)) want = ends[i];
                pfail(P, t, "unexpected end of template, expected '%s'", want);
            }
            return body;
        case TK_DATA: {
            next(P);
            node *d = mk(P, NK_DATA, t);
            d->lit.t = JT_STR;
            d->lit.u.s = mk_jstr(P->a, t->s, t->len);
            nl_push(P, &body, d);
            break;
        }
        case TK_VAR_BEGIN: {
            next(P);
            node *o = mk(P, NK_OUTPUT, t);
            o->a = parse_tuple(P, true, false, NULL);
            expect_type(P, TK_VAR_END, "'}}'");
            nl_push(P, &body, o);
            break;
        }
        case TK_BLOCK_BEGIN: {
            const token *nt = peek(P, 1);
            if (ends && nt->type == TK_NAME)
                for (int i = 0; ends[i]; i++)
                    if (!strcmp(nt->s, ends[i])) {
                        next(P); /* leaves the end name as the current token */
                        return body;
                    }
            next(P);
            if (nt->type == TK_NAME && !strncmp(nt->s, "end", 3) && nt->s[3])
                pfail(P, nt, "unexpected '%s'%s", nt->s, ends ? "" : " (no block is open)");
            if (nt->type == TK_NAME && (!strcmp(nt->s, "else") || !strcmp(nt->s, "elif")))
                pfail(P, nt, "unexpected '%s'", nt->s);
            nl_push(P, &body, parse_statement(P));
            break;
        }
        default:
            pfail(P, t, "unexpected '%s'", describe(t));
        }
    }
}

/* Jinja2's optimizer folds a constant expression when its value has a safe
 * repr (so never an Undefined), and an output `{{ }}` whose whole expression
 * is constant prints its folded value. Folding evaluates subscripts through
 * environment.getitem, where a TypeError gives Undefined; at run time a
 * slice raises it. So a constant slice yields Undefined only below a folded
 * node: a test, `not`, a comparison or `~` (always safe values), a filter
 * (`| length` of Undefined is 0; approximated as always safe), or the root
 * of an output. */
static bool folds_safely(const node *n)
{
    return n->kind == NK_TEST || n->kind == NK_NOT || n->kind == NK_COMPARE ||
           n->kind == NK_CONCAT || n->kind == NK_FILTER;
}

static void mark_folds(node *n, bool folded, bool output_root, int depth);
static void mark_list(nodelist *l, int depth)
{
    for (int i = 0; i < l->n; i++) mark_folds(l->v[i], false, false, depth + 1);
}

static void mark_folds(node *n, bool folded, bool output_root, int depth)
{
    if (!n || depth > 4 * MAX_NESTING) return;
    bool expr = n->kind <= NK_CONCAT;
    bool f = expr && is_const(n, 0) && (folded || output_root || folds_safely(n));
    if (n->kind == NK_SLICE) n->konst = f;
    if (n->kind == NK_OUTPUT) {
        mark_folds(n->a, false, true, depth + 1);
    } else {
        mark_folds(n->a, f, false, depth + 1);
        mark_folds(n->b, f, false, depth + 1);
        mark_folds(n->c, f, false, depth + 1);
    }
    for (int i = 0; i < n->kids.n; i++) mark_folds(n->kids.v[i], f, false, depth + 1);
    for (int i = 0; i < n->args.pos.n; i++) mark_folds(n->args.pos.v[i], f, false, depth + 1);
    for (int i = 0; i < n->args.kwval.n; i++) mark_folds(n->args.kwval.v[i], f, false, depth + 1);
    mark_folds(n->args.star, false, false, depth + 1);
    mark_folds(n->args.dstar, false, false, depth + 1);
    mark_folds(n->target, false, false, depth + 1);
    mark_list(&n->body, depth);
    mark_list(&n->orelse, depth);
    mark_list(&n->params, depth);
    mark_list(&n->defaults, depth);
}

node *mg__parse(mg__arena *a, const tokens *toks)
{
    ps P = {.a = a, .t = toks->v, .n = toks->n};
    node *root = mg__alloc(a, sizeof(node));
    root->kind = NK_BLOCK;
    root->line = root->col = 1;
    root->body = subparse(&P, NULL);
    mark_folds(root, false, false, 0);
    return root;
}
