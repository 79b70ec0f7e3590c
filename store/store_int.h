/* store_int.h - internals shared by store.c, ingest.c and query.c (not a public header). */
#ifndef TR_STORE_INT_H
#define TR_STORE_INT_H

#include <sqlite3.h>

#include "store.h"
#include "store_sql.h"

enum tr_stmt_id {
#define TR_STMT_ENUM(name, sql) TR_STMT_##name,
    TR_STORE_STMTS(TR_STMT_ENUM)
#undef TR_STMT_ENUM
        TR_STMT_COUNT
};

struct tr_store {
    sqlite3 *db;
    char *path;
    int flags;
    int in_tx;       /* inside tr_store_begin .. commit/rollback */
    int tx_broken;   /* TRAIL_E* of a failed ingest inside the caller's batch: commit returns it */
    int64_t skipped; /* records of unknown types or without required fields */
    char err[512];
    sqlite3_stmt *stmt[TR_STMT_COUNT];
};

/* The prepared statement id, prepared on first use; NULL on error (message in s->err). */
sqlite3_stmt *tr_store_stmt(tr_store *s, enum tr_stmt_id id);
/* Steps st to completion, then resets it and clears its bindings; 0 or TRAIL_E*. */
int tr_store_step_done(tr_store *s, sqlite3_stmt *st);
/* Steps a statement whose parameters were bound with errors collected in *brc: a failed
 * bind fails it (and clears *brc) without stepping. */
int tr_store_step_bound(tr_store *s, int *brc, sqlite3_stmt *st);
/* Sets s->err to "store PATH: WHAT: sqlite message" and returns the TRAIL_E* code for rc. */
int tr_store_sqlerr(tr_store *s, int rc, const char *what);
/* Sets s->err to "store PATH: MESSAGE" and returns code. */
int tr_store_fail(tr_store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps an SQLite result code to TRAIL_E*. */
int tr_store_code(int sqlite_rc);

/* Enrichment records (ingest_enrich.c): 0 stored or nothing to do, 1 malformed (skipped),
 * or TRAIL_E*. host is the stream's (node-local paths), run NUL-terminated. */
int tr_store_ingest_hash(tr_store *s, const char *host, const tr_rec *rec);
int tr_store_ingest_dep_info(tr_store *s, const char *run, const tr_rec *rec);

#endif
