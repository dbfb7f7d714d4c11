/* test_pickle.c — the pickle reader on hand-written programs: what state
 * dicts use is rebuilt; every other global, opcode or malformed stack is
 * refused with a message, never executed and never a crash. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static mg__pk_arena A;
static mg_error ERR;
static mg__pk *OUT;

static void setup(void)
{
    memset(&A, 0, sizeof A);
    memset(&ERR, 0, sizeof ERR);
    OUT = NULL;
}
static void teardown(void)
{
    mg__pk_free_all(&A);
    tu_cleanup();
}

#define PK(lit) mg__pk_parse(&A, "data.pkl", (const uint8_t *)(lit), sizeof(lit) - 1, &OUT, &ERR)

TestSuite(pickle, .init = setup, .fini = teardown);

Test(pickle, unknown_global_is_refused_by_name)
{
    cr_assert_eq(PK("\x80\x02"
                    "cos\nsystem\n"
                    "X\x02\x00\x00\x00id"
                    "\x85R."),
                 MG_EUNSUPPORTED);
    cr_assert(strstr(ERR.msg, "os.system"), "%s", ERR.msg);
    cr_assert_eq(PK("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00"
                    "\x8c\x08"
                    "builtins"
                    "\x94\x8c\x04"
                    "eval"
                    "\x94\x93."),
                 MG_EUNSUPPORTED);
    cr_assert(strstr(ERR.msg, "builtins.eval"), "%s", ERR.msg);
}

Test(pickle, protocol4_dict_of_scalars)
{
    /* {'a': 1, 'b': [1.5, None, True], 'c': -2, 'd': 'xy'} with FRAME + MEMOIZE */
    int rc = PK("\x80\x04\x95\x40\x00\x00\x00\x00\x00\x00\x00"
                "}\x94(\x8c\x01"
                "a\x94K\x01\x8c\x01"
                "b\x94]\x94(G?\xf8\x00\x00\x00\x00\x00\x00N\x88"
                "e\x8c\x01"
                "c\x94\x8a\x01\xfe\x8c\x01"
                "d\x94\x8c\x02"
                "xy\x94u.");
    cr_assert_eq(rc, 0, "%s", ERR.msg);
    cr_assert_eq(OUT->kind, MG__PK_DICT);
    cr_assert_eq(mg__pk_get(OUT, "a")->i, 1);
    mg__pk *b = mg__pk_get(OUT, "b");
    cr_assert_eq(b->kind, MG__PK_LIST);
    cr_assert_eq(b->n, 3);
    cr_assert_float_eq(b->items[0]->f, 1.5, 0);
    cr_assert_eq(b->items[1]->kind, MG__PK_NONE);
    cr_assert_eq(b->items[2]->kind, MG__PK_BOOL);
    cr_assert_eq(mg__pk_get(OUT, "c")->i, -2);
    cr_assert_str_eq(mg__pk_get(OUT, "d")->s, "xy");
}

Test(pickle, malformed_programs_fail_cleanly)
{
    cr_assert_eq(PK("\x80\x02s."), MG_EFORMAT);                   /* SETITEM on an empty stack */
    cr_assert_eq(PK("\x80\x02h\x05."), MG_EFORMAT);               /* memo get of an unset index */
    cr_assert_eq(PK("\x80\x02X\xff\x00\x00\x00ab."), MG_EFORMAT); /* string past the end */
    cr_assert_eq(PK("\x80\x02}"), MG_EFORMAT);                    /* no STOP */
    cr_assert(strstr(ERR.msg, "STOP"), "%s", ERR.msg);
    cr_assert_eq(PK("\x80\x02NN."), MG_EFORMAT);                /* two values at STOP */
    cr_assert_eq(PK("\x80\x02t."), MG_EFORMAT);                 /* TUPLE without MARK */
    cr_assert_eq(PK("\x80\x09N."), MG_EFORMAT);                 /* protocol 9 */
    cr_assert_eq(PK("\x80\x02N(\x85."), MG_EFORMAT);            /* TUPLE1 across a MARK */
    cr_assert_eq(PK("\x80\x02r\xff\xff\xff\x7f."), MG_EFORMAT); /* huge memo index */
    cr_assert_eq(PK("\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09."), MG_EFORMAT);
    cr_assert_eq(PK("\x80\x02"
                    "ccollections\nOrderedDict\n"
                    "N\x85R."),
                 MG_EFORMAT);
    cr_assert_eq(PK("\x80\x02"
                    "ctorch\nFloatStorage\n"
                    ")R."),
                 MG_EFORMAT);
    cr_assert_eq(PK(""), MG_EFORMAT);
}

