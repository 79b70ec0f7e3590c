/* prefetch_test.c - a batch's look-ups made ahead of it (store/ingest_prefetch.c) store what
 * record-by-record ingest stores, leave no version without its event when the batch comes
 * again, and on PostgreSQL take a few round trips a batch instead of some per record. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "store.h"
#include "tassert.h"
#include "tstore.h"
#include "trail.h"

#define RUN "0123456789abcdef0123456789abcdef"
#define T0 1795846439123456789LL
#define NFILE 300

static char dir[64];

typedef struct trec {
    uint8_t buf[1024];
    tr_rec rec;
} trec;

static trec recs[NFILE + 1];

static long long raw_int(const char *path, const char *sql)
{
    long long v = -999;
    if (tstore_pg()) {
        T_ASSERT(tstore_pg_sql(tstore_pg_db(path), sql, &v) == 0);
        return v;
    }
    sqlite3 *db;
    sqlite3_stmt *st;
    T_ASSERT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    T_ASSERT(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Record 0: a metric (the stream's first batch); then NFILE FILE records: 200 files, the first
 * 100 read twice at one version, every 7th written, every 50th without a fingerprint (its
 * artifact only), one with an empty path (skipped). */
static void make_records(void)
{
    tr_enc e;
    tr_enc_init(&e, recs[0].buf, sizeof recs[0].buf, TR_REC_METRIC, T0);
    tr_enc_str(&e, TR_F_KEY, "loss");
    tr_enc_f64(&e, TR_F_NUM, 0.5);
    long n = tr_enc_finish(&e);
    T_ASSERT(n > 0 && tr_rec_decode(recs[0].buf, (size_t)n, &recs[0].rec) == 0);
    for (int i = 1; i <= NFILE; i++) {
        int f = (i - 1) % 200;
        char path[64];
        if (i == 77)
            path[0] = '\0'; /* one record without a path: ingest rejects it */
        else
            snprintf(path, sizeof path, "/data/p%03d/f%d.bin", f % 13, f);
        tr_enc_init(&e, recs[i].buf, sizeof recs[i].buf, TR_REC_FILE, T0 + i);
        tr_enc_str(&e, TR_F_PATH, path);
        tr_enc_str(&e, TR_F_ROLE, f % 7 == 0 ? "output" : "input");
        if (f % 50 != 49) {
            tr_enc_u64(&e, TR_F_DEV, 3);
            tr_enc_u64(&e, TR_F_INO, (uint64_t)(1000 + f));
            tr_enc_i64(&e, TR_F_SIZE, 64 + f);
            tr_enc_i64(&e, TR_F_MTIME_NS, T0 - f);
        }
        tr_enc_i64(&e, TR_F_START_NS, T0 + i);
        tr_enc_i64(&e, TR_F_END_NS, T0 + i + 1);
        n = tr_enc_finish(&e);
        T_ASSERT(n > 0 && tr_rec_decode(recs[i].buf, (size_t)n, &recs[i].rec) == 0);
    }
}

static char where[4][512]; /* the stores' locations, by test_same_rows's index */

static tr_store *open_store(const char *name, int k)
{
    char err[256];
    tr_store *s = NULL;
    const char *p = strcpy(where[k], tstore_location(dir, name));
    int rc = tr_store_open(p, TR_STORE_CREATE, &s, err, sizeof err);
    if (rc) T_FAIL("open %s: %s (%s)", p, trail_strerror(rc), err);
    return s;
}

/* One batch of records [from, to) in one transaction, its look-ups made ahead or not; the
 * round trips it took (-1 on SQLite). *dups: records found stored already. */
static long long batch(tr_store *s, int from, int to, int ahead, int *dups)
{
    tr_stream st;
    memset(&st, 0, sizeof st);
    snprintf(st.id, sizeof st.id, "%s", "ssssssssssssssssssssssssssssssss");
    snprintf(st.run_id, sizeof st.run_id, "%s", RUN);
    snprintf(st.host, sizeof st.host, "h1");
    st.pid = 42;
    long long rt0 = tr_store_round_trips(s);
    *dups = 0;
    T_OK(tr_store_begin(s));
    for (int i = from; ahead && i < to; i++)
        T_OK(tr_store_prefetch_note(s, &st, (uint64_t)i, &recs[i].rec));
    if (ahead) T_OK(tr_store_prefetch_run(s));
    for (int i = from; i < to; i++) {
        int rc = tr_store_ingest(s, &st, (uint64_t)i, &recs[i].rec);
        if (rc < 0) T_FAIL("ingest %d: %s (%s)", i, trail_strerror(rc), tr_store_errmsg(s));
        *dups += rc == 1;
    }
    T_OK(tr_store_commit(s));
    return rt0 < 0 ? -1 : tr_store_round_trips(s) - rt0;
}

