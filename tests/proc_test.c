/* proc_test.c - process capture end to end: the exact tree of a shell pipeline with Python
 * under the real shim, a crash with its backtrace, a static binary noted as not captured. */
#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "tassert.h"
#include "tproc.h"

static char work[512];

static cJSON *show(const char *run, const char *extra)
{
    char *out = NULL;
    int st = extra ? TPROC(&out, NULL, (char *)tproc_bin("trail"), "show", (char *)run, "--json",
                           (char *)extra)
                   : TPROC(&out, NULL, (char *)tproc_bin("trail"), "show", (char *)run, "--json");
    cJSON *doc = st == 0 ? cJSON_Parse(out) : NULL;
    if (!doc) T_FAIL("trail show %s: exit %d: %s", run, st, out ? out : "");
    free(out);
    return doc;
}

static const cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(item(o, k));
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = item(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -999;
}

static const cJSON *proc_by_pid(const cJSON *run, double pid)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, item(run, "processes")) if (jnum(p, "pid") == pid) return p;
    return NULL;
}

/* "sh>cat": the basenames of argv[0] of each image of the process's exec chain. */
static void chain(const cJSON *p, char *buf, size_t n)
{
    const cJSON *img;
    size_t o = 0;
    buf[0] = 0;
    cJSON_ArrayForEach(img, item(p, "exec"))
    {
        const char *a0 = cJSON_GetStringValue(cJSON_GetArrayItem(item(img, "argv"), 0));
        const char *b = a0 && strrchr(a0, '/') ? strrchr(a0, '/') + 1 : a0 ? a0 : "?";
        o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ">" : "", b);
        if (o >= n) break;
    }
}

static const cJSON *proc_by_chain(const cJSON *run, const char *want)
{
    const cJSON *p;
    char c[256];
    cJSON_ArrayForEach(p, item(run, "processes"))
    {
        chain(p, c, sizeof c);
        if (!strcmp(c, want)) return p;
    }
    return NULL;
}

static int has_child(const cJSON *p, double pid)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, item(p, "children")) if (c->valuedouble == pid) return 1;
    return 0;
}

/* sh runs a pipeline (two forks that exec cat and wc) and then Python, which starts `true`
 * through subprocess and exits 3. The pids the programs print are the ground truth. */
