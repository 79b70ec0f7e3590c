/* pg_store_test.c - the PostgreSQL store on a real server started for the test: the same
 * records answer every query command as in SQLite, two traild share one database while agents
 * send and one collector is killed, and what a store refuses or never shows. */
#include <libpq-fe.h>
#include <sys/stat.h>

#include "tassert.h"
#include "tmlflow.h"
#include "tnet.h"

#define TRAIL (char *)tproc_bin("trail")
#define CLIENT (char *)tproc_test_bin("sdk_client")

static const char *sandbox;
static char pgdir[128];

static const char *in_sandbox(const char *name)
{
    static char buf[8][600];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 600, "%s/%s", sandbox, name);
    return p;
}

static void pg_stop(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s/tests/pg/server.sh stop %s", getenv("TRAIL_SRC"), pgdir);
    if (system(cmd) != 0) fprintf(stderr, "note: stopping PostgreSQL failed\n");
}

/* Runs server.sh ARGS; its one line of output (a URL) into url. Exit status. */
static int server(const char *args, char *url, size_t n)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "%s/tests/pg/server.sh %s", getenv("TRAIL_SRC"), args);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    url[0] = 0;
    if (!fgets(url, (int)n, f)) url[0] = 0;
    url[strcspn(url, "\n")] = 0;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A fresh database on the test's server. */
static const char *new_db(const char *name)
{
    static char urls[8][256];
    static int k;
    char *u = urls[k++ % 8], args[300];
    snprintf(args, sizeof args, "db %s %s", pgdir, name);
    if (server(args, u, 256) != 0) u[0] = 0;
    return u;
}

