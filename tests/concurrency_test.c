/* concurrency_test.c - `trail run` always runs CMD: 32 at once into one fresh store, and into a
 * locked, a corrupt and an unwritable store (the real binary, real SQLite files). */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tassert.h"
#include "trust_util.h"

#define NRUNS 32
#define NPOINTS 2000

static const char *sandbox;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    char *buf = calloc(1, 1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

/* Entries of dir other than . and .. (-1 when it cannot be read). */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Lines of text that contain needle. */
static int lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[8192];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
        n += strstr(line, needle) != NULL;
        p = nl ? nl + 1 : p + len;
    }
    return n;
}

static void test_32_runs_into_a_fresh_store(void)
{
    char store[512], spool[512], sql[1024];
    snprintf(store, sizeof store, "%s/fresh/trail.db", sandbox); /* not there yet */
    snprintf(spool, sizeof spool, "%s/spool32", sandbox);
    setenv("TRAIL_STORE", store, 1);
    setenv("TRAIL_SPOOL_ROOT", spool, 1);
    pid_t pid[NRUNS];
    char err[NRUNS][600], name[NRUNS][16], points[16];
    snprintf(points, sizeof points, "%d", NPOINTS);
    for (int i = 0; i < NRUNS; i++) {
        snprintf(name[i], sizeof name[i], "c%02d", i);
        snprintf(err[i], sizeof err[i], "%s/c%02d.err", sandbox, i);
        pid[i] = tu_spawn((char *const[]){(char *)tproc_bin("trail"), "run", "--name", name[i],
                                          "--", (char *)tproc_test_bin("sdk_client"), "param", "i",
                                          name[i], "metrics", points, "exit", "0", NULL},
                          err[i], 0);
        T_ASSERT(pid[i] > 0);
    }
    int ran = 0;
    for (int i = 0; i < NRUNS; i++) {
        int st = tu_wait(pid[i]);
        ran += st == 0;
        char *text = slurp(err[i]);
        if (st != 0) fprintf(stderr, "run %s exited %d: %s\n", name[i], st, text);
        T_CHECK(!strstr(text, "not a trail store") && !strstr(text, "locked"));
        free(text);
    }
    T_EQ_INT(ran, NRUNS); /* every program ran, and exited 0 */
    T_EQ_INT(tu_sql_int(store, "SELECT count(*) FROM runs"), NRUNS);
    T_EQ_INT(tu_sql_int(store, "SELECT count(*) FROM runs WHERE status = 'finished'"), NRUNS);
    T_EQ_INT(tu_sql_int(store, "SELECT count(*) FROM metrics WHERE key = 'm'"),
             (long long)NRUNS * NPOINTS);
    for (int i = 0; i < NRUNS; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT count(DISTINCT m.step) FROM metrics m JOIN runs r ON r.id = m.run_id"
                 " AND m.key = 'm'"
                 " WHERE r.name = '%s'",
                 name[i]);
        T_EQ_INT(tu_sql_int(store, sql), NPOINTS); /* complete when its `trail run` returned */
    }
    T_EQ_INT(entries(spool), 0); /* nothing left for `trail sync` */
}

/* CMD runs and its status is returned whatever the store; one line says `trail sync` will
 * deliver, naming the store; the records wait in a run directory of the spool. */
static void check_runs_anyway(const char *store, const char *name, const char *spool)
{
    char mark[600], script[700], err_path[600];
    snprintf(mark, sizeof mark, "%s/%s.ran", sandbox, name);
    snprintf(script, sizeof script, "echo ran > '%s'; exit 7", mark);
    snprintf(err_path, sizeof err_path, "%s/%s.err", sandbox, name);
    setenv("TRAIL_SPOOL_ROOT", spool, 1);
    pid_t pid = tu_spawn((char *const[]){(char *)tproc_bin("trail"), "run", "--store",
                                         (char *)store, "--name", (char *)name, "--drain-timeout",
                                         "2", "--", "sh", "-c", script, NULL},
                         err_path, 0);
    T_EQ_INT(tu_wait(pid), 7);
    T_CHECK(access(mark, F_OK) == 0);
    char *text = slurp(err_path);
    T_EQ_INT(lines_with(text, "`trail sync`"), 1);
    T_CHECK(strstr(text, store) != NULL);
    if (lines_with(text, "`trail sync`") != 1) fprintf(stderr, "stderr was: %s\n", text);
    free(text);
    T_EQ_INT(entries(spool), 1);
}

