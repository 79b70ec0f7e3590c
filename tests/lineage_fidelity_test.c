/* lineage_fidelity_test.c - real programs under the real shim and `trail run`: files of killed
 * processes, gcc's temporaries, rsync -a, sqlite3 WAL, append logs and diff, Pool.terminate. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim_util.h"

static char *base;

static int sh(const char *name, const char *script)
{
    char *out = NULL;
    int st = SHU_TRAIL(name, &out, "sh", "-c", (char *)script);
    free(out);
    return st;
}

static int have(const char *prog)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static double num(const cJSON *o, const char *k)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* No entry of arr whose path contains needle. */
static int none_with(const cJSON *run, const char *arr, const char *needle)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(run, arr))
    {
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "path"));
        if (p && strstr(p, needle)) {
            fprintf(stderr, "%s has %s\n", arr, p);
            return 0;
        }
    }
    return 1;
}

static long long killed_events(const char *name)
{
    return shu_sql("SELECT count(*) FROM events e JOIN runs r ON r.id = e.run_id"
                   " WHERE r.name = '%s' AND e.ended = 'killed'",
                   name);
}

/* A job hitting its time limit: `timeout -s SIG` of a process streaming a data set and writing a
 * flushed log. Both files are kept: the input with its version at open, the log with the bytes
 * it has. */
static void killed_by(const char *sig)
{
    char name[64], script[2048];
    snprintf(name, sizeof name, "killed-%s", sig);
    /* timeout's own timer is the time limit; SIGALRM is that timer going off early, once the
     * program has its files open (no wall-clock guess about how long python takes to start) */
    snprintf(script, sizeof script,
             "cd %s || exit 1; rm -f ready-%s; timeout -s %s 600 python3 -c '\n"
             "import time\n"
             "log = open(\"train-%s.log\", \"w\")\n"
             "f = open(\"data.bin\", \"rb\")\n"
             "i = 0\n"
             "while True:\n"
             "    b = f.read(4096)\n"
             "    if not b: f.seek(0)\n"
             "    log.write(\"step %%d loss %%f\\n\" %% (i, 1.0 / (i + 1))); log.flush()\n"
             "    if i == 20: open(\"ready-%s\", \"w\").close()\n"
             "    i += 1; time.sleep(0.005)\n' & t=$!; n=0;"
             " while [ ! -e ready-%s ] && [ $n -lt 6000 ]; do sleep 0.05; n=$((n+1)); done;"
             " kill -ALRM $t; wait $t",
             base, sig, sig, sig, sig, sig);
    int st = sh(name, script);
    T_CHECK(st != 0); /* timeout's status: 124 (TERM) or 137 (KILL) */
    cJSON *run = shu_show(name);
    T_ASSERT(run);
    const cJSON *in = shu_entry(run, "inputs", "data.bin");
    char log[512], logname[64];
    snprintf(logname, sizeof logname, "train-%s.log", sig);
    snprintf(log, sizeof log, "%s/%s", base, logname);
    const cJSON *out = shu_entry(run, "outputs", logname);
    T_CHECK(in != NULL);
    T_CHECK(out != NULL);
    if (out) T_EQ_INT((long long)num(out, "bytes"), file_size(log));
    T_CHECK(killed_events(name) >= 2);
    cJSON_Delete(run);
    /* `trail show PATH` says how the writer ended */
    char *text = NULL;
    T_EQ_INT(TPROC(&text, NULL, (char *)tproc_bin("trail"), "show", log, "--json"), 0);
    T_CHECK(text && strstr(text, "\"ended\":") && strstr(text, "\"killed\""));
    free(text);
}

static void test_timeout_term(void)
{
    killed_by("TERM");
}

static void test_timeout_kill(void)
{
    killed_by("KILL");
}

/* Pool.terminate() stops the workers with SIGTERM while they hold a log open for writing and a
 * data file open for reading. */
