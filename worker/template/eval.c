/* eval.c — the interpreter: expressions (operators in ops.c, access in access.c), scopes
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

static int64_t as_i(jv v)
{
    return v.t == JT_BOOL ? v.u.b : v.u.i;
}

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

/* markupsafe.Markup overrides these str methods: string arguments are
 * escaped and string results (or lists of them) are Markup again. */
static jv call_markup_method(rctx *r, const node *n, jfunc *fn, jargs *a)
{
    static const char *const wrapped[] = {
        "join",  "split",    "rsplit", "splitlines", "capitalize", "title",  "lower",
        "upper", "replace",  "ljust",  "rjust",      "lstrip",     "rstrip", "center",
        "strip", "swapcase", "zfill",  "partition",  "rpartition", "format", NULL};
    bool wrap = false;
    for (int i = 0; wrapped[i]; i++)
        if (!strcmp(fn->name, wrapped[i])) wrap = true;
    if (!wrap) return fn->fn(r, n, fn->self, a);
    jargs e = *a;
    e.pos = mg__alloc(&r->ar, (size_t)(a->npos + 1) * sizeof(jv));
    e.kw = mg__alloc(&r->ar, (size_t)(a->nkw + 1) * sizeof(jv));
    for (int i = 0; i < a->npos; i++) {
        jv x = a->pos[i];
        if (x.t == JT_STR)
            x = mg__escape(r, x);
        else if (!strcmp(fn->name, "join") && (x.t == JT_LIST || x.t == JT_TUPLE)) {
            jlist *l = jv_iterate(r, n, x);
            jv m = jv_newlist(r, l->n);
            for (size_t k = 0; k < l->n; k++)
                jl_push(r, m.u.l, l->v[k].t == JT_STR ? mg__escape(r, l->v[k]) : l->v[k]);
            x = m;
        }
        e.pos[i] = x;
    }
    for (int i = 0; i < a->nkw; i++)
        e.kw[i] = a->kw[i].t == JT_STR ? mg__escape(r, a->kw[i]) : a->kw[i];
    jv res = fn->fn(r, n, fn->self, &e);
    if (res.t == JT_STR) return mg__as_markup(r, res);
    if (res.t == JT_LIST || res.t == JT_TUPLE)
        for (size_t k = 0; k < res.u.l->n; k++)
            if (res.u.l->v[k].t == JT_STR) res.u.l->v[k] = mg__as_markup(r, res.u.l->v[k]);
    return res;
}

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
        if (is_markup(fn->self)) return call_markup_method(r, n, fn, a);
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
        return mg__slice(r, n, o, p[0], p[1], p[2]);
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
        return mg__arith(r, n, n->op, a, ev(r, f, n->b));
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
            if (!mg__compare(r, n, n->ops[i], a, b)) return jv_bool(false);
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