static void test_pipeline_tree(void)
{
    const char *script =
        "echo sh $$; cat x | wc -l; /usr/bin/python3 -c 'import os, subprocess, sys\n"
        "print(\"py\", os.getpid(), os.getppid(), flush=True)\n"
        "subprocess.run([\"true\"]); sys.exit(3)'";
    char *out = NULL;
    int st = TPROC(&out, NULL, (char *)tproc_bin("trail"), "run", "--name", "tree", "--", "sh",
                   "-c", (char *)script);
    T_EQ_INT(st, 3);
    double sh = -1, py = -1, pyppid = -1;
    const char *l = out ? strstr(out, "sh ") : NULL;
    if (l) sh = atof(l + 3);
    if (out && (l = strstr(out, "py "))) sscanf(l + 3, "%lf %lf", &py, &pyppid);
    T_CHECK(out && strstr(out, "\n3\n"));
    free(out);
    T_ASSERT(sh > 0 && py > 0);
    T_CHECK(pyppid == sh);

    cJSON *run = show("tree", NULL);
    T_ASSERT(run);
    T_EQ_STR(jstr(run, "status"), "failed");
    T_EQ_INT(jnum(run, "exit_code"), 3);
    T_EQ_INT(jnum(run, "pid"), sh);
    T_EQ_INT(cJSON_GetArraySize(item(run, "processes")), 5);
    const cJSON *psh = proc_by_pid(run, sh), *ppy = proc_by_pid(run, py);
    const cJSON *pcat = proc_by_chain(run, "sh>cat"), *pwc = proc_by_chain(run, "sh>wc");
    const cJSON *ptrue = proc_by_chain(run, "true");
    T_ASSERT(psh && ppy && pcat && pwc && ptrue);
    char c[256];
    chain(psh, c, sizeof c);
    T_EQ_STR(c, "sh");
    T_EQ_STR(jstr(cJSON_GetArrayItem(item(psh, "exec"), 0), "kind"), "start");
    T_EQ_INT(jnum(psh, "exit_code"), 3);
    T_EQ_STR(jstr(psh, "status"), "exited");
    /* dash forks for each pipeline member, then vforks for the last command: Python's own image
     * is the first one the shim sees in that process (after a fork it would follow "sh") */
    chain(ppy, c, sizeof c);
    T_CHECK(!strcmp(c, "python3") || !strcmp(c, "sh>python3"));
    T_EQ_INT(jnum(ppy, "exit_code"), 3);
    T_EQ_INT(jnum(ppy, "ppid"), sh);
    /* cat and wc: a fork of sh (same pid) that execs */
    const cJSON *imgs = item(pcat, "exec");
    T_EQ_STR(jstr(cJSON_GetArrayItem(imgs, 0), "kind"), "fork");
    T_EQ_STR(jstr(cJSON_GetArrayItem(imgs, 0), "end"), "exec");
    T_EQ_STR(jstr(cJSON_GetArrayItem(imgs, 1), "kind"), "exec");
    T_EQ_STR(jstr(cJSON_GetArrayItem(imgs, 1), "exe"), "/usr/bin/cat");
    T_EQ_INT(jnum(pcat, "exit_code"), 0);
    T_EQ_INT(jnum(pwc, "exit_code"), 0);
    T_EQ_INT(jnum(pcat, "ppid"), sh);
    T_EQ_INT(jnum(pwc, "ppid"), sh);
    T_EQ_INT(jnum(ptrue, "ppid"), py);
    T_EQ_INT(jnum(ptrue, "exit_code"), 0);
    /* parent -> children, both ways */
    T_EQ_INT(cJSON_GetArraySize(item(psh, "children")), 3);
    T_CHECK(has_child(psh, jnum(pcat, "pid")) && has_child(psh, jnum(pwc, "pid")) &&
            has_child(psh, py));
    T_EQ_INT(cJSON_GetArraySize(item(ppy, "children")), 1);
    T_CHECK(has_child(ppy, jnum(ptrue, "pid")));
    T_EQ_INT(cJSON_GetArraySize(item(pcat, "children")), 0);
    T_CHECK(cJSON_IsTrue(item(pcat, "interposed")));
    T_CHECK(cJSON_IsNull(item(run, "crash")));
    double true_pid = jnum(ptrue, "pid");
    cJSON_Delete(run);

    /* the text view: an indented tree with exec chains */
    st = TPROC(&out, NULL, (char *)tproc_bin("trail"), "show", "tree");
    T_EQ_INT(st, 0);
    char line[128];
    snprintf(line, sizeof line, "\n  %.0f sh  exit 3\n", sh);
    T_CHECK(out && strstr(out, line));
    T_CHECK(out && strstr(out, " sh -> cat  exit 0\n") && strstr(out, "\n    "));
    snprintf(line, sizeof line, "\n      %.0f true  exit 0\n", true_pid);
    T_CHECK(out && strstr(out, line));
    free(out);
}

/* Builds a C program from source with the system compiler; 0 when it could. */
static int build(const char *name, const char *src, const char *flags)
{
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/%s.c", work, name);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(src, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cc %s -o %s/%s %s 2>/dev/null", flags, work, name, path);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *crash_src =
    "#include <stdio.h>\n"
    "static void __attribute__((noinline)) crash_here(volatile int *p) { *p = 42; }\n"
    "int main(void) { puts(\"crashing\"); fflush(stdout); crash_here((volatile int *)0);"
    " return 0; }\n";

