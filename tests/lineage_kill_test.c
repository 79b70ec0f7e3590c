/* lineage_kill_test.c - bytes of killed processes and repeated opens, under the real shim and
 * `trail run`, against `strace -f -y` ground truth: a reader and a writer killed by SIGKILL keep
 * the bytes they had moved (the shim's counters outlive the process in a mapped file), a file
 * opened again and again is one input with the bytes of every open, also when the process is
 * killed in the middle, and a version changed between the opens is a second input. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim_util.h"

static char *base;
static int have_strace;

static double num(const cJSON *o, const char *k)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void wait_for(const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", base, name);
    for (int i = 0; i < 60000 && access(p, F_OK) != 0; i++)
        usleep(1000);
    T_ASSERT(access(p, F_OK) == 0);
}

/* Runs `trail run --name NAME -- [strace -f -y -o LOG] python3 -c PROG` in the background. */
static pid_t start_py(const char *name, const char *prog, const char *strace_log)
{
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        if (chdir(base) != 0) _exit(126);
        int nul = open("/dev/null", O_WRONLY);
        if (nul >= 0) dup2(nul, 1);
        const char *trail = tproc_bin("trail");
        if (strace_log)
            execl(trail, trail, "run", "--name", name, "--", "strace", "-f", "-y", "-qq", "-e",
                  "trace=read,write", "-o", strace_log, "python3", "-c", prog, (char *)NULL);
        else
            execl(trail, trail, "run", "--name", name, "--", "python3", "-c", prog, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* The pid python3 wrote into base/NAME. */
static pid_t read_pid(const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", base, name);
    FILE *f = fopen(p, "r");
    T_ASSERT(f);
    long v = 0;
    T_CHECK(fscanf(f, "%ld", &v) == 1);
    fclose(f);
    return (pid_t)v;
}

/* Bytes that `strace -y` saw moved by calls (read or write) on descriptors of path. */
static long long strace_bytes(const char *log, const char *call, const char *path)
{
    FILE *f = fopen(log, "r");
    T_ASSERT(f);
    char line[8192], pat[700];
    snprintf(pat, sizeof pat, "%s(", call);
    long long sum = 0;
    while (fgets(line, sizeof line, f)) {
        char *c = strstr(line, pat), *eq = strrchr(line, '=');
        if (!c || !eq) continue;
        char *lt = strchr(c, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        if (!lt || !gt || (size_t)(gt - lt - 1) != strlen(path) ||
            strncmp(lt + 1, path, strlen(path)) != 0)
            continue;
        long long v = atoll(eq + 1);
        if (v > 0) sum += v;
    }
    fclose(f);
    return sum;
}

/* SIGKILL of a process that read 300 000 bytes of a data set and wrote 12 345 bytes of a log
 * through raw descriptors: both counts survive. */
static void test_killed_counts(void)
{
    char log[600], prog[1024];
    snprintf(log, sizeof log, "%s/kill.strace", base);
    snprintf(prog, sizeof prog,
             "import os, time\n"
             "d = os.open('data.bin', os.O_RDONLY)\n"
             "for i in range(3): os.read(d, 100000)\n"
             "w = os.open('kill.log', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)\n"
             "os.write(w, b'x' * 12345)\n"
             "open('kill.pid', 'w').write(str(os.getpid()))\n"
             "time.sleep(600)\n");
    pid_t t = start_py("kill-counts", prog, have_strace ? log : NULL);
    wait_for("kill.pid");
    usleep(50000); /* the pid file's close is recorded before python sleeps */
    T_CHECK(kill(read_pid("kill.pid"), SIGKILL) == 0);
    int st;
    T_ASSERT(waitpid(t, &st, 0) == t);
    cJSON *run = shu_show("kill-counts");
    T_ASSERT(run);
    const cJSON *in = shu_entry(run, "inputs", "/data.bin"),
                *out = shu_entry(run, "outputs", "/kill.log");
    T_ASSERT(in && out);
    T_EQ_INT((long long)num(in, "bytes"), 300000);
    T_EQ_INT((long long)num(out, "bytes"), 12345);
    if (have_strace) {
        char p[600];
        snprintf(p, sizeof p, "%s/data.bin", base);
        T_EQ_INT(strace_bytes(log, "read", p), 300000);
        snprintf(p, sizeof p, "%s/kill.log", base);
        T_EQ_INT(strace_bytes(log, "write", p), 12345);
    }
    T_CHECK(shu_sql("SELECT count(*) FROM events e JOIN runs r ON r.id = e.run_id"
                    " WHERE r.name = 'kill-counts' AND e.ended = 'killed'") >= 2);
    cJSON_Delete(run);
    /* the counter file of the killed process is gone with it: the run's spool was removed */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "find %s -name '*.cnt' | grep -q .", getenv("TRAIL_SPOOL_ROOT"));
    T_CHECK(system(cmd) != 0);
}

/* 500 opens of one file (read whole, closed): one input, the bytes of all, a couple of events;
 * then killed while the 501st is open: still every byte. */
static void test_repeated_opens(void)
{
    char log[600], prog[1024], p[600];
    snprintf(log, sizeof log, "%s/rep.strace", base);
    snprintf(p, sizeof p, "%s/small.txt", base);
    FILE *f = fopen(p, "w");
    T_ASSERT(f);
    fputs("0123456789abcdefghijklmnopqrstuvwxyz\n", f); /* 37 bytes */
    fclose(f);
    snprintf(prog, sizeof prog,
             "import os, time\n"
             "for i in range(500):\n"
             "    d = os.open('small.txt', os.O_RDONLY); os.read(d, 100); os.close(d)\n"
             "d = os.open('small.txt', os.O_RDONLY); os.read(d, 10)\n"
             "open('rep.pid', 'w').write(str(os.getpid()))\n"
             "time.sleep(600)\n");
    pid_t t = start_py("repeated", prog, have_strace ? log : NULL);
    wait_for("rep.pid");
    usleep(50000);
    T_CHECK(kill(read_pid("rep.pid"), SIGKILL) == 0);
    int st;
    T_ASSERT(waitpid(t, &st, 0) == t);
    cJSON *run = shu_show("repeated");
    T_ASSERT(run);
    const cJSON *in = shu_entry(run, "inputs", "/small.txt");
    T_ASSERT(in);
    T_EQ_INT((long long)num(in, "bytes"), 500 * 37 + 10);
    if (have_strace) T_EQ_INT(strace_bytes(log, "read", p), 500 * 37 + 10);
    /* the first open on its own, the other 500 as one (settled by the agent: killed) */
    T_CHECK(shu_sql("SELECT count(*) FROM events e JOIN runs r ON r.id = e.run_id JOIN"
                    " artifact_versions v ON v.id = e.version_id JOIN artifacts a"
                    " ON a.id = v.artifact_id WHERE r.name = 'repeated'"
                    " AND a.path LIKE '%%/small.txt'") <= 3);
    cJSON_Delete(run);
}

/* A file changed (from outside the run) between repeated opens: two versions, each with the
 * bytes read of it. */
static void test_version_change(void)
{
    char p[600], prog[1024];
    snprintf(p, sizeof p, "%s/cfg.txt", base);
    FILE *f = fopen(p, "w");
    T_ASSERT(f);
    fputs("one\n", f);
    fclose(f);
    snprintf(prog, sizeof prog,
             "import os, time\n"
             "def rd():\n"
             "    for i in range(50):\n"
             "        d = os.open('cfg.txt', os.O_RDONLY); os.read(d, 100); os.close(d)\n"
             "rd()\n"
             "open('phase1', 'w').close()\n"
             "while not os.path.exists('go'): time.sleep(0.005)\n"
             "time.sleep(0.05)\n"
             "rd()\n");
    pid_t t = start_py("version-change", prog, NULL);
    wait_for("phase1");
    f = fopen(p, "w");
    T_ASSERT(f);
    fputs("second version\n", f); /* 15 bytes */
    fclose(f);
    snprintf(p, sizeof p, "%s/go", base);
    f = fopen(p, "w");
    T_ASSERT(f);
    fclose(f);
    int st;
    T_ASSERT(waitpid(t, &st, 0) == t);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cJSON *run = shu_show("version-change");
    T_ASSERT(run);
    long long total = 0;
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(run, "inputs"))
    {
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "path"));
        if (!path || !shu_ends(path, "/cfg.txt")) continue;
        n++;
        long long b = (long long)num(e, "bytes");
        T_CHECK(b == 50 * 4 || b == 50 * 15);
        total += b;
    }
    T_EQ_INT(n, 2);
    T_EQ_INT(total, 50 * 4 + 50 * 15);
    cJSON_Delete(run);
}

