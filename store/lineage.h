/* lineage.h - lineage hooks the ingest calls (internal to the store library). */
#ifndef TR_LINEAGE_H
#define TR_LINEAGE_H

#include <stddef.h>
#include <stdint.h>

#include "store_int.h"

/* Longest artifact key: a host name, ':' and a path. */
#define TR_LINEAGE_KEY_MAX 4608

/* tr_store_artifact_key for a path that is not NUL-terminated. */
int tr_lineage_key(const char *path, size_t n, const char *host, char *out, size_t outlen);

/* The artifact id of key, added when missing; 0 or TRAIL_E*. */
int tr_lineage_artifact(tr_store *s, const char *key, int64_t *id);

/* A FILE event of run on version (of artifact art, key) was stored: applies the renames, links
 * and unlinks of the same path that the run made after start_ns and that were stored first
 * (any_ops 0: the run has none stored, nothing to look for), then marks the run's earlier writes
 * of the path overwritten. */
int tr_lineage_after_file(tr_store *s, const char *run, int64_t pid, const char *key, int64_t art,
                          int64_t version, int produced, int64_t start_ns, int any_ops);

/* A FILEOP was stored: a rename or link carries the current version of key to key2 (as an
 * output of run, with fp when the record has the result's fingerprint); a rename or unlink
 * marks the version removed by run; a truncate with fp makes a new version. */
int tr_lineage_fileop(tr_store *s, const char *run, int64_t pid, const char *op, const char *key,
                      const char *key2, const tr_fingerprint *fp, int64_t time_ns, int64_t *acted);

/* lineage_order.c: the order of events. */
/* A FILE or FILE_SETTLE of (run, pid) settling open_seq is about to be stored: 1 when it must be
 * skipped (a settle for an open whose FILE is stored), else 0 after removing what a FILE
 * replaces (the agent's settle of the same open); TRAIL_E* on failure. */
int tr_lineage_settle_check(tr_store *s, const char *run, int64_t pid, int64_t open_seq, int settle,
                            int64_t start_ns);
/* The event just inserted gets its order: seq, open_seq (0: none), ended (NULL: closed). */
int tr_lineage_event_order(tr_store *s, int64_t event, int64_t seq, int64_t open_seq,
                           const char *ended);
/* The file op stored as rowid acted on version (0: none known yet); seq 0 keeps its seq. */
int tr_lineage_op_order(tr_store *s, int64_t rowid, int64_t seq, int64_t version);
int tr_lineage_op_acted(tr_store *s, int64_t rowid, int64_t version);
/* Undoes the carry of version src to key2 by run (kind rename|link). */
int tr_lineage_undo_carry(tr_store *s, const char *run, int64_t src, const char *key2,
                          const char *kind);

#endif