static void test_pool_terminate(void)
{
    char script[2048];
    snprintf(script, sizeof script,
             "cd %s && python3 -c '\n"
             "import multiprocessing as mp, os, time\n"
             "def work(i):\n"
             "    f = open(\"data.bin\", \"rb\"); f.read(1000)\n"
             "    log = open(\"worker-%%d.log\" %% i, \"w\")\n"
             "    log.write(\"worker %%d\\n\" %% i); log.flush()\n"
             "    open(\"started-%%d\" %% i, \"w\").close()\n"
             "    time.sleep(60)\n"
             "if __name__ == \"__main__\":\n"
             "    p = mp.Pool(2)\n"
             "    r = p.map_async(work, [0, 1])\n"
             "    while not (os.path.exists(\"started-0\") and os.path.exists(\"started-1\")):\n"
             "        time.sleep(0.01)\n"
             "    p.terminate(); p.join()\n'",
             base);
    T_EQ_INT(sh("pool-terminate", script), 0);
    cJSON *run = shu_show("pool-terminate");
    T_ASSERT(run);
    T_CHECK(shu_entry(run, "outputs", "worker-0.log") != NULL);
    T_CHECK(shu_entry(run, "outputs", "worker-1.log") != NULL);
    T_CHECK(shu_entry(run, "inputs", "data.bin") != NULL);
    T_CHECK(killed_events("pool-terminate") >= 4);
    cJSON_Delete(run);
}

/* Ground truth: the files `strace -f` shows a clean build opening for writing that exist when it
 * is done (relative names are the build directory's). Each must be an output of the run. */
static void strace_outputs_are_outputs(const char *runname)
{
    char cmd[1024], log[512];
    snprintf(log, sizeof log, "%s/mk.strace", base);
    snprintf(cmd, sizeof cmd,
             "cd %s/mk && rm -f *.o app && strace -f -qq -e trace=open,openat,creat -o %s"
             " make -s >/dev/null 2>&1",
             base, log);
    if (system(cmd) != 0) T_FAIL("strace make failed");
    FILE *f = fopen(log, "r");
    T_ASSERT(f);
    cJSON *run = shu_show(runname);
    T_ASSERT(run);
    char line[8192], seen[8192] = "";
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        char *q = strchr(line, '"'), *e = q ? strchr(q + 1, '"') : NULL;
        if (!q || !e || strstr(e, "= -1") ||
            (!strstr(e, "O_WRONLY") && !strstr(e, "O_RDWR") && !strstr(line, "creat(")))
            continue;
        *e = 0;
        char path[4200];
        if (q[1] == '/')
            snprintf(path, sizeof path, "%s", q + 1);
        else
            snprintf(path, sizeof path, "%s/mk/%s", base, q + 1);
        if (strncmp(path, base, strlen(base)) != 0 || file_size(path) < 0) continue;
        const char *name = path + strlen(base) + 1; /* "mk/main.o" */
        checked++;
        if (!shu_entry(run, "outputs", name)) T_FAIL("strace: %s written, not an output", name);
        if (strlen(seen) + strlen(name) + 3 < sizeof seen) {
            strcat(seen, "|");
            strcat(seen, name);
            strcat(seen, "|");
        }
    }
    fclose(f);
    T_CHECK(checked >= 3); /* main.o, lib.o, app */
    /* and no false output: every output of the build directory is one strace saw written */
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(run, "outputs"))
    {
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "path"));
        const char *mk = p ? strstr(p, "/mk/") : NULL;
        char key[600];
        if (!mk) continue;
        snprintf(key, sizeof key, "|%s|", mk + 1);
        if (!strstr(seen, key)) T_FAIL("output %s: strace saw no write", p);
    }
    cJSON_Delete(run);
}

/* make + gcc: the driver makes /tmp/cc*.s with mkstemps, cc1 rewrites it, as reads it, the
 * driver unlinks it. Several runs: never an output, and the build's own products are never its
 * inputs. */
static void test_make_temporaries(void)
{
    char script[2048];
    snprintf(script, sizeof script,
             "cd %s && mkdir -p mk && cd mk && printf 'int twice(int);\\n' > lib.h &&"
             " printf '#include \"lib.h\"\\nint twice(int x) { return 2 * x; }\\n' > lib.c &&"
             " printf '#include \"lib.h\"\\nint main(void) { return twice(0); }\\n' > main.c &&"
             " printf 'app: main.o lib.o\\n\\tgcc -o app main.o lib.o\\n"
             "%%%%.o: %%%%.c lib.h\\n\\tgcc -O1 -c $< -o $@\\n' > Makefile",
             base);
    T_EQ_INT(system(script), 0);
    for (int i = 0; i < 4; i++) {
        char name[32], cmd[512];
        snprintf(name, sizeof name, "make-%d", i);
        snprintf(cmd, sizeof cmd, "cd %s/mk && rm -f *.o app && make -s", base);
        T_EQ_INT(sh(name, cmd), 0);
        cJSON *run = shu_show(name);
        T_ASSERT(run);
        T_CHECK(none_with(run, "outputs", "/tmp/cc"));
        T_CHECK(none_with(run, "inputs", "/tmp/cc"));
        T_CHECK(shu_entry(run, "outputs", "mk/app") != NULL);
        T_CHECK(shu_entry(run, "outputs", "mk/main.o") != NULL);
        T_CHECK(shu_entry(run, "outputs", "mk/lib.o") != NULL);
        T_CHECK(none_with(run, "inputs", "mk/app"));
        T_CHECK(none_with(run, "inputs", "main.o"));
        T_CHECK(shu_entry(run, "inputs", "mk/main.c") != NULL);
        cJSON_Delete(run);
    }
    if (have("strace")) strace_outputs_are_outputs("make-3");
}

