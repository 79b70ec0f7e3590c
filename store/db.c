/* db.c - the statement layer's dispatch: each call goes to its connection's backend. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "db.h"

int tr_db_is_pg_url(const char *location)
{
    return location &&
           (!strncmp(location, "postgresql://", 13) || !strncmp(location, "postgres://", 11));
}

void tr_db_redact(const char *location, char *out, size_t n)
{
    snprintf(out, n, "%s", location ? location : "");
    if (!tr_db_is_pg_url(out)) return;
    char *auth = strstr(out, "://") + 3, *at = strchr(auth, '@'), *slash = strchr(auth, '/');
    char *colon = strchr(auth, ':');
    if (at && (!slash || at < slash) && colon && colon < at)
        memmove(colon, at, strlen(at) + 1); /* user:secret@ -> user@ */
    for (char *p = strstr(out, "password="); p; p = strstr(p + 1, "password=")) {
        char *v = p + 9, *end = strchr(v, '&');
        if (!end) end = v + strlen(v);
        memmove(v + 3, end, strlen(end) + 1);
        memcpy(v, "***", 3);
    }
}

int tr_db_open(const char *location, int flags, int busy_ms, const char *password, tr_db **out)
{
    *out = NULL;
    if (tr_db_is_pg_url(location)) return tr_db_pg_open(location, flags, busy_ms, password, out);
    return tr_db_sqlite_open(location, flags, busy_ms, out);
}

void tr_db_close(tr_db *db)
{
    if (db) db->ops->close(db);
}

enum tr_db_kind tr_db_kind(const tr_db *db)
{
    return db->kind;
}

const char *tr_db_errmsg(tr_db *db)
{
    return db ? db->ops->errmsg(db) : "out of memory";
}

const char *tr_db_errstr(int rc)
{
    switch (rc & 0xff) {
    case TR_DB_OK:
        return "not an error";
    case TR_DB_BUSY:
        return "database is locked";
    case TR_DB_LOCKED:
        return "database table is locked";
    case TR_DB_NOMEM:
        return "out of memory";
    case TR_DB_READONLY:
        return "attempt to write a readonly database";
    case TR_DB_IOERR:
        return "disk I/O error";
    case TR_DB_CORRUPT:
        return "database disk image is malformed";
    case TR_DB_FULL:
        return "database or disk is full";
    case TR_DB_CANTOPEN:
        return "unable to open database file";
    case TR_DB_TOOBIG:
        return "string or blob too big";
    case TR_DB_CONSTRAINT:
        return "constraint failed";
    case TR_DB_MISUSE:
        return "bad parameter or other API misuse";
    case TR_DB_RANGE:
        return "column index out of range";
    case TR_DB_NOTADB:
        return "file is not a database";
    case TR_DB_ROW:
        return "another row available";
    case TR_DB_DONE:
        return "no more rows available";
    default:
        return "SQL logic error";
    }
}

int tr_db_prepare(tr_db *db, const char *sql, int n, tr_dbst **out, const char **tail)
{
    *out = NULL;
    if (n >= 0 || tail) return TR_DB_MISUSE; /* whole NUL-terminated statements only */
    return db->ops->prepare(db, sql, 0, out);
}

int tr_db_prepare_persistent(tr_db *db, const char *sql, tr_dbst **out)
{
    *out = NULL;
    return db->ops->prepare(db, sql, 1, out);
}

int tr_db_finalize(tr_dbst *st)
{
    return st ? st->ops->finalize(st) : TR_DB_OK;
}

int tr_db_bind_int64(tr_dbst *st, int i, int64_t v)
{
    return st->ops->bind_int64(st, i, v);
}

int tr_db_bind_int(tr_dbst *st, int i, int v)
{
    return st->ops->bind_int64(st, i, v);
}

int tr_db_bind_double(tr_dbst *st, int i, double v)
{
    return st->ops->bind_double(st, i, v);
}

int tr_db_bind_null(tr_dbst *st, int i)
{
    return st->ops->bind_null(st, i);
}

int tr_db_bind_text(tr_dbst *st, int i, const char *p, int n, tr_db_destructor d)
{
    return st->ops->bind_text(st, i, p, n, d);
}

int tr_db_bind_blob(tr_dbst *st, int i, const void *p, int n, tr_db_destructor d)
{
    return st->ops->bind_blob(st, i, p, n, d);
}

int tr_db_step(tr_dbst *st)
{
    return st->ops->step(st);
}

int tr_db_reset(tr_dbst *st)
{
    return st->ops->reset(st);
}

int tr_db_clear_bindings(tr_dbst *st)
{
    return st->ops->clear_bindings(st);
}

int tr_db_column_type(tr_dbst *st, int i)
{
    return st->ops->column_type(st, i);
}

int64_t tr_db_column_int64(tr_dbst *st, int i)
{
    return st->ops->column_int64(st, i);
}

int tr_db_column_int(tr_dbst *st, int i)
{
    return (int)st->ops->column_int64(st, i);
}

double tr_db_column_double(tr_dbst *st, int i)
{
    return st->ops->column_double(st, i);
}

const unsigned char *tr_db_column_text(tr_dbst *st, int i)
{
    return st->ops->column_text(st, i);
}

const void *tr_db_column_blob(tr_dbst *st, int i)
{
    return st->ops->column_blob(st, i);
}

int tr_db_column_bytes(tr_dbst *st, int i)
{
    return st->ops->column_bytes(st, i);
}

int tr_db_column_count(tr_dbst *st)
{
    return st->ops->column_count(st);
}

const char *tr_db_column_name(tr_dbst *st, int i)
{
    return st->ops->column_name(st, i);
}

int tr_db_exec(tr_db *db, const char *sql, void *cb, void *arg, char **errmsg)
{
    if (cb || arg || errmsg) return TR_DB_MISUSE;
    return db->ops->exec(db, sql);
}

int tr_db_changes(tr_db *db)
{
    return db->ops->changes(db);
}

int64_t tr_db_total_changes64(tr_db *db)
{
    return db->ops->total_changes(db);
}

int64_t tr_db_round_trips(tr_db *db)
{
    return db->ops->round_trips ? db->ops->round_trips(db) : -1;
}

int64_t tr_db_last_insert_rowid(tr_db *db)
{
    return db->ops->last_insert_rowid(db);
}

int tr_db_get_autocommit(tr_db *db)
{
    return db->ops->get_autocommit(db);
}
