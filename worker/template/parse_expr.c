/* parse_expr.c — expressions, following jinja2.parser.Parser's grammar and
 * precedence (lowest first):
 *   cond-expr (a if b else c) < or < and < not < compare (== != < <= > >= in,
 *   not in) < + - < ~ < * / // % < ** < unary - + < primary/postfix, with
 *   filters `|f`, tests `is t` and calls applied after a unary operand.
 * Unknown filters and tests are parse errors, as in Jinja2. */
#include "parser.h"

/* ---- expressions ---------------------------------------------------------------- */

node *parse_expr(ps *P, bool with_condexpr);
static node *parse_or(ps *P);
static node *parse_unary(ps *P, bool with_filter);
static node *parse_primary(ps *P);
static node *parse_postfix(ps *P, node *x);

bool is_tuple_end(ps *P, const char *const *extra)
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
node *parse_tuple(ps *P, bool with_condexpr, bool explicit_parens, const char *const *extra_end)
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

node *parse_filter(ps *P, node *operand)
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
bool is_const(const node *n, int depth)
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

node *parse_expr(ps *P, bool with_condexpr)
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
