/* store_sql.h - every SQL text of the store: schema migrations and prepared statements. */
#ifndef TR_STORE_SQL_H
#define TR_STORE_SQL_H

#include "console_sql.h"
#include "deps_sql.h"
#include "lineage_sql.h"
#include "mlflow_sql.h"
#include "outbox_sql.h"
#include "pg_sql.h"
#include "prefetch_sql.h"
#include "procs_sql.h"
#include "settle_sql.h"

/* PRAGMA application_id of a trail store: "trl1". */
#define TR_STORE_APP_ID 0x74726c31

/* Schema v1, in ML Metadata terms: runs are contexts, processes executions, files artifacts
 * (a path) with versions (a fingerprint), events link versions to processes.
 * NaN: SQLite stores a NaN REAL as NULL, so metrics.special says what value means:
 * 0 finite (value holds it), 1 NaN (value NULL), 2 +Inf, 3 -Inf (value holds +-Inf too). */
#define TR_SQL_SCHEMA_V1                                                                           \
    "CREATE TABLE runs ("                                                                          \
    " id TEXT PRIMARY KEY, experiment TEXT, name TEXT,"                                            \
    " status TEXT NOT NULL DEFAULT 'running', exit_code INTEGER, signal INTEGER,"                  \
    " argv TEXT, cwd TEXT, host TEXT, user TEXT, pid INTEGER,"                                     \
    " started_ns INTEGER, ended_ns INTEGER,"                                                       \
    " utime_us INTEGER, stime_us INTEGER, maxrss_kb INTEGER, created_by TEXT);"                    \
    "CREATE INDEX runs_name ON runs(name, started_ns);"                                            \
    "CREATE INDEX runs_started ON runs(started_ns);"                                               \
    "CREATE INDEX runs_experiment ON runs(experiment, started_ns);"                                \
    "CREATE TABLE processes ("                                                                     \
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, pid INTEGER NOT NULL,"           \
    " ppid INTEGER, argv TEXT, cwd TEXT, exe TEXT, uid INTEGER, host TEXT,"                        \
    " started_ns INTEGER, ended_ns INTEGER, exit_code INTEGER, signal INTEGER,"                    \
    " utime_us INTEGER, stime_us INTEGER, maxrss_kb INTEGER, backtrace TEXT,"                      \
    " PRIMARY KEY (run_id, pid));"                                                                 \
    "CREATE TABLE params ("                                                                        \
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, key TEXT NOT NULL, value TEXT,"  \
    " PRIMARY KEY (run_id, key));"                                                                 \
    "CREATE TABLE metrics ("                                                                       \
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, key TEXT NOT NULL,"              \
    " step INTEGER NOT NULL DEFAULT 0, value REAL, special INTEGER NOT NULL DEFAULT 0,"            \
    " time_ns INTEGER, stream_id TEXT, seq INTEGER);"                                              \
    "CREATE INDEX metrics_run_key ON metrics(run_id, key, step, time_ns);"                         \
    "CREATE TABLE tags ("                                                                          \
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, key TEXT NOT NULL, value TEXT,"  \
    " PRIMARY KEY (run_id, key));"                                                                 \
    "CREATE TABLE env ("                                                                           \
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, pid INTEGER NOT NULL DEFAULT 0," \
    " name TEXT NOT NULL, value TEXT, redacted INTEGER NOT NULL DEFAULT 0,"                        \
    " PRIMARY KEY (run_id, pid, name));"                                                           \
    "CREATE TABLE streams ("                                                                       \
    " id TEXT PRIMARY KEY, run_id TEXT, pid INTEGER, host TEXT, hwm INTEGER NOT NULL,"             \
    " first_ns INTEGER, last_ns INTEGER);"                                                         \
    "CREATE INDEX streams_run ON streams(run_id);"                                                 \
    "CREATE TABLE artifacts (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);"                  \
    "CREATE TABLE artifact_versions ("                                                             \
    " id INTEGER PRIMARY KEY, artifact_id INTEGER NOT NULL REFERENCES artifacts(id),"              \
    " dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER, content_hash TEXT,"                \
    " UNIQUE (artifact_id, dev, ino, size, mtime_ns));"                                            \
    "CREATE TABLE events ("                                                                        \
    " id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"         \
    " pid INTEGER, version_id INTEGER NOT NULL REFERENCES artifact_versions(id),"                  \
    " role TEXT NOT NULL CHECK (role IN ('input', 'output', 'inout')), flags INTEGER,"             \
    " bytes_read INTEGER, bytes_written INTEGER, mmap INTEGER NOT NULL DEFAULT 0,"                 \
    " start_ns INTEGER, end_ns INTEGER, source TEXT);"                                             \
    "CREATE INDEX events_run ON events(run_id, role);"                                             \
    "CREATE INDEX events_version ON events(version_id, role);"                                     \
    "CREATE TABLE file_ops ("                                                                      \
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, pid INTEGER,"                    \
    " op TEXT NOT NULL, path TEXT, path2 TEXT, time_ns INTEGER);"                                  \
    "CREATE INDEX file_ops_run ON file_ops(run_id, time_ns);"                                      \
    "CREATE INDEX file_ops_path ON file_ops(path);"                                                \
    "CREATE TABLE deps ("                                                                          \
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, pid INTEGER NOT NULL DEFAULT 0," \
    " path TEXT NOT NULL, kind TEXT, PRIMARY KEY (run_id, pid, path));"

