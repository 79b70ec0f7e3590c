/* settle_sql.h - SQL of the trust schema (migration 6): run liveness, stream owners; statements
 * of store/settle.c and the ownership rules of store/ingest.c. */
#ifndef TR_SETTLE_SQL_H
#define TR_SETTLE_SQL_H

/* Schema v6. A run started by `trail run` names its launcher: pid, start time (clock ticks
 * since boot, /proc/PID/stat field 22) and the boot id, and its root process's start time, so
 * the next delivery on that host can tell a dead launcher from a live one (store/settle.c).
 * owner_uid is the uid owning the spool directory the run's first stream came from;
 * agent_host the host of the agent that delivered it to traild. A stream records its uid and
 * which agent delivered it (host, fingerprint of the agent's token). A partial older store may
 * lack streams: it is created first, so the migration never needs it. */
#define TR_SQL_SCHEMA_V6                                                                           \
    "CREATE TABLE IF NOT EXISTS streams (id TEXT PRIMARY KEY, run_id TEXT, pid INTEGER,"           \
    " host TEXT, hwm INTEGER NOT NULL, first_ns INTEGER, last_ns INTEGER);"                        \
    "ALTER TABLE runs ADD COLUMN launcher_pid INTEGER;"                                            \
    "ALTER TABLE runs ADD COLUMN launcher_start INTEGER;"                                          \
    "ALTER TABLE runs ADD COLUMN root_start INTEGER;"                                              \
    "ALTER TABLE runs ADD COLUMN boot_id TEXT;"                                                    \
    "ALTER TABLE runs ADD COLUMN owner_uid INTEGER;"                                               \
    "ALTER TABLE runs ADD COLUMN agent_host TEXT;"                                                 \
    "ALTER TABLE streams ADD COLUMN uid INTEGER;"                                                  \
    "ALTER TABLE streams ADD COLUMN agent_host TEXT;"                                              \
    "ALTER TABLE streams ADD COLUMN agent_token TEXT;"                                             \
    "CREATE INDEX runs_unsettled ON runs(host) WHERE status IN ('running', 'lost');"

#define TR_SETTLE_STMTS(X)                                                                         \
    X(RUN_LAUNCHER, "UPDATE runs SET launcher_pid = ?2, launcher_start = ?3, root_start = ?4,"     \
                    " boot_id = ?5 WHERE id = ?1")                                                 \
    /* Runs of host ?1 not settled yet: running, or lost while their root's end may come. */       \
    X(SETTLE_CANDIDATES, "SELECT id, status, pid, launcher_pid, launcher_start, root_start,"       \
                         " boot_id FROM runs WHERE status IN ('running', 'lost') AND host = ?1"    \
                         " AND launcher_pid IS NOT NULL ORDER BY rowid")                           \
    X(SETTLE_ROOT_END, "SELECT exit_code, signal, ended_ns FROM processes WHERE run_id = ?1"       \
                       " AND pid = ?2 AND ended_ns IS NOT NULL")                                   \
    /* the time of the run's last record: the stream of a RUN_SETTLE (?2) is not the run's */      \
    X(SETTLE_LAST_NS, "SELECT max(last_ns) FROM streams WHERE run_id = ?1 AND id IS NOT ?2")       \
    /* a RUN_SETTLE record's run, when it is not settled yet */                                    \
    X(SETTLE_RUN_ROW, "SELECT status, pid FROM runs WHERE id = ?1"                                 \
                      " AND status IN ('running', 'lost')")                                        \
    /* DROPPED records: the counts of records a run's writers lost, and of damaged spool frames    \
     * the agent skipped, add up in the run's row */                                               \
    X(DROPPED_ADD, "UPDATE runs SET dropped = dropped + ?2, damaged = damaged + ?3 WHERE id = ?1") \
    X(SETTLE_UPDATE,                                                                               \
      "UPDATE runs SET status = ?2, exit_code = coalesce(?3, exit_code),"                          \
      " signal = coalesce(?4, signal), ended_ns = coalesce(?5, ended_ns)"                          \
      " WHERE id = ?1 AND status IN ('running', 'lost') AND NOT (status IS ?2"                     \
      " AND exit_code IS coalesce(?3, exit_code) AND signal IS coalesce(?4, signal)"               \
      " AND ended_ns IS coalesce(?5, ended_ns))")                                                  \
    /* ownership: the first stream of a run names its owner uid and delivering agent host */       \
    X(RUN_OWNER, "SELECT owner_uid, agent_host FROM runs WHERE id = ?1")                           \
    X(RUN_OWNER_SET, "UPDATE runs SET owner_uid = coalesce(owner_uid, ?2),"                        \
                     " agent_host = coalesce(agent_host, ?3) WHERE id = ?1")                       \
    X(STREAM_AGENT, "UPDATE streams SET uid = ?2, agent_host = ?3, agent_token = ?4 WHERE id = "   \
                    "?1")

/* Schema v8: records lost by a run's writers and damaged frames skipped, as columns of the run
 * (a tag, trail.dropped, could be overwritten by `trail tag`); the old tag's total moves in. */
#define TR_SQL_SCHEMA_V8                                                                           \
    "ALTER TABLE runs ADD COLUMN dropped INTEGER NOT NULL DEFAULT 0;"                              \
    "ALTER TABLE runs ADD COLUMN damaged INTEGER NOT NULL DEFAULT 0;" /* a partial older store may \
                                                                         lack tags: v1's           \
                                                                         definition, so the move   \
                                                                         below always runs */      \
    "CREATE TABLE IF NOT EXISTS tags ("                                                            \
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, key TEXT NOT NULL, value TEXT,"  \
    " PRIMARY KEY (run_id, key));"                                                                 \
    "UPDATE runs SET dropped = coalesce((SELECT CAST(value AS INTEGER) FROM tags t"                \
    " WHERE t.run_id = runs.id AND t.key = 'trail.dropped'), 0);"                                  \
    "DELETE FROM tags WHERE key = 'trail.dropped';"

/* Column indexes. */
enum {
    TR_SETTLE_C_ID,
    TR_SETTLE_C_STATUS,
    TR_SETTLE_C_PID,
    TR_SETTLE_C_LPID,
    TR_SETTLE_C_LSTART,
    TR_SETTLE_C_RSTART,
    TR_SETTLE_C_BOOT
};
enum { TR_ROOT_END_C_EXIT, TR_ROOT_END_C_SIGNAL, TR_ROOT_END_C_ENDED };
enum { TR_SETTLE_ROW_C_STATUS, TR_SETTLE_ROW_C_PID };
enum { TR_OWNER_C_UID, TR_OWNER_C_AGENT_HOST };

#endif
