/* proc_store_test.c - the store's process model: exec chains, reaped statuses and crashes land
 * on the right image whatever order their records arrive in; v2 stores convert. */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record.h"
#include "store.h"
#include "store_sql.h"
#include "tassert.h"
#include "tschema.h"
#include "tstore.h"
#include "trail.h"

static char dir[256];

static const char *path_of(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* One record, encoded and kept for ingest in any order. */
typedef struct trec {
    uint8_t buf[1024];
    size_t len;
} trec;

enum { NREC = 16 };
static trec recs[NREC];
static int nrec;

static tr_enc *rec(int type, int64_t t)
{
    static tr_enc e;
    tr_enc_init(&e, recs[nrec].buf, sizeof recs[nrec].buf, (uint8_t)type, t);
    return &e;
}

static void done(tr_enc *e)
{
    long n = tr_enc_finish(e);
    T_ASSERT(n > 0);
    recs[nrec++].len = (size_t)n;
}

static void start(int64_t t, int64_t pid, int64_t ppid, const char *kind, const char *a0,
                  const char *exe, const char *note)
{
    tr_enc *e = rec(TR_REC_PROC_START, t);
    tr_enc_i64(e, TR_F_PID, pid);
    tr_enc_i64(e, TR_F_PPID, ppid);
    tr_enc_str(e, TR_F_KIND, kind);
    tr_enc_str(e, TR_F_ARGV, a0);
    tr_enc_str(e, TR_F_EXE, exe);
    tr_enc_i64(e, TR_F_START_NS, t);
    tr_enc_str(e, TR_F_NOTE, note);
    done(e);
}

static void end(int64_t t, int64_t pid, const char *kind, int64_t code, int64_t sig)
{
    tr_enc *e = rec(TR_REC_PROC_END, t);
    tr_enc_i64(e, TR_F_PID, pid);
    if (sig)
        tr_enc_i64(e, TR_F_SIGNAL, sig);
    else if (code >= 0)
        tr_enc_i64(e, TR_F_EXIT_CODE, code);
    if (strcmp(kind, "reaped")) {
        tr_enc_i64(e, TR_F_UTIME_US, 1000 + pid);
        tr_enc_i64(e, TR_F_STIME_US, 10);
        tr_enc_i64(e, TR_F_MAXRSS_KB, 2048);
    }
    tr_enc_str(e, TR_F_KIND, kind);
    done(e);
}

static void crash(int64_t t, int64_t pid, const char *bt)
{
    tr_enc *e = rec(TR_REC_CRASH, t);
    tr_enc_i64(e, TR_F_PID, pid);
    tr_enc_i64(e, TR_F_SIGNAL, 11);
    if (bt) tr_enc_str(e, TR_F_BACKTRACE, bt);
    tr_enc_str(e, TR_F_NOTE, "fault address 0x0");
    done(e);
}

/* sh (200) forks 201 which execs cat; a vfork child 202 execs a static binary (its start noted
 * by the parent); 203 crashes (a record before unwinding, one with the backtrace). */
static void scenario(void)
{
    nrec = 0;
    start(100, 200, 1, "start", "sh", "/usr/bin/dash", NULL);
    start(200, 201, 200, "fork", "sh", "/usr/bin/dash", NULL);
    end(300, 201, "exec", -1, 0);
    start(400, 201, 200, "exec", "cat", "/usr/bin/cat", NULL);
    end(500, 201, "exit", 0, 0);
    end(600, 201, "reaped", 0, 0);
    start(700, 202, 200, "exec", "./static7", "/w/static7", "not interposable: static binary");
    end(800, 202, "reaped", 7, 0);
    start(900, 203, 200, "start", "./crash", "/w/crash", NULL);
    crash(950, 203, NULL);
    end(960, 203, "signal", -1, 11);
    crash(970, 203, "#0 0x1 in crash_here+0x4\n#1 0x2 in main+0x10");
    end(1000, 200, "exit", 0, 0);
}

/* Ingests the scenario's records into run `run`, each on its own stream, in `order`. */
static void ingest(tr_store *s, const char *run, const int *order)
{
    T_OK(tr_store_begin(s));
    for (int i = 0; i < nrec; i++) {
        tr_rec r;
        T_ASSERT_OK(tr_rec_decode(recs[order[i]].buf, recs[order[i]].len, &r));
        tr_stream st;
        memset(&st, 0, sizeof st);
        snprintf(st.id, sizeof st.id, "%.8s%024d", run, order[i]);
        snprintf(st.run_id, sizeof st.run_id, "%s", run);
        snprintf(st.host, sizeof st.host, "h1");
        st.pid = 200;
        T_OK(tr_store_ingest(s, &st, 0, &r));
    }
    T_OK(tr_store_commit(s));
}

static cJSON *procs_of(tr_store *s, const char *run)
{
    cJSON *doc = NULL;
    T_OK(tr_store_run_json(s, run, &doc));
    T_ASSERT(doc);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "processes",
                          cJSON_DetachItemFromObjectCaseSensitive(doc, "processes"));
    cJSON_AddItemToObject(out, "crash", cJSON_DetachItemFromObjectCaseSensitive(doc, "crash"));
    cJSON_Delete(doc);
    return out;
}

