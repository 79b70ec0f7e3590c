/* console_sql.h - SQL of the console schema (migration 4): a run's stdout/stderr chunks, the
 * source of each metric point, and the keys a run logs through the SDK (store/console.c). */
#ifndef TR_CONSOLE_SQL_H
#define TR_CONSOLE_SQL_H

/* Schema v4. console: one row per chunk of a stream, keyed by the offset of its first byte
 * in everything the command wrote to that stream (so a chunk delivered twice is stored once);
 * cut counts the bytes left out just before the chunk (over the cap: head and tail kept).
 * metrics.source: "console" (parsed from the console), "system" (sampled by the launcher),
 * NULL or "sdk" (logged by the program). metric_sdk_keys: the keys a run logged other than
 * from the console; console points of such a key are dropped (never doubled). A partial
 * older store may lack metrics: it is created first, so the migration never needs it. */
#define TR_SQL_SCHEMA_V4                                                                           \
    "CREATE TABLE IF NOT EXISTS metrics (run_id TEXT NOT NULL, key TEXT NOT NULL,"                 \
    " step INTEGER NOT NULL DEFAULT 0, value REAL, special INTEGER NOT NULL DEFAULT 0,"            \
    " time_ns INTEGER, stream_id TEXT, seq INTEGER);"                                              \
    "CREATE TABLE console ("                                                                       \
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"                                 \
    " stream TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr')), offset INTEGER NOT NULL,"       \
    " cut INTEGER NOT NULL DEFAULT 0, data BLOB NOT NULL, time_ns INTEGER,"                        \
    " PRIMARY KEY (run_id, stream, offset));"                                                      \
    "ALTER TABLE metrics ADD COLUMN source TEXT;"                                                  \
    "CREATE INDEX metrics_console ON metrics(run_id, key) WHERE source = 'console';"               \
    "CREATE TABLE metric_sdk_keys ("                                                               \
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, key TEXT NOT NULL,"              \
    " PRIMARY KEY (run_id, key)) WITHOUT ROWID;"

#define TR_CONSOLE_STMTS(X)                                                                        \
    X(CON_ADD, "INSERT INTO console (run_id, stream, offset, cut, data, time_ns)"                  \
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (run_id, stream, offset) DO NOTHING") \
    X(CON_SDK_KEY, "INSERT INTO metric_sdk_keys (run_id, key) VALUES (?1, ?2)"                     \
                   " ON CONFLICT (run_id, key) DO NOTHING")                                        \
    X(CON_SDK_KEY_GET, "SELECT 1 FROM metric_sdk_keys WHERE run_id = ?1 AND key = ?2")             \
    X(CON_DROP_CONSOLE, "DELETE FROM metrics WHERE run_id = ?1 AND key = ?2"                       \
                        " AND source = 'console'")                                                 \
    /* chunks after rowid ?3 in delivery order (both streams interleaved as written), ?2 NULL:     \
     * both streams */                                                                             \
    X(Q_CONSOLE, "SELECT rowid, stream, offset, cut, data FROM console WHERE run_id = ?1"          \
                 " AND (?2 IS NULL OR stream = ?2) AND rowid > ?3 ORDER BY rowid")                 \
    X(Q_RUN_STATUS, "SELECT status FROM runs WHERE id = ?1")                                       \
    /* the last chunks of one stream, newest first */                                              \
    X(Q_CONSOLE_LAST, "SELECT data, cut FROM console WHERE run_id = ?1 AND stream = ?2"            \
                      " ORDER BY offset DESC LIMIT ?3")

/* Columns of Q_CONSOLE ... */
enum tr_q_console_col {
    TR_COL_CON_ROWID,
    TR_COL_CON_STREAM,
    TR_COL_CON_OFFSET,
    TR_COL_CON_CUT,
    TR_COL_CON_DATA
};
/* ... and of Q_CONSOLE_LAST. */
enum tr_q_console_last_col { TR_COL_CONL_DATA, TR_COL_CONL_CUT };

#endif
