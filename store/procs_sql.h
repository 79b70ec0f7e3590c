/* procs_sql.h - SQL of the capture schema (migration 3): process images, their end events,
 * resolved dependencies; statements of collector/procs.c and procs_query.c. */
#ifndef TR_PROCS_SQL_H
#define TR_PROCS_SQL_H

/* Schema v3. A process image is one row of proc_images: a PID runs a chain of images (fork,
 * then one per execve), ordered by start_ns. What ends an image (its own PROC_END, the status
 * its parent reaped, a CRASH) is kept raw in proc_events and settled onto the image it falls
 * in by time (procs.c), so records of one PID arriving out of order across spool segments
 * give the same rows. start_ns NULL marks a placeholder holding events of a PID whose start
 * was never recorded. note says when the image did not load the shim (static binaries ...).
 * The v1 `processes` table (one row per PID) becomes a view of each PID's last image; deps
 * gain the package, version and source (dpkg|python|git|path) the agent resolved; dep_cache
 * keeps its path -> package answers (package NULL: none) for the dpkg database state `stamp`,
 * so a run does not read the whole database again. The tables
 * a partial older store may lack are created first, so the migration never needs them. */
#define TR_SQL_SCHEMA_V3                                                                           \
    "CREATE TABLE IF NOT EXISTS processes (run_id TEXT NOT NULL, pid INTEGER NOT NULL,"            \
    " ppid INTEGER, argv TEXT, cwd TEXT, exe TEXT, uid INTEGER, host TEXT, started_ns INTEGER,"    \
    " ended_ns INTEGER, exit_code INTEGER, signal INTEGER, utime_us INTEGER, stime_us INTEGER,"    \
    " maxrss_kb INTEGER, backtrace TEXT, PRIMARY KEY (run_id, pid));"                              \
    "CREATE TABLE IF NOT EXISTS deps (run_id TEXT NOT NULL, pid INTEGER NOT NULL DEFAULT 0,"       \
    " path TEXT NOT NULL, kind TEXT, PRIMARY KEY (run_id, pid, path));"                            \
    "CREATE TABLE proc_images ("                                                                   \
    " id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"         \
    " pid INTEGER NOT NULL, start_ns INTEGER, kind TEXT, ppid INTEGER, argv TEXT, cwd TEXT,"       \
    " exe TEXT, uid INTEGER, host TEXT, note TEXT, source TEXT,"                                   \
    " ended_ns INTEGER, end_kind TEXT, exit_code INTEGER, signal INTEGER, utime_us INTEGER,"       \
    " stime_us INTEGER, maxrss_kb INTEGER, backtrace TEXT, crash_note TEXT,"                       \
    " UNIQUE (run_id, pid, start_ns));"                                                            \
    "CREATE TABLE proc_events ("                                                                   \
    " id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"         \
    " pid INTEGER NOT NULL, time_ns INTEGER NOT NULL,"                                             \
    " type TEXT NOT NULL CHECK (type IN ('end', 'reaped', 'crash')), kind TEXT,"                   \
    " exit_code INTEGER, signal INTEGER, utime_us INTEGER, stime_us INTEGER, maxrss_kb INTEGER,"   \
    " backtrace TEXT, note TEXT);"                                                                 \
    "CREATE INDEX proc_events_pid ON proc_events(run_id, pid, time_ns);"                           \
    "INSERT INTO proc_images (run_id, pid, start_ns, ppid, argv, cwd, exe, uid, host, ended_ns,"   \
    " exit_code, signal, utime_us, stime_us, maxrss_kb, backtrace) SELECT run_id, pid,"            \
    " started_ns, ppid, argv, cwd, exe, uid, host, ended_ns, exit_code, signal, utime_us,"         \
    " stime_us, maxrss_kb, backtrace FROM processes;"                                              \
    "INSERT INTO proc_events (run_id, pid, time_ns, type, kind, exit_code, signal, utime_us,"      \
    " stime_us, maxrss_kb) SELECT run_id, pid, coalesce(ended_ns, started_ns, 0), 'end',"          \
    " CASE WHEN signal > 0 THEN 'signal' ELSE 'exit' END, exit_code, signal, utime_us, stime_us,"  \
    " maxrss_kb FROM processes WHERE ended_ns IS NOT NULL OR exit_code IS NOT NULL"                \
    " OR signal IS NOT NULL;"                                                                      \
    "INSERT INTO proc_events (run_id, pid, time_ns, type, signal, backtrace) SELECT run_id, pid,"  \
    " coalesce(ended_ns, started_ns, 0), 'crash', signal, backtrace FROM processes"                \
    " WHERE backtrace IS NOT NULL;"                                                                \
    "DROP TABLE processes;"                                                                        \
    "CREATE VIEW processes AS SELECT i.run_id, i.pid, i.ppid, i.argv, i.cwd, i.exe, i.uid,"        \
    " i.host, (SELECT min(f.start_ns) FROM proc_images f WHERE f.run_id = i.run_id"                \
    " AND f.pid = i.pid) AS started_ns, i.ended_ns, i.exit_code, i.signal, i.utime_us,"            \
    " i.stime_us, i.maxrss_kb, i.backtrace FROM proc_images i WHERE i.id = (SELECT l.id"           \
    " FROM proc_images l WHERE l.run_id = i.run_id AND l.pid = i.pid"                              \
    " ORDER BY l.start_ns DESC NULLS LAST, l.id DESC LIMIT 1);"                                    \
    "ALTER TABLE deps ADD COLUMN package TEXT;"                                                    \
    "ALTER TABLE deps ADD COLUMN version TEXT;"                                                    \
    "ALTER TABLE deps ADD COLUMN source TEXT;"                                                     \
    "CREATE INDEX deps_run_path ON deps(run_id, path);"                                            \
    "CREATE TABLE dep_cache (path TEXT PRIMARY KEY, package TEXT, version TEXT,"                   \
    " stamp TEXT NOT NULL);"