/* Schema v2, lineage (collector/lineage.c): a version carries the version it came from
 * (origin_id: the source of a rename or link, or a written version of identical content for a
 * version nobody wrote; origin_kind rename|link|hash) and the run that removed it from its path
 * (unlink, or renamed away: removed_op). Indexes serve the recursive lineage walks, version
 * matching without dev, and hash twins. Node-local paths are stored as "host:/path". */
#define TR_SQL_SCHEMA_V2                                                                           \
    "ALTER TABLE artifact_versions ADD COLUMN origin_id INTEGER"                                   \
    " REFERENCES artifact_versions(id);"                                                           \
    "ALTER TABLE artifact_versions ADD COLUMN origin_kind TEXT;"                                   \
    "ALTER TABLE artifact_versions ADD COLUMN removed_run TEXT;"                                   \
    "ALTER TABLE artifact_versions ADD COLUMN removed_op TEXT;"                                    \
    "CREATE INDEX versions_match ON artifact_versions(artifact_id, ino, size, mtime_ns);"          \
    "CREATE INDEX versions_hash ON artifact_versions(artifact_id, content_hash)"                   \
    " WHERE content_hash IS NOT NULL;"                                                             \
    "CREATE INDEX versions_origin ON artifact_versions(origin_id) WHERE origin_id IS NOT NULL;"    \
    "DROP INDEX events_version;"                                                                   \
    "CREATE INDEX events_version ON events(version_id, role, run_id);"                             \
    "DROP INDEX events_run;"                                                                       \
    "CREATE INDEX events_run ON events(run_id, role, version_id);"                                 \
    "CREATE INDEX file_ops_run_path ON file_ops(run_id, path, time_ns);"

/* Schema v10, ingest: the agent's settle of an open whose close was already stored finds that
 * close by its open time (LN_OPEN_CLOSED): an integer key that grows with time, so an insert
 * appends at the index's right edge, where events_run made it scan every event of the run. */
#define TR_SQL_SCHEMA_V10 "CREATE INDEX IF NOT EXISTS events_start ON events(start_ns);"

/* Migration i (1-based) brings user_version from i-1 to i; the identity check and every
 * missing migration run in one transaction (store.c migrate).
 * Append only: a released migration is never edited. */