static void test_crash_backtrace(void)
{
    if (build("crash", crash_src, "-g -O0") != 0) {
        T_SKIP("needs a C compiler (cc)");
    }
    int st =
        TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--name", "crash", "--", "./crash");
    T_EQ_INT(st, 128 + SIGSEGV);
    cJSON *run = show("crash", NULL);
    T_ASSERT(run);
    T_EQ_STR(jstr(run, "status"), "crashed");
    T_EQ_INT(jnum(run, "signal"), SIGSEGV);
    const cJSON *crash = item(run, "crash");
    T_ASSERT(cJSON_IsObject(crash));
    T_EQ_INT(jnum(crash, "pid"), jnum(run, "pid"));
    T_EQ_INT(jnum(crash, "signal"), SIGSEGV);
    const char *bt = jstr(crash, "backtrace");
    T_CHECK(bt && strstr(bt, " in main+"));
    T_CHECK(bt && strstr(bt, " in crash_here+"));
    const cJSON *p = proc_by_pid(run, jnum(run, "pid"));
    T_ASSERT(p);
    T_EQ_STR(jstr(p, "status"), "crashed");
    T_EQ_INT(jnum(p, "signal"), SIGSEGV);
    T_CHECK(jstr(p, "backtrace") && strstr(jstr(p, "backtrace"), "main"));
    cJSON_Delete(run);

    char *out = NULL;
    TPROC(&out, NULL, (char *)tproc_bin("trail"), "show", "crash");
    T_CHECK(out && strstr(out, "crash: process ") && strstr(out, "signal 11"));
    T_CHECK(out && strstr(out, " in main+"));
    free(out);

    /* a child crashes, the run goes on: the run's crash is that process's */
    st = TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--name", "child-crash", "--", "sh",
               "-c", "./crash; echo survived");
    T_EQ_INT(st, 0);
    run = show("child-crash", NULL);
    T_ASSERT(run);
    T_EQ_STR(jstr(run, "status"), "finished");
    crash = item(run, "crash");
    T_CHECK(cJSON_IsObject(crash) && jnum(crash, "pid") != jnum(run, "pid"));
    p = proc_by_pid(run, jnum(crash, "pid"));
    T_CHECK(p && jnum(p, "ppid") == jnum(run, "pid") && jnum(p, "signal") == SIGSEGV);
    T_CHECK(jstr(crash, "backtrace") && strstr(jstr(crash, "backtrace"), "main"));
    cJSON_Delete(run);
}

/* A static binary cannot load the shim: its process is there, marked as not captured, with
 * the status its parent reaped (Python's subprocess waits with waitpid). */
static void test_static_noted(void)
{
    if (build("static7", "int main(void) { return 7; }\n", "-static -O1") != 0) {
        T_SKIP("needs cc -static (libc6-dev's libc.a)");
    }
    int st = TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--name", "static", "--",
                   "/usr/bin/python3", "-c",
                   "import subprocess, sys; sys.exit(subprocess.run(['./static7']).returncode)");
    T_EQ_INT(st, 7);
    cJSON *run = show("static", NULL);
    T_ASSERT(run);
    const cJSON *p = proc_by_chain(run, "static7"), *q;
    if (!p) p = proc_by_chain(run, "python3>static7"); /* fork, then exec */
    T_ASSERT(p);
    T_CHECK(cJSON_IsFalse(item(p, "interposed")));
    T_CHECK(jstr(p, "note") && strstr(jstr(p, "note"), "static"));
    T_EQ_INT(jnum(p, "exit_code"), 7);
    T_EQ_INT(jnum(p, "ppid"), jnum(run, "pid"));
    int captured = 0;
    cJSON_ArrayForEach(q, item(run, "processes")) captured += cJSON_IsTrue(item(q, "interposed"));
    T_EQ_INT(captured, 1); /* python */
    cJSON_Delete(run);
    char *out = NULL;
    TPROC(&out, NULL, (char *)tproc_bin("trail"), "show", "static");
    T_CHECK(out && strstr(out, "static7  exit 7  [not interposable: static binary: not captured]"));
    free(out);
}

int main(void)
{
    char lib[4096];
    snprintf(lib, sizeof lib, "%s/libtrail_preload.so",
             getenv("TRAIL_LIB") ? getenv("TRAIL_LIB") : "build/lib");
    if (access(lib, R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0)
        T_SKIP_TEST("proc_test needs %s (the capture shim) and /usr/bin/python3", lib);
    setenv("TRAIL_PRELOAD", lib, 1);
    (void)tproc_test_bin;
    snprintf(work, sizeof work, "%s/w", tproc_sandbox());
    T_ASSERT(mkdir(work, 0700) == 0 && chdir(work) == 0);
    FILE *f = fopen("x", "w");
    T_ASSERT(f);
    fputs("a\nb\nc\n", f);
    fclose(f);
    T_RUN(test_pipeline_tree);
    T_RUN(test_crash_backtrace);
    T_RUN(test_static_noted);
    return T_DONE();
}
