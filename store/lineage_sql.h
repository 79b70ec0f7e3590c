/* lineage_sql.h - every SQL text of the lineage module: version matching, renames, hashes, walks.
 */
#ifndef TR_LINEAGE_SQL_H
#define TR_LINEAGE_SQL_H

/* Producers of a version: runs with an output (or inout) event on it. "Own" checks keep reads
 * of a run's own output intra-run, so they never become a run-graph edge. */
#define TR_LN_PRODUCED "e.role IN ('output', 'inout')"
#define TR_LN_PRODUCED_O "o.role IN ('output', 'inout')"
/* What setting a version's hash needs of it (columns tr_ln_hash_info_col): its hash, origin,
 * artifact, then 0 when its artifact has no other version (no twin to look for), else 2 when a
 * run wrote it and 1 when none did (asked only then: two probes of events_version, as an IN
 * list on role costs SQLite an ephemeral table per execution), whether a version has it as
 * origin (none: no family to carry the hash to) and its id. */
#define TR_LN_HASH_INFO                                                                            \
    "SELECT v.content_hash, v.origin_id, v.origin_kind, v.artifact_id, CASE WHEN NOT EXISTS"       \
    " (SELECT 1 FROM artifact_versions w WHERE w.artifact_id = v.artifact_id AND w.id <> v.id)"    \
    " THEN 0 WHEN EXISTS (SELECT 1 FROM events e WHERE e.version_id = v.id AND e.role = 'output')" \
    " OR EXISTS (SELECT 1 FROM events e WHERE e.version_id = v.id AND e.role = 'inout') THEN 2"    \
    " ELSE 1 END, CASE WHEN EXISTS (SELECT 1 FROM artifact_versions c WHERE c.origin_id = v.id)"   \
    " THEN 1 ELSE 0 END, v.id"

/* Walk rows: (k, id, d, pk, pid): node kind 'r' (run id) or 'v' (version id), its depth in
 * edges from the start, and the node it was reached from. Each term reads walk once
 * (SQLite >= 3.34 allows several recursive terms); UNION drops repeated rows, the depth bound
 * ?3 ends cycles between concurrent runs; rows of one depth come in a fixed order (the same on
 * every backend: pg_sql.h). Upstream: version -> runs that wrote it or its
 * origin (a rename/link source or a written twin of identical content); run -> versions it
 * read that it did not write itself. */
#define TR_LN_WALK_UP                                                                              \
    "WITH RECURSIVE walk(k, id, d, pk, pid) AS (SELECT ?1, ?2, 0, NULL, NULL"                      \
    " UNION SELECT 'r', e.run_id, w.d + 1, 'v', w.id FROM walk w"                                  \
    "  JOIN events e ON e.version_id = w.id AND " TR_LN_PRODUCED " WHERE w.k = 'v' AND w.d < ?3"   \
    " UNION SELECT 'r', e.run_id, w.d + 1, 'v', w.id FROM walk w"                                  \
    "  JOIN artifact_versions o ON o.id = w.id JOIN events e ON e.version_id = o.origin_id"        \
    "  AND " TR_LN_PRODUCED " WHERE w.k = 'v' AND w.d < ?3"                                        \
    " UNION SELECT 'v', e.version_id, w.d + 1, 'r', w.id FROM walk w"                              \
    "  JOIN events e ON e.run_id = w.id AND e.role = 'input' WHERE w.k = 'r' AND w.d < ?3"         \
    "  AND NOT EXISTS (SELECT 1 FROM events x WHERE x.version_id = e.version_id"                   \
    "  AND x.run_id = w.id AND x.role IN ('output', 'inout')))"                                    \
    " SELECT k, id, min(d), pk, pid FROM walk GROUP BY k, id, pk, pid ORDER BY 3, 1, 2, 4, 5"

/* Downstream: run -> versions it wrote, and versions that carry them (renamed, linked,
 * identical content read elsewhere); version -> runs that read it, except its own writers. */