/* rsync -a writes a temporary, sets its times, and renames it: no false input. */
static void test_rsync(void)
{
    if (!have("rsync")) T_SKIP("rsync not installed");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && rm -rf src dst && mkdir -p src/a && echo one > src/a/x.txt &&"
             " echo two > src/b.txt && touch -d 2020-01-01 src/a/x.txt src/b.txt",
             base);
    T_EQ_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "cd %s && rsync -a src/ dst/", base);
    T_EQ_INT(sh("rsync", cmd), 0);
    cJSON *run = shu_show("rsync");
    T_ASSERT(run);
    T_CHECK(none_with(run, "inputs", "/dst/"));
    T_CHECK(shu_entry(run, "inputs", "src/a/x.txt") != NULL);
    T_CHECK(shu_entry(run, "outputs", "dst/a/x.txt") != NULL);
    T_CHECK(shu_entry(run, "outputs", "dst/b.txt") != NULL);
    T_CHECK(none_with(run, "outputs", "/dst/a/.x.txt"));
    cJSON_Delete(run);
}

/* sqlite3 creates a WAL database and reads it back: the database the run made is its output and
 * never its input; its -wal file (created empty, removed at the last close) is neither. */
static void test_sqlite_wal(void)
{
    if (!have("sqlite3")) T_SKIP("sqlite3 not installed");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && rm -f w.db* && sqlite3 w.db 'PRAGMA journal_mode=WAL;"
             " CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);' >/dev/null &&"
             " sqlite3 w.db 'SELECT count(*) FROM t;'",
             base);
    T_EQ_INT(sh("sqlite-wal", cmd), 0);
    cJSON *run = shu_show("sqlite-wal");
    T_ASSERT(run);
    T_CHECK(shu_entry(run, "outputs", "w.db") != NULL);
    T_CHECK(none_with(run, "inputs", "/w.db"));
    cJSON_Delete(run);
}

/* A log opened in append mode 300 times: one output, its final version; `trail diff` against
 * another run compares the final versions. */
