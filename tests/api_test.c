/* api_test.c - the HTTP API and page of a real traild on loopback: every /api endpoint, paging,
 * downsampling of a 1 000 000-point metric, bad parameters, and the bearer token on and off. */
#include <cjson/cJSON.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tassert.h"
#include "tnet.h"

#define TRAIL (char *)tproc_bin("trail")
#define CLIENT (char *)tproc_test_bin("sdk_client")
#define NRUNS 250       /* seeded runs of experiments e1/e2: three pages of 100 */
#define NPOINTS 1000000 /* points of the run "big" */

static const char *sandbox;
static char db[600], dlog[600], feat_key[4200];
static int port;

/* The value of point i of "wave" as tests/ui_seed.c logs it. */
static double wave(int64_t i)
{
    return i == 333333 ? -5.0 : i == 777777 ? 7.0 : sin((double)i / 1000.0);
}

static void seed(void)
{
    /* r1..r250 and big (1 000 000 points) through the store library (tests/ui_seed.c) */
    char runs[16], points[16];
    snprintf(runs, sizeof runs, "%d", NRUNS);
    snprintf(points, sizeof points, "%d", NPOINTS);
    T_ASSERT(TPROC(NULL, NULL, (char *)tproc_test_bin("ui_seed"), db, runs, points) == 0);
    /* lineage, files and logs from real runs: prep writes feat.csv, train reads it */
    char cmd[2000];
    snprintf(cmd, sizeof cmd,
             "cd %s && echo 'a,b' > data.csv && cat data.csv > feat.csv && echo oops >&2", sandbox);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "prep", "--", "sh", "-c", cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/feat.csv", sandbox);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "train", "--param", "lr=0.5", "--", CLIENT,
                   "input", cmd, "metrics", "10", "exit", "0"),
             0);
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "show", cmd, "--json"), 0);
    cJSON *f = cJSON_Parse(out ? out : "");
    const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "key"));
    T_ASSERT(key);
    snprintf(feat_key, sizeof feat_key, "%s", key);
    cJSON_Delete(f);
    free(out);
}

/* ---- requests ---- */

/* GET path: the status, the JSON body parsed into *doc (NULL when not JSON). */
static int get(const char *token, cJSON **doc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int get(const char *token, cJSON **doc, const char *fmt, ...)
{
    char path[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    char *body = NULL;
    int st = tnet_http_get_auth(port, path, token, &body);
    if (doc) *doc = body ? cJSON_Parse(body) : NULL;
    free(body);
    return st;
}

static cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(item(o, k));
}

/* 400 (or want) with an {"error": text} body. */
static void bad(int want, const char *path)
{
    cJSON *d = NULL;
    int st = get(NULL, &d, "%s", path);
    if (st != want) T_FAIL("%s: status %d, expected %d", path, st, want);
    if (!str(d, "error") || !*str(d, "error")) T_FAIL("%s: no error message", path);
    cJSON_Delete(d);
}

static pid_t start_traild(const char *token_file)
{
    port = tnet_free_port();
    char hp[32], lu[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
    snprintf(lu, sizeof lu, "tcp://127.0.0.1:%d", tnet_free_port());
    return token_file
               ? TNET_TRAILD(dlog, "--listen", lu, "--store", db, "--http", hp, "--token-file",
                             (char *)token_file)
               : TNET_TRAILD(dlog, "--listen", lu, "--store", db, "--http", hp, "--http-no-auth");
}

static void stop(pid_t d)
{
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0); /* a clean stop (no sanitizer report at exit) */
}

/* ---- cases ---- */

static void test_health_and_experiments(void)
{
    cJSON *d;
    T_EQ_INT(get(NULL, &d, "/api/health"), 200);
    T_EQ_STR(str(d, "status"), "ok");
    T_EQ_INT((int)cJSON_GetNumberValue(item(d, "runs")), NRUNS + 3);
    T_CHECK(cJSON_IsFalse(item(d, "auth")));
    cJSON_Delete(d);
    T_EQ_INT(get(NULL, &d, "/api/experiments"), 200);
    int e1 = -1, e2 = -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, item(d, "experiments"))
    {
        const char *n = str(e, "name");
        int runs = (int)cJSON_GetNumberValue(item(e, "runs"));
        if (n && !strcmp(n, "e1")) e1 = runs;
        if (n && !strcmp(n, "e2")) e2 = runs;
    }
    T_EQ_INT(e1, NRUNS / 2);     /* r2, r4 .. r250 */
    T_EQ_INT(e2, NRUNS / 2 + 1); /* r1, r3 .. r249 and big (251) */
    cJSON_Delete(d);
}

