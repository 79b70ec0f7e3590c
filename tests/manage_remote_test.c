/* manage_remote_test.c - `trail rm/gc/forget/tag/rename/close --store http://HOST:PORT` against a
 * real traild on loopback (POST /api/manage with the bearer token): each changes traild's store as
 * on the embedded store, prints the same report as the command run on the same store file
 * locally, honours --dry-run, and is refused without the token or on a traild without one. */
#include "tassert.h"
#include "tmlflow.h"

#define TRAIL (char *)tproc_bin("trail")
#define TOKEN "manage-remote-token-42"
#define API_MLFLOW "/api/2.0/mlflow"

static const char *sandbox;
static char db[600], dlog[600], tokfile[600], store_url[128], lu[64], out_file[700];
static int hport;

static char *run_id(const char *name)
{
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "show", (char *)name, "--json", "--store", db), 0);
    cJSON *d = cJSON_Parse(out ? out : "");
    free(out);
    char *id = strdup(tml_str(d, "id") ? tml_str(d, "id") : "");
    cJSON_Delete(d);
    return id;
}

/* trail ARGS... --store URL: exit status, stdout and stderr. */
#define REMOTE(out, err, ...) TPROC(out, err, TRAIL, __VA_ARGS__, "--store", store_url)
#define LOCAL(out, err, ...) TPROC(out, err, TRAIL, __VA_ARGS__, "--store", db)

static long long count(const char *sql)
{
    return tnet_sql(db, sql);
}

static void seed(void)
{
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "echo secret > %s", out_file);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--collector", lu, "--name", "writer", "--", "sh",
                   "-c", cmd),
             0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--collector", lu, "--name", "reader", "--", "cat",
                   out_file),
             0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--collector", lu, "--name", "broken", "--", "false"),
             1);
    /* a run that never used the file: its command line is nobody's to scrub */
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--collector", lu, "--name", "bystander", "--", "echo",
                   "cat", "a", "out.txt"),
             0);
}

