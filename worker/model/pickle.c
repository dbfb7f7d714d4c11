/* pickle.c — a pickle reader for PyTorch state dicts, written for untrusted
 * input. It interprets protocols 2–5 far enough to rebuild what torch.save
 * writes for a dict of tensors: containers, scalars, strings, and tensors
 * through torch._utils._rebuild_tensor_v2 / _rebuild_parameter(_with_state) over
 * persistent-id storages. Only a fixed list of globals is accepted, and none
 * is ever called: REDUCE on an allowed global is interpreted here. Any other
 * global or opcode is refused with a message naming it. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct vm {
    mg__pk_arena *a;
    const char *name;
    const uint8_t *p, *end, *start;
    mg__pk **stack;
    int sp, scap;
    int *marks;
    int nmarks, mcap;
    mg__pk **memo;
    size_t nmemo;
    size_t memo_len; /* distinct indices set: MEMOIZE's next index */
    mg_error *err;
} vm;

static const struct {
    const char *module, *name;
    mg__pk_global g;
    mg_dtype dtype;
} allowed[] = {
    {"collections", "OrderedDict", MG__G_ORDERED_DICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", MG__G_REBUILD_TENSOR_V2, 0},
    {"torch._utils", "_rebuild_parameter", MG__G_REBUILD_PARAMETER, 0},
    /* a Parameter carrying Python attributes: the state is parsed, not applied */
    {"torch._utils", "_rebuild_parameter_with_state", MG__G_REBUILD_PARAMETER_WITH_STATE, 0},
    {"torch", "FloatStorage", MG__G_FLOAT_STORAGE, MG_DTYPE_F32},
    {"torch", "HalfStorage", MG__G_HALF_STORAGE, MG_DTYPE_F16},
    {"torch", "BFloat16Storage", MG__G_BFLOAT16_STORAGE, MG_DTYPE_BF16},
    {"torch", "DoubleStorage", MG__G_DOUBLE_STORAGE, MG_DTYPE_F64},
    {"torch", "LongStorage", MG__G_LONG_STORAGE, MG_DTYPE_I64},
    {"torch", "IntStorage", MG__G_INT_STORAGE, MG_DTYPE_I32},
    {"torch", "ShortStorage", MG__G_SHORT_STORAGE, MG_DTYPE_I16},
    {"torch", "CharStorage", MG__G_CHAR_STORAGE, MG_DTYPE_I8},
    {"torch", "ByteStorage", MG__G_BYTE_STORAGE, MG_DTYPE_U8},
    {"torch", "BoolStorage", MG__G_BOOL_STORAGE, MG_DTYPE_BOOL},
};

static int bad(vm *v, const char *fmt, const char *arg)
{
    char what[512];
    snprintf(what, sizeof what, fmt, arg);
    return mg_error_set(v->err, MG_EFORMAT, "%s: pickle at byte %ld: %s", v->name,
                        (long)(v->p - v->start), what);
}

static mg__pk *new_pk(vm *v, mg__pk_kind kind)
{
    mg__pk_arena *a = v->a;
    if (a->n == a->cap) {
        int nc = a->cap ? a->cap * 2 : 64;
        mg__pk **p = realloc(a->all, (size_t)nc * sizeof *p);
        if (!p) return NULL;
        a->all = p;
        a->cap = nc;
    }
    mg__pk *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->kind = kind;
    a->all[a->n++] = x;
    return x;
}

void mg__pk_free_all(mg__pk_arena *a)
{
    for (int i = 0; i < a->n; i++) {
        free(a->all[i]->s);
        free(a->all[i]->items);
        free(a->all[i]);
    }
    free(a->all);
    memset(a, 0, sizeof *a);
}

static int push(vm *v, mg__pk *x)
{
    if (!x) return mg_error_set(v->err, MG_ENOMEM, "%s: out of memory", v->name);
    if (v->sp == v->scap) {
        int nc = v->scap ? v->scap * 2 : 64;
        mg__pk **p = realloc(v->stack, (size_t)nc * sizeof *p);
        if (!p) return mg_error_set(v->err, MG_ENOMEM, "%s: out of memory", v->name);
        v->stack = p;
        v->scap = nc;
    }
    v->stack[v->sp++] = x;
    return 0;
}

static int add_item(vm *v, mg__pk *c, mg__pk *x)
{
    if (c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 8;
        mg__pk **p = realloc(c->items, (size_t)nc * sizeof *p);
        if (!p) return mg_error_set(v->err, MG_ENOMEM, "%s: out of memory", v->name);
        c->items = p;
        c->cap = nc;
    }
    c->items[c->n++] = x;
    return 0;
}

/* Bottom of the current mark frame (the stack index the last MARK saved). */
static int pop_mark(vm *v, int *base)
{
    if (v->nmarks == 0) return bad(v, "%s", "no MARK on the stack");
    *base = v->marks[--v->nmarks];
    if (*base > v->sp) return bad(v, "%s", "MARK above the stack top");
    return 0;
}

static bool need(vm *v, size_t n)
{
    return (size_t)(v->end - v->p) >= n;
}

static uint64_t rdle(const uint8_t *p, int n)
{
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = x << 8 | p[i];
    return x;
}

static int make_str(vm *v, mg__pk_kind kind, size_t n)
{
    if (!need(v, n)) return bad(v, "%s", "string runs past the end (truncated?)");
    mg__pk *x = new_pk(v, kind);
    if (!x) return push(v, NULL);
    x->s = malloc(n + 1);
    if (!x->s) return push(v, NULL);
    memcpy(x->s, v->p, n);
    x->s[n] = 0;
    x->slen = n;
    v->p += n;
    return push(v, x);
}

static int memo_put(vm *v, uint64_t idx)
{
    if (v->sp == 0) return bad(v, "%s", "memo put on an empty stack");
    /* The pickler numbers memo entries from 0, one per put: an index larger
     * than the pickle's length is a lie and would only cost memory. */
    if (idx > (uint64_t)(v->end - v->start)) return bad(v, "%s", "memo index out of range");
    if (idx >= v->nmemo) {
        size_t nn = (size_t)idx + 1 > v->nmemo * 2 ? (size_t)idx + 1 : v->nmemo * 2;
        mg__pk **p = realloc(v->memo, nn * sizeof *p);
        if (!p) return mg_error_set(v->err, MG_ENOMEM, "%s: out of memory", v->name);
        memset(p + v->nmemo, 0, (nn - v->nmemo) * sizeof *p);
        v->memo = p;
        v->nmemo = nn;
    }
    if (!v->memo[idx]) v->memo_len++;
    v->memo[idx] = v->stack[v->sp - 1];
    return 0;
}

static int memo_get(vm *v, uint64_t idx)
{
    if (idx >= v->nmemo || !v->memo[idx]) return bad(v, "%s", "memo get of an unset index");
    return push(v, v->memo[idx]);
}

static int global(vm *v, const char *mod, const char *name)
{
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strcmp(mod, allowed[i].module) == 0 && strcmp(name, allowed[i].name) == 0) {
            mg__pk *x = new_pk(v, MG__PK_GLOBAL);
            if (!x) return push(v, NULL);
            x->i = allowed[i].g;
            x->dtype = allowed[i].dtype;
            return push(v, x);
        }
    return mg_error_set(v->err, MG_EUNSUPPORTED,
                        "%s: pickle refers to global %s.%s, which a state dict does not need "
                        "(refused: pickles are untrusted and nothing in them is executed)",
                        v->name, mod, name);
}