static void test_runs_paging(void)
{
    cJSON *d;
    char token[64] = "";
    int seen = 0, pages = 0, dup = 0, files = 0;
    static char ids[NRUNS + 8][33];
    do {
        T_ASSERT(get(NULL, &d, "/api/runs%s%s", *token ? "?page_token=" : "", token) == 200);
        const cJSON *r;
        cJSON_ArrayForEach(r, item(d, "runs"))
        {
            for (int i = 0; i < seen; i++)
                dup += !strcmp(ids[i], str(r, "id"));
            if (seen < NRUNS + 8) snprintf(ids[seen++], 33, "%s", str(r, "id"));
            files += item(r, "inputs") != NULL || item(r, "outputs") != NULL;
        }
        T_EQ_INT((int)cJSON_GetNumberValue(item(d, "total")), NRUNS + 3);
        if (pages == 0) T_EQ_INT(cJSON_GetArraySize(item(d, "runs")), 100);
        const char *next = str(d, "next_page_token");
        snprintf(token, sizeof token, "%s", next ? next : "");
        T_CHECK(next || cJSON_IsNull(item(d, "next_page_token")));
        cJSON_Delete(d);
        pages++;
    } while (*token && pages < 10);
    T_EQ_INT(pages, 3);
    T_EQ_INT(seen, NRUNS + 3);
    T_EQ_INT(dup, 0);
    T_EQ_INT(files, 0);
    /* limit, and newest first by default: big is the latest seeded, after prep and train */
    T_EQ_INT(get(NULL, &d, "/api/runs?limit=7&experiment=e1"), 200);
    T_EQ_INT(cJSON_GetArraySize(item(d, "runs")), 7);
    T_EQ_INT((int)cJSON_GetNumberValue(item(d, "total")), NRUNS / 2);
    const cJSON *r;
    cJSON_ArrayForEach(r, item(d, "runs")) T_EQ_STR(str(r, "experiment"), "e1");
    cJSON_Delete(d);
}

static void test_runs_where_and_order(void)
{
    cJSON *d;
    /* lr > 0.2: r201 .. r250, big (0.251) and train (0.5) */
    T_EQ_INT(get(NULL, &d, "/api/runs?where=params.lr%%20%%3E%%200.2&limit=1000"), 200);
    T_EQ_INT((int)cJSON_GetNumberValue(item(d, "total")), NRUNS - 200 + 2);
    T_EQ_INT(cJSON_GetArraySize(item(d, "runs")), NRUNS - 200 + 2);
    cJSON_Delete(d);
    /* numeric order of a param, ascending: r1 (0.001), r2 ... */
    T_EQ_INT(get(NULL, &d,
                 "/api/runs?order_by=params.lr%%20asc&limit=3&where=experiment%%20"
                 "in%%20('e1','e2')"),
             200);
    const char *want[] = {"r1", "r2", "r3"};
    for (int i = 0; i < 3; i++)
        T_EQ_STR(str(cJSON_GetArrayItem(item(d, "runs"), i), "name"), want[i]);
    char next[64];
    snprintf(next, sizeof next, "%s", str(d, "next_page_token") ? str(d, "next_page_token") : "");
    cJSON_Delete(d);
    T_EQ_INT(get(NULL, &d,
                 "/api/runs?order_by=params.lr%%20asc&limit=3&page_token=%s&where="
                 "experiment%%20in%%20('e1','e2')",
                 next),
             200);
    T_EQ_STR(str(cJSON_GetArrayItem(item(d, "runs"), 0), "name"), "r4");
    cJSON_Delete(d);
    T_EQ_INT(get(NULL, &d, "/api/runs?order_by=-metrics.loss&limit=1"), 200);
    T_EQ_STR(str(cJSON_GetArrayItem(item(d, "runs"), 0), "name"), "r1"); /* loss 1/2 */
    cJSON_Delete(d);
}

/* The number-valued keys (started, ended, duration, exit_code) take the indexed path: every run
 * once, in order, runs without the key last, the same runs as the general path (name) gives;
 * prev_page_token leads back to the page before. */
