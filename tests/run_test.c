/* run_test.c - integration: the real `trail` binary, SDK programs under it, stores on disk. */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "tassert.h"
#include "tproc.h"

static const char *sandbox;

static cJSON *trail_json(int *status, char *const argv[])
{
    char *out = NULL, *err = NULL;
    int st = tproc_run(argv, &out, &err);
    if (status) *status = st;
    cJSON *doc = cJSON_Parse(out);
    if (!doc) T_FAIL("no JSON from %s %s (exit %d): %s / %s", argv[1], argv[2], st, out, err);
    free(out);
    free(err);
    return doc;
}

#define TJSON(status, ...)                                                                         \
    trail_json(status, (char *const[]){(char *)tproc_bin("trail"), __VA_ARGS__, NULL})

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static long long sql_count(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    long long n = -1;
    if (sqlite3_open_v2(getenv("TRAIL_STORE"), &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db); /* a failed open still holds a handle */
        return -1;
    }
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static int run_client(char *const extra[])
{
    char *argv[64];
    int k = 0;
    argv[k++] = (char *)tproc_bin("trail");
    for (int i = 0; extra[i]; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    char *err = NULL;
    int st = tproc_run(argv, NULL, &err);
    if (err && *err && st != 0 && st != 1 && st != 3 && st < 128) fprintf(stderr, "%s", err);
    free(err);
    return st;
}

#define TRUN(...) run_client((char *const[]){__VA_ARGS__, NULL})
#define CLIENT (char *)tproc_test_bin("sdk_client")

static void test_params_metrics_exactly_once(void)
{
    int st = TRUN("run", "--name", "first", "--param", "lr=0.01", "--", CLIENT, "param", "p1", "v1",
                  "metrics", "1000", "tag", "team", "ml", "exit", "0");
    T_EQ_INT(st, 0);
    cJSON *run = TJSON(&st, "show", "first", "--json");
    T_EQ_INT(st, 0);
    T_EQ_STR(jstr(run, "status"), "finished");
    T_EQ_INT(jnum(run, "exit_code"), 0);
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(run, "params");
    T_EQ_STR(jstr(params, "lr"), "0.01");
    T_EQ_STR(jstr(params, "p1"), "v1");
    T_CHECK(jnum(cJSON_GetObjectItemCaseSensitive(run, "metrics"), "m") == 999 * 0.5);
    T_EQ_STR(jstr(cJSON_GetObjectItemCaseSensitive(run, "tags"), "team"), "ml");
    T_CHECK(jstr(run, "started_at") && jstr(run, "ended_at"));
    T_CHECK(jstr(run, "host") && jstr(run, "user") && jstr(run, "cwd"));
    const cJSON *argv = cJSON_GetObjectItemCaseSensitive(run, "argv");
    T_EQ_INT(cJSON_GetArraySize(argv), 11);
    const cJSON *a0 = cJSON_GetArrayItem(argv, 0);
    T_CHECK(cJSON_IsString(a0) && strstr(a0->valuestring, "sdk_client"));
    cJSON_Delete(run);

    cJSON *m = TJSON(&st, "metrics", "first", "--json");
    const cJSON *series = cJSON_GetObjectItemCaseSensitive(m, "m");
    T_EQ_INT(cJSON_GetArraySize(series), 1000);
    int i = 0, ordered = 1;
    const cJSON *pt;
    cJSON_ArrayForEach(pt, series)
    {
        if (jnum(pt, "step") != i || jnum(pt, "value") != i * 0.5 || !jstr(pt, "time")) ordered = 0;
        i++;
    }
    T_CHECK(ordered);
    cJSON_Delete(m);
    T_EQ_INT(sql_count("SELECT count(*) FROM metrics"), 1000);
    T_EQ_INT(sql_count("SELECT count(DISTINCT step) FROM metrics"), 1000);
    T_EQ_INT(sql_count("SELECT count(*) FROM params"), 2);

    char *out = NULL;
    st = TPROC(&out, NULL, (char *)tproc_bin("trail"), "metrics", "first", "--csv");
    T_EQ_INT(st, 0);
    int lines = 0;
    for (char *p = out; p && *p; p++)
        lines += *p == '\n';
    T_EQ_INT(lines, 1001);
    T_CHECK(out && strncmp(out, "key,step,value,time\n", 20) == 0);
    free(out);
}

static void expect_status(const char *name, int want_exit, const char *want_status,
                          const char *want_field, int want_value)
{
    cJSON *run = TJSON(NULL, "show", (char *)name, "--json");
    T_EQ_STR(jstr(run, "status"), want_status);
    T_EQ_INT(jnum(run, want_field), want_value);
    (void)want_exit;
    cJSON_Delete(run);
}

static void test_exit_codes(void)
{
    T_EQ_INT(TRUN("run", "--name", "ok", "--", CLIENT, "metrics", "3", "exit", "0"), 0);
    T_EQ_INT(TRUN("run", "--name", "one", "--", CLIENT, "metrics", "3", "exit", "1"), 1);
    T_EQ_INT(TRUN("run", "--name", "three", "--", CLIENT, "metrics", "3", "exit", "3"), 3);
    T_EQ_INT(TRUN("run", "--name", "k9", "--", CLIENT, "metrics", "3", "signal", "9"), 128 + 9);
    T_EQ_INT(TRUN("run", "--name", "segv", "--", CLIENT, "metrics", "3", "signal", "11"), 139);
    expect_status("ok", 0, "finished", "exit_code", 0);
    expect_status("one", 1, "failed", "exit_code", 1);
    expect_status("three", 3, "failed", "exit_code", 3);
    expect_status("k9", 137, "killed", "signal", 9);
    expect_status("segv", 139, "crashed", "signal", 11);
    /* the records logged before the signal are kept */
    cJSON *m = TJSON(NULL, "metrics", "k9", "--json");
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "m")), 3);
    cJSON_Delete(m);
}

