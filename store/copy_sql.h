/* copy_sql.h - SQL of trail store copy (copy.c): catalogs, progress, and the rows it moves. */
#ifndef TR_COPY_SQL_H
#define TR_COPY_SQL_H

#include "db.h"

/* The tables of a store, by backend (trail_store and the copy's own progress left out). */
#define TR_COPY_TABLES_SQLITE                                                                      \
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE"    \
    " '\\' AND name <> 'trail_copy_progress' ORDER BY name"
#define TR_COPY_TABLES_PG                                                                          \
    TR_PG_NATIVE "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"  \
                 " AND tablename NOT IN ('trail_store', 'trail_copy_progress') ORDER BY tablename"
/* A PostgreSQL table's identity column (its rowid, or the id SQLite's INTEGER PRIMARY KEY
 * became: db_pgsql.c), the key rows are copied in order of. */
#define TR_COPY_IDENTITY_PG                                                                        \
    TR_PG_NATIVE "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass($1)"    \
                 " AND attidentity <> '' AND NOT attisdropped"
/* After the copy a PostgreSQL identity continues past the largest id copied. */
#define TR_COPY_SETVAL_PG_FMT                                                                      \
    TR_PG_NATIVE "SELECT setval(pg_get_serial_sequence('\"%.63s\"', '%.63s'),"                     \
                 " coalesce((SELECT max(\"%.63s\") FROM \"%.63s\"), 0) + 1, false)"

/* Progress, kept in the target and committed with the rows: a copy stopped at any point goes
 * on from its last commit. */
#define TR_COPY_PROGRESS_CREATE                                                                    \
    "CREATE TABLE IF NOT EXISTS trail_copy_progress (source TEXT NOT NULL, tbl TEXT NOT NULL,"     \
    " last_key INTEGER, copied INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,"       \
    " PRIMARY KEY (source, tbl))"
#define TR_COPY_PROGRESS_GET                                                                       \
    "SELECT last_key, copied, done FROM trail_copy_progress WHERE source = ?1 AND tbl = ?2"
#define TR_COPY_PROGRESS_ANY "SELECT count(*) FROM trail_copy_progress WHERE source = ?1"
#define TR_COPY_PROGRESS_SET                                                                       \
    "INSERT INTO trail_copy_progress (source, tbl, last_key, copied, done)"                        \
    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (source, tbl) DO UPDATE SET"                         \
    " last_key = excluded.last_key, copied = excluded.copied, done = excluded.done"
#define TR_COPY_RUNS "SELECT count(*) FROM runs"
#define TR_COPY_COUNT_FMT "SELECT count(*) FROM \"%s\""
/* The columns of a table: the names of an empty result. */
#define TR_COPY_COLUMNS_FMT "SELECT * FROM \"%s\" LIMIT 0"
/* artifact_versions refers to itself (origin_id): rows go in without it, then it is set. */
#define TR_COPY_ORIGINS "SELECT id, origin_id FROM artifact_versions WHERE origin_id IS NOT NULL"
#define TR_COPY_SET_ORIGIN "UPDATE artifact_versions SET origin_id = ?2 WHERE id = ?1"

#endif
