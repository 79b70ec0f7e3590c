/* ingest_prefetch.c - a batch's artifact and version look-ups made ahead of its records, many
 * keys to a statement: on a server store a few round trips for what takes one or two per FILE
 * record otherwise.
 *
 * The ids found go into ingest's per-transaction cache (ingest_cache.c), where on_file finds
 * them. Only records that ingest will certainly store are noted (FILE records of a known stream
 * above its mark, with a path that makes a key), so a version added here is never left
 * without its event. Ingest transactions are serialized (BEGIN IMMEDIATE; on PostgreSQL an
 * advisory lock), so what is missing here is still missing when it is added.
 * tr_store_prefetch_note_all (the agent's store sink, on either backend) only finds: artifacts
 * found missing are marked so, and their records add them in record order, so that a store
 * gets the same ids from a batch whether or not its look-ups were made ahead. */
#include <stdlib.h>
#include <string.h>

#include "lineage.h"
#include "prefetch_sql.h"
#include "store_int.h"
#include "strmap.h"
#include "trail.h"

typedef struct pf_item {
    size_t key; /* index of its artifact key in keys */
    tr_vkey fp;
    int64_t dev;
    int has_dev;
} pf_item;

struct tr_prefetch {
    int find_only;    /* noted by tr_store_prefetch_note_all: found, never added here */
    tr_strmap *keys;  /* artifact keys noted */
    tr_strmap *items; /* key index + fingerprint: each version noted once */
    pf_item *v;
    size_t n, cap;
};

void tr_prefetch_free(tr_store *s)
{
    if (!s->pf) return;
    tr_strmap_free(s->pf->keys);
    tr_strmap_free(s->pf->items);
    free(s->pf->v);
    free(s->pf);
    s->pf = NULL;
}

static struct tr_prefetch *prefetch(tr_store *s)
{
    if (s->pf) return s->pf;
    struct tr_prefetch *p = calloc(1, sizeof *p);
    if (!p || !(p->keys = tr_strmap_new()) || !(p->items = tr_strmap_new())) {
        if (p) tr_strmap_free(p->keys);
        free(p);
        return NULL;
    }
    return s->pf = p;
}

static void clear(struct tr_prefetch *p)
{
    tr_strmap_clear(p->keys);
    tr_strmap_clear(p->items);
    p->n = 0;
    p->find_only = 0;
}

static int note(tr_store *s, const tr_stream *st, uint64_t seq, const tr_rec *rec, int new_ok)
{
    if (!s || !st || !rec || !s->in_tx) return TRAIL_EINVAL;
    if (rec->type != TR_REC_FILE || !st->run_id[0]) return 0;
    int64_t hwm;
    int rc = tr_ingest_stream_hwm(s, st->id, &hwm);
    if (rc) return rc;
    if ((hwm < 0 && !new_ok) || seq > INT64_MAX || (int64_t)seq <= hwm)
        return 0; /* a new stream (may be refused), a duplicate */
    const char *path;
    size_t len;
    char key[TR_LINEAGE_KEY_MAX];
    if (tr_rec_get_str(rec, TR_F_PATH, &path, &len) != 0 || len == 0 ||
        tr_lineage_key(path, len, st->host, key, sizeof key) != 0)
        return 0;
    struct tr_prefetch *p = prefetch(s);
    if (!p) return 0; /* out of memory: the records look themselves up */
    p->find_only |= new_ok;
    long k = tr_strmap_add(p->keys, key, strlen(key), (tr_mapval){.i = 0}, NULL);
    if (k < 0) return 0;
    pf_item it = {.key = (size_t)k};
    tr_vkey_of(rec, &it.fp);
    it.has_dev = tr_rec_get_i64(rec, TR_F_DEV, &it.dev) == 0;
    if (!it.fp.has[0] || !it.fp.has[1] || !it.fp.has[2]) return 0; /* its artifact only */
    unsigned char ik[sizeof k + sizeof it.fp.v];
    memcpy(ik, &k, sizeof k);
    memcpy(ik + sizeof k, it.fp.v, sizeof it.fp.v);
    int added;
    if (tr_strmap_add(p->items, ik, sizeof ik, (tr_mapval){.i = 0}, &added) < 0 || !added) return 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        pf_item *g = realloc(p->v, cap * sizeof *g);
        if (!g) return 0;
        p->v = g;
        p->cap = cap;
    }
    p->v[p->n++] = it;
    return 0;
}

int tr_store_prefetch_note(tr_store *s, const tr_stream *st, uint64_t seq, const tr_rec *rec)
{
    return note(s, st, seq, rec, 0);
}

int tr_store_prefetch_note_all(tr_store *s, const tr_stream *st, uint64_t seq, const tr_rec *rec)
{
    return note(s, st, seq, rec, 1);
}

/* Artifact ids of keys want[0..n) into the cache: one statement per TR_PF_ARTIFACTS. */
static int find_artifacts(tr_store *s, const char **want, size_t n)
{
    for (size_t at = 0; at < n; at += TR_PF_ARTIFACTS) {
        tr_stmt q;
        int rc = tr_stmt_begin(&q, s, TR_STMT_PF_ARTIFACTS);
        if (rc) return rc;
        for (size_t i = 0; i < TR_PF_ARTIFACTS; i++) {
            if (at + i < n)
                tr_bind_cstr(&q, (int)i + 1, want[at + i]);
            else
                tr_bind_null(&q, (int)i + 1);
        }
        while ((rc = tr_stmt_row(&q)) == 1) {
            const char *path = (const char *)tr_db_column_text(q.st, TR_COL_PFA_PATH);
            if (path) tr_ingest_artifact_put(s, path, tr_db_column_int64(q.st, TR_COL_PFA_ID));
        }
        if (rc < 0) return rc;
    }
    return 0;
}