static bool int_tuple(const mg__pk *t, int max)
{
    if (t->kind != MG__PK_TUPLE || t->n > max) return false;
    for (int i = 0; i < t->n; i++)
        if (t->items[i]->kind != MG__PK_INT) return false;
    return true;
}

/* REDUCE: interpret the call of an allowed global on its argument tuple. */
static int reduce(vm *v, mg__pk *fn, mg__pk *args)
{
    if (fn->kind != MG__PK_GLOBAL || args->kind != MG__PK_TUPLE)
        return bad(v, "%s", "REDUCE of something that is not an allowed global");
    switch ((mg__pk_global)fn->i) {
    case MG__G_ORDERED_DICT:
        if (args->n != 0) return bad(v, "%s", "OrderedDict called with arguments");
        return push(v, new_pk(v, MG__PK_DICT));
    case MG__G_REBUILD_PARAMETER:
    case MG__G_REBUILD_PARAMETER_WITH_STATE:
        if (args->n < 1 || args->items[0]->kind != MG__PK_TENSOR)
            return bad(v, "%s", "_rebuild_parameter without a tensor");
        return push(v, args->items[0]);
    case MG__G_REBUILD_TENSOR_V2: {
        if (args->n < 4 || args->items[0]->kind != MG__PK_STORAGE ||
            args->items[1]->kind != MG__PK_INT || !int_tuple(args->items[2], MG_MAX_DIMS) ||
            !int_tuple(args->items[3], MG_MAX_DIMS) || args->items[2]->n != args->items[3]->n)
            return bad(v, "%s",
                       "_rebuild_tensor_v2 needs (storage, offset, size, stride, ...) with at "
                       "most 4 dimensions");
        mg__pk *t = new_pk(v, MG__PK_TENSOR);
        if (!t) return push(v, NULL);
        t->storage = args->items[0];
        t->dtype = t->storage->dtype;
        t->offset = args->items[1]->i;
        t->ndim = args->items[2]->n;
        for (int i = 0; i < t->ndim; i++) {
            t->shape[i] = args->items[2]->items[i]->i;
            t->stride[i] = args->items[3]->items[i]->i;
            if (t->shape[i] < 0 || t->stride[i] < 0)
                return bad(v, "%s", "negative tensor size or stride");
        }
        if (t->offset < 0) return bad(v, "%s", "negative storage offset");
        return push(v, t);
    }
    default:
        return bad(v, "%s", "a storage type is called (only valid inside a persistent id)");
    }
}