/* One integer from SQL run on the database at url (-1 on error). */
static long long pg_int(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    long long v = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else
            fprintf(stderr, "pg_int: %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    } else {
        fprintf(stderr, "pg_int: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return v;
}

/* out with every occurrence of what replaced by "STORE". */
static char *blank(char *out, const char *what)
{
    size_t n = strlen(what);
    for (char *p; out && n && (p = strstr(out, what));) {
        memcpy(p, "STORE", 5);
        memmove(p + 5, p + n, strlen(p + n) + 1);
    }
    return out;
}

/* `trail ARGS --store X` gives the same output, exit status and errors for both stores. */
static void same(const char *lite, const char *pg, char *const args[])
{
    char *argv[24], *out[2] = {0}, *err[2] = {0};
    int rc[2], k = 0;
    argv[k++] = TRAIL;
    for (int i = 0; args[i] && k < 20; i++)
        argv[k++] = args[i];
    argv[k++] = "--store";
    for (int b = 0; b < 2; b++) {
        argv[k] = (char *)(b ? pg : lite);
        argv[k + 1] = NULL;
        rc[b] = tproc_run(argv, &out[b], &err[b]);
        blank(out[b], argv[k]);
        blank(err[b], argv[k]);
    }
    char what[400] = "";
    for (int i = 0; args[i]; i++) {
        strncat(what, " ", sizeof what - strlen(what) - 1);
        strncat(what, args[i], sizeof what - strlen(what) - 1);
    }
    if (rc[0] != rc[1] || strcmp(out[0] ? out[0] : "", out[1] ? out[1] : "") ||
        strcmp(err[0] ? err[0] : "", err[1] ? err[1] : ""))
        T_FAIL("trail%s: SQLite (exit %d) and PostgreSQL (exit %d) differ:\n--- SQLite\n%s%s\n"
               "--- PostgreSQL\n%s%s",
               what, rc[0], rc[1], out[0], err[0], out[1], err[1]);
    else
        T_CHECK((out[0] && strlen(out[0]) > 2) || (rc[0] && err[0] && *err[0])); /* an answer */
    for (int b = 0; b < 2; b++) {
        free(out[b]);
        free(err[b]);
    }
}

#define SAME(lite, pg, ...) same(lite, pg, (char *const[]){__VA_ARGS__, NULL})

/* The same spooled records (real jobs under the real shim) delivered into a SQLite store and
 * into a PostgreSQL one: every query command answers alike, to the byte. */
static void test_same_answers(void)
{
    const char *pg = new_db("same");
    T_ASSERT(pg[0]);
    char cmd[2400], lite[600], pipe[600], report[700], model[700];
    snprintf(lite, sizeof lite, "%s", in_sandbox("same.db"));
    snprintf(pipe, sizeof pipe, "%s", in_sandbox("pipe"));
    /* no store reachable while the jobs run: their records stay in the spool */
    setenv("TRAIL_STORE", "/proc/no-store-here/trail.db", 1);
    setenv("TRAIL_SPOOL_ROOT", in_sandbox("spool-a"), 1);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "logreg", "--param", "lr=0.5", "--",
                   (char *)tproc_bin("../examples/train_logreg"), "--out",
                   (char *)in_sandbox("model.txt")),
             0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "points", "--", CLIENT, "metrics", "3000"),
             0);
    snprintf(cmd, sizeof cmd, "bash %s/examples/pipeline/run.sh %s %s 96 >/dev/null 2>&1",
             getenv("TRAIL_SRC"), TRAIL, pipe);
    T_EQ_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "cp -a %s %s", in_sandbox("spool-a"), in_sandbox("spool-b"));
    T_EQ_INT(system(cmd), 0);
    unsetenv("TRAIL_STORE");
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "sync", "--spool-root", (char *)in_sandbox("spool-a"),
                   "--store", lite),
             0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "sync", "--spool-root", (char *)in_sandbox("spool-b"),
                   "--store", (char *)pg),
             0);
    T_EQ_INT(pg_int(pg, "SELECT count(*) FROM runs"), 6);

    snprintf(report, sizeof report, "%s/report.json", pipe);
    snprintf(model, sizeof model, "%s/model-seed1.json", pipe);
    SAME(lite, pg, "runs");
    SAME(lite, pg, "runs", "--json");
    SAME(lite, pg, "runs", "--json", "--limit", "2");
    SAME(lite, pg, "runs", "--experiment", "pipeline");
    static char *const names[] = {"logreg",      "points",      "prepare",
                                  "train-seed1", "train-seed2", "evaluate"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        SAME(lite, pg, "show", names[i], "--json");
        SAME(lite, pg, "show", names[i]);
        SAME(lite, pg, "metrics", names[i], "--json");
        SAME(lite, pg, "lineage", names[i], "--up", "--json");
        SAME(lite, pg, "lineage", names[i], "--down", "--json");
        SAME(lite, pg, "export", "openlineage", names[i]);
    }
    SAME(lite, pg, "show", "prepare", "--json", "--all-files");
    SAME(lite, pg, "lineage", "evaluate", "--up");
    SAME(lite, pg, "lineage", "prepare", "--down");
    SAME(lite, pg, "lineage", report, "--up", "--json");
    SAME(lite, pg, "lineage", model, "--down", "--json");
    SAME(lite, pg, "show", model, "--json");
    SAME(lite, pg, "diff", "train-seed1", "train-seed2", "--json");
    SAME(lite, pg, "diff", "train-seed1", "train-seed2");
    SAME(lite, pg, "diff", "logreg", "evaluate", "--json");
    SAME(lite, pg, "runs", "--where", "params.seed = '1'", "--json");
    SAME(lite, pg, "runs", "--where", "name like 'train-%' or name = 'evaluate'", "--json");
    SAME(lite, pg, "runs", "--where", "metrics.loss < 0.5 and params.seed = '2'", "--json");
    SAME(lite, pg, "runs", "--where", "status = 'finished' and experiment = 'pipeline'");
    SAME(lite, pg, "runs", "--where", "metrics.accuracy > 0", "--json");
    SAME(lite, pg, "logs", "logreg");
    SAME(lite, pg, "show", "no-such-run");
}

/* The store library's own tests (store_test, lineage_test, proc_store_test, prefetch_test)
 * again, each store a database of this server: everything but their SQLite-file cases passes
 * as on SQLite. */
