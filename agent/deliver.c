/* deliver.c - delivery of one spool directory through a sink: batches made durable before the
 * spool lets go of them, enrichment after each, the over-budget warning, and the end of a run. */
#include "deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "record.h"
#include "trail.h"
#include "util.h"

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void tr_sink_close(tr_sink *s)
{
    if (s) s->vt->close(s);
}

int tr_deliver_open(tr_deliver *d, const char *dir, tr_sink *sink)
{
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    d->sink = sink;
    d->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->dirfd < 0) return TRAIL_EIO;
    if (flock(d->dirfd, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        close(d->dirfd);
        d->dirfd = -1;
        return busy ? TRAIL_EBUSY : TRAIL_EIO;
    }
    int rc = tr_spool_reader_open(dir, &d->reader);
    if (rc) {
        close(d->dirfd);
        d->dirfd = -1;
        return rc;
    }
    d->enrich = tr_enrich_new(dir); /* NULL: records still flow, unenriched */
    return 0;
}

void tr_deliver_close(tr_deliver *d)
{
    tr_spool_reader_close(d->reader);
    d->reader = NULL;
    tr_enrich_free(d->enrich);
    d->enrich = NULL;
    if (d->dirfd >= 0) close(d->dirfd); /* releases the lock */
    d->dirfd = -1;
}

/* Spool callback: one record into the sink's batch, noted for enrichment. */
static int on_record(void *ctx, const tr_seg_info *seg, uint64_t seq, const uint8_t *body,
                     size_t len)
{
    tr_deliver *d = ctx;
    tr_rec rec;
    if (tr_rec_decode(body, len, &rec) != 0) {
        d->undecodable++; /* its crc matched, so a writer bug: skipped */
        return 0;
    }
    if (rec.type == TR_REC_FILE_OPEN) { /* for the agent only: settled here (settle_files.c) */
        tr_enrich_note(d->enrich, seg, &rec);
        return 0;
    }
    int rc = d->sink->vt->add(d->sink, seg, seq, body, len, &rec);
    if (rc == TR_SINK_REFUSED) { /* another owner's segment: left where it lies */
        tr_spool_reader_refuse(d->reader, seg->path);
        d->refused++;
        return 0;
    }
    if (rc < 0) {
        d->last_err = rc;
        return 1;
    }
    int64_t lost;
    if (rec.type == TR_REC_DROPPED && tr_rec_get_i64(&rec, TR_F_COUNT, &lost) == 0 && lost > 0)
        d->batch_dropped += (uint64_t)lost;
    if (rc == 0) tr_enrich_note(d->enrich, seg, &rec);
    if (rc > 0) d->more = 1; /* the sink's batch is full: the rest waits for the next pump */
    return rc;
}

/* Writers leave <root>/over-budget when TRAIL_SPOOL_BUDGET_MB stops them: say it loudly. */
static void report_budget(tr_deliver *d)
{
    int64_t now = tr_mono_ns();
    if (now < d->budget_check_ns) return;
    d->budget_check_ns = now + 1000000000LL;
    char note[4200], text[128] = "";
    snprintf(note, sizeof note, "%s", d->dir);
    char *slash = strrchr(note, '/');
    if (!slash) return;
    snprintf(slash, sizeof note - (size_t)(slash - note), "/over-budget");
    if (tr_read_file_owned(note, text, sizeof text, -1) < 0) return; /* no FIFO, no link */
    unsigned long long mb = 0;
    sscanf(text, "%*d %llu", &mb);
    *slash = 0;
    fprintf(stderr,
            "trail: WARNING: the spool %s is over its budget (TRAIL_SPOOL_BUDGET_MB=%llu): "
            "programs are dropping new records until delivery frees space\n",
            note, mb);
    *slash = '/';
    unlink(note);
}

const char *tr_deliver_run(const tr_deliver *d)
{
    const char *run = strrchr(d->dir, '/');
    run = run ? run + 1 : d->dir;
    return tr_is_hex_id(run) ? run : NULL;
}

/* Damaged frames the reader skipped since the last report become a DROPPED record of the
 * agent's in the run (DAMAGED), so the count is stored with the run whatever the sink; the
 * run is the directory's. 1 when a record was queued for enrichment's flush. */
static int note_damaged(tr_deliver *d)
{
    tr_spool_stats ss;
    tr_spool_reader_stats(d->reader, &ss);
    uint64_t bad = ss.torn + ss.corrupt;
    if (bad <= d->damaged_sent || !d->enrich) return 0;
    const char *run = tr_deliver_run(d);
    if (!run) return 0;
    uint8_t buf[256];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_DROPPED, tr_now_ns());
    tr_enc_i64(&e, TR_F_DAMAGED, (int64_t)(bad - d->damaged_sent));
    tr_enc_str(&e, TR_F_SOURCE, "agent");
    tr_enc_str(&e, TR_F_NOTE, "damaged spool frames skipped");
    if (tr_enrich_emit(d->enrich, run, &e) != 0) return 0;
    d->damaged_sent = bad;
    return 1;
}

