/* pg_sql.h - the store's SQL that PostgreSQL needs written its own way (the rest is translated). */
#ifndef TR_PG_SQL_H
#define TR_PG_SQL_H

#include "db.h"

/* A PostgreSQL store is a schema (the connection's current one, "public" by default) holding
 * the same tables as a SQLite store; trail_store records what SQLite keeps in its header
 * (application_id, user_version). Migration i is the same step on both backends: its SQLite
 * text rewritten by db_pgsql.c, then (TR_PG_MIGRATIONS) what PostgreSQL does its own way:
 * triggers are PL/pgSQL functions, times come from clock_timestamp(). */

/* Functions the translated statements call (db_pgsql.c), created with the schema. */
#define TR_PG_PREAMBLE                                                                                      \
    TR_PG_NATIVE                                                                                            \
    "CREATE FUNCTION trail_limit(bigint) RETURNS bigint LANGUAGE sql IMMUTABLE"                             \
    " AS 'SELECT CASE WHEN $1 < 0 THEN NULL ELSE $1 END';"                                                  \
    "CREATE FUNCTION trail_bool_sum(bigint, boolean) RETURNS bigint LANGUAGE sql IMMUTABLE"                 \
    " AS 'SELECT CASE WHEN $2 IS NULL THEN $1 ELSE coalesce($1, 0) + $2::int END';"                         \
    "CREATE AGGREGATE sum(boolean) (SFUNC = trail_bool_sum, STYPE = bigint);"                               \
    "CREATE FUNCTION trail_typeof(anyelement) RETURNS text LANGUAGE sql IMMUTABLE AS $$"                    \
    " SELECT CASE WHEN $1 IS NULL THEN 'null'"                                                              \
    " WHEN pg_typeof($1) IN ('bigint'::regtype, 'integer'::regtype, 'smallint'::regtype,"                   \
    " 'boolean'::regtype) THEN 'integer'"                                                                   \
    " WHEN pg_typeof($1) IN ('double precision'::regtype, 'real'::regtype, 'numeric'::regtype)"             \
    " THEN 'real' WHEN pg_typeof($1) = 'bytea'::regtype THEN 'blob' ELSE 'text' END $$;" /* SQLite's        \
                                                                                            GLOB            \
                                                                                            pattern         \
                                                                                            (*, ?,          \
                                                                                            [...],          \
                                                                                            [^...];         \
                                                                                            case-sensitive) \
                                                                                            as an           \
                                                                                            anchored        \
                                                                                            regex.          \
                                                                                          */                \
    "CREATE FUNCTION trail_glob_re(p text) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT AS $$"            \
    " DECLARE r text := '^'; i int := 1; j int; c text; n int := length(p);"                                \
    " BEGIN WHILE i <= n LOOP c := substr(p, i, 1);"                                                        \
    " IF c = '*' THEN r := r || '.*'; ELSIF c = '?' THEN r := r || '.';"                                    \
    " ELSIF c = '[' THEN j := i + 1;"                                                                       \
    " IF substr(p, j, 1) = '^' THEN j := j + 1; END IF;"                                                    \
    " IF substr(p, j, 1) = ']' THEN j := j + 1; END IF;"                                                    \
    " WHILE j <= n AND substr(p, j, 1) <> ']' LOOP j := j + 1; END LOOP;"                                   \
    " IF j > n THEN r := r || '\\['; ELSE"                                                                  \
    " r := r || '[' || replace(substr(p, i + 1, j - i - 1), '\\', '\\\\') || ']'; i := j; END IF;"          \
    " ELSIF position(c IN '.+()|{}^$\\') > 0 THEN r := r || '\\' || c;"                                     \
    " ELSE r := r || c; END IF; i := i + 1; END LOOP; RETURN r || '$'; END $$;"

/* Identity (store.c): whether the schema holds trail_store, and how many tables it has. */
#define TR_PG_HAS_IDENTITY                                                                         \
    TR_PG_NATIVE "SELECT count(*) FROM pg_catalog.pg_tables"                                       \
                 " WHERE schemaname = current_schema() AND tablename = 'trail_store'"
#define TR_PG_USER_TABLES                                                                          \
    TR_PG_NATIVE "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
#define TR_PG_APP_ID TR_PG_NATIVE "SELECT app_id FROM trail_store"
#define TR_PG_USER_VERSION TR_PG_NATIVE "SELECT version FROM trail_store"
#define TR_PG_SET_APP_ID                                                                           \
    TR_PG_NATIVE "CREATE TABLE trail_store (app_id bigint NOT NULL, version integer NOT NULL);"    \
                 " INSERT INTO trail_store VALUES (1953655857, 0)" /* TR_STORE_APP_ID */
