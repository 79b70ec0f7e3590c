/* settle_test.c - every run ends: kill -9 of `trail run` (alone, or with its job) is settled by
 * the next `trail sync` or `trail run` on the store, from the root's recorded end or `lost`. */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tassert.h"
#include "trust_util.h"

static const char *sandbox;
static char store[512], spool[512];

static long long q_int(const char *fmt, const char *name)
{
    char sql[1024];
    snprintf(sql, sizeof sql, fmt, name);
    return tu_sql_int(store, sql);
}

static void status_of(const char *name, char *out, size_t n)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT status FROM runs WHERE name = '%s'", name);
    tu_sql_text(store, sql, out, n);
}

/* Waits (bounded polling) until the run NAME is stored with at least points metric points. */
static int wait_stored(const char *name, int points)
{
    for (int i = 0; i < 3000; i++) {
        if (q_int("SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id"
                  " WHERE r.name = '%s' AND m.key = 'm'",
                  name) >= points)
            return 1;
        tu_nap_ms(10);
    }
    return 0;
}

/* Reaps every orphan reparented to this test (a subreaper); the last one's status. */
static int reap_orphans(void)
{
    int st = -1, s;
    while (waitpid(-1, &s, 0) > 0)
        st = WIFEXITED(s) ? WEXITSTATUS(s) : 128 + WTERMSIG(s);
    return st;
}

static int sync_store(void)
{
    return TPROC(NULL, NULL, (char *)tproc_bin("trail"), "sync", "--spool-root", spool);
}

static void test_launcher_killed_job_finishes(void)
{
    char st[32];
    pid_t trail =
        tu_spawn((char *const[]){(char *)tproc_bin("trail"), "run", "--name", "orphan", "--",
                                 (char *)tproc_test_bin("sdk_client"), "metrics", "100", "sleep",
                                 "3000", "metrics", "100", "exit", "0", NULL},
                 NULL, 0);
    T_ASSERT(wait_stored("orphan", 100));
    kill(trail, SIGKILL);
    T_EQ_INT(tu_wait(trail), 128 + SIGKILL);
    T_EQ_INT(reap_orphans(), 0); /* the job finished by itself, exit 0 */
    status_of("orphan", st, sizeof st);
    T_EQ_STR(st, "running"); /* nobody recorded the run's end */
    T_EQ_INT(sync_store(), 0);
    status_of("orphan", st, sizeof st);
    T_EQ_STR(st, "finished"); /* its root process's recorded end */
    T_EQ_INT(q_int("SELECT exit_code FROM runs WHERE name = '%s'", "orphan"), 0);
    T_EQ_INT(q_int("SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id"
                   " WHERE r.name = '%s' AND m.key = 'm'",
                   "orphan"),
             200);
    T_EQ_INT(q_int("SELECT ended_ns >= started_ns FROM runs WHERE name = '%s'", "orphan"), 1);
}

/* kill -9 of the launcher and its job together: their process group. */
static void kill_all(const char *name)
{
    pid_t trail = tu_spawn((char *const[]){(char *)tproc_bin("trail"), "run", "--name",
                                           (char *)name, "--", (char *)tproc_test_bin("sdk_client"),
                                           "metrics", "50", "sleep", "600000", NULL},
                           NULL, 1);
    T_ASSERT(wait_stored(name, 50));
    /* alive: a delivery in between leaves it running */
    T_EQ_INT(sync_store(), 0);
    char st[32];
    status_of(name, st, sizeof st);
    T_EQ_STR(st, "running");
    kill(-trail, SIGKILL);
    T_EQ_INT(tu_wait(trail), 128 + SIGKILL);
    reap_orphans();
}

static void check_lost(const char *name)
{
    char st[32];
    status_of(name, st, sizeof st);
    T_EQ_STR(st, "lost");
    /* ended at the time of its last record */
    T_EQ_INT(q_int("SELECT ended_ns IS NOT NULL AND ended_ns = (SELECT max(last_ns) FROM streams"
                   " WHERE run_id = runs.id) FROM runs WHERE name = '%s'",
                   name),
             1);
}

static void test_launcher_and_job_killed_is_lost(void)
{
    kill_all("gone");
    T_EQ_INT(sync_store(), 0);
    check_lost("gone");
}

static void test_next_trail_run_settles(void)
{
    kill_all("gone2");
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--", "true"), 0);
    check_lost("gone2");
    /* nothing is shown running that is not */
    T_EQ_INT(tu_sql_int(store, "SELECT count(*) FROM runs WHERE status = 'running'"), 0);
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, (char *)tproc_bin("trail"), "runs"), 0);
    T_CHECK(out && !strstr(out, "running") && strstr(out, "lost"));
    free(out);
}

