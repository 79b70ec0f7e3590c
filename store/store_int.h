/* store_int.h - internals shared by store.c, ingest.c and query.c (not a public header). */
#ifndef TR_STORE_INT_H
#define TR_STORE_INT_H

#include "db.h"

#include "record.h"
#include "store.h"
#include "store_sql.h"

enum tr_stmt_id {
#define TR_STMT_ENUM(name, sql) TR_STMT_##name,
    TR_STORE_STMTS(TR_STMT_ENUM)
#undef TR_STMT_ENUM
        TR_STMT_COUNT
};

struct tr_store {
    tr_db *db;
    char *path;      /* as given: a file, or a PostgreSQL URL */
    char shown[512]; /* as shown in messages: a URL's password left out */
    int pg;          /* a PostgreSQL store */
    int flags;
    int in_tx;       /* inside tr_store_begin .. commit/rollback */
    int in_read;     /* inside tr_store_read_begin .. end */
    int tx_broken;   /* TRAIL_E* of a failed ingest inside the caller's batch: commit returns it */
    int64_t skipped; /* records of unknown types or without required fields */
    char err[512];
    tr_dbst *stmt[TR_STMT_COUNT];
    struct tr_ingest_cache *ic;   /* ingest's per-transaction bookkeeping (ingest_cache.c) */
    struct tr_sdk_keys *sdk_keys; /* SDK metric keys marked in this transaction (console.c) */
    struct tr_prefetch *pf;       /* a batch's look-ups noted ahead (ingest_prefetch.c) */
    struct tr_fresh *fresh;       /* versions the last commit added, unhashed (ingest_fresh.c) */
};

/* The prepared statement id, prepared on first use; NULL on error (message in s->err). */
tr_dbst *tr_store_stmt(tr_store *s, enum tr_stmt_id id);
/* Steps st to completion, then resets it and clears its bindings; 0 or TRAIL_E*. */
int tr_store_step_done(tr_store *s, tr_dbst *st);

/* ---- Statement helpers (store.c), the one way the store binds and steps: a statement is
 * prepared once (tr_store_stmt) and cycled bind -> step -> reset. Binds remember the first
 * error, which then fails the step without running it. Column indexes are named beside each
 * statement's SQL (*_sql.h). ---- */
typedef struct tr_stmt {
    tr_store *s;
    tr_dbst *st;
    int rc; /* the first failed bind; TR_DB_OK when none */
} tr_stmt;

/* Starts statement id; 0 or TRAIL_ESTORE (message in s->err). */
int tr_stmt_begin(tr_stmt *q, tr_store *s, enum tr_stmt_id id);
void tr_bind_int(tr_stmt *q, int i, int64_t v);
void tr_bind_double(tr_stmt *q, int i, double v);
void tr_bind_null(tr_stmt *q, int i);
/* Text p[0..n), bound TR_DB_STATIC (it must live until the reset); NULL p binds NULL. */
void tr_bind_text(tr_stmt *q, int i, const char *p, size_t n);
/* A C string; NULL or "" binds NULL. */
void tr_bind_cstr(tr_stmt *q, int i, const char *p);
/* A record's integer or string field; NULL when the record has none. */
void tr_bind_field_int(tr_stmt *q, int i, const tr_rec *r, uint16_t id);
void tr_bind_field_str(tr_stmt *q, int i, const tr_rec *r, uint16_t id);
/* Keeps rc as the statement's error unless one is kept already. */
void tr_bind_note(tr_stmt *q, int rc);
/* Steps to the end, then resets and clears the bindings; 0 or TRAIL_E*. */
int tr_stmt_done(tr_stmt *q);
/* Steps once: 1 on a row (columns readable until tr_stmt_reset), 0 at the end, or TRAIL_E*
 * (both reset already). */
