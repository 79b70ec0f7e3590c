/* enrich.c - the agent's enrichment as records: notes delivered records, resolves hashes,
 * dependencies and git state after each durable batch, and appends what it found to the run's
 * spool directory as closed segments of its own stream, delivered like any other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "record.h"
#include "sink.h"
#include "spool.h"
#include "trail.h"

/* Records of one run waiting to be written, encoded back to back. */
typedef struct eout {
    char run[33];
    uint8_t *buf;
    size_t len, cap, nrec, frames; /* frames: bytes the records take in a segment */
} eout;

struct tr_enrich {
    char dir[4096];
    tr_hashq *hashq;
    tr_depq *depq;
    tr_settleq *settleq;
    eout *out;
    size_t nout;
    uint64_t dropped; /* records that could not be written (out of memory, disk full) */
};

tr_enrich *tr_enrich_new(const char *spool_dir)
{
    tr_enrich *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    snprintf(e->dir, sizeof e->dir, "%s", spool_dir);
    e->hashq = tr_hashq_new();     /* NULL: no hashing, nothing else changes */
    e->depq = tr_depq_new();       /* NULL: dependencies stay unresolved */
    e->settleq = tr_settleq_new(); /* NULL: files of killed processes stay unknown */
    return e;
}

static long write_out_all(tr_enrich *e);

void tr_enrich_free(tr_enrich *e)
{
    if (!e) return;
    /* hashes still in flight are written to the spool, not dropped: the batch they belong to
     * is stored already and will not be read again */
    if (tr_hashq_busy(e->hashq) && tr_hashq_finish(e->hashq, e) >= 0) write_out_all(e);
    tr_hashq_free(e->hashq);
    tr_depq_free(e->depq);
    tr_settleq_free(e->settleq);
    for (size_t i = 0; i < e->nout; i++)
        free(e->out[i].buf);
    free(e->out);
    free(e);
}

/* The run a record belongs to: its RUN_ID for run records, else its segment's. */
static const char *run_of(const tr_rec *rec, const tr_seg_info *seg, char *buf, size_t n)
{
    if (tr_rec_copy_str(rec, TR_F_RUN_ID, buf, n) == 0 && buf[0]) return buf;
    return seg->run_id;
}

void tr_enrich_note(tr_enrich *e, const tr_seg_info *seg, const tr_rec *rec)
{
    if (!e) return;
    char run[33];
    const char *r = run_of(rec, seg, run, sizeof run);
    tr_hashq_note(e->hashq, rec, r, seg->host);
    tr_depq_note(e->depq, rec, r);
    tr_settleq_note(e->settleq, seg, rec, r);
}

void tr_enrich_discard(tr_enrich *e)
{
    if (!e) return;
    tr_hashq_clear(e->hashq);
    tr_depq_clear(e->depq);
}

int tr_enrich_emit(tr_enrich *e, const char *run, tr_enc *enc)
{
    long len = tr_enc_finish(enc);
    if (len < 0) {
        e->dropped++;
        return (int)len;
    }
    size_t i = 0;
    while (i < e->nout && strcmp(e->out[i].run, run))
        i++;
    if (i == e->nout) {
        eout *g = realloc(e->out, (e->nout + 1) * sizeof *g);
        if (!g) goto oom;
        e->out = g;
        memset(&e->out[i], 0, sizeof *e->out);
        snprintf(e->out[i].run, sizeof e->out[i].run, "%s", run);
        e->nout++;
    }
    eout *o = &e->out[i];
    if (o->len + (size_t)len > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16384;
        while (cap < o->len + (size_t)len)
            cap *= 2;
        uint8_t *g = realloc(o->buf, cap);
        if (!g) goto oom;
        o->buf = g;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, enc->buf, (size_t)len);
    o->len += (size_t)len;
    o->nrec++;
    o->frames += (TR_FRAME_HDR + (size_t)len + 7) & ~(size_t)7;
    return 0;
oom:
    e->dropped++;
    return TRAIL_ENOMEM;
}

/* Writes one run's records into closed segments of the agent's own (readers finish them at
 * once). Returns records written or TRAIL_E*. */
static long write_out(tr_enrich *e, eout *o)
{
    size_t off = 0, written = 0;
    while (off < o->len) {
        size_t cap = TR_SEG_HDR_SIZE + o->frames + 64;
        if (cap < TR_SEG_MIN_CAP) cap = TR_SEG_MIN_CAP;
        if (cap > TR_SEG_DEFAULT_CAP) cap = TR_SEG_DEFAULT_CAP;
        tr_seg seg;
        int rc = tr_seg_create(&seg, e->dir, o->run, (uint32_t)((cap + 7) & ~(size_t)7));
        if (rc) return rc;
        while (off < o->len) {
            size_t len = tr_get_u32(o->buf + off + 4); /* the body's own body_len */
            rc = tr_seg_append(&seg, o->buf + off, len);
            if (rc == TRAIL_ENOSPC) break; /* full: the rest goes into the next segment */
            if (rc) {
                tr_seg_close(&seg);
                return rc;
            }
            off += len;
            written++;
            o->frames -= (TR_FRAME_HDR + len + 7) & ~(size_t)7;
        }
        tr_seg_close(&seg);
    }
    return (long)written;
}

int tr_enrich_busy(const tr_enrich *e)
{
    return e && tr_hashq_busy(e->hashq);
}

/* What was emitted, into the run directories' enrichment segments: records written, or the
 * first error (what failed is counted in e->dropped and said). */
static long write_out_all(tr_enrich *e)
{
    long total = 0;
    int rc = 0;
    for (size_t i = 0; i < e->nout; i++) {
        eout *o = &e->out[i];
        if (!o->len) continue;
        long n = write_out(e, o);
        if (n < 0) {
            e->dropped += o->nrec;
            if (!rc) rc = (int)n;
        } else {
            total += n;
        }
        o->len = o->nrec = o->frames = 0;
    }
    if (e->dropped) {
        tr_agent_err("enrichment: %llu record(s) (hashes, dependencies) could not be written to "
                     "%s",
                     (unsigned long long)e->dropped, e->dir);
        e->dropped = 0;
    }
    return rc ? rc : total;
}

long tr_enrich_flush(tr_enrich *e, tr_sink *sink, int wait)
{
    if (!e) return 0;
    int rc = tr_hashq_flush(e->hashq, e, sink, wait);
    int drc = tr_depq_flush(e->depq, e, sink);
    int src = tr_settleq_flush(e->settleq, e);
    if (!drc) drc = src;
    long wrc = write_out_all(e);
    if (rc == 0 && wrc < 0) rc = (int)wrc;
    if (rc == 0) rc = drc;
    return rc ? rc : wrc;
}