/* Version ids of items want[0..n) into the cache: one statement per TR_PF_VERSIONS. */
static int find_versions(tr_store *s, const int64_t *art, pf_item *const *want, size_t n)
{
    for (size_t at = 0; at < n; at += TR_PF_VERSIONS) {
        tr_stmt q;
        int rc = tr_stmt_begin(&q, s, TR_STMT_PF_VERSIONS);
        if (rc) return rc;
        for (size_t i = 0; i < TR_PF_VERSIONS; i++) {
            int b = (int)i * 4;
            if (at + i < n) {
                tr_bind_int(&q, b + 1, art[at + i]);
                for (int f = 0; f < 3; f++)
                    tr_bind_int(&q, b + 2 + f, want[at + i]->fp.v[f]);
            } else {
                for (int f = 1; f <= 4; f++)
                    tr_bind_null(&q, b + f);
            }
        }
        while ((rc = tr_stmt_row(&q)) == 1) {
            tr_vkey fp = {{tr_db_column_int64(q.st, TR_COL_PFV_INO),
                           tr_db_column_int64(q.st, TR_COL_PFV_SIZE),
                           tr_db_column_int64(q.st, TR_COL_PFV_MTIME_NS)},
                          {1, 1, 1}};
            tr_ingest_version_put(s, tr_db_column_int64(q.st, TR_COL_PFV_ARTIFACT), &fp,
                                  tr_db_column_int64(q.st, TR_COL_PFV_ID));
        }
        if (rc < 0) return rc;
    }
    return 0;
}

/* The artifacts noted: found, the missing added, then found again (ids the inserts drew). */
static int artifacts(tr_store *s, struct tr_prefetch *p, const char **want)
{
    size_t nk = tr_strmap_size(p->keys), n = 0, miss = 0;
    int64_t id;
    for (size_t i = 0; i < nk; i++) {
        const char *key = tr_strmap_key(p->keys, i, NULL);
        if (!tr_ingest_artifact_cached(s, key, &id)) want[n++] = key;
    }
    int rc = find_artifacts(s, want, n);
    for (size_t i = 0; !rc && i < n; i++) {
        if (tr_ingest_artifact_cached(s, want[i], &id)) continue;
        if (p->find_only) { /* added by its record, in record order (ids as without this) */
            if (tr_db_text_verbatim(s->db, want[i], strlen(want[i])))
                tr_ingest_artifact_missing(s, want[i]);
            continue;
        }
        if (!tr_db_text_verbatim(s->db, want[i], strlen(want[i]))) {
            /* stored escaped (a UTF8 database, a path that is not UTF-8): found under its
             * escaped text, so looked up and added one by one, under its own */
            int fresh;
            rc = tr_ingest_artifact(s, want[i], &id, &fresh);
            continue;
        }
        tr_stmt q;
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_ARTIFACT_ADD))) break;
        tr_bind_cstr(&q, 1, want[i]);
        rc = tr_stmt_done(&q);
        want[miss++] = want[i];
    }
    return rc ? rc : find_artifacts(s, want, miss);
}

static int versions(tr_store *s, struct tr_prefetch *p, pf_item **want, int64_t *art)
{
    size_t n = 0, miss = 0;
    int64_t id;
    for (size_t i = 0; i < p->n; i++) {
        pf_item *it = &p->v[i];
        int64_t a;
        if (!tr_ingest_artifact_cached(s, tr_strmap_key(p->keys, it->key, NULL), &a)) continue;
        if (tr_ingest_version_cached(s, a, &it->fp, &id)) continue;
        art[n] = a;
        want[n++] = it;
    }
    int rc = find_versions(s, art, want, n);
    for (size_t i = 0; !rc && !p->find_only && i < n; i++) {
        if (tr_ingest_version_cached(s, art[i], &want[i]->fp, &id)) continue;
        tr_stmt q;
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_VERSION_ADD))) break;
        tr_bind_int(&q, 1, art[i]);
        if (want[i]->has_dev)
            tr_bind_int(&q, 2, want[i]->dev);
        else
            tr_bind_null(&q, 2);
        for (int f = 0; f < 3; f++)
            tr_bind_int(&q, 3 + f, want[i]->fp.v[f]);
        rc = tr_stmt_done(&q);
        if (!rc) /* a new version has no hash yet (tr_store_hash_known) */
            tr_fresh_note_fp(s, tr_strmap_key(p->keys, want[i]->key, NULL), want[i]->fp.v);
        art[miss] = art[i];
        want[miss++] = want[i];
    }
    return rc || !miss ? rc : find_versions(s, art, want, miss);
}

int tr_store_prefetch_run(tr_store *s)
{
    if (!s || !s->in_tx) return TRAIL_EINVAL;
    struct tr_prefetch *p = s->pf;
    if (!p || !tr_strmap_size(p->keys)) return 0;
    size_t nk = tr_strmap_size(p->keys), nv = p->n > nk ? p->n : nk;
    const char **keys = calloc(nk, sizeof *keys);
    pf_item **items = calloc(nv, sizeof *items);
    int64_t *art = calloc(nv, sizeof *art);
    int rc = 0;
    if (keys && items && art) { /* else: the records look themselves up */
        rc = artifacts(s, p, keys);
        if (!rc) rc = versions(s, p, items, art);
    }
    free(keys);
    free(items);
    free(art);
    clear(p);
    if (rc) s->tx_broken = rc; /* a failed statement spoils the transaction */
    return rc;
}

int64_t tr_store_round_trips(tr_store *s)
{
    return s ? tr_db_round_trips(s->db) : -1;
}