static void test_library(void)
{
    static const char *const tests[] = {"store_test", "lineage_test", "proc_store_test",
                                        "prefetch_test"};
    setenv("TRAIL_TEST_PG_DIR", pgdir, 1);
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        char *out = NULL, *err = NULL;
        int rc = TPROC(&out, &err, (char *)tproc_test_bin(tests[i]));
        if (rc != 0) T_FAIL("%s on PostgreSQL: exit %d\n%s%s", tests[i], rc, out, err);
        T_CHECK(err && strstr(err, "ok   ") && !strstr(err, "FAIL"));
        free(out);
        free(err);
    }
    unsetenv("TRAIL_TEST_PG_DIR");
}

/* A UTF8 database refuses text that is not UTF-8; a path is any bytes. The run is stored
 * whole, the path as the same text each time (one file, one key). */
static void test_utf8_database(void)
{
    char args[300];
    static char url[256];
    snprintf(args, sizeof args, "db %s utf8db UTF8", pgdir);
    T_ASSERT(server(args, url, sizeof url) == 0 && url[0]);
    char file[700], cmd[1600];
    snprintf(file, sizeof file, "%s/bad-\xff\xfe-name.txt", sandbox);
    FILE *f = fopen(file, "w");
    T_ASSERT(f);
    fputs("x\n", f);
    fclose(f);
    setenv("TRAIL_SPOOL_ROOT", in_sandbox("spool-utf8"), 1);
    snprintf(cmd, sizeof cmd, "cat %s/bad-*-name.txt > /dev/null", sandbox);
    for (int i = 0; i < 2; i++)
        T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--store", url, "--name", "odd-bytes", "--", "sh",
                       "-c", cmd),
                 0);
    T_EQ_INT(pg_int(url, "SELECT count(*) FROM runs WHERE name = 'odd-bytes'"), 2);
    T_EQ_INT(pg_int(url, "SELECT count(*) FROM artifacts WHERE path LIKE '%bad-%-name.txt'"), 1);
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "show", "odd-bytes", "--store", url, "--json"), 0);
    T_CHECK(out && strstr(out, "-name.txt"));
    free(out);
}

/* traild --http on a PostgreSQL store: the page's API, MLflow's tracking API (an experiment, a
 * run, its metrics, a search by param) and the runs in the store, as on SQLite. */
static void test_http_apis(void)
{
    const char *pg = new_db("http");
    T_ASSERT(pg[0]);
    setenv("TRAIL_SPOOL_ROOT", in_sandbox("spool-http"), 1);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--store", (char *)pg, "--name", "api-run",
                   "--experiment", "e1", "--param", "seed=3", "--", CLIENT, "metrics", "20"),
             0);
    int port = tnet_free_port(), hport = tnet_free_port();
    char url[64], http[32];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    snprintf(http, sizeof http, "127.0.0.1:%d", hport);
    pid_t d = TNET_TRAILD(in_sandbox("http.log"), "--listen", url, "--store", (char *)pg, "--http",
                          http, "--http-no-auth");
    T_ASSERT(d > 0);
    cJSON *doc = NULL;
    T_EQ_INT(tml_request(hport, "GET", "/api/runs?limit=5&sort=params.seed", NULL, NULL, &doc),
             200);
    const cJSON *runs = tml_get(doc, "runs");
    T_CHECK(cJSON_GetArraySize(runs) == 1 &&
            !strcmp(tml_str(cJSON_GetArrayItem(runs, 0), "name") ?: "", "api-run"));
    cJSON_Delete(doc);
    T_EQ_INT(tml_request(hport, "GET", "/api/experiments", NULL, NULL, &doc), 200);
    char *txt = doc ? cJSON_PrintUnformatted(doc) : NULL;
    T_CHECK(txt && strstr(txt, "\"e1\""));
    free(txt);
    cJSON_Delete(doc);
    /* MLflow: an experiment and a run logged the way mlflow logs, found again by a search */
    T_EQ_INT(tml_request(hport, "POST", "/api/2.0/mlflow/experiments/create", NULL,
                         "{\"name\":\"ml-exp\"}", &doc),
             200);
    char body[400], id[64], exp[32];
    T_ASSERT(tml_str(doc, "experiment_id"));
    snprintf(exp, sizeof exp, "%s", tml_str(doc, "experiment_id"));
    snprintf(body, sizeof body, "{\"experiment_id\":\"%s\",\"start_time\":1700000000000}", exp);
    cJSON_Delete(doc);
    T_EQ_INT(tml_request(hport, "POST", "/api/2.0/mlflow/runs/create", NULL, body, &doc), 200);
    const char *rid = tml_str(tml_get(tml_get(doc, "run"), "info"), "run_id");
    T_ASSERT(rid);
    snprintf(id, sizeof id, "%s", rid);
    cJSON_Delete(doc);
    snprintf(body, sizeof body,
             "{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"acc\",\"value\":0.5,"
             "\"timestamp\":1700000000001,\"step\":1}],\"params\":[{\"key\":\"lr\","
             "\"value\":\"0.1\"}]}",
             id);
    T_EQ_INT(tml_request(hport, "POST", "/api/2.0/mlflow/runs/log-batch", NULL, body, NULL), 200);
    snprintf(body, sizeof body,
             "{\"experiment_ids\":[\"%s\"],\"filter\":\"params.lr = \\\"0.1\\\"\","
             "\"order_by\":[\"metrics.acc DESC\"]}",
             exp);
    int st = tml_request(hport, "POST", "/api/2.0/mlflow/runs/search", NULL, body, &doc);
    T_EQ_INT(st, 200);
    const cJSON *found = tml_get(doc, "runs");
    T_CHECK(cJSON_GetArraySize(found) == 1 &&
            !strcmp(tml_str(tml_get(cJSON_GetArrayItem(found, 0), "info"), "run_id") ?: "", id));
    cJSON_Delete(doc);
    char path[200];
    snprintf(path, sizeof path, "/api/2.0/mlflow/metrics/get-history?run_id=%s&metric_key=acc", id);
    T_EQ_INT(tml_request(hport, "GET", path, NULL, NULL, &doc), 200);
    T_EQ_INT(cJSON_GetArraySize(tml_get(doc, "metrics")), 1);
    cJSON_Delete(doc);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

