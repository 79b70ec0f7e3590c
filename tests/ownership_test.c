/* ownership_test.c - records belong to who wrote them: another uid writing into a run (the
 * attack of issue 10) has nothing stored, the run stays intact, and the refusal is logged. */
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tassert.h"
#include "tnet.h"
#include "trust_util.h"

#define B_UID 65534 /* nobody */
#define B_DIR "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"

static const char *sandbox;
static char store[512], spool[512], victim[40];

/* As uid B: makes dir (unless it exists) and runs the SDK client there, claiming run. */
static int as_b(const char *run, const char *dir, char *const args[])
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(B_UID) != 0 || setuid(B_UID) != 0) _exit(90);
        mkdir(dir, 0700);
        setenv("TRAIL_RUN_ID", run, 1);
        setenv("TRAIL_SPOOL", dir, 1);
        char *argv[32];
        int k = 0;
        argv[k++] = (char *)tproc_test_bin("sdk_client");
        for (int i = 0; args[i] && k < 31; i++)
            argv[k++] = args[i];
        argv[k] = NULL;
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return tu_wait(pid);
}

static long long q(const char *fmt)
{
    char sql[1024];
    snprintf(sql, sizeof sql, fmt, victim, victim, victim);
    return tu_sql_int(store, sql);
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_another_uid_cannot_write_into_a_run(void)
{
    /* A (root here) records a run; its spool directory is gone once it is delivered */
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--name", "victim", "--param",
                   "n=1000", "--", (char *)tproc_test_bin("sdk_client"), "metrics", "50"),
             0);
    tu_sql_text(store, "SELECT id FROM runs WHERE name = 'victim'", victim, sizeof victim);
    T_ASSERT(strlen(victim) == 32);
    char dir[700];

    /* 1. the attack: B's own directory, A's run id in TRAIL_RUN_ID */
    snprintf(dir, sizeof dir, "%s/%s", spool, B_DIR);
    T_EQ_INT(
        as_b(victim, dir,
             (char *[]){"param", "n", "500", "param", "lr", "FORGED", "metrics", "1000", NULL}),
        0);
    /* 2. B makes a directory named by A's run id, now that A's is gone */
    snprintf(dir, sizeof dir, "%s/%s", spool, victim);
    T_EQ_INT(as_b(victim, dir, (char *[]){"param", "n", "501", "metrics", "30", NULL}), 0);
    for (int i = 0; i < 9; i++) /* nine more processes there: each stream the store refuses */
        T_EQ_INT(as_b(victim, dir, (char *[]){"param", "k", "502", NULL}), 0); /* is kept */
    /* 3. a run directory another uid can write into (mode 0777): B's segment inside it */
    char open_dir[700], own[40] = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";
    snprintf(open_dir, sizeof open_dir, "%s/%s", spool, own);
    T_ASSERT(mkdir(open_dir, 0777) == 0 && chmod(open_dir, 0777) == 0);
    T_EQ_INT(as_b(own, open_dir, (char *[]){"param", "lr", "FORGED", "metrics", "20", NULL}), 0);

    char *err = NULL;
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("trail"), "sync", "--spool-root", spool), 0);
    /* nothing of B's is stored anywhere; A's run is as A left it */
    T_EQ_INT(tu_sql_int(store, "SELECT count(*) FROM params WHERE value IN ('FORGED', '500', "
                               "'501', '502')"),
             0);
    T_EQ_INT(q("SELECT count(*) FROM params WHERE run_id = '%s' AND key = 'n' AND value = "
               "'1000'"),
             1);
    T_EQ_INT(q("SELECT count(*) FROM metrics WHERE run_id = '%s' AND key = 'm'"), 50);
    T_EQ_INT(q("SELECT count(*) FROM runs WHERE id = '%s' AND status = 'finished'"), 1);
    T_EQ_INT(tu_sql_int(store, "SELECT count(*) FROM metrics WHERE key = 'm' AND run_id <> "
                               "(SELECT id FROM runs WHERE name = 'victim')"),
             0);
    T_EQ_INT(tu_sql_int(store, "SELECT count(*) FROM streams WHERE uid = 65534"), 0);
    T_EQ_INT(q("SELECT count(*) FROM streams WHERE run_id = '%s' AND uid = 0"),
             q("SELECT count(*) FROM streams WHERE run_id = '%s'"));
    /* each refusal is said in one line naming uid B and the segment, which stays on disk */
    int lines = count_of(err, "refused segment");
    T_CHECK(lines >= 3); /* one per segment: the SDK may have written more than one */
    T_EQ_INT(count_of(err, "refused segment "), count_of(err, "(uid 65534"));
    T_CHECK(strstr(err, B_DIR) && strstr(err, own) && strstr(err, victim));
    if (lines < 3) fprintf(stderr, "sync said: %s\n", err);
    free(err);
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "ls %s/%s/*.seg %s/%s/*.seg %s/*.seg >/dev/null", spool, B_DIR, spool,
             victim, open_dir);
    T_EQ_INT(TPROC(NULL, NULL, "sh", "-c", cmd), 0);
}

