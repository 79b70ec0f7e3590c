/* db_sqlite.c - the statement layer over SQLite: a thin pass-through to its C API. */
#include <stdlib.h>

#include <pthread.h>
#include <sqlite3.h>

#include "db.h"

typedef struct {
    tr_db base;
    sqlite3 *db;
} lite_db;

typedef struct {
    tr_dbst base;
    sqlite3_stmt *st;
} lite_st;

#define LDB(d) (((lite_db *)(d))->db)
#define LST(s) (((lite_st *)(s))->st)

static sqlite3_destructor_type destructor(tr_db_destructor d)
{
    return d == TR_DB_TRANSIENT ? SQLITE_TRANSIENT : SQLITE_STATIC;
}

static const struct tr_db_ops lite_ops;

static int lite_prepare(tr_db *db, const char *sql, int persistent, tr_dbst **out)
{
    lite_st *s = calloc(1, sizeof *s);
    if (!s) return TR_DB_NOMEM;
    int rc = sqlite3_prepare_v3(LDB(db), sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0,
                                &s->st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(s->st);
        free(s);
        return rc;
    }
    s->base.ops = &lite_ops;
    s->base.db = db;
    *out = &s->base;
    return TR_DB_OK;
}

static int lite_finalize(tr_dbst *st)
{
    int rc = sqlite3_finalize(LST(st));
    free(st);
    return rc;
}

static int lite_bind_int64(tr_dbst *st, int i, int64_t v)
{
    return sqlite3_bind_int64(LST(st), i, v);
}

static int lite_bind_double(tr_dbst *st, int i, double v)
{
    return sqlite3_bind_double(LST(st), i, v);
}

static int lite_bind_null(tr_dbst *st, int i)
{
    return sqlite3_bind_null(LST(st), i);
}

static int lite_bind_text(tr_dbst *st, int i, const char *p, int n, tr_db_destructor d)
{
    return sqlite3_bind_text(LST(st), i, p, n, destructor(d));
}

static int lite_bind_blob(tr_dbst *st, int i, const void *p, int n, tr_db_destructor d)
{
    return sqlite3_bind_blob(LST(st), i, p, n, destructor(d));
}

static int lite_step(tr_dbst *st)
{
    return sqlite3_step(LST(st));
}

static int lite_reset(tr_dbst *st)
{
    return sqlite3_reset(LST(st));
}

static int lite_clear_bindings(tr_dbst *st)
{
    return sqlite3_clear_bindings(LST(st));
}

static int lite_column_type(tr_dbst *st, int i)
{
    return sqlite3_column_type(LST(st), i); /* SQLite's type codes are the layer's */
}

static int64_t lite_column_int64(tr_dbst *st, int i)
{
    return sqlite3_column_int64(LST(st), i);
}

static double lite_column_double(tr_dbst *st, int i)
{
    return sqlite3_column_double(LST(st), i);
}

static const unsigned char *lite_column_text(tr_dbst *st, int i)
{
    return sqlite3_column_text(LST(st), i);
}

static const void *lite_column_blob(tr_dbst *st, int i)
{
    return sqlite3_column_blob(LST(st), i);
}

static int lite_column_bytes(tr_dbst *st, int i)
{
    return sqlite3_column_bytes(LST(st), i);
}

static int lite_column_count(tr_dbst *st)
{
    return sqlite3_column_count(LST(st));
}

static const char *lite_column_name(tr_dbst *st, int i)
{
    return sqlite3_column_name(LST(st), i);
}

static int lite_exec(tr_db *db, const char *sql)
{
    return sqlite3_exec(LDB(db), sql, NULL, NULL, NULL);
}

static int lite_changes(tr_db *db)
{
    return sqlite3_changes(LDB(db));
}

static int64_t lite_total_changes(tr_db *db)
{
    return sqlite3_total_changes64(LDB(db));
}

static int64_t lite_last_insert_rowid(tr_db *db)
{
    return sqlite3_last_insert_rowid(LDB(db));
}

static int lite_get_autocommit(tr_db *db)
{
    return sqlite3_get_autocommit(LDB(db));
}

static const char *lite_errmsg(tr_db *db)
{
    return LDB(db) ? sqlite3_errmsg(LDB(db)) : "out of memory";
}

static void lite_close(tr_db *db)
{
    sqlite3_close(LDB(db));
    free(db);
}

static const struct tr_db_ops lite_ops = {
    .prepare = lite_prepare,
    .finalize = lite_finalize,
    .bind_int64 = lite_bind_int64,
    .bind_double = lite_bind_double,
    .bind_null = lite_bind_null,
    .bind_text = lite_bind_text,
    .bind_blob = lite_bind_blob,
    .step = lite_step,
    .reset = lite_reset,
    .clear_bindings = lite_clear_bindings,
    .column_type = lite_column_type,
    .column_int64 = lite_column_int64,
    .column_double = lite_column_double,
    .column_text = lite_column_text,
    .column_blob = lite_column_blob,
    .column_bytes = lite_column_bytes,
    .column_count = lite_column_count,
    .column_name = lite_column_name,
    .exec = lite_exec,
    .changes = lite_changes,
    .total_changes = lite_total_changes,
    .last_insert_rowid = lite_last_insert_rowid,
    .get_autocommit = lite_get_autocommit,
    .errmsg = lite_errmsg,
    .close = lite_close,
};

/* No memory statistics: with them every allocation SQLite makes takes a process-wide mutex
 * (4% of a FILE-record sync), and nothing here reads them. Set before SQLite initializes;
 * refused (SQLITE_MISUSE) if something in the process initialized it first. */
static void lite_config(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int tr_db_sqlite_open(const char *path, int flags, int busy_ms, tr_db **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, lite_config);
    lite_db *d = calloc(1, sizeof *d);
    *out = NULL;
    if (!d) return TR_DB_NOMEM;
    d->base.ops = &lite_ops;
    d->base.kind = TR_DB_KIND_SQLITE;
    *out = &d->base;
    /* NOMUTEX: a handle is used by one thread at a time (store.h), SQLite's own locks are waste. */
    int oflags = ((flags & TR_DB_OPEN_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                 SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &d->db, oflags, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_extended_result_codes(d->db, 1);
    sqlite3_busy_timeout(d->db, busy_ms);
    return TR_DB_OK;
}
