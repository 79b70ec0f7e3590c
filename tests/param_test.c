/* param_test.c - params are immutable in the C SDK: the same value again is fine, another fails
 * with TRAIL_EPARAM naming the first value; `trail run --param K=V` (TRAIL_PARAM_K) counts as
 * logged. The SDK runs joined to a run (TRAIL_RUN_ID, TRAIL_SPOOL), as under `trail run`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tassert.h"
#include "trail.h"

static void test_same_value_again(void)
{
    T_OK(trail_log_param("lr", "0.1"));
    T_OK(trail_log_param("lr", "0.1"));
    T_EQ_STR(trail_last_error(), "");
}

static void test_other_value(void)
{
    T_ERR(trail_log_param("lr", "0.5"), TRAIL_EPARAM);
    T_EQ_STR(trail_last_error(), "param 'lr' already logged as '0.1'");
    T_EQ_STR(trail_err_name(TRAIL_EPARAM), "TRAIL_EPARAM");
    T_EQ_STR(trail_strerror(TRAIL_EPARAM), "param already logged with another value");
    /* the next call starts without the detail; the first value still holds */
    T_OK(trail_set_tag("t", "1"));
    T_EQ_STR(trail_last_error(), "");
    T_ERR(trail_log_param("lr", ""), TRAIL_EPARAM);
    T_OK(trail_log_param("lr", "0.1"));
}

static void test_command_line_param(void)
{
    T_OK(trail_log_param("batch", "32")); /* as --param batch=32 gave it */
    T_ERR(trail_log_param("batch", "64"), TRAIL_EPARAM);
    T_EQ_STR(trail_last_error(), "param 'batch' already logged as '32'");
}

static void test_invalid_key_not_claimed(void)
{
    T_ERR(trail_log_param("bad key!", "1"), TRAIL_EKEY);
    T_OK(trail_log_param("ok_key", "1"));
}

int main(void)
{
    char dir[] = "/tmp/trail-param-test-XXXXXX";
    if (!mkdtemp(dir)) T_SKIP_TEST("mkdtemp failed");
    setenv("TRAIL_RUN_ID", "0123456789abcdef0123456789abcdef", 1);
    setenv("TRAIL_SPOOL", dir, 1);
    setenv("TRAIL_PARAM_batch", "32", 1);
    T_RUN(test_same_value_again);
    T_RUN(test_other_value);
    T_RUN(test_command_line_param);
    T_RUN(test_invalid_key_not_claimed);
    return T_DONE();
}