#define TR_SQL_MIGRATIONS                                                                          \
    {                                                                                              \
        TR_SQL_SCHEMA_V1, TR_SQL_SCHEMA_V2, TR_SQL_SCHEMA_V3 /* procs_sql.h */,                    \
            TR_SQL_SCHEMA_V4 /* console_sql.h */, TR_SQL_SCHEMA_V5 /* lineage_sql.h */,            \
            TR_SQL_SCHEMA_V6 /* settle_sql.h */, TR_SQL_SCHEMA_V7 /* mlflow_sql.h */,              \
            TR_SQL_SCHEMA_V8 /* settle_sql.h */, TR_SQL_SCHEMA_V9 /* outbox_sql.h */,              \
            TR_SQL_SCHEMA_V10, TR_SQL_SCHEMA_V11 /* mlflow_sql.h */,                               \
            TR_SQL_SCHEMA_V12 /* outbox_sql.h */                                                   \
    }

/* Open-time checks. */
#define TR_SQL_PROBE "SELECT count(*) FROM sqlite_master"
#define TR_SQL_USER_TABLES                                                                         \
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "      \
    "ESCAPE '\\'"
#define TR_SQL_APP_ID "PRAGMA application_id"
#define TR_SQL_USER_VERSION "PRAGMA user_version"
#define TR_SQL_SET_APP_ID "PRAGMA application_id = 1953655857" /* TR_STORE_APP_ID */
#define TR_SQL_SET_USER_VERSION_FMT "PRAGMA user_version = %d"
#define TR_SQL_WAL "PRAGMA journal_mode = WAL"
#define TR_SQL_RW_PRAGMAS "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
#define TR_SQL_RO_PRAGMAS "PRAGMA foreign_keys = ON; PRAGMA query_only = ON;"
#define TR_SQL_BEGIN "BEGIN IMMEDIATE"
#define TR_SQL_BEGIN_READ "BEGIN" /* a read transaction: one snapshot */
#define TR_SQL_COMMIT "COMMIT"
#define TR_SQL_ROLLBACK "ROLLBACK"

/* TR_METRIC_ROWS (store_int.h) rows of METRIC's nine parameters, numbered in order. */
#define TR_SQL_METRIC_ROW "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
#define TR_SQL_METRIC_ROWS4                                                                        \
    TR_SQL_METRIC_ROW ", " TR_SQL_METRIC_ROW ", " TR_SQL_METRIC_ROW ", " TR_SQL_METRIC_ROW
#define TR_SQL_METRIC_ROWS16                                                                       \
    TR_SQL_METRIC_ROWS4 ", " TR_SQL_METRIC_ROWS4 ", " TR_SQL_METRIC_ROWS4 ", " TR_SQL_METRIC_ROWS4

