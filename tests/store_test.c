/* store_test.c - the SQLite store: open/migrate errors, idempotent ingest, queries as JSON. */
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "record.h"
#include "store.h"
#include "tassert.h"
#include "tstore.h"
#include "tschema.h"
#include "trail.h"

#define R1 "0123456789abcdef0123456789abcdef"
#define R2 "0123aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define R3 "fedcba9876543210fedcba9876543210"
#define R4 "abcdabcdabcdabcdabcdabcdabcdabcd"
#define T0 1795846439123456789LL /* 2026-11-28T06:13:59.123456789Z */

static char dir[64];

static const char *path_of(const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

/* Record builder: start, add fields, fin decodes into r->rec. */
typedef struct trec {
    uint8_t buf[8192];
    tr_enc e;
    tr_rec rec;
} trec;

static trec *start(trec *r, int type, int64_t t)
{
    tr_enc_init(&r->e, r->buf, sizeof r->buf, (uint8_t)type, t);
    return r;
}
static void S(trec *r, uint16_t id, const char *s)
{
    tr_enc_str(&r->e, id, s);
}
static void I(trec *r, uint16_t id, int64_t v)
{
    tr_enc_i64(&r->e, id, v);
}
static void U(trec *r, uint16_t id, uint64_t v)
{
    tr_enc_u64(&r->e, id, v);
}
static void F(trec *r, uint16_t id, double v)
{
    tr_enc_f64(&r->e, id, v);
}
static const tr_rec *fin(trec *r)
{
    long n = tr_enc_finish(&r->e);
    T_ASSERT(n > 0);
    T_ASSERT_OK(tr_rec_decode(r->buf, (size_t)n, &r->rec));
    return &r->rec;
}

static tr_stream stream(const char *id, const char *run, int64_t pid)
{
    tr_stream st;
    memset(&st, 0, sizeof st);
    snprintf(st.id, sizeof st.id, "%s", id);
    snprintf(st.run_id, sizeof st.run_id, "%s", run);
    st.pid = pid;
    snprintf(st.host, sizeof st.host, "h1");
    return st;
}

static tr_store *open_ok(const char *path, int flags)
{
    char err[256];
    tr_store *s = NULL;
    int rc = tr_store_open(path, flags, &s, err, sizeof err);
    if (rc) fprintf(stderr, "open %s: %d %s\n", path, rc, err);
    T_ASSERT(rc == 0 && s);
    return s;
}

/* A store for a test that holds on both backends (tstore.h). */
static const char *store_of(const char *name)
{
    return tstore_location(dir, name);
}

/* One integer from a raw sqlite3 connection (not through the store library). */
static long long raw_int(const char *path, const char *sql)
{
    if (tstore_pg()) {
        long long v = -999;
        T_ASSERT(tstore_pg_sql(tstore_pg_db(path), sql, &v) == 0);
        return v;
    }
    sqlite3 *db;
    sqlite3_stmt *st;
    long long v = -999;
    T_ASSERT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    T_ASSERT(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    T_ASSERT(sqlite3_open(path, &db) == SQLITE_OK);
    T_ASSERT(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

static const char *const tables[] = {
    "runs",      "processes",         "params", "metrics",  "tags", "env", "streams",
    "artifacts", "artifact_versions", "events", "file_ops", "deps"};
#define NTABLES (int)(sizeof tables / sizeof tables[0])

static void count_rows(const char *path, long long *out)
{
    char sql[128];
    for (int i = 0; i < NTABLES; i++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
        out[i] = raw_int(path, sql);
    }
}

/* The records of a complete run R1 on one stream, seq = 100 * index. */
static int full_run(trec *recs, const tr_rec **out)
{
    int n = 0;
    trec *r = start(&recs[n], TR_REC_RUN_START, T0);
    S(r, TR_F_RUN_ID, R1), S(r, TR_F_EXPERIMENT, "exp"), S(r, TR_F_NAME, "train");
    S(r, TR_F_ARGV, "python"), S(r, TR_F_ARGV, "train.py"), S(r, TR_F_ARGV, "--lr=\"0.1\"");
    S(r, TR_F_CWD, "/w"), S(r, TR_F_HOST, "h1"), S(r, TR_F_USER, "u"), I(r, TR_F_PID, 100);
    S(r, TR_F_SOURCE, "cli");
    out[n] = fin(r), n++;
    r = start(&recs[n], TR_REC_PROC_START, T0 + 1000);
    I(r, TR_F_PID, 100), I(r, TR_F_PPID, 1), S(r, TR_F_ARGV, "python"), S(r, TR_F_ARGV, "x");
    S(r, TR_F_EXE, "/usr/bin/python3"), I(r, TR_F_UID, 1000), S(r, TR_F_CWD, "/w");
    out[n] = fin(r), n++;
    r = start(&recs[n], TR_REC_PARAM, T0 + 2000);
    S(r, TR_F_KEY, "lr"), S(r, TR_F_VALUE, "0.1");
    out[n] = fin(r), n++;
    r = start(&recs[n], TR_REC_PARAM, T0 + 3000);
    S(r, TR_F_KEY, "lr"), S(r, TR_F_VALUE, "0.2");
    out[n] = fin(r), n++;
    static const struct {
        const char *key;
        int64_t step;
        double v;
    } m[] = {{"loss", 1, 1.5}, {"loss", 2, 0.5}, {"loss", 2, 0.25}, {"acc", 0, 0.9}};
    for (int i = 0; i < 4; i++) {
        r = start(&recs[n], TR_REC_METRIC, T0 + 4000 + i);
        S(r, TR_F_KEY, m[i].key), I(r, TR_F_STEP, m[i].step), F(r, TR_F_NUM, m[i].v);
        out[n] = fin(r), n++;
    }
    r = start(&recs[n], TR_REC_TAG, T0 + 5000);
    S(r, TR_F_KEY, "k"), S(r, TR_F_VALUE, "v");
    out[n] = fin(r), n++;
    r = start(&recs[n], TR_REC_ENV, T0 + 5001);
    S(r, TR_F_KEY, "HOME"), S(r, TR_F_VALUE, "/home/u");
    out[n] = fin(r), n++;
    r = start(&recs[n], TR_REC_ENV, T0 + 5002);
    S(r, TR_F_KEY, "API_TOKEN"), I(r, TR_F_REDACTED, 1);
    out[n] = fin(r), n++;
    for (int i = 0; i < 2; i++) { /* two reads of the same version of in.csv */
        r = start(&recs[n], TR_REC_FILE, T0 + 6000 + i);
        S(r, TR_F_PATH, "/data/in.csv"), S(r, TR_F_ROLE, "input"), I(r, TR_F_FLAGS, 0);
        U(r, TR_F_BYTES_READ, i ? 50 : 100), U(r, TR_F_DEV, 1), U(r, TR_F_INO, 2);
        I(r, TR_F_SIZE, 100), I(r, TR_F_MTIME_NS, 5);
        out[n] = fin(r), n++;
    }
    r = start(&recs[n], TR_REC_FILE, T0 + 7000);
    S(r, TR_F_PATH, "/out/model.bin"), S(r, TR_F_ROLE, "output"), U(r, TR_F_BYTES_WRITTEN, 42);
    U(r, TR_F_DEV, 1), U(r, TR_F_INO, 3), I(r, TR_F_SIZE, 42), I(r, TR_F_MTIME_NS, 9);
    I(r, TR_F_MMAP, 1);
    out[n] = fin(r), n++;
    r = start(&recs[n], TR_REC_FILE, T0 + 7001); /* no fingerprint, no role: derived inout */
    S(r, TR_F_PATH, "/data/cache"), U(r, TR_F_BYTES_READ, 7), U(r, TR_F_BYTES_WRITTEN, 8);
    out[n] = fin(r), n++;
    r = start(&recs[n], TR_REC_DEP, T0 + 8000);
    S(r, TR_F_PATH, "/lib/libc.so.6"), S(r, TR_F_KIND, "so");
    out[n] = fin(r), n++;
    r = start(&recs[n], TR_REC_FILEOP, T0 + 8001);
    S(r, TR_F_OP, "rename"), S(r, TR_F_PATH, "/tmp/a"), S(r, TR_F_PATH2, "/tmp/b");
    out[n] = fin(r), n++;
    r = start(&recs[n], TR_REC_CRASH, T0 + 8500);
    I(r, TR_F_PID, 101), I(r, TR_F_SIGNAL, 11), S(r, TR_F_BACKTRACE, "f1\nf2");
    out[n] = fin(r), n++;
    r = start(&recs[n], TR_REC_PROC_END, T0 + 9000);
    I(r, TR_F_PID, 100), I(r, TR_F_EXIT_CODE, 0), I(r, TR_F_SIGNAL, 0);
    out[n] = fin(r), n++;
    r = start(&recs[n], TR_REC_RUN_END, T0 + 2500000000LL);
    S(r, TR_F_RUN_ID, R1), S(r, TR_F_STATUS, "finished"), I(r, TR_F_EXIT_CODE, 0);
    I(r, TR_F_SIGNAL, 0), I(r, TR_F_UTIME_US, 1500000), I(r, TR_F_STIME_US, 250000);
    I(r, TR_F_MAXRSS_KB, 2048);
    out[n] = fin(r), n++;
    return n;
}

static trec recs[32];
static const tr_rec *rp[32];

static void test_migrate_empty(void)
{
    if (tstore_pg()) T_SKIP("SQLite files, locks or triggers");
    const char *p = path_of("sub/dir/t.db");
    tr_store *s = open_ok(p, TR_STORE_CREATE);
    T_EQ_INT(tr_store_schema_version(s), T_SCHEMA);
    T_EQ_STR(tr_store_path(s), p);
    tr_store_close(s);
    struct stat sb;
    T_ASSERT(stat(p, &sb) == 0);
    T_EQ_INT(sb.st_mode & 0777, 0600);
    T_ASSERT(stat(path_of("sub/dir"), &sb) == 0);
    T_EQ_INT(sb.st_mode & 0777, 0700);
    T_EQ_INT(raw_int(p, "PRAGMA user_version"), T_SCHEMA);
    T_EQ_INT(raw_int(p, "PRAGMA application_id"), 0x74726c31);
    T_EQ_INT(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'runs'"), 1);
    T_EQ_INT(raw_int(p, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);

    /* Reopening does not migrate again; read-only opens work and refuse writes. */
    s = open_ok(p, TR_STORE_CREATE);
    tr_store_close(s);
    s = open_ok(p, TR_STORE_READONLY);
    T_EQ_INT(tr_store_schema_version(s), T_SCHEMA);
    T_ERR(tr_store_begin(s), TRAIL_EINVAL);
    tr_stream st = stream("11111111111111111111111111111111", R1, 1);
    T_CHECK(tr_store_ingest(s, &st, 0, fin(start(&recs[0], TR_REC_TAG, T0))) < 0);
    tr_store_close(s);

    /* A pre-existing empty file is initialised too. */
    FILE *f = fopen(path_of("empty.db"), "w");
    T_ASSERT(f);
    fclose(f);
    char err[256];
    T_ERR(tr_store_open(path_of("empty.db"), TR_STORE_READONLY, &s, err, sizeof err),
          TRAIL_ENOTFOUND);
    s = open_ok(path_of("empty.db"), 0);
    tr_store_close(s);
    T_EQ_INT(raw_int(path_of("empty.db"), "PRAGMA user_version"), T_SCHEMA);
}

static void test_open_errors(void)
{
    if (tstore_pg()) T_SKIP("SQLite files, locks or triggers");
    char err[512];
    tr_store *s = (tr_store *)1;
    const char *p = path_of("missing.db");
    T_ERR(tr_store_open(p, 0, &s, err, sizeof err), TRAIL_ENOTFOUND);
    T_CHECK(s == NULL);
    T_CHECK(strstr(err, p) != NULL);
    T_CHECK(access(p, F_OK) != 0);

    /* Random bytes: not a database. */
    p = path_of("corrupt.db");
    FILE *f = fopen(p, "w");
    T_ASSERT(f);
    uint32_t x = 12345;
    for (int i = 0; i < 8192; i++) {
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 16) & 0xff, f);
    }
    fclose(f);
    T_ERR(tr_store_open(p, TR_STORE_CREATE, &s, err, sizeof err), TRAIL_ECORRUPT);
    T_CHECK(strstr(err, p) != NULL);
    T_CHECK(strstr(err, "not a database") != NULL);
    T_ERR(tr_store_open(p, TR_STORE_READONLY, &s, err, sizeof err), TRAIL_ECORRUPT);

    /* Someone else's SQLite database. */
    p = path_of("foreign.db");
    raw_exec(p, "CREATE TABLE foo (x); INSERT INTO foo VALUES (1);");
    T_ERR(tr_store_open(p, TR_STORE_CREATE, &s, err, sizeof err), TRAIL_ECORRUPT);
    T_CHECK(strstr(err, p) != NULL);
    T_CHECK(strstr(err, "not a trail store") != NULL);
    T_EQ_INT(raw_int(p, "SELECT count(*) FROM sqlite_master"), 1); /* left untouched */

    /* A newer schema. */
    p = path_of("newer.db");
    tr_store_close(open_ok(p, TR_STORE_CREATE));
    raw_exec(p, "PRAGMA user_version = 99");
    T_ERR(tr_store_open(p, 0, &s, err, sizeof err), TRAIL_EVERSION);
    T_CHECK(strstr(err, p) != NULL);
    T_CHECK(strstr(err, "99") != NULL);
    T_ERR(tr_store_open(p, TR_STORE_READONLY, &s, err, sizeof err), TRAIL_EVERSION);
}

/* Another process's connection holds an exclusive lock: open fails fast with EBUSY. */
static void locked_case(const char *p, int make_store)
{
    char err[512];
    tr_store *s;
    if (make_store)
        tr_store_close(open_ok(p, TR_STORE_CREATE));
    else
        raw_exec(p, "PRAGMA user_version = 0");
    sqlite3 *db;
    T_ASSERT(sqlite3_open(p, &db) == SQLITE_OK);
    T_ASSERT(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);
    T_ERR(tr_store_open(p, TR_STORE_CREATE, &s, err, sizeof err), TRAIL_EBUSY);
    T_CHECK(strstr(err, p) != NULL);
    T_CHECK(strstr(err, "locked") != NULL);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    tr_store_close(open_ok(p, TR_STORE_CREATE)); /* free again */
}

static void test_locked(void)
{
    if (tstore_pg()) T_SKIP("SQLite files, locks or triggers");
    setenv("TRAIL_BUSY_TIMEOUT_MS", "100", 1);
    locked_case(path_of("locked-wal.db"), 1);
    locked_case(path_of("locked-new.db"), 0);
    unsetenv("TRAIL_BUSY_TIMEOUT_MS");
}

static void test_idempotent(void)
{
    const char *p = store_of("idem.db");
    tr_store *s = open_ok(p, TR_STORE_CREATE);
    tr_stream st = stream("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", R1, 100);
    int n = full_run(recs, rp);
    int64_t hwm;
    T_OK(tr_store_stream_hwm(s, st.id, &hwm));
    T_EQ_INT(hwm, -1);
    for (int i = 0; i < n; i++)
        T_OK(tr_store_ingest(s, &st, (uint64_t)i * 100, rp[i]));
    T_OK(tr_store_stream_hwm(s, st.id, &hwm));
    T_EQ_INT(hwm, (n - 1) * 100);

    long long before[NTABLES], after[NTABLES];
    count_rows(p, before);
    /* tags: k, and the refused second lr as trail.param_conflicts and trail.param_conflict.lr */
    static const long long want[NTABLES] = {1, 2, 1, 4, 3, 2, 1, 3, 3, 4, 1, 1};
    for (int i = 0; i < NTABLES; i++)
        if (before[i] != want[i]) T_FAIL("%s: %lld rows, want %lld", tables[i], before[i], want[i]);

    /* Delivered again (at-least-once): nothing changes. */
    for (int i = 0; i < n; i++)
        T_EQ_INT(tr_store_ingest(s, &st, (uint64_t)i * 100, rp[i]), 1);
    T_OK(tr_store_begin(s));
    for (int i = 0; i < n; i++)
        T_EQ_INT(tr_store_ingest(s, &st, (uint64_t)i * 100, rp[i]), 1);
    T_OK(tr_store_commit(s));
    count_rows(p, after);
    for (int i = 0; i < NTABLES; i++)
        if (before[i] != after[i]) T_FAIL("%s: %lld -> %lld rows", tables[i], before[i], after[i]);

    /* Unknown types are skipped but advance the high-water mark. */
    T_OK(tr_store_ingest(s, &st, 10000, fin(start(&recs[0], 50, T0))));
    T_EQ_INT(tr_store_skipped(s), 1);
    T_OK(tr_store_stream_hwm(s, st.id, &hwm));
    T_EQ_INT(hwm, 10000);
    tr_store_close(s);
}

static void test_batch(void)
{
    const char *p = store_of("batch.db");
    tr_store *s = open_ok(p, TR_STORE_CREATE);
    tr_stream st = stream("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", R1, 7);
    trec *r = &recs[0];
    T_OK(tr_store_begin(s));
    T_ERR(tr_store_begin(s), TRAIL_EINVAL);
    for (int i = 0; i < 2000; i++) {
        start(r, TR_REC_METRIC, T0 + i);
        S(r, TR_F_KEY, "loss"), I(r, TR_F_STEP, i), F(r, TR_F_NUM, 1.0 / (i + 1));
        T_OK(tr_store_ingest(s, &st, (uint64_t)i, fin(r)));
    }
    T_OK(tr_store_commit(s));
    T_EQ_INT(raw_int(p, "SELECT count(*) FROM metrics"), 2000);
    T_EQ_INT(raw_int(p, "SELECT hwm FROM streams"), 1999);

    /* A rolled-back batch leaves neither rows nor high-water mark behind. */
    T_OK(tr_store_begin(s));
    for (int i = 2000; i < 2010; i++) {
        start(r, TR_REC_METRIC, T0 + i);
        S(r, TR_F_KEY, "loss"), I(r, TR_F_STEP, i), F(r, TR_F_NUM, 1.0);
        T_OK(tr_store_ingest(s, &st, (uint64_t)i, fin(r)));
    }
    T_OK(tr_store_rollback(s));
    T_EQ_INT(raw_int(p, "SELECT count(*) FROM metrics"), 2000);
    int64_t hwm;
    T_OK(tr_store_stream_hwm(s, st.id, &hwm));
    T_EQ_INT(hwm, 1999);
    tr_store_close(s);
}

/* Each record is stored once by the database's own rule, not only by trail's writer lock: a
 * writer that did not take the lock (here a raw connection) moves a stream's mark while a
 * batch of that stream is open; the batch's commit then fails and leaves nothing, and the
 * batch sent again stores only what the mark does not cover. PostgreSQL only (SQLite lets no
 * second writer in while a batch is open). */
static void test_concurrent_writer(void)
{
    if (!tstore_pg()) T_SKIP("SQLite has one writer at a time");
    const char *p = store_of("race.db");
    tr_store *s = open_ok(p, TR_STORE_CREATE);
    tr_stream st = stream("cccccccccccccccccccccccccccccccc", R1, 7);
    trec *r = &recs[0];
    for (int i = 0; i < 10; i++) {
        start(r, TR_REC_METRIC, T0 + i);
        S(r, TR_F_KEY, "loss"), I(r, TR_F_STEP, i), F(r, TR_F_NUM, 1.0);
        T_OK(tr_store_ingest(s, &st, (uint64_t)i, fin(r)));
    }
    T_OK(tr_store_begin(s));
    for (int i = 10; i < 20; i++) {
        start(r, TR_REC_METRIC, T0 + i);
        S(r, TR_F_KEY, "loss"), I(r, TR_F_STEP, i), F(r, TR_F_NUM, 1.0);
        T_OK(tr_store_ingest(s, &st, (uint64_t)i, fin(r)));
    }
    /* the other writer stored records 10..14 of the stream meanwhile */
    T_ASSERT(tstore_pg_sql(tstore_pg_db(p), "UPDATE streams SET hwm = 14", NULL) == 0);
    T_ERR(tr_store_commit(s), TRAIL_EBUSY);
    T_CHECK(strstr(tr_store_errmsg(s), "another writer"));
    T_EQ_INT(raw_int(p, "SELECT count(*) FROM metrics"), 10);
    T_OK(tr_store_begin(s));
    int stored = 0;
    for (int i = 10; i < 20; i++) {
        start(r, TR_REC_METRIC, T0 + i);
        S(r, TR_F_KEY, "loss"), I(r, TR_F_STEP, i), F(r, TR_F_NUM, 1.0);
        int rc = tr_store_ingest(s, &st, (uint64_t)i, fin(r));
        T_CHECK(rc == 0 || rc == 1);
        stored += rc == 0;
    }
    T_OK(tr_store_commit(s));
    T_EQ_INT(stored, 5);
    T_EQ_INT(raw_int(p, "SELECT count(*) FROM metrics"), 15);
    T_EQ_INT(raw_int(p, "SELECT hwm FROM streams"), 19);
    tr_store_close(s);
}

/* A failing statement spoils the batch: commit rolls everything back and reports it. */
static void test_failed_batch(void)
{
    if (tstore_pg()) T_SKIP("SQLite files, locks or triggers");
    const char *p = path_of("broken.db");
    tr_store *s = open_ok(p, TR_STORE_CREATE);
    raw_exec(p, "CREATE TRIGGER no_tags BEFORE INSERT ON tags BEGIN"
                " SELECT RAISE(ABORT, 'no tags here'); END;");
    tr_stream st = stream("99999999999999999999999999999999", R1, 7);
    trec *r = &recs[0], *r2 = &recs[1];
    start(r, TR_REC_PARAM, T0), S(r, TR_F_KEY, "a"), S(r, TR_F_VALUE, "1");
    start(r2, TR_REC_TAG, T0), S(r2, TR_F_KEY, "t"), S(r2, TR_F_VALUE, "x");
    const tr_rec *param = fin(r), *tag = fin(r2);
    T_OK(tr_store_begin(s));
    T_OK(tr_store_ingest(s, &st, 1, param));
    int rc = tr_store_ingest(s, &st, 2, tag);
    T_CHECK(rc < 0);
    T_ERR(tr_store_commit(s), rc);
    T_CHECK(strstr(tr_store_errmsg(s), "no tags here") && strstr(tr_store_errmsg(s), p));
    int64_t hwm;
    T_OK(tr_store_stream_hwm(s, st.id, &hwm));
    T_EQ_INT(hwm, -1);
    T_EQ_INT(raw_int(p, "SELECT count(*) FROM params"), 0);
    T_EQ_INT(raw_int(p, "SELECT count(*) FROM runs"), 0);
    /* Alone, the record is its own transaction: its placeholder run is rolled back too. */
    T_CHECK(tr_store_ingest(s, &st, 2, tag) < 0);
    T_EQ_INT(raw_int(p, "SELECT count(*) FROM runs"), 0);
    /* Redelivered once the cause is gone, the batch goes in. */
    raw_exec(p, "DROP TRIGGER no_tags");
    T_OK(tr_store_begin(s));
    T_OK(tr_store_ingest(s, &st, 1, param));
    T_OK(tr_store_ingest(s, &st, 2, tag));
    T_OK(tr_store_commit(s));
    T_EQ_INT(raw_int(p, "SELECT count(*) FROM params"), 1);
    T_EQ_INT(raw_int(p, "SELECT count(*) FROM tags"), 1);
    tr_store_close(s);
}

static cJSON *item(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) T_FAIL("missing key %s", k);
    return v;
}

static void test_nonfinite(void)
{
    tr_store *s = open_ok(store_of("nan.db"), TR_STORE_CREATE);
    tr_stream st = stream("cccccccccccccccccccccccccccccccc", R1, 7);
    const double vals[] = {NAN, INFINITY, -INFINITY, 1e-300, -0.0, 0.1};
    trec *r = &recs[0];
    for (int i = 0; i < 6; i++) {
        start(r, TR_REC_METRIC, T0 + i * 1000);
        S(r, TR_F_KEY, "m"), I(r, TR_F_STEP, i), F(r, TR_F_NUM, vals[i]);
        T_OK(tr_store_ingest(s, &st, (uint64_t)i, fin(r)));
    }
    start(r, TR_REC_METRIC, T0);
    S(r, TR_F_KEY, "last_nan"), I(r, TR_F_STEP, 3), F(r, TR_F_NUM, NAN);
    T_OK(tr_store_ingest(s, &st, 10, fin(r)));
    start(r, TR_REC_METRIC, T0);
    S(r, TR_F_KEY, "last_inf"), F(r, TR_F_NUM, -INFINITY); /* no STEP: step 0 */
    T_OK(tr_store_ingest(s, &st, 11, fin(r)));

    cJSON *m = NULL;
    T_OK(tr_store_metrics_json(s, R1, &m));
    T_ASSERT(m);
    cJSON *a = item(m, "m");
    T_ASSERT(cJSON_IsArray(a) && cJSON_GetArraySize(a) == 6);
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(a, 0), "value")), "NaN");
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(a, 1), "value")), "Infinity");
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(a, 2), "value")), "-Infinity");
    T_CHECK(item(cJSON_GetArrayItem(a, 3), "value")->valuedouble == 1e-300);
    T_CHECK(item(cJSON_GetArrayItem(a, 5), "value")->valuedouble == 0.1);
    T_EQ_INT(item(cJSON_GetArrayItem(a, 4), "step")->valuedouble, 4);
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(a, 0), "time")),
             "2026-11-28T06:13:59.123456Z");
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(a, 2), "time")),
             "2026-11-28T06:13:59.123458Z");
    T_EQ_INT(cJSON_GetArraySize(item(m, "last_inf")), 1);
    /* The document prints as valid JSON (no bare NaN). */
    char *text = cJSON_PrintUnformatted(m);
    T_CHECK(text && strstr(text, "\"value\":\"NaN\"") && !strstr(text, "null"));
    cJSON *back = cJSON_Parse(text);
    T_CHECK(back != NULL);
    cJSON_Delete(back);
    free(text);
    cJSON_Delete(m);

    cJSON *run = NULL;
    T_OK(tr_store_run_json(s, R1, &run));
    cJSON *last = item(run, "metrics");
    T_CHECK(item(last, "m")->valuedouble == 0.1);
    T_EQ_STR(cJSON_GetStringValue(item(last, "last_nan")), "NaN");
    T_EQ_STR(cJSON_GetStringValue(item(last, "last_inf")), "-Infinity");
    cJSON_Delete(run);

    T_ERR(tr_store_metrics_json(s, R3, &m), TRAIL_ENOTFOUND);
    T_CHECK(m == NULL);
    tr_store_close(s);
}

