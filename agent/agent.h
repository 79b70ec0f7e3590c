/* agent.h - the agent: launcher, spool tailing, environment capture, enrichment (hashes, deps). */
#ifndef TR_AGENT_H
#define TR_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"
#include "store.h"

/* Exit status for usage errors and unknown runs. */
#define TR_EXIT_USAGE 2

/* `trail run` (run.c); argv[0] is the subcommand name. Returns the process exit status. */
int tr_cmd_run(int argc, char **argv);

/* The store path from --store, else $TRAIL_STORE, else ./.trail/trail.db. */
void tr_agent_store_path(const char *opt, char *buf, size_t n);
/* Prints "trail: <msg>" to stderr. */
void tr_agent_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Opens a store for queries, printing a clear error; NULL on failure. */
tr_store *tr_agent_open_store(const char *opt, int flags);

/* Tailing: moves committed records from a spool directory into a store. */
struct tr_hashq;
struct tr_depq;

typedef struct tr_tail {
    tr_spool_reader *reader;
    tr_store *store;
    struct tr_hashq *hashq; /* files to hash after each committed batch (hash.c) */
    struct tr_depq *depq;   /* dependencies to resolve after each committed batch (deps.c) */
    uint64_t stored, duplicates, undecodable;
    int last_err;
} tr_tail;

int tr_tail_open(tr_tail *t, const char *spool_dir, tr_store *store);
void tr_tail_close(tr_tail *t);
/* One batch: up to max records in one transaction; commits, then releases spool segments.
 * Returns records read (stored or duplicate), or a negative TRAIL_E* code (nothing lost:
 * the batch is read again next time). */
long tr_tail_pump(tr_tail *t, long max);
/* Pumps until no committed record is left. Returns total records or a negative code. */
long tr_tail_drain(tr_tail *t);

/* Environment capture: appends ENV records for envp through the client, redacting secret
 * values. extra is a comma-separated list of more name patterns (may be NULL). */
int tr_env_is_secret(const char *name, const char *extra);
int tr_env_record(char **envp, const char *extra, int64_t pid);

/* Content hashes (hash.c): SHA-256 of files under the budget ($TRAIL_HASH_BUDGET bytes, K/M/G
 * suffixes, 0 = off; default 256M), taken only while the path still holds the recorded
 * fingerprint (dev checked when check_dev). tr_hash_file returns 0 with hex filled, 1 when the
 * file is skipped (gone, changed, too big, not regular), or TRAIL_E*. */
typedef struct tr_hashq tr_hashq;
int64_t tr_hash_budget(void);
int tr_hash_file(const char *path, const tr_fingerprint *expect, int check_dev, int64_t budget,
                 char hex[65]);
tr_hashq *tr_hashq_new(void);
void tr_hashq_free(tr_hashq *q);
void tr_hashq_clear(tr_hashq *q);
/* Notes a stored FILE or FILEOP record whose result can be hashed. */
void tr_hashq_note(tr_hashq *q, const tr_rec *rec, const char *host);
/* Hashes what was noted and records the hashes in one transaction. */
int tr_hashq_flush(tr_hashq *q, tr_store *st);

/* Dependencies (deps.c, deps_dpkg.c, deps_python.c, deps_git.c), resolved after each committed
 * batch: shared objects and executables to Debian packages (dpkg database), files read from
 * site-packages to Python distributions, python executables to interpreter versions, files read
 * under the run's directories to git work trees (commit, branch, dirty: tracked changes, or an
 * untracked file the run read) stored as deps rows and git.* run tags. */
typedef struct tr_depq tr_depq;
tr_depq *tr_depq_new(void);
void tr_depq_free(tr_depq *q);
/* Forgets what was noted since the last flush (the batch was rolled back); caches stay. */
void tr_depq_clear(tr_depq *q);
/* Notes a stored DEP, FILE, PROC_START or RUN_START record of run. */
void tr_depq_note(tr_depq *q, const tr_rec *rec, const char *run);
/* Resolves what was noted and stores the results in one transaction; 0 or TRAIL_E*. */
int tr_depq_flush(tr_depq *q, tr_store *st);

/* When CMD (found as execvp would) links a sanitizer runtime (libasan, libtsan, libhwasan),
 * copies its soname: it must come first in LD_PRELOAD, before the capture shim. 0 or -1. */
int tr_sanitizer_runtime(const char *cmd, char *out, size_t n);

#endif
