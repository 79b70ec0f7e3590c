/* shim_test.c - integration: unmodified programs under the real `trail run`, records stored. */
/* integration: unmodified programs under the real `trail run`, every expected record checked in
 * the store (through `trail show --json` and SQL). */
#include "shim_util.h"

static const char *sandbox;
static char work[2048];

static const char *wpath(const char *name)
{
    static char buf[4][4096];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 4096, "%s/%s", work, name);
    return b;
}

static void expect_in(const cJSON *run, const char *arr, const char *name, double bytes)
{
    const cJSON *e = shu_entry(run, arr, wpath(name));
    if (!e) {
        T_FAIL("%s: %s missing", arr, name);
        return;
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(e, "bytes");
    if (bytes >= 0 && (!cJSON_IsNumber(b) || b->valuedouble != bytes))
        T_FAIL("%s %s: %g bytes, expected %g", arr, name, cJSON_IsNumber(b) ? b->valuedouble : -1,
               bytes);
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "version")))
        T_FAIL("%s %s: no version", arr, name);
}

/* Some process of the run ran this program (argv[0] or exe ends with it). */
static int ran(const cJSON *run, const char *prog)
{
    const cJSON *p, *procs = cJSON_GetObjectItemCaseSensitive(run, "processes");
    cJSON_ArrayForEach(p, procs)
    {
        const cJSON *exe = cJSON_GetObjectItemCaseSensitive(p, "exe");
        const cJSON *a0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p, "argv"), 0);
        if ((cJSON_IsString(exe) && shu_ends(exe->valuestring, prog)) ||
            (cJSON_IsString(a0) && shu_ends(a0->valuestring, prog)))
            return 1;
    }
    /* processes are one row per pid in the store today: an exec chain keeps one image's
     * argv; the executable of every image is a dependency of kind exe */
    const cJSON *d, *deps = cJSON_GetObjectItemCaseSensitive(run, "deps");
    cJSON_ArrayForEach(d, deps)
    {
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(d, "path");
        if (cJSON_IsString(path) && shu_ends(path->valuestring, prog)) return 1;
    }
    return 0;
}

static void test_conformance(void)
{
    const char *conform = tproc_test_bin("conform");
    T_EQ_INT(SHU_RUN(NULL, NULL, NULL, (char *)conform, "setup", work), 0);
    char *out = NULL;
    T_EQ_INT(SHU_TRAIL("conformance", &out, (char *)conform, "all", work), 0);
    T_CHECK(out && strstr(out, "all done"));
    free(out);
    cJSON *run = shu_show("conformance");
    T_ASSERT(run != NULL);
    T_EQ_STR(cJSON_GetObjectItemCaseSensitive(run, "status")->valuestring, "finished");
    static const char *inputs[] = {
        "in_common.txt",  "fork_in.txt",   "vfork_in.txt", "spawn_in.txt",
        "sys_in.txt",     "popen_in.txt",  "envi_in.txt",  "envi2_in.txt",
        "cr_in.txt",      "stdio_in.txt",  "rel_in.txt",   "fort_in.txt",
        "fort_at_in.txt", "sub/at_in.txt", "mmap_in.bin",  NULL};
    for (int i = 0; inputs[i]; i++)
        expect_in(run, "inputs", inputs[i], -1);
    static const struct {
        const char *name;
        double bytes;
    } outputs[] = {{"thread_0.out", 9},   {"thread_3.out", 9},   {"fork_out.txt", -1},
                   {"fork2_out.txt", 13}, {"vfork_out.txt", 35}, {"spawn_out.txt", 35},
                   {"sys_out.txt", 35},   {"popen_out.txt", 35}, {"envi_out.txt", 35},
                   {"envi2_out.txt", 35}, {"cr_a.out", 2},       {"cr_c.out", 1},
                   {"dup_out.txt", 20},   {"stdio_out.txt", 21}, {"stdio_b.txt", 9},
                   {"sub/at_out.txt", 3}, {"model.bin", 11},     {NULL, 0}};
    for (int i = 0; outputs[i].name; i++)
        expect_in(run, "outputs", outputs[i].name, outputs[i].bytes);
    T_CHECK(!shu_entry(run, "outputs", wpath("model.tmp"))); /* renamed into place */
    static const char *progs[] = {"/conform", "/cat", "/cp", "/dash", "/env", NULL};
    for (int i = 0; progs[i]; i++)
        if (!ran(run, progs[i])) T_FAIL("no process ran %s", progs[i]);
    T_CHECK(shu_array_size(run, "processes") >= 12);
    T_CHECK(shu_entry(run, "deps", "/libc.so.6") != NULL);
    cJSON_Delete(run);
    T_CHECK(shu_sql("SELECT count(*) FROM file_ops WHERE op = 'rename' AND path LIKE '%%/model.tmp'"
                    " AND path2 LIKE '%%/model.bin'") == 1);
    T_CHECK(
        shu_sql(
            "SELECT count(*) FROM file_ops WHERE op = 'unlink' AND path LIKE '%%/model.link'") ==
        1);
    /* one event per open file description: dup_out.txt was written through five fds */
    T_EQ_INT(
        shu_sql("SELECT count(*) FROM events e JOIN artifact_versions v ON v.id = e.version_id"
                " JOIN artifacts a ON a.id = v.artifact_id WHERE a.path LIKE '%%/dup_out.txt'"),
        1);
}

