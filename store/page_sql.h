/* page_sql.h - SQL text of the API's views: the paged runs listing, experiments, metric series. */
#ifndef TR_PAGE_SQL_H
#define TR_PAGE_SQL_H

/* The paged runs listing. ?1 experiment (NULL = any), ?2 limit; the --where condition's
 * parameters from ?3 on, then the sort key's name and the offset (the offset's number is the
 * %d). %s in order: the sort expression, the condition, "LIMIT -1" or "", the direction three
 * times. The key sorts as a number when it reads as one, else as text; runs without it come
 * last. With "LIMIT -1" the key is computed once a run in the inner query (SQLite does not
 * flatten it, which would evaluate a params/metrics subquery once for each use in ORDER BY). */
#define TR_PAGE_RUNS_FMT                                                                           \
    "SELECT id, k FROM (SELECT id, rowid AS rid, %s AS k FROM runs"                                \
    " WHERE (?1 IS NULL OR experiment = ?1) AND (%s) %s)"                                          \
    " ORDER BY k IS NULL, CASE WHEN typeof(k) IN ('integer', 'real')"                              \
    " OR (CAST(k AS TEXT) <> '' AND CAST(k AS TEXT) NOT GLOB '*[^0-9eE.+-]*')"                     \
    " THEN CAST(k AS REAL) END %s, k %s,"                                                          \
    " rid %s LIMIT ?2 OFFSET ?%d"
/* The same for a key that is always a number or NULL (started, ended, exit_code, duration): the
 * same order, written so that an indexed column (runs_started) gives the page without sorting
 * every run. %s: the expression, the condition, the expression, the direction twice. */
#define TR_PAGE_RUNS_NUM_FMT                                                                       \
    "SELECT id, %s AS k FROM runs WHERE (?1 IS NULL OR experiment = ?1) AND (%s)"                  \
    " ORDER BY %s %s NULLS LAST, rowid %s LIMIT ?2 OFFSET ?%d"
#define TR_PAGE_COUNT_FMT "SELECT count(*) FROM runs WHERE (?1 IS NULL OR experiment = ?1) AND (%s)"
/* Sort expressions of params.KEY, tags.KEY and metrics.KEY; %d is the key's parameter. */
#define TR_PAGE_KEY_PARAM "(SELECT p.value FROM params p WHERE p.run_id = runs.id AND p.key = ?%d)"
#define TR_PAGE_KEY_TAG "(SELECT t.value FROM tags t WHERE t.run_id = runs.id AND t.key = ?%d)"
#define TR_PAGE_KEY_METRIC                                                                         \
    "(SELECT m.value FROM metrics m WHERE m.run_id = runs.id AND m.key = ?%d"                      \
    " ORDER BY m.step DESC, m.time_ns DESC, m.rowid DESC LIMIT 1)"
enum tr_page_runs_col { TR_COL_PAGE_ID, TR_COL_PAGE_KEY };

/* Experiments: name (NULL for runs without one), runs, running, failed, latest start. */
#define TR_PAGE_EXPERIMENTS                                                                        \
    "SELECT experiment, count(*), sum(status = 'running'), sum(status IN ('failed', 'crashed')),"  \
    " max(started_ns) FROM runs GROUP BY experiment ORDER BY max(started_ns) DESC NULLS LAST"
enum tr_page_exp_col {
    TR_COL_EXP_NAME,
    TR_COL_EXP_RUNS,
    TR_COL_EXP_RUNNING,
    TR_COL_EXP_FAILED,
    TR_COL_EXP_LATEST
};

/* One metric of a run in a step range: ?1 run, ?2 key, ?3 first step, ?4 last step. */
#define TR_SERIES_COUNT                                                                            \
    "SELECT count(*) FROM metrics WHERE run_id = ?1 AND key = ?2 AND step >= ?3 AND step <= ?4"
#define TR_SERIES_POINTS                                                                           \
    "SELECT step, value, special, time_ns, source FROM metrics"                                    \
    " WHERE run_id = ?1 AND key = ?2 AND step >= ?3 AND step <= ?4 ORDER BY step, time_ns, rowid"
enum tr_series_col {
    TR_COL_SER_STEP,
    TR_COL_SER_VALUE,
    TR_COL_SER_SPECIAL,
    TR_COL_SER_TIME_NS,
    TR_COL_SER_SOURCE
};

#endif