/* traild --openlineage-url on a PostgreSQL store: a run that ends is queued by the store's
 * trigger (PL/pgSQL there) and POSTed to a loopback receiver as START and COMPLETE. */
static void test_openlineage(void)
{
    const char *pg = new_db("ol");
    T_ASSERT(pg[0]);
    char recv[700], got[700], cmd[1800];
    snprintf(recv, sizeof recv, "%s/ol_recv.py", sandbox);
    snprintf(got, sizeof got, "%s/ol_got.txt", sandbox);
    int hport = tnet_free_port(), port = tnet_free_port();
    FILE *f = fopen(recv, "w");
    T_ASSERT(f);
    fprintf(f,
            "import http.server\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_POST(self):\n"
            "        b = self.rfile.read(int(self.headers.get('Content-Length', 0)))\n"
            "        with open('%s', 'ab') as o: o.write(b + b'\\n')\n"
            "        self.send_response(201); self.end_headers()\n"
            "    def log_message(self, *a): pass\n"
            "http.server.HTTPServer(('127.0.0.1', %d), H).serve_forever()\n",
            got, hport);
    fclose(f);
    pid_t rp = TNET_SPAWN(NULL, "python3", recv);
    char lu[64], ou[96];
    snprintf(lu, sizeof lu, "tcp://127.0.0.1:%d", port);
    snprintf(ou, sizeof ou, "http://127.0.0.1:%d/api/v1/lineage", hport);
    pid_t d = TNET_TRAILD(in_sandbox("ol.log"), "--listen", lu, "--store", (char *)pg,
                          "--openlineage-url", ou);
    T_ASSERT(d > 0);
    setenv("TRAIL_SPOOL_ROOT", in_sandbox("spool-ol"), 1);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "ol-run", "--collector", lu, "--", CLIENT,
                   "metrics", "10"),
             0);
    snprintf(cmd, sizeof cmd, "grep -q '\"COMPLETE\"' %s 2>/dev/null", got);
    int seen = 0;
    for (int i = 0; i < 600 && !seen; i++) { /* bounded: the emitter's retries included */
        seen = system(cmd) == 0;
        if (!seen) tnet_sleep_ms(50);
    }
    T_CHECK(seen);
    snprintf(cmd, sizeof cmd, "grep -q '\"START\"' %s && grep -q 'ol-run' %s", got, got);
    T_CHECK(system(cmd) == 0);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    kill(rp, SIGTERM);
    tnet_wait(rp);
}

