/* sink_store.c - the embedded sink: records go straight into a store, a batch per
 * transaction, taken at commit with its look-ups made together first (on PostgreSQL a few
 * round trips for what costs two or three a record; on both backends the same rows in the
 * same order, so the same ids), and the store answers the enrichment caches (known hashes,
 * dpkg look-ups). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "sink.h"
#include "trail.h"
#include "util.h"

#define STORE_BATCH 5000           /* records per transaction */
#define RETRY_NS (250 * 1000000LL) /* a lazy sink tries to open its store this often */

/* A record of the batch, held until commit: its bytes in hold.buf, its stream's. */
typedef struct held {
    size_t off, len;
    uint64_t seq;
    size_t stream; /* index in hold.streams */
} held;

typedef struct store_hold {
    held *v;
    size_t n, cap;
    uint8_t *buf;
    size_t used, size;
    tr_stream *streams;
    size_t nstreams, scap;
    /* streams the store refused, whole (id, run, host, pid, uid: a writer may name a stream id
     * it does not own); their segments stay where they lie */
    struct refused_stream {
        tr_stream st;
        char why[300];
    } * refused;
    size_t nrefused, rcap;
} store_hold;

typedef struct store_sink {
    tr_sink base;
    tr_store *st;
    store_hold hold; /* the batch, taken at commit */
    long n;          /* records in the open transaction */
    int cache_tx;    /* a transaction holding cache answers is open */
    uint64_t stored, dups;
    /* lazy (tr_sink_store_open_lazy): the store opens on the first ready() that can */
    int flags, settle, open_rc;
    int64_t next_try_ns;
    char err[4400];
    char refused[33]; /* the last stream refused (store/owner.c), said once */
} store_sink;

static const tr_sink_vt store_vt;

tr_sink *tr_sink_store_open(const char *store_opt, int flags)
{
    store_sink *k = calloc(1, sizeof *k);
    if (!k) {
        tr_agent_err("out of memory");
        return NULL;
    }
    if (!(k->st = tr_agent_open_store(store_opt, flags))) {
        free(k);
        return NULL;
    }
    k->base.vt = &store_vt;
    snprintf(k->base.name, sizeof k->base.name, "%s", tr_store_path(k->st));
    k->base.leftover = "`trail sync`";
    return &k->base;
}

tr_sink *tr_sink_store_open_lazy(const char *store_opt, int flags, int settle)
{
    store_sink *k = calloc(1, sizeof *k);
    if (!k) {
        tr_agent_err("out of memory");
        return NULL;
    }
    k->base.vt = &store_vt;
    tr_agent_store_path(store_opt, k->base.name, sizeof k->base.name);
    k->base.leftover = "`trail sync`";
    k->flags = flags;
    k->settle = settle;
    k->open_rc = TRAIL_EAGAIN;
    snprintf(k->err, sizeof k->err, "store %s: not opened yet", k->base.name);
    return &k->base;
}

tr_store *tr_sink_store(tr_sink *s)
{
    return s && s->vt == &store_vt ? ((store_sink *)s)->st : NULL;
}

int tr_sink_is_store(const tr_sink *s)
{
    return s && s->vt == &store_vt;
}

/* A lazy sink's attempt to open its store, at most every RETRY_NS; 0 once open. */
static int try_open(store_sink *k)
{
    if (k->st) return 0;
    int64_t now = tr_mono_ns();
    if (now < k->next_try_ns) return k->open_rc;
    k->next_try_ns = now + RETRY_NS;
    k->open_rc = tr_store_open(k->base.name, k->flags, &k->st, k->err, sizeof k->err);
    if (k->open_rc) return k->open_rc;
    /* runs of this host whose launcher died are ended now (settle.c); a failure (a busy
     * store) leaves them for the next delivery */
    if (k->settle) tr_agent_settle(k->st, NULL);
    return 0;
}

static int store_ready(tr_sink *s, char *why, size_t n)
{
    store_sink *k = (store_sink *)s;
    if (try_open(k) == 0) return 0;
    snprintf(why, n, "%s", k->err);
    return TRAIL_EAGAIN;
}