static void test_append_log_diff(void)
{
    char cmd[1024], *out = NULL;
    for (int r = 0; r < 2; r++) {
        snprintf(cmd, sizeof cmd,
                 "cd %s && rm -f app.log && for i in $(seq 1 300); do echo \"$i %c\" >> app.log;"
                 " done && cp app.log app-%d.final",
                 base, r ? 'b' : 'a', r);
        T_EQ_INT(sh(r ? "append-b" : "append-a", cmd), 0);
    }
    cJSON *a = shu_show("append-a"), *b = shu_show("append-b");
    T_ASSERT(a && b);
    T_EQ_INT(shu_array_size(a, "outputs") >= 1, 1);
    int logs = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(a, "outputs")) logs +=
        shu_ends(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "path")), "app.log");
    T_EQ_INT(logs, 1);
    const cJSON *la = shu_entry(a, "outputs", "app.log"), *lb = shu_entry(b, "outputs", "app.log");
    T_ASSERT(la && lb);
    /* the final version: the content hash of the file as it was at the end of the run */
    char path[512], hex[128] = "";
    snprintf(path, sizeof path, "sha256sum %s/app-0.final", base);
    FILE *p = popen(path, "r");
    T_ASSERT(p);
    T_CHECK(fscanf(p, "%64s", hex) == 1);
    pclose(p);
    const char *va = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(la, "version"));
    const char *vb = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(lb, "version"));
    T_ASSERT(va && vb);
    T_CHECK(strncmp(va, hex, strlen(va)) == 0 || strstr(hex, va) != NULL);
    T_EQ_INT(
        TPROC(&out, NULL, (char *)tproc_bin("trail"), "diff", "append-a", "append-b", "--json"), 0);
    T_CHECK(out && strstr(out, va) && strstr(out, vb));
    free(out);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* The SDK declares a file the shim also sees: the bytes once (the shim's), the declaration
 * kept; an explicit input of a file the program wrote itself stays an input. */
static void test_sdk_declarations(void)
{
    char cmd[2048];
    const char *client = tproc_test_bin("sdk_client");
    snprintf(cmd, sizeof cmd,
             "cd %s && printf 12345678 > model.bin && %s output %s/model.bin &&"
             " printf abc > notes.txt && %s input %s/notes.txt",
             base, client, base, client, base);
    T_EQ_INT(sh("sdk-merge", cmd), 0);
    cJSON *run = shu_show("sdk-merge");
    T_ASSERT(run);
    const cJSON *m = shu_entry(run, "outputs", "model.bin");
    T_ASSERT(m);
    T_EQ_INT((long long)num(m, "bytes"), 8);
    T_CHECK(shu_entry(run, "inputs", "notes.txt") != NULL);
    cJSON_Delete(run);
}

/* A static parent (busybox's sh) runs an applet and a dynamic program: the file the dynamic
 * child writes is still the run's. */
static void test_busybox_static(void)
{
    if (access("/bin/busybox", X_OK) != 0 ||
        system("file -L /bin/busybox 2>/dev/null | grep -q static") != 0)
        T_SKIP("busybox-static not installed");
    char script[512];
    snprintf(script, sizeof script, "%s/bb.sh", base);
    FILE *f = fopen(script, "w");
    T_ASSERT(f);
    fprintf(f,
            "cd %s\necho hi > bb-applet.txt\n"
            "python3 -c 'open(\"bb-py.txt\", \"w\").write(\"x\")'\n",
            base);
    fclose(f);
    char *out = NULL, cmd[600];
    snprintf(cmd, sizeof cmd, "/bin/busybox sh %s", script); /* exec'd by an interposed sh */
    T_EQ_INT(SHU_TRAIL("busybox", &out, "sh", "-c", cmd), 0);
    free(out);
    cJSON *run = shu_show("busybox");
    T_ASSERT(run);
    T_CHECK(shu_entry(run, "outputs", "bb-py.txt") != NULL);
    /* the static executable is a dependency resolved to its package */
    const cJSON *dep = shu_entry(run, "deps", "busybox");
    T_ASSERT(dep);
    const char *pkg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dep, "package"));
    T_CHECK(pkg && !strncmp(pkg, "busybox", 7));
    /* and it is in the tree, marked as not captured, the parent of python's process */
    const cJSON *p, *bbp = NULL, *py = NULL;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(run, "processes"))
    {
        const char *exe = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "exe"));
        const char *a0 = cJSON_GetStringValue(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p, "argv"), 0));
        /* busybox itself, not a fork of it that trail run saw in /proc before the fork exec'd
         * python (a loaded machine): that one is listed under python's pid, noted as a child */
        const char *note = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "note"));
        if (exe && shu_ends(exe, "busybox") && a0 && !strcmp(a0, "/bin/busybox") && note &&
            strstr(note, "static binary"))
            bbp = p;
        if (exe && strstr(exe, "python3") && !py) py = p;
    }
    if (!bbp || !py || num(py, "ppid") != num(bbp, "pid")) {
        char *txt = cJSON_Print(cJSON_GetObjectItemCaseSensitive(run, "processes"));
        fprintf(stderr, "processes: %s\n", txt ? txt : "");
        free(txt);
    }
    T_ASSERT(bbp && py);
    T_CHECK(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(bbp, "note")) != NULL);
    T_EQ_INT((long long)num(py, "ppid"), (long long)num(bbp, "pid"));
    cJSON_Delete(run);
}

/* The process of the run whose argv is exactly a0 a1 (a1 NULL: any), or NULL. */
static const cJSON *proc_argv(const cJSON *run, const char *a0, const char *a1)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(run, "processes"))
    {
        const cJSON *argv = cJSON_GetObjectItemCaseSensitive(p, "argv");
        const char *x0 = cJSON_GetStringValue(cJSON_GetArrayItem(argv, 0));
        const char *x1 = cJSON_GetStringValue(cJSON_GetArrayItem(argv, 1));
        if (x0 && !strcmp(x0, a0) && (!a1 || (x1 && !strcmp(x1, a1)))) return p;
    }
    return NULL;
}

/* Children busybox-static forks itself (an applet in a re-exec of /proc/self/exe, a subshell
 * orphaned when the script ends) are in the tree, marked not interposable, with pid, parent and
 * exe; the orphan's exit status is known (trail run is the run's subreaper and reaped it). The
 * long-lived ones strace -f sees are all there. */