/* The database server restarts under a running traild (every session ended, as in a crash or
 * a fail-over): the batch in flight is refused and re-sent, traild reconnects, nothing lost. */
static void test_server_restart(void)
{
    const char *pg = new_db("restart");
    T_ASSERT(pg[0]);
    setenv("TRAIL_SPOOL_ROOT", in_sandbox("spool-restart"), 1);
    int port = tnet_free_port();
    char url[64], args[200], ignored[256];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    pid_t d = TNET_TRAILD(in_sandbox("restart.log"), "--listen", url, "--store", (char *)pg);
    T_ASSERT(d > 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "before", "--collector", url, "--", CLIENT,
                   "metrics", "500"),
             0);
    snprintf(args, sizeof args, "restart %s", pgdir);
    T_EQ_INT(server(args, ignored, sizeof ignored), 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "after", "--collector", url, "--", CLIENT,
                   "metrics", "500"),
             0);
    T_EQ_INT(pg_int(pg, "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id"
                        " WHERE r.name IN ('before', 'after') AND r.status = 'finished'"),
             1000);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

/* The management commands on a PostgreSQL store: tag, rename, forget a file, rm, gc. */
static void test_manage(void)
{
    const char *pg = new_db("manage");
    T_ASSERT(pg[0]);
    char file[600], cmd[900];
    snprintf(file, sizeof file, "%s", in_sandbox("secret-input.txt"));
    snprintf(cmd, sizeof cmd, "echo s3cret > %s", file);
    T_EQ_INT(system(cmd), 0);
    setenv("TRAIL_SPOOL_ROOT", in_sandbox("spool-manage"), 1);
    snprintf(cmd, sizeof cmd, "cat %s > /dev/null", file);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--store", (char *)pg, "--name", "reader", "--", "sh",
                   "-c", cmd),
             0);
    T_EQ_INT(
        TPROC(NULL, NULL, TRAIL, "run", "--store", (char *)pg, "--name", "other", "--", "true"), 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "tag", "reader", "k=v", "--store", (char *)pg), 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "rename", "reader", "reader2", "--store", (char *)pg), 0);
    char sql[800];
    /* a file under /tmp is node-local: its key is "HOST:/tmp/..." */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM artifacts WHERE path LIKE '%%:%s'", file);
    T_EQ_INT(pg_int(pg, sql), 1);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "forget", file, "--store", (char *)pg), 0);
    T_EQ_INT(pg_int(pg, sql), 0);
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "show", "reader2", "--store", (char *)pg, "--json"), 0);
    T_CHECK(out && !strstr(out, "secret-input") && strstr(out, "\"k\""));
    free(out);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "rm", "other", "--store", (char *)pg), 0);
    T_EQ_INT(pg_int(pg, "SELECT count(*) FROM runs WHERE name = 'other'"), 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "gc", "--older-than", "0s", "--store", (char *)pg), 0);
    T_EQ_INT(pg_int(pg, "SELECT count(*) FROM runs"), 0);
}

/* trail store copy: SQLite -> PostgreSQL, killed mid-copy and run again (it goes on, nothing
 * doubled), then PostgreSQL -> SQLite: all three answer alike, and the copy takes new runs. */