static void test_trail_agent_settles(void)
{
    kill_all("gone3");
    pid_t agent = tu_spawn((char *const[]){(char *)tproc_bin("trail"), "agent", "--store", store,
                                           "--spool-root", spool, NULL},
                           NULL, 0);
    char st[32] = "";
    for (int i = 0; i < 3000 && strcmp(st, "lost"); i++) {
        tu_nap_ms(10);
        status_of("gone3", st, sizeof st);
    }
    /* the node agent yields to the jobs it records: 5 steps lower than who started it */
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)agent);
    FILE *f = fopen(path, "r");
    int nice = -100;
    if (f && fgets(line, sizeof line, f)) {
        const char *p = strrchr(line, ')');
        sscanf(p ? p + 2 : "", "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %d",
               &nice);
    }
    if (f) fclose(f);
    T_EQ_INT(nice, getpriority(PRIO_PROCESS, 0) + 5);
    kill(agent, SIGTERM);
    T_EQ_INT(tu_wait(agent), 0);
    check_lost("gone3");
}

/* An SDK run started outside `trail run` has no launcher but its own process: killed, the next
 * `trail sync` ends it `lost`; alive, a sync leaves it running. */
static void test_sdk_run_killed_is_lost(void)
{
    setenv("TRAIL_RUN_NAME", "sdkgone", 1);
    pid_t job = tu_spawn((char *const[]){(char *)tproc_test_bin("sdk_client"), "metrics", "40",
                                         "sleep", "600000", NULL},
                         NULL, 0);
    unsetenv("TRAIL_RUN_NAME");
    /* its records are in the spool once it sleeps: a sync stores them, the run stays running */
    char st[32] = "";
    for (int i = 0; i < 300 && q_int("SELECT count(*) FROM runs WHERE name = '%s'", "sdkgone") == 0;
         i++) {
        tu_nap_ms(20);
        T_EQ_INT(sync_store(), 0);
    }
    T_ASSERT(wait_stored("sdkgone", 40));
    status_of("sdkgone", st, sizeof st);
    T_EQ_STR(st, "running");
    kill(job, SIGKILL);
    T_EQ_INT(tu_wait(job), 128 + SIGKILL);
    T_EQ_INT(sync_store(), 0);
    check_lost("sdkgone");
    /* one that ends its run normally is not touched: finished, whatever a later sync sees */
    setenv("TRAIL_RUN_NAME", "sdkok", 1);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_test_bin("sdk_client"), "metrics", "5"), 0);
    unsetenv("TRAIL_RUN_NAME");
    T_EQ_INT(sync_store(), 0);
    T_EQ_INT(sync_store(), 0);
    status_of("sdkok", st, sizeof st);
    T_EQ_STR(st, "finished");
}

/* Runs delivered to traild are settled in traild's store: the agent on the run's host judges
 * the launcher gone and sends a RUN_SETTLE record; traild applies the same rule. */
static void test_collector_runs_settle(void)
{
    char db[600], log[600], url[64], root[600], st[32] = "";
    snprintf(db, sizeof db, "%s/traild.db", sandbox);
    snprintf(log, sizeof log, "%s/traild.log", sandbox);
    snprintf(root, sizeof root, "%s/spool-collector", sandbox);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", tnet_free_port());
    pid_t d = TNET_TRAILD(log, "--listen", url, "--store", db);
    T_ASSERT(d > 0);
    setenv("TRAIL_SPOOL_ROOT", root, 1);
    /* the launcher alone killed; its job finishes by itself, exit 3 */
    pid_t trail =
        tu_spawn((char *const[]){(char *)tproc_bin("trail"), "run", "--collector", url, "--name",
                                 "c-orphan", "--", (char *)tproc_test_bin("sdk_client"), "metrics",
                                 "30", "sleep", "3000", "metrics", "30", "exit", "3", NULL},
                 NULL, 0);
    /* the launcher and its job killed together */
    pid_t both =
        tu_spawn((char *const[]){(char *)tproc_bin("trail"), "run", "--collector", url, "--name",
                                 "c-gone", "--", (char *)tproc_test_bin("sdk_client"), "metrics",
                                 "30", "sleep", "600000", NULL},
                 NULL, 1);
    for (int i = 0; i < 3000 && tnet_points(db, "c-orphan", 0) < 30; i++)
        tu_nap_ms(10);
    T_ASSERT(tnet_points(db, "c-orphan", 0) >= 30);
    kill(trail, SIGKILL); /* its job sleeps on: the launcher dies before the job ends */
    T_EQ_INT(tu_wait(trail), 128 + SIGKILL);
    for (int i = 0; i < 3000 && tnet_points(db, "c-gone", 0) < 30; i++)
        tu_nap_ms(10);
    T_ASSERT(tnet_points(db, "c-gone", 0) >= 30);
    kill(-both, SIGKILL);
    T_EQ_INT(tu_wait(both), 128 + SIGKILL);
    /* the two jobs, reparented to this test (traild is our child too: not waited for) */
    int codes = 0, reaped = 0;
    for (int i = 0; i < 3000 && reaped < 2; i++) {
        int ws;
        pid_t w = waitpid(-1, &ws, WNOHANG);
        if (w == d) T_FAIL("traild exited");
        if (w > 0) {
            reaped++;
            codes += WIFEXITED(ws) && WEXITSTATUS(ws) == 3;
        } else {
            tu_nap_ms(10);
        }
    }
    T_EQ_INT(reaped, 2);
    T_EQ_INT(codes, 1); /* the orphan finished by itself, exit 3 */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT status FROM runs WHERE name = 'c-gone'");
    tu_sql_text(db, sql, st, sizeof st);
    T_EQ_STR(st, "running"); /* nobody recorded either end */
    char *err = NULL;
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("trail"), "sync", "--collector", url,
                   "--spool-root", root),
             0);
    T_CHECK(err && strstr(err, "2 run(s) whose launcher is gone ended"));
    if (!err || !strstr(err, "launcher is gone")) fprintf(stderr, "sync said: %s\n", err);
    free(err);
    tu_sql_text(db, "SELECT status FROM runs WHERE name = 'c-orphan'", st, sizeof st);
    T_EQ_STR(st, "failed"); /* its root process's recorded end: exit 3 */
    T_EQ_INT(tu_sql_int(db, "SELECT exit_code FROM runs WHERE name = 'c-orphan'"), 3);
    T_EQ_INT(tnet_points(db, "c-orphan", 0), 60);
    tu_sql_text(db, "SELECT status FROM runs WHERE name = 'c-gone'", st, sizeof st);
    T_EQ_STR(st, "lost");
    /* ended at its last record (not at the agent's RUN_SETTLE) */
    T_EQ_INT(tu_sql_int(db, "SELECT ended_ns IS NOT NULL AND ended_ns < (SELECT max(last_ns) FROM"
                            " streams WHERE run_id = runs.id) FROM runs WHERE name = 'c-gone'"),
             1);
    T_EQ_INT(tu_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'running'"), 0);
    /* the spool is left empty: nothing for the next sync to repeat */
    T_EQ_INT(TPROC(NULL, NULL, "sh", "-c", "test -z \"$(ls -A \"$0\")\"", root), 0);
    unsetenv("TRAIL_SPOOL_ROOT");
    setenv("TRAIL_SPOOL_ROOT", spool, 1);
    kill(d, SIGTERM);
    tnet_wait(d);
}

