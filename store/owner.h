/* owner.h - which streams may join a run (owner.c), used by ingest.c. */
#ifndef TR_OWNER_H
#define TR_OWNER_H

#include <stddef.h>

#include "store.h"

/* A new stream of run[0..runlen) that claims a uid or an agent host: 0 admitted (the run takes
 * the claims it had none of), 1 refused (s->err says why: the run belongs to another uid or
 * came from another host), or TRAIL_E*. */
int tr_store_stream_admit(tr_store *s, const tr_stream *st, const char *run, size_t runlen);
/* Records on the stream's row who delivered it (uid, agent host, token fingerprint). */
int tr_store_stream_agent(tr_store *s, const tr_stream *st);

#endif