/* Records arrive in any order: a placeholder run first, its metadata later. */
static void test_placeholder(void)
{
    const char *p = store_of("order.db");
    tr_store *s = open_ok(p, TR_STORE_CREATE);
    tr_stream st = stream("dddddddddddddddddddddddddddddddd", R2, 5);
    trec *r = &recs[0];
    start(r, TR_REC_PARAM, T0), S(r, TR_F_KEY, "a"), S(r, TR_F_VALUE, "1");
    T_OK(tr_store_ingest(s, &st, 1, fin(r)));
    T_EQ_INT(raw_int(p, "SELECT count(*) FROM runs WHERE id = '" R2 "' AND status = 'running'"
                        " AND name IS NULL AND started_ns IS NULL"),
             1);
    start(r, TR_REC_RUN_META, T0), S(r, TR_F_RUN_ID, R2), S(r, TR_F_NAME, "sdk-name");
    T_OK(tr_store_ingest(s, &st, 2, fin(r)));
    start(r, TR_REC_RUN_START, T0 + 5), S(r, TR_F_RUN_ID, R2), S(r, TR_F_EXPERIMENT, "e2");
    S(r, TR_F_NAME, "cli-name"), S(r, TR_F_SOURCE, "sdk");
    T_OK(tr_store_ingest(s, &st, 3, fin(r)));
    start(r, TR_REC_RUN_META, T0), S(r, TR_F_RUN_ID, R2), S(r, TR_F_NAME, "ignored");
    S(r, TR_F_EXPERIMENT, "ignored");
    T_OK(tr_store_ingest(s, &st, 4, fin(r)));

    cJSON *run = NULL;
    T_OK(tr_store_run_json(s, R2, &run));
    T_EQ_STR(cJSON_GetStringValue(item(run, "name")), "cli-name");
    T_EQ_STR(cJSON_GetStringValue(item(run, "experiment")), "e2");
    T_EQ_STR(cJSON_GetStringValue(item(run, "status")), "running");
    T_EQ_STR(cJSON_GetStringValue(item(run, "created_by")), "sdk");
    T_CHECK(cJSON_IsNull(item(run, "ended_at")));
    T_CHECK(item(run, "duration_s")->valuedouble > 0); /* running: measured up to now */
    T_EQ_STR(cJSON_GetStringValue(item(item(run, "params"), "a")), "1");
    cJSON_Delete(run);

    /* RUN_END with no STATUS: derived from the signal. */
    start(r, TR_REC_RUN_END, T0 + 3000000000LL), S(r, TR_F_RUN_ID, R2), I(r, TR_F_SIGNAL, 9);
    T_OK(tr_store_ingest(s, &st, 5, fin(r)));
    T_EQ_INT(raw_int(p, "SELECT status = 'killed' AND signal = 9 FROM runs WHERE id = '" R2 "'"),
             1);

    /* RUN_END before RUN_START: the status stays. */
    tr_stream st3 = stream("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", R3, 6);
    start(r, TR_REC_RUN_END, T0 + 10), S(r, TR_F_RUN_ID, R3), S(r, TR_F_STATUS, "failed");
    I(r, TR_F_EXIT_CODE, 3);
    T_OK(tr_store_ingest(s, &st3, 1, fin(r)));
    start(r, TR_REC_RUN_START, T0), S(r, TR_F_RUN_ID, R3), S(r, TR_F_NAME, "r3");
    T_OK(tr_store_ingest(s, &st3, 2, fin(r)));
    T_OK(tr_store_run_json(s, R3, &run));
    T_EQ_STR(cJSON_GetStringValue(item(run, "status")), "failed");
    T_EQ_INT(item(run, "exit_code")->valuedouble, 3);
    double d = item(run, "duration_s")->valuedouble;
    T_CHECK(d > 0.99e-8 && d < 1.01e-8);
    cJSON_Delete(run);
    tr_store_close(s);
}

