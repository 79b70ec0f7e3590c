/* tnet.h - test helpers for collector tests: free ports, daemons in the background, SQL counts. */
#ifndef TNET_H
#define TNET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "tproc.h"

/* Under TRAIL_SANITIZE the capture shim is an ASan library preloaded into ASan programs, which
 * the ASan runtime refuses by default ("does not come first"); these tests are about delivery,
 * so let it run. No effect on builds without sanitizers. */
static inline void tnet_asan_preload_ok(void)
{
    const char *old = getenv("ASAN_OPTIONS");
    char buf[1024];
    snprintf(buf, sizeof buf, "%s%sverify_asan_link_order=0", old ? old : "",
             old && *old ? ":" : "");
    setenv("ASAN_OPTIONS", buf, 1);
}

/* A port nobody listens on right now (bound to 127.0.0.1:0, then released). */
static inline int tnet_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {0};
    socklen_t l = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) != 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

static inline double tnet_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void tnet_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts argv in the background, stdout and stderr appended to log (NULL: /dev/null). */
static inline pid_t tnet_spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

#define TNET_SPAWN(log, ...) tnet_spawn((char *const[]){__VA_ARGS__, NULL}, log)

static inline int tnet_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *tnet_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    tproc_buf b = {0};
    char buf[65536];
    size_t n;
    tproc_append(&b, "", 0);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        tproc_append(&b, buf, n);
    fclose(f);
    return b.data;
}

/* Counts occurrences of needle in a file. */
static inline int tnet_log_count(const char *path, const char *needle)
{
    char *s = tnet_slurp(path);
    int n = 0;
    for (char *p = s; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(s);
    return n;
}

/* Waits (bounded; not a timing assertion) until the log holds `count` copies of needle. */
static inline int tnet_wait_log(const char *path, const char *needle, int count)
{
    for (int i = 0; i < 3000; i++) {
        if (tnet_log_count(path, needle) >= count) return 1;
        tnet_sleep_ms(10);
    }
    return 0;
}

/* One number from a query on a store file (read-only; -1 on error). */
static inline long long tnet_sql(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *s = NULL;
    long long n = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    sqlite3_busy_timeout(h, 5000);
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return n;
}

/* Metric points of the run named name: all of them, or distinct steps. */
static inline long long tnet_points(const char *db, const char *name, int distinct)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(%s) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.name = '%s'",
             distinct ? "DISTINCT m.step" : "*", name);
    return tnet_sql(db, sql);
}

/* A private token file in dir. */
static inline void tnet_token(const char *path, const char *secret, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fprintf(f, "%s\n", secret);
    fclose(f);
    chmod(path, mode);
}

/* Starts traild with the given extra arguments (NULL-terminated) and waits for "ready". */
static inline pid_t tnet_traild(const char *log, char *const extra[])
{
    char *argv[48];
    int k = 0;
    argv[k++] = (char *)tproc_bin("traild");
    for (int i = 0; extra[i] && k < 46; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    int before = tnet_log_count(log, " ready: ");
    pid_t pid = tnet_spawn(argv, log);
    for (int i = 0; i < 3000; i++) {
        if (tnet_log_count(log, " ready: ") > before) return pid;
        if (waitpid(pid, NULL, WNOHANG) == pid) return -1;
        tnet_sleep_ms(10);
    }
    return pid;
}

#define TNET_TRAILD(log, ...) tnet_traild(log, (char *const[]){__VA_ARGS__, NULL})

/* GET path from 127.0.0.1:port with "Authorization: Bearer token" unless token is NULL;
 * returns the HTTP status, body in *body (malloc'd). */
static inline int tnet_http_get_auth(int port, const char *path, const char *token, char **body)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *body = NULL;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[1024], auth[600] = "";
    if (token) snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
    int n =
        snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n", path, auth);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    tproc_buf b = {0};
    char buf[65536];
    ssize_t r;
    tproc_append(&b, "", 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        tproc_append(&b, buf, (size_t)r);
        char *hdr_end = strstr(b.data, "\r\n\r\n"), *cl = strcasestr(b.data, "content-length:");
        if (hdr_end && cl && cl < hdr_end &&
            b.len >= (size_t)(hdr_end + 4 - b.data) + strtoul(cl + 15, NULL, 10))
            break; /* the whole body is here, whether or not the server closes */
    }
    close(fd);
    int status = -1;
    if (sscanf(b.data, "HTTP/1.%*d %d", &status) != 1) status = -1;
    char *sep = strstr(b.data, "\r\n\r\n");
    *body = strdup(sep ? sep + 4 : "");
    free(b.data);
    return status;
}

static inline int tnet_http_get(int port, const char *path, char **body)
{
    return tnet_http_get_auth(port, path, NULL, body);
}

#endif
