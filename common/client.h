/* client.h - the per-process client core shared by the SDK and the shim: run context and a
 * fork-aware, lock-free writer into this process's own spool segment. */
#ifndef TR_CLIENT_H
#define TR_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* Points this process at a run: later records go to a segment of its own in spool_dir
 * (created 0700 when missing). A previous segment of another run is closed. */
int tr_client_configure(const char *run_id, const char *spool_dir);
/* Reads TRAIL_RUN_ID and TRAIL_SPOOL; returns 1 when they name a run, 0 when absent,
 * TRAIL_EDISABLED when TRAIL_DISABLE is set to a true value. Does not create files. */
int tr_client_from_env(void);
/* Appends one encoded record body to this process's segment (opened on first use, again
 * after fork, and when full). Async-signal-safe once a segment is open. */
int tr_client_emit(const void *body, size_t len);
/* tr_client_emit for a record that may go to the calling thread's own segment (the SDK's
 * metrics): a thread that keeps logging while others do gets one, so threads do not contend.
 * Never for start, end, drop-count or file records (their order within a stream matters). */
int tr_client_emit_hot(const void *body, size_t len);
int tr_client_flush(void);
/* Opens this process's segment now instead of at its first record (the launcher, before CMD
 * can fill the disk, so that the run's start and end have their reserved room). 0 or TRAIL_E*. */
int tr_client_prepare(void);
/* Marks this process's segments closed so readers can finish them (exit, exec). */
void tr_client_shutdown(void);
/* Forget the run: after this, emits fail with TRAIL_ENORUN until configured again. */
void tr_client_reset(void);
const char *tr_client_run_id(void); /* NULL when not configured */
const char *tr_client_spool_dir(void);
uint64_t tr_client_dropped(void); /* records lost (spool full, re-entrancy, errors) */
int tr_client_last_error(void);
int tr_env_disabled(void); /* TRAIL_DISABLE set to 1/true/yes */
/* A word of the client's MADV_WIPEONFORK page for the caller's own use (the shim's fork check):
 * it reads 0 in a forked child. NULL where the kernel cannot wipe on fork. */
volatile uint32_t *tr_client_fork_word(void);

#endif
