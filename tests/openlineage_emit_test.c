/* openlineage_emit_test.c - traild --openlineage-url: runs of `trail run --collector` that end are
 * POSTed to an HTTP receiver on loopback as exactly the events `trail export openlineage` gives;
 * with the receiver down (and answering 503) they wait in the store's outbox, survive a traild
 * restart, and arrive once it is back, in order, none lost and none sent twice; runs that ended
 * before the target was registered are not sent; a status flapping back to the same end is not
 * sent again; a run the receiver refuses for good (400) is parked and does not hold up the next;
 * a traild started without the URL (or with another) drops the old target and its queue. */
#include "tassert.h"
#include "tnet.h"

#define TRAIL (char *)tproc_bin("trail")

static const char *sandbox;
static char db[600], dlog[600], bodies[600], url[128], lu[64];
static int rport, rfd; /* the receiver's port, bound once (no other test can take it) */

/* A receiver on rfd: answers the first `fail` requests 503 (keeping nothing; fail < 0: every
 * one), then 200, appending each body as one line to bodies; a body containing `refuse` (NULL:
 * none) is answered 400. */
static pid_t receiver(int fail, const char *refuse)
{
    int fd = rfd;
    pid_t pid = fork();
    if (pid) return pid;
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0) continue;
        static char buf[1 << 20];
        size_t got = 0;
        long want = -1;
        char *body = NULL;
        for (ssize_t n;
             got < sizeof buf - 1 && (n = read(c, buf + got, sizeof buf - 1 - got)) > 0;) {
            got += (size_t)n;
            buf[got] = 0;
            char *cl = strcasestr(buf, "Content-Length:");
            body = strstr(buf, "\r\n\r\n");
            if (body && cl) want = atol(cl + 15);
            if (body && want >= 0 && (long)(got - (size_t)(body + 4 - buf)) >= want) break;
        }
        int status = fail != 0 ? 503 : refuse && body && strstr(body, refuse) ? 400 : 200;
        if (fail > 0) {
            fail--;
        } else if (status == 200 && body && want >= 0) {
            FILE *f = fopen(bodies, "a");
            fprintf(f, "%.*s\n", (int)want, body + 4);
            fclose(f);
        }
        char reply[128];
        int rl =
            snprintf(reply, sizeof reply, "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status);
        if (write(c, reply, (size_t)rl) < 0) {
        }
        close(c);
    }
}

static void stop(pid_t p)
{
    kill(p, SIGKILL);
    tnet_wait(p);
}

static pid_t start_traild_url(const char *u)
{
    pid_t d = u ? TNET_TRAILD(dlog, "--listen", lu, "--store", db, "--openlineage-url", (char *)u)
                : TNET_TRAILD(dlog, "--listen", lu, "--store", db);
    T_ASSERT(d > 0);
    return d;
}

static pid_t start_traild(void)
{
    pid_t d = start_traild_url(url);
    T_ASSERT(d > 0);
    return d;
}

/* A run through traild: its id. */
static void run(const char *name, char id[33])
{
    char *out = NULL;
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--collector", lu, "--name", (char *)name, "--", "sh",
                   "-c", "echo hi > /dev/null"),
             0);
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "show", (char *)name, "--json"), 0);
    char *p = out ? strstr(out, "\"id\":") : NULL;
    T_ASSERT(p);
    p = strchr(p + 5, '"');
    snprintf(id, 33, "%.32s", p + 1);
    free(out);
}

/* The events `trail export openlineage RUN` writes, one a line. */
static char *exported(const char *id)
{
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "export", "openlineage", (char *)id), 0);
    T_ASSERT(out && *out);
    return out;
}

/* Runs queued (not sent, not parked). */
static long long outbox(void)
{
    return tnet_sql(db, "SELECT count(*) FROM openlineage_outbox WHERE state = 'queued'");
}

