/* failover_test.c - agents with several collectors (--collector URL,URL, $TRAIL_COLLECTOR): a
 * dead first collector is passed over, and of two collectors in front of one store the one
 * killed mid-stream is left for the other, with every point stored exactly once. */
#include "tassert.h"
#include "tnet.h"

#define TRAIL (char *)tproc_bin("trail")
#define CLIENT (char *)tproc_test_bin("sdk_client")

static const char *sandbox;

static const char *in_sandbox(const char *name)
{
    static char buf[8][600];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 600, "%s/%s", sandbox, name);
    return p;
}

static const char *urls(int a, int b)
{
    static char buf[4][160];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 160, "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d", a, b);
    return p;
}

/* The first collector listed is not there: the run goes to the second, all of it. */
static void test_dead_first(void)
{
    const char *db = in_sandbox("second.db");
    int dead = tnet_free_port(), live = tnet_free_port();
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", live);
    pid_t d = TNET_TRAILD(in_sandbox("second.log"), "--listen", url, "--store", (char *)db);
    T_ASSERT(d > 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "dead-first", "--collector",
                   (char *)urls(dead, live), "--", CLIENT, "metrics", "20000"),
             0);
    T_EQ_INT(tnet_points(db, "dead-first", 0), 20000);
    /* the same through $TRAIL_COLLECTOR, with no --collector */
    setenv("TRAIL_COLLECTOR", urls(dead, live), 1);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "from-env", "--", CLIENT, "metrics", "500"),
             0);
    unsetenv("TRAIL_COLLECTOR");
    T_EQ_INT(tnet_points(db, "from-env", 0), 500);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

/* Two collectors in front of one store; kill -9 of the one in use mid-stream: the agent moves
 * to the other, and the store holds every point exactly once. */
static void test_kill_mid_stream(void)
{
    const char *st = in_sandbox("shared.db");
    int pa = tnet_free_port(), pb = tnet_free_port();
    char ua[64], ub[64];
    snprintf(ua, sizeof ua, "tcp://127.0.0.1:%d", pa);
    snprintf(ub, sizeof ub, "tcp://127.0.0.1:%d", pb);
    pid_t da = TNET_TRAILD(in_sandbox("a.log"), "--listen", ua, "--store", (char *)st);
    pid_t db = TNET_TRAILD(in_sandbox("b.log"), "--listen", ub, "--store", (char *)st);
    T_ASSERT(da > 0 && db > 0);
    pid_t run = TNET_SPAWN(in_sandbox("run.log"), TRAIL, "run", "--name", "moved", "--collector",
                           (char *)urls(pa, pb), "--", CLIENT, "metrics", "200000");
    long long at = 0;
    for (int i = 0; i < 60000 && at <= 0; i++) { /* bounded wait for the first batches */
        at = tnet_sql(st, "SELECT count(*) FROM metrics");
        if (at <= 0) tnet_sleep_ms(1);
    }
    T_CHECK(at > 0);
    kill(da, SIGKILL); /* mid-stream: the rest can only reach the store through b */
    T_EQ_INT(tnet_wait(da), 128 + SIGKILL);
    T_EQ_INT(tnet_wait(run), 0);
    T_CHECK(tnet_sql(st, "SELECT count(*) FROM metrics") > at);
    T_EQ_INT(tnet_points(st, "moved", 0), 200000);
    T_EQ_INT(tnet_points(st, "moved", 1), 200000);
    kill(db, SIGTERM);
    T_EQ_INT(tnet_wait(db), 0);
}

int main(void)
{
    tnet_asan_preload_ok();
    sandbox = tproc_sandbox();
    unsetenv("TRAIL_TOKEN_FILE");
    unsetenv("TRAIL_COLLECTOR");
    T_RUN(test_dead_first);
    T_RUN(test_kill_mid_stream);
    return T_DONE();
}
