/* sink_store.c - the embedded sink: records go straight into a local store, a batch per
 * transaction, and the store answers the enrichment caches (known hashes, dpkg look-ups). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "sink.h"
#include "trail.h"

#define STORE_BATCH 5000 /* records per transaction */

typedef struct store_sink {
    tr_sink base;
    tr_store *st;
    long n;       /* records in the open transaction */
    int cache_tx; /* a transaction holding cache answers is open */
    uint64_t stored, dups;
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

tr_store *tr_sink_store(tr_sink *s)
{
    return s && s->vt == &store_vt ? ((store_sink *)s)->st : NULL;
}

static int store_ready(tr_sink *s, char *why, size_t n)
{
    (void)s, (void)why, (void)n;
    return 0;
}

static int store_begin(tr_sink *s)
{
    store_sink *k = (store_sink *)s;
    k->n = 0;
    k->stored = k->dups = 0;
    return tr_store_begin(k->st);
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
    int rc = tr_store_ingest(k->st, &st, seq, rec);
    if (rc < 0) return rc;
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
    tr_store_rollback(((store_sink *)s)->st);
}

static int store_hash_known(tr_sink *s, const char *path, const char *host,
                            const tr_fingerprint *fp)
{
    char key[4608];
    tr_hash_target t;
    if (tr_store_artifact_key(path, host, key, sizeof key) != 0) return 0;
    return tr_store_hash_target(((store_sink *)s)->st, key, fp, &t) == 0 && t.has_hash;
}

static int store_dpkg_get(tr_sink *s, const char *path, const char *stamp, char *pkg, size_t pn,
                          char *ver, size_t vn)
{
    return tr_store_dep_cache_get(((store_sink *)s)->st, path, stamp, pkg, pn, ver, vn);
}

/* Answers are cached in one transaction per enrichment pass (store_cache_sync commits). */
static int store_dpkg_put(tr_sink *s, const char *path, const char *stamp, const char *pkg,
                          const char *ver)
{
    store_sink *k = (store_sink *)s;
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
