/* sink.h - where the agent delivers spooled records: one interface, two implementations (the
 * embedded store, sink_store.c; the collector link, link.c). */
#ifndef TR_SINK_H
#define TR_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "spool.h"
#include "store.h"

typedef struct tr_sink tr_sink;

#define TR_SINK_REFUSED 2 /* add: the segment is refused */

/* A batch: begin, add records (of one stream or many, as the sink allows), then commit makes
 * them durable (a store transaction, or a collector's acknowledgement after its commit) or
 * abort forgets them. Only after commit may the spool let go of them. */
typedef struct tr_sink_vt {
    const char *kind; /* "store" or "collector" */
    /* 0 when a batch can be sent now; TRAIL_EAGAIN (why says so) while backing off or
     * not connected. */
    int (*ready)(tr_sink *s, char *why, size_t n);
    int (*begin)(tr_sink *s);
    /* 0 taken, 1 the batch is full (this record starts the next one), TR_SINK_REFUSED when
     * the destination refuses the record's segment (not the run's owner: kept in the spool,
     * never read again), or TRAIL_E*. */
    int (*add)(tr_sink *s, const tr_seg_info *seg, uint64_t seq, const uint8_t *body, size_t len,
               const tr_rec *rec);
    /* 0 with *stored / *dups counted, or TRAIL_E* with why (the batch is to be sent again). */
    int (*commit)(tr_sink *s, int64_t deadline_ns, uint64_t *stored, uint64_t *dups, char *why,
                  size_t n);
    void (*abort)(tr_sink *s);
    /* Caches the destination keeps for enrichment (NULL: none). hash_known: 1 when the version
     * of path with fingerprint fp already has a content hash. dpkg_get: 0 and package/version
     * ("" package: owned by none) for a path under one state of the dpkg database, else
     * TRAIL_ENOTFOUND; dpkg_put records an answer. */
    int (*hash_known)(tr_sink *s, const char *path, const char *host, const tr_fingerprint *fp);
    int (*dpkg_get)(tr_sink *s, const char *path, const char *stamp, char *pkg, size_t pn,
                    char *ver, size_t vn);
    int (*dpkg_put)(tr_sink *s, const char *path, const char *stamp, const char *pkg,
                    const char *ver);
    void (*cache_sync)(tr_sink *s); /* makes the answers put since the last call durable */
    void (*close)(tr_sink *s);
} tr_sink_vt;

struct tr_sink {
    const tr_sink_vt *vt;
    char name[4200];      /* the store's path or the collector's URL, for messages */
    const char *leftover; /* the command that delivers what stays in the spool */
};

/* The embedded store at --store / $TRAIL_STORE / ./.trail/trail.db (created when flags has
 * TR_STORE_CREATE); prints one line and returns NULL when it cannot be opened. */
tr_sink *tr_sink_store_open(const char *store_opt, int flags);
/* The same store, opened only when first needed: ready() tries (every 250 ms) and says why it
 * cannot yet (TRAIL_EAGAIN); nothing is opened here, so a busy, locked, missing or corrupt
 * store never stops what comes first. settle: once open, end the runs of this host whose
 * launcher died (tr_agent_settle). NULL only when out of memory. */
tr_sink *tr_sink_store_open_lazy(const char *store_opt, int flags, int settle);
/* Opens a lazy sink's store now, waiting for a busy one until deadline_ns; 0 when open, else
 * TRAIL_E* at once for a store that cannot open (corrupt, unwritable), why saying so. */
int tr_sink_store_attach(tr_sink *s, int64_t deadline_ns, char *why, size_t n);
/* 1 for a store sink (open or not yet). */
int tr_sink_is_store(const tr_sink *s);
/* The store under a store sink (NULL for other sinks). */
tr_store *tr_sink_store(tr_sink *s);
void tr_sink_close(tr_sink *s);

#endif