static void test_copy(void)
{
    char lite[600], back[600], cmd[1400];
    snprintf(lite, sizeof lite, "%s", in_sandbox("copy-src.db"));
    snprintf(back, sizeof back, "%s", in_sandbox("copy-back.db"));
    setenv("TRAIL_SPOOL_ROOT", in_sandbox("spool-copy"), 1);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--store", lite, "--name", "many", "--param", "k=v",
                   "--", CLIENT, "metrics", "30000"),
             0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--store", lite, "--name", "io", "--", "sh", "-c",
                   "cat /etc/hostname > /dev/null"),
             0);
    const char *pg = new_db("copy");
    T_ASSERT(pg[0]);
    /* killed once its first batches are committed: the progress is in the target */
    pid_t cp = TNET_SPAWN(in_sandbox("copy1.log"), TRAIL, "store", "copy", lite, (char *)pg,
                          "--batch", "200");
    for (int i = 0; i < 60000 && tnet_log_count(in_sandbox("copy1.log"), "of metrics") < 3; i++)
        tnet_sleep_ms(1);
    kill(cp, SIGKILL);
    tnet_wait(cp);
    long long partial = pg_int(pg, "SELECT count(*) FROM metrics");
    T_CHECK(partial > 0 && partial < 30000);
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "store", "copy", lite, (char *)pg, "--json"), 0);
    T_CHECK(out && strstr(out, "\"verified\":\ttrue") && strstr(out, "\"resumed\":\ttrue"));
    free(out);
    T_EQ_INT(pg_int(pg, "SELECT count(*) FROM metrics"), 30000);
    T_EQ_INT(pg_int(pg, "SELECT count(DISTINCT step) FROM metrics"), 30000);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "store", "copy", (char *)pg, back), 0);
    SAME(lite, pg, "runs", "--json");
    SAME(lite, pg, "show", "many", "--json");
    SAME(lite, pg, "show", "io", "--json");
    SAME(lite, pg, "metrics", "many", "--json");
    SAME(lite, back, "runs", "--json");
    SAME(lite, back, "show", "io", "--json");
    SAME(lite, back, "lineage", "io", "--up", "--json");
    /* into a store that holds runs: refused */
    T_CHECK(TPROC(NULL, NULL, TRAIL, "store", "copy", lite, back) != 0);
    /* new runs go on after the copied ids (PostgreSQL identities moved past them) */
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--store", (char *)pg, "--name", "after", "--", "sh",
                   "-c", "cat /etc/hostname > /dev/null"),
             0);
    snprintf(cmd, sizeof cmd, "SELECT count(*) FROM runs WHERE name = 'after'");
    T_EQ_INT(pg_int(pg, cmd), 1);
    out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "show", "after", "--store", (char *)pg, "--json"), 0);
    T_CHECK(out && strstr(out, "/etc/hostname"));
    free(out);
}

/* Two traild in front of one database, eight agents sending at once, one collector killed
 * mid-stream: the agents move to the other, and every point is stored exactly once. */
static void test_two_collectors(void)
{
    const char *pg = new_db("shared");
    T_ASSERT(pg[0]);
    setenv("TRAIL_SPOOL_ROOT", in_sandbox("spool-two"), 1);
    unsetenv("TRAIL_STORE");
    int pa = tnet_free_port(), pb = tnet_free_port();
    char ua[64], ub[64], both[140];
    snprintf(ua, sizeof ua, "tcp://127.0.0.1:%d", pa);
    snprintf(ub, sizeof ub, "tcp://127.0.0.1:%d", pb);
    snprintf(both, sizeof both, "%s,%s", ua, ub);
    pid_t da = TNET_TRAILD(in_sandbox("two-a.log"), "--listen", ua, "--store", (char *)pg);
    pid_t db = TNET_TRAILD(in_sandbox("two-b.log"), "--listen", ub, "--store", (char *)pg);
    T_ASSERT(da > 0 && db > 0);
    enum { AGENTS = 8, POINTS = 20000 };
    pid_t run[AGENTS];
    char name[AGENTS][16], log[AGENTS][32], n[16];
    snprintf(n, sizeof n, "%d", POINTS);
    for (int i = 0; i < AGENTS; i++) {
        snprintf(name[i], sizeof name[i], "agent-%d", i);
        snprintf(log[i], sizeof log[i], "agent-%d.log", i);
        run[i] = TNET_SPAWN(in_sandbox(log[i]), TRAIL, "run", "--name", name[i], "--collector",
                            both, "--", CLIENT, "metrics", n);
    }
    long long at = 0;
    for (int i = 0; i < 60000 && at <= 0; i++) { /* bounded wait for the first batches */
        at = pg_int(pg, "SELECT count(*) FROM metrics");
        if (at <= 0) tnet_sleep_ms(5);
    }
    T_CHECK(at > 0);
    kill(da, SIGKILL); /* mid-stream: what it had not acknowledged goes through b */
    T_EQ_INT(tnet_wait(da), 128 + SIGKILL);
    for (int i = 0; i < AGENTS; i++)
        T_EQ_INT(tnet_wait(run[i]), 0);
    char sql[300];
    for (int i = 0; i < AGENTS; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id"
                 " WHERE r.name = '%s'",
                 name[i]);
        T_EQ_INT(pg_int(pg, sql), POINTS);
        snprintf(sql, sizeof sql,
                 "SELECT count(DISTINCT m.step) FROM metrics m JOIN runs r ON r.id = m.run_id"
                 " WHERE r.name = '%s' AND r.status = 'finished'",
                 name[i]);
        T_EQ_INT(pg_int(pg, sql), POINTS);
    }
    T_EQ_INT(pg_int(pg, "SELECT count(*) FROM metrics"), (long long)AGENTS * POINTS);
    kill(db, SIGTERM);
    T_EQ_INT(tnet_wait(db), 0);
}