static void test_runs_order_numeric(void)
{
    static const char *const keys[] = {"started%20asc", "started%20desc", "ended", "-duration",
                                       "exit_code%20asc"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        cJSON *d;
        char url[128];
        snprintf(url, sizeof url, "/api/runs?limit=1000&order_by=%s", keys[k]);
        T_ASSERT(get(NULL, &d, "%s", url) == 200);
        const cJSON *r;
        int n = 0, ordered = 1, gone = 0, asc = !strstr(keys[k], "desc") && keys[k][0] != '-';
        const char *field = !strncmp(keys[k], "started", 7) ? "started_at"
                            : !strncmp(keys[k], "ended", 5) ? "ended_at"
                                                            : NULL;
        char prev[64] = "";
        cJSON_ArrayForEach(r, item(d, "runs"))
        {
            n++;
            const char *v = field ? str(r, field) : NULL;
            if (field) ordered &= !(gone && v); /* runs without the key come last */
            gone |= field && !v;
            if (v && *prev) ordered &= asc ? strcmp(prev, v) <= 0 : strcmp(prev, v) >= 0;
            if (v) snprintf(prev, sizeof prev, "%s", v);
        }
        T_EQ_INT(n, NRUNS + 3);
        T_CHECK(ordered);
        cJSON_Delete(d);
    }
    cJSON *a, *b, *c;
    T_ASSERT(get(NULL, &a, "/api/runs?limit=5") == 200);
    T_CHECK(cJSON_IsNull(item(a, "prev_page_token")));
    T_ASSERT(get(NULL, &b, "/api/runs?limit=5&page_token=%s", str(a, "next_page_token")) == 200);
    T_EQ_STR(str(b, "prev_page_token"), "o0");
    T_ASSERT(get(NULL, &c, "/api/runs?limit=5&page_token=%s", str(b, "prev_page_token")) == 200);
    T_EQ_STR(str(cJSON_GetArrayItem(item(c, "runs"), 0), "id"),
             str(cJSON_GetArrayItem(item(a, "runs"), 0), "id"));
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

static void test_run_and_metrics(void)
{
    cJSON *d;
    T_EQ_INT(get(NULL, &d, "/api/runs/train"), 200);
    T_EQ_STR(str(item(d, "params"), "lr"), "0.5");
    T_CHECK(cJSON_GetArraySize(item(d, "inputs")) >= 1); /* the run page has the file lists */
    cJSON_Delete(d);
    T_EQ_INT(get(NULL, &d, "/api/runs/train/metrics"), 200);
    T_EQ_INT(cJSON_GetArraySize(item(item(d, "metrics"), "m")), 10);
    cJSON_Delete(d);

    /* 1 000 000 points answer max_points=1000 with at most 1000, the true min, max and last */
    T_EQ_INT(get(NULL, &d, "/api/runs/big/metrics?keys=wave&max_points=1000"), 200);
    const cJSON *pts = item(item(d, "metrics"), "wave"), *p;
    int n = cJSON_GetArraySize(pts), ordered = 1;
    double lo = INFINITY, hi = -INFINITY, prev = -1, last = -1;
    cJSON_ArrayForEach(p, pts)
    {
        double v = cJSON_GetNumberValue(item(p, "value")),
               s = cJSON_GetNumberValue(item(p, "step"));
        lo = fmin(lo, v), hi = fmax(hi, v);
        ordered &= s > prev;
        prev = last = s;
    }
    T_CHECK(n > 900 && n <= 1000);
    T_CHECK(lo == -5.0 && hi == 7.0);
    T_CHECK(last == NPOINTS - 1);
    T_CHECK(ordered);
    T_EQ_INT((int)cJSON_GetNumberValue(item(item(item(d, "series"), "wave"), "total")), NPOINTS);
    T_CHECK(cJSON_IsTrue(item(item(item(d, "series"), "wave"), "downsampled")));
    cJSON_Delete(d);
    /* a step range at full resolution */
    T_EQ_INT(get(NULL, &d, "/api/runs/big/metrics?keys=wave&start_step=500000&end_step=500099"),
             200);
    pts = item(item(d, "metrics"), "wave");
    T_EQ_INT(cJSON_GetArraySize(pts), 100);
    int k = 500000, exact = 1;
    /* cJSON prints 15 significant digits when they read back within DBL_EPSILON */
    cJSON_ArrayForEach(p, pts) exact &=
        cJSON_GetNumberValue(item(p, "step")) == k++ &&
        fabs(cJSON_GetNumberValue(item(p, "value")) - wave(k - 1)) < 1e-12;
    T_CHECK(exact);
    T_CHECK(cJSON_IsFalse(item(item(item(d, "series"), "wave"), "downsampled")));
    cJSON_Delete(d);
}

static void test_logs(void)
{
    cJSON *d;
    T_EQ_INT(get(NULL, &d, "/api/runs/prep/logs?stream=stderr&tail=5"), 200);
    T_CHECK(str(d, "text") && strstr(str(d, "text"), "oops"));
    cJSON_Delete(d);
}

static void test_lineage_diff_files(void)
{
    cJSON *d;
    T_EQ_INT(get(NULL, &d, "/api/lineage?target=prep"), 200);
    T_CHECK(cJSON_GetArraySize(item(d, "nodes")) >= 4); /* data.csv -> prep -> feat.csv -> train */
    T_CHECK(cJSON_GetArraySize(item(d, "edges")) >= 3);
    cJSON_Delete(d);
    T_EQ_INT(get(NULL, &d, "/api/lineage?target=prep&direction=up"), 200);
    const cJSON *n;
    int runs = 0;
    cJSON_ArrayForEach(n, item(d, "nodes")) runs += !strcmp(str(n, "kind"), "run");
    T_EQ_INT(runs, 1); /* train is downstream */
    cJSON_Delete(d);
    T_EQ_INT(get(NULL, &d, "/api/lineage?target=%s", feat_key), 200);
    T_CHECK(str(d, "root") && strstr(str(d, "root"), "feat.csv"));
    cJSON_Delete(d);
    T_EQ_INT(get(NULL, &d, "/api/files?path=%s", feat_key), 200);
    T_EQ_INT(cJSON_GetArraySize(item(d, "versions")), 1);
    cJSON_Delete(d);
    T_EQ_INT(get(NULL, &d, "/api/diff?a=r1&b=r2"), 200);
    const cJSON *c;
    int lr = 0;
    cJSON_ArrayForEach(c, item(d, "changes")) lr +=
        !strcmp(str(c, "name"), "lr") && !strcmp(str(c, "kind"), "changed");
    T_EQ_INT(lr, 1);
    cJSON_Delete(d);
}

static void test_bad_parameters(void)
{
    cJSON *d;
    T_EQ_INT(get(NULL, &d, "/api/runs?where=params.lr%%20%%3E"), 400);
    T_CHECK(str(d, "error") && strstr(str(d, "error"), "column"));
    T_CHECK(cJSON_GetNumberValue(item(d, "column")) > 0);
    cJSON_Delete(d);
    bad(400, "/api/runs?limit=0");
    bad(400, "/api/runs?limit=abc");
    bad(400, "/api/runs?order_by=nonsense");
    bad(400, "/api/runs?page_token=zz");
    bad(400, "/api/runs/big/metrics?max_points=-1");
    bad(400, "/api/runs/big/metrics?start_step=x");
    bad(400, "/api/runs/prep/logs?stream=stdin");
    bad(400, "/api/lineage");
    bad(400, "/api/lineage?target=prep&direction=sideways");
    bad(400, "/api/diff?a=r1");
    bad(400, "/api/files");
    bad(404, "/api/runs/no-such-run");
    bad(404, "/api/runs/no-such-run/metrics");
    bad(404, "/api/lineage?target=no-such-run");
    bad(404, "/api/diff?a=r1&b=no-such-run");
    bad(404, "/api/files?path=/no/such/file");
    bad(404, "/api/nothing");
}

static void test_page(void)
{
    char *body = NULL;
    T_EQ_INT(tnet_http_get_auth(port, "/", NULL, &body), 200);
    T_CHECK(body && strstr(body, "/ui/app.js"));
    free(body);
    T_EQ_INT(tnet_http_get_auth(port, "/runs/r1", NULL, &body), 200);
    T_CHECK(body && strstr(body, "<main id=\"app\""));
    free(body);
    T_EQ_INT(tnet_http_get_auth(port, "/compare?runs=r1,r2", NULL, &body), 200);
    free(body);
    T_EQ_INT(tnet_http_get_auth(port, "/ui/chart.js", NULL, &body), 200);
    T_CHECK(body && strstr(body, "export function drawChart"));
    free(body);
    T_EQ_INT(tnet_http_get_auth(port, "/ui/missing.js", NULL, &body), 404);
    free(body);
}

/* The status line of a GET to path carrying a body of n bytes (no token). */
static int get_with_body(const char *path, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    a.sin_port = htons((uint16_t)port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n", path, n);
    if (write(fd, head, (size_t)hl) != hl) {
        close(fd);
        return -1;
    }
    static char zeros[65536];
    for (size_t sent = 0; sent < n;) { /* a refusal may close the connection early: fine */
        size_t k = n - sent < sizeof zeros ? n - sent : sizeof zeros;
        ssize_t w = send(fd, zeros, k, MSG_NOSIGNAL);
        if (w <= 0) break;
        sent += (size_t)w;
    }
    char reply[64] = "";
    ssize_t r = read(fd, reply, sizeof reply - 1);
    close(fd);
    int status = -1;
    if (r > 0) sscanf(reply, "HTTP/1.%*d %d", &status);
    return status;
}

static void test_token(void)
{
    char tf[700];
    snprintf(tf, sizeof tf, "%s/token", sandbox);
    tnet_token(tf, "s3cret-token-for-the-api", 0600);
    pid_t d = start_traild(tf);
    T_ASSERT(d > 0);
    cJSON *doc;
    T_EQ_INT(get(NULL, &doc, "/api/runs?limit=1"), 401);
    T_CHECK(str(doc, "error") != NULL);
    cJSON_Delete(doc);
    T_EQ_INT(get("wrong", NULL, "/api/runs/r1"), 401);
    /* the API and the page take no body: one is refused, not read in before the token check
     * (nng would buffer up to 1 MB of it per request) */
    T_EQ_INT(get_with_body("/api/runs", 900000), 400);
    T_EQ_INT(get_with_body("/ui/app.js", 900000), 400);
    T_EQ_INT(get("s3cret-token-for-the-api", &doc, "/api/runs?limit=1"), 200);
    T_EQ_INT(cJSON_GetArraySize(item(doc, "runs")), 1);
    cJSON_Delete(doc);
    T_EQ_INT(get("s3cret-token-for-the-api", &doc, "/api/health"), 200);
    T_CHECK(cJSON_IsTrue(item(doc, "auth")));
    cJSON_Delete(doc);
    char *body = NULL;
    T_EQ_INT(tnet_http_get_auth(port, "/", NULL, &body), 200); /* the page holds no data */
    free(body);
    stop(d);
}

/* trail ui: the same page and API over the embedded store, behind the token in its URL. */
static void test_trail_ui(void)
{
    char log[700], *out = NULL, tok[64] = "";
    snprintf(log, sizeof log, "%s/ui.log", sandbox);
    pid_t u = TNET_SPAWN(log, TRAIL, "ui", "--store", db);
    T_ASSERT(u > 0);
    T_CHECK(tnet_wait_log(log, "?token=", 1));
    out = tnet_slurp(log);
    const char *p = out ? strstr(out, "http://127.0.0.1:") : NULL,
               *t = p ? strstr(p, "?token=") : NULL;
    T_ASSERT(p && t);
    port = atoi(p + strlen("http://127.0.0.1:"));
    sscanf(t + 7, "%63[0-9a-f]", tok);
    free(out);
    T_EQ_INT((int)strlen(tok), 32);
    T_EQ_INT(get(NULL, NULL, "/api/runs?limit=1"), 401);
    cJSON *d;
    T_EQ_INT(get(tok, &d, "/api/runs/big/metrics?keys=wave&max_points=101"), 200);
    T_CHECK(cJSON_GetArraySize(item(item(d, "metrics"), "wave")) <= 101);
    cJSON_Delete(d);
    char *body = NULL;
    T_EQ_INT(tnet_http_get_auth(port, "/lineage?target=prep", NULL, &body), 200);
    T_CHECK(body && strstr(body, "/ui/app.js"));
    free(body);
    kill(u, SIGINT);
    T_EQ_INT(tnet_wait(u), 0);
}

int main(void)
{
    tnet_asan_preload_ok();
    sandbox = tproc_sandbox();
    snprintf(db, sizeof db, "%s", getenv("TRAIL_STORE"));
    snprintf(dlog, sizeof dlog, "%s/traild.log", sandbox);
    seed();
    pid_t d = start_traild(NULL);
    T_ASSERT(d > 0);
    T_RUN(test_health_and_experiments);
    T_RUN(test_runs_paging);
    T_RUN(test_runs_where_and_order);
    T_RUN(test_runs_order_numeric);
    T_RUN(test_run_and_metrics);
    T_RUN(test_logs);
    T_RUN(test_lineage_diff_files);
    T_RUN(test_bad_parameters);
    T_RUN(test_page);
    stop(d);
    T_RUN(test_token);
    T_RUN(test_trail_ui);
    return T_DONE();
}
