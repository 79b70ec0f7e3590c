/* outbox_sql.h - SQL of the OpenLineage outbox (outbox.c): the runs whose end traild has still to
 * send to each --openlineage-url, kept in the store so a restart loses and repeats nothing. */
#ifndef TR_OUTBOX_SQL_H
#define TR_OUTBOX_SQL_H

/* Schema v9. A target is an endpoint traild emits to; from its registration on, a run whose
 * status becomes an end (or another end: a lost run settled later) is queued for every target by
 * the trigger, whichever path wrote the status (RUN_END, settle, close, the MLflow API). A row
 * leaves the outbox when all of the run's events were answered 2xx. */
#define TR_SQL_SCHEMA_V9                                                                           \
    "CREATE TABLE openlineage_targets (url TEXT PRIMARY KEY, since_ns INTEGER);"                   \
    "CREATE TABLE openlineage_outbox ("                                                            \
    " seq INTEGER PRIMARY KEY, url TEXT NOT NULL,"                                                 \
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, status TEXT,"                    \
    " UNIQUE (url, run_id));"                                                                      \
    "CREATE TRIGGER openlineage_queue AFTER UPDATE OF status ON runs"                              \
    " WHEN NEW.status <> 'running' AND NEW.status IS NOT OLD.status"                               \
    " AND EXISTS (SELECT 1 FROM openlineage_targets) BEGIN"                                        \
    " INSERT OR REPLACE INTO openlineage_outbox (url, run_id, status)"                             \
    " SELECT url, NEW.id, NEW.status FROM openlineage_targets; END;"

#define TR_OUTBOX_STMTS(X)                                                                         \
    X(OL_TARGET, "INSERT INTO openlineage_targets (url, since_ns) VALUES (?1, ?2)"                 \
                 " ON CONFLICT (url) DO NOTHING")                                                  \
    X(OL_NEXT, "SELECT seq, run_id FROM openlineage_outbox WHERE url = ?1 ORDER BY seq LIMIT 1")   \
    X(OL_PENDING, "SELECT count(*) FROM openlineage_outbox WHERE url = ?1")                        \
    X(OL_DONE, "DELETE FROM openlineage_outbox WHERE seq = ?1")

enum tr_ol_next_col { TR_COL_OL_SEQ, TR_COL_OL_RUN };

#endif
