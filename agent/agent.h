/* agent.h - the `trail` command's modules: launcher, spool tailing, environment, queries. */
#ifndef TR_AGENT_H
#define TR_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"
#include "store.h"

/* Exit status for usage errors and unknown runs. */
#define TR_EXIT_USAGE 2

/* Subcommands; argv[0] is the subcommand name. Each returns the process exit status. */
int tr_cmd_run(int argc, char **argv);
int tr_cmd_runs(int argc, char **argv);
int tr_cmd_show(int argc, char **argv);
int tr_cmd_metrics(int argc, char **argv);
int tr_cmd_sync(int argc, char **argv);

/* The store path from --store, else $TRAIL_STORE, else ./.trail/trail.db. */
void tr_agent_store_path(const char *opt, char *buf, size_t n);
/* Prints "trail: <msg>" to stderr. */
void tr_agent_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Opens a store for queries, printing a clear error; NULL on failure. */
tr_store *tr_agent_open_store(const char *opt, int flags);

/* Tailing: moves committed records from a spool directory into a store. */
typedef struct tr_tail {
    tr_spool_reader *reader;
    tr_store *store;
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

#endif