Test(pickle, unsupported_opcode_is_named)
{
    cr_assert_eq(PK("\x80\x02(i__main__\nX\n."), MG_EUNSUPPORTED); /* INST */
    cr_assert(strstr(ERR.msg, "0x69"), "%s", ERR.msg);
    cr_assert_eq(PK("\x80\x05\x97."), MG_EUNSUPPORTED); /* NEXT_BUFFER */
}

Test(pickle, self_referencing_list_does_not_hang)
{
    cr_assert_eq(PK("\x80\x02]q\x00h\x00"
                    "a."),
                 0, "%s", ERR.msg);
    cr_assert_eq(OUT->kind, MG__PK_LIST);
    cr_assert_eq(OUT->items[0], OUT);
}

/* A torch-style zip holding `pkl` and one F32 storage "0" of 6 floats. */
static int load_pt(const char *pkl, size_t pkl_len, mg__tset *ts, mg_model_storage *s)
{
    static const float data[6] = {0, 1, 2, 3, 4, 5};
    tz_entry e[] = {{"archive/data.pkl", pkl, pkl_len},
                    {"archive/byteorder", "little", 6},
                    {"archive/data/0", data, sizeof data}};
    char path[256];
    snprintf(path, sizeof path, "%s/x.pt", tu_tmpdir());
    tz_write(path, e, 3);
    mg__pk_arena a = {0};
    int rc = mg__pt_load(s, path, ts, &a, NULL, &ERR);
    mg__pk_free_all(&a);
    if (rc == 0) rc = mg__tset_finish(ts, &ERR);
    return rc;
}

/* {'w': _rebuild_tensor_v2(storage('0', 6 floats), offset, size, stride, False, OrderedDict())} */
static size_t tensor_pkl(char *buf, int offset, int d0, int d1, int s0, int s1)
{
    size_t n = 0;
    static const char h1[] = "\x80\x02}X\x01\x00\x00\x00w"
                             "ctorch._utils\n_rebuild_tensor_v2\n("
                             "(X\x07\x00\x00\x00storage"
                             "ctorch\nFloatStorage\n"
                             "X\x01\x00\x00\x00"
                             "0X\x03\x00\x00\x00"
                             "cpuK\x06t"
                             "Q";
    memcpy(buf, h1, sizeof h1 - 1);
    n = sizeof h1 - 1;
    buf[n++] = 'K', buf[n++] = (char)offset;
    buf[n++] = 'K', buf[n++] = (char)d0, buf[n++] = 'K', buf[n++] = (char)d1, buf[n++] = '\x86';
    buf[n++] = 'K', buf[n++] = (char)s0, buf[n++] = 'K', buf[n++] = (char)s1, buf[n++] = '\x86';
    static const char tail[] = "\x89"
                               "ccollections\nOrderedDict\n)Rt"
                               "Rs.";
    memcpy(buf + n, tail, sizeof tail - 1);
    return n + sizeof tail - 1;
}

Test(pickle, contiguous_tensor_points_into_the_file)
{
    char pkl[512];
    size_t n = tensor_pkl(pkl, 2, 2, 2, 2, 1);
    mg_model_storage *s = calloc(1, sizeof *s);
    mg__tset ts = {0};
    cr_assert_eq(load_pt(pkl, n, &ts, s), 0, "%s", ERR.msg);
    const mg__tentry *w = mg__tset_find(&ts, "w");
    cr_assert(w);
    const float *f = w->t.data;
    cr_assert_float_eq(f[0], 2.0f, 0);
    cr_assert_float_eq(f[3], 5.0f, 0);
    mg__tset_free(&ts);
    mg__storage_free(s);
}

Test(pickle, zip64_directory)
{
    char pkl[512];
    size_t n = tensor_pkl(pkl, 0, 2, 3, 3, 1);
    mg_model_storage *s = calloc(1, sizeof *s);
    mg__tset ts = {0};
    tz_zip64 = true;
    cr_assert_eq(load_pt(pkl, n, &ts, s), 0, "%s", ERR.msg);
    const float *f = mg__tset_find(&ts, "w")->t.data;
    cr_assert_float_eq(f[5], 5.0f, 0);
    mg__tset_free(&ts);
    mg__storage_free(s);
}