/* Statements of the process and dependency modules, part of the store's statement table. */
#define TR_PROCS_STMTS(X)                                                                          \
    X(PR_IMAGE,                                                                                    \
      "INSERT INTO proc_images (run_id, pid, start_ns, kind, ppid, argv, cwd, exe, uid, host,"     \
      " note, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"                  \
      " ON CONFLICT (run_id, pid, start_ns) DO UPDATE SET kind = coalesce(excluded.kind, kind),"   \
      " ppid = coalesce(excluded.ppid, ppid), argv = coalesce(excluded.argv, argv),"               \
      " cwd = coalesce(excluded.cwd, cwd), exe = coalesce(excluded.exe, exe),"                     \
      " uid = coalesce(excluded.uid, uid), host = coalesce(excluded.host, host),"                  \
      " note = coalesce(excluded.note, note), source = coalesce(excluded.source, source)")         \
    X(PR_EVENT,                                                                                    \
      "INSERT INTO proc_events (run_id, pid, time_ns, type, kind, exit_code, signal, utime_us,"    \
      " stime_us, maxrss_kb, backtrace, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"    \
      " ?11, ?12)")                                                                                \
    X(PR_IMAGES_OF, "SELECT id, start_ns FROM proc_images WHERE run_id = ?1 AND pid = ?2"          \
                    " ORDER BY start_ns NULLS FIRST, id")                                          \
    X(PR_EVENTS_OF,                                                                                \
      "SELECT id, time_ns, type, kind, exit_code, signal, utime_us, stime_us, maxrss_kb,"          \
      " backtrace IS NOT NULL AND backtrace != '', note FROM proc_events"                          \
      " WHERE run_id = ?1 AND pid = ?2 ORDER BY time_ns, id")                                      \
    X(PR_SETTLE,                                                                                   \
      "UPDATE proc_images SET ended_ns = ?2, end_kind = ?3, exit_code = ?4, signal = ?5,"          \
      " utime_us = ?6, stime_us = ?7, maxrss_kb = ?8,"                                             \
      " backtrace = (SELECT backtrace FROM proc_events WHERE id = ?9), crash_note = ?10"           \
      " WHERE id = ?1")                                                                            \
    X(PR_PLACEHOLDER, "INSERT INTO proc_images (run_id, pid) VALUES (?1, ?2)")                     \
    X(PR_DROP, "DELETE FROM proc_images WHERE id = ?1")                                            \
    X(Q_PR_IMAGES,                                                                                 \
      "SELECT pid, start_ns, kind, ppid, argv, cwd, exe, note, ended_ns, end_kind, exit_code,"     \
      " signal, utime_us, stime_us, maxrss_kb, backtrace, crash_note, source FROM proc_images"     \
      " WHERE run_id = ?1 ORDER BY pid, start_ns NULLS FIRST, id")

/* PR_IMAGES_OF: an image row and its start (NULL for a placeholder). */
enum tr_pr_images_col { TR_COL_PRI_ID, TR_COL_PRI_START_NS };
/* PR_EVENTS_OF */
enum tr_pr_events_col {
    TR_COL_PRE_ID,
    TR_COL_PRE_TIME_NS,
    TR_COL_PRE_TYPE,
    TR_COL_PRE_KIND,
    TR_COL_PRE_EXIT_CODE,
    TR_COL_PRE_SIGNAL,
    TR_COL_PRE_UTIME_US,
    TR_COL_PRE_STIME_US,
    TR_COL_PRE_MAXRSS_KB,
    TR_COL_PRE_HAS_BACKTRACE,
    TR_COL_PRE_NOTE,
};

/* Q_PR_IMAGES, in its column order. */
enum tr_q_pr_images_col {
    TR_COL_QPR_PID,
    TR_COL_QPR_START,
    TR_COL_QPR_KIND,
    TR_COL_QPR_PPID,
    TR_COL_QPR_ARGV,
    TR_COL_QPR_CWD,
    TR_COL_QPR_EXE,
    TR_COL_QPR_NOTE,
    TR_COL_QPR_ENDED,
    TR_COL_QPR_END_KIND,
    TR_COL_QPR_CODE,
    TR_COL_QPR_SIG,
    TR_COL_QPR_UTIME,
    TR_COL_QPR_STIME,
    TR_COL_QPR_RSS,
    TR_COL_QPR_BT,
    TR_COL_QPR_CNOTE,
    TR_COL_QPR_SOURCE,
    TR_COL_QPR_NCOLS,
};

#endif