static pid_t spawn_bg(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Waits (bounded, no timing assertion) until `trail show NAME` reports a running run with a
 * pid; returns that run's JSON. */
static cJSON *wait_running(const char *name)
{
    for (int i = 0; i < 600; i++) {
        char *out = NULL;
        int st = TPROC(&out, NULL, (char *)tproc_bin("trail"), "show", (char *)name, "--json");
        cJSON *r = st == 0 ? cJSON_Parse(out) : NULL;
        free(out);
        if (r && jstr(r, "status") && !strcmp(jstr(r, "status"), "running") &&
            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "metrics")) > 0)
            return r;
        cJSON_Delete(r);
        usleep(50000);
    }
    return NULL;
}

static void test_sigkill_child_and_live_view(void)
{
    pid_t trail = spawn_bg((char *const[]){(char *)tproc_bin("trail"), "run", "--name", "victim",
                                           "--", CLIENT, "metrics", "5", "sleep", "60000", NULL});
    cJSON *r = wait_running("victim");
    T_ASSERT(r != NULL); /* live: metrics visible while the program still runs */
    T_CHECK(jnum(cJSON_GetObjectItemCaseSensitive(r, "metrics"), "m") == 2.0);
    pid_t child = (pid_t)jnum(r, "pid");
    cJSON_Delete(r);
    T_ASSERT(child > 0);
    kill(child, SIGKILL);
    T_EQ_INT(wait_exit(trail), 137);
    expect_status("victim", 137, "killed", "signal", 9);
}

static void test_sigterm_forwarded(void)
{
    pid_t trail = spawn_bg((char *const[]){(char *)tproc_bin("trail"), "run", "--name", "term",
                                           "--", CLIENT, "metrics", "2", "sleep", "60000", NULL});
    cJSON *r = wait_running("term");
    T_ASSERT(r != NULL);
    cJSON_Delete(r);
    kill(trail, SIGTERM);
    T_EQ_INT(wait_exit(trail), 128 + SIGTERM);
    expect_status("term", 143, "killed", "signal", SIGTERM);
}

static void test_threads(void)
{
    T_EQ_INT(TRUN("run", "--name", "threads", "--", CLIENT, "threads", "8", "2000"), 0);
    cJSON *m = TJSON(NULL, "metrics", "threads", "--json");
    for (int t = 0; t < 8; t++) {
        char key[8];
        snprintf(key, sizeof key, "t%d", t);
        T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, key)), 2000);
    }
    cJSON_Delete(m);
}

static void test_sync_outside_run(void)
{
    long long before = sql_count("SELECT count(*) FROM runs");
    /* no trail run: the SDK starts its own run, records wait in the spool */
    char *out = NULL;
    int st = TPROC(&out, NULL, CLIENT, "start", "exp-out", "outside", "param", "a", "b", "metrics",
                   "100", "runid");
    T_EQ_INT(st, 0);
    T_CHECK(out && strlen(out) == 33);
    free(out);
    T_EQ_INT(sql_count("SELECT count(*) FROM runs"), before);
    char *err = NULL;
    st = TPROC(NULL, &err, (char *)tproc_bin("trail"), "sync");
    T_EQ_INT(st, 0);
    T_CHECK(err && strstr(err, "delivered"));
    free(err);
    cJSON *run = TJSON(&st, "show", "outside", "--json");
    T_EQ_INT(st, 0);
    T_EQ_STR(jstr(run, "status"), "finished");
    T_EQ_STR(jstr(run, "experiment"), "exp-out");
    T_EQ_STR(jstr(cJSON_GetObjectItemCaseSensitive(run, "params"), "a"), "b");
    cJSON_Delete(run);
    T_EQ_INT(sql_count("SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id "
                       "WHERE r.name = 'outside'"),
             100);
    /* a second sync finds nothing new and doubles nothing */
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "sync"), 0);
    T_EQ_INT(sql_count("SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id "
                       "WHERE r.name = 'outside'"),
             100);
}