static void test_run_json(void)
{
    tr_store *s = open_ok(store_of("show.db"), TR_STORE_CREATE);
    tr_stream st = stream("ffffffffffffffffffffffffffffffff", R1, 100);
    int n = full_run(recs, rp);
    T_OK(tr_store_begin(s));
    for (int i = 0; i < n; i++)
        T_OK(tr_store_ingest(s, &st, (uint64_t)i, rp[i]));
    T_OK(tr_store_commit(s));

    cJSON *run = NULL;
    T_OK(tr_store_run_json(s, R1, &run));
    T_ASSERT(run);
    T_EQ_STR(cJSON_GetStringValue(item(run, "id")), R1);
    T_EQ_STR(cJSON_GetStringValue(item(run, "name")), "train");
    T_EQ_STR(cJSON_GetStringValue(item(run, "experiment")), "exp");
    T_EQ_STR(cJSON_GetStringValue(item(run, "status")), "finished");
    T_EQ_INT(item(run, "exit_code")->valuedouble, 0);
    T_EQ_INT(item(run, "signal")->valuedouble, 0);
    cJSON *argv = item(run, "argv");
    T_EQ_INT(cJSON_GetArraySize(argv), 3);
    T_EQ_STR(cJSON_GetStringValue(cJSON_GetArrayItem(argv, 2)), "--lr=\"0.1\"");
    T_EQ_STR(cJSON_GetStringValue(item(run, "cwd")), "/w");
    T_EQ_STR(cJSON_GetStringValue(item(run, "host")), "h1");
    T_EQ_STR(cJSON_GetStringValue(item(run, "user")), "u");
    T_EQ_INT(item(run, "pid")->valuedouble, 100);
    T_EQ_STR(cJSON_GetStringValue(item(run, "started_at")), "2026-11-28T06:13:59.123456Z");
    T_EQ_STR(cJSON_GetStringValue(item(run, "ended_at")), "2026-11-28T06:14:01.623456Z");
    T_CHECK(item(run, "duration_s")->valuedouble == 2.5);
    /* params are immutable: the first value stays, the later one is counted as a conflict */
    T_EQ_STR(cJSON_GetStringValue(item(item(run, "params"), "lr")), "0.1");
    T_EQ_STR(cJSON_GetStringValue(item(item(run, "tags"), "trail.param_conflicts")), "1");
    T_EQ_STR(cJSON_GetStringValue(item(item(run, "tags"), "trail.param_conflict.lr")), "0.2");
    T_CHECK(item(item(run, "metrics"), "loss")->valuedouble == 0.25); /* step tie: latest */
    T_CHECK(item(item(run, "metrics"), "acc")->valuedouble == 0.9);
    T_EQ_STR(cJSON_GetStringValue(item(item(run, "tags"), "k")), "v");
    T_EQ_STR(cJSON_GetStringValue(item(item(run, "env"), "HOME")), "/home/u");
    T_EQ_STR(cJSON_GetStringValue(item(item(run, "env"), "API_TOKEN")), "[redacted]");

    cJSON *in = item(run, "inputs"), *out = item(run, "outputs");
    /* /data/cache, read and written (role inout): the version the run left, an output only */
    T_EQ_INT(cJSON_GetArraySize(in), 1);
    T_EQ_INT(cJSON_GetArraySize(out), 2);
    cJSON *f = cJSON_GetArrayItem(in, 0);
    T_EQ_STR(cJSON_GetStringValue(item(f, "path")), "/data/in.csv");
    T_EQ_STR(cJSON_GetStringValue(item(f, "version")), "e53fe152bd45dbf8"); /* "1:2:100:5" */
    T_EQ_INT(item(f, "bytes")->valuedouble, 150);
    f = cJSON_GetArrayItem(out, 0);
    T_EQ_STR(cJSON_GetStringValue(item(f, "path")), "/data/cache");
    T_EQ_INT(item(f, "bytes")->valuedouble, 8);
    f = cJSON_GetArrayItem(out, 1);
    T_EQ_STR(cJSON_GetStringValue(item(f, "path")), "/out/model.bin");
    T_EQ_STR(cJSON_GetStringValue(item(f, "version")), "ddd3c96589ec7824"); /* "1:3:42:9" */
    T_EQ_INT(item(f, "bytes")->valuedouble, 42);
    T_EQ_INT(item(f, "writes")->valuedouble, 1);
    T_EQ_INT(item(f, "versions")->valuedouble, 1);

    cJSON *procs = item(run, "processes");
    T_EQ_INT(cJSON_GetArraySize(procs), 2);
    cJSON *p0 = cJSON_GetArrayItem(procs, 0), *p1 = cJSON_GetArrayItem(procs, 1);
    T_EQ_INT(item(p0, "pid")->valuedouble, 100);
    T_EQ_INT(item(p0, "ppid")->valuedouble, 1);
    T_EQ_STR(cJSON_GetStringValue(item(p0, "exe")), "/usr/bin/python3");
    T_EQ_INT(cJSON_GetArraySize(item(p0, "argv")), 2);
    T_EQ_INT(item(p0, "exit_code")->valuedouble, 0);
    T_EQ_STR(cJSON_GetStringValue(item(p0, "ended_at")), "2026-11-28T06:13:59.123465Z");
    T_CHECK(cJSON_IsNull(item(p0, "backtrace")));
    T_EQ_INT(item(p1, "pid")->valuedouble, 101);
    T_EQ_INT(item(p1, "signal")->valuedouble, 11);
    T_EQ_STR(cJSON_GetStringValue(item(p1, "backtrace")), "f1\nf2");

    cJSON *deps = item(run, "deps");
    T_EQ_INT(cJSON_GetArraySize(deps), 1);
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(deps, 0), "path")), "/lib/libc.so.6");
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(deps, 0), "kind")), "so");
    T_EQ_STR(cJSON_GetStringValue(item(run, "created_by")), "cli");
    cJSON *res = item(run, "resources");
    T_CHECK(item(res, "utime_s")->valuedouble == 1.5);
    T_CHECK(item(res, "stime_s")->valuedouble == 0.25);
    T_EQ_INT(item(res, "maxrss_kb")->valuedouble, 2048);
    cJSON_Delete(run);

    T_ERR(tr_store_run_json(s, R3, &run), TRAIL_ENOTFOUND);
    T_CHECK(strstr(tr_store_errmsg(s), R3) != NULL);
    tr_store_close(s);
}

