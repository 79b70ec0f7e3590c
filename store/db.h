/* db.h - the store's statement layer: one prepare/bind/step/column contract, two backends. */
#ifndef TR_DB_H
#define TR_DB_H

/* The store was written against SQLite's C API; this layer keeps that shape (prepare once,
 * bind, step row by row, read columns, reset) so every store module runs unchanged on either
 * backend: db_sqlite.c passes straight through to SQLite, db_pg.c implements the same contract
 * over libpq (statements translated from SQLite's dialect by db_pgsql.c, where a statement
 * needs more than translation it has a PostgreSQL text of its own in the *_sql.h headers).
 * Result codes have SQLite's values, so an error is judged the same way on both. */

#include <stddef.h>
#include <stdint.h>

typedef struct tr_db tr_db;
typedef struct tr_dbst tr_dbst;

enum {
    TR_DB_OK = 0,
    TR_DB_ERROR = 1,
    TR_DB_BUSY = 5,
    TR_DB_LOCKED = 6,
    TR_DB_NOMEM = 7,
    TR_DB_READONLY = 8,
    TR_DB_IOERR = 10,
    TR_DB_CORRUPT = 11,
    TR_DB_FULL = 13,
    TR_DB_CANTOPEN = 14,
    TR_DB_TOOBIG = 18,
    TR_DB_CONSTRAINT = 19,
    TR_DB_MISUSE = 21,
    TR_DB_RANGE = 25,
    TR_DB_NOTADB = 26,
    TR_DB_ROW = 100,
    TR_DB_DONE = 101,
};

/* Column types (tr_db_column_type). */
enum { TR_DB_INTEGER = 1, TR_DB_FLOAT = 2, TR_DB_TEXT = 3, TR_DB_BLOB = 4, TR_DB_NULL = 5 };

/* Text and blob binds: STATIC (the bytes live until the statement is reset) or TRANSIENT
 * (copied at bind time). */
typedef void (*tr_db_destructor)(void *);
#define TR_DB_STATIC ((tr_db_destructor)0)
#define TR_DB_TRANSIENT ((tr_db_destructor)-1)

/* SQL text that begins with this is PostgreSQL's own (parameters $N): not rewritten. */
#define TR_PG_NATIVE "/*pg*/"

/* Backends. */
enum tr_db_kind { TR_DB_KIND_SQLITE, TR_DB_KIND_PG };

#define TR_DB_OPEN_READONLY 0x1
/* Whether a store location names a PostgreSQL database (postgresql:// or postgres://). */
int tr_db_is_pg_url(const char *location);
/* location as it may be shown: a URL's password (user:PASSWORD@, password=...) blanked. */
void tr_db_redact(const char *location, char *out, size_t n);
/* Opens location (a file path, or a PostgreSQL URL) with TR_DB_OPEN_* flags; *out is set even
 * on failure, when it holds the error message (tr_db_errmsg), and must be closed. busy_ms: how
 * long a statement waits for another writer's lock. password: NULL, or the password to use
 * for a PostgreSQL URL (never put on a command line). */
int tr_db_open(const char *location, int flags, int busy_ms, const char *password, tr_db **out);
void tr_db_close(tr_db *db);
enum tr_db_kind tr_db_kind(const tr_db *db);
const char *tr_db_errmsg(tr_db *db);
const char *tr_db_errstr(int rc);

/* n < 0: sql up to its NUL. tail must be NULL (one statement each). persistent: the statement
 * is kept for the store's lifetime (prepared server-side by PostgreSQL). */
int tr_db_prepare(tr_db *db, const char *sql, int n, tr_dbst **out, const char **tail);
int tr_db_prepare_persistent(tr_db *db, const char *sql, tr_dbst **out);
int tr_db_finalize(tr_dbst *st);
int tr_db_bind_int64(tr_dbst *st, int i, int64_t v);
int tr_db_bind_int(tr_dbst *st, int i, int v);
int tr_db_bind_double(tr_dbst *st, int i, double v);
int tr_db_bind_null(tr_dbst *st, int i);
int tr_db_bind_text(tr_dbst *st, int i, const char *p, int n, tr_db_destructor d);
int tr_db_bind_blob(tr_dbst *st, int i, const void *p, int n, tr_db_destructor d);
/* TR_DB_ROW (columns readable until the next step or reset), TR_DB_DONE, or an error code. */
int tr_db_step(tr_dbst *st);
int tr_db_reset(tr_dbst *st);
int tr_db_clear_bindings(tr_dbst *st);
int tr_db_column_type(tr_dbst *st, int i);
int64_t tr_db_column_int64(tr_dbst *st, int i);
int tr_db_column_int(tr_dbst *st, int i);
double tr_db_column_double(tr_dbst *st, int i);
/* NULL for a NULL column. */
const unsigned char *tr_db_column_text(tr_dbst *st, int i);
const void *tr_db_column_blob(tr_dbst *st, int i);
int tr_db_column_bytes(tr_dbst *st, int i);
/* The result's columns: how many, and each one's name (after the first step). */
int tr_db_column_count(tr_dbst *st);
const char *tr_db_column_name(tr_dbst *st, int i);