#define TR_LN_WALK_DOWN                                                                            \
    "WITH RECURSIVE walk(k, id, d, pk, pid) AS (SELECT ?1, ?2, 0, NULL, NULL"                      \
    " UNION SELECT 'v', e.version_id, w.d + 1, 'r', w.id FROM walk w"                              \
    "  JOIN events e ON e.run_id = w.id AND " TR_LN_PRODUCED " WHERE w.k = 'r' AND w.d < ?3"       \
    " UNION SELECT 'v', c.id, w.d + 1, 'r', w.id FROM walk w"                                      \
    "  JOIN events e ON e.run_id = w.id AND " TR_LN_PRODUCED                                       \
    "  JOIN artifact_versions c ON c.origin_id = e.version_id WHERE w.k = 'r' AND w.d < ?3"        \
    " UNION SELECT 'r', e.run_id, w.d + 1, 'v', w.id FROM walk w"                                  \
    "  JOIN events e ON e.version_id = w.id AND e.role = 'input' WHERE w.k = 'v' AND w.d < ?3"     \
    "  AND NOT EXISTS (SELECT 1 FROM events x WHERE x.version_id = w.id"                           \
    "  AND x.run_id = e.run_id AND x.role IN ('output', 'inout')))"                                \
    " SELECT k, id, min(d), pk, pid FROM walk GROUP BY k, id, pk, pid ORDER BY 3, 1, 2, 4, 5"

/* Schema v5, the order of events (store/lineage_order.c): an event the agent settled for an
 * open of a killed process carries ended = 'killed' and the open's seq (open_seq; seq is kept
 * for the order of events, unset for now); a file op its seq and the version it acted on, so
 * that a version stored later can take its place when it was the current one. */
#define TR_SQL_SCHEMA_V5                                                                           \
    "ALTER TABLE events ADD COLUMN seq INTEGER;"                                                   \
    "ALTER TABLE events ADD COLUMN open_seq INTEGER;"                                              \
    "ALTER TABLE events ADD COLUMN ended TEXT;"                                                    \
    "ALTER TABLE file_ops ADD COLUMN seq INTEGER;"                                                 \
    "ALTER TABLE file_ops ADD COLUMN version_id INTEGER;"                                          \
    "CREATE INDEX events_killed ON events(run_id, pid, open_seq) WHERE ended IS NOT NULL;"

/* The time a version was current by an event at or before ?3: an input's open, an output's
 * close (or ?3 when it was still open then). */
#define TR_LN_EV_TIME                                                                              \
    "CASE WHEN e.role = 'input' THEN coalesce(e.start_ns, e.end_ns)"                               \
    " ELSE min(coalesce(e.end_ns, e.start_ns), ?3) END"