/* libpq (and what it loads) comes in only with a PostgreSQL store: the commands and traild do
 * not link it (5 ms of start-up for every command otherwise). */
static void test_libpq_on_demand(void)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "ldd %s %s | grep -q libpq", TRAIL, tproc_bin("traild"));
    T_CHECK(system(cmd) != 0);
}

/* A schema holding someone else's tables, or a newer trail's, is refused with a reason; a
 * password never appears in what trail says. */
static void test_refusals(void)
{
    const char *foreign = new_db("foreign");
    T_ASSERT(foreign[0]);
    T_CHECK(pg_int(foreign, "CREATE TABLE orders (id int); SELECT 1") == 1);
    char *out = NULL, *err = NULL;
    T_CHECK(TPROC(&out, &err, TRAIL, "runs", "--store", (char *)foreign) != 0);
    T_CHECK(err && strstr(err, "not a trail store"));
    free(out);
    free(err);

    const char *newer = new_db("newer");
    T_ASSERT(newer[0]);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--store", (char *)newer, "--", "true"), 0);
    T_CHECK(pg_int(newer, "UPDATE trail_store SET version = version + 1; SELECT 1") == 1);
    out = err = NULL;
    T_CHECK(TPROC(&out, &err, TRAIL, "runs", "--store", (char *)newer) != 0);
    T_CHECK(err && strstr(err, "newer than this trail supports"));
    free(out);
    free(err);

    char bad[300];
    snprintf(bad, sizeof bad, "postgresql://trail:hunter2secret@/nodb?host=%s/none&password=x2y",
             pgdir);
    out = err = NULL;
    T_CHECK(TPROC(&out, &err, TRAIL, "runs", "--store", bad) != 0);
    T_CHECK(err && !strstr(err, "hunter2secret") && !strstr(err, "x2y"));
    T_CHECK(err && strstr(err, "postgresql://trail@"));
    free(out);
    free(err);
}

/* trail run and trail sync straight into PostgreSQL (the agent's store sink, no traild): a
 * server store takes each batch at commit, its look-ups made together. Three batches' worth of
 * files read: every event and every hash stored. A segment another uid wrote naming this run
 * (ownership_test's attack) is refused by the store: said once, nothing of it stored, left in
 * the spool, and the rest of its batch is stored. */