static int persid(vm *v, mg__pk *pid)
{
    /* ('storage', <StorageType>, key, location, numel) */
    if (pid->kind != MG__PK_TUPLE || pid->n != 5 || pid->items[0]->kind != MG__PK_STR ||
        strcmp(pid->items[0]->s, "storage") != 0 || pid->items[1]->kind != MG__PK_GLOBAL ||
        pid->items[1]->i < MG__G_FLOAT_STORAGE || pid->items[2]->kind != MG__PK_STR ||
        pid->items[4]->kind != MG__PK_INT || pid->items[4]->i < 0)
        return bad(v, "%s", "persistent id is not ('storage', type, key, location, numel)");
    mg__pk *s = new_pk(v, MG__PK_STORAGE);
    if (!s) return push(v, NULL);
    s->dtype = pid->items[1]->dtype;
    s->s = strdup(pid->items[2]->s);
    if (!s->s) return push(v, NULL);
    s->numel_storage = pid->items[4]->i;
    return push(v, s);
}

static int run(vm *v, mg__pk **out)
{
#define POP(x)                                                                                     \
    do {                                                                                           \
        if (v->sp <= (v->nmarks ? v->marks[v->nmarks - 1] : 0))                                    \
            return bad(v, "%s", "stack underflow");                                                \
        (x) = v->stack[--v->sp];                                                                   \
    } while (0)
#define NEED(n)                                                                                    \
    do {                                                                                           \
        if (!need(v, (n))) return bad(v, "%s", "opcode argument runs past the end (truncated?)");  \
    } while (0)
    int rc;
    while (v->p < v->end) {
        uint8_t op = *v->p++;
        mg__pk *x, *y, *z;
        rc = 0;
        int base = 0;
        switch (op) {
        case 0x80: /* PROTO */
            NEED(1);
            if (v->p[0] < 2 || v->p[0] > 5) return bad(v, "%s", "unsupported pickle protocol");
            v->p++;
            break;
        case 0x95: /* FRAME: a length hint only */
            NEED(8);
            v->p += 8;
            break;
        case '.': /* STOP */
            if (v->sp != 1 || v->nmarks) return bad(v, "%s", "STOP with a malformed stack");
            *out = v->stack[0];
            return 0;
        case '}':
            rc = push(v, new_pk(v, MG__PK_DICT));
            break;
        case ']':
            rc = push(v, new_pk(v, MG__PK_LIST));
            break;
        case ')':
            rc = push(v, new_pk(v, MG__PK_TUPLE));
            break;
        case 'N':
            rc = push(v, new_pk(v, MG__PK_NONE));
            break;
        case 0x88:
        case 0x89:
            x = new_pk(v, MG__PK_BOOL);
            if (x) x->i = op == 0x88;
            rc = push(v, x);
            break;
        case '(': /* MARK */
            if (v->nmarks == v->mcap) {
                int nc = v->mcap ? v->mcap * 2 : 16;
                int *p = realloc(v->marks, (size_t)nc * sizeof *p);
                if (!p) return mg_error_set(v->err, MG_ENOMEM, "%s: out of memory", v->name);
                v->marks = p;
                v->mcap = nc;
            }
            v->marks[v->nmarks++] = v->sp;
            rc = 0;
            break;
        case 'q':
            NEED(1);
            rc = memo_put(v, v->p[0]);
            v->p += 1;
            break;
        case 'r':
            NEED(4);
            rc = memo_put(v, rdle(v->p, 4));
            v->p += 4;
            break;
        case 0x94:
            rc = memo_put(v, v->memo_len);
            break;
        case 'h':
            NEED(1);
            rc = memo_get(v, v->p[0]);
            v->p += 1;
            break;
        case 'j':
            NEED(4);
            rc = memo_get(v, rdle(v->p, 4));
            v->p += 4;
            break;
        case 'X':
        case 'B':
        case 'T': {
            NEED(4);
            uint64_t n = rdle(v->p, 4);
            v->p += 4;
            rc = make_str(v, op == 'B' ? MG__PK_BYTES : MG__PK_STR, (size_t)n);
            break;
        }
        case 0x8c:
        case 'C':
        case 'U': {
            NEED(1);
            size_t n = v->p[0];
            v->p += 1;
            rc = make_str(v, op == 'C' ? MG__PK_BYTES : MG__PK_STR, n);
            break;
        }
        case 0x8d:
        case 0x8e: {
            NEED(8);
            uint64_t n = rdle(v->p, 8);
            v->p += 8;
            if (n > (uint64_t)(v->end - v->p)) return bad(v, "%s", "string runs past the end");
            rc = make_str(v, op == 0x8e ? MG__PK_BYTES : MG__PK_STR, (size_t)n);
            break;
        }
        case 'J':
        case 'K':
        case 'M': {
            int n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
            NEED((size_t)n);
            x = new_pk(v, MG__PK_INT);
            if (x) x->i = op == 'J' ? (int64_t)(int32_t)rdle(v->p, 4) : (int64_t)rdle(v->p, n);
            v->p += n;
            rc = push(v, x);
            break;
        }
        case 0x8a:
        case 0x8b: { /* LONG1 / LONG4: little-endian two's complement */
            size_t hn = op == 0x8a ? 1 : 4;
            NEED(hn);
            uint64_t n = rdle(v->p, (int)hn);
            v->p += hn;
            if (n > 8) return bad(v, "%s", "integer wider than 64 bits");
            NEED((size_t)n);
            uint64_t u = rdle(v->p, (int)n);
            if (n > 0 && n < 8 && (v->p[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);
            v->p += n;
            x = new_pk(v, MG__PK_INT);
            if (x) x->i = (int64_t)u;
            rc = push(v, x);
            break;
        }
        case 'G': { /* BINFLOAT: big-endian double */
            NEED(8);
            uint64_t u = 0;
            for (int i = 0; i < 8; i++) u = u << 8 | v->p[i];
            v->p += 8;
            x = new_pk(v, MG__PK_FLOAT);
            if (x) memcpy(&x->f, &u, 8);
            rc = push(v, x);
            break;
        }
        case 't':
        case 'l':
            if ((rc = pop_mark(v, &base)) < 0) return rc;
            x = new_pk(v, op == 't' ? MG__PK_TUPLE : MG__PK_LIST);
            if (!x) return push(v, NULL);
            for (int i = base; i < v->sp; i++)
                if ((rc = add_item(v, x, v->stack[i])) < 0) return rc;
            v->sp = base;
            rc = push(v, x);
            break;
        case 0x85:
        case 0x86:
        case 0x87: {
            int n = op - 0x84;
            mg__pk *items[3];
            for (int i = n - 1; i >= 0; i--) POP(items[i]);
            x = new_pk(v, MG__PK_TUPLE);
            if (!x) return push(v, NULL);
            for (int i = 0; i < n; i++)
                if ((rc = add_item(v, x, items[i])) < 0) return rc;
            rc = push(v, x);
            break;
        }
        case 'a':
            POP(y);
            POP(x);
            if (x->kind != MG__PK_LIST) return bad(v, "%s", "APPEND to a non-list");
            if ((rc = add_item(v, x, y)) < 0) return rc;
            rc = push(v, x);
            break;
        case 'e':
            if ((rc = pop_mark(v, &base)) < 0) return rc;
            if (base == 0 || v->stack[base - 1]->kind != MG__PK_LIST)
                return bad(v, "%s", "APPENDS to a non-list");
            for (int i = base; i < v->sp; i++)
                if ((rc = add_item(v, v->stack[base - 1], v->stack[i])) < 0) return rc;
            v->sp = base;
            break;
        case 'd':
            if ((rc = pop_mark(v, &base)) < 0) return rc;
            if ((v->sp - base) % 2) return bad(v, "%s", "DICT with an odd number of items");
            x = new_pk(v, MG__PK_DICT);
            if (!x) return push(v, NULL);
            for (int i = base; i < v->sp; i++)
                if ((rc = add_item(v, x, v->stack[i])) < 0) return rc;
            v->sp = base;
            rc = push(v, x);
            break;
        case 's':
            POP(z);
            POP(y);
            POP(x);
            if (x->kind != MG__PK_DICT) return bad(v, "%s", "SETITEM on a non-dict");
            if ((rc = add_item(v, x, y)) < 0 || (rc = add_item(v, x, z)) < 0) return rc;
            rc = push(v, x);
            break;
        case 'u':
            if ((rc = pop_mark(v, &base)) < 0) return rc;
            if (base == 0 || v->stack[base - 1]->kind != MG__PK_DICT || (v->sp - base) % 2)
                return bad(v, "%s", "SETITEMS on a non-dict or with an odd number of items");
            for (int i = base; i < v->sp; i++)
                if ((rc = add_item(v, v->stack[base - 1], v->stack[i])) < 0) return rc;
            v->sp = base;
            break;
        case '0':
            POP(x);
            rc = 0;
            break;
        case '1':
            if ((rc = pop_mark(v, &base)) < 0) return rc;
            v->sp = base;
            break;
        case '2':
            POP(x);
            if ((rc = push(v, x)) < 0) return rc;
            rc = push(v, x);
            break;
        case 'c': { /* GLOBAL "module\nname\n" */
            const uint8_t *nl1 = memchr(v->p, '\n', (size_t)(v->end - v->p));
            if (!nl1) return bad(v, "%s", "GLOBAL without a newline");
            const uint8_t *nl2 = memchr(nl1 + 1, '\n', (size_t)(v->end - nl1 - 1));
            if (!nl2) return bad(v, "%s", "GLOBAL without a second newline");
            char mod[128], name[128];
            size_t ml = (size_t)(nl1 - v->p), nml = (size_t)(nl2 - nl1 - 1);
            snprintf(mod, sizeof mod, "%.*s", (int)(ml < 127 ? ml : 127), (const char *)v->p);
            snprintf(name, sizeof name, "%.*s", (int)(nml < 127 ? nml : 127),
                     (const char *)nl1 + 1);
            v->p = nl2 + 1;
            rc = global(v, mod, name);
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            POP(y);
            POP(x);
            if (x->kind != MG__PK_STR || y->kind != MG__PK_STR)
                return bad(v, "%s", "STACK_GLOBAL of non-strings");
            rc = global(v, x->s, y->s);
            break;
        case 'R':
            POP(y);
            POP(x);
            rc = reduce(v, x, y);
            break;
        case 'Q':
            POP(x);
            rc = persid(v, x);
            break;
        case 'b': /* BUILD: state dicts carry `_metadata`; tensors carry nothing we use */
            POP(y);
            POP(x);
            if (x->kind != MG__PK_DICT && x->kind != MG__PK_TENSOR)
                return bad(v, "%s", "BUILD on an object that is not a dict or tensor");
            rc = push(v, x);
            break;
        default: {
            char hex[8];
            snprintf(hex, sizeof hex, "0x%02x", op);
            return mg_error_set(v->err, MG_EUNSUPPORTED,
                                "%s: pickle at byte %ld: opcode %s is not supported in a state "
                                "dict",
                                v->name, (long)(v->p - 1 - v->start), hex);
        }
        }
        if (rc < 0) return rc;
    }
    return bad(v, "%s", "no STOP opcode (truncated?)");
#undef POP
#undef NEED
}

int mg__pk_parse(mg__pk_arena *a, const char *name, const uint8_t *buf, size_t len, mg__pk **out,
                 mg_error *err)
{
    vm v = {.a = a, .name = name, .p = buf, .end = buf + len, .start = buf, .err = err};
    *out = NULL;
    int rc = run(&v, out);
    free(v.stack);
    free(v.marks);
    free(v.memo);
    return rc;
}

mg__pk *mg__pk_get(const mg__pk *dict, const char *key)
{
    if (!dict || dict->kind != MG__PK_DICT) return NULL;
    for (int i = 0; i + 1 < dict->n; i += 2)
        if (dict->items[i]->kind == MG__PK_STR && strcmp(dict->items[i]->s, key) == 0)
            return dict->items[i + 1];
    return NULL;
}
