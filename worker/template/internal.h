/* internal.h — private declarations of the Jinja renderer (mg_template).
 *
 * Data flow: lexer.c (source -> tokens, whitespace control) -> parser.c +
 * parse_expr.c (tokens -> AST, parser.h) -> eval.c (AST -> text: scopes,
 * calls, statements, the public entry points) using value.c (the Python value
 * model, printing, JSON out), access.c (attributes, items, slices), ops.c
 * (operators), filters.c / filters_seq.c (filters), tests.c (tests),
 * methods.c (str/dict/list methods), format.c (str.format and "%"),
 * globals.c (range, namespace, ...), jsonparse.c (JSON text in).
 * chat.c wraps it for tokenizer_config.json.
 *
 * Memory: every AST node and every runtime value lives in an arena that is
 * freed as a whole (the template's arena, or one arena per render). Errors
 * unwind with longjmp to the entry point, which frees the arena, so no
 * intermediate cleanup code is needed and nothing leaks on any error path.
 */
#ifndef MG_TEMPLATE_INTERNAL_H
#define MG_TEMPLATE_INTERNAL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_template.h"

/* Every cross-file internal of this library gets the mg__tpl_ prefix at link
 * time, so short names stay readable here and never collide with other
 * moegen libraries linked into the same binary. */
#define arg_check            mg__tpl_arg_check
#define arg_get              mg__tpl_arg_get
#define fmt_float            mg__tpl_fmt_float
#define jd_get               mg__tpl_jd_get
#define jd_gets              mg__tpl_jd_gets
#define jd_set               mg__tpl_jd_set
#define jl_push              mg__tpl_jl_push
#define jv_bool              mg__tpl_jv_bool
#define jv_call              mg__tpl_jv_call
#define jv_cmp               mg__tpl_jv_cmp
#define jv_cstr              mg__tpl_jv_cstr
#define jv_eq                mg__tpl_jv_eq
#define jv_float             mg__tpl_jv_float
#define jv_from_json         mg__tpl_jv_from_json
#define jv_getattr           mg__tpl_jv_getattr
#define jv_getitem           mg__tpl_jv_getitem
#define jv_int               mg__tpl_jv_int
#define jv_is_num            mg__tpl_jv_is_num
#define jv_iterate           mg__tpl_jv_iterate
#define jv_newdict           mg__tpl_jv_newdict
#define jv_newlist           mg__tpl_jv_newlist
#define jv_newtuple          mg__tpl_jv_newtuple
#define jv_none              mg__tpl_jv_none
#define jv_num               mg__tpl_jv_num
#define jv_repr_into         mg__tpl_jv_repr_into
#define jv_str               mg__tpl_jv_str
#define jv_str_into          mg__tpl_jv_str_into
#define jv_strbuf            mg__tpl_jv_strbuf
#define jv_to_str            mg__tpl_jv_to_str
#define jv_tojson_into       mg__tpl_jv_tojson_into
#define jv_truthy            mg__tpl_jv_truthy
#define jv_typename          mg__tpl_jv_typename
#define jv_undef             mg__tpl_jv_undef
#define jv_undef_attr        mg__tpl_jv_undef_attr
#define mg__alloc            mg__tpl_alloc
#define mg__arena_free       mg__tpl_arena_free
#define mg__case             mg__tpl_case
#define mg__fail             mg__tpl_fail
#define mg__find_filter      mg__tpl_find_filter
#define mg__find_test        mg__tpl_find_test
#define mg__global           mg__tpl_global
#define mg__lex              mg__tpl_lex
#define mg__method           mg__tpl_method
#define mg__normalize_source mg__tpl_normalize_source
#define mg__parse            mg__tpl_parse
#define mg__parse_json_text  mg__tpl_parse_json_text
#define mg__py_space         mg__tpl_py_space
#define mg__python_format    mg__tpl_python_format
#define mg__replace          mg__tpl_replace
#define mg__rfail            mg__tpl_rfail
#define mg__split            mg__tpl_split
#define mg__step             mg__tpl_step
#define mg__strip            mg__tpl_strip
#define mg__strndup          mg__tpl_strndup
#define mg__undef_fail       mg__tpl_undef_fail
#define mk_jstr              mg__tpl_mk_jstr
#define sb_put               mg__tpl_sb_put
#define sb_putc              mg__tpl_sb_putc
#define sb_puts              mg__tpl_sb_puts
#define utf8_count           mg__tpl_utf8_count
#define mg__slice            mg__tpl_slice
#define mg__arith            mg__tpl_arith
#define mg__compare          mg__tpl_compare
#define mg__need_str         mg__tpl_need_str
#define mg__need_int         mg__tpl_need_int
#define mg__enc              mg__tpl_enc
#define mg__dec              mg__tpl_dec
#define mg__str_format       mg__tpl_str_format