/* traild takes a run's streams only from the host whose agent delivered its first: another
 * host (a UTS namespace with its own host name) naming the run is refused with a reason. */
static void test_traild_refuses_another_host(void)
{
    char db[600], log[600], url[64], r1[600], r2[600], id[40], dir[700], script[3000];
    snprintf(db, sizeof db, "%s/traild.db", sandbox);
    snprintf(log, sizeof log, "%s/traild.log", sandbox);
    snprintf(r1, sizeof r1, "%s/host-spool", sandbox);
    snprintf(r2, sizeof r2, "%s/evil-spool", sandbox);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", tnet_free_port());
    if (TPROC(NULL, NULL, "unshare", "--uts", "true") != 0) T_SKIP("no UTS namespaces here");
    pid_t d = TNET_TRAILD(log, "--listen", url, "--store", db);
    T_ASSERT(d > 0);
    setenv("TRAIL_SPOOL_ROOT", r1, 1);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--name", "hostrun",
                   "--collector", url, "--", (char *)tproc_test_bin("sdk_client"), "metrics", "20"),
             0);
    tu_sql_text(db, "SELECT id FROM runs WHERE name = 'hostrun'", id, sizeof id);
    T_ASSERT(strlen(id) == 32);
    T_EQ_INT(tu_sql_int(db, "SELECT count(*) FROM streams WHERE agent_host IS NOT NULL AND"
                            " agent_host = (SELECT agent_host FROM runs WHERE name = 'hostrun')"),
             tu_sql_int(db, "SELECT count(*) FROM streams"));
    snprintf(dir, sizeof dir, "%s/%s", r2, id);
    snprintf(script, sizeof script,
             "hostname evil-host && mkdir -p '%s' && TRAIL_RUN_ID=%s TRAIL_SPOOL='%s' '%s' "
             "param lr FORGED metrics 30 && exec '%s' sync --collector '%s' --spool-root '%s' "
             "--timeout 2",
             dir, id, dir, tproc_test_bin("sdk_client"), tproc_bin("trail"), url, r2);
    char *err = NULL;
    T_CHECK(TPROC(NULL, &err, "unshare", "--uts", "sh", "-c", script) != 0); /* not delivered */
    T_CHECK(err && strstr(err, "refused") && strstr(err, "evil-host"));
    if (!err || !strstr(err, "refused")) fprintf(stderr, "sync said: %s\n", err ? err : "");
    free(err);
    T_CHECK(tnet_log_count(log, "refused") > 0);
    T_EQ_INT(tu_sql_int(db, "SELECT count(*) FROM params WHERE value = 'FORGED'"), 0);
    T_EQ_INT(tu_sql_int(db, "SELECT count(*) FROM metrics WHERE key = 'm'"), 20);
    T_EQ_INT(tu_sql_int(db, "SELECT count(*) FROM streams WHERE agent_host = 'evil-host'"), 0);
    kill(d, SIGTERM);
    tnet_wait(d);
}

/* As uid B: writes text to path (a file B makes). */
static void b_writes(const char *path, const char *text)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(B_UID) != 0 || setuid(B_UID) != 0) _exit(90);
        FILE *f = fopen(path, "w");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0) _exit(91);
        _exit(0);
    }
    T_EQ_INT(tu_wait(pid), 0);
}

/* Through traild too, a run takes streams of its owner only: the agent vouches for the uid
 * owning the directory it read them from. B's directory named by A's live run (A spools
 * elsewhere), with B's records and a launcher note of a dead process, changes nothing of A's
 * run: nothing stored, and no settle of it. */
