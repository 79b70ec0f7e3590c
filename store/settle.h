/* settle.h - ending runs whose launcher and processes are all gone (settle.c). */
#ifndef TR_SETTLE_H
#define TR_SETTLE_H

#include <stdint.h>

#include "store.h"

/* A run still `running` (or `lost`) in the store, as its launcher recorded itself. */
typedef struct tr_settle_run {
    char id[33];
    int64_t pid;            /* the root process (CMD) */
    int64_t launcher_pid;   /* the `trail run` that launched it */
    int64_t launcher_start; /* its start time in clock ticks since boot; -1 unknown */
    int64_t root_start;     /* the root process's start time in ticks; -1 unknown */
    char boot_id[64];       /* the boot it ran in ("" unknown) */
} tr_settle_run;

/* Whether anything of the run still lives on this host: 1 yes, 0 all gone, negative when it
 * cannot tell (the run is left as it is). The store cannot judge this itself: it may not be
 * on the run's host. */
typedef int (*tr_settle_alive_fn)(void *ctx, const tr_settle_run *run);

/* Settles the runs of host (its `trail run`s: they recorded a launcher) that are still
 * `running` and of which alive says nothing lives: their status comes from the root process's
 * recorded end (finished, failed, killed, crashed, as a normal end), else `lost` ended at the
 * time of the run's last record. A `lost` run whose root end has arrived since is settled
 * again, and one whose records arrived after it was settled ends at its new last record. One
 * transaction; returns the number of runs whose row changed, or TRAIL_E*. */
int tr_store_settle(tr_store *s, const char *host, tr_settle_alive_fn alive, void *ctx);

/* A RUN_SETTLE record: the agent on the run's host judged its launcher and root process gone
 * (agent/liveness.c), so the run is settled by the rule above, inside the caller's ingest
 * transaction; the time of its last record excludes stream_id's (the agent's). 1 when the
 * run's row changed, 0 when there was nothing to settle (no such run, or already ended). */
int tr_store_settle_run(tr_store *s, const char *run, size_t runlen, const char *stream_id);

/* The status a process end means: finished (exit 0), failed, crashed (a fault signal), killed. */
const char *tr_store_end_status(int64_t exit_code, int64_t signal);

#endif