int tr_sink_store_attach(tr_sink *s, int64_t deadline_ns, char *why, size_t n)
{
    store_sink *k = (store_sink *)s;
    for (;;) {
        int rc = try_open(k);
        if (rc == 0) return 0;
        /* a busy or locked store is waited for; a corrupt or unwritable one is not */
        if ((rc != TRAIL_EBUSY && rc != TRAIL_EAGAIN) || tr_mono_ns() >= deadline_ns) {
            snprintf(why, n, "%s", k->err);
            return rc;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void hold_clear(store_hold *h)
{
    h->n = h->used = h->nstreams = 0;
}

static void hold_free(store_hold *h)
{
    free(h->refused);
    free(h->v);
    free(h->buf);
    free(h->streams);
}

/* Why the store refused stream st (NULL: it did not). */
static const char *hold_refused(const store_hold *h, const tr_stream *st)
{
    for (size_t i = 0; i < h->nrefused; i++)
        if (!memcmp(&h->refused[i].st, st, sizeof *st)) return h->refused[i].why;
    return NULL;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : first;
    while (c < need)
        c *= 2;
    void *g = realloc(p, c * elem);
    if (g) *cap = c;
    return g;
}

/* Keeps a copy of the record for commit; TRAIL_ENOMEM when it cannot. */
static int hold_add(store_hold *h, const tr_stream *st, uint64_t seq, const uint8_t *body,
                    size_t len)
{
    /* a stream is its whole identity (all of it zeroed first): a segment of another writer
     * that names the same stream id is another stream, judged on its own */
    if (!h->nstreams || memcmp(&h->streams[h->nstreams - 1], st, sizeof *st)) {
        tr_stream *g = grow(h->streams, &h->scap, h->nstreams + 1, sizeof *g, 8);
        if (!g) return TRAIL_ENOMEM;
        h->streams = g;
        h->streams[h->nstreams++] = *st;
    }
    uint8_t *b = grow(h->buf, &h->size, h->used + len, 1, 1 << 16);
    if (!b) return TRAIL_ENOMEM;
    h->buf = b;
    held *v = grow(h->v, &h->cap, h->n + 1, sizeof *v, 256);
    if (!v) return TRAIL_ENOMEM;
    h->v = v;
    memcpy(h->buf + h->used, body, len);
    h->v[h->n++] = (held){h->used, len, seq, h->nstreams - 1};
    h->used += len;
    return 0;
}

static int store_begin(tr_sink *s)
{
    store_sink *k = (store_sink *)s;
    hold_clear(&k->hold);
    k->n = 0;
    k->stored = k->dups = 0;
    return k->st ? tr_store_begin(k->st) : TRAIL_EAGAIN;
}

static int store_add(tr_sink *s, const tr_seg_info *seg, uint64_t seq, const uint8_t *body,
                     size_t len, const tr_rec *rec)
{
    store_sink *k = (store_sink *)s;
    if (k->n >= STORE_BATCH) return 1;
    tr_stream st;
    memset(&st, 0, sizeof st);
    snprintf(st.id, sizeof st.id, "%s", seg->stream_id);
    snprintf(st.run_id, sizeof st.run_id, "%s", seg->run_id);
    snprintf(st.host, sizeof st.host, "%s", seg->host);
    st.pid = seg->pid;
    st.has_uid = 1;
    st.uid = seg->uid;
    (void)rec; /* decoded again at commit, from the copy */
    const char *why = hold_refused(&k->hold, &st);
    if (!why) {
        int rc = hold_add(&k->hold, &st, seq, body, len);
        if (rc == 0) k->n++;
        return rc;
    }
    if (strcmp(k->refused, seg->stream_id)) { /* said once per segment; nothing of it stored */
        snprintf(k->refused, sizeof k->refused, "%s", seg->stream_id);
        tr_agent_err("refused segment %s (uid %lld): %s", seg->path, (long long)seg->uid, why);
    }
    return TR_SINK_REFUSED;
}

/* The batch: the FILE records' artifact and version look-ups together, then every record. A
 * stream the store refuses fails the batch once: read again, its segments are refused at add. */
static int hold_ingest(store_sink *k, char *why, size_t n)
{
    store_hold *h = &k->hold;
    tr_rec rec;
    int rc = 0;
    for (size_t i = 0; i < h->n && rc == 0; i++)
        if (tr_rec_decode(h->buf + h->v[i].off, h->v[i].len, &rec) == 0)
            rc = tr_store_prefetch_note_all(k->st, &h->streams[h->v[i].stream], h->v[i].seq, &rec);
    if (rc == 0) rc = tr_store_prefetch_run(k->st);
    for (size_t i = 0; i < h->n && rc == 0; i++) {
        const tr_stream *st = &h->streams[h->v[i].stream];
        if (tr_rec_decode(h->buf + h->v[i].off, h->v[i].len, &rec) != 0) continue; /* add had */
        int irc = tr_store_ingest(k->st, st, h->v[i].seq, &rec);
        if (irc < 0) rc = irc;
        if (irc == TR_INGEST_REFUSED) { /* said at add, when the batch is read again */
            struct refused_stream *r = grow(h->refused, &h->rcap, h->nrefused + 1, sizeof *r, 4);
            if (!r) return TRAIL_ENOMEM;
            h->refused = r;
            r += h->nrefused++;
            r->st = *st;
            snprintf(r->why, sizeof r->why, "%s", tr_store_errmsg(k->st));
            snprintf(why, n, "a stream was refused: the batch is read again without it");
            return TRAIL_EAGAIN;
        }
        if (irc == 1)
            k->dups++;
        else if (irc == 0)
            k->stored++;
    }
    if (rc < 0) snprintf(why, n, "%s", tr_store_errmsg(k->st));
    return rc < 0 ? rc : 0;
}

static int store_commit(tr_sink *s, int64_t deadline_ns, uint64_t *stored, uint64_t *dups,
                        char *why, size_t n)
{
    store_sink *k = (store_sink *)s;
    (void)deadline_ns;
    int rc = hold_ingest(k, why, n);
    hold_clear(&k->hold);
    if (rc) {
        tr_store_rollback(k->st);
        return rc;
    }
    rc = tr_store_commit(k->st);
    if (rc) {
        snprintf(why, n, "%s", tr_store_errmsg(k->st));
        tr_store_rollback(k->st);
        return rc;
    }
    *stored = k->stored;
    *dups = k->dups;
    return 0;
}

static void store_abort(tr_sink *s)
{
    hold_clear(&((store_sink *)s)->hold);
    if (((store_sink *)s)->st) tr_store_rollback(((store_sink *)s)->st);
}

/* The look-ups of one enrichment pass share one read snapshot (ended by store_cache_sync, or
 * by the next batch's begin): one read lock, not one per file. A hash another agent stored
 * meanwhile is missed, which costs only hashing the file again. */
static int store_hash_known(tr_sink *s, const char *path, const char *host,
                            const tr_fingerprint *fp)
{
    char key[4608];
    store_sink *k = (store_sink *)s;
    if (!k->st) return 0;
    if (tr_store_artifact_key(path, host, key, sizeof key) != 0) return 0;
    if (!k->cache_tx && tr_store_read_begin(k->st) != 0) return 0;
    return tr_store_hash_known(k->st, key, fp);
}

static int store_dpkg_get(tr_sink *s, const char *path, const char *stamp, char *pkg, size_t pn,
                          char *ver, size_t vn)
{
    if (!((store_sink *)s)->st) return TRAIL_ENOTFOUND;
    return tr_store_dep_cache_get(((store_sink *)s)->st, path, stamp, pkg, pn, ver, vn);
}

/* Answers are cached in one transaction per enrichment pass (store_cache_sync commits). */
static int store_dpkg_put(tr_sink *s, const char *path, const char *stamp, const char *pkg,
                          const char *ver)
{
    store_sink *k = (store_sink *)s;
    if (!k->st) return TRAIL_EAGAIN;
    if (!k->cache_tx) {
        int rc = tr_store_begin(k->st);
        if (rc) return rc;
        k->cache_tx = 1;
    }
    return tr_store_dep_cache_put(k->st, path, stamp, pkg, ver);
}

static void store_cache_sync(tr_sink *s)
{
    store_sink *k = (store_sink *)s;
    if (k->st) tr_store_read_end(k->st);
    if (!k->cache_tx) return;
    k->cache_tx = 0;
    if (tr_store_commit(k->st) != 0) tr_store_rollback(k->st); /* only a cache: lost is fine */
}

static void store_close(tr_sink *s)
{
    store_sink *k = (store_sink *)s;
    store_cache_sync(s);
    tr_store_close(k->st);
    hold_free(&k->hold);
    free(k);
}

static const tr_sink_vt store_vt = {
    .kind = "store",
    .ready = store_ready,
    .begin = store_begin,
    .add = store_add,
    .commit = store_commit,
    .abort = store_abort,
    .hash_known = store_hash_known,
    .dpkg_get = store_dpkg_get,
    .dpkg_put = store_dpkg_put,
    .cache_sync = store_cache_sync,
    .close = store_close,
};