/* Prepared statements, prepared once on first use and kept in the tr_store: X(NAME, SQL). */
#define TR_STORE_STMTS(X)                                                                          \
    X(STREAM_HWM, "SELECT hwm FROM streams WHERE id = ?1")                                         \
    /* A stream's mark moves only forward, and only past what it held when the transaction read    \
     * it: ?7 is the first seq this transaction stores. A writer that finds the mark at or past    \
     * ?7 changes nothing (another writer stored those records meanwhile): its transaction must    \
     * roll back (ingest checks the change count). So each record is stored once by the            \
     * database's own rule, whatever lock a writer took or did not take. */                        \
    X(STREAM_UPSERT,                                                                               \
      "INSERT INTO streams (id, run_id, pid, host, hwm, first_ns, last_ns)"                        \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?8) ON CONFLICT (id) DO UPDATE SET hwm = excluded.hwm,"    \
      " first_ns = min(coalesce(first_ns, excluded.first_ns), excluded.first_ns),"                 \
      " last_ns = max(coalesce(last_ns, excluded.last_ns), excluded.last_ns)"                      \
      " WHERE streams.hwm < ?7")                                                                   \
    X(RUN_ENSURE, "INSERT INTO runs (id) VALUES (?1) ON CONFLICT (id) DO NOTHING")                 \
    X(RUN_START,                                                                                   \
      "INSERT INTO runs (id, experiment, name, argv, cwd, host, user, pid, started_ns, "           \
      "created_by)"                                                                                \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (id) DO UPDATE SET"           \
      " experiment = coalesce(excluded.experiment, experiment),"                                   \
      " name = coalesce(excluded.name, name), argv = coalesce(excluded.argv, argv),"               \
      " cwd = coalesce(excluded.cwd, cwd), host = coalesce(excluded.host, host),"                  \
      " user = coalesce(excluded.user, user), pid = coalesce(excluded.pid, pid),"                  \
      " started_ns = coalesce(excluded.started_ns, started_ns),"                                   \
      " created_by = coalesce(excluded.created_by, created_by)")                                   \
    X(RUN_META, "UPDATE runs SET experiment = coalesce(experiment, ?2), name = coalesce(name, ?3)" \
                " WHERE id = ?1")                                                                  \
    X(RUN_END,                                                                                     \
      "UPDATE runs SET status = ?2, exit_code = coalesce(?3, exit_code),"                          \
      " signal = coalesce(?4, signal), ended_ns = ?5, utime_us = coalesce(?6, utime_us),"          \
      " stime_us = coalesce(?7, stime_us), maxrss_kb = coalesce(?8, maxrss_kb) WHERE id = ?1")     \
    X(PARAM, "INSERT INTO params (run_id, key, value) VALUES (?1, ?2, ?3)"                         \
             " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value")                    \
    X(METRIC, "INSERT INTO metrics (run_id, key, step, value, special, time_ns, stream_id, seq,"   \
              " source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")                              \
    /* TR_METRIC_ROWS points in one statement (ingest_cache.c): most of a one-row insert's cost    \
     * is the statement's own (bind, step, halt, reset), not the row's. */                         \
    X(METRIC_ROWS, "INSERT INTO metrics (run_id, key, step, value, special, time_ns, stream_id,"   \
                   " seq, source) VALUES " TR_SQL_METRIC_ROWS16)                                   \
    X(TAG, "INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3)"                             \
           " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value")                      \
    X(ENV, "INSERT INTO env (run_id, pid, name, value, redacted) VALUES (?1, ?2, ?3, ?4, ?5)"      \
           " ON CONFLICT (run_id, pid, name) DO UPDATE SET value = excluded.value,"                \
           " redacted = excluded.redacted")                                                        \
    X(ARTIFACT_GET, "SELECT id FROM artifacts WHERE path = ?1")                                    \
    X(ARTIFACT_ADD, "INSERT INTO artifacts (path) VALUES (?1)")                                    \
    X(VERSION_GET,                                                                                 \
      "SELECT id FROM artifact_versions WHERE artifact_id = ?1 AND dev IS ?2 AND ino IS ?3"        \
      " AND size IS ?4 AND mtime_ns IS ?5")                                                        \
    X(VERSION_ADD, "INSERT INTO artifact_versions (artifact_id, dev, ino, size, mtime_ns)"         \
                   " VALUES (?1, ?2, ?3, ?4, ?5)")                                                 \
    X(EVENT,                                                                                       \
      "INSERT INTO events (run_id, pid, version_id, role, flags, bytes_read, bytes_written,"       \
      " mmap, start_ns, end_ns, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")    \
    X(DEP, "INSERT INTO deps (run_id, pid, path, kind) VALUES (?1, ?2, ?3, ?4)"                    \
           " ON CONFLICT (run_id, pid, path) DO UPDATE SET kind = coalesce(excluded.kind, kind)")  \
    X(FILEOP, "INSERT INTO file_ops (run_id, pid, op, path, path2, time_ns)"                       \
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                                  \
    X(Q_RUN_EXACT, "SELECT id FROM runs WHERE id = ?1")                                            \
    X(Q_RUN_PREFIX, "SELECT id FROM runs WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 2")          \
    X(Q_RUN_NAME,                                                                                  \
      "SELECT id FROM runs WHERE name = ?1 ORDER BY started_ns DESC NULLS LAST, rowid DESC"        \
      " LIMIT 1")                                                                                  \
    X(Q_RUN, "SELECT id, name, experiment, status, exit_code, signal, argv, cwd, host, user, pid," \
             " started_ns, ended_ns, utime_us, stime_us, maxrss_kb, created_by, dropped, damaged"  \
             " FROM runs WHERE id = ?1")                                                           \
    X(Q_RUNS, "SELECT id FROM runs WHERE (?1 IS NULL OR experiment = ?1)"                          \
              " ORDER BY started_ns DESC NULLS LAST, rowid DESC LIMIT ?2")                         \
    X(Q_PARAMS, "SELECT key, value FROM params WHERE run_id = ?1 ORDER BY key")                    \
    X(Q_TAGS, "SELECT key, value FROM tags WHERE run_id = ?1 ORDER BY key")                        \
    /* Last value per key without scanning every point: walk the distinct keys through the         \
     * index (a recursive skip-scan), then take the top (step, time) entry of each key. */         \
    X(Q_METRICS_LAST,                                                                              \
      "WITH RECURSIVE k(key) AS (SELECT min(key) FROM metrics WHERE run_id = ?1 UNION ALL"         \
      " SELECT (SELECT min(key) FROM metrics WHERE run_id = ?1 AND key > k.key) FROM k"            \
      " WHERE k.key IS NOT NULL)"                                                                  \
      " SELECT k.key, m.value, m.special FROM k JOIN metrics m ON m.rowid = (SELECT rowid"         \
      " FROM metrics WHERE run_id = ?1 AND key = k.key"                                            \
      " ORDER BY step DESC, time_ns DESC, rowid DESC LIMIT 1) ORDER BY k.key")                     \
    X(Q_METRICS_ALL, "SELECT key, step, value, special, time_ns, source FROM metrics"              \
                     " WHERE run_id = ?1"                                                          \
                     " ORDER BY key, step, time_ns, rowid")                                        \
    /* ?3 = 0 hides the run's temporaries (written, then unlinked or renamed away by the run, or   \
     * overwritten by its later write: an output's bytes are all the run wrote to the path) and    \
     * its reads of its own output (an explicit SDK input stays; an SDK declaration's bytes count  \
     * only where the shim saw no bytes of the file); path is "host:/path" for                     \
     * node-local files. An 'inout' event (stores before the shim split them) is the version the   \
     * run left: an output, never an input. An output also says how many times the run wrote the   \
     * path (writes: descriptions that wrote it, an SDK declaration only where the shim saw none)  \
     * and how many versions of it the run made. */                                                \
    X(Q_FILES, "SELECT a.path, v.dev, v.ino, v.size, v.mtime_ns, v.content_hash,"                  \
               " CASE WHEN ?2 = 'output' AND NOT ?3 THEN (SELECT sum(x.bytes_written)"             \
               " FROM events x JOIN artifact_versions w ON w.id = x.version_id"                    \
               " WHERE x.run_id = ?1 AND w.artifact_id = v.artifact_id"                            \
               " AND x.role IN ('output', 'inout') AND (x.source IS NOT 'sdk' OR NOT EXISTS"       \
               " (SELECT 1 FROM events y JOIN artifact_versions u ON u.id = y.version_id"          \
               " WHERE y.run_id = ?1 AND u.artifact_id = v.artifact_id AND y.source = 'shim'"      \
               " AND y.role IN ('output', 'inout'))))"                                             \
               " ELSE sum(CASE WHEN e.source = 'sdk' AND EXISTS (SELECT 1 FROM events y"           \
               " WHERE y.version_id = v.id AND y.run_id = ?1 AND y.source = 'shim') THEN 0"        \
               " WHEN ?2 = 'input' THEN e.bytes_read ELSE e.bytes_written END) END,"               \
               " v.removed_run IS ?1,"                                                             \
               " CASE WHEN ?2 = 'output' THEN (SELECT coalesce(nullif(sum(x.source IS NOT 'sdk')," \
               " 0), count(*)) FROM events x JOIN artifact_versions w ON w.id = x.version_id"      \
               " WHERE x.run_id = ?1 AND w.artifact_id = v.artifact_id"                            \
               " AND x.role IN ('output', 'inout')) END,"                                          \
               " CASE WHEN ?2 = 'output' THEN (SELECT count(DISTINCT x.version_id)"                \
               " FROM events x JOIN artifact_versions w ON w.id = x.version_id"                    \
               " WHERE x.run_id = ?1 AND w.artifact_id = v.artifact_id"                            \
               " AND x.role IN ('output', 'inout')) END FROM events e"                             \
               " JOIN artifact_versions v ON v.id = e.version_id"                                  \
               " JOIN artifacts a ON a.id = v.artifact_id"                                         \
               " WHERE e.run_id = ?1 AND (e.role = ?2 OR (?2 = 'output' AND e.role = 'inout'))"    \
               " AND (?3 OR (?2 = 'output' AND v.removed_run IS NOT ?1) OR (?2 = 'input'"          \
               " AND (e.source = 'sdk' OR NOT EXISTS"                                              \
               " (SELECT 1 FROM events o WHERE o.version_id = v.id AND o.run_id = ?1"              \
               " AND o.role IN ('output', 'inout')))))"                                            \
               " GROUP BY v.id, a.path ORDER BY a.path, min(e.start_ns), v.id")                    \
    X(Q_ENV, "SELECT name, value, redacted FROM env WHERE run_id = ?1 ORDER BY pid, name")         \
    TR_LINEAGE_STMTS(X)                                                                            \
    TR_PREFETCH_STMTS(X)                                                                           \
    TR_PROCS_STMTS(X)                                                                              \
    TR_DEPS_STMTS(X)                                                                               \
    TR_SETTLE_STMTS(X)                                                                             \
    TR_CONSOLE_STMTS(X)                                                                            \
    TR_MLFLOW_STMTS(X)                                                                             \
    TR_OUTBOX_STMTS(X)

/* Columns by name: Q_RUN (in the run document's order) ... */
enum tr_q_run_col {
    TR_COL_RUN_ID,
    TR_COL_RUN_NAME,
    TR_COL_RUN_EXPERIMENT,
    TR_COL_RUN_STATUS,
    TR_COL_RUN_EXIT_CODE,
    TR_COL_RUN_SIGNAL,
    TR_COL_RUN_ARGV,
    TR_COL_RUN_CWD,
    TR_COL_RUN_HOST,
    TR_COL_RUN_USER,
    TR_COL_RUN_PID,
    TR_COL_RUN_STARTED_NS,
    TR_COL_RUN_ENDED_NS,
    TR_COL_RUN_UTIME_US,
    TR_COL_RUN_STIME_US,
    TR_COL_RUN_MAXRSS_KB,
    TR_COL_RUN_CREATED_BY,
    TR_COL_RUN_DROPPED,
    TR_COL_RUN_DAMAGED,
};
/* ... Q_PARAMS, Q_TAGS, Q_METRICS_LAST (key, value[, special]) ... */
enum tr_q_kv_col { TR_COL_KV_KEY, TR_COL_KV_VALUE, TR_COL_KV_SPECIAL };
/* ... Q_METRICS_ALL ... */
enum tr_q_metrics_col {
    TR_COL_MET_KEY,
    TR_COL_MET_STEP,
    TR_COL_MET_VALUE,
    TR_COL_MET_SPECIAL,
    TR_COL_MET_TIME_NS,
    TR_COL_MET_SOURCE
};
/* ... Q_FILES ... */
enum tr_q_files_col {
    TR_COL_FILE_PATH,
    TR_COL_FILE_DEV,
    TR_COL_FILE_INO,
    TR_COL_FILE_SIZE,
    TR_COL_FILE_MTIME_NS,
    TR_COL_FILE_HASH,
    TR_COL_FILE_BYTES,
    TR_COL_FILE_TEMPORARY,
    TR_COL_FILE_WRITES,
    TR_COL_FILE_VERSIONS,
};
/* ... Q_ENV; the run-id lookups (Q_RUN_EXACT, Q_RUN_PREFIX, Q_RUN_NAME, Q_RUNS) give the id. */
enum tr_q_env_col { TR_COL_ENV_NAME, TR_COL_ENV_VALUE, TR_COL_ENV_REDACTED };
#define TR_COL_RUN_LOOKUP_ID 0

#endif