static void test_direct_sink(void)
{
    const char *pg = new_db("direct");
    T_ASSERT(pg[0]);
    enum { N = 12000 };
    char files[600], n[16], root[128], spool[600], dir[700], cmd[2400], id[40] = "";
    snprintf(files, sizeof files, "%s", in_sandbox("direct-files"));
    snprintf(n, sizeof n, "%d", N);
    char *io = (char *)tproc_test_bin("io_micro");
    T_EQ_INT(TPROC(NULL, NULL, io, "setup", files, n), 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--store", (char *)pg, "--name", "reader", "--", io,
                   "run", files, n, n),
             0);
    T_EQ_INT(pg_int(pg, "SELECT count(*) FROM events e JOIN runs r ON r.id = e.run_id"
                        " WHERE r.name = 'reader'"),
             N);
    T_EQ_INT(pg_int(pg, "SELECT count(*) FROM artifact_versions WHERE content_hash ="
                        " '7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c'"),
             N);

    /* a shared spool root (anyone may make a directory in it): uid nobody's own directory,
     * records naming the run "reader" */
    snprintf(root, sizeof root, "/tmp/trail-pgspool-XXXXXX");
    T_ASSERT(mkdtemp(root) && chmod(root, 0755) == 0);
    snprintf(spool, sizeof spool, "%s/spool", root);
    T_ASSERT(mkdir(spool, 0700) == 0 && chmod(spool, 01777) == 0);
    PGconn *c = PQconnectdb(pg);
    PGresult *r = PQexec(c, "SELECT id FROM runs WHERE name = 'reader'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    T_ASSERT(strlen(id) == 32);
    snprintf(dir, sizeof dir, "%s/b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", spool);
    snprintf(cmd, sizeof cmd,
             "runuser -u nobody -- sh -c 'mkdir -m 700 %s && TRAIL_RUN_ID=%s TRAIL_SPOOL=%s"
             " exec %s param lr FORGED metrics 20 >/dev/null'",
             dir, id, dir, CLIENT);
    T_EQ_INT(system(cmd), 0);
    /* and a run of root's own in the same spool: stored beside the refusal */
    setenv("TRAIL_STORE", "/proc/no-store-here/trail.db", 1);
    setenv("TRAIL_SPOOL_ROOT", spool, 1);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "beside", "--", CLIENT, "metrics", "30"), 0);
    unsetenv("TRAIL_STORE");
    char *err = NULL;
    T_EQ_INT(TPROC(NULL, &err, TRAIL, "sync", "--spool-root", spool, "--store", (char *)pg), 0);
    int lines = 0;
    for (const char *p = err; p && (p = strstr(p, "refused segment")); p++)
        lines++;
    if (lines < 1 || !strstr(err, "(uid 65534") || !strstr(err, dir))
        T_FAIL("trail sync said: %s", err ? err : "");
    free(err);
    T_EQ_INT(pg_int(pg, "SELECT count(*) FROM params WHERE value = 'FORGED'"), 0);
    T_EQ_INT(pg_int(pg, "SELECT count(*) FROM streams WHERE uid = 65534"), 0);
    T_EQ_INT(pg_int(pg, "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id"
                        " WHERE r.name = 'beside'"),
             30);
    snprintf(cmd, sizeof cmd, "ls %s/*.seg >/dev/null 2>&1 && rm -rf %s", dir, root);
    T_EQ_INT(system(cmd), 0);
}

int main(void)
{
    tnet_asan_preload_ok();
    sandbox = tproc_sandbox();
    unsetenv("TRAIL_TOKEN_FILE");
    unsetenv("TRAIL_COLLECTOR");
    snprintf(pgdir, sizeof pgdir, "/tmp/trail-pg-XXXXXX");
    if (!mkdtemp(pgdir)) T_SKIP_TEST("cannot create a directory for PostgreSQL");
    char args[200], url[256];
    snprintf(args, sizeof args, "start %s", pgdir);
    int st = server(args, url, sizeof url);
    if (st == 77) T_SKIP_TEST("PostgreSQL server binaries are not installed");
    if (st != 0) { /* installed but not starting: a failure, not a skip */
        pg_stop();
        fprintf(stderr, "FAIL: PostgreSQL did not start (tests/pg/server.sh start: %d)\n", st);
        return 1;
    }
    atexit(pg_stop);
    T_RUN(test_libpq_on_demand);
    T_RUN(test_library);
    T_RUN(test_same_answers);
    T_RUN(test_manage);
    T_RUN(test_server_restart);
    T_RUN(test_http_apis);
    T_RUN(test_openlineage);
    T_RUN(test_utf8_database);
    T_RUN(test_copy);
    T_RUN(test_two_collectors);
    T_RUN(test_refusals);
    T_RUN(test_direct_sink);
    return T_DONE();
}