/* Runs one statement on the store through a connection of its own. */
static void store_exec(const char *sql)
{
    sqlite3 *h = NULL;
    T_EQ_INT(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    T_EQ_INT(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

/* Waits (bounded, not a timing assertion) until the receiver kept at least `len` bytes. */
static char *wait_bodies(size_t len)
{
    for (int i = 0; i < 3000; i++) {
        char *b = tnet_slurp(bodies);
        if (b && strlen(b) >= len) return b;
        free(b);
        tnet_sleep_ms(10);
    }
    return tnet_slurp(bodies);
}

static void test_emit(void)
{
    char before[33], r1[33], r2[33], r3[33];
    /* a run that ended before traild had the target: not sent */
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "before", "--", "true"), 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "before2", "--", "true"), 0);
    (void)before;
    pid_t r = receiver(0, NULL), d = start_traild();
    run("r1", r1);
    char *want1 = exported(r1), *got = wait_bodies(strlen(want1));
    T_EQ_STR(got, want1); /* every event of r1, in order, exactly what export gives */
    free(got);
    /* the receiver has the bodies a moment before traild hears its answer and clears the row */
    for (int i = 0; i < 3000 && outbox() != 0; i++)
        tnet_sleep_ms(10);
    T_EQ_INT(outbox(), 0);
    /* its status flaps (an MLflow client: RUNNING, then FINISHED again): not queued again */
    char sql[300];
    snprintf(sql, sizeof sql, "UPDATE runs SET status = 'running' WHERE id = '%s'", r1);
    store_exec(sql);
    snprintf(sql, sizeof sql, "UPDATE runs SET status = 'finished' WHERE id = '%s'", r1);
    store_exec(sql);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM openlineage_outbox WHERE run_id = '%s' AND state = 'sent'", r1);
    T_EQ_INT(tnet_sql(db, sql), 1);
    T_EQ_INT(outbox(), 0);

    /* the receiver is down (answering 503): r2 and r3 wait in the outbox, across a restart */
    stop(r);
    r = receiver(-1, NULL);
    run("r2", r2);
    run("r3", r3);
    T_CHECK(tnet_wait_log(dlog, "not delivered to", 1));
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    T_EQ_INT(outbox(), 2);
    stop(r);
    d = start_traild();
    T_CHECK(tnet_wait_log(dlog, "(2 waiting)", 1));
    /* back, but answering 503 three times first: retried with backoff until 2xx */
    r = receiver(3, NULL);
    char *want2 = exported(r2), *want3 = exported(r3);
    size_t total = strlen(want1) + strlen(want2) + strlen(want3);
    got = wait_bodies(total);
    T_EQ_INT(strlen(got), total);
    T_CHECK(!strncmp(got, want1, strlen(want1)));                 /* r1 not sent again */
    T_CHECK(!strncmp(got + strlen(want1), want2, strlen(want2))); /* then r2, then r3 */
    T_CHECK(!strcmp(got + strlen(want1) + strlen(want2), want3));
    free(got);
    for (int i = 0; i < 3000 && outbox() != 0; i++)
        tnet_sleep_ms(10);
    T_EQ_INT(outbox(), 0);
    T_CHECK(tnet_wait_log(dlog, "reachable again", 1));
    /* a restart with nothing waiting sends nothing */
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    d = start_traild();
    T_CHECK(tnet_wait_log(dlog, "(0 waiting)", 1));
    tnet_sleep_ms(200);
    got = tnet_slurp(bodies);
    T_EQ_INT(strlen(got), total);
    free(got);
    /* the runs of before the target: never sent */
    char *b = exported("before");
    got = tnet_slurp(bodies);
    T_CHECK(!strstr(got, b));
    free(got);
    free(b);
    free(want1);
    free(want2);
    free(want3);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    stop(r);
}

/* A run the receiver answers 400 is parked after its tries (kept, with the answer) and the run
 * after it is delivered; a restart without --openlineage-url drops the target and its rows, and
 * runs that end then are queued for nobody. */