/* One text from a query on the store file (malloc'd; NULL when none). */
static char *sql_text(const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    char *v = NULL;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(h, 5000);
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            v = strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static void test_tag_rename_close(void)
{
    char *id = run_id("writer"), *out = NULL, want[256];
    T_EQ_INT(REMOTE(&out, NULL, "tag", "writer", "owner=ana", "team=cv"), 0);
    snprintf(want, sizeof want, "tagged %s: owner = ana\ntagged %s: team = cv\n", id, id);
    T_EQ_STR(out, want);
    free(out);
    T_EQ_INT(count("SELECT count(*) FROM tags WHERE key IN ('owner', 'team')"), 2);
    T_EQ_INT(REMOTE(&out, NULL, "rename", "reader", "reader2", "--dry-run"), 0);
    T_CHECK(out && strstr(out, "would rename "));
    free(out);
    T_EQ_INT(count("SELECT count(*) FROM runs WHERE name = 'reader2'"), 0);
    T_EQ_INT(REMOTE(&out, NULL, "rename", "reader", "reader2"), 0);
    T_CHECK(out && strstr(out, "renamed ") && strstr(out, " to reader2\n"));
    free(out);
    T_EQ_INT(count("SELECT count(*) FROM runs WHERE name = 'reader2'"), 1);
    /* a run still running (created through the MLflow API) closed through traild */
    cJSON *d = NULL;
    T_EQ_INT(tml_request(hport, "POST", "/api/2.0/mlflow/runs/create", TOKEN,
                         "{\"experiment_id\":\"0\",\"run_name\":\"stuck\"}", &d),
             200);
    cJSON_Delete(d);
    char *stuck = run_id("stuck");
    T_EQ_INT(REMOTE(&out, NULL, "close", "stuck", "--status", "killed"), 0);
    snprintf(want, sizeof want, "closed %s: running -> killed\n", stuck);
    T_EQ_STR(out, want);
    free(out);
    T_EQ_INT(count("SELECT count(*) FROM runs WHERE name = 'stuck' AND status = 'killed'"), 1);
    char *err = NULL;
    T_EQ_INT(REMOTE(NULL, &err, "close", "stuck", "--status", "failed"), 2); /* ended already */
    T_CHECK(err && strstr(err, "has ended"));
    free(err);
    free(stuck);
    free(id);
}

static void test_same_report_as_local(void)
{
    /* dry runs on the same store file, locally and through traild: the same lines */
    static const char *const cmds[][6] = {{"rm", "writer", "reader2", "--dry-run", NULL},
                                          {"gc", "--older-than", "0s", "--dry-run", NULL},
                                          {"forget", out_file, "--dry-run", NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *lo = NULL, *ro = NULL;
        const char *const *c = cmds[i];
        int n = 0;
        while (c[n])
            n++;
        char *argv_l[10], *argv_r[10];
        argv_l[0] = argv_r[0] = TRAIL;
        for (int k = 0; k < n; k++)
            argv_l[k + 1] = argv_r[k + 1] = (char *)c[k];
        argv_l[n + 1] = argv_r[n + 1] = "--store";
        argv_l[n + 2] = db;
        argv_r[n + 2] = store_url;
        argv_l[n + 3] = argv_r[n + 3] = NULL;
        T_EQ_INT(tproc_run(argv_l, &lo, NULL), 0);
        T_EQ_INT(tproc_run(argv_r, &ro, NULL), 0);
        T_CHECK(lo && *lo && strstr(lo, "would "));
        T_EQ_STR(ro, lo);
        free(lo);
        free(ro);
    }
    T_EQ_INT(count("SELECT count(*) FROM runs"), 5); /* dry runs changed nothing */
    /* an error reads the same too */
    char *le = NULL, *re = NULL;
    T_EQ_INT(LOCAL(NULL, &le, "rm", "no-such-run"), 2);
    T_EQ_INT(REMOTE(NULL, &re, "rm", "no-such-run"), 2);
    T_CHECK(le && *le);
    T_EQ_STR(re, le);
    free(le);
    free(re);
}

static void test_forget_gc_rm(void)
{
    char *out = NULL, sql[1000];
    /* /tmp is node-local: the key is HOST:PATH, made by the command on this host */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM artifacts WHERE path LIKE '%%:%s'", out_file);
    T_EQ_INT(count(sql), 1);
    /* a request whose "path" is not its key's: what is scrubbed comes from the artifact found */
    char ksql[1000], body[1200], want[900];
    snprintf(ksql, sizeof ksql, "SELECT path FROM artifacts WHERE path LIKE '%%:%s'", out_file);
    char *key = sql_text(ksql);
    T_ASSERT(key != NULL);
    static const char *const paths[] = {"a", "\\\",\\\"", "cat"};
    for (int i = 0; i < 3; i++) { /* dry runs: the same report, whatever "path" says */
        cJSON *d = NULL;
        snprintf(body, sizeof body,
                 "{\"op\":\"forget\",\"key\":\"%s\",\"path\":\"%s\",\"dry_run\":true}", key,
                 paths[i]);
        T_EQ_INT(tml_request(hport, "POST", "/api/manage", TOKEN, body, &d), 200);
        cJSON_Delete(d);
    }
    cJSON *d = NULL;
    snprintf(body, sizeof body, "{\"op\":\"forget\",\"key\":\"%s\",\"path\":\"a\"}", key);
    T_EQ_INT(tml_request(hport, "POST", "/api/manage", TOKEN, body, &d), 200);
    out = cJSON_PrintUnformatted(d);
    snprintf(want, sizeof want, ":%s from 2 run(s)", out_file);
    T_CHECK(out && strstr(out, want) && strstr(out, "removed 0 run(s)"));
    free(out);
    cJSON_Delete(d);
    free(key);
    /* the runs that used it lost the path from their command lines; no other argument changed */
    char *argv = sql_text("SELECT argv FROM runs WHERE name = 'reader2'");
    T_EQ_STR(argv, "[\"cat\",\"[forgotten]\"]");
    free(argv);
    argv = sql_text("SELECT argv FROM runs WHERE name = 'bystander'");
    T_EQ_STR(argv, "[\"echo\",\"cat\",\"a\",\"out.txt\"]");
    free(argv);
    T_EQ_INT(count("SELECT count(*) FROM runs r, proc_images p WHERE p.run_id = r.id AND "
                   "r.name = 'bystander' AND p.argv LIKE '%forgotten%'"),
             0);
    T_EQ_INT(count("SELECT count(*) FROM tags t JOIN runs r ON r.id = t.run_id WHERE "
                   "r.name = 'bystander' AND t.key = 'trail.forgotten'"),
             0);
    T_EQ_INT(count("SELECT count(*) FROM runs WHERE argv IS NOT NULL AND NOT json_valid(argv)"), 0);
    T_EQ_INT(count(sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM events e JOIN artifact_versions v ON v.id = e.version_id"
             " JOIN artifacts a ON a.id = v.artifact_id WHERE a.path LIKE '%%out.txt'");
    T_EQ_INT(count(sql), 0);
    T_EQ_INT(count("SELECT count(*) FROM tags WHERE key = 'trail.forgotten'"), 2);
    /* gc of failed runs: broken goes */
    T_EQ_INT(REMOTE(&out, NULL, "gc", "--older-than", "0s", "--status", "failed"), 0);
    T_CHECK(out && strstr(out, "removed 1 run(s)") == out);
    free(out);
    T_EQ_INT(count("SELECT count(*) FROM runs WHERE name = 'broken'"), 0);
    char *id = run_id("writer");
    T_EQ_INT(REMOTE(&out, NULL, "rm", "writer"), 0);
    char line[100];
    snprintf(line, sizeof line, "removing %s\nremoved 1 run(s)", id);
    T_CHECK(out && strstr(out, line) == out);
    free(out);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM tags WHERE run_id = '%s'", id);
    T_EQ_INT(count(sql), 0);
    T_EQ_INT(count("SELECT count(*) FROM runs WHERE name = 'writer'"), 0);
    free(id);
}

static void test_refused(void)
{
    char *err = NULL, wrong[700];
    unsetenv("TRAIL_TOKEN_FILE");
    T_EQ_INT(REMOTE(NULL, &err, "rm", "reader2"), 2);
    T_CHECK(err && strstr(err, "token"));
    free(err);
    snprintf(wrong, sizeof wrong, "%s/wrong", sandbox);
    tnet_token(wrong, "not-the-token", 0600);
    T_EQ_INT(REMOTE(NULL, &err, "rm", "reader2", "--token-file", wrong), 2);
    T_CHECK(err && strstr(err, "unauthorized"));
    free(err);
    T_EQ_INT(count("SELECT count(*) FROM runs WHERE name = 'reader2'"), 1);
    /* a traild serving the API without a token manages nothing */
    int p2 = tnet_free_port();
    char hp[32], l2[64], url2[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", p2);
    snprintf(l2, sizeof l2, "tcp://127.0.0.1:%d", tnet_free_port());
    snprintf(url2, sizeof url2, "http://127.0.0.1:%d", p2);
    pid_t d2 = TNET_TRAILD(dlog, "--listen", l2, "--store", db, "--http", hp, "--http-no-auth");
    T_ASSERT(d2 > 0);
    T_EQ_INT(TPROC(NULL, &err, TRAIL, "rm", "reader2", "--store", url2, "--token-file", tokfile),
             2);
    T_CHECK(err && strstr(err, "needs its --token-file"));
    free(err);
    kill(d2, SIGTERM);
    T_EQ_INT(tnet_wait(d2), 0);
    T_EQ_INT(count("SELECT count(*) FROM runs WHERE name = 'reader2'"), 1);
}

#if defined(__SANITIZE_ADDRESS__)
#define RSS_MEANINGFUL 0 /* ASan's shadow memory and quarantine: RSS says nothing about traild */
#else
#define RSS_MEANINGFUL 1
#endif

static long hwm_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}

/* A connection that sent the headers of METHOD path with Content-Length len and no token. */
static int tokenless_head(const char *method, const char *path, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)hport)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    T_ASSERT(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, len);
    T_ASSERT(send(fd, head, (size_t)n, MSG_NOSIGNAL) == n);
    return fd;
}

/* Sends up to len bytes of body (until the peer refuses them). */
static void send_body(int fd, size_t len)
{
    static char chunk[65536];
    memset(chunk, ' ', sizeof chunk);
    for (size_t off = 0; off < len;) {
        size_t k = len - off < sizeof chunk ? len - off : sizeof chunk;
        ssize_t w = send(fd, chunk, k, MSG_NOSIGNAL);
        if (w <= 0) break; /* refused and closed: the rest is never read */
        off += (size_t)w;
    }
}

/* The status of the answer on fd. */
static int status_of(int fd)
{
    char buf[256] = "";
    int status = -1;
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
    buf[r > 0 ? r : 0] = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) status = -1;
    return status;
}