static void test_locked_store(void)
{
    char store[512], spool[512];
    snprintf(store, sizeof store, "%s/locked.db", sandbox);
    snprintf(spool, sizeof spool, "%s/spool-locked", sandbox);
    setenv("TRAIL_SPOOL_ROOT", spool, 1);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--store", store, "--", "true"),
             0);
    sqlite3 *db;
    T_ASSERT(sqlite3_open(store, &db) == SQLITE_OK);
    T_ASSERT(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);
    setenv("TRAIL_BUSY_TIMEOUT_MS", "100", 1);
    check_runs_anyway(store, "locked", spool);
    unsetenv("TRAIL_BUSY_TIMEOUT_MS");
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    /* once the lock is gone, `trail sync` delivers the run whole */
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "sync", "--spool-root", spool), 0);
    T_EQ_INT(tu_sql_int(store, "SELECT count(*) FROM runs WHERE name = 'locked' AND status ="
                               " 'failed' AND exit_code = 7 AND ended_ns IS NOT NULL"),
             1);
    T_EQ_INT(entries(spool), 0);
}

static void test_corrupt_store(void)
{
    char store[512], spool[512];
    snprintf(store, sizeof store, "%s/corrupt.db", sandbox);
    snprintf(spool, sizeof spool, "%s/spool-corrupt", sandbox);
    FILE *f = fopen(store, "wb");
    T_ASSERT(f);
    for (int i = 0; i < 8192; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    check_runs_anyway(store, "corrupt", spool);
}

static void test_unwritable_store(void)
{
    char file[512], store[600], spool[512];
    snprintf(file, sizeof file, "%s/a-file", sandbox);
    FILE *f = fopen(file, "w");
    T_ASSERT(f);
    fclose(f);
    snprintf(store, sizeof store, "%s/trail.db", file); /* its directory cannot be made */
    snprintf(spool, sizeof spool, "%s/spool-unwritable", sandbox);
    check_runs_anyway(store, "unwritable", spool);
}

/* No spool directory can be made (its root is a file): CMD still runs as itself, with its own
 * output, exit status and environment, and one line says it is not recorded. */
static void test_no_spool_dir(void)
{
    char file[512], mark[600], script[700];
    snprintf(file, sizeof file, "%s/spool-is-a-file", sandbox);
    FILE *f = fopen(file, "w");
    T_ASSERT(f);
    fclose(f);
    snprintf(mark, sizeof mark, "%s/nospool.ran", sandbox);
    snprintf(script, sizeof script, "echo out; echo \"$X_KEEP\" > '%s'; exit 5", mark);
    setenv("TRAIL_SPOOL_ROOT", file, 1);
    setenv("X_KEEP", "kept", 1);
    char *out = NULL, *err = NULL;
    int rc = TPROC(&out, &err, (char *)tproc_bin("trail"), "run", "--", "sh", "-c", script);
    unsetenv("X_KEEP");
    T_EQ_INT(rc, 5);
    T_CHECK(out && !strcmp(out, "out\n"));
    char *ran = slurp(mark);
    T_CHECK(ran && !strcmp(ran, "kept\n"));
    T_EQ_INT(lines_with(err, "unrecorded"), 1);
    T_EQ_INT(lines_with(err, "trail"), 1);
    if (lines_with(err, "unrecorded") != 1) fprintf(stderr, "stderr was: %s\n", err);
    /* a command that does not exist fails as it would bare */
    free(out);
    free(err);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--", "no-such-cmd-xyz"), 127);
    free(ran);
}

int main(void)
{
    sandbox = tproc_sandbox();
    tnet_asan_preload_ok(); /* under TRAIL_SANITIZE the shim joins ASan programs */
    signal(SIGPIPE, SIG_IGN);
    T_RUN(test_32_runs_into_a_fresh_store);
    T_RUN(test_locked_store);
    T_RUN(test_corrupt_store);
    T_RUN(test_unwritable_store);
    T_RUN(test_no_spool_dir);
    if (!tassert_failures)
        tproc_run((char *const[]){"rm", "-rf", (char *)sandbox, NULL}, NULL, NULL);
    return T_DONE();
}
