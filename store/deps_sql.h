/* deps_sql.h - statements of collector/deps.c: resolved dependencies and the agent's run tags. */
#ifndef TR_DEPS_SQL_H
#define TR_DEPS_SQL_H

/* Kinds of dependency rows: so, dlopen, exe (from the shim, one row per process and path);
 * python (a distribution), interpreter, git (a source tree) added by the agent with pid 0. */
#define TR_DEPS_STMTS(X)                                                                           \
    /* Rows of a path not resolved yet (rows of later processes arrive after a resolution). */     \
    X(DEP_RESOLVE, "UPDATE deps SET package = ?3, version = ?4, source = ?5"                       \
                   " WHERE run_id = ?1 AND path = ?2 AND source IS NULL")                          \
    X(DEP_ADD, "INSERT INTO deps (run_id, pid, path, kind, package, version, source)"              \
               " VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (run_id, pid, path) DO UPDATE SET" \
               " kind = excluded.kind, package = excluded.package, version = excluded.version,"    \
               " source = excluded.source")                                                        \
    /* One row per path (a library loaded by many processes is one dependency); the agent's rows   \
     * for a path (an interpreter's version) stay apart from the shim's rows of that path. */      \
    X(Q_DEPS,                                                                                      \
      "SELECT path, min(kind), max(package), max(version), max(source) FROM deps"                  \
      " WHERE run_id = ?1 GROUP BY path, pid = 0 AND kind IN ('python', 'interpreter', 'git')"     \
      " ORDER BY path, 2")                                                                         \
    X(DEP_CACHE_GET, "SELECT package, version FROM dep_cache WHERE path = ?1 AND stamp = ?2")      \
    X(DEP_CACHE_PUT,                                                                               \
      "INSERT INTO dep_cache (path, package, version, stamp) VALUES (?1, ?2, ?3, ?4)"              \
      " ON CONFLICT (path) DO UPDATE SET package = excluded.package,"                              \
      " version = excluded.version, stamp = excluded.stamp")                                       \
    X(Q_TAG, "SELECT value FROM tags WHERE run_id = ?1 AND key = ?2")                              \
    X(Q_RUN_CWD, "SELECT cwd FROM runs WHERE id = ?1")

/* Q_DEPS: in the order of the run document's "deps" fields. */
enum tr_q_deps_col {
    TR_COL_DEP_PATH,
    TR_COL_DEP_KIND,
    TR_COL_DEP_PACKAGE,
    TR_COL_DEP_VERSION,
    TR_COL_DEP_SOURCE,
    TR_COL_DEP_COUNT
};
/* DEP_CACHE_GET */
enum tr_dep_cache_col { TR_COL_DEPC_PACKAGE, TR_COL_DEPC_VERSION };

#endif