int tr_stmt_row(tr_stmt *q);
/* One-row lookup: *found, and column 0 into *out (may be NULL) when found; reset after. */
int tr_stmt_row_int(tr_stmt *q, int *found, int64_t *out);
void tr_stmt_reset(tr_stmt *q);
/* A row id looked up with `get`, inserted with `add` when missing; bind(q, arg) binds the same
 * parameters on both statements. 0 with *id, or TRAIL_E*. */
int tr_stmt_get_or_add(tr_store *s, enum tr_stmt_id get, enum tr_stmt_id add,
                       void (*bind)(tr_stmt *q, const void *arg), const void *arg, int64_t *id);
/* ---- JSON helpers (store.c) for the store's documents: cJSON reports allocation failure as a
 * NULL item; these remember it in *oom, and the document is then given up as TRAIL_ENOMEM. ---- */
struct cJSON;
/* Adds item to parent: under key to an object, appended to an array. A NULL item or parent
 * sets *oom (item is freed). */
void tr_json_add(struct cJSON *parent, const char *key, struct cJSON *item, int *oom);
/* item itself; *oom = 1 when it is NULL. */
struct cJSON *tr_json_chk(struct cJSON *item, int *oom);
/* Column i of st as a JSON string, number or RFC 3339 time; null when the column is NULL. */
struct cJSON *tr_json_col_text(tr_dbst *st, int i);
struct cJSON *tr_json_col_int(tr_dbst *st, int i);
struct cJSON *tr_json_col_time(tr_dbst *st, int i);
/* A time in ns since the epoch as an RFC 3339 string. */
struct cJSON *tr_json_time(int64_t ns);