static void add_run(tr_store *s, const char *id, const char *name, const char *exp, int64_t t)
{
    static int k;
    char sid[33];
    snprintf(sid, sizeof sid, "%032x", ++k);
    tr_stream st = stream(sid, id, 1);
    trec *r = &recs[0];
    start(r, TR_REC_RUN_START, t), S(r, TR_F_RUN_ID, id), S(r, TR_F_NAME, name);
    S(r, TR_F_EXPERIMENT, exp);
    T_OK(tr_store_ingest(s, &st, 0, fin(r)));
}

static void test_resolve_and_list(void)
{
    tr_store *s = open_ok(store_of("resolve.db"), TR_STORE_CREATE);
    add_run(s, R1, "dup", "a", T0);
    add_run(s, R2, "dup", "b", T0 + 10);
    add_run(s, R3, "solo", "a", T0 + 5);
    add_run(s, R4, "fed", "c", T0 - 5);
    char id[33];
    T_OK(tr_store_resolve_run(s, R1, id));
    T_EQ_STR(id, R1);
    T_OK(tr_store_resolve_run(s, "01234", id));
    T_EQ_STR(id, R1);
    T_OK(tr_store_resolve_run(s, "0123A", id)); /* ids are lowercase; refs need not be */
    T_EQ_STR(id, R2);
    T_OK(tr_store_resolve_run(s, "f", id));
    T_EQ_STR(id, R3);
    T_ERR(tr_store_resolve_run(s, "0123", id), TRAIL_EAMBIGUOUS);
    T_CHECK(strstr(tr_store_errmsg(s), "0123") != NULL);
    T_OK(tr_store_resolve_run(s, "dup", id)); /* the latest run of that name */
    T_EQ_STR(id, R2);
    T_OK(tr_store_resolve_run(s, "solo", id));
    T_EQ_STR(id, R3);
    T_OK(tr_store_resolve_run(s, "fed", id)); /* a unique id prefix beats a name */
    T_EQ_STR(id, R3);
    T_ERR(tr_store_resolve_run(s, "nope", id), TRAIL_ENOTFOUND);
    T_ERR(tr_store_resolve_run(s, "9", id), TRAIL_ENOTFOUND);
    T_ERR(tr_store_resolve_run(s, "", id), TRAIL_ENOTFOUND);

    cJSON *arr = NULL;
    T_OK(tr_store_runs_json(s, NULL, &arr));
    T_ASSERT(cJSON_IsArray(arr));
    T_EQ_INT(cJSON_GetArraySize(arr), 4);
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(arr, 0), "id")), R2); /* newest */
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(arr, 1), "id")), R3);
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(arr, 2), "id")), R1);
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(arr, 3), "id")), R4);
    T_CHECK(cJSON_IsObject(item(cJSON_GetArrayItem(arr, 0), "params")));
    cJSON_Delete(arr);
    tr_runs_filter f = {.experiment = "a", .limit = 0};
    T_OK(tr_store_runs_json(s, &f, &arr));
    T_EQ_INT(cJSON_GetArraySize(arr), 2);
    T_EQ_STR(cJSON_GetStringValue(item(cJSON_GetArrayItem(arr, 0), "id")), R3);
    cJSON_Delete(arr);
    f.experiment = NULL, f.limit = 1;
    T_OK(tr_store_runs_json(s, &f, &arr));
    T_EQ_INT(cJSON_GetArraySize(arr), 1);
    cJSON_Delete(arr);
    f.experiment = "none";
    T_OK(tr_store_runs_json(s, &f, &arr));
    T_EQ_INT(cJSON_GetArraySize(arr), 0);
    cJSON_Delete(arr);
    tr_store_close(s);
}

