#include <criterion/criterion.h>
#include <string.h>

#include "mg_error.h"

Test(common_error, names_and_texts_come_from_one_map)
{
    cr_assert_str_eq(mg_err_name(MG_EFORMAT), "MG_EFORMAT");
    cr_assert_str_eq(mg_err_name(MG_ENOENT), "MG_ENOENT");
    cr_assert_str_eq(mg_strerror(MG_ENOMEM), "out of memory");
    cr_assert_str_eq(mg_err_name(-123456), "MG_UNKNOWN");
    cr_assert_eq(mg_err_from_errno(ENOENT), MG_ENOENT);
    cr_assert_eq(mg_err_from_errno(0), MG_EIO);
}

Test(common_error, set_and_prefix_build_one_line)
{
    mg_error err = {0};
    int rc = mg_error_set(&err, MG_EFORMAT, "line %d:\nmissing \"%s\"", 17, "prompt");
    cr_assert_eq(rc, MG_EFORMAT);
    cr_assert_str_eq(err.msg, "line 17: missing \"prompt\"");
    mg_error_prefix(&err, MG_EIO, "%s", "HumanEval.jsonl.gz");
    cr_assert_str_eq(err.msg, "HumanEval.jsonl.gz: line 17: missing \"prompt\"");
    cr_assert_eq(err.code, MG_EFORMAT);
    cr_assert_eq(mg_error_set(NULL, MG_EIO, "ignored"), MG_EIO);
}

Test(common_error, long_messages_are_truncated_not_overflowed)
{
    mg_error err = {0};
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    mg_error_set(&err, MG_EINVAL, "%s", big);
    cr_assert_eq(strlen(err.msg), sizeof err.msg - 1);
    mg_error_prefix(&err, MG_EINVAL, "%s", big);
    cr_assert_eq(strlen(err.msg), sizeof err.msg - 1);
}
