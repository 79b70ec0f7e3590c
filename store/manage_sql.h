/* manage_sql.h - SQL of the management commands (manage.c): rm, gc, forget, rename, close. */
#ifndef TR_MANAGE_SQL_H
#define TR_MANAGE_SQL_H

#include "db.h"

/* Tables holding rows of a run: every table with a run_id column (column 0: its name). */
#define TR_SQL_M_RUN_TABLES                                                                        \
    "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c WHERE m.type = 'table' AND "  \
    "c.name = 'run_id' ORDER BY m.name"
#define TR_PG_M_RUN_TABLES                                                                         \
    TR_PG_NATIVE "SELECT table_name FROM information_schema.columns"                               \
                 " WHERE table_schema = current_schema() AND column_name = 'run_id'"               \
                 " ORDER BY table_name"
#define TR_SQL_M_DELETE_RUN_ROWS_FMT "DELETE FROM \"%.63s\" WHERE run_id = ?1"
#define TR_SQL_M_DELETE_RUN "DELETE FROM runs WHERE id = ?1"
#define TR_SQL_M_SECURE_DELETE "PRAGMA secure_delete = ON"
/* Versions no event refers to and no version names as its origin; artifacts left with none. */
#define TR_SQL_M_ORPHAN_VERSIONS                                                                   \
    "DELETE FROM artifact_versions WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.version_id = " \
    "artifact_versions.id) AND NOT EXISTS (SELECT 1 FROM artifact_versions o WHERE o.origin_id = " \
    "artifact_versions.id)"
#define TR_SQL_M_ORPHAN_ARTIFACTS                                                                  \
    "DELETE FROM artifacts WHERE NOT EXISTS (SELECT 1 FROM artifact_versions v WHERE "             \
    "v.artifact_id = artifacts.id) AND NOT EXISTS (SELECT 1 FROM file_ops f WHERE f.path = "       \
    "artifacts.path OR f.path2 = artifacts.path)"
/* gc candidates (columns: id, status), ?1 the time before which a run ended. */
#define TR_SQL_M_GC_CANDIDATES                                                                     \
    "SELECT id, status FROM runs WHERE coalesce(ended_ns, started_ns, 0) < ?1 AND status <> "      \
    "'running' ORDER BY started_ns"
/* forget: ?1 the artifact key. The runs that knew it get a tag counting what was forgotten. */
#define TR_SQL_M_FORGET_NOTE                                                                       \
    "INSERT INTO tags (run_id, key, value) SELECT run_id, 'trail.forgotten', '1' FROM (SELECT "    \
    "e.run_id FROM events e JOIN artifact_versions v ON v.id = e.version_id JOIN artifacts a ON "  \
    "a.id = v.artifact_id WHERE a.path = ?1 UNION SELECT run_id FROM file_ops WHERE path = ?1 OR " \
    "path2 = ?1) WHERE true ON CONFLICT (run_id, key) DO UPDATE SET value = CAST(CAST(value AS "   \
    "INTEGER) + 1 AS TEXT)"
#define TR_SQL_M_FORGET_EVENTS                                                                     \
    "DELETE FROM events WHERE version_id IN (SELECT v.id FROM artifact_versions v JOIN artifacts " \
    "a ON a.id = v.artifact_id WHERE a.path = ?1)"
#define TR_SQL_M_FORGET_ORIGINS                                                                    \
    "UPDATE artifact_versions SET origin_id = NULL WHERE origin_id IN (SELECT v.id FROM "          \
    "artifact_versions v JOIN artifacts a ON a.id = v.artifact_id WHERE a.path = ?1)"
#define TR_SQL_M_FORGET_VERSIONS                                                                   \
    "DELETE FROM artifact_versions WHERE artifact_id IN (SELECT id FROM artifacts WHERE path = "   \
    "?1)"
#define TR_SQL_M_FORGET_FILE_OPS "DELETE FROM file_ops WHERE path = ?1 OR path2 = ?1"
#define TR_SQL_M_FORGET_ARTIFACT "DELETE FROM artifacts WHERE path = ?1"
/* The runs that knew the artifact ?1 (column 0), before its rows go. */
#define TR_SQL_M_FORGET_RUNS                                                                       \
    "SELECT e.run_id FROM events e JOIN artifact_versions v ON v.id = e.version_id JOIN "          \
    "artifacts a ON a.id = v.artifact_id WHERE a.path = ?1 UNION SELECT run_id FROM file_ops "     \
    "WHERE path = ?1 OR path2 = ?1"
/* ?1 the plain path, ?2 the key's host ('' for a shared path): dependency rows of runs on that
 * host (deps are not keyed by host; a node-local path on another host is another file). */
#define TR_SQL_M_FORGET_DEPS                                                                       \
    "DELETE FROM deps WHERE path = ?1 AND (?2 = '' OR run_id IN (SELECT id FROM runs WHERE "       \
    "host = ?2))"
#define TR_SQL_M_FORGET_DEP_CACHE "DELETE FROM dep_cache WHERE path = ?1"
/* Command lines of one run that knew the file: the run's own (rowid, argv, cwd), then its
 * process images' (proc_images, by id: SQLite's rowid of it, a column of its own elsewhere);
 * each written back by that key. */
#define TR_SQL_M_ARGV_OF_RUN                                                                       \
    "SELECT rowid, argv, cwd, 0 FROM runs WHERE id = ?1 AND argv IS NOT NULL UNION ALL SELECT "    \
    "id, argv, cwd, 1 FROM proc_images WHERE run_id = ?1 AND argv IS NOT NULL"
#define TR_SQL_M_SET_RUN_ARGV "UPDATE runs SET argv = ?1 WHERE rowid = ?2"
#define TR_SQL_M_SET_PROC_ARGV "UPDATE proc_images SET argv = ?1 WHERE id = ?2"
#define TR_SQL_M_RENAME "UPDATE runs SET name = ?1 WHERE id = ?2"
/* Column 0: 1 when the run is still open (running or lost); column 1: its status. */
#define TR_SQL_M_RUN_OPEN "SELECT status IN ('running', 'lost'), status FROM runs WHERE id = ?1"
#define TR_SQL_M_CLOSE                                                                             \
    "UPDATE runs SET status = ?1, ended_ns = coalesce(ended_ns, ?2) WHERE id = ?3"
#define TR_PG_M_RECLAIM TR_PG_NATIVE "VACUUM FULL"
#define TR_PG_M_SIZE TR_PG_NATIVE "SELECT pg_database_size(current_database())"
#define TR_SQL_M_RECLAIM "PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);"

#endif
