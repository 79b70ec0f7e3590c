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

struct tr_sink;

/* Enrichment (enrich.c): what the agent learns about delivered records — content hashes,
 * resolved dependencies, git state — becomes records of its own, appended to the run's spool
 * directory as a stream of the agent's (closed segments, one per pass), so every sink carries
 * them. Notes are taken as records go into a batch; discard forgets the batch's notes when it
 * was not delivered; flush resolves what was noted (after the batch is durable) and writes the
 * records. */
typedef struct tr_enrich tr_enrich;
tr_enrich *tr_enrich_new(const char *spool_dir); /* NULL: out of memory (nothing enriched) */
void tr_enrich_free(tr_enrich *e);
void tr_enrich_note(tr_enrich *e, const tr_seg_info *seg, const tr_rec *rec);
void tr_enrich_discard(tr_enrich *e);
/* Returns the number of records appended, or TRAIL_E* (only enrichment is lost). Without wait
 * the batch's files are hashed on a worker thread and their records appended by the next flush
 * (tr_enrich_busy meanwhile); with wait everything noted is appended now. */
long tr_enrich_flush(tr_enrich *e, struct tr_sink *sink, int wait);
int tr_enrich_busy(const tr_enrich *e);
/* For hash.c and deps.c: appends one finished-or-not encoder's record for run. */
struct tr_enc;
int tr_enrich_emit(tr_enrich *e, const char *run, struct tr_enc *enc);

/* Files of killed processes (settle_files.c): FILE_OPEN records noted as delivered, settled by
 * the FILE of their close or their image's PROC_END; at flush, those of a process that is gone
 * become FILE_SETTLE records (ENDED "killed"). */
/* kids.c: children of static processes, seen in /proc by trail run (the run's subreaper). */
struct rusage;
typedef struct tr_kids tr_kids;
tr_kids *tr_kids_open(int root);
int tr_kids_tick(tr_kids *k); /* milliseconds until the next look */
void tr_kids_reaped(tr_kids *k, int pid, int wstatus, const struct rusage *ru);
void tr_kids_close(tr_kids *k);

typedef struct tr_settleq tr_settleq;
tr_settleq *tr_settleq_new(void);
void tr_settleq_free(tr_settleq *q);
void tr_settleq_note(tr_settleq *q, const tr_seg_info *seg, const tr_rec *rec, const char *run);
int tr_settleq_flush(tr_settleq *q, tr_enrich *e);

/* Environment capture: appends ENV records for envp through the client, redacting secret
 * values by the common rule (redact.c). extra is a comma-separated list of more name patterns
 * (`trail run --redact`, may be NULL). */
int tr_env_record(char **envp, const char *extra, int64_t pid);

/* Content hashes (hash.c): SHA-256 of files under the budget ($TRAIL_HASH_BUDGET bytes, K/M/G
 * suffixes, 0 = off; default 256M), taken only while the path still holds the recorded
 * fingerprint (dev checked when check_dev). tr_hash_file returns 0 with hex filled, 1 when the
 * file is skipped (gone, changed, too big, not regular), or TRAIL_E*. */
typedef struct tr_hashq tr_hashq;
int64_t tr_hash_budget(void);
/* seen (may be NULL) gets the fingerprint of the bytes hashed. */
int tr_hash_file(const char *path, const tr_fingerprint *expect, int check_dev, int64_t budget,
                 char hex[65], tr_fingerprint *seen);
tr_hashq *tr_hashq_new(void);
void tr_hashq_free(tr_hashq *q);
void tr_hashq_clear(tr_hashq *q);
/* Notes a delivered FILE or FILEOP record of run (written on host) whose result can be hashed. */
void tr_hashq_note(tr_hashq *q, const tr_rec *rec, const char *run, const char *host);
/* Hashes what was noted (versions the sink already knows are skipped) into HASH records: with
 * wait, at once; else on a worker thread, emitted by the next flush, which waits for it. The
 * HASH records of the flush before are emitted first either way. */
int tr_hashq_flush(tr_hashq *q, tr_enrich *e, struct tr_sink *sink, int wait);
/* 1 while versions of a flush are being hashed or wait for the next flush to be emitted. */
int tr_hashq_busy(const tr_hashq *q);
/* The hashes of the job in flight as HASH records, waited for (a delivery that stops, at
 * close: they stay in the spool for the next). */
int tr_hashq_finish(tr_hashq *q, tr_enrich *e);

/* Dependencies (deps.c, deps_dpkg.c, deps_python.c, deps_git.c), resolved after each delivered
 * batch: shared objects and executables to Debian packages (dpkg database), files read from
 * site-packages to Python distributions, python executables to interpreter versions, files read
 * under the run's directories to git work trees (commit, branch, dirty: tracked changes, or an
 * untracked file the run read), emitted as DEP_INFO records and git.* TAG records. */
typedef struct tr_depq tr_depq;
tr_depq *tr_depq_new(void);
void tr_depq_free(tr_depq *q);
/* Forgets what was noted since the last flush (the batch was not delivered); caches stay. */
void tr_depq_clear(tr_depq *q);
/* Notes a delivered DEP, FILE, PROC_START, RUN_START or TAG record of run. */
void tr_depq_note(tr_depq *q, const tr_rec *rec, const char *run);
/* Resolves what was noted into records; the sink's dpkg cache is used when it has one. */
int tr_depq_flush(tr_depq *q, tr_enrich *e, struct tr_sink *sink);

/* trail's delivery gives way to the jobs it records: this process TRAIL_AGENT_NICE steps lower
 * (default 5; 0 keeps it). 0 with the priority before in *was, or -1 (left as it was). */
int tr_agent_nice(int *was);

/* When CMD (found as execvp would) links a sanitizer runtime (libasan, libtsan, libhwasan),
 * copies its soname: it must come first in LD_PRELOAD, before the capture shim. 0 or -1. */
int tr_sanitizer_runtime(const char *cmd, char *out, size_t n);

/* Liveness (liveness.c): a process's start time in clock ticks since boot (/proc/PID/stat
 * field 22; -1 when it is gone), this boot's id, and settling the runs of this host whose
 * launcher and processes are all gone (store/settle.c; spool_root NULL: the default root).
 * tr_agent_settle returns the number of runs settled or TRAIL_E*. */
int tr_agent_settle(tr_store *st, const char *spool_root);
/* After a run directory is delivered: when its launcher note names a launcher and root process
 * that are both gone (and no writer is left), a RUN_SETTLE record of the agent's goes through
 * the directory's sink, so a store or a collector ends the run by the same rule
 * (store/settle.c), and the note is removed. 1 when settled, 0 when there is nothing to settle
 * (the directory may go), TRAIL_EBUSY when the directory must stay: the launcher lives, its
 * liveness cannot be told, or the record was not delivered (tried again next time). */
struct tr_deliver;
int tr_agent_settle_dir(struct tr_deliver *d, int64_t deadline_ns);

#endif
