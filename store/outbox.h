/* outbox.h - the OpenLineage outbox of traild --openlineage-url (outbox.c, outbox_sql.h). */
#ifndef TR_OUTBOX_H
#define TR_OUTBOX_H

#include <stdint.h>

#include "store.h"

/* Registers url as a target: from now on every run that ends is queued for it (runs that ended
 * before are not: `trail export openlineage --url` sends history). Idempotent. */
int tr_store_ol_target(tr_store *s, const char *url, int64_t now_ns);
/* Drops every target but keep_url (NULL: all of them) and the rows queued for them: how many of
 * each in *targets and *rows. */
int tr_store_ol_prune(tr_store *s, const char *keep_url, int64_t *targets, int64_t *rows);
/* The outbox's caps: rows not sent queued before before_ns (*old), then all but the newest
 * max_rows of them (*over); the record of sent ends is kept as long and as many. */
int tr_store_ol_cap(tr_store *s, int64_t before_ns, int64_t max_rows, int64_t *old, int64_t *over);
/* The oldest queued run for url: 0 with seq, run_id, the end status queued and the tries so far;
 * TRAIL_ENOTFOUND when none (parked rows are not queued). */
int tr_store_ol_next(tr_store *s, const char *url, int64_t *seq, char run_id[33], char status[32],
                     int64_t *tries);
/* How many runs wait for url. */
int tr_store_ol_pending(tr_store *s, const char *url, int64_t *n);
/* The entry seq was sent for status (a run queued again meanwhile for another end stays). */
int tr_store_ol_done(tr_store *s, int64_t seq, const char *status);
/* A try of seq failed with why; park: set aside for good (kept, with why; the next is sent). */
int tr_store_ol_failed(tr_store *s, int64_t seq, const char *why, int park);

#endif
