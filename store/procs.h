/* procs.h - process images and dependencies inside the store library (not a public header). */
#ifndef TR_PROCS_H
#define TR_PROCS_H

#include <stdint.h>

#include "record.h"
#include "store_int.h"

struct cJSON;

/* Ingest (procs.c), inside the caller's transaction, the run row already present. run is the
 * NUL-terminated run id, pid the record's PID. argv is the image's argv as JSON text or NULL. */
int tr_procs_image(tr_store *s, const char *run, int64_t pid, const tr_rec *rec, const char *argv);
/* PROC_END (end of an image, or a status reaped by the parent) and CRASH records. */
int tr_procs_event(tr_store *s, const char *run, int64_t pid, const tr_rec *rec);
/* Re-derives the end, exit status, rusage and backtrace of every image of (run, pid) from the
 * stored events: each event belongs to the image of that PID whose start precedes it last. */
int tr_procs_settle(tr_store *s, const char *run, int64_t pid);

/* Queries (procs_query.c, deps.c): add "processes" and "crash", then "deps", to a run
 * document already holding the run row ("pid"). */
int tr_procs_json(tr_store *s, const char *run, struct cJSON *doc);
int tr_deps_json(tr_store *s, const char *run, struct cJSON *doc);

#endif