static const cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static double num(const cJSON *o, const char *k)
{
    return cJSON_IsNumber(item(o, k)) ? item(o, k)->valuedouble : -999;
}

static int has_child_pid(const cJSON *p, double pid)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, item(p, "children")) if (c->valuedouble == pid) return 1;
    return 0;
}

static void check_reference(const cJSON *doc)
{
    const cJSON *ps = item(doc, "processes");
    T_ASSERT(cJSON_GetArraySize(ps) == 4);
    const cJSON *sh = cJSON_GetArrayItem(ps, 0), *cat = cJSON_GetArrayItem(ps, 1);
    const cJSON *st = cJSON_GetArrayItem(ps, 2), *cr = cJSON_GetArrayItem(ps, 3);
    T_EQ_INT(num(sh, "pid"), 200);
    T_EQ_INT(num(sh, "exit_code"), 0);
    T_EQ_INT(cJSON_GetArraySize(item(sh, "children")), 3);
    T_EQ_INT(cJSON_GetArrayItem(item(sh, "children"), 0)->valuedouble, 201);
    T_EQ_INT(num(cat, "pid"), 201);
    T_EQ_INT(num(cat, "ppid"), 200);
    T_EQ_STR(cJSON_GetStringValue(item(cat, "exe")), "/usr/bin/cat");
    const cJSON *chain = item(cat, "exec");
    T_EQ_INT(cJSON_GetArraySize(chain), 2);
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(chain, 0), "end")), "exec");
    T_CHECK(cJSON_IsNull(item(cJSON_GetArrayItem(chain, 0), "exit_code")));
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(chain, 1), "end")), "exit");
    T_EQ_INT(num(cat, "exit_code"), 0);
    T_CHECK(num(item(cat, "resources"), "utime_s") == 1201 / 1e6);
    T_EQ_INT(num(st, "pid"), 202);
    T_CHECK(cJSON_IsFalse(item(st, "interposed")));
    T_EQ_INT(num(st, "exit_code"), 7);
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(item(st, "exec"), 0), "end")), "reaped");
    T_EQ_INT(num(cr, "pid"), 203);
    T_EQ_STR(cJSON_GetStringValue(item(cr, "status")), "crashed");
    T_EQ_INT(num(cr, "signal"), 11);
    T_CHECK(strstr(cJSON_GetStringValue(item(cr, "backtrace")), "in main+") != NULL);
    const cJSON *c = item(doc, "crash");
    T_EQ_INT(num(c, "pid"), 203);
    T_EQ_INT(num(c, "signal"), 11);
    T_EQ_STR(cJSON_GetStringValue(item(c, "note")), "fault address 0x0");
}

/* Records of one process arrive through different spool segments in any order: every order
 * gives the same rows. */