static void test_traild_refuses_another_uid(void)
{
    char db[600], log[600], url[64], ra[600], dir[700], note[800], boot[64] = "", line[160];
    snprintf(db, sizeof db, "%s/traild-uid.db", sandbox);
    snprintf(log, sizeof log, "%s/traild-uid.log", sandbox);
    snprintf(ra, sizeof ra, "%s/a-spool", sandbox);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", tnet_free_port());
    pid_t d = TNET_TRAILD(log, "--listen", url, "--store", db);
    T_ASSERT(d > 0);
    setenv("TRAIL_SPOOL_ROOT", ra, 1);
    pid_t a =
        tu_spawn((char *const[]){(char *)tproc_bin("trail"), "run", "--collector", url, "--name",
                                 "live-a", "--", (char *)tproc_test_bin("sdk_client"), "metrics",
                                 "20", "sleep", "600000", NULL},
                 NULL, 1);
    for (int i = 0; i < 3000 && tnet_points(db, "live-a", 0) < 20; i++)
        tu_nap_ms(10);
    T_ASSERT(tnet_points(db, "live-a", 0) == 20);
    char id[40];
    tu_sql_text(db, "SELECT id FROM runs WHERE name = 'live-a'", id, sizeof id);
    T_ASSERT(strlen(id) == 32);
    snprintf(dir, sizeof dir, "%s/%s", spool, id);
    T_EQ_INT(as_b(id, dir, (char *[]){"param", "lr", "FORGED", "metrics", "30", NULL}), 0);
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    T_ASSERT(f && fgets(boot, sizeof boot, f));
    fclose(f);
    boot[strcspn(boot, "\n")] = 0;
    snprintf(note, sizeof note, "%s/launcher", dir);
    snprintf(line, sizeof line, "999999 12 999999 12 %s\n", boot); /* a dead launcher */
    b_writes(note, line);
    char *err = NULL;
    TPROC(NULL, &err, (char *)tproc_bin("trail"), "sync", "--collector", url, "--spool-root", spool,
          "--timeout", "3");
    T_CHECK(err && strstr(err, "refused") && strstr(err, "uid 65534"));
    if (!err || !strstr(err, "uid 65534")) fprintf(stderr, "sync said: %s\n", err ? err : "");
    free(err);
    T_EQ_INT(tnet_sql(db, "SELECT count(*) FROM params WHERE value = 'FORGED'"), 0);
    T_EQ_INT(tnet_points(db, "live-a", 0), 20);
    char st[32];
    tu_sql_text(db, "SELECT status FROM runs WHERE name = 'live-a'", st, sizeof st);
    T_EQ_STR(st, "running"); /* not settled by B's note */
    char sql[256];           /* B's own runs (left in the shared root by the test before) are B's */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM streams WHERE uid = 65534 AND run_id = '%s'",
             id);
    T_EQ_INT(tnet_sql(db, sql), 0);
    kill(-a, SIGKILL);
    tu_wait(a);
    setenv("TRAIL_SPOOL_ROOT", spool, 1);
    kill(d, SIGTERM);
    tnet_wait(d);
}

int main(void)
{
    if (geteuid() != 0) T_SKIP_TEST("needs root, to write as another uid (%d)", B_UID);
    sandbox = tproc_sandbox();
    tnet_asan_preload_ok(); /* under TRAIL_SANITIZE the shim joins ASan programs */
    snprintf(store, sizeof store, "%s", getenv("TRAIL_STORE"));
    snprintf(spool, sizeof spool, "%s", getenv("TRAIL_SPOOL_ROOT"));
    /* a node's shared spool root: anyone may make a directory in it */
    T_ASSERT(chmod(sandbox, 0755) == 0);
    T_ASSERT(mkdir(spool, 0700) == 0 && chmod(spool, 01777) == 0);
    char sdk[4096];
    snprintf(sdk, sizeof sdk, "%s", tproc_test_bin("sdk_client"));
    pid_t probe = fork();
    if (probe == 0) {
        if (setgid(B_UID) != 0 || setuid(B_UID) != 0) _exit(1);
        _exit(access(sdk, X_OK) == 0 ? 0 : 1);
    }
    if (tu_wait(probe) != 0) T_SKIP_TEST("uid %d cannot run %s", B_UID, sdk);
    T_RUN(test_another_uid_cannot_write_into_a_run);
    T_RUN(test_traild_refuses_another_host);
    T_RUN(test_traild_refuses_another_uid);
    if (!tassert_failures)
        tproc_run((char *const[]){"rm", "-rf", (char *)sandbox, NULL}, NULL, NULL);
    return T_DONE();
}