/* `trail agent --store S` follows the spool root: runs bound to no store or to S go into S, a
 * run bound to another store is left for it; SIGTERM stops the agent cleanly. */
static void test_agent_into_store(void)
{
    char root[600], mine[600], other[600], q[256];
    snprintf(root, sizeof root, "%s/agent-spool", sandbox);
    snprintf(mine, sizeof mine, "%s/agent.db", sandbox);
    snprintf(other, sizeof other, "%s/other.db", sandbox);
    setenv("TRAIL_SPOOL_ROOT", root, 1);
    T_EQ_INT(TPROC(NULL, NULL, CLIENT, "start", "e", "by-agent", "metrics", "300"), 0);
    /* a run directory bound to another store (as `trail run --store` leaves one) */
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, CLIENT, "start", "e", "not-mine", "metrics", "5", "runid"), 0);
    T_ASSERT(out && strlen(out) == 33);
    out[32] = 0;
    char mark[900];
    snprintf(mark, sizeof mark, "%s/%s/dest", root, out);
    FILE *f = fopen(mark, "w");
    T_ASSERT(f && fputs(other, f) >= 0 && fclose(f) == 0);
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        execl(tproc_bin("trail"), "trail", "agent", "--store", mine, "--spool-root", root, NULL);
        _exit(127);
    }
    long long n = -1;
    for (int i = 0; i < 3000 && n < 300; i++) { /* bounded wait for the agent, not a timing test */
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        setenv("TRAIL_STORE", mine, 1);
        n = sql_count("SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id "
                      "WHERE r.name = 'by-agent'");
    }
    T_EQ_INT(n, 300);
    snprintf(q, sizeof q, "SELECT count(*) FROM runs WHERE name = 'not-mine'");
    T_EQ_INT(sql_count(q), 0);
    T_CHECK(access(mark, F_OK) == 0); /* still waiting for its own store */
    kill(pid, SIGTERM);
    int ws = 0;
    T_ASSERT(waitpid(pid, &ws, 0) == pid);
    T_CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    /* `trail sync` then delivers the other run into the store it is bound to */
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "sync", "--spool-root", root), 0);
    setenv("TRAIL_STORE", other, 1);
    T_EQ_INT(sql_count(q), 1);
    free(out);
    char path[600];
    snprintf(path, sizeof path, "%s/store.db", sandbox);
    setenv("TRAIL_STORE", path, 1);
    snprintf(path, sizeof path, "%s/spool", sandbox);
    setenv("TRAIL_SPOOL_ROOT", path, 1);
}

static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t nl = strlen(needle), cap = 1 << 20, len;
    char *buf = malloc(cap);
    int found = 0;
    size_t keep = 0;
    while ((len = fread(buf + keep, 1, cap - keep, f)) > 0) {
        len += keep;
        if (memmem(buf, len, needle, nl)) found = 1;
        keep = nl < len ? nl : len;
        memmove(buf, buf + len - keep, keep);
    }
    free(buf);
    fclose(f);
    return found;
}

static void test_env_redaction(void)
{
    setenv("MY_API_TOKEN", "hunter2-very-secret", 1);
    setenv("DB_PASSWORD", "pw-very-secret", 1);
    setenv("CUSTOM_THING", "custom-very-secret", 1);
    setenv("PLAIN_SETTING", "visible-value", 1);
    int st = TRUN("run", "--name", "env", "--redact", "custom_thing", "--", CLIENT, "exit", "0");
    T_EQ_INT(st, 0);
    unsetenv("MY_API_TOKEN");
    unsetenv("DB_PASSWORD");
    unsetenv("CUSTOM_THING");
    cJSON *run = TJSON(NULL, "show", "env", "--json");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(run, "env");
    T_EQ_STR(jstr(env, "MY_API_TOKEN"), "[redacted]");
    T_EQ_STR(jstr(env, "DB_PASSWORD"), "[redacted]");
    T_EQ_STR(jstr(env, "CUSTOM_THING"), "[redacted]");
    T_EQ_STR(jstr(env, "PLAIN_SETTING"), "visible-value");
    cJSON_Delete(run);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", getenv("TRAIL_STORE"));
    T_CHECK(!file_contains(getenv("TRAIL_STORE"), "very-secret"));
    T_CHECK(!file_contains(wal, "very-secret"));
    T_CHECK(file_contains(getenv("TRAIL_STORE"), "visible-value") ||
            file_contains(wal, "visible-value"));
}

