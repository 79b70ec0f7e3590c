/* shim_dlopen_test.c - dlopen under the capture shim: the program stays the caller (a bare name
 * is found through the program's RUNPATH, $ORIGIN is the program's directory), and an object
 * loaded by path is recorded at once, so a process killed right after keeps it. */
#include <signal.h>
#include <sys/wait.h>

#include "shim_util.h"

static char *dir;

static char *env_of(char *buf, size_t n, const char *name, const char *value)
{
    snprintf(buf, n, "%s=%s", name, value);
    return buf;
}

/* Runs dlo_prog ARGS under the shim alone, spool in dir/NAME; returns the wait status. */
static int run_dlo(const char *name, char *a1, char *a2, char *a3, char **out)
{
    char spool[600], pre[4200], sp[700], run[64];
    snprintf(spool, sizeof spool, "%s/%s", dir, name);
    char *env[] = {env_of(pre, sizeof pre, "LD_PRELOAD", shu_preload()),
                   env_of(sp, sizeof sp, "TRAIL_SPOOL", spool),
                   env_of(run, sizeof run, "TRAIL_RUN_ID", SHU_RUN_ID), NULL};
    return SHU_RUN(env, out, NULL, (char *)tproc_test_bin("dlo_prog"), a1, a2, a3);
}

/* The program is dlopen's caller: its RUNPATH finds a bare name, its directory is $ORIGIN. */
static void test_caller_kept(void)
{
    char *out = NULL;
    T_EQ_INT(run_dlo("bare", "bare", NULL, NULL, &out), 0);
    T_CHECK(out && !strcmp(out, "42\n"));
    free(out);
    out = NULL;
    T_EQ_INT(run_dlo("origin", "origin", NULL, NULL, &out), 0);
    T_CHECK(out && !strcmp(out, "42\n"));
    free(out);
}

/* dlopen by path, then SIGKILL at once: the object is a recorded dependency. */
static void test_killed_keeps_object(void)
{
    char lib[4200], spool[600];
    snprintf(lib, sizeof lib, "%s/tests/dlo/libdlo_lib.so", getenv("TRAIL_BUILD"));
    char *out = NULL;
    int st = run_dlo("killed", "path", lib, "kill", &out);
    free(out);
    T_EQ_INT(st, 128 + SIGKILL);
    snprintf(spool, sizeof spool, "%s/killed", dir);
    shu_recs rs;
    shu_load(&rs, spool);
    const shu_rec *d = shu_find(&rs, TR_REC_DEP, "libdlo_lib.so", 0);
    T_ASSERT(d);
    T_EQ_STR(shu_s(d, TR_F_KIND), "dlopen");
    T_CHECK(shu_find(&rs, TR_REC_PROC_END, NULL, 0) == NULL); /* it really died unrecorded */
    shu_free(&rs);
}

int main(void)
{
    (void)tproc_test_bin;
    tproc_sandbox();
    dir = shu_mkdtemp("dlopen");
    T_RUN(test_caller_kept);
    T_RUN(test_killed_keeps_object);
    if (!tassert_failures) shu_rm_rf(dir);
    free(dir);
    return T_DONE();
}