static void test_any_order(void)
{
    tr_store *s = NULL;
    char err[512];
    T_ASSERT_OK(
        tr_store_open(tstore_location(dir, "order.db"), TR_STORE_CREATE, &s, err, sizeof err));
    scenario();
    int order[NREC];
    for (int i = 0; i < nrec; i++)
        order[i] = i;
    ingest(s, "00000000000000000000000000000000", order);
    cJSON *ref = procs_of(s, "00000000000000000000000000000000");
    check_reference(ref);
    srand(7);
    for (int k = 1; k <= 60; k++) {
        if (k == 1) /* reversed, then shuffled */
            for (int i = 0; i < nrec; i++)
                order[i] = nrec - 1 - i;
        for (int i = nrec - 1; k > 1 && i > 0; i--) {
            int j = rand() % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        char run[33];
        snprintf(run, sizeof run, "%08d%024d", k, 0);
        ingest(s, run, order);
        cJSON *got = procs_of(s, run);
        if (!cJSON_Compare(ref, got, 1)) {
            char *a = cJSON_PrintUnformatted(got);
            T_FAIL("order %d differs: %s", k, a);
            free(a);
            cJSON_Delete(got);
            break;
        }
        cJSON_Delete(got);
    }
    cJSON_Delete(ref);
    tr_store_close(s);
}

#define RV "abcdefabcdefabcdefabcdefabcdef01"

/* A v2 store (one processes row per pid) opens as v3 with its processes and deps readable. */
static void test_migrate_v2(void)
{
    if (tstore_pg()) T_SKIP("a SQLite file of schema version 2");
    const char *p = path_of("v2.db");
    sqlite3 *db;
    T_ASSERT(sqlite3_open(p, &db) == SQLITE_OK);
    T_ASSERT(sqlite3_exec(db, "BEGIN;" TR_SQL_SCHEMA_V1 TR_SQL_SCHEMA_V2 "COMMIT;", NULL, NULL,
                          NULL) == SQLITE_OK);
    const char *rows =
        "INSERT INTO runs (id, status, pid) VALUES ('" RV "', 'finished', 100);"
        "INSERT INTO processes VALUES ('" RV "', 100, 1, '[\"python\",\"x\"]', '/w',"
        " '/usr/bin/python3', 1000, 'h1', 10, 20, 0, 0, 5, 6, 7, NULL);"
        "INSERT INTO processes VALUES ('" RV "', 101, 100, NULL, NULL, NULL, NULL, NULL, 15,"
        " NULL, NULL, 11, NULL, NULL, NULL, 'f1\nf2');"
        "INSERT INTO processes (run_id, pid, ended_ns, exit_code) VALUES ('" RV "', 102, 30, 4);"
        "INSERT INTO deps VALUES ('" RV "', 100, '/lib/libc.so.6', 'so');"
        "PRAGMA application_id = 1953655857; PRAGMA user_version = 2;";
    T_ASSERT(sqlite3_exec(db, rows, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);

    tr_store *s = NULL;
    char err[512];
    T_ASSERT_OK(tr_store_open(p, 0, &s, err, sizeof err));
    T_EQ_INT(tr_store_schema_version(s), T_SCHEMA);
    cJSON *doc = NULL;
    T_OK(tr_store_run_json(s, RV, &doc));
    const cJSON *ps = item(doc, "processes");
    T_ASSERT(cJSON_GetArraySize(ps) == 3);
    const cJSON *a = cJSON_GetArrayItem(ps, 0), *b = cJSON_GetArrayItem(ps, 1);
    const cJSON *c = cJSON_GetArrayItem(ps, 2);
    T_EQ_INT(num(a, "pid"), 100);
    T_EQ_STR(cJSON_GetStringValue(item(a, "exe")), "/usr/bin/python3");
    T_EQ_INT(cJSON_GetArraySize(item(a, "argv")), 2);
    T_EQ_INT(num(a, "exit_code"), 0);
    T_EQ_INT(num(item(a, "resources"), "maxrss_kb"), 7);
    T_CHECK(cJSON_IsNull(item(a, "backtrace")));
    T_EQ_INT(num(b, "pid"), 101);
    T_EQ_INT(num(b, "signal"), 11);
    T_EQ_STR(cJSON_GetStringValue(item(b, "backtrace")), "f1\nf2");
    T_EQ_STR(cJSON_GetStringValue(item(b, "status")), "crashed");
    T_CHECK(has_child_pid(a, 101));
    T_EQ_INT(num(c, "pid"), 102);
    T_EQ_INT(num(c, "exit_code"), 4);
    const cJSON *d = cJSON_GetArrayItem(item(doc, "deps"), 0);
    T_EQ_STR(cJSON_GetStringValue(item(d, "path")), "/lib/libc.so.6");
    T_EQ_STR(cJSON_GetStringValue(item(d, "kind")), "so");
    T_CHECK(cJSON_IsNull(item(d, "package")));
    cJSON_Delete(doc);
    tr_store_close(s);

    /* the old table is a view of each pid's last image now */
    T_ASSERT(sqlite3_open(p, &db) == SQLITE_OK);
    sqlite3_stmt *st;
    T_ASSERT(sqlite3_prepare_v2(db, "SELECT count(*), sum(exe = '/usr/bin/python3') FROM processes",
                                -1, &st, NULL) == SQLITE_OK);
    T_ASSERT(sqlite3_step(st) == SQLITE_ROW);
    T_EQ_INT(sqlite3_column_int(st, 0), 3);
    T_EQ_INT(sqlite3_column_int(st, 1), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/trail-proc-store-XXXXXX");
    T_ASSERT(mkdtemp(dir));
    T_RUN(test_any_order);
    T_RUN(test_migrate_v2);
    if (!tassert_failures) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return T_DONE();
}
