/* traild_test.c - integration: real traild daemons on loopback, `trail run/sync/agent` shipping. */
#include "tassert.h"
#include "tnet.h"

#define TRAIL (char *)tproc_bin("trail")
#define CLIENT (char *)tproc_test_bin("sdk_client")

static const char *sandbox;
static char token[600], dlog[600];

static const char *path_in(const char *name)
{
    static char buf[8][600];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 600, "%s/%s", sandbox, name);
    return p;
}

static const char *tcp_url(int port)
{
    static char buf[4][64];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 64, "tcp://127.0.0.1:%d", port);
    return p;
}

static long long count_all(const char *db, int distinct)
{
    return tnet_sql(db, distinct ? "SELECT count(DISTINCT step) FROM metrics"
                                 : "SELECT count(*) FROM metrics");
}

/* Polls (bounded, not a timing assertion) until the run's points reach want. */
static long long wait_points(const char *db, const char *name, long long want)
{
    long long n = -1;
    for (int i = 0; i < 6000 && n < want; i++) {
        n = tnet_points(db, name, 0);
        if (n < want) tnet_sleep_ms(10);
    }
    return n;
}

/* kill -9 of traild while 100k metrics stream in; a restart on the same store finishes the
 * job: exactly 100000 points, none doubled. */
static void test_kill9_mid_stream(void)
{
    const char *db = path_in("kill9.db"), *url = tcp_url(tnet_free_port());
    pid_t d = TNET_TRAILD(dlog, "--listen", (char *)url, "--store", (char *)db);
    T_ASSERT(d > 0);
    pid_t run = TNET_SPAWN(path_in("kill9.log"), TRAIL, "run", "--name", "kill9", "--collector",
                           (char *)url, "--", CLIENT, "metrics", "100000");
    long long at = 0;
    for (int i = 0; i < 60000 && at <= 0; i++) {
        at = count_all(db, 0);
        if (at <= 0) tnet_sleep_ms(1);
    }
    kill(d, SIGKILL);
    T_EQ_INT(tnet_wait(d), 128 + SIGKILL);
    fprintf(stderr, "kill9: traild SIGKILLed with %lld of 100000 points committed\n", at);
    T_CHECK(at > 0 && at < 100000); /* really mid-stream */
    d = TNET_TRAILD(dlog, "--listen", (char *)url, "--store", (char *)db);
    T_ASSERT(d > 0);
    T_EQ_INT(tnet_wait(run), 0);
    T_EQ_INT(count_all(db, 0), 100000);
    T_EQ_INT(count_all(db, 1), 100000);
    T_EQ_INT(tnet_points(db, "kill9", 1), 100000);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

/* Collector absent for the whole run: the run is not held up, records wait in the spool,
 * and `trail sync --collector` delivers them once traild is up. */
static void test_absent_then_sync(void)
{
    const char *db = path_in("absent.db"), *url = tcp_url(tnet_free_port());
    char *err = NULL;
    double t0 = tnet_now();
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--store", (char *)path_in("base.db"), "--name",
                   "base", "--", CLIENT, "metrics", "100000"),
             0);
    double t_base = tnet_now() - t0;
    t0 = tnet_now();
    int st = TPROC(NULL, &err, TRAIL, "run", "--name", "absent", "--collector", (char *)url,
                   "--drain-timeout", "0", "--", CLIENT, "metrics", "100000");
    double t_abs = tnet_now() - t0;
    T_EQ_INT(st, 0);
    T_CHECK(err && strstr(err, "stays in") && strstr(err, "trail sync --collector"));
    free(err);
    fprintf(stderr,
            "wall time of 100k metrics: embedded store %.3f s, collector absent %.3f s, "
            "ratio %.2f\n",
            t_base, t_abs, t_abs / t_base);
    /* CMD's exit status, whatever happens to delivery */
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "absent3", "--collector", (char *)url,
                   "--drain-timeout", "0.2", "--", CLIENT, "metrics", "10", "exit", "3"),
             3);
    /* plain `trail sync` leaves collector-bound runs alone */
    err = NULL;
    T_EQ_INT(TPROC(NULL, &err, TRAIL, "sync"), 0);
    T_CHECK(err && strstr(err, "wait for a collector"));
    free(err);

    pid_t d = TNET_TRAILD(dlog, "--listen", (char *)url, "--store", (char *)db);
    T_ASSERT(d > 0);
    err = NULL;
    T_EQ_INT(TPROC(NULL, &err, TRAIL, "sync", "--collector", (char *)url), 0);
    T_CHECK(err && strstr(err, "delivered"));
    free(err);
    T_EQ_INT(tnet_points(db, "absent", 0), 100000);
    T_EQ_INT(tnet_points(db, "absent", 1), 100000);
    T_EQ_INT(tnet_points(db, "absent3", 0), 10);
    T_EQ_INT(tnet_sql(db, "SELECT exit_code FROM runs WHERE name = 'absent3'"), 3);
    /* a second sync finds nothing and doubles nothing */
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "sync", "--collector", (char *)url), 0);
    T_EQ_INT(count_all(db, 0), 100010);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

