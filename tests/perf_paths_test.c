/* perf_paths_test.c - the fast paths keep their meaning: ingest's per-transaction bookkeeping
 * (stream marks, known runs, artifact/version ids) and `trail runs` paging and streaming. */
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "record.h"
#include "store.h"
#include "tassert.h"
#include "tproc.h"
#include "trail.h"

static char dir[64], db[128];
static uint8_t buf[1024];
static tr_rec rec;

static const tr_rec *metric(double v, int64_t step, int64_t t)
{
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_METRIC, t);
    tr_enc_str(&e, TR_F_KEY, "loss");
    tr_enc_f64(&e, TR_F_NUM, v);
    tr_enc_i64(&e, TR_F_STEP, step);
    long n = tr_enc_finish(&e);
    T_ASSERT(n > 0 && tr_rec_decode(buf, (size_t)n, &rec) == 0);
    return &rec;
}

static const tr_rec *file_rec(const char *path, uint64_t ino, int64_t t)
{
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_FILE, t);
    tr_enc_str(&e, TR_F_PATH, path);
    tr_enc_str(&e, TR_F_ROLE, "input");
    tr_enc_u64(&e, TR_F_DEV, 1);
    tr_enc_u64(&e, TR_F_INO, ino);
    tr_enc_i64(&e, TR_F_SIZE, 10);
    tr_enc_i64(&e, TR_F_MTIME_NS, 5);
    tr_enc_u64(&e, TR_F_BYTES_READ, 10);
    long n = tr_enc_finish(&e);
    T_ASSERT(n > 0 && tr_rec_decode(buf, (size_t)n, &rec) == 0);
    return &rec;
}

static const tr_rec *run_start(const char *run, const char *name, int64_t t)
{
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_RUN_START, t);
    tr_enc_str(&e, TR_F_RUN_ID, run);
    tr_enc_str(&e, TR_F_NAME, name);
    long n = tr_enc_finish(&e);
    T_ASSERT(n > 0 && tr_rec_decode(buf, (size_t)n, &rec) == 0);
    return &rec;
}

static tr_stream stream(const char *id, const char *run)
{
    tr_stream st;
    memset(&st, 0, sizeof st);
    snprintf(st.id, sizeof st.id, "%s", id);
    snprintf(st.run_id, sizeof st.run_id, "%s", run);
    st.pid = 7;
    snprintf(st.host, sizeof st.host, "h1");
    return st;
}