/* A run directory whose launcher note or store mark is a FIFO (or a link) cannot hang or steer
 * the agent: they are not read, the sync ends, and the run in the directory is still stored. */
static void test_hostile_notes(void)
{
    char root[600], dir[700], p[800];
    snprintf(root, sizeof root, "%s/spool-hostile", sandbox);
    snprintf(dir, sizeof dir, "%s/abababababababababababababababab", root);
    T_EQ_INT(TPROC(NULL, NULL, "mkdir", "-p", dir), 0);
    snprintf(p, sizeof p, "%s/launcher", dir);
    T_ASSERT(mkfifo(p, 0600) == 0);
    snprintf(p, sizeof p, "%s/dest", dir);
    T_ASSERT(mkfifo(p, 0600) == 0);
    char sub[700];
    snprintf(sub, sizeof sub, "%s/cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", root);
    T_EQ_INT(TPROC(NULL, NULL, "mkdir", "-p", sub), 0);
    snprintf(p, sizeof p, "%s/launcher", sub);
    T_ASSERT(symlink("/dev/zero", p) == 0);
    setenv("TRAIL_SPOOL_ROOT", root, 1);
    setenv("TRAIL_RUN_NAME", "next-to-fifos", 1);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_test_bin("sdk_client"), "metrics", "5"), 0);
    unsetenv("TRAIL_RUN_NAME");
    T_EQ_INT(TPROC(NULL, NULL, "timeout", "60", (char *)tproc_bin("trail"), "sync", "--spool-root",
                   root),
             0);
    T_EQ_INT(q_int("SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id"
                   " WHERE r.name = '%s'",
                   "next-to-fifos"),
             5);
    setenv("TRAIL_SPOOL_ROOT", spool, 1);
}

int main(void)
{
    sandbox = tproc_sandbox();
    tnet_asan_preload_ok(); /* under TRAIL_SANITIZE the shim joins ASan programs */
    snprintf(store, sizeof store, "%s", getenv("TRAIL_STORE"));
    snprintf(spool, sizeof spool, "%s", getenv("TRAIL_SPOOL_ROOT"));
    /* the job of a killed `trail run` becomes our child: the test knows when it ended */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) T_SKIP_TEST("no PR_SET_CHILD_SUBREAPER");
    T_RUN(test_launcher_killed_job_finishes);
    T_RUN(test_launcher_and_job_killed_is_lost);
    T_RUN(test_next_trail_run_settles);
    T_RUN(test_trail_agent_settles);
    T_RUN(test_sdk_run_killed_is_lost);
    T_RUN(test_collector_runs_settle);
    T_RUN(test_hostile_notes);
    if (!tassert_failures)
        tproc_run((char *const[]){"rm", "-rf", (char *)sandbox, NULL}, NULL, NULL);
    return T_DONE();
}
