/* mlflow_sql.h - SQL text of the MLflow tracking API's store side: experiments with ids, the
 * lifecycle of runs, their latest metrics, a metric's history and the runs search. */
#ifndef TR_MLFLOW_SQL_H
#define TR_MLFLOW_SQL_H

/* Schema v7: MLflow names experiments by number. trail's experiment is a run's `experiment`
 * text; mlflow_experiments gives each name an id (0 is MLflow's "Default": the runs without an
 * experiment). mlflow_runs keeps the lifecycle stage of runs deleted (soft) through the API. */
#define TR_SQL_SCHEMA_V7                                                                           \
    "CREATE TABLE mlflow_experiments ("                                                            \
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, artifact_location TEXT,"                  \
    " created_ns INTEGER, updated_ns INTEGER);"                                                    \
    "INSERT INTO mlflow_experiments (id, name) VALUES (0, 'Default');"                             \
    "CREATE TABLE mlflow_runs ("                                                                   \
    " run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,"                              \
    " lifecycle TEXT NOT NULL DEFAULT 'active', deleted_ns INTEGER);"

/* Schema v11: a run's experiment gets its MLflow id when the run is written (a trigger: one
 * index look-up per run written, in the writer's own transaction), so reads never write nor
 * scan all runs to find names without an id; the names already there get theirs now. */
#define TR_SQL_SCHEMA_V11 TR_SQL_SCHEMA_V11_EXPERIMENTS TR_SQL_SCHEMA_V11_TRIGGERS
#define TR_SQL_SCHEMA_V11_EXPERIMENTS                                                              \
    "INSERT INTO mlflow_experiments (name, created_ns, updated_ns)"                                \
    " SELECT experiment, min(started_ns), max(started_ns) FROM runs"                               \
    " WHERE experiment IS NOT NULL AND experiment NOT IN (SELECT name FROM mlflow_experiments)"    \
    " GROUP BY experiment ORDER BY min(started_ns), experiment;"
#define TR_SQL_SCHEMA_V11_TRIGGERS                                                                 \
    "CREATE TRIGGER mlflow_exp_of_run_insert AFTER INSERT ON runs"                                 \
    " WHEN NEW.experiment IS NOT NULL BEGIN"                                                       \
    " INSERT INTO mlflow_experiments (name, created_ns, updated_ns)"                               \
    " VALUES (NEW.experiment, NEW.started_ns, NEW.started_ns) ON CONFLICT (name) DO NOTHING; END;" \
    "CREATE TRIGGER mlflow_exp_of_run_update AFTER UPDATE OF experiment ON runs"                   \
    " WHEN NEW.experiment IS NOT NULL BEGIN"                                                       \
    " INSERT INTO mlflow_experiments (name, created_ns, updated_ns)"                               \
    " VALUES (NEW.experiment, NEW.started_ns, NEW.started_ns) ON CONFLICT (name) DO NOTHING; END;"

#define TR_MLFLOW_STMTS(X)                                                                         \
    X(MLF_EXP_ADD, "INSERT INTO mlflow_experiments (name, artifact_location, created_ns,"          \
                   " updated_ns) VALUES (?1, ?2, ?3, ?3)")                                         \
    X(MLF_EXP_BY_NAME, "SELECT id, name, artifact_location, created_ns, updated_ns"                \
                       " FROM mlflow_experiments WHERE name = ?1")                                 \
    X(MLF_EXP_BY_ID, "SELECT id, name, artifact_location, created_ns, updated_ns"                  \
                     " FROM mlflow_experiments WHERE id = ?1")                                     \
    /* ?1 name pattern (NULL: any), ?2 case-insensitive, ?3 limit, ?4 offset; id order */          \
    X(MLF_EXP_LIST,                                                                                \
      "SELECT id, name, artifact_location, created_ns, updated_ns FROM mlflow_experiments"         \
      " WHERE ?1 IS NULL OR (CASE WHEN ?2 THEN lower(name) LIKE lower(?1) ELSE name GLOB ?1 END)"  \
      " ORDER BY id LIMIT ?3 OFFSET ?4")                                                           \
    X(MLF_EXP_TOUCH, "UPDATE mlflow_experiments SET updated_ns = ?2 WHERE id = ?1")                \
    X(MLF_RUN_INFO,                                                                                \
      "SELECT r.id, r.name, r.experiment, r.status, r.user, r.started_ns, r.ended_ns,"             \
      " CASE WHEN r.experiment IS NULL THEN 0 ELSE (SELECT e.id FROM mlflow_experiments e"         \
      " WHERE e.name = r.experiment) END,"                                                         \
      " coalesce((SELECT m.lifecycle FROM mlflow_runs m WHERE m.run_id = r.id), 'active'),"        \
      " (SELECT e.artifact_location FROM mlflow_experiments e"                                     \
      " WHERE e.name = coalesce(r.experiment, 'Default')) FROM runs r WHERE r.id = ?1")            \
    X(MLF_LIFECYCLE, "INSERT INTO mlflow_runs (run_id, lifecycle, deleted_ns) VALUES (?1, ?2, ?3)" \
                     " ON CONFLICT (run_id) DO UPDATE SET lifecycle = excluded.lifecycle,"         \
                     " deleted_ns = excluded.deleted_ns")                                          \
    /* a run an MLflow client set RUNNING again after it ended */                                  \
    X(MLF_REOPEN, "UPDATE runs SET status = 'running', ended_ns = NULL WHERE id = ?1")             \
    /* 1 when a `trail run` launched the run (its status is the launcher's) */                     \
    X(MLF_HAS_LAUNCHER, "SELECT launcher_pid IS NOT NULL FROM runs WHERE id = ?1")                 \
    X(MLF_PARAM_GET, "SELECT value FROM params WHERE run_id = ?1 AND key = ?2")                    \
    X(MLF_TAG_DELETE, "DELETE FROM tags WHERE run_id = ?1 AND key = ?2")                           \
    /* the latest point of each key: highest step, then latest time */                             \
    X(MLF_METRICS_LAST,                                                                            \
      "SELECT key, value, special, step, time_ns FROM (SELECT key, value, special, step, time_ns," \
      " row_number() OVER (PARTITION BY key ORDER BY step DESC, time_ns DESC, rowid DESC) AS n"    \
      " FROM metrics WHERE run_id = ?1) WHERE n = 1 ORDER BY key")                                 \
    /* a metric's points in the order logged: ?3 limit, ?4 offset */                               \
    X(MLF_HISTORY, "SELECT key, value, special, step, time_ns FROM metrics"                        \
                   " WHERE run_id = ?1 AND key = ?2 ORDER BY step, time_ns, rowid"                 \
                   " LIMIT ?3 OFFSET ?4")

