/* parser.c — tokens to AST: statements and blocks (expressions are in
 * parse_expr.c), then the constant-folding marks. Unknown tags are parse
 * errors, as in Jinja2 (where they fail at compile time). Every error carries
 * the token's line:column. */
#include "parser.h"

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