/* Callers without the token cost traild no body buffers: 30 connections at once announcing and
 * sending 8 MB-1 to /api/manage or 1.9 MB to MLflow's API (all but their last byte) are answered
 * 401 before their bodies are read (10 sending 1 MB-1 to GET /health: 400): traild's peak RSS grows
 * by far less than their 150 MB. With the token, a manage body over its limit is refused (413)
 * unread. */
static pid_t traild_pid;

static void test_tokenless_bodies(void)
{
    pid_t d = traild_pid;
    long before = hwm_kb(d);
    int fds[40];
    size_t len[40];
    for (int i = 0; i < 40; i++) {
        len[i] = i >= 30 ? (1u << 20) - 1 : i % 2 ? 1900000 : (8u << 20) - 1;
        fds[i] = tokenless_head(i >= 30 ? "GET" : "POST",
                                i >= 30 ? "/health"
                                : i % 2 ? API_MLFLOW "/runs/log-batch"
                                        : "/api/manage",
                                len[i]);
    }
    for (int i = 0; i < 40; i++)
        send_body(fds[i], len[i] - 1);
    long after = hwm_kb(d);
    for (int i = 0; i < 40; i++) {
        send_body(fds[i], 1);
        T_EQ_INT(status_of(fds[i]), i >= 30 ? 400 : 401); /* /health takes no body */
        close(fds[i]);
    }
    printf("traild VmHWM: %ld KiB before, %ld KiB after 40 tokenless large bodies\n", before,
           after);
    T_CHECK(before > 0 && after > 0);
    T_CHECK(!RSS_MEANINGFUL || after - before < 32 * 1024);
    /* with the token: a body over the limit gets 413, one within it is served */
    char *big = malloc(300 << 10);
    T_ASSERT(big);
    memset(big, ' ', 300 << 10);
    memcpy(big, "{\"op\":\"tag\"", 11);
    big[(300 << 10) - 2] = '}';
    big[(300 << 10) - 1] = 0;
    T_EQ_INT(tml_request(hport, "POST", "/api/manage", TOKEN, big, NULL), 413);
    free(big);
    cJSON *doc = NULL;
    T_EQ_INT(tml_request(hport, "POST", "/api/manage", TOKEN, "{\"op\":\"rm\",\"runs\":[\"nope\"]}",
                         &doc),
             400);
    T_CHECK(doc && cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "error")));
    cJSON_Delete(doc);
}