Test(pickle, transposed_view_is_copied_contiguous)
{
    char pkl[512];
    size_t n = tensor_pkl(pkl, 0, 3, 2, 1, 3); /* shape (3,2), stride (1,3): transpose of 2x3 */
    mg_model_storage *s = calloc(1, sizeof *s);
    mg__tset ts = {0};
    cr_assert_eq(load_pt(pkl, n, &ts, s), 0, "%s", ERR.msg);
    const float *f = mg__tset_find(&ts, "w")->t.data;
    const float want[6] = {0, 3, 1, 4, 2, 5};
    for (int i = 0; i < 6; i++) cr_assert_float_eq(f[i], want[i], 0, "element %d", i);
    mg__tset_free(&ts);
    mg__storage_free(s);
}

Test(pickle, view_past_its_storage_is_refused)
{
    char pkl[512];
    size_t n = tensor_pkl(pkl, 3, 2, 2, 2, 1); /* needs elements 3..6 of 6 */
    mg_model_storage *s = calloc(1, sizeof *s);
    mg__tset ts = {0};
    cr_assert_eq(load_pt(pkl, n, &ts, s), MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "runs past its storage") && strstr(ERR.msg, "'w'"), "%s", ERR.msg);
    mg__tset_free(&ts);
    mg__storage_free(s);
}

Test(pickle, parameter_with_state)
{
    /* {'w': _rebuild_parameter_with_state(<tensor>, False, OrderedDict(), {})} */
    char t[512], pkl[768];
    size_t n = tensor_pkl(t, 0, 2, 3, 3, 1);
    static const char head[] = "\x80\x02}X\x01\x00\x00\x00w"
                               "ctorch._utils\n_rebuild_parameter_with_state\n(";
    static const char tail[] = "\x89"
                               "ccollections\nOrderedDict\n)R}tRs.";
    size_t o = 0;
    memcpy(pkl, head, sizeof head - 1), o += sizeof head - 1;
    memcpy(pkl + o, t + 9, n - 9 - 2), o += n - 9 - 2; /* the tensor expression alone */
    memcpy(pkl + o, tail, sizeof tail - 1), o += sizeof tail - 1;
    mg_model_storage *s = calloc(1, sizeof *s);
    mg__tset ts = {0};
    cr_assert_eq(load_pt(pkl, o, &ts, s), 0, "%s", ERR.msg);
    const mg__tentry *w = mg__tset_find(&ts, "w");
    cr_assert(w && w->t.shape[1] == 3);
    mg__tset_free(&ts);
    mg__storage_free(s);
}

Test(pickle, expanded_view_is_refused)
{
    char pkl[512];
    size_t n = tensor_pkl(pkl, 0, 3, 4, 0, 1); /* 12 elements over a 6-element storage */
    mg_model_storage *s = calloc(1, sizeof *s);
    mg__tset ts = {0};
    cr_assert_eq(load_pt(pkl, n, &ts, s), MG_EUNSUPPORTED);
    cr_assert(strstr(ERR.msg, "expanded"), "%s", ERR.msg);
    mg__tset_free(&ts);
    mg__storage_free(s);
}

Test(pickle, legacy_and_garbage_files)
{
    mg_model_storage *s = calloc(1, sizeof *s);
    mg__tset ts = {0};
    mg__pk_arena a = {0};
    char path[256];
    snprintf(path, sizeof path, "%s/legacy.pt", tu_tmpdir());
    tu_write(path, "\x80\x02\x8a\x0a", 4);
    cr_assert_eq(mg__pt_load(s, path, &ts, &a, NULL, &ERR), MG_EUNSUPPORTED);
    cr_assert(strstr(ERR.msg, "legacy"), "%s", ERR.msg);
    tu_write(path, "hello world, not a zip at all", 29);
    cr_assert_eq(mg__pt_load(s, path, &ts, &a, NULL, &ERR), MG_EFORMAT);
    cr_assert(strstr(ERR.msg, "legacy.pt") && strstr(ERR.msg, "zip"), "%s", ERR.msg);
    mg__pk_free_all(&a);
    mg__tset_free(&ts);
    mg__storage_free(s);
}