/* ---- arena ----------------------------------------------------------------- */

typedef struct mg__chunk mg__chunk;
typedef struct mg__arena {
    mg__chunk *head;
    size_t used, limit; /* bytes taken from malloc so far, and the cap */
    jmp_buf *jb;        /* where to unwind when the cap is hit or malloc fails */
    mg_error *err;
} mg__arena;

void *mg__alloc(mg__arena *a, size_t n); /* zeroed, 16-aligned; unwinds on failure */
char *mg__strndup(mg__arena *a, const char *s, size_t n);
void mg__arena_free(mg__arena *a);
/* Fills err and longjmps to a->jb. */
_Noreturn void mg__fail(mg__arena *a, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- values ---------------------------------------------------------------- */

typedef enum jt {
    JT_UNDEF,
    JT_NONE,
    JT_BOOL,
    JT_INT,
    JT_FLOAT,
    JT_STR,
    JT_LIST,
    JT_TUPLE,
    JT_DICT,
    JT_NS,   /* namespace(): a mutable attribute bag */
    JT_FUNC, /* builtin global, bound method, macro, caller, loop() */
    JT_LOOP, /* the `loop` object of a for */
} jt;

typedef struct jstr {
    size_t len;  /* bytes */
    size_t ncp;  /* code points (== len for ASCII) */
    bool markup; /* markupsafe.Markup (from safe/escape): `+`, `%` and its
                    methods escape plain-str operands; repr is Markup('...') */
    char s[];    /* NUL-terminated */
} jstr;

typedef struct jv jv;
typedef struct jlist jlist;
typedef struct jdict jdict;
typedef struct jfunc jfunc;
typedef struct jloop jloop;

struct jv {
    uint8_t t;
    union {
        bool b;
        int64_t i;
        double f;
        jstr *s;
        jlist *l;
        jdict *d;
        jfunc *fn;
        jloop *loop;
        const char *uname; /* JT_UNDEF: why it is undefined ("'x' is undefined"); may be NULL */
    } u;
};

struct jlist {
    size_t n, cap;
    jv *v;
    bool generator; /* made by select/map/...: iterable once, no len() or slicing */
    bool consumed;  /* a generator that has been iterated (now empty) */
    jlist *src;     /* the generator this one was derived from (select of a map ...) */
    bool group;     /* groupby's (grouper, list) namedtuple: .grouper and .list work */
    uint8_t view;   /* VIEW_*: dict.items()/keys()/values() (print, equality, no indexing) */
};

struct jdict {
    size_t n, cap;
    jv *k, *v; /* insertion order */
};

/* ---- AST ------------------------------------------------------------------- */

typedef enum nk {
    /* expressions */
    NK_LIT,
    NK_NAME,
    NK_LIST,
    NK_TUPLE,
    NK_DICT, /* kids: k0, v0, k1, v1, ... */
    NK_GETATTR,
    NK_GETITEM,
    NK_SLICE, /* a = object, kids[0..2] = start, stop, step (NULL when absent) */
    NK_CALL,
    NK_FILTER, /* a = operand (NULL inside filter blocks), name, args */
    NK_TEST,   /* a = operand, name, args, negate */
    NK_BINOP,  /* op: + - * / // % ** */
    NK_UNARY,  /* op: - + */
    NK_NOT,
    NK_AND,
    NK_OR,
    NK_COMPARE, /* a = first operand, kids = operands, ops[] */
    NK_COND,    /* a = cond, b = then, c = else (NULL) */
    NK_CONCAT,  /* kids joined by str() */
    /* statements */
    NK_DATA,
    NK_OUTPUT,      /* a = expression to print */
    NK_IF,          /* a = cond, body, orelse */
    NK_FOR,         /* target, a = iter, b = filter cond, body, orelse, recursive */
    NK_SET,         /* target, a = value */
    NK_SETBLOCK,    /* target, body, b = filter chain (NK_FILTER with a = NULL) */
    NK_MACRO,       /* name, params (kids = names as NK_NAME, defaults in c-list), body */
    NK_CALLBLOCK,   /* a = call expression, params, body */
    NK_FILTERBLOCK, /* b = filter chain, body */
    NK_WITH,        /* kids = targets, vals, body */
    NK_BREAK,
    NK_CONTINUE,
    NK_BLOCK, /* a plain body (generation tag) */
} nk;

typedef struct node node;
typedef struct nodelist {
    node **v;
    int n, cap;
} nodelist;

typedef struct callargs {
    nodelist pos;
    nodelist kwval;
    const char **kwname;
    node *star, *dstar; /* *args, **kwargs */
} callargs;

enum { VIEW_NONE, VIEW_ITEMS, VIEW_KEYS, VIEW_VALUES };
enum { USES_VARARGS = 1, USES_KWARGS = 2, USES_CALLER = 4 };
enum { OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW };
enum { CMP_EQ = 1, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_IN, CMP_NOTIN };

struct node {
    uint8_t kind;
    uint8_t op;
    bool negate, recursive;
    uint8_t uses; /* NK_MACRO/NK_CALLBLOCK: USES_* names its body reads */
    bool konst;   /* NK_SLICE of constants: Jinja2 folds it at compile time with
                     environment.getitem, which turns a TypeError into Undefined */
    int line, col;
    node *a, *b, *c, *target;
    const char *name;
    jv lit;
    nodelist kids, body, orelse;
    nodelist params, defaults; /* macro / call block: defaults aligned with params (NULL = none) */
    uint8_t *ops;              /* NK_COMPARE */
    callargs args;
    const void *fn; /* NK_FILTER / NK_TEST: resolved builtin entry */
};

/* ---- lexer ------------------------------------------------------------------ */

typedef enum tk {
    TK_EOF,
    TK_DATA,
    TK_VAR_BEGIN,
    TK_VAR_END,
    TK_BLOCK_BEGIN,
    TK_BLOCK_END,
    TK_NAME,
    TK_STRING,
    TK_INT,
    TK_FLOAT,
    TK_OP,
} tk;

typedef struct token {
    uint8_t type;
    int line, col;
    const char *s; /* DATA/NAME/STRING (decoded)/OP text, NUL-terminated in the arena */
    size_t len;
    int64_t i;
    double f;
} token;

typedef struct tokens {
    token *v;
    size_t n, cap;
} tokens;

/* Tokenizes `src` (already newline-normalized by the caller: see
 * mg__normalize_source). Unwinds with "LINE:COL: ..." on lexical errors. */
void mg__lex(mg__arena *a, const char *src, size_t len, tokens *out);
/* Python splitlines() + "\n".join(): every line break becomes \n and one
 * trailing line break is dropped (keep_trailing_newline=False). */
char *mg__normalize_source(mg__arena *a, const char *src, size_t len, size_t *out_len);

/* ---- parser ----------------------------------------------------------------- */

node *mg__parse(mg__arena *a, const tokens *toks); /* returns a NK_BLOCK */

/* ---- builtins tables (filters.c) -------------------------------------------- */

typedef struct rctx rctx;

typedef struct jargs {
    int npos;
    jv *pos;
    int nkw;
    const char **kwname;
    jv *kw;
} jargs;

typedef jv (*filter_fn)(rctx *r, const node *n, jv v, jargs *a);
typedef bool (*test_fn)(rctx *r, const node *n, jv v, jargs *a);
typedef struct filter_entry {
    const char *name;
    filter_fn fn;
} filter_entry;
typedef struct test_entry {
    const char *name;
    test_fn fn;
    int nargs; /* positional arguments after the value (more is a TypeError) */
} test_entry;
const filter_entry *mg__find_filter(const char *name);
extern const filter_entry mg__seq_filters[]; /* filters_seq.c */
const test_entry *mg__find_test(const char *name);

/* ---- runtime (eval.c) -------------------------------------------------------- */

typedef struct frame frame;
struct frame {
    frame *parent;
    jdict vars;
};

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

struct rctx {
    mg__arena ar;
    const mg_jinja_options *opt;
    jdict globals; /* context variables */
    sbuf *out;     /* where output goes now (swapped to capture macro/block output) */
    size_t total_out;
    uint64_t steps;
    int depth;
    int line, col; /* position of the node being evaluated, for messages */
};

typedef enum jf_kind { JF_BUILTIN, JF_METHOD, JF_MACRO } jf_kind;
typedef jv (*builtin_fn)(rctx *r, const node *n, jv self, jargs *a);
struct jfunc {
    uint8_t kind;
    const char *name;
    builtin_fn fn;   /* JF_BUILTIN / JF_METHOD */
    jv self;         /* JF_METHOD */
    const node *def; /* JF_MACRO: NK_MACRO or NK_CALLBLOCK */
    frame *closure;  /* JF_MACRO */
    jv caller;       /* JF_MACRO invoked by a call block */
};

struct jloop {
    jlist *items;
    size_t idx;
    int depth0;
    const node *fornode;
    frame *fr;
    jv cycle_fn, changed_fn;
    jv last_changed;
    bool has_changed;
};

_Noreturn void mg__rfail(rctx *r, const node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mg__step(rctx *r, const node *n, uint64_t k); /* counts work against max_steps */

/* value constructors and helpers (value.c) */
jv jv_undef(const char *why);
jv jv_none(void);
jv jv_bool(bool b);
jv jv_int(int64_t i);
jv jv_float(double f);
jv jv_str(rctx *r, const char *s, size_t len);
jv jv_cstr(rctx *r, const char *s);
jv jv_strbuf(rctx *r, sbuf *b); /* takes the buffer's bytes (copies) */
jv jv_newlist(rctx *r, size_t cap);
jv jv_newtuple(rctx *r, size_t cap);
jv jv_newdict(rctx *r);
void jl_push(rctx *r, jlist *l, jv v);
void jd_set(rctx *r, jdict *d, jv k, jv v);
jv *jd_get(const jdict *d, jv k); /* NULL when absent */
jv *jd_gets(const jdict *d, const char *k);
jstr *mk_jstr(mg__arena *a, const char *s, size_t len);
size_t utf8_count(const char *s, size_t len);

bool jv_truthy(jv v);
bool jv_eq(jv a, jv b);
int jv_cmp(rctx *r, const node *n, jv a, jv b); /* <0, 0, >0; TypeError when unorderable */
const char *jv_typename(jv v);
bool jv_is_num(jv v); /* int, float or bool */
double jv_num(jv v);

void sb_put(rctx *r, sbuf *b, const char *s, size_t n);
void sb_puts(rctx *r, sbuf *b, const char *s);
void sb_putc(rctx *r, sbuf *b, char c);
void jv_str_into(rctx *r, sbuf *b, jv v);  /* Python str() */
void jv_repr_into(rctx *r, sbuf *b, jv v); /* Python repr() */
jv jv_to_str(rctx *r, jv v);               /* str() as a JT_STR value */
jv mg__escape(rctx *r, jv v);    /* markupsafe.escape: Markup as is, else HTML-escaped str() */
jv mg__as_markup(rctx *r, jv s); /* a Markup copy of str s */
static inline bool is_markup(jv v)
{
    return v.t == JT_STR && v.u.s->markup;
}
void fmt_float(double f, char *buf, size_t cap); /* Python repr(float) */

/* json.dumps(v, ensure_ascii, indent (<0 none), separators, sort_keys) */
typedef struct json_opts {
    bool ensure_ascii, sort_keys;
    int indent; /* -1: none */
    const char *indent_str;
    const char *item_sep, *key_sep;
} json_opts;
void jv_tojson_into(rctx *r, const node *n, sbuf *b, jv v, const json_opts *o, int level);
jv jv_from_json(rctx *r, const json_t *j);
jv mg__parse_json_text(rctx *r, const char *s, size_t n); /* jsonparse.c */

/* iteration: materializes v as a list of items (dict -> keys, str -> chars) */
jlist *jv_iterate(rctx *r, const node *n, jv v); /* consumes a generator, as Python */
/* The items a derived generator (select, map, unique, batch) is built from,
 * without consuming a generator source (Python's are lazy): pair with
 * setting the result's `src`. */
jlist *mg__peek(rctx *r, const node *n, jv v);
jv mg__next(rctx *r, jv gen); /* next(gen): consumes one item; JT_UNDEF when exhausted */
jv jv_getattr(rctx *r, const node *n, jv obj, const char *name);
jv jv_getitem(rctx *r, const node *n, jv obj, jv key);
jv jv_call(rctx *r, const node *n, jv fn, jargs *a);
jv jv_undef_attr(rctx *r, jv obj, const char *name);
jv mg__slice(rctx *r, const node *n, jv obj, jv start, jv stop, jv step); /* access.c */
jv mg__arith(rctx *r, const node *n, int op, jv a, jv b);                 /* ops.c */
bool mg__compare(rctx *r, const node *n, int op, jv a, jv b);             /* ops.c */
_Noreturn void mg__undef_fail(rctx *r, const node *n, jv u);

/* methods.c */
jv mg__method(rctx *r, jv obj, const char *name); /* bound method or JT_UNDEF */
jv mg__global(rctx *r, const char *name);         /* range, namespace, ... or JT_UNDEF */
jv mg__python_format(rctx *r, const node *n, jv fmt, jargs *a); /* "%s" % args */
/* string helpers shared with filters.c */
bool mg__py_space(int32_t c);
jv mg__case(rctx *r, jv s, char mode); /* 'u' upper 'l' lower 't' title 'c' capitalize */
jv mg__strip(rctx *r, jv s, const jstr *chars, int which); /* 1 left, 2 right, 3 both */
jv mg__split(rctx *r, const node *n, jv s, const jstr *sep, int64_t maxsplit, bool right);
jv mg__replace(rctx *r, const node *n, jv s, const jstr *old, const jstr *new_, int64_t count);
/* shared by methods.c, format.c, globals.c */
typedef struct method_entry {
    const char *name;
    builtin_fn fn;
} method_entry;
const jstr *mg__need_str(rctx *r, const node *n, jv v, const char *what);
int64_t mg__need_int(rctx *r, const node *n, jv v, const char *what);
/* appends one code point as UTF-8 */
void mg__enc(rctx *r, sbuf *b, int32_t cp);
/* the code point at s[*i], advancing *i (U+FFFD and one byte if invalid) */
int32_t mg__dec(const char *s, size_t len, size_t *i);
jv mg__str_format(rctx *r, const node *n, jv self, jargs *a); /* str.format */
/* argument helpers */
jv arg_get(jargs *a, int pos, const char *kw, jv dflt);
void arg_check(rctx *r, const node *n, jargs *a, const char *fname, int maxpos,
               const char *const *kws);

#endif /* MG_TEMPLATE_INTERNAL_H */