/* Prepared statements of the lineage module, part of the store's statement table. */
#define TR_LINEAGE_STMTS(X)                                                                        \
    /* Versions match on (inode, size, mtime_ns) within one artifact, never on dev: a network      \
     * filesystem shows the same file under a different st_dev on every host. */                   \
    X(LN_VERSION_FIND, "SELECT id FROM artifact_versions WHERE artifact_id = ?1"                   \
                       " AND ino IS ?3 AND size IS ?4 AND mtime_ns IS ?5 ORDER BY id LIMIT 1")     \
    X(LN_VERSION, "SELECT a.path, v.dev, v.ino, v.size, v.mtime_ns, v.content_hash,"               \
                  " v.removed_run, v.removed_op, v.origin_id, v.origin_kind, v.artifact_id"        \
                  " FROM artifact_versions v JOIN artifacts a ON a.id = v.artifact_id"             \
                  " WHERE v.id = ?1")                                                              \
    /* The version a rename/unlink of PATH by run ?2 at time ?3 acts on: the one this run wrote    \
     * last before then, else the latest known before then; by time, never by the order records    \
     * were stored in. */                                                                          \
    X(LN_CURRENT,                                                                                  \
      "SELECT v.id FROM artifacts a JOIN artifact_versions v ON v.artifact_id = a.id"              \
      " WHERE a.path = ?1 AND EXISTS (SELECT 1 FROM events e WHERE e.version_id = v.id"            \
      " AND coalesce(e.start_ns, e.end_ns) <= ?3)"                                                 \
      " ORDER BY EXISTS (SELECT 1 FROM events e WHERE e.version_id = v.id"                         \
      " AND e.run_id = ?2 AND " TR_LN_PRODUCED " AND coalesce(e.start_ns, e.end_ns) <= ?3) DESC,"  \
      " (SELECT max(" TR_LN_EV_TIME ") FROM events e WHERE e.version_id = v.id"                    \
      " AND coalesce(e.start_ns, e.end_ns) <= ?3) DESC, v.id DESC LIMIT 1")                        \
    /* Order of events (lineage_order.c). */                                                       \
    X(LN_EVENT_ORDER, "UPDATE events SET seq = ?2, open_seq = ?3, ended = ?4 WHERE id = ?1")       \
    /* the agent's settles of an open (a small partial index: only killed processes' events) */    \
    X(LN_OPEN_EVENTS, "SELECT id, ended, version_id FROM events WHERE run_id = ?1 AND pid = ?2"    \
                      " AND open_seq = ?3 AND ended IS NOT NULL")                                  \
    /* whether run ?1 has any settled open (most have none: their FILE records skip the above) */  \
    X(LN_RUN_SETTLED, "SELECT 1 FROM events WHERE run_id = ?1 AND ended IS NOT NULL LIMIT 1")      \
    /* whether run ?1 has any FILEOP LN_LATER_OPS looks for (most runs have none) */               \
    X(LN_RUN_MOVES, "SELECT 1 FROM file_ops WHERE run_id = ?1"                                     \
                    " AND op IN ('rename', 'link', 'unlink') LIMIT 1")                             \
    /* the close of the open a settle is for: same process, same open time (rare: a scan) */       \
    X(LN_OPEN_CLOSED, "SELECT 1 FROM events WHERE run_id = ?1 AND pid = ?2 AND start_ns = ?3"      \
                      " AND ended IS NULL AND source = 'shim' LIMIT 1")                            \
    X(LN_EVENT_DELETE, "DELETE FROM events WHERE id = ?1")                                         \
    X(LN_VERSION_DROP,                                                                             \
      "DELETE FROM artifact_versions WHERE id = ?1 AND content_hash IS NULL"                       \
      " AND NOT EXISTS (SELECT 1 FROM events WHERE version_id = ?1)"                               \
      " AND NOT EXISTS (SELECT 1 FROM artifact_versions o WHERE o.origin_id = ?1)"                 \
      " AND NOT EXISTS (SELECT 1 FROM file_ops WHERE version_id = ?1)")                            \
    X(LN_FILEOP_ACTED, "UPDATE file_ops SET seq = coalesce(?2, seq), version_id = ?3"              \
                       " WHERE rowid = ?1")                                                        \
    /* A run's versions of one path that a later write of the same run replaced are intermediate   \
     * (removed_op 'overwrite'): ?1 run, ?2 artifact, ?3 the version just written. */              \
    X(LN_SUPERSEDE,                                                                                \
      "WITH t(id, at) AS (SELECT e.version_id, max(coalesce(e.end_ns, e.start_ns)) FROM events e"  \
      " JOIN artifact_versions w ON w.id = e.version_id WHERE w.artifact_id = ?2"                  \
      " AND e.run_id = ?1 AND " TR_LN_PRODUCED " GROUP BY e.version_id)"                           \
      " UPDATE artifact_versions SET removed_run = ?1, removed_op = 'overwrite'"                   \
      " WHERE artifact_id = ?2 AND removed_run IS NULL AND id IN (SELECT id FROM t)"               \
      " AND (SELECT at FROM t WHERE t.id = artifact_versions.id) <"                                \
      " (SELECT max(at) FROM t)")                                                                  \
    X(LN_UNREMOVE, "UPDATE artifact_versions SET removed_run = NULL, removed_op = NULL"            \
                   " WHERE id = ?1 AND removed_run = ?2 AND removed_op = ?3")                      \
    /* Undoing a carry made from a version that turned out not to be the current one. */           \
    X(LN_CARRY_UNDO, "DELETE FROM events WHERE version_id = ?1 AND run_id = ?2 AND source = ?3")   \
    X(LN_ORIGIN_CLEAR, "UPDATE artifact_versions SET origin_id = NULL, origin_kind = NULL"         \
                       " WHERE id = ?1 AND origin_kind = ?2")                                      \
    X(LN_CARRIED, "SELECT v.id FROM artifacts a JOIN artifact_versions v ON v.artifact_id = a.id"  \
                  " WHERE a.path = ?1 AND v.origin_id = ?2 AND v.origin_kind = ?3")                \
    X(LN_SET_ORIGIN, "UPDATE artifact_versions SET origin_id = ?2, origin_kind = ?3"               \
                     " WHERE id = ?1 AND origin_id IS NULL AND id <> ?2")                          \
    X(LN_SET_REMOVED, "UPDATE artifact_versions SET removed_run = ?2, removed_op = ?3"             \
                      " WHERE id = ?1 AND removed_run IS NULL")                                    \
    X(LN_PRODUCED_BY, "SELECT 1 FROM events e WHERE e.version_id = ?1 AND e.run_id = ?2"           \
                      " AND " TR_LN_PRODUCED " LIMIT 1")                                           \
    /* What setting a version's hash needs of it, in one statement. */                             \
    X(LN_HASH_INFO, TR_LN_HASH_INFO " FROM artifact_versions v WHERE v.id = ?1")                   \
    /* The same, of the version of path ?1 with fingerprint (?2, ?3, ?4), as LN_HASH_FIND finds    \
     * it: a HASH record's one look-up. */                                                         \
    X(LN_HASH_FIND_INFO,                                                                           \
      TR_LN_HASH_INFO " FROM artifacts a JOIN artifact_versions v"                                 \
                      " ON v.artifact_id = a.id WHERE a.path = ?1 AND ino IS ?2"                   \
                      " AND size IS ?3 AND mtime_ns IS ?4 ORDER BY v.id LIMIT 1")                  \
    /* Renames/links/unlinks of PATH by a run at or after an open: a FILE record (written at the   \
     * last close) can arrive after the FILEOP that moved the file while it was still open. */     \
    X(LN_LATER_OPS, "SELECT op, path2, rowid, time_ns, version_id FROM file_ops"                   \
                    " WHERE run_id = ?1 AND path = ?2 AND time_ns >= ?3"                           \
                    " AND op IN ('rename', 'link', 'unlink') ORDER BY time_ns, seq")               \
    /* Content hashes. */                                                                          \
    X(LN_HASH_FIND,                                                                                \
      "SELECT v.id, v.dev, v.ino, v.size, v.mtime_ns, v.content_hash FROM artifacts a"             \
      " JOIN artifact_versions v ON v.artifact_id = a.id WHERE a.path = ?1 AND ino IS ?2"          \
      " AND size IS ?3 AND mtime_ns IS ?4 ORDER BY v.id LIMIT 1")                                  \
    X(LN_HASH_LATEST,                                                                              \
      "SELECT v.id, v.dev, v.ino, v.size, v.mtime_ns, v.content_hash FROM artifacts a"             \
      " JOIN artifact_versions v ON v.artifact_id = a.id WHERE a.path = ?1"                        \
      " ORDER BY v.id DESC LIMIT 1")                                                               \
    X(LN_HASH_SET, "UPDATE artifact_versions SET content_hash = ?2 WHERE id = ?1")                 \
    /* A rename or link moves bytes, never changes them: the hash holds for the whole family (the  \
     * root, then what was renamed or linked from it; as one UPDATE with an OR SQLite collects the \
     * rows in an ephemeral table first). */                                                       \
    X(LN_HASH_CARRY_ROOT,                                                                          \
      "UPDATE artifact_versions SET content_hash = ?2 WHERE id = ?1 AND content_hash IS NULL")     \
    X(LN_HASH_CARRY, "UPDATE artifact_versions SET content_hash = ?2 WHERE origin_id = ?1"         \
                     " AND origin_kind IN ('rename', 'link') AND content_hash IS NULL")            \
    X(LN_HASH_TWIN,                                                                                \
      "SELECT v.id FROM artifact_versions v WHERE v.artifact_id = ?1 AND v.content_hash = ?2"      \
      " AND v.id <> ?3 AND EXISTS (SELECT 1 FROM events e WHERE e.version_id = v.id "              \
      "AND " TR_LN_PRODUCED ") ORDER BY v.id DESC LIMIT 1")                                        \
    X(LN_HASH_ADOPT,                                                                               \
      "UPDATE artifact_versions SET origin_id = ?1, origin_kind = 'hash' WHERE artifact_id = ?2"   \
      " AND content_hash = ?3 AND id <> ?1 AND origin_id IS NULL AND NOT EXISTS (SELECT 1"         \
      " FROM events e WHERE e.version_id = artifact_versions.id AND " TR_LN_PRODUCED ")")          \
    /* Graph queries. */                                                                           \
    X(LN_WALK_UP, TR_LN_WALK_UP)                                                                   \
    X(LN_WALK_DOWN, TR_LN_WALK_DOWN)                                                               \
    X(LN_RUN_BRIEF, "SELECT name, status, started_ns, experiment FROM runs WHERE id = ?1")         \
    X(LN_ARTIFACT, "SELECT id, path FROM artifacts WHERE path = ?1")                               \
    /* A plain path recorded as node-local on some host: "HOST:PATH" (two rows = ambiguous). */    \
    X(LN_ARTIFACT_ANY_HOST, "SELECT id, path FROM artifacts WHERE substr(path, 1, 1) <> '/'"       \
                            " AND substr(path, -length(?1) - 1) = ':' || ?1 LIMIT 2")              \
    X(LN_VERSIONS,                                                                                 \
      "SELECT v.id, v.dev, v.ino, v.size, v.mtime_ns, v.content_hash, v.removed_run,"              \
      " v.removed_op, v.origin_id, v.origin_kind, (SELECT min(e.start_ns) FROM events e"           \
      " WHERE e.version_id = v.id), (SELECT max(e.end_ns) FROM events e"                           \
      " WHERE e.version_id = v.id) FROM artifact_versions v WHERE v.artifact_id = ?1"              \
      " ORDER BY (SELECT min(coalesce(e.end_ns, e.start_ns)) FROM events e"                        \
      " WHERE e.version_id = v.id) NULLS LAST, v.id")                                              \
    /* Who read and wrote a version; a run's read of a version it wrote itself is internal. */     \
    X(LN_VERSION_EVENTS,                                                                           \
      "SELECT e.run_id, r.name, r.status, CASE WHEN e.role = 'input' THEN 'input'"                 \
      " ELSE 'output' END AS dir, group_concat(DISTINCT e.source), min(coalesce(e.start_ns, "      \
      "e.end_ns)),"                                                                                \
      " count(*), sum(e.bytes_read), sum(e.bytes_written), max(e.ended) FROM events e JOIN runs r" \
      " ON r.id = e.run_id WHERE e.version_id = ?1 AND (e.role <> 'input' OR e.source = 'sdk'"     \
      " OR NOT EXISTS (SELECT 1 FROM events o WHERE o.version_id = ?1 AND o.run_id = e.run_id"     \
      " AND " TR_LN_PRODUCED_O ")) GROUP BY e.run_id, r.name, r.status, dir"                       \
      " ORDER BY min(coalesce(e.end_ns, e.start_ns)), e.run_id")                                   \
    X(LN_PATHS_UNDER, "SELECT path FROM artifacts WHERE path > ?1 AND path < ?2 ORDER BY path"     \
                      " LIMIT 20")

