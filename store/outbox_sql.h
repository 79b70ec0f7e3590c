/* outbox_sql.h - SQL of the OpenLineage outbox (outbox.c): the runs whose end traild has still to
 * send to each --openlineage-url, kept in the store so a restart loses and repeats nothing. */
#ifndef TR_OUTBOX_SQL_H
#define TR_OUTBOX_SQL_H

/* Schema v9. A target is an endpoint traild emits to; from its registration on, a run whose
 * status becomes an end (or another end: a lost run settled later) is queued for every target by
 * the trigger, whichever path wrote the status (RUN_END, settle, close, the MLflow API). A row
 * leaves the outbox when all of the run's events were answered 2xx. */
#define TR_SQL_SCHEMA_V9 TR_SQL_SCHEMA_V9_TABLES TR_SQL_SCHEMA_V9_TRIGGER
#define TR_SQL_SCHEMA_V9_TABLES                                                                    \
    "CREATE TABLE openlineage_targets (url TEXT PRIMARY KEY, since_ns INTEGER);"                   \
    "CREATE TABLE openlineage_outbox ("                                                            \
    " seq INTEGER PRIMARY KEY, url TEXT NOT NULL,"                                                 \
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, status TEXT,"                    \
    " UNIQUE (url, run_id));"
#define TR_SQL_SCHEMA_V9_TRIGGER                                                                   \
    "CREATE TRIGGER openlineage_queue AFTER UPDATE OF status ON runs"                              \
    " WHEN NEW.status <> 'running' AND NEW.status IS NOT OLD.status"                               \
    " AND EXISTS (SELECT 1 FROM openlineage_targets) BEGIN"                                        \
    " INSERT OR REPLACE INTO openlineage_outbox (url, run_id, status)"                             \
    " SELECT url, NEW.id, NEW.status FROM openlineage_targets; END;"

/* Schema v12: a row stays once sent (state 'sent', with the end status sent), so a run whose
 * status flaps (MLflow: FINISHED, RUNNING, FINISHED) is not queued again for the same end; a run
 * a target refused for good (4xx, tries times) is 'parked', kept with the answer (last_error),
 * and the next is sent. queued_ns dates a row for the outbox's age cap. */
#define TR_SQL_SCHEMA_V12                                                                          \
    TR_SQL_SCHEMA_V12_COLUMNS TR_SQL_SCHEMA_V12_QUEUED TR_SQL_SCHEMA_V12_INDEX                     \
        TR_SQL_SCHEMA_V12_TRIGGER
#define TR_SQL_SCHEMA_V12_COLUMNS                                                                  \
    "ALTER TABLE openlineage_outbox ADD COLUMN state TEXT NOT NULL DEFAULT 'queued';"              \
    "ALTER TABLE openlineage_outbox ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;"                  \
    "ALTER TABLE openlineage_outbox ADD COLUMN queued_ns INTEGER;"                                 \
    "ALTER TABLE openlineage_outbox ADD COLUMN last_error TEXT;"
#define TR_SQL_SCHEMA_V12_QUEUED                                                                   \
    "UPDATE openlineage_outbox SET queued_ns ="                                                    \
    " CAST((julianday('now') - 2440587.5) * 86400000000000.0 AS INTEGER);"
#define TR_SQL_SCHEMA_V12_INDEX                                                                    \
    "CREATE INDEX openlineage_outbox_state ON openlineage_outbox(url, state, seq);"
#define TR_SQL_SCHEMA_V12_TRIGGER                                                                  \
    "DROP TRIGGER openlineage_queue;"                                                              \
    "CREATE TRIGGER openlineage_queue AFTER UPDATE OF status ON runs"                              \
    " WHEN NEW.status <> 'running' AND NEW.status IS NOT OLD.status"                               \
    " AND EXISTS (SELECT 1 FROM openlineage_targets) BEGIN"                                        \
    " INSERT INTO openlineage_outbox (url, run_id, status, queued_ns)"                             \
    " SELECT url, NEW.id, NEW.status,"                                                             \
    " CAST((julianday('now') - 2440587.5) * 86400000000000.0 AS INTEGER)"                          \
    " FROM openlineage_targets WHERE true"                                                         \
    " ON CONFLICT (url, run_id) DO UPDATE SET status = excluded.status, state = 'queued',"         \
    " tries = 0, last_error = NULL, queued_ns = excluded.queued_ns"                                \
    " WHERE openlineage_outbox.status IS NOT excluded.status; END;"

#define TR_OUTBOX_STMTS(X)                                                                         \
    X(OL_TARGET, "INSERT INTO openlineage_targets (url, since_ns) VALUES (?1, ?2)"                 \
                 " ON CONFLICT (url) DO NOTHING")                                                  \
    /* targets other than ?1 (NULL: every one) and what was queued for them */                     \
    X(OL_DROP_ROWS, "DELETE FROM openlineage_outbox WHERE url IS NOT ?1")                          \
    X(OL_DROP_TARGETS, "DELETE FROM openlineage_targets WHERE url IS NOT ?1")                      \
    X(OL_NEXT, "SELECT seq, run_id, status, tries FROM openlineage_outbox"                         \
               " WHERE url = ?1 AND state = 'queued' ORDER BY seq LIMIT 1")                        \
    X(OL_PENDING, "SELECT count(*) FROM openlineage_outbox WHERE url = ?1 AND state = 'queued'")   \
    /* ?1 seq, ?2 the status sent: a run queued again meanwhile for another end stays queued */    \
    X(OL_DONE, "UPDATE openlineage_outbox SET state = 'sent', tries = tries + 1,"                  \
               " last_error = NULL WHERE seq = ?1 AND status IS ?2")                               \
    /* ?1 seq, ?2 the answer, ?3 1 to park it */                                                   \
    X(OL_FAILED, "UPDATE openlineage_outbox SET tries = tries + 1, last_error = ?2,"               \
                 " state = CASE WHEN ?3 THEN 'parked' ELSE state END WHERE seq = ?1")              \
    /* the caps: rows not sent queued before ?1, then all but the newest ?2 of them */             \
    X(OL_DROP_OLD, "DELETE FROM openlineage_outbox WHERE state <> 'sent'"                          \
                   " AND coalesce(queued_ns, 0) < ?1")                                             \
    X(OL_DROP_OVER, "DELETE FROM openlineage_outbox WHERE state <> 'sent' AND seq NOT IN"          \
                    " (SELECT seq FROM openlineage_outbox WHERE state <> 'sent'"                   \
                    " ORDER BY seq DESC LIMIT ?1)")                                                \
    /* the record of what was sent (so an end is not sent twice): as long and as many */           \
    X(OL_TRIM_SENT, "DELETE FROM openlineage_outbox WHERE state = 'sent' AND"                      \
                    " (coalesce(queued_ns, 0) < ?1 OR seq NOT IN (SELECT seq FROM"                 \
                    " openlineage_outbox WHERE state = 'sent' ORDER BY seq DESC LIMIT ?2))")

enum tr_ol_next_col { TR_COL_OL_SEQ, TR_COL_OL_RUN, TR_COL_OL_STATUS, TR_COL_OL_TRIES };

#endif