enum tr_mlf_exp_col {
    TR_COL_MLE_ID,
    TR_COL_MLE_NAME,
    TR_COL_MLE_ARTIFACTS,
    TR_COL_MLE_CREATED,
    TR_COL_MLE_UPDATED
};
enum tr_mlf_run_col {
    TR_COL_MLR_ID,
    TR_COL_MLR_NAME,
    TR_COL_MLR_EXPERIMENT,
    TR_COL_MLR_STATUS,
    TR_COL_MLR_USER,
    TR_COL_MLR_STARTED,
    TR_COL_MLR_ENDED,
    TR_COL_MLR_EXP_ID,
    TR_COL_MLR_LIFECYCLE,
    TR_COL_MLR_ARTIFACTS
};
enum tr_mlf_metric_col {
    TR_COL_MLM_KEY,
    TR_COL_MLM_VALUE,
    TR_COL_MLM_SPECIAL,
    TR_COL_MLM_STEP,
    TR_COL_MLM_TIME
};

/* The runs search (mlflow_search.c). ?1 the experiment ids as a JSON array, ?2 the lifecycle
 * stages wanted as a JSON array, ?3.. the --where parameters, then the sort keys' names, the
 * limit, the offset and the time bounds. %s in order: the sort columns (", EXPR AS kN" each),
 * the condition, the sort (TR_MLF_SORT_FMT each); %d the limit's parameter number, then the
 * offset's. A key sorts as a number when it reads as one, runs without it last. */
#define TR_MLF_SEARCH_FMT                                                                          \
    "SELECT id FROM (SELECT id, started_ns%s FROM runs WHERE (CASE WHEN experiment IS NULL"        \
    " THEN 0 ELSE (SELECT e.id FROM mlflow_experiments e WHERE e.name = runs.experiment) END)"     \
    " IN (SELECT CAST(value AS REAL) FROM json_each(?1)) AND coalesce((SELECT m.lifecycle"         \
    " FROM mlflow_runs m WHERE m.run_id = runs.id), 'active') IN (SELECT value FROM "              \
    "json_each(?2))"                                                                               \
    " AND (%s)) AS found ORDER BY %s started_ns DESC, id LIMIT ?%d OFFSET ?%d"
/* One sort key: %d its column number (kN) four times, %s the direction twice. */
#define TR_MLF_SORT_FMT                                                                            \
    "k%d IS NULL, CASE WHEN typeof(k%d) IN ('integer', 'real')"                                    \
    " OR (CAST(k%d AS TEXT) <> '' AND CAST(k%d AS TEXT) NOT GLOB '*[^0-9eE.+-]*')"                 \
    " THEN CAST(k%d AS REAL) END %s, k%d %s,"
/* One time bound of the search: the column (started_ns, ended_ns), the operator, the parameter
 * of its value in ms. */
#define TR_MLF_TIME_FMT " AND %s / 1000000 %s ?%d"
#define TR_MLF_KEY_PARAM "(SELECT p.value FROM params p WHERE p.run_id = runs.id AND p.key = ?%d)"
#define TR_MLF_KEY_TAG "(SELECT t.value FROM tags t WHERE t.run_id = runs.id AND t.key = ?%d)"
#define TR_MLF_KEY_METRIC                                                                          \
    "(SELECT m.value FROM metrics m WHERE m.run_id = runs.id AND m.key = ?%d"                      \
    " ORDER BY m.step DESC, m.time_ns DESC, m.rowid DESC LIMIT 1)"

#endif
