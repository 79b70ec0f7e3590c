/* traild_limits_test.c - integration: traild's bounds (connections, message size, idle
 * timeout, memory under 500 half-sent connections), the API's bearer token, token files. */
#include <poll.h>
#include <sys/stat.h>

#include "tassert.h"
#include "tnet.h"
#include "trail.h"

#define TRAIL (char *)tproc_bin("trail")
#define CLIENT (char *)tproc_test_bin("sdk_client")
#define SECRET "correct horse battery staple"
#define NFLOOD 500
#define RSS_BOUND_KB (128 * 1024) /* documented in docs/collector.md and BENCHMARKS.md */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_MEANINGFUL 0 /* ASan's shadow memory and quarantine: RSS says nothing about traild */
#else
#define RSS_MEANINGFUL 1
#endif

static const char *sandbox;
static char token[600], dlog[600];

static const char *path_in(const char *name)
{
    static char bufs[16][600];
    static int k;
    char *p = bufs[k++ % 16];
    snprintf(p, 600, "%s/%s", sandbox, name);
    return p;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}

/* A raw TCP connection that speaks nng's SP handshake as a req0 peer. */
static int sp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    static const uint8_t hello[8] = {0, 'S', 'P', 0, 0x00, 0x30, 0, 0}; /* req0 = 0x30 */
    if (send(fd, hello, sizeof hello, MSG_NOSIGNAL) != (ssize_t)sizeof hello) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The 8-byte big-endian length that starts an SP frame. */
static int sp_announce(int fd, uint64_t len)
{
    uint8_t h[8];
    for (int i = 0; i < 8; i++)
        h[i] = (uint8_t)(len >> (56 - 8 * i));
    return send(fd, h, sizeof h, MSG_NOSIGNAL) == (ssize_t)sizeof h ? 0 : -1;
}

/* 1 once the peer has closed fd (EOF or reset), polling up to ms milliseconds. */
static int closed_by_peer(int fd, int ms)
{
    for (int waited = 0; waited <= ms; waited += 50) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            char b[256];
            ssize_t r = recv(fd, b, sizeof b, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return 1;
        }
    }
    return 0;
}

/* Points of metric m (sdk_client's) of the run named name: other series (system/...) aside. */
static long long points_m(const char *db, const char *name)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.name = '%s' "
             "AND m.key = 'm'",
             name);
    return tnet_sql(db, sql);
}

static int port_of(const char *url)
{
    return atoi(strrchr(url, ':') + 1);
}

static int counter(const char *log, pid_t d, const char *name)
{
    int before = tnet_log_count(log, " counters: ");
    kill(d, SIGUSR1);
    if (!tnet_wait_log(log, " counters: ", before + 1)) return -1;
    char *s = tnet_slurp(log), *last = NULL, key[64];
    snprintf(key, sizeof key, " %s=", name);
    for (char *p = s; p && (p = strstr(p, key)); p++)
        last = p;
    int v = last ? atoi(last + strlen(key)) : -1;
    free(s);
    return v;
}

/* 500 connections, each announcing a 2 MiB batch and sending half of it, keep traild under
 * RSS_BOUND_KB; a run started during the flood is delivered whole; RSS comes back near where
 * it started once they close; delivery after works. */
