/* sink_store.c - the embedded sink: records go straight into a local store, a batch per
 * transaction, and the store answers the enrichment caches (known hashes, dpkg look-ups). */
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

typedef struct store_sink {
    tr_sink base;
    tr_store *st;
    long n;       /* records in the open transaction */
    int cache_tx; /* a transaction holding cache answers is open */
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

static int store_begin(tr_sink *s)
{
    store_sink *k = (store_sink *)s;
    k->n = 0;
    k->stored = k->dups = 0;
    return k->st ? tr_store_begin(k->st) : TRAIL_EAGAIN;
}

static int store_add(tr_sink *s, const tr_seg_info *seg, uint64_t seq, const uint8_t *body,
                     size_t len, const tr_rec *rec)
{
    store_sink *k = (store_sink *)s;
    (void)body, (void)len;
    if (k->n >= STORE_BATCH) return 1;
    tr_stream st;
    memset(&st, 0, sizeof st);
    snprintf(st.id, sizeof st.id, "%s", seg->stream_id);
    snprintf(st.run_id, sizeof st.run_id, "%s", seg->run_id);
    snprintf(st.host, sizeof st.host, "%s", seg->host);
    st.pid = seg->pid;
    st.has_uid = 1;
    st.uid = seg->uid;
    int rc = tr_store_ingest(k->st, &st, seq, rec);
    if (rc < 0) return rc;
    if (rc == TR_INGEST_REFUSED) { /* said once per segment; its records are not stored */
        if (strcmp(k->refused, seg->stream_id)) {
            snprintf(k->refused, sizeof k->refused, "%s", seg->stream_id);
            tr_agent_err("refused segment %s (uid %lld): %s", seg->path, (long long)seg->uid,
                         tr_store_errmsg(k->st));
        }
        return TR_SINK_REFUSED;
    }
    k->n++;
    if (rc == 1)
        k->dups++;
    else
        k->stored++;
    return 0;
}

static int store_commit(tr_sink *s, int64_t deadline_ns, uint64_t *stored, uint64_t *dups,
                        char *why, size_t n)
{
    store_sink *k = (store_sink *)s;
    (void)deadline_ns;
    int rc = tr_store_commit(k->st);
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