/* `trail agent`: delivers leftovers of runs and of SDK programs started outside trail run. */
static void test_agent_daemon(void)
{
    const char *db = path_in("agent.db"), *url = tcp_url(tnet_free_port());
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "agentrun", "--collector", (char *)url,
                   "--drain-timeout", "0", "--", CLIENT, "metrics", "50000"),
             0);
    pid_t agent = TNET_SPAWN(path_in("agent.log"), TRAIL, "agent", "--collector", (char *)url);
    tnet_sleep_ms(300); /* the agent starts while the collector is still down */
    pid_t d = TNET_TRAILD(dlog, "--listen", (char *)url, "--store", (char *)db);
    T_ASSERT(d > 0);
    T_EQ_INT(wait_points(db, "agentrun", 50000), 50000);
    /* an SDK program outside `trail run` starts its own run; the agent ships it too */
    T_EQ_INT(TPROC(NULL, NULL, CLIENT, "start", "exp", "outside", "metrics", "1000", "end", "0"),
             0);
    T_EQ_INT(wait_points(db, "outside", 1000), 1000);
    kill(agent, SIGTERM);
    T_EQ_INT(tnet_wait(agent), 0);
    T_EQ_INT(tnet_points(db, "agentrun", 1), 50000);
    T_EQ_INT(tnet_points(db, "outside", 0), 1000);
    T_CHECK(tnet_log_count(path_in("agent.log"), "stopped after delivering") == 1);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

