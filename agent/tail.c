/* tail.c - moves committed spool records into the store in batched, idempotent transactions. */
#include <string.h>

#include "agent.h"
#include "record.h"
#include "trail.h"

#define TAIL_BATCH 5000

int tr_tail_open(tr_tail *t, const char *spool_dir, tr_store *store)
{
    memset(t, 0, sizeof *t);
    t->store = store;
    t->hashq = tr_hashq_new(); /* NULL: no hashing, nothing else changes */
    t->depq = tr_depq_new();   /* NULL: dependencies stay unresolved */
    return tr_spool_reader_open(spool_dir, &t->reader);
}

void tr_tail_close(tr_tail *t)
{
    tr_spool_reader_close(t->reader);
    t->reader = NULL;
    tr_hashq_free(t->hashq);
    t->hashq = NULL;
    tr_depq_free(t->depq);
    t->depq = NULL;
}

/* The run a record belongs to: its RUN_ID for run records, else its segment's. */
static const char *run_of(const tr_rec *rec, const char *seg_run, char *buf, size_t n)
{
    if (tr_rec_copy_str(rec, TR_F_RUN_ID, buf, n) == 0 && buf[0]) return buf;
    return seg_run;
}

static int on_record(void *ctx, const tr_seg_info *seg, uint64_t seq, const uint8_t *body,
                     size_t len)
{
    tr_tail *t = ctx;
    tr_rec rec;
    if (tr_rec_decode(body, len, &rec) != 0) {
        t->undecodable++; /* the frame's crc matched, so this is a writer bug: skip it */
        return 0;
    }
    tr_stream st;
    char run[33];
    memset(&st, 0, sizeof st);
    memcpy(st.id, seg->stream_id, sizeof st.id - 1);
    memcpy(st.run_id, seg->run_id, sizeof st.run_id - 1);
    st.pid = seg->pid;
    strncpy(st.host, seg->host, sizeof st.host - 1);
    int rc = tr_store_ingest(t->store, &st, seq, &rec);
    if (rc < 0) {
        t->last_err = rc;
        return 1;
    }
    if (rc == 1) {
        t->duplicates++;
    } else {
        t->stored++;
        tr_hashq_note(t->hashq, &rec, st.host);
        tr_depq_note(t->depq, &rec, run_of(&rec, st.run_id, run, sizeof run));
    }
    return 0;
}

long tr_tail_pump(tr_tail *t, long max)
{
    if (max <= 0) max = TAIL_BATCH;
    t->last_err = 0;
    int rc = tr_store_begin(t->store);
    if (rc) return rc;
    long n = tr_spool_reader_poll(t->reader, on_record, t, max);
    if (n < 0 || t->last_err) {
        tr_hashq_clear(t->hashq);
        tr_depq_clear(t->depq);
        tr_store_rollback(t->store);
        tr_spool_reader_rewind(t->reader);
        return t->last_err ? t->last_err : (int)n;
    }
    rc = tr_store_commit(t->store);
    if (rc) {
        tr_hashq_clear(t->hashq);
        tr_depq_clear(t->depq);
        tr_store_rollback(t->store);
        tr_spool_reader_rewind(t->reader);
        return rc;
    }
    tr_spool_reader_commit(t->reader); /* only now may segments be removed */
    tr_hashq_flush(t->hashq, t->store); /* a hash is an extra: failures lose only the hash */
    tr_depq_flush(t->depq, t->store);   /* so is a resolved dependency */
    return n;
}

long tr_tail_drain(tr_tail *t)
{
    long total = 0;
    for (;;) {
        long n = tr_tail_pump(t, 0);
        if (n < 0) return n;
        total += n;
        if (n == 0) return total;
    }
}