#define TR_PG_SET_USER_VERSION_FMT TR_PG_NATIVE "UPDATE trail_store SET version = %d"
/* One snapshot for the reads of one identity check. */
#define TR_PG_BEGIN_READ TR_PG_NATIVE "BEGIN ISOLATION LEVEL REPEATABLE READ"

/* The time now in ns, as the SQLite triggers compute it from julianday('now'). */
#define TR_PG_NOW_NS "(extract(epoch FROM clock_timestamp()) * 1000000000)::bigint"

#define TR_PG_V9_TRIGGER                                                                           \
    TR_PG_NATIVE                                                                                   \
    "CREATE FUNCTION trail_openlineage_queue() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"       \
    " IF NEW.status <> 'running' AND NEW.status IS DISTINCT FROM OLD.status"                       \
    " AND EXISTS (SELECT 1 FROM openlineage_targets) THEN"                                         \
    " INSERT INTO openlineage_outbox (url, run_id, status)"                                        \
    " SELECT url, NEW.id, NEW.status FROM openlineage_targets"                                     \
    " ON CONFLICT (url, run_id) DO UPDATE SET status = excluded.status; END IF;"                   \
    " RETURN NULL; END $$;"                                                                        \
    "CREATE TRIGGER openlineage_queue AFTER UPDATE OF status ON runs"                              \
    " FOR EACH ROW EXECUTE FUNCTION trail_openlineage_queue();"

#define TR_PG_V11_TRIGGERS                                                                         \
    TR_PG_NATIVE                                                                                   \
    "CREATE FUNCTION trail_mlflow_exp_of_run() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"       \
    " IF NEW.experiment IS NOT NULL THEN"                                                          \
    " INSERT INTO mlflow_experiments (name, created_ns, updated_ns)"                               \
    " VALUES (NEW.experiment, NEW.started_ns, NEW.started_ns) ON CONFLICT (name) DO NOTHING;"      \
    " END IF; RETURN NULL; END $$;"                                                                \
    "CREATE TRIGGER mlflow_exp_of_run_insert AFTER INSERT ON runs"                                 \
    " FOR EACH ROW EXECUTE FUNCTION trail_mlflow_exp_of_run();"                                    \
    "CREATE TRIGGER mlflow_exp_of_run_update AFTER UPDATE OF experiment ON runs"                   \
    " FOR EACH ROW EXECUTE FUNCTION trail_mlflow_exp_of_run();"

#define TR_PG_V12_QUEUED_TRIGGER                                                                   \
    TR_PG_NATIVE                                                                                   \
    "UPDATE openlineage_outbox SET queued_ns = " TR_PG_NOW_NS ";"                                  \
    "CREATE OR REPLACE FUNCTION trail_openlineage_queue() RETURNS trigger LANGUAGE plpgsql"        \
    " AS $$ BEGIN"                                                                                 \
    " IF NEW.status <> 'running' AND NEW.status IS DISTINCT FROM OLD.status"                       \
    " AND EXISTS (SELECT 1 FROM openlineage_targets) THEN"                                         \
    " INSERT INTO openlineage_outbox (url, run_id, status, queued_ns)"                             \
    " SELECT url, NEW.id, NEW.status, " TR_PG_NOW_NS " FROM openlineage_targets"                   \
    " ON CONFLICT (url, run_id) DO UPDATE SET status = excluded.status, state = 'queued',"         \
    " tries = 0, last_error = NULL, queued_ns = excluded.queued_ns"                                \
    " WHERE openlineage_outbox.status IS DISTINCT FROM excluded.status; END IF;"                   \
    " RETURN NULL; END $$;"

/* Migration i on PostgreSQL: {SQLite text to translate (NULL: none), native text (NULL: none)}. */
#define TR_PG_MIGRATIONS                                                                           \
    {                                                                                              \
        {TR_SQL_SCHEMA_V1, NULL}, {TR_SQL_SCHEMA_V2, NULL}, {TR_SQL_SCHEMA_V3, NULL},              \
            {TR_SQL_SCHEMA_V4, NULL}, {TR_SQL_SCHEMA_V5, NULL}, {TR_SQL_SCHEMA_V6, NULL},          \
            {TR_SQL_SCHEMA_V7, NULL}, {TR_SQL_SCHEMA_V8, NULL},                                    \
            {TR_SQL_SCHEMA_V9_TABLES, TR_PG_V9_TRIGGER}, {TR_SQL_SCHEMA_V10, NULL},                \
            {TR_SQL_SCHEMA_V11_EXPERIMENTS, TR_PG_V11_TRIGGERS},                                   \
            {TR_SQL_SCHEMA_V12_COLUMNS TR_SQL_SCHEMA_V12_INDEX, TR_PG_V12_QUEUED_TRIGGER},         \
    }