/* What a traild answers is printed as text that cannot drive the terminal (a run renamed to a
 * name with an escape sequence), and traild logs the caller's op escaped, on one line. */
static void test_escaped(void)
{
    char *out = NULL;
    T_EQ_INT(
        REMOTE(&out, NULL, "rename", "bystander", "\x1b[2Jevil\nname", "--token-file", tokfile), 0);
    T_CHECK(out && !strchr(out, '\x1b') && strstr(out, "\\x1b[2Jevil\\nname"));
    free(out);
    cJSON *d = NULL;
    T_EQ_INT(tml_request(hport, "POST", "/api/manage", TOKEN,
                         "{\"op\":\"x\\u001b[31m\\ninjected line\"}", &d),
             400);
    cJSON_Delete(d);
    T_CHECK(tnet_wait_log(dlog, "manage: x\\x1b[31m\\x0ainjected line: exit 2", 1));
    char *log = tnet_slurp(dlog);
    T_CHECK(log && !strstr(log, "\ninjected line") && !strchr(log, '\x1b'));
    free(log);
}

/* traild --manage-token-file: /api/manage needs that token, the API's (the one jobs carry as
 * MLFLOW_TRACKING_TOKEN) no longer manages; MLflow's API still takes the API's. */
static void test_manage_token(void)
{
    char mtok[700], hp[32], l3[64];
    snprintf(mtok, sizeof mtok, "%s/manage-token", sandbox);
    tnet_token(mtok, "manage-only-secret-7", 0600);
    int p3 = tnet_free_port();
    snprintf(hp, sizeof hp, "127.0.0.1:%d", p3);
    snprintf(l3, sizeof l3, "tcp://127.0.0.1:%d", tnet_free_port());
    pid_t d3 = TNET_TRAILD(dlog, "--listen", l3, "--store", db, "--http", hp, "--token-file",
                           tokfile, "--manage-token-file", mtok);
    T_ASSERT(d3 > 0);
    const char *req = "{\"op\":\"rename\",\"run\":\"reader2\",\"name\":\"r3\",\"dry_run\":true}";
    cJSON *d = NULL;
    T_EQ_INT(tml_request(p3, "POST", "/api/manage", TOKEN, req, &d), 401);
    cJSON_Delete(d);
    T_EQ_INT(tml_request(p3, "POST", "/api/manage", "manage-only-secret-7", req, &d), 200);
    T_CHECK(d && strstr(cJSON_GetStringValue(
                            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "lines"), 0))
                            ?: "",
                        "would rename"));
    cJSON_Delete(d);
    T_EQ_INT(tml_request(p3, "GET", API_MLFLOW "/experiments/get?experiment_id=0", TOKEN, NULL, &d),
             200);
    cJSON_Delete(d);
    T_EQ_INT(tml_request(p3, "GET", API_MLFLOW "/experiments/get?experiment_id=0",
                         "manage-only-secret-7", NULL, &d),
             401);
    cJSON_Delete(d);
    kill(d3, SIGTERM);
    T_EQ_INT(tnet_wait(d3), 0);
}