/* Columns of a version row, by name: LN_VERSION (column 0 the path, then the artifact id at
 * the end), LN_VERSIONS, LN_HASH_FIND and LN_HASH_LATEST (column 0 the version id). */
enum tr_ln_version_col {
    TR_COL_LNV_ID = 0,
    TR_COL_LNV_PATH = 0,
    TR_COL_LNV_DEV,
    TR_COL_LNV_INO,
    TR_COL_LNV_SIZE,
    TR_COL_LNV_MTIME_NS,
    TR_COL_LNV_HASH,
    TR_COL_LNV_REMOVED_RUN, /* not in LN_HASH_FIND / LN_HASH_LATEST */
    TR_COL_LNV_REMOVED_OP,
    TR_COL_LNV_ORIGIN,
    TR_COL_LNV_ORIGIN_KIND,
    TR_COL_LNV_ARTIFACT = 10, /* LN_VERSION */
    TR_COL_LNV_FIRST_NS = 10, /* LN_VERSIONS: the first event's start */
    TR_COL_LNV_LAST_NS,       /* LN_VERSIONS: the last event's end */
};
/* LN_HASH_INFO, LN_HASH_FIND_INFO */
enum tr_ln_hash_info_col {
    TR_COL_LNH_HASH,
    TR_COL_LNH_ORIGIN,
    TR_COL_LNH_ORIGIN_KIND,
    TR_COL_LNH_ARTIFACT,
    TR_COL_LNH_TWINS,   /* 0: no other version; 1: others, none wrote it; 2: others, written */
    TR_COL_LNH_CARRIED, /* 1: some version has it as origin */
    TR_COL_LNH_ID
};
/* LN_LATER_OPS */
enum tr_ln_later_ops_col {
    TR_COL_LNO_OP,
    TR_COL_LNO_PATH2,
    TR_COL_LNO_ROWID,
    TR_COL_LNO_TIME_NS,
    TR_COL_LNO_VERSION
};
/* LN_OPEN_EVENTS */
enum tr_ln_open_events_col { TR_COL_LNOE_ID, TR_COL_LNOE_ENDED, TR_COL_LNOE_VERSION };
/* LN_WALK_UP, LN_WALK_DOWN: the node's kind ('r'/'v') and id, its depth, the node it was
 * reached from (kind NULL at the start). */
