/* outbox.h - the OpenLineage outbox of traild --openlineage-url (outbox.c, outbox_sql.h). */
#ifndef TR_OUTBOX_H
#define TR_OUTBOX_H

#include <stdint.h>

#include "store.h"

/* Registers url as a target: from now on every run that ends is queued for it (runs that ended
 * before are not: `trail export openlineage --url` sends history). Idempotent. */
int tr_store_ol_target(tr_store *s, const char *url, int64_t now_ns);
/* The oldest queued run for url: 0 with seq and run_id, TRAIL_ENOTFOUND when none. */
int tr_store_ol_next(tr_store *s, const char *url, int64_t *seq, char run_id[33]);
/* How many runs wait for url. */
int tr_store_ol_pending(tr_store *s, const char *url, int64_t *n);
/* The queued entry seq was sent (a run queued again meanwhile has a new seq and stays). */
int tr_store_ol_done(tr_store *s, int64_t seq);

#endif