static void test_crash(void)
{
    const char *conform = tproc_test_bin("conform");
    T_EQ_INT(SHU_TRAIL("crasher", NULL, (char *)conform, "crash", work), 128 + SIGSEGV);
    cJSON *run = shu_show("crasher");
    T_ASSERT(run != NULL);
    T_EQ_STR(cJSON_GetObjectItemCaseSensitive(run, "status")->valuestring, "crashed");
    const cJSON *p, *procs = cJSON_GetObjectItemCaseSensitive(run, "processes");
    int found = 0;
    cJSON_ArrayForEach(p, procs)
    {
        const cJSON *bt = cJSON_GetObjectItemCaseSensitive(p, "backtrace");
        const cJSON *sig = cJSON_GetObjectItemCaseSensitive(p, "signal");
        if (cJSON_IsString(bt) && strstr(bt->valuestring, " in main+") &&
            strstr(bt->valuestring, " in crash_here+") && cJSON_IsNumber(sig) &&
            sig->valueint == SIGSEGV)
            found = 1;
    }
    T_CHECK(found);
    expect_in(run, "outputs", "crash_partial.txt", 25); /* written before the crash */
    cJSON_Delete(run);
}

static void test_secrets_never_stored(void)
{
    const char *probe = tproc_test_bin("probe");
    char script[4300];
    snprintf(script, sizeof script, "export CHANGED_ENV=1; %s threads; env -i A=1 %s threads",
             probe, probe);
    T_EQ_INT(SHU_RUN(((char *const[]){"MY_API_TOKEN=tok-5ecret-0a1b2c",
                                      "DB_PASSWORD=pw-5ecret-9z8y", NULL}),
                     NULL, NULL, (char *)tproc_bin("trail"), "run", "--name", "secrets", "--", "sh",
                     "-c", script),
             0);
    cJSON *run = shu_show("secrets");
    T_ASSERT(run != NULL);
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(run, "env");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(env, "MY_API_TOKEN");
    T_CHECK(cJSON_IsString(tok) && !strcmp(tok->valuestring, "[redacted]"));
    cJSON_Delete(run);
    /* recorded per process where the environment changed, and redacted there too */
    T_CHECK(shu_sql("SELECT count(*) FROM env WHERE name = 'MY_API_TOKEN' AND pid != 0 AND"
                    " redacted = 1 AND value IS NULL") >= 1);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", getenv("TRAIL_STORE"));
    *strrchr(dir, '/') = 0;
    /* a pattern given only on the command line (`trail run --redact`) reaches the shim too */
    T_EQ_INT(SHU_RUN(((char *const[]){"PLAINLY_NAMED=cmdline-5ecret-77", NULL}), NULL, NULL,
                     (char *)tproc_bin("trail"), "run", "--name", "secrets2", "--redact",
                     "plainly_named", "--", "sh", "-c", script),
             0);
    T_CHECK(shu_sql("SELECT count(*) FROM env WHERE name = 'PLAINLY_NAMED' AND pid != 0 AND"
                    " redacted = 1") >= 1);
    T_CHECK(!shu_dir_contains(dir, "tok-5ecret-0a1b2c"));
    T_CHECK(!shu_dir_contains(dir, "pw-5ecret-9z8y"));
    T_CHECK(!shu_dir_contains(dir, "cmdline-5ecret-77"));
}