static void test_half_open_flood(void)
{
    const char *db = path_in("flood.db");
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", tnet_free_port());
    pid_t d = TNET_TRAILD(dlog, "--listen", url, "--store", (char *)db, "--idle-timeout", "3");
    T_ASSERT(d > 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "before", "--collector", url, "--", CLIENT,
                   "metrics", "5000"),
             0);
    T_EQ_INT(points_m(db, "before"), 5000);
    long base = rss_kb(d), peak = base;
    T_ASSERT(base > 0);
    static int fds[NFLOOD];
    static char junk[1 << 20];
    memset(junk, 0x5a, sizeof junk);
    size_t sent[NFLOOD] = {0};
    int opened = 0;
    for (int i = 0; i < NFLOOD; i++) {
        fds[i] = sp_connect(port_of(url));
        if (fds[i] >= 0 && sp_announce(fds[i], 2u << 20) == 0) opened++;
        if (fds[i] >= 0) fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        long r = rss_kb(d);
        if (r > peak) peak = r;
    }
    T_EQ_INT(opened, NFLOOD);
    pid_t during = TNET_SPAWN(NULL, TRAIL, "run", "--name", "during", "--collector", url, "--",
                              CLIENT, "metrics", "5000");
    /* keep pushing the half frames while the run delivers: each open connection gets 1 MiB */
    int running = 1;
    for (int round = 0; round < 400 && running; round++) {
        for (int i = 0; i < NFLOOD; i++) {
            if (fds[i] < 0 || sent[i] >= sizeof junk) continue;
            ssize_t w = send(fds[i], junk + sent[i], sizeof junk - sent[i], MSG_NOSIGNAL);
            if (w > 0) sent[i] += (size_t)w;
        }
        long r = rss_kb(d);
        if (r > peak) peak = r;
        if (waitpid(during, NULL, WNOHANG) == during) running = 0;
        tnet_sleep_ms(20);
    }
    if (running) T_EQ_INT(tnet_wait(during), 0);
    T_EQ_INT(points_m(db, "during"), 5000);
    int refused = counter(dlog, d, "refused_connections");
    printf("traild RSS: start %ld KiB, peak %ld KiB under %d half-sent connections "
           "(bound %d KiB); %d refused\n",
           base, peak, NFLOOD, RSS_BOUND_KB, refused);
    T_CHECK(!RSS_MEANINGFUL || peak < RSS_BOUND_KB);
    T_CHECK(refused >= NFLOOD - 16); /* --max-pending 16: the rest were refused */
    for (int i = 0; i < NFLOOD; i++)
        if (fds[i] >= 0) close(fds[i]);
    long after = rss_kb(d);
    for (int i = 0; RSS_MEANINGFUL && i < 200 && after > base + 16 * 1024; i++) {
        tnet_sleep_ms(50);
        after = rss_kb(d);
    }
    printf("traild RSS after the connections closed: %ld KiB\n", after);
    /* traild learns of the closes as nng reports them: a bounded wait, not a race */
    int pending = counter(dlog, d, "pending");
    for (int i = 0; i < 200 && pending != 0; i++) {
        tnet_sleep_ms(50);
        pending = counter(dlog, d, "pending");
    }
    T_EQ_INT(pending, 0);
    T_CHECK(!RSS_MEANINGFUL || after <= base + 16 * 1024);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "after", "--collector", url, "--", CLIENT,
                   "metrics", "5000"),
             0);
    T_EQ_INT(points_m(db, "after"), 5000);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

/* The idle timeout, the connection limit and the size announced before buffering. */
static void test_limits(void)
{
    const char *db = path_in("limits.db");
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", tnet_free_port());
    pid_t d = TNET_TRAILD(dlog, "--listen", url, "--store", (char *)db, "--idle-timeout", "1");
    T_ASSERT(d > 0);
    /* a half frame: closed once the idle timeout passes, counted */
    int fd = sp_connect(port_of(url));
    T_ASSERT(fd >= 0);
    T_CHECK(sp_announce(fd, 1000) == 0);
    T_CHECK(send(fd, "half", 4, MSG_NOSIGNAL) == 4);
    T_CHECK(closed_by_peer(fd, 30000));
    close(fd);
    T_CHECK(counter(dlog, d, "idle_closed") >= 1);
    /* a frame announcing more than --max-message + 64 KiB: closed without waiting for it */
    fd = sp_connect(port_of(url));
    T_ASSERT(fd >= 0);
    T_CHECK(sp_announce(fd, 64u << 20) == 0);
    T_CHECK(closed_by_peer(fd, 30000));
    close(fd);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    /* --max-connections 4: the fifth is refused, the four stay */
    d = TNET_TRAILD(dlog, "--listen", url, "--store", (char *)db, "--idle-timeout", "0",
                    "--max-connections", "4", "--max-pending", "8");
    T_ASSERT(d > 0);
    int four[4], fifth;
    for (int i = 0; i < 4; i++)
        T_ASSERT((four[i] = sp_connect(port_of(url))) >= 0);
    for (int i = 0; i < 200 && counter(dlog, d, "connections") < 4; i++)
        tnet_sleep_ms(5);
    T_ASSERT((fifth = sp_connect(port_of(url))) >= 0);
    T_CHECK(closed_by_peer(fifth, 30000));
    for (int i = 0; i < 4; i++)
        T_CHECK(!closed_by_peer(four[i], 0));
    T_CHECK(counter(dlog, d, "refused_connections") >= 1);
    T_CHECK(tnet_wait_log(dlog, "--max-connections agents are connected", 1));
    close(fifth);
    for (int i = 0; i < 4; i++)
        close(four[i]);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

/* /api needs the bearer token (/health does not); without a token --http needs
 * --http-no-auth. */
static void test_api_token(void)
{
    const char *db = path_in("api.db");
    char url[64], hp[16], *body = NULL, *err = NULL;
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", tnet_free_port());
    int hport = tnet_free_port();
    snprintf(hp, sizeof hp, "%d", hport);
    pid_t d = TNET_TRAILD(dlog, "--listen", url, "--store", (char *)db, "--http", hp,
                          "--token-file", token);
    T_ASSERT(d > 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "secret-run", "--collector", url, "--",
                   CLIENT, "metrics", "10"),
             0);
    T_EQ_INT(tnet_http_get(hport, "/health", &body), 200);
    free(body);
    T_EQ_INT(tnet_http_get(hport, "/api/runs", &body), 401);
    T_CHECK(body && !strstr(body, "secret-run"));
    free(body);
    T_EQ_INT(tnet_http_get(hport, "/api/runs/secret-run", &body), 401);
    free(body);
    T_EQ_INT(tnet_http_get_auth(hport, "/api/runs", "wrong", &body), 401);
    free(body);
    T_EQ_INT(tnet_http_get_auth(hport, "/api/runs", SECRET "x", &body), 401);
    free(body);
    T_EQ_INT(tnet_http_get_auth(hport, "/api/runs", "correct horse battery stapl", &body), 401);
    free(body);
    T_EQ_INT(tnet_http_get_auth(hport, "/api/runs", SECRET, &body), 200);
    T_CHECK(body && strstr(body, "\"secret-run\""));
    free(body);
    T_EQ_INT(tnet_http_get_auth(hport, "/api/runs/secret-run", SECRET, &body), 200);
    free(body);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    /* no token: --http alone is refused at start; --http-no-auth serves it */
    unsetenv("TRAIL_TOKEN_FILE");
    snprintf(hp, sizeof hp, "%d", tnet_free_port());
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("traild"), "--listen", url, "--store", (char *)db,
                   "--http", hp),
             2);
    T_CHECK(err && strstr(err, "--http-no-auth") && strstr(err, "refusing to start"));
    free(err);
    hport = tnet_free_port();
    snprintf(hp, sizeof hp, "%d", hport);
    d = TNET_TRAILD(dlog, "--listen", url, "--store", (char *)db, "--http", hp, "--http-no-auth");
    T_ASSERT(d > 0);
    T_EQ_INT(tnet_http_get(hport, "/api/runs", &body), 200);
    T_CHECK(body && strstr(body, "\"secret-run\""));
    free(body);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    setenv("TRAIL_TOKEN_FILE", token, 1);
}

