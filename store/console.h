/* console.h - a run's kept console (stdout/stderr chunks) and the source of metric points. */
#ifndef TR_STORE_CONSOLE_H
#define TR_STORE_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Ingest of a CONSOLE record of run (runlen bytes, not NUL-terminated): 0 stored (or stored
 * already), 1 malformed (no STREAM stdout|stderr, DATA or OFFSET), or TRAIL_E*. */
int tr_store_ingest_console(tr_store *s, const char *run, size_t runlen, const tr_rec *rec);
/* Before a METRIC point of key is stored: a console point (source "console") of a key the run
 * logs otherwise sets *drop; any other point registers the key and deletes the key's console
 * points. 0 or TRAIL_E*. */
int tr_store_metric_source(tr_store *s, const char *run, size_t runlen, const char *key,
                           size_t keylen, const char *source, size_t sourcelen, int *drop);

/* One kept chunk: its stream ("stdout" or "stderr"), offset, the bytes cut just before it. */
typedef int (*tr_console_fn)(void *arg, const char *stream, int64_t offset, int64_t cut,
                             const void *data, size_t n);
/* Calls fn for each chunk of run_id (stream NULL: both, in the order written) stored after
 * *after (a position; 0 at first), and advances *after. fn returning non-zero stops (returned).
 * 0 or TRAIL_E*. */
int tr_store_console_read(tr_store *s, const char *run_id, const char *stream, int64_t *after,
                          tr_console_fn fn, void *arg);
/* The last at most max bytes kept of one stream (malloc'd, NUL-terminated, *out NULL and *n 0
 * when there are none); *cut is set when bytes were left out before them. 0 or TRAIL_E*. */
int tr_store_console_tail(tr_store *s, const char *run_id, const char *stream, size_t max,
                          char **out, size_t *n, int *cut);

/* The run's status (running, finished, failed, ...) into out. 0, TRAIL_ENOTFOUND or TRAIL_E*. */
int tr_store_run_status(tr_store *s, const char *run_id, char *out, size_t n);

/* Adds "stderr_tail" (the last TR_CONSOLE_TAIL_LINES lines of stderr as text) to a run
 * document when its stderr was kept; allocation failures set *oom. 0 or TRAIL_E*. */
#define TR_CONSOLE_TAIL_LINES 20
struct cJSON;
int tr_store_console_tail_json(tr_store *s, const char *run_id, struct cJSON *run, int *oom);

#endif