static void test_busybox_children(void)
{
    if (access("/bin/busybox", X_OK) != 0 ||
        system("file -L /bin/busybox 2>/dev/null | grep -q static") != 0)
        T_SKIP("busybox-static not installed");
    char script[512], cmd[1400];
    snprintf(script, sizeof script, "%s/bbk.sh", base);
    FILE *f = fopen(script, "w");
    T_ASSERT(f);
    /* the subshell lives on after the script (orphaned), seen while its parent still runs */
    fprintf(f,
            "cd %s\nsleep 0.3\n(sleep 0.6; exit 3) &\nbusybox cat bbk.sh > bbk-copy.txt\n"
            "sleep 0.2\n",
            base);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/bin/busybox sh %s; sleep 1", script);
    char *out = NULL;
    T_EQ_INT(SHU_TRAIL("busybox-kids", &out, "sh", "-c", cmd), 0);
    free(out);
    cJSON *run = shu_show("busybox-kids");
    T_ASSERT(run);
    const cJSON *bb = proc_argv(run, "/bin/busybox", "sh");
    const cJSON *s3 = proc_argv(run, "sleep", "0.3"), *s6 = proc_argv(run, "sleep", "0.6");
    if (!bb || !s3 || !s6) {
        char *txt = cJSON_Print(cJSON_GetObjectItemCaseSensitive(run, "processes"));
        fprintf(stderr, "busybox %p, sleep 0.3 %p, sleep 0.6 %p in %s\n", (void *)bb, (void *)s3,
                (void *)s6, txt ? txt : "");
        free(txt);
    }
    T_ASSERT(bb && s3 && s6);
    T_EQ_INT((long long)num(s3, "ppid"), (long long)num(bb, "pid"));
    const char *note = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s3, "note"));
    T_CHECK(note && !strncmp(note, "not interposable", 16));
    T_CHECK(shu_ends(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s3, "exe")), "busybox"));
    T_CHECK(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s3, "ended_at")) != NULL);
    /* the subshell: a child of busybox, the parent of sleep 0.6, its exit 3 reaped by trail */
    const cJSON *p, *sub = NULL;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(run, "processes"))
    {
        if (num(p, "pid") == num(s6, "ppid")) sub = p;
    }
    T_ASSERT(sub);
    T_EQ_INT((long long)num(sub, "ppid"), (long long)num(bb, "pid"));
    T_EQ_INT((long long)num(sub, "exit_code"), 3);
    /* ground truth: every sleep applet busybox ran, as strace -f saw it, is in the tree */
    if (have("strace")) {
        char log[600], line[4096];
        snprintf(log, sizeof log, "%s/bbk.strace", base);
        snprintf(cmd, sizeof cmd, "strace -f -qq -e trace=execve -o %s sh -c '/bin/busybox sh %s'",
                 log, script);
        T_EQ_INT(system(cmd), 0);
        FILE *l = fopen(log, "r");
        T_ASSERT(l);
        int seen = 0;
        while (fgets(line, sizeof line, l)) {
            char *q = strstr(line, "[\"sleep\", \"");
            if (!q || !strstr(line, "/proc/self/exe")) continue; /* an applet, by busybox */
            char arg[32] = "";
            sscanf(q + 11, "%31[^\"]", arg);
            seen++;
            if (!proc_argv(run, "sleep", arg)) T_FAIL("strace saw busybox run sleep %s", arg);
        }
        fclose(l);
        T_EQ_INT(seen, 3);
    }
    cJSON_Delete(run);
}

int main(void)
{
    (void)tproc_test_bin;
    tproc_sandbox();
    if (!have("python3")) T_SKIP_TEST("python3 not installed");
    base = shu_mkdtemp("fidelity");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "head -c 774000 /dev/urandom > %s/data.bin", base);
    T_ASSERT(system(cmd) == 0);
    T_RUN(test_timeout_term);
    T_RUN(test_timeout_kill);
    T_RUN(test_pool_terminate);
    T_RUN(test_make_temporaries);
    T_RUN(test_rsync);
    T_RUN(test_sqlite_wal);
    T_RUN(test_append_log_diff);
    T_RUN(test_sdk_declarations);
    T_RUN(test_busybox_static);
    T_RUN(test_busybox_children);
    if (!tassert_failures) shu_rm_rf(base);
    free(base);
    return T_DONE();
}