/* A shell passes its children the environment it was given in another order: that is no
 * change, so no child records its environment again (issue 15: every child of sh did); a
 * variable the shell exports is one (test_secrets_never_stored). */
static void test_env_order(void)
{
    char pwd[4200] = "PWD=";
    T_ASSERT(getcwd(pwd + 4, sizeof pwd - 4) != NULL); /* dash corrects a stale PWD: a change */
    T_EQ_INT(SHU_RUN(((char *const[]){pwd, NULL}), NULL, NULL, (char *)tproc_bin("trail"), "run",
                     "--name", "envorder", "--", "sh", "-c",
                     "/bin/true; /bin/true; env >/dev/null"),
             0);
    T_EQ_INT(shu_sql("SELECT count(*) FROM env e JOIN runs r ON r.id = e.run_id"
                     " WHERE r.name = 'envorder' AND e.pid != 0"),
             0);
    T_CHECK(shu_sql("SELECT count(*) FROM env e JOIN runs r ON r.id = e.run_id"
                    " WHERE r.name = 'envorder' AND e.pid = 0") > 3);
    T_CHECK(shu_sql("SELECT count(*) FROM processes p JOIN runs r ON r.id = p.run_id"
                    " WHERE r.name = 'envorder'") >= 3);
}

static void test_disable_and_static(void)
{
    const char *conform = tproc_test_bin("conform");
    char script[8400];
    snprintf(script, sizeof script, "TRAIL_DISABLE=1 %s all %s", conform, work);
    T_EQ_INT(SHU_TRAIL("disabled", NULL, "sh", "-c", script), 0);
    cJSON *run = shu_show("disabled");
    T_ASSERT(run != NULL);
    T_EQ_INT(shu_array_size(run, "outputs"), 0); /* the shim in conform did nothing */
    cJSON_Delete(run);

    const char *st = tproc_test_bin("static_prog");
    T_EQ_INT(SHU_TRAIL("static", NULL, (char *)conform, "exec-static", work, (char *)st), 0);
    run = shu_show("static");
    T_ASSERT(run != NULL);
    int n = 0;
    const cJSON *p, *procs = cJSON_GetObjectItemCaseSensitive(run, "processes");
    cJSON_ArrayForEach(p, procs)
    {
        const cJSON *a0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p, "argv"), 0);
        n += cJSON_IsString(a0) && !strcmp(a0->valuestring, st);
    }
    T_EQ_INT(n, 2); /* the spawned and the exec'd static images are in the process tree */
    cJSON_Delete(run);
}

/* A sanitizer-built child of an interposed process runs (its runtime is put first in
 * LD_PRELOAD, else it aborts) and is captured. */
static void test_asan_child(void)
{
    char script[8400];
    snprintf(script, sizeof script, "'%s' '%s'", tproc_test_bin("asan_prog"), wpath("asan.out"));
    T_EQ_INT(SHU_TRAIL("asan", NULL, "sh", "-c", script), 0);
    cJSON *run = shu_show("asan");
    T_ASSERT(run != NULL);
    expect_in(run, "outputs", "asan.out", 5);
    cJSON_Delete(run);
}

int main(void)
{
    sandbox = tproc_sandbox();
    snprintf(work, sizeof work, "%s/work", sandbox);
    T_ASSERT(mkdir(work, 0755) == 0);
    T_RUN(test_conformance);
    T_RUN(test_crash);
    T_RUN(test_secrets_never_stored);
    T_RUN(test_env_order);
    T_RUN(test_disable_and_static);
    T_RUN(test_asan_child);
    if (!tassert_failures) shu_rm_rf(sandbox);
    return T_DONE();
}
