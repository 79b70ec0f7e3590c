/* where_sql.h - SQL text of the --where compiler: the listing and one fragment per field kind. */
#ifndef TR_WHERE_SQL_H
#define TR_WHERE_SQL_H

/* ?1 experiment (NULL = any), ?2 limit; %s is the compiled condition (placeholders only). */
#define TR_WHERE_RUNS_FMT                                                                          \
    "SELECT id FROM runs WHERE (?1 IS NULL OR experiment = ?1) AND (%s)"                           \
    " ORDER BY started_ns DESC NULLS LAST, rowid DESC LIMIT ?2"

/* Field values; %d is the parameter number of the key. The last metric value is the one of the
 * highest step (latest time on a tie), through the metrics_run_key index. */
#define TR_WHERE_METRIC                                                                            \
    "(SELECT m.value FROM metrics m WHERE m.run_id = runs.id AND m.key = ?%d"                      \
    " ORDER BY m.step DESC, m.time_ns DESC, m.rowid DESC LIMIT 1)"
#define TR_WHERE_PARAM "(SELECT p.value FROM params p WHERE p.run_id = runs.id AND p.key = ?%d)"
#define TR_WHERE_TAG "(SELECT t.value FROM tags t WHERE t.run_id = runs.id AND t.key = ?%d)"
#define TR_WHERE_ENV                                                                               \
    "(SELECT v.value FROM env v WHERE v.run_id = runs.id AND v.pid = 0 AND v.name = ?%d"           \
    " AND v.redacted = 0)"

/* Files: %s is the role list, then a path condition on a.path follows, then ")". */
#define TR_WHERE_FILE_OPEN                                                                         \
    "EXISTS (SELECT 1 FROM events e JOIN artifact_versions fv ON fv.id = e.version_id"             \
    " JOIN artifacts a ON a.id = fv.artifact_id WHERE e.run_id = runs.id AND e.role IN %s AND ("
/* An input is a read of a version the run did not write itself, or an explicit SDK input (as
 * `trail show` lists them); an
 * 'inout' event is the version the run left: an output. */
#define TR_WHERE_ROLES_IN                                                                          \
    "('input') AND (e.source = 'sdk' OR NOT EXISTS (SELECT 1 FROM events o"                        \
    " WHERE o.version_id = e.version_id AND o.run_id = runs.id AND o.role IN ('output', "          \
    "'inout')))"
#define TR_WHERE_ROLES_OUT "('output', 'inout')"
/* A path equals ?N, or ends with it at a component boundary ('/') or after a host (':'). */
#define TR_WHERE_PATH_EQ                                                                           \
    "(a.path = ?%d OR (length(a.path) > length(?%d) AND substr(a.path, -length(?%d)) = ?%d"        \
    " AND substr(a.path, -length(?%d) - 1, 1) IN ('/', ':')))"

#endif