/* Pool.terminate() (SIGTERM) of workers that loaded extension modules and libraries their parent
 * never had: every shared object a worker had mapped (its own /proc/self/maps, written just
 * before it is stopped) is among the run's dependencies. */
static void test_pool_terminate_dlopen(void)
{
    char prog[2048];
    snprintf(prog, sizeof prog,
             "import multiprocessing as mp, os, time\n"
             "def work(i):\n"
             "    import bz2, ctypes\n"
             "    ctypes.CDLL('libbz2.so.1.0')\n"
             "    maps = set(l.split()[-1] for l in open('/proc/self/maps') if '.so' in l)\n"
             "    open('maps-%%d' %% i, 'w').write('\\n'.join(sorted(maps)))\n"
             "    time.sleep(60)\n"
             "if __name__ == '__main__':\n"
             "    p = mp.Pool(2)\n"
             "    r = p.map_async(work, [0, 1])\n"
             "    while not (os.path.exists('maps-0') and os.path.exists('maps-1')):\n"
             "        time.sleep(0.01)\n"
             "    time.sleep(0.05)\n"
             "    p.terminate(); p.join()\n");
    pid_t t = start_py("pool-dlopen", prog, NULL);
    int st;
    T_ASSERT(waitpid(t, &st, 0) == t);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cJSON *run = shu_show("pool-dlopen");
    T_ASSERT(run);
    int checked = 0;
    for (int i = 0; i < 2; i++) {
        char p[600], line[4200];
        snprintf(p, sizeof p, "%s/maps-%d", base, i);
        FILE *f = fopen(p, "r");
        T_ASSERT(f);
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = 0;
            if (line[0] != '/' || strstr(line, "libtrail_preload")) continue;
            int found = 0;
            const cJSON *d;
            cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(run, "deps"))
            {
                const char *dp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "path"));
                char real[4200]; /* maps shows the file, the loader the name it opened */
                found |= dp && (!strcmp(dp, line) || (realpath(dp, real) && !strcmp(real, line)));
            }
            if (!found) T_FAIL("worker %d had %s mapped: not a dependency", i, line);
            checked += strstr(line, "bz2") != NULL;
        }
        fclose(f);
    }
    T_CHECK(checked >= 4); /* _bz2 and libbz2 in each worker */
    cJSON_Delete(run);
}

int main(void)
{
    (void)tproc_test_bin;
    tproc_sandbox();
    if (system("command -v python3 >/dev/null 2>&1") != 0) T_SKIP_TEST("python3 not installed");
    have_strace = system("command -v strace >/dev/null 2>&1") == 0;
    base = shu_mkdtemp("kill");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "head -c 774000 /dev/urandom > %s/data.bin", base);
    T_ASSERT(system(cmd) == 0);
    T_RUN(test_killed_counts);
    T_RUN(test_repeated_opens);
    T_RUN(test_version_change);
    T_RUN(test_pool_terminate_dlopen);
    if (!tassert_failures) shu_rm_rf(base);
    free(base);
    return T_DONE();
}