/* What was stored, read back: counts, and a sum over every event's path, version and role. */
static void summary(const char *p, long long out[5])
{
    out[0] = raw_int(p, "SELECT count(*) FROM artifacts");
    out[1] = raw_int(p, "SELECT count(*) FROM artifact_versions");
    out[2] = raw_int(p, "SELECT count(*) FROM events");
    out[3] = raw_int(p, "SELECT sum(length(a.path) * 1000003 + coalesce(v.ino, 7) * 31"
                        " + coalesce(v.size, 5) + coalesce(v.dev, 11) * 17"
                        " + (CASE e.role WHEN 'input' THEN 1 ELSE 2 END))"
                        " FROM events e JOIN artifact_versions v ON v.id = e.version_id"
                        " JOIN artifacts a ON a.id = v.artifact_id");
    /* a version no event refers to: left behind by a look-up ahead of a record not stored */
    out[4] = raw_int(p, "SELECT count(*) FROM artifact_versions v WHERE NOT EXISTS"
                        " (SELECT 1 FROM events e WHERE e.version_id = v.id)");
}

static void test_same_rows(void)
{
    static const char *const names[2] = {"ahead.db", "each.db"};
    long long rt[2], sum[2][5];
    for (int k = 0; k < 2; k++) {
        tr_store *s = open_store(names[k], k);
        T_ASSERT(s);
        int dups;
        batch(s, 0, 1, k == 0, &dups); /* the stream's first batch: it is known after */
        rt[k] = batch(s, 1, NFILE + 1, k == 0, &dups);
        T_EQ_INT(dups, 0);
        /* delivered again (at-least-once): every record a duplicate, nothing added */
        long long again = batch(s, 0, NFILE + 1, k == 0, &dups);
        T_EQ_INT(dups, NFILE + 1);
        if (k == 0 && tstore_pg() && again > 20)
            T_FAIL("a batch of duplicates took %lld round trips", again);
        tr_store_close(s);
        summary(where[k], sum[k]);
    }
    /* 200 paths, one version each (4 of them without a fingerprint), every record with a path
     * an event (one record has none: skipped) */
    T_EQ_INT(sum[0][0], 200);
    T_EQ_INT(sum[0][1], 200);
    T_EQ_INT(sum[0][2], NFILE - 1);
    for (int i = 0; i < 5; i++)
        if (sum[0][i] != sum[1][i])
            T_FAIL("summary %d: %lld ahead, %lld record by record", i, sum[0][i], sum[1][i]);
    T_EQ_INT(sum[0][4], 0);
    if (!tstore_pg()) {
        T_EQ_INT(rt[0], -1);
        return;
    }
    /* 200 artifacts at 64 a statement, 196 versions at 32: a few round trips each (found,
     * the missing added, found again), each statement's first preparation, and the records
     * themselves none (their events go in pipelined with the commit): about 50 here */
    fprintf(stderr, "round trips for %d FILE records: %lld ahead, %lld record by record\n", NFILE,
            rt[0], rt[1]);
    if (rt[0] > NFILE / 5) T_FAIL("%lld round trips for the batch looked up ahead", rt[0]);
    if (rt[1] < NFILE) T_FAIL("%lld round trips record by record: not counted?", rt[1]);
}

/* Notes outside a transaction are refused; a run with nothing noted does nothing. */
static void test_misuse(void)
{
    tr_store *s = open_store("misuse.db", 2);
    T_ASSERT(s);
    tr_stream st;
    memset(&st, 0, sizeof st);
    T_ERR(tr_store_prefetch_note(s, &st, 1, &recs[1].rec), TRAIL_EINVAL);
    T_ERR(tr_store_prefetch_run(s), TRAIL_EINVAL);
    T_OK(tr_store_begin(s));
    T_OK(tr_store_prefetch_run(s));
    T_OK(tr_store_commit(s));
    tr_store_close(s);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/trail-prefetch-XXXXXX");
    T_ASSERT(mkdtemp(dir));
    make_records();
    T_RUN(test_same_rows);
    T_RUN(test_misuse);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return T_DONE();
}