/* Runs SQL without parameters, possibly several statements; cb, arg and errmsg must be NULL
 * (the signature is SQLite's, so call sites read alike). */
int tr_db_exec(tr_db *db, const char *sql, void *cb, void *arg, char **errmsg);
/* Rows changed by the last INSERT, UPDATE or DELETE. tr_db_total_changes64: a count that
 * moves whenever a statement may have changed rows, asked without waiting for the server
 * (SQLite: rows changed since open; PostgreSQL: rows its synchronous writes changed plus one
 * for each pipelined write sent). */
int tr_db_changes(tr_db *db);
int64_t tr_db_total_changes64(tr_db *db);
/* Round trips to the server since open (PostgreSQL); -1 for an embedded backend. */
int64_t tr_db_round_trips(tr_db *db);
/* The id the last INSERT gave its row (SQLite's rowid; PostgreSQL: the last identity value). */
int64_t tr_db_last_insert_rowid(tr_db *db);
/* 1 outside a transaction. */
int tr_db_get_autocommit(tr_db *db);

/* 1 when text p[0..n) bound on db reads back as the same bytes; 0 on a UTF8 PostgreSQL
 * database when it is not UTF-8 (such bytes are stored escaped, the same way each time). */
int tr_db_text_verbatim(tr_db *db, const char *p, size_t n);

/* PostgreSQL's COPY ... FROM STDIN in text format (trail store copy): begin with the COPY
 * statement, give each row's values in column order and end each row, then end the copy (its
 * errors, a bad row's included, come back here). TR_DB_MISUSE on other backends. */
int tr_db_copy_begin(tr_db *db, const char *sql);
void tr_db_copy_null(tr_db *db);
void tr_db_copy_int(tr_db *db, int64_t v);
void tr_db_copy_double(tr_db *db, double v);
void tr_db_copy_text(tr_db *db, const char *p, size_t n);
void tr_db_copy_blob(tr_db *db, const void *p, size_t n);
int tr_db_copy_row_end(tr_db *db);
int tr_db_copy_end(tr_db *db);

/* ---- Backend entry points (db.c dispatches to these through a table) ---- */
struct tr_db_ops {
    int (*prepare)(tr_db *db, const char *sql, int persistent, tr_dbst **out);
    int (*finalize)(tr_dbst *st);
    int (*bind_int64)(tr_dbst *st, int i, int64_t v);
    int (*bind_double)(tr_dbst *st, int i, double v);
    int (*bind_null)(tr_dbst *st, int i);
    int (*bind_text)(tr_dbst *st, int i, const char *p, int n, tr_db_destructor d);
    int (*bind_blob)(tr_dbst *st, int i, const void *p, int n, tr_db_destructor d);
    int (*step)(tr_dbst *st);
    int (*reset)(tr_dbst *st);
    int (*clear_bindings)(tr_dbst *st);
    int (*column_type)(tr_dbst *st, int i);
    int64_t (*column_int64)(tr_dbst *st, int i);
    double (*column_double)(tr_dbst *st, int i);
    const unsigned char *(*column_text)(tr_dbst *st, int i);
    const void *(*column_blob)(tr_dbst *st, int i);
    int (*column_bytes)(tr_dbst *st, int i);
    int (*column_count)(tr_dbst *st);
    const char *(*column_name)(tr_dbst *st, int i);
    int (*exec)(tr_db *db, const char *sql);
    int (*changes)(tr_db *db);
    int64_t (*total_changes)(tr_db *db);
    int64_t (*round_trips)(tr_db *db); /* NULL: no server */
    int64_t (*last_insert_rowid)(tr_db *db);
    int (*get_autocommit)(tr_db *db);
    const char *(*errmsg)(tr_db *db);
    void (*close)(tr_db *db);
};

/* Every connection and statement begins with these. */
struct tr_db {
    const struct tr_db_ops *ops;
    enum tr_db_kind kind;
};
struct tr_dbst {
    const struct tr_db_ops *ops;
    tr_db *db;
};

int tr_db_sqlite_open(const char *path, int flags, int busy_ms, tr_db **out);
int tr_db_pg_open(const char *url, int flags, int busy_ms, const char *password, tr_db **out);

#endif
