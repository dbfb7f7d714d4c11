/* parser.h — private to parser.c (statements) and parse_expr.c
 * (expressions): the token cursor, error and node helpers. */
#ifndef MG_TEMPLATE_PARSER_H
#define MG_TEMPLATE_PARSER_H

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

_Noreturn static inline void pfail(ps *P, const token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn static inline void pfail(ps *P, const token *t, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mg__fail(P->a, MG_EFORMAT, "%d:%d: TemplateSyntaxError: %s", t->line, t->col, msg);
}

static inline const token *cur(ps *P)
{
    return &P->t[P->i < P->n ? P->i : P->n - 1];
}
static inline const token *peek(ps *P, size_t k)
{
    size_t j = P->i + k;
    return &P->t[j < P->n ? j : P->n - 1];
}
static inline const token *next(ps *P)
{
    const token *t = cur(P);
    if (P->i < P->n - 1) P->i++;
    return t;
}
static inline bool is_op(const token *t, const char *op)
{
    return t->type == TK_OP && !strcmp(t->s, op);
}
static inline bool is_name(const token *t, const char *nm)
{
    return t->type == TK_NAME && !strcmp(t->s, nm);
}
static inline const char *describe(const token *t)
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
static inline void expect_op(ps *P, const char *op)
{
    const token *t = cur(P);
    if (!is_op(t, op)) pfail(P, t, "expected '%s', got '%s'", op, describe(t));
    next(P);
}
static inline const token *expect_type(ps *P, int type, const char *what)
{
    const token *t = cur(P);
    if (t->type != type) pfail(P, t, "expected %s, got '%s'", what, describe(t));
    return next(P);
}
static inline void expect_block_end(ps *P)
{
    expect_type(P, TK_BLOCK_END, "'%}'");
}

static inline node *mk(ps *P, int kind, const token *at)
{
    node *n = mg__alloc(P->a, sizeof(node));
    n->kind = (uint8_t)kind;
    n->line = at->line;
    n->col = at->col;
    return n;
}

static inline void nl_push(ps *P, nodelist *l, node *x)
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

#define parse_expr   mg__tpl_parse_expr
#define parse_tuple  mg__tpl_parse_tuple
#define parse_filter mg__tpl_parse_filter
#define is_tuple_end mg__tpl_is_tuple_end
#define is_const     mg__tpl_is_const
node *parse_expr(ps *P, bool with_condexpr);
/* a, b, c -> tuple; a -> a. explicit: inside parentheses (allows "()") */
node *parse_tuple(ps *P, bool with_condexpr, bool explicit_parens, const char *const *extra_end);
node *parse_filter(ps *P, node *operand); /* after '|' */
bool is_tuple_end(ps *P, const char *const *extra);
bool is_const(const node *n, int depth); /* Jinja2's optimizer could fold it */

#endif