/* Eight concurrent runs into one collector, exact counts; health, API and counters. */
static void test_concurrent_runs_and_http(void)
{
    const char *db = path_in("par.db"), *url = tcp_url(tnet_free_port());
    int hport = tnet_free_port();
    char hp[16];
    snprintf(hp, sizeof hp, "%d", hport);
    pid_t d = TNET_TRAILD(dlog, "--listen", (char *)url, "--store", (char *)db, "--http", hp,
                          "--http-no-auth");
    T_ASSERT(d > 0);
    pid_t runs[8];
    char names[8][16];
    for (int i = 0; i < 8; i++) {
        snprintf(names[i], sizeof names[i], "par%d", i);
        runs[i] = TNET_SPAWN(NULL, TRAIL, "run", "--name", names[i], "--collector", (char *)url,
                             "--", CLIENT, "metrics", "20000", "threads", "2", "500");
    }
    for (int i = 0; i < 8; i++)
        T_EQ_INT(tnet_wait(runs[i]), 0);
    for (int i = 0; i < 8; i++) {
        T_EQ_INT(tnet_points(db, names[i], 0), 21000);
        T_EQ_INT(tnet_points(db, names[i], 1), 20000); /* m: 0..19999; t0, t1: 0..499 */
    }
    T_EQ_INT(count_all(db, 0), 8 * 21000);
    char *body = NULL;
    T_EQ_INT(tnet_http_get(hport, "/health", &body), 200);
    T_CHECK(body && strstr(body, "\"status\":\"ok\"") && strstr(body, "\"records\":"));
    free(body);
    T_EQ_INT(tnet_http_get(hport, "/api/runs", &body), 200);
    T_CHECK(body && strstr(body, "{\"runs\":[") == body && strstr(body, "\"par7\"")); /* a page */
    free(body);
    T_EQ_INT(tnet_http_get(hport, "/api/runs/par3", &body), 200);
    T_CHECK(body && strstr(body, "\"name\":\"par3\"") && strstr(body, "\"status\":\"finished\""));
    free(body);
    T_EQ_INT(tnet_http_get(hport, "/api/runs/no-such-run", &body), 404);
    free(body);
    int before = tnet_log_count(dlog, " counters: ");
    kill(d, SIGUSR1);
    T_CHECK(tnet_wait_log(dlog, " counters: ", before + 1));
    T_CHECK(tnet_log_count(dlog, "records_per_s=") > 0 && tnet_log_count(dlog, "queue=") > 0);
    T_CHECK(tnet_log_count(dlog, "info connect agent 127.0.0.1:") >= 8);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

/* SIGTERM mid-stream: traild commits and answers what it received, exits 0; the agent's
 * retries finish the job on the restarted daemon. */
static void test_sigterm_graceful(void)
{
    const char *db = path_in("term.db"), *url = tcp_url(tnet_free_port());
    pid_t d = TNET_TRAILD(dlog, "--listen", (char *)url, "--store", (char *)db);
    T_ASSERT(d > 0);
    const char *runlog = path_in("term-run.log");
    pid_t run = TNET_SPAWN(runlog, TRAIL, "run", "--name", "term", "--collector", (char *)url, "--",
                           CLIENT, "metrics", "100000");
    for (int i = 0; i < 60000 && count_all(db, 0) <= 0; i++)
        tnet_sleep_ms(1);
    int stopped = tnet_log_count(dlog, "info stopped");
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    T_EQ_INT(tnet_log_count(dlog, "info stopped"), stopped + 1);
    d = TNET_TRAILD(dlog, "--listen", (char *)url, "--store", (char *)db);
    T_ASSERT(d > 0);
    int rst = tnet_wait(run);
    T_EQ_INT(rst, 0);
    if (rst != 0) { /* say why: trail's own stderr */
        char *why = tnet_slurp(runlog);
        fprintf(stderr, "trail run said:\n%s\n", why ? why : "(nothing)");
        free(why);
    }
    T_EQ_INT(tnet_points(db, "term", 0), 100000);
    T_EQ_INT(tnet_points(db, "term", 1), 100000);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

static void test_ipc(void)
{
    char url[700];
    const char *db = path_in("ipc.db");
    snprintf(url, sizeof url, "ipc://%s", path_in("traild.ipc"));
    pid_t d = TNET_TRAILD(dlog, "--listen", url, "--store", (char *)db);
    T_ASSERT(d > 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "ipc", "--collector", url, "--", CLIENT,
                   "metrics", "3000"),
             0);
    T_EQ_INT(tnet_points(db, "ipc", 1), 3000);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

/* TRAIL_SPOOL_BUDGET_MB: with the collector away, writers drop new records instead of filling
 * the disk or blocking; the agent says so; what was spooled arrives once, the run's own start
 * and end records included. */
static void test_spool_budget(void)
{
    const char *db = path_in("budget.db"), *url = tcp_url(tnet_free_port());
    char *err = NULL;
    setenv("TRAIL_SPOOL_BUDGET_MB", "1", 1);
    setenv("TRAIL_SEGMENT_SIZE", "65536", 1);
    int st = TPROC(NULL, &err, TRAIL, "run", "--name", "budget", "--collector", (char *)url,
                   "--drain-timeout", "0.5", "--", CLIENT, "metrics", "100000");
    unsetenv("TRAIL_SPOOL_BUDGET_MB");
    unsetenv("TRAIL_SEGMENT_SIZE");
    T_EQ_INT(st, 99); /* sdk_client exits 99 when a log call returned an error (TRAIL_ENOSPC) */
    T_CHECK(err && strstr(err, "over its budget"));
    free(err);
    pid_t d = TNET_TRAILD(dlog, "--listen", (char *)url, "--store", (char *)db);
    T_ASSERT(d > 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "sync", "--collector", (char *)url), 0);
    long long n = tnet_points(db, "budget", 0);
    fprintf(stderr, "budget: %lld of 100000 points spooled within a 1 MB spool budget\n", n);
    T_CHECK(n > 1000 && n < 100000);
    T_EQ_INT(tnet_points(db, "budget", 1), n);
    T_EQ_INT(tnet_sql(db, "SELECT exit_code FROM runs WHERE name = 'budget' AND status = 'failed'"),
             99);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

/* Files holding secrets must be private, or nothing starts; clear one-line messages. */
static void test_private_files_and_options(void)
{
    const char *open_db = path_in("open.db"), *open_tok = path_in("open.token");
    const char *url = tcp_url(tnet_free_port());
    FILE *f = fopen(open_db, "w");
    fclose(f);
    chmod(open_db, 0644);
    tnet_token(open_tok, "s3cret-token", 0640);
    char *err = NULL;
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("traild"), "--listen", (char *)url, "--store",
                   (char *)open_db),
             2);
    T_CHECK(err && strstr(err, open_db) && strstr(err, "chmod 600"));
    free(err);
    err = NULL;
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("traild"), "--listen", (char *)url, "--store",
                   (char *)path_in("fine.db"), "--token-file", (char *)open_tok),
             2);
    T_CHECK(err && strstr(err, open_tok) && strstr(err, "private"));
    free(err);
    err = NULL;
    const char *marker = path_in("ran");
    T_EQ_INT(TPROC(NULL, &err, TRAIL, "run", "--collector", (char *)url, "--token-file",
                   (char *)open_tok, "--", "touch", (char *)marker),
             2);
    T_CHECK(err && strstr(err, "private") && access(marker, F_OK) != 0);
    free(err);
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, (char *)tproc_bin("traild"), "--version"), 0);
    T_CHECK(out && !strncmp(out, "traild ", 7));
    free(out);
    out = NULL;
    T_EQ_INT(TPROC(&out, NULL, (char *)tproc_bin("traild"), "--help"), 0);
    T_CHECK(out && strstr(out, "--listen") && strstr(out, "--token-file"));
    free(out);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("traild"), "--store", (char *)path_in("x.db")), 2);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("traild"), "--listen", "http://x", "--store",
                   (char *)path_in("x.db")),
             2);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "agent"), 2);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--collector", "bogus://x", "--", "true"), 2);
}

int main(void)
{
    sandbox = tproc_sandbox();
    tnet_asan_preload_ok();
    snprintf(token, sizeof token, "%s/token", sandbox);
    snprintf(dlog, sizeof dlog, "%s/traild.log", sandbox);
    tnet_token(token, "correct horse battery staple", 0600);
    setenv("TRAIL_TOKEN_FILE", token, 1); /* traild and agents both read it */
    signal(SIGPIPE, SIG_IGN);
    T_RUN(test_kill9_mid_stream);
    T_RUN(test_absent_then_sync);
    T_RUN(test_agent_daemon);
    T_RUN(test_concurrent_runs_and_http);
    T_RUN(test_sigterm_graceful);
    T_RUN(test_ipc);
    T_RUN(test_spool_budget);
    T_RUN(test_private_files_and_options);
    if (tassert_failures) {
        char *log = tnet_slurp(dlog);
        fprintf(stderr, "--- traild log ---\n%s", log ? log : "");
        free(log);
    }
    return T_DONE();
}