int main(void)
{
    tnet_asan_preload_ok();
    sandbox = tproc_sandbox();
    snprintf(db, sizeof db, "%s", getenv("TRAIL_STORE"));
    unsetenv("TRAIL_STORE"); /* every command names its store */
    snprintf(dlog, sizeof dlog, "%s/traild.log", sandbox);
    snprintf(tokfile, sizeof tokfile, "%s/token", sandbox);
    snprintf(out_file, sizeof out_file, "%s/out.txt", sandbox);
    tnet_token(tokfile, TOKEN, 0600);
    setenv("TRAIL_TOKEN_FILE", tokfile, 1);
    hport = tnet_free_port();
    char hp[32];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", hport);
    snprintf(store_url, sizeof store_url, "http://127.0.0.1:%d", hport);
    snprintf(lu, sizeof lu, "tcp://127.0.0.1:%d", tnet_free_port());
    pid_t d =
        TNET_TRAILD(dlog, "--listen", lu, "--store", db, "--http", hp, "--token-file", tokfile);
    T_ASSERT(d > 0);
    seed();
    T_RUN(test_tag_rename_close);
    T_RUN(test_same_report_as_local);
    T_RUN(test_forget_gc_rm);
    T_RUN(test_refused);
    traild_pid = d;
    T_RUN(test_tokenless_bodies);
    T_RUN(test_escaped);
    T_RUN(test_manage_token);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    return T_DONE();
}