/* Sets s->err to "store PATH: WHAT: sqlite message" and returns the TRAIL_E* code for rc. */
int tr_store_sqlerr(tr_store *s, int rc, const char *what);
/* Sets s->err to "store PATH: MESSAGE" and returns code. */
int tr_store_fail(tr_store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps an SQLite result code to TRAIL_E*. */
int tr_store_code(int sqlite_rc);

/* Whether this transaction marked run's metric key as SDK-logged already (console.c); the
 * marks are forgotten when a transaction ends, freed at close. */
int tr_store_sdk_key_seen(tr_store *s, const char *run, size_t runlen, const char *key,
                          size_t keylen);
void tr_store_sdk_keys_forget(tr_store *s);
void tr_store_sdk_keys_free(tr_store *s);

/* Enrichment records (ingest_enrich.c): 0 stored or nothing to do, 1 malformed (skipped),
 * or TRAIL_E*. host is the stream's (node-local paths), run NUL-terminated. */
int tr_store_ingest_hash(tr_store *s, const char *host, const tr_rec *rec);
int tr_store_ingest_dep_info(tr_store *s, const char *run, const tr_rec *rec);

/* ---- Ingest's per-transaction bookkeeping (ingest_cache.c): stream marks written once at
 * commit, runs known to exist, artifact ids; all forgotten when the transaction ends. ---- */
typedef struct tr_ingest_cache tr_ingest_cache;
/* A stream's mark as this transaction sees it (-1 when it has none). */
int tr_ingest_stream_hwm(tr_store *s, const char *stream_id, int64_t *hwm);
/* Record seq (time_ns) of st was ingested: the mark moves to seq, written at commit unless
 * `written` (the caller upserted the stream's row with this record itself). 0 or TRAIL_E*. */
int tr_ingest_stream_mark(tr_store *s, const tr_stream *st, int64_t seq, int64_t time_ns,
                          int written);
/* After a STREAM_UPSERT: 0 when it moved the mark, TRAIL_EBUSY when the mark had moved past
 * this transaction's first record meanwhile (another writer stored them: roll back). */
int tr_ingest_stream_moved(tr_store *s, const char *stream_id);
/* Writes the marks of the streams ingested into (before commit): 0 or TRAIL_E*. */
int tr_ingest_cache_flush(tr_store *s);
/* Forgets everything (commit done, or rollback); free at close. */
void tr_ingest_cache_forget(tr_store *s);
void tr_ingest_cache_free(tr_store *s);
/* Whether run[0..n) has a row (seen in this transaction); note that it has one. */
int tr_ingest_run_known(tr_store *s, const char *run, size_t n);
void tr_ingest_run_seen(tr_store *s, const char *run, size_t n);
/* The artifact id of key, added when new (remembered); *fresh is 1 when added by this call. */
int tr_ingest_artifact(tr_store *s, const char *key, int64_t *id, int *fresh);
/* The version of artifact with rec's fingerprint, added when new (remembered); fresh: the
 * artifact was added just now (no version to look for). */
int tr_ingest_version(tr_store *s, int64_t artifact, int fresh, const tr_rec *rec, int64_t *id);
/* A version ingest added (of a new artifact: rec's fingerprint), remembered until the next
 * commit after this transaction's (tr_store_hash_known); tr_fresh_end at commit (1) or
 * rollback (0). */
void tr_fresh_note(tr_store *s, const char *key, const tr_rec *rec);
void tr_fresh_note_fp(tr_store *s, const char *key, const int64_t fp[3]); /* ino, size, mtime */
void tr_fresh_end(tr_store *s, int committed);
void tr_fresh_free(tr_store *s);
/* Metric points are inserted TR_METRIC_ROWS at a time (METRIC_ROWS): tr_ingest_metric keeps
 * one (copying its text); tr_ingest_metrics_flush inserts what is kept, which commit does and
 * tr_store_stmt does before any other statement (so every statement sees the points ingested
 * before it); a rollback drops them. 0 or TRAIL_E*. */
#define TR_METRIC_ROWS 16
int tr_ingest_metric(tr_store *s, const char *run, size_t runlen, const char *key, size_t keylen,
                     int64_t step, double v, int special, int64_t time_ns, const char *stream,
                     int64_t seq, const char *src, size_t srclen);
int tr_ingest_metrics_pending(const tr_store *s);
int tr_ingest_metrics_flush(tr_store *s);
/* Forgets the remembered versions: a lineage step may have dropped one. */
void tr_ingest_versions_forget(tr_store *s);
/* What a batch's look-ups found ahead of its records (ingest_prefetch.c): artifact and
 * version ids put into the cache, and asked of it. */
void tr_ingest_artifact_put(tr_store *s, const char *key, int64_t id);
/* key had no artifact row when the batch's look-ups ran: ingest adds it without asking (an
 * artifact added meanwhile, by lineage, is put in the cache, which is asked first). */
void tr_ingest_artifact_missing(tr_store *s, const char *key);
int tr_ingest_artifact_cached(tr_store *s, const char *key, int64_t *id);
typedef struct tr_vkey { /* what a version is matched by: ino, size, mtime_ns, each if present */
    int64_t v[3];
    unsigned char has[3];
} tr_vkey;
void tr_vkey_of(const tr_rec *rec, tr_vkey *k);
void tr_ingest_version_put(tr_store *s, int64_t artifact, const tr_vkey *fp, int64_t id);
int tr_ingest_version_cached(tr_store *s, int64_t artifact, const tr_vkey *fp, int64_t *id);
/* Whether run has settled opens (events with ended set: FILE_SETTLE), asked once per
 * transaction; ingest of a FILE_SETTLE notes that it has (tr_ingest_run_settles). */
int tr_ingest_run_settled(tr_store *s, const char *run, size_t n, int *has);
void tr_ingest_run_settles(tr_store *s, const char *run, size_t n);
/* Whether run has renames, links or unlinks stored (LN_LATER_OPS could find one), asked once a
 * transaction; ingest of a FILEOP notes that it has (tr_ingest_run_moved). */
int tr_ingest_run_moves(tr_store *s, const char *run, size_t n, int *has);
void tr_ingest_run_moved(tr_store *s, const char *run, size_t n);
void tr_prefetch_free(tr_store *s);

#endif