enum tr_ln_walk_col {
    TR_COL_WALK_KIND,
    TR_COL_WALK_ID,
    TR_COL_WALK_DEPTH,
    TR_COL_WALK_FROM_KIND,
    TR_COL_WALK_FROM_ID
};
/* LN_RUN_BRIEF */
enum tr_ln_run_brief_col {
    TR_COL_LNR_NAME,
    TR_COL_LNR_STATUS,
    TR_COL_LNR_STARTED_NS,
    TR_COL_LNR_EXPERIMENT
};
/* LN_ARTIFACT, LN_ARTIFACT_ANY_HOST */
enum tr_ln_artifact_col { TR_COL_LNA_ID, TR_COL_LNA_PATH };
/* LN_VERSION_EVENTS */
enum tr_ln_version_events_col {
    TR_COL_LNE_RUN,
    TR_COL_LNE_NAME,
    TR_COL_LNE_STATUS,
    TR_COL_LNE_DIR,
    TR_COL_LNE_SOURCES,
    TR_COL_LNE_FIRST_NS,
    TR_COL_LNE_OPENS,
    TR_COL_LNE_BYTES_READ,
    TR_COL_LNE_BYTES_WRITTEN,
    TR_COL_LNE_ENDED, /* 'killed' when the agent settled an open of a killed process */
};

#endif