/* The batch failed: nothing of it counts, it is read again. */
static long failed(tr_deliver *d, int rc)
{
    d->sink->vt->abort(d->sink);
    tr_spool_reader_rewind(d->reader);
    tr_enrich_discard(d->enrich);
    return d->last_err = rc;
}

static long pump_once(tr_deliver *d, int64_t deadline_ns, int *collected)
{
    tr_sink *s = d->sink;
    int rc = s->vt->ready(s, d->last_msg, sizeof d->last_msg);
    if (rc) return d->last_err = rc;
    if ((rc = s->vt->begin(s)) != 0) {
        snprintf(d->last_msg, sizeof d->last_msg, "%.300s: cannot start a batch: %s", s->name,
                 trail_strerror(rc));
        return failed(d, rc);
    }
    d->last_err = 0;
    d->batch_dropped = 0;
    d->more = 0;
    uint64_t undecodable = d->undecodable, refused = d->refused;
    long n = tr_spool_reader_poll(d->reader, on_record, d, 0);
    if (n < 0 || d->last_err) {
        rc = d->last_err ? d->last_err : (int)n;
        tr_store *st = tr_sink_store(s);
        snprintf(d->last_msg, sizeof d->last_msg, "%s",
                 st ? tr_store_errmsg(st) : trail_strerror(rc));
        return failed(d, rc);
    }
    long sent = n - (long)(d->undecodable - undecodable) - (long)(d->refused - refused);
    uint64_t stored = 0, dups = 0;
    if (sent > 0 &&
        (rc = s->vt->commit(s, deadline_ns, &stored, &dups, d->last_msg, sizeof d->last_msg)) != 0)
        return failed(d, rc);
    if (sent <= 0) s->vt->abort(s);    /* nothing in the batch (or only undecodable records) */
    tr_spool_reader_commit(d->reader); /* only now may segments be removed */
    int damaged = note_damaged(d);
    if (sent <= 0) {
        /* enrichment made now goes out by the next pump: a count of damaged frames (not
         * "nothing waiting" yet), the files of a process killed after the last batch; the
         * hashes of the last batch (waited for here) go out in this one */
        int hashing = tr_enrich_busy(d->enrich);
        long made = tr_enrich_flush(d->enrich, s, 1);
        if (damaged && made > 0) return TRAIL_EAGAIN;
        *collected = hashing && made > 0;
        return 0;
    }
    d->acked += (uint64_t)sent;
    d->dropped += d->batch_dropped;
    d->stored += stored;
    d->duplicates += dups;
    d->batches++;
    d->last_msg[0] = 0;
    /* enrichment is an extra: failures lose only it; the batch's files are hashed while the
     * next batch is stored, or now when the batch took all there was (the end of a run: its
     * hashes then go out in one batch with the rest of its enrichment, one commit less) */
    tr_enrich_flush(d->enrich, s, !d->more);
    return sent;
}

long tr_deliver_pump(tr_deliver *d, int64_t deadline_ns)
{
    report_budget(d);
    int collected = 0;
    long n = pump_once(d, deadline_ns, &collected);
    if (n == 0 && collected) n = pump_once(d, deadline_ns, &collected);
    return n;
}

int tr_deliver_drain(tr_deliver *d, int64_t deadline_ns, volatile int *stop)
{
    for (;;) {
        if ((stop && *stop) || tr_mono_ns() >= deadline_ns)
            return d->last_err ? d->last_err : TRAIL_ETIMEDOUT;
        long n = tr_deliver_pump(d, deadline_ns);
        if (n == 0) return 0;
        if (n < 0) nap_ms(20);
    }
}

int tr_deliver_finish_run(tr_deliver *d, double drain_s, double live_s)
{
    int64_t t0 = tr_mono_ns(), drain_dl = t0 + (int64_t)(drain_s * 1e9);
    d->budget_check_ns = 0; /* the command ended: a budget note it left is said now */
    int64_t live_dl = t0 + (int64_t)(live_s * 1e9);
    for (;;) {
        int rc = tr_deliver_drain(d, drain_dl, NULL);
        int left = tr_deliver_pending(d), live = tr_deliver_live_writers(d);
        if (left == 0) return 0;
        int64_t now = tr_mono_ns();
        if (rc == 0 && live > 0 && now >= live_dl) {
            fprintf(stderr,
                    "trail: %d process(es) of this run are still writing; their records "
                    "stay in %s for %s\n",
                    live, d->dir, d->sink->leftover);
            return left;
        }
        if (now >= drain_dl) {
            fprintf(stderr,
                    "trail: not everything reached %s %s within the drain timeout (%gs): %s; "
                    "the rest stays in %s for %s\n",
                    d->sink->vt->kind, d->sink->name, drain_s,
                    d->last_msg[0] ? d->last_msg : "still sending", d->dir, d->sink->leftover);
            return left;
        }
        nap_ms(rc ? 20 : 50);
    }
}

int tr_deliver_pending(tr_deliver *d)
{
    int n = tr_spool_reader_pending(d->reader);
    return n ? n : tr_enrich_busy(d->enrich); /* hashes not yet written count as one */
}

int tr_deliver_live_writers(tr_deliver *d)
{
    return tr_spool_reader_live_writers(d->reader);
}
