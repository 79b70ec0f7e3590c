/* ol_emit.h - traild --openlineage-url: OpenLineage RunEvents sent as runs end (ol_emit.c). */
#ifndef TR_OL_EMIT_H
#define TR_OL_EMIT_H

#include <stddef.h>

typedef struct tr_ol_emit tr_ol_emit;

/* Registers url as a target in the store at store_path (its own connection), drops every other
 * target with what was queued for it (a line says how many), and starts the thread that sends
 * the runs queued for it. url NULL: drops every target, starts nothing (*out NULL). On failure
 * err holds one line. */
int tr_ol_emit_start(tr_ol_emit **out, const char *url, const char *store_path, char *err,
                     size_t errlen);
/* Stops after the POST in flight (if any); what is still queued stays in the store. */
void tr_ol_emit_stop(tr_ol_emit *e);

#endif