static void test_fmt_time(void)
{
    char buf[40];
    tr_store_fmt_time(T0, buf, sizeof buf);
    T_EQ_STR(buf, "2026-11-28T06:13:59.123456Z");
    tr_store_fmt_time(0, buf, sizeof buf);
    T_EQ_STR(buf, "1970-01-01T00:00:00.000000Z");
    tr_store_fmt_time(-1000, buf, sizeof buf);
    T_EQ_STR(buf, "1969-12-31T23:59:59.999999Z");
    char v[17];
    tr_store_version_id(1, 2, 100, 5, v);
    T_EQ_STR(v, "e53fe152bd45dbf8");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/trail-store-test-XXXXXX");
    T_ASSERT(mkdtemp(dir));
    unsetenv("TRAIL_BUSY_TIMEOUT_MS");
    T_RUN(test_fmt_time);
    T_RUN(test_migrate_empty);
    T_RUN(test_open_errors);
    T_RUN(test_locked);
    T_RUN(test_idempotent);
    T_RUN(test_batch);
    T_RUN(test_failed_batch);
    T_RUN(test_concurrent_writer);
    T_RUN(test_nonfinite);
    T_RUN(test_placeholder);
    T_RUN(test_run_json);
    T_RUN(test_resolve_and_list);
    int rc = T_DONE();
    if (rc == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    } else {
        fprintf(stderr, "files kept in %s\n", dir);
    }
    return rc;
}