static void test_park_and_drop(void)
{
    char bad[33], good[33], later[33], sql[300];
    FILE *f = fopen(bodies, "w"); /* what test_emit received is not this test's */
    T_ASSERT(f && fclose(f) == 0);
    pid_t r = receiver(0, "poison-run"), d = start_traild();
    run("poison-run", bad);
    run("after-poison", good);
    char *want = exported(good), *got = wait_bodies(strlen(want));
    T_EQ_STR(got, want); /* delivered, though the run before it is refused */
    free(got);
    free(want);
    T_CHECK(tnet_wait_log(dlog, "parked", 1));
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM openlineage_outbox WHERE run_id = '%s' AND state = 'parked' "
             "AND tries = 3 AND last_error LIKE '%%HTTP 400%%'",
             bad);
    T_EQ_INT(tnet_sql(db, sql), 1);
    for (int i = 0; i < 3000 && outbox() != 0; i++)
        tnet_sleep_ms(10);
    T_EQ_INT(outbox(), 0);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    /* a URL queued while traild is down, then traild without the URL: all of it dropped */
    snprintf(sql, sizeof sql, "UPDATE runs SET status = 'killed' WHERE id = '%s'", good);
    store_exec(sql);
    T_EQ_INT(outbox(), 1);
    d = start_traild_url(NULL);
    T_CHECK(tnet_wait_log(dlog, "target(s) no longer given", 1));
    T_EQ_INT(tnet_sql(db, "SELECT count(*) FROM openlineage_targets"), 0);
    T_EQ_INT(tnet_sql(db, "SELECT count(*) FROM openlineage_outbox"), 0);
    run("unsent", later);
    T_EQ_INT(tnet_sql(db, "SELECT count(*) FROM openlineage_outbox"), 0);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    /* another URL (a trailing '/'): the old target goes, the new one alone is queued for */
    char url2[160];
    snprintf(url2, sizeof url2, "%s/", url);
    d = start_traild_url(url);
    T_CHECK(tnet_wait_log(dlog, "(0 waiting)", 2));
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    d = start_traild_url(url2);
    T_CHECK(tnet_wait_log(dlog, "target(s) no longer given", 2));
    snprintf(sql, sizeof sql, "SELECT count(*) FROM openlineage_targets WHERE url = '%s'", url2);
    T_EQ_INT(tnet_sql(db, sql), 1);
    T_EQ_INT(tnet_sql(db, "SELECT count(*) FROM openlineage_targets"), 1);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    stop(r);
}

/* The HTTP client's deadline is for the whole request: a receiver that answers a header line
 * every 200 ms for ever (each read gets bytes well within the timeout) is given up on, and
 * `trail export openlineage --url` says so. */
static void test_deadline(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    T_ASSERT(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 8) == 0 &&
             getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    pid_t p = fork();
    if (p == 0) {
        for (;;) {
            int c = accept(fd, NULL, NULL);
            if (c < 0) continue;
            char buf[65536];
            if (read(c, buf, sizeof buf) < 0) _exit(1);
            const char *first = "HTTP/1.1 200 OK\r\n";
            if (write(c, first, strlen(first)) < 0) _exit(1);
            while (write(c, "X-Slow: 1\r\n", 11) == 11)
                tnet_sleep_ms(200);
            close(c);
        }
    }
    close(fd);
    char u[128], *err = NULL;
    snprintf(u, sizeof u, "http://127.0.0.1:%d/api/v1/lineage", ntohs(a.sin_port));
    int st = TPROC(NULL, &err, TRAIL, "export", "openlineage", "before", "--url", u);
    T_CHECK(st != 0);
    T_CHECK(err && strstr(err, "no whole HTTP reply") && strstr(err, "within 10 s"));
    free(err);
    stop(p);
}

static void test_bad_url(void)
{
    char *err = NULL;
    int st = TPROC(NULL, &err, (char *)tproc_bin("traild"), "--listen", lu, "--store", db,
                   "--openlineage-url", "ftp://x/y");
    T_EQ_INT(st, 2);
    T_CHECK(err && strstr(err, "--openlineage-url"));
    free(err);
}

int main(void)
{
    tnet_asan_preload_ok();
    sandbox = tproc_sandbox();
    snprintf(db, sizeof db, "%s", getenv("TRAIL_STORE"));
    snprintf(dlog, sizeof dlog, "%s/traild.log", sandbox);
    snprintf(bodies, sizeof bodies, "%s/received.ndjson", sandbox);
    /* the receiver's port bound here, once: a port chosen free and bound later could be taken by
     * a test running alongside (it answered 503 for this one's receiver) */
    rfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    T_ASSERT(rfd >= 0 && bind(rfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(rfd, 64) == 0 &&
             getsockname(rfd, (struct sockaddr *)&a, &al) == 0);
    rport = ntohs(a.sin_port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/lineage", rport);
    snprintf(lu, sizeof lu, "tcp://127.0.0.1:%d", tnet_free_port());
    T_RUN(test_emit);
    T_RUN(test_park_and_drop);
    T_RUN(test_deadline);
    T_RUN(test_bad_url);
    return T_DONE();
}