/* The lineage walks (lineage_sql.h TR_LN_WALK_*): PostgreSQL allows one recursive term that
 * reads the walk once, so the edge kinds are branches of one LATERAL subquery; a node's id is
 * a run id (rid) or a version id (vid), columns of their own types (SQLite keeps either in
 * one), and rows of one depth come in SQLite's order (kind, run ids, then version ids). */
#define TR_PG_WALK_HEAD                                                                            \
    "WITH RECURSIVE walk(k, rid, vid, d, pk, prid, pvid) AS (SELECT $1::text,"                     \
    " CASE WHEN $1 = 'r' THEN $2::text COLLATE \"C\" END,"                                         \
    " CASE WHEN $1 = 'v' THEN $2::text::bigint END, 0, NULL::text, NULL::text COLLATE \"C\","      \
    " NULL::bigint UNION SELECT x.* FROM walk w CROSS JOIN LATERAL ("
#define TR_PG_WALK_TAIL                                                                            \
    ") x) SELECT k, coalesce(rid, vid::text), min(d), pk, coalesce(prid, pvid::text) FROM walk"    \
    " GROUP BY k, rid, vid, pk, prid, pvid ORDER BY 3, k, rid, vid, pk, prid, pvid"
#define TR_PG_WALK_UP                                                                              \
    TR_PG_WALK_HEAD                                                                                \
    "SELECT 'r'::text, e.run_id, NULL::bigint, w.d + 1, 'v'::text, NULL::text, w.vid FROM events " \
    "e"                                                                                            \
    " WHERE w.k = 'v' AND w.d < $3 AND e.version_id = w.vid AND " TR_LN_PRODUCED                   \
    " UNION ALL SELECT 'r', e.run_id, NULL, w.d + 1, 'v', NULL, w.vid FROM artifact_versions o"    \
    " JOIN events e ON e.version_id = o.origin_id AND " TR_LN_PRODUCED                             \
    " WHERE w.k = 'v' AND w.d < $3 AND o.id = w.vid"                                               \
    " UNION ALL SELECT 'v', NULL, e.version_id, w.d + 1, 'r', w.rid, NULL FROM events e"           \
    " WHERE w.k = 'r' AND w.d < $3 AND e.run_id = w.rid AND e.role = 'input'"                      \
    " AND NOT EXISTS (SELECT 1 FROM events x WHERE x.version_id = e.version_id"                    \
    " AND x.run_id = w.rid AND x.role IN ('output', 'inout'))" TR_PG_WALK_TAIL
#define TR_PG_WALK_DOWN                                                                            \
    TR_PG_WALK_HEAD                                                                                \
    "SELECT 'v'::text, NULL::text, e.version_id, w.d + 1, 'r'::text, w.rid, NULL::bigint"          \
    " FROM events e WHERE w.k = 'r' AND w.d < $3 AND e.run_id = w.rid AND " TR_LN_PRODUCED         \
    " UNION ALL SELECT 'v', NULL, c.id, w.d + 1, 'r', w.rid, NULL FROM events e"                   \
    " JOIN artifact_versions c ON c.origin_id = e.version_id"                                      \
    " WHERE w.k = 'r' AND w.d < $3 AND e.run_id = w.rid AND " TR_LN_PRODUCED                       \
    " UNION ALL SELECT 'r', e.run_id, NULL, w.d + 1, 'v', NULL, w.vid FROM events e"               \
    " WHERE w.k = 'v' AND w.d < $3 AND e.version_id = w.vid AND e.role = 'input'"                  \
    " AND NOT EXISTS (SELECT 1 FROM events x WHERE x.version_id = w.vid"                           \
    " AND x.run_id = e.run_id AND x.role IN ('output', 'inout'))" TR_PG_WALK_TAIL

/* Statements PostgreSQL needs in its own words: X(NAME, SQL) over the names of TR_STORE_STMTS. */
#define TR_PG_STMTS(X)                                                                             \
    X(LN_WALK_UP, TR_PG_WALK_UP)                                                                   \
    X(LN_WALK_DOWN, TR_PG_WALK_DOWN)

#endif
