/* raw_sqlite.c - the ingest baseline: the store's row shapes inserted with one prepared
 * statement, batched transactions, WAL and the store's synchronous setting. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

/* The same tables and indexes a stored metric point or file event lands in (store_sql.h),
 * without the foreign keys and the lookups of the rows they point to. */
static const char *const schema_metric =
    "CREATE TABLE metrics (run_id TEXT NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL"
    " DEFAULT 0, value REAL, special INTEGER NOT NULL DEFAULT 0, time_ns INTEGER,"
    " stream_id TEXT, seq INTEGER);"
    "CREATE INDEX metrics_run_key ON metrics(run_id, key, step, time_ns);";
static const char *const insert_metric =
    "INSERT INTO metrics (run_id, key, step, value, special, time_ns, stream_id, seq)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char *const schema_file =
    "CREATE TABLE events (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, pid INTEGER,"
    " version_id INTEGER NOT NULL, role TEXT NOT NULL, flags INTEGER, bytes_read INTEGER,"
    " bytes_written INTEGER, mmap INTEGER NOT NULL DEFAULT 0, start_ns INTEGER,"
    " end_ns INTEGER, source TEXT);"
    "CREATE INDEX events_run ON events(run_id, role, version_id);"
    "CREATE INDEX events_version ON events(version_id, role, run_id);";
static const char *const insert_file =
    "INSERT INTO events (run_id, pid, version_id, role, flags, bytes_read, bytes_written,"
    " mmap, start_ns, end_ns, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(sqlite3 *db, int rc, const char *what)
{
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return;
    fprintf(stderr, "raw_sqlite: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[2], "metric") && strcmp(argv[2], "file"))) {
        fprintf(stderr, "usage: raw_sqlite DB metric|file N [BATCH]\n");
        return 2;
    }
    const char *path = argv[1];
    int metric = !strcmp(argv[2], "metric");
    long n = atol(argv[3]), batch = argc > 4 ? atol(argv[4]) : 5000;
    if (n <= 0 || batch <= 0) return 2;
    remove(path);
    sqlite3 *db;
    check(NULL, sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
          "open");
    check(
        db,
        sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", NULL, NULL, NULL),
        "pragmas");
    check(db, sqlite3_exec(db, metric ? schema_metric : schema_file, NULL, NULL, NULL), "schema");
    sqlite3_stmt *st;
    check(db, sqlite3_prepare_v2(db, metric ? insert_metric : insert_file, -1, &st, NULL),
          "prepare");
    const char *run = "0123456789abcdef0123456789abcdef",
               *stream = "fedcba9876543210fedcba9876543210";
    double t0 = now_s();
    int64_t t = 1795846439000000000LL;
    for (long i = 0; i < n; i++) {
        if (i % batch == 0)
            check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), "begin");
        sqlite3_bind_text(st, 1, run, 32, SQLITE_STATIC);
        if (metric) {
            sqlite3_bind_text(st, 2, "loss", 4, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, i);
            sqlite3_bind_double(st, 4, 1.0 / (double)(i + 1));
            sqlite3_bind_int(st, 5, 0);
            sqlite3_bind_int64(st, 6, t + i);
            sqlite3_bind_text(st, 7, stream, 32, SQLITE_STATIC);
            sqlite3_bind_int64(st, 8, i);
        } else {
            sqlite3_bind_int64(st, 2, 4242);
            sqlite3_bind_int64(st, 3, i % 100 + 1);
            sqlite3_bind_text(st, 4, "input", 5, SQLITE_STATIC);
            sqlite3_bind_int64(st, 5, 0);
            sqlite3_bind_int64(st, 6, 4096);
            sqlite3_bind_null(st, 7);
            sqlite3_bind_int(st, 8, 0);
            sqlite3_bind_int64(st, 9, t + i);
            sqlite3_bind_int64(st, 10, t + i + 1);
            sqlite3_bind_null(st, 11);
        }
        check(db, sqlite3_step(st), "insert");
        sqlite3_reset(st);
        if (i % batch == batch - 1 || i == n - 1)
            check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    }
    double dt = now_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    printf("rows=%ld secs=%.6f rows_per_s=%.0f\n", n, dt, (double)n / dt);
    return 0;
}