static long long one_int(const char *sql)
{
    sqlite3 *d;
    sqlite3_stmt *st;
    long long v = -999;
    T_ASSERT(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    T_ASSERT(sqlite3_prepare_v2(d, sql, -1, &st, NULL) == SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(d);
    return v;
}

/* One integer from the store at path, -1 while it cannot be read (not made yet, locked). */
static long long one_int_at(const char *path, const char *sql)
{
    sqlite3 *d = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (access(path, F_OK) == 0 && sqlite3_open_v2(path, &d, SQLITE_OPEN_READONLY, NULL) == 0 &&
        sqlite3_prepare_v2(d, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(d);
    return v;
}

static tr_store *open_rw(void)
{
    char err[256];
    tr_store *s = NULL;
    T_ASSERT(tr_store_open(db, TR_STORE_CREATE, &s, err, sizeof err) == 0);
    return s;
}

#define RUN_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define STREAM_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define STREAM_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"

/* Marks move inside a transaction, are written once at commit, and a rollback forgets them
 * (and the runs, artifacts and versions the transaction added). */
static void test_batch_bookkeeping(void)
{
    tr_store *s = open_rw();
    tr_stream a = stream(STREAM_A, RUN_A), b = stream(STREAM_B, RUN_A);
    int64_t hwm;
    T_OK(tr_store_begin(s));
    for (int i = 0; i < 10; i++)
        T_EQ_INT(tr_store_ingest(s, &a, (uint64_t)i, metric(i, i, 100 + i)), 0);
    T_EQ_INT(tr_store_ingest(s, &b, 0, file_rec("/d/x", 9, 200)), 0);
    T_EQ_INT(tr_store_ingest(s, &b, 1, file_rec("/d/x", 9, 201)), 0); /* same version again */
    /* a repeat inside the transaction is recognised without the row written yet */
    T_EQ_INT(tr_store_ingest(s, &a, 4, metric(99, 4, 300)), 1);
    T_OK(tr_store_stream_hwm(s, STREAM_A, &hwm));
    T_EQ_INT(hwm, 9);
    T_OK(tr_store_commit(s));
    T_EQ_INT(one_int("SELECT count(*) FROM metrics"), 10);
    T_EQ_INT(one_int("SELECT hwm FROM streams WHERE id = '" STREAM_A "'"), 9);
    T_EQ_INT(one_int("SELECT first_ns FROM streams WHERE id = '" STREAM_A "'"), 100);
    T_EQ_INT(one_int("SELECT last_ns FROM streams WHERE id = '" STREAM_A "'"), 109);
    T_EQ_INT(one_int("SELECT count(*) FROM artifact_versions"), 1);
    T_EQ_INT(one_int("SELECT count(*) FROM events"), 2);

    /* Rolled back: the marks, the new run and the new artifact are gone, and ingesting the
     * same records again stores them. */
    T_OK(tr_store_begin(s));
    tr_stream c = stream(STREAM_A, "cccccccccccccccccccccccccccccccc");
    snprintf(c.id, sizeof c.id, "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3");
    for (int i = 10; i < 15; i++)
        T_EQ_INT(tr_store_ingest(s, &a, (uint64_t)i, metric(i, i, 100 + i)), 0);
    T_EQ_INT(tr_store_ingest(s, &c, 0, file_rec("/d/new", 10, 400)), 0);
    T_OK(tr_store_rollback(s));
    T_OK(tr_store_stream_hwm(s, STREAM_A, &hwm));
    T_EQ_INT(hwm, 9);
    T_OK(tr_store_begin(s));
    for (int i = 10; i < 15; i++)
        T_EQ_INT(tr_store_ingest(s, &a, (uint64_t)i, metric(i, i, 100 + i)), 0);
    T_EQ_INT(tr_store_ingest(s, &c, 0, file_rec("/d/new", 10, 400)), 0);
    T_OK(tr_store_commit(s));
    T_EQ_INT(one_int("SELECT count(*) FROM metrics"), 15);
    T_EQ_INT(one_int("SELECT count(*) FROM runs WHERE id = 'cccccccccccccccccccccccccccccccc'"), 1);
    T_EQ_INT(one_int("SELECT count(*) FROM artifacts WHERE path = '/d/new'"), 1);
    T_EQ_INT(
        one_int("SELECT count(*) FROM events WHERE run_id = 'cccccccccccccccccccccccccccccccc'"),
        1);
    /* the whole batch replayed: nothing doubles */
    T_OK(tr_store_begin(s));
    for (int i = 0; i < 15; i++)
        T_EQ_INT(tr_store_ingest(s, &a, (uint64_t)i, metric(i, i, 100 + i)), 1);
    T_OK(tr_store_commit(s));
    T_EQ_INT(one_int("SELECT count(*) FROM metrics"), 15);
    tr_store_close(s);
}

/* tr_store_hash_known: the versions the last commit added for new artifacts are answered
 * without a look-up (no hash yet); every other answer is the store's, and a hash set is known. */
static void test_hash_known(void)
{
    snprintf(db, sizeof db, "%s/known.db", dir);
    tr_store *s = open_rw();
    tr_stream a = stream(STREAM_A, RUN_A);
    tr_fingerprint fx = {1, 20, 10, 5}, fy = {1, 21, 10, 5};
    const char *hex = "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c";
    T_OK(tr_store_begin(s));
    T_EQ_INT(tr_store_ingest(s, &a, 0, file_rec("/d/k", 20, 10)), 0);
    T_OK(tr_store_commit(s));
    T_EQ_INT(tr_store_hash_known(s, "/d/k", &fx), 0);
    T_EQ_INT(tr_store_hash_version(s, "/d/k", &fx, hex), 0);
    T_EQ_INT(tr_store_hash_known(s, "/d/k", &fx), 1);
    T_EQ_INT(tr_store_hash_version(s, "/d/k", &fx, hex), 1); /* known already */
    /* a second version of the artifact (not a new artifact): the store is asked */
    T_OK(tr_store_begin(s));
    T_EQ_INT(tr_store_ingest(s, &a, 1, file_rec("/d/k", 21, 11)), 0);
    T_OK(tr_store_commit(s));
    T_EQ_INT(tr_store_hash_known(s, "/d/k", &fy), 0);
    T_EQ_INT(tr_store_hash_known(s, "/d/k", &fx), 1);
    /* a rollback leaves the last commit's answers */
    T_OK(tr_store_begin(s));
    T_EQ_INT(tr_store_ingest(s, &a, 2, file_rec("/d/gone", 22, 12)), 0);
    T_OK(tr_store_rollback(s));
    T_EQ_INT(tr_store_hash_known(s, "/d/k", &fx), 1);
    T_EQ_INT(tr_store_hash_known(s, "/d/gone", &(tr_fingerprint){1, 22, 10, 5}), 0);
    T_EQ_INT(one_int("SELECT count(*) FROM artifact_versions WHERE content_hash IS NOT NULL"), 1);
    tr_store_close(s);
}

static int count_runs(const char *json)
{
    cJSON *doc = json ? cJSON_Parse(json) : NULL;
    int n = cJSON_IsArray(doc) ? cJSON_GetArraySize(doc) : -1;
    if (n > 0) {
        const cJSON *first = cJSON_GetArrayItem(doc, 0);
        T_CHECK(cJSON_GetObjectItemCaseSensitive(first, "params") != NULL);
    }
    cJSON_Delete(doc);
    return n;
}

/* `trail runs`: newest first, 50 by default, --limit/--all, how many more, --json a valid array
 * without file lists unless --full. */
static void test_runs_paging(void)
{
    snprintf(db, sizeof db, "%s/paging.db", dir); /* its own store: exactly these runs */
    tr_store *s = open_rw();
    T_OK(tr_store_begin(s));
    for (int i = 0; i < 120; i++) {
        char run[33], sid[33], name[32];
        snprintf(run, sizeof run, "%032x", 0x1000 + i);
        snprintf(sid, sizeof sid, "%032x", 0x9000 + i);
        snprintf(name, sizeof name, "job%03d", i);
        tr_stream st = stream(sid, run);
        T_EQ_INT(tr_store_ingest(s, &st, 0, run_start(run, name, 1000000000LL * (i + 1))), 0);
        T_EQ_INT(tr_store_ingest(s, &st, 1, file_rec("/d/in", 1, 5)), 0);
    }
    T_OK(tr_store_commit(s));
    tr_store_close(s);
    const char *trail = tproc_bin("trail");
    char *out = NULL, *err = NULL;
    T_EQ_INT(TPROC(&out, &err, (char *)trail, "runs", "--store", db), 0);
    int lines = 0;
    for (char *p = out; p && *p; p++)
        lines += *p == '\n';
    T_EQ_INT(lines, 1 + 50 + 1); /* header, the page, the note */
    T_CHECK(out && strstr(out, "job119") && !strstr(out, "job069"));
    T_CHECK(out && strstr(out, "job119") < strstr(out, "job118")); /* newest first */
    T_CHECK(out && strstr(out, "70 more runs"));
    free(out);
    free(err);
    T_EQ_INT(TPROC(&out, &err, (char *)trail, "runs", "--store", db, "--limit", "5", "--json"), 0);
    T_EQ_INT(count_runs(out), 5);
    T_CHECK(out && !strstr(out, "\"inputs\"") && err && strstr(err, "115 more runs"));
    free(out);
    free(err);
    T_EQ_INT(
        TPROC(&out, &err, (char *)trail, "runs", "--store", db, "--limit", "2", "--json", "--full"),
        0);
    T_EQ_INT(count_runs(out), 2);
    T_CHECK(out && strstr(out, "\"inputs\"") && strstr(out, "/d/in"));
    free(out);
    free(err);
    T_EQ_INT(TPROC(&out, &err, (char *)trail, "runs", "--store", db, "--all", "--json"), 0);
    T_EQ_INT(count_runs(out), 120);
    T_CHECK(!err || !strstr(err, "more run"));
    free(out);
    free(err);
    T_EQ_INT(TPROC(&out, &err, (char *)trail, "runs", "--store", db, "--where",
                   "name like 'job00%'", "--limit", "3", "--json"),
             0);
    T_EQ_INT(count_runs(out), 3);
    T_CHECK(err && strstr(err, "more runs match"));
    free(out);
    free(err);
    T_EQ_INT(TPROC(&out, &err, (char *)trail, "runs", "--store", db, "--where", "name = 'nothing'",
                   "--json"),
             0);
    T_EQ_INT(count_runs(out), 0);
    free(out);
    free(err);
}

/* Hashing runs on a worker while the next batch is stored: after `trail run` and after
 * `trail sync` of a spool of several batches' worth of files, every version read has its hash
 * and it is the hash of those bytes (io_micro's files: 64 bytes of 'x' each); `trail sync`'s
 * --timeout is for a sync that stops moving. */
static void test_hashes_across_batches(void)
{
    enum { N = 12000 }; /* the store sink's batch is 5000 records: three batches */
    char files[160], spool[160], n[16];
    snprintf(files, sizeof files, "%s/files", dir);
    snprintf(spool, sizeof spool, "%s/spool", dir);
    snprintf(n, sizeof n, "%d", N);
    const char *io = tproc_test_bin("io_micro"), *trail = tproc_bin("trail");
    T_EQ_INT(TPROC(NULL, NULL, (char *)io, "setup", files, n), 0);
    for (int mode = 0; mode < 2; mode++) {
        snprintf(db, sizeof db, "%s/hash%d.db", dir, mode);
        char *err = NULL;
        if (mode == 0) {
            setenv("TRAIL_SPOOL_ROOT", spool, 1);
            T_EQ_INT(TPROC(NULL, &err, (char *)trail, "run", "--store", db, "--", (char *)io, "run",
                           files, n, n),
                     0);
        } else { /* the spool written by the shim alone, stored afterwards */
            char env[240], pre[4200];
            const char *lib = getenv("TRAIL_LIB");
            snprintf(env, sizeof env, "TRAIL_SPOOL=%s/%032x", spool, 0xabc);
            snprintf(pre, sizeof pre, "LD_PRELOAD=%s/libtrail_preload.so", lib ? lib : "build/lib");
            T_EQ_INT(TPROC(NULL, NULL, "env", pre, env,
                           "TRAIL_RUN_ID=00000000000000000000000000000abc", (char *)io, "run",
                           files, n, n),
                     0);
            /* interrupted part-way (a batch stored, its files' hashes in flight): the next sync
             * stores every hash all the same (they were kept in the spool, not dropped) */
            char sdb[300];
            snprintf(sdb, sizeof sdb, "%s/interrupted.db", dir);
            char cp[700];
            snprintf(cp, sizeof cp, "cp -a %s %s/spool-copy", spool, dir);
            T_EQ_INT(system(cp), 0);
            snprintf(cp, sizeof cp, "%s/spool-copy", dir);
            pid_t p = fork();
            if (p == 0) {
                int nul = open("/dev/null", O_WRONLY);
                dup2(nul, 2);
                execl(trail, trail, "sync", "--spool-root", cp, "--store", sdb, (char *)NULL);
                _exit(127);
            }
            T_ASSERT(p > 0);
            for (int i = 0; i < 400 && one_int_at(sdb, "SELECT count(*) FROM events") < 5000; i++)
                usleep(2000);
            kill(p, SIGINT);
            int ws;
            waitpid(p, &ws, 0);
            T_EQ_INT(TPROC(NULL, NULL, (char *)trail, "sync", "--spool-root", cp, "--store", sdb),
                     0);
            T_EQ_INT(
                one_int_at(sdb,
                           "SELECT count(*) FROM artifact_versions WHERE content_hash ="
                           " '7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c'"),
                N);
            /* a store locked by another process: said once, and the summary names it */
            tr_store *ls = open_rw();
            tr_store_close(ls);
            sqlite3 *h = NULL;
            T_ASSERT(sqlite3_open(db, &h) == SQLITE_OK);
            T_ASSERT(sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);
            setenv("TRAIL_BUSY_TIMEOUT_MS", "100", 1);
            T_EQ_INT(TPROC(NULL, &err, (char *)trail, "sync", "--spool-root", spool, "--store", db),
                     1);
            unsetenv("TRAIL_BUSY_TIMEOUT_MS");
            sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
            sqlite3_close(h);
            const char *first = err ? strstr(err, "locked by another process") : NULL;
            if (!first || strstr(first + 1, "locked by another process") ||
                !strstr(err, "records stay in the spool: store "))
                T_FAIL("%s", err ? err : "");
            free(err);
            /* a sink that takes nothing is given up on after --timeout, saying why, and the
             * spool is kept; one that takes batches is not, however short --timeout is */
            T_EQ_INT(TPROC(NULL, &err, (char *)trail, "sync", "--spool-root", spool, "--collector",
                           "tcp://127.0.0.1:9", "--timeout", "0.3"),
                     1);
            if (!err || !strstr(err, "not fully delivered, records stay in the spool: collector"))
                T_FAIL("%s", err);
            free(err);
            T_EQ_INT(TPROC(NULL, &err, (char *)trail, "sync", "--spool-root", spool, "--store", db,
                           "--timeout", "0.01"),
                     0);
        }
        free(err);
        T_EQ_INT(one_int("SELECT count(*) FROM artifact_versions v JOIN artifacts a ON a.id ="
                         " v.artifact_id WHERE a.path LIKE '%/files/f%'"),
                 N);
        T_EQ_INT(
            one_int(
                "SELECT count(*) FROM artifact_versions v JOIN artifacts a ON a.id ="
                " v.artifact_id WHERE a.path LIKE '%/files/f%' AND length(v.content_hash) = 64"),
            N);
        T_EQ_INT(
            one_int(
                "SELECT count(*) FROM artifact_versions WHERE content_hash = '7ce100971f64e7001e8fe"
                "5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c'"),
            N);
    }
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/trail-perf-XXXXXX");
    T_ASSERT(mkdtemp(dir) != NULL);
    snprintf(db, sizeof db, "%s/store.db", dir);
    T_RUN(test_batch_bookkeeping);
    T_RUN(test_hash_known);
    T_RUN(test_runs_paging);
    T_RUN(test_hashes_across_batches);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", dir);
    return T_DONE();
}