static void test_resolution_and_errors(void)
{
    T_EQ_INT(TRUN("run", "--name", "dup", "--", CLIENT, "param", "which", "first"), 0);
    T_EQ_INT(TRUN("run", "--name", "dup", "--", CLIENT, "param", "which", "second"), 0);
    cJSON *run = TJSON(NULL, "show", "dup", "--json");
    T_EQ_STR(jstr(cJSON_GetObjectItemCaseSensitive(run, "params"), "which"), "second");
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%.10s", jstr(run, "id"));
    cJSON_Delete(run);
    run = TJSON(NULL, "show", prefix, "--json");
    T_EQ_STR(jstr(cJSON_GetObjectItemCaseSensitive(run, "params"), "which"), "second");
    cJSON_Delete(run);

    char *err = NULL;
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("trail"), "show", "no-such-run"), 2);
    T_CHECK(err && strstr(err, "no-such-run") && strchr(err, '\n') == err + strlen(err) - 1);
    free(err);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "runs", "--bogus"), 2);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "metrics", "dup", "--xml"), 2);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--frobnicate", "--", "true"), 2);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run"), 2);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "nonsense"), 2);
    T_EQ_INT(TRUN("run", "--name", "missing", "--", "/nonexistent/program"), 127);
    expect_status("missing", 127, "failed", "exit_code", 127);

    /* a corrupt store: one clear line naming the file, exit 2 for a query */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/corrupt.db", sandbox);
    FILE *f = fopen(bad, "wb");
    for (int i = 0; i < 8192; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    err = NULL;
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("trail"), "runs", "--store", bad), 2);
    T_CHECK(err && strstr(err, bad));
    free(err);
    err = NULL;
    /* ... yet `trail run` still runs CMD (its status returned), saying where records wait */
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("trail"), "run", "--store", bad, "--", "true"), 0);
    T_CHECK(err && strstr(err, bad) && strstr(err, "trail sync"));
    free(err);
}

static void test_special_values_and_listing(void)
{
    T_EQ_INT(TRUN("run", "--name", "special", "--experiment", "e1", "--", CLIENT, "special"), 0);
    cJSON *m = TJSON(NULL, "metrics", "special", "--json");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "special");
    T_EQ_INT(cJSON_GetArraySize(s), 3);
    T_EQ_STR(jstr(cJSON_GetArrayItem(s, 0), "value"), "NaN");
    T_EQ_STR(jstr(cJSON_GetArrayItem(s, 1), "value"), "Infinity");
    T_EQ_STR(jstr(cJSON_GetArrayItem(s, 2), "value"), "-Infinity");
    cJSON_Delete(m);
    cJSON *runs = TJSON(NULL, "runs", "--json", "--experiment", "e1");
    T_ASSERT(cJSON_IsArray(runs));
    T_EQ_INT(cJSON_GetArraySize(runs), 1);
    T_EQ_STR(jstr(cJSON_GetArrayItem(runs, 0), "name"), "special");
    cJSON_Delete(runs);
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, (char *)tproc_bin("trail"), "runs"), 0);
    T_CHECK(out && strstr(out, "STATUS") && strstr(out, "special") && strstr(out, "finished"));
    free(out);
}

static void test_example_program(void)
{
    char model[600], exe[600];
    snprintf(model, sizeof model, "%s/model.txt", sandbox);
    snprintf(exe, sizeof exe, "%s/examples/train_logreg", getenv("TRAIL_BUILD"));
    T_EQ_INT(TRUN("run", "--name", "logreg", "--param", "lr=0.3", "--", exe, "--epochs", "50",
                  "--out", model),
             0);
    cJSON *run = TJSON(NULL, "show", "logreg", "--json");
    T_EQ_STR(jstr(cJSON_GetObjectItemCaseSensitive(run, "params"), "lr"), "0.3");
    double acc = jnum(cJSON_GetObjectItemCaseSensitive(run, "metrics"), "accuracy");
    T_CHECK(acc > 0.7 && acc <= 1.0); /* a real model learns the generated data */
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(run, "outputs");
    T_EQ_INT(cJSON_GetArraySize(outs), 1);
    T_EQ_STR(jstr(cJSON_GetArrayItem(outs, 0), "path"), model);
    cJSON_Delete(run);
    cJSON *m = TJSON(NULL, "metrics", "logreg", "--json");
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "loss")), 50);
    cJSON_Delete(m);
}

int main(void)
{
    sandbox = tproc_sandbox();
    T_RUN(test_params_metrics_exactly_once);
    T_RUN(test_exit_codes);
    T_RUN(test_threads);
    T_RUN(test_sigkill_child_and_live_view);
    T_RUN(test_sigterm_forwarded);
    T_RUN(test_sync_outside_run);
    T_RUN(test_agent_into_store);
    T_RUN(test_env_redaction);
    T_RUN(test_resolution_and_errors);
    T_RUN(test_special_values_and_listing);
    T_RUN(test_example_program);
    return T_DONE();
}