/* Token files: a FIFO is refused at once (no reader would ever come), a directory too; a
 * symlink is followed and its target judged. */
static void test_token_files(void)
{
    const char *db = path_in("tok.db"), *fifo = path_in("tok.fifo"), *link = path_in("tok.link");
    const char *target = path_in("tok.target");
    char url[64], *err = NULL;
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", tnet_free_port());
    T_ASSERT(mkfifo(fifo, 0600) == 0);
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("traild"), "--listen", url, "--store", (char *)db,
                   "--token-file", (char *)fifo),
             2);
    T_CHECK(err && strstr(err, "not a regular file"));
    free(err);
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("traild"), "--listen", url, "--store", (char *)db,
                   "--token-file", (char *)sandbox),
             2);
    T_CHECK(err && strstr(err, "not a regular file"));
    free(err);
    tnet_token(target, SECRET, 0600);
    T_ASSERT(symlink(target, link) == 0);
    pid_t d =
        TNET_TRAILD(dlog, "--listen", url, "--store", (char *)db, "--token-file", (char *)link);
    T_ASSERT(d > 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "via-link", "--collector", url, "--", CLIENT,
                   "metrics", "10"),
             0);
    T_EQ_INT(points_m(db, "via-link"), 10);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    chmod(target, 0644);
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("traild"), "--listen", url, "--store", (char *)db,
                   "--token-file", (char *)link),
             2);
    T_CHECK(err && strstr(err, "readable by others") && strstr(err, "0644"));
    free(err);
}

int main(void)
{
    sandbox = tproc_sandbox();
    tnet_asan_preload_ok();
    signal(SIGPIPE, SIG_IGN);
    snprintf(token, sizeof token, "%s/token", sandbox);
    snprintf(dlog, sizeof dlog, "%s/traild.log", sandbox);
    tnet_token(token, SECRET, 0600);
    setenv("TRAIL_TOKEN_FILE", token, 1);
    T_RUN(test_limits);
    T_RUN(test_api_token);
    T_RUN(test_token_files);
    T_RUN(test_half_open_flood);
    if (tassert_failures) {
        char *log = tnet_slurp(dlog);
        fprintf(stderr, "--- traild log (tail) ---\n%s",
                log ? log + (strlen(log) > 8000 ? strlen(log) - 8000 : 0) : "");
        free(log);
    }
    return T_DONE();
}
