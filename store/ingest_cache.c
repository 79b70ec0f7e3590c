/* ingest_cache.c - ingest's per-transaction bookkeeping: stream marks, known runs, artifacts,
 * versions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lineage.h"
#include "store_int.h"
#include "strmap.h"
#include "trail.h"

/* Within one transaction a stream's high-water mark, first and last record times live here and
 * are written once at commit (one upsert per stream instead of one per record); runs whose row
 * exists and artifact ids already looked up are remembered so that each costs one statement
 * per transaction. Ingest never deletes a run or an artifact, so what this transaction saw
 * stays right until it ends; versions it may delete (lineage drops unused ones), so ingest.c
 * forgets the versions whenever a lineage step changed rows (tr_ingest_versions_forget). A
 * rollback may undo rows the cache names, so it forgets everything. */
typedef struct stream_ent {
    char id[sizeof(((tr_stream *)0)->id)];
    char run_id[sizeof(((tr_stream *)0)->run_id)];
    char host[sizeof(((tr_stream *)0)->host)];
    int64_t pid, hwm, first_ns, last_ns;
    int64_t first_seq; /* the first seq stored in this transaction (the mark must be below it) */
    int dirty;         /* a record was ingested in this transaction: its row is written at commit */
} stream_ent;

struct tr_ingest_cache {
    tr_strmap *streams; /* stream id -> index in ent (the map's own entry number) */
    stream_ent *ent;
    size_t cap;
    long last;          /* the last stream used (records of one stream come in runs), or -1 */
    tr_strmap *runs;    /* run ids whose row exists */
    tr_strmap *ids;     /* 'a' + artifact key -> row id */
    tr_strmap *missing; /* 'a' + artifact key: no row when the batch's look-ups ran */
    tr_strmap *vers;    /* version_key() -> artifact_versions.id */
    tr_strmap *settled; /* run id -> 1: it has settled opens (ended set), 0: it has none */
    tr_strmap *hwms;    /* stream id -> its stored mark, for streams with no entry yet */
    tr_strmap *moves;   /* run id -> 1: it has renames, links or unlinks stored, 0: none */
    /* metric points not inserted yet (tr_ingest_metric): TR_METRIC_ROWS make one statement;
     * their text lives in mtext (offsets, so that it may grow) */
    struct mrow {
        size_t run, key, stream, src; /* offsets into mtext */
        uint32_t runlen, keylen, streamlen, srclen;
        int has_src, special;
        int64_t step, time_ns, seq;
        double v;
    } mrow[TR_METRIC_ROWS];
    int nmrow;
    char *mtext;
    size_t mlen, mcap;
};

static tr_ingest_cache *cache(tr_store *s)
{
    if (s->ic) return s->ic;
    tr_ingest_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->last = -1;
    if (!(c->streams = tr_strmap_new()) || !(c->runs = tr_strmap_new()) ||
        !(c->ids = tr_strmap_new()) || !(c->vers = tr_strmap_new()) ||
        !(c->missing = tr_strmap_new()) || !(c->settled = tr_strmap_new()) ||
        !(c->hwms = tr_strmap_new()) || !(c->moves = tr_strmap_new())) {
        tr_strmap_free(c->streams);
        tr_strmap_free(c->runs);
        tr_strmap_free(c->ids);
        tr_strmap_free(c->vers);
        tr_strmap_free(c->missing);
        tr_strmap_free(c->settled);
        tr_strmap_free(c->hwms);
        free(c);
        return NULL;
    }
    return s->ic = c;
}

void tr_ingest_cache_free(tr_store *s)
{
    tr_ingest_cache *c = s->ic;
    if (!c) return;
    tr_strmap_free(c->streams);
    tr_strmap_free(c->runs);
    tr_strmap_free(c->ids);
    tr_strmap_free(c->vers);
    tr_strmap_free(c->missing);
    tr_strmap_free(c->settled);
    tr_strmap_free(c->hwms);
    tr_strmap_free(c->moves);
    free(c->ent);
    free(c->mtext);
    free(c);
    s->ic = NULL;
}

void tr_ingest_cache_forget(tr_store *s)
{
    tr_ingest_cache *c = s->ic;
    if (!c) return;
    tr_strmap_clear(c->streams);
    tr_strmap_clear(c->runs);
    tr_strmap_clear(c->ids);
    tr_strmap_clear(c->vers);
    tr_strmap_clear(c->missing);
    tr_strmap_clear(c->settled);
    tr_strmap_clear(c->hwms);
    tr_strmap_clear(c->moves);
    c->last = -1;
    c->nmrow = 0; /* rolled back, or inserted and committed */
    c->mlen = 0;
}

void tr_ingest_versions_forget(tr_store *s)
{
    if (s->ic) tr_strmap_clear(s->ic->vers);
}

/* The stored mark of a stream not yet seen in this transaction: -1 when it has none. */
static int stored_hwm(tr_store *s, const char *stream_id, int64_t *hwm)
{
    tr_stmt q;
    int found, rc = tr_stmt_begin(&q, s, TR_STMT_STREAM_HWM);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, stream_id);
    rc = tr_stmt_row_int(&q, &found, hwm);
    if (!found) *hwm = -1;
    return rc;
}

static stream_ent *find_stream(tr_ingest_cache *c, const char *id)
{
    if (c->last >= 0 && !strcmp(c->ent[c->last].id, id)) return &c->ent[c->last];
    long i = tr_strmap_find(c->streams, id, strlen(id));
    if (i < 0) return NULL;
    c->last = i;
    return &c->ent[i];
}

int tr_ingest_stream_hwm(tr_store *s, const char *stream_id, int64_t *hwm)
{
    tr_ingest_cache *c = s->in_tx ? cache(s) : NULL;
    stream_ent *e = c ? find_stream(c, stream_id) : NULL;
    if (e) {
        *hwm = e->hwm;
        return 0;
    }
    /* asked once a transaction (a batch of duplicates stores nothing, so makes no entry) */
    tr_mapval v;
    size_t n = strlen(stream_id);
    if (c && tr_strmap_get(c->hwms, stream_id, n, &v)) {
        *hwm = v.i;
        return 0;
    }
    int rc = stored_hwm(s, stream_id, hwm);
    if (!rc && c) tr_strmap_set(c->hwms, stream_id, n, (tr_mapval){.i = *hwm});
    return rc;
}

int tr_ingest_stream_mark(tr_store *s, const tr_stream *st, int64_t seq, int64_t time_ns,
                          int written)
{
    tr_ingest_cache *c = cache(s);
    if (!c) return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    stream_ent *e = find_stream(c, st->id);
    if (!e) {
        size_t n = tr_strmap_size(c->streams);
        if (n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 16;
            stream_ent *ent = realloc(c->ent, cap * sizeof *ent);
            if (!ent) return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
            c->ent = ent;
            c->cap = cap;
        }
        long i = tr_strmap_add(c->streams, st->id, strlen(st->id), (tr_mapval){.i = 0}, NULL);
        if (i < 0) return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
        e = &c->ent[i];
        memset(e, 0, sizeof *e);
        memcpy(e->id, st->id, sizeof e->id);
        memcpy(e->run_id, st->run_id, sizeof e->run_id);
        memcpy(e->host, st->host, sizeof e->host);
        e->id[sizeof e->id - 1] = e->run_id[sizeof e->run_id - 1] = e->host[sizeof e->host - 1] = 0;
        e->pid = st->pid;
        c->last = i;
    }
    if (written && !e->dirty) { /* its row holds this record already */
        e->hwm = seq;
        return 0;
    }
    if (!e->dirty) e->first_seq = seq;
    if (!e->dirty || time_ns < e->first_ns) e->first_ns = time_ns;
    if (!e->dirty || time_ns > e->last_ns) e->last_ns = time_ns;
    e->hwm = seq;
    e->dirty = 1;
    return 0;
}

/* Copies n bytes into mtext; the offset, or (size_t)-1 out of memory. */
static size_t mtext_put(tr_ingest_cache *c, const char *p, size_t n)
{
    if (c->mlen + n > c->mcap) {
        size_t cap = c->mcap ? c->mcap : 4096;
        while (cap < c->mlen + n)
            cap *= 2;
        char *t = realloc(c->mtext, cap);
        if (!t) return (size_t)-1;
        c->mtext = t;
        c->mcap = cap;
    }
    size_t at = c->mlen;
    if (n) memcpy(c->mtext + at, p, n);
    c->mlen += n;
    return at;
}

/* Binds row r of the pending points to parameters first..first+8 (METRIC's order). */
static void bind_mrow(tr_stmt *q, const tr_ingest_cache *c, const struct mrow *r, int first)
{
    tr_bind_text(q, first, c->mtext + r->run, r->runlen);
    tr_bind_text(q, first + 1, c->mtext + r->key, r->keylen);
    tr_bind_int(q, first + 2, r->step);
    if (r->special == 1)
        tr_bind_null(q, first + 3); /* NaN: SQLite would store NULL anyway */
    else
        tr_bind_double(q, first + 3, r->v);
    tr_bind_int(q, first + 4, r->special);
    tr_bind_int(q, first + 5, r->time_ns);
    tr_bind_text(q, first + 6, r->streamlen ? c->mtext + r->stream : NULL, r->streamlen);
    tr_bind_int(q, first + 7, r->seq);
    tr_bind_text(q, first + 8, r->has_src ? c->mtext + r->src : NULL, r->srclen);
}

int tr_ingest_metrics_pending(const tr_store *s)
{
    return s->ic && s->ic->nmrow > 0;
}

int tr_ingest_metrics_flush(tr_store *s)
{
    tr_ingest_cache *c = s->ic;
    if (!c || c->nmrow == 0) return 0;
    int n = c->nmrow, rc = 0;
    c->nmrow = 0; /* a failure spoils the transaction: nothing of it is kept */
    tr_stmt q;
    if (n == TR_METRIC_ROWS) {
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_METRIC_ROWS)) == 0) {
            for (int i = 0; i < n; i++)
                bind_mrow(&q, c, &c->mrow[i], 1 + 9 * i);
            rc = tr_stmt_done(&q);
        }
    } else {
        for (int i = 0; i < n && rc == 0; i++)
            if ((rc = tr_stmt_begin(&q, s, TR_STMT_METRIC)) == 0) {
                bind_mrow(&q, c, &c->mrow[i], 1);
                rc = tr_stmt_done(&q);
            }
    }
    c->mlen = 0;
    return rc;
}

int tr_ingest_metric(tr_store *s, const char *run, size_t runlen, const char *key, size_t keylen,
                     int64_t step, double v, int special, int64_t time_ns, const char *stream,
                     int64_t seq, const char *src, size_t srclen)
{
    tr_ingest_cache *c = cache(s);
    if (!c) return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    if (c->nmrow == TR_METRIC_ROWS) {
        int rc = tr_ingest_metrics_flush(s);
        if (rc) return rc;
    }
    size_t streamlen = stream ? strlen(stream) : 0;
    struct mrow *r = &c->mrow[c->nmrow];
    size_t at = c->mlen;
    r->run = mtext_put(c, run, runlen);
    r->key = mtext_put(c, key, keylen);
    r->stream = mtext_put(c, stream, streamlen);
    r->src = mtext_put(c, src, src ? srclen : 0);
    if (r->run == (size_t)-1 || r->key == (size_t)-1 || r->stream == (size_t)-1 ||
        r->src == (size_t)-1) {
        c->mlen = at;
        return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    }
    r->runlen = (uint32_t)runlen;
    r->keylen = (uint32_t)keylen;
    r->streamlen = (uint32_t)streamlen;
    r->srclen = (uint32_t)srclen;
    r->has_src = src != NULL;
    r->special = special;
    r->step = step;
    r->time_ns = time_ns;
    r->seq = seq;
    r->v = v;
    c->nmrow++;
    return 0;
}

int tr_ingest_cache_flush(tr_store *s)
{
    tr_ingest_cache *c = s->ic;
    if (!c) return 0;
    int mrc = tr_ingest_metrics_flush(s);
    if (mrc) return mrc;
    size_t n = tr_strmap_size(c->streams);
    for (size_t i = 0; i < n; i++) {
        stream_ent *e = &c->ent[i];
        if (!e->dirty) continue;
        /* The upsert widens [first_ns, last_ns] to take in this transaction's times. */
        tr_stmt q;
        int rc = tr_stmt_begin(&q, s, TR_STMT_STREAM_UPSERT);
        if (rc) return rc;
        tr_bind_cstr(&q, 1, e->id);
        tr_bind_cstr(&q, 2, e->run_id);
        tr_bind_int(&q, 3, e->pid);
        tr_bind_cstr(&q, 4, e->host);
        tr_bind_int(&q, 5, e->hwm);
        tr_bind_int(&q, 6, e->first_ns);
        tr_bind_int(&q, 7, e->first_seq);
        tr_bind_int(&q, 8, e->last_ns);
        if ((rc = tr_stmt_done(&q)) || (rc = tr_ingest_stream_moved(s, e->id))) return rc;
        e->dirty = 0;
    }
    return 0;
}

int tr_ingest_stream_moved(tr_store *s, const char *stream_id)
{
    if (tr_db_changes(s->db) == 1) return 0;
    return tr_store_fail(s, TRAIL_EBUSY,
                         "stream %s: another writer stored these records meanwhile; the batch is "
                         "rolled back (sent again, its records are found stored)",
                         stream_id);
}

int tr_ingest_run_known(tr_store *s, const char *run, size_t n)
{
    return s->ic && tr_strmap_find(s->ic->runs, run, n) >= 0;
}

void tr_ingest_run_seen(tr_store *s, const char *run, size_t n)
{
    tr_ingest_cache *c = cache(s);
    if (c) tr_strmap_add(c->runs, run, n, (tr_mapval){.i = 0}, NULL); /* a miss costs a lookup */
}

/* The map key of an artifact path: 'a' + key. */
static size_t artifact_key(char *buf, size_t cap, const char *key)
{
    size_t n = strlen(key);
    if (n + 1 > cap) return 0;
    buf[0] = 'a';
    memcpy(buf + 1, key, n);
    return n + 1;
}

int tr_ingest_artifact(tr_store *s, const char *key, int64_t *id, int *fresh)
{
    char k[TR_LINEAGE_KEY_MAX + 2];
    size_t n = artifact_key(k, sizeof k, key);
    tr_mapval v;
    *fresh = 0;
    if (n && s->ic && tr_strmap_get(s->ic->ids, k, n, &v)) {
        *id = v.i;
        return 0;
    }
    tr_stmt q;
    int found = 0, rc;
    /* known missing (the batch's look-ups: ingest_prefetch.c), else asked */
    if (!(n && s->ic && tr_strmap_get(s->ic->missing, k, n, NULL))) {
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_ARTIFACT_GET))) return rc;
        tr_bind_cstr(&q, 1, key);
        if ((rc = tr_stmt_row_int(&q, &found, id))) return rc;
    }
    if (!found) {
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_ARTIFACT_ADD))) return rc;
        tr_bind_cstr(&q, 1, key);
        if ((rc = tr_stmt_done(&q))) return rc;
        *id = tr_db_last_insert_rowid(s->db);
        *fresh = 1; /* no version of it can exist yet */
    }
    tr_ingest_cache *c = !n ? NULL : cache(s);
    if (c) tr_strmap_set(c->ids, k, n, (tr_mapval){.i = *id});
    return 0;
}

/* The version's artifact and the record's fingerprint fields (NULL when absent). */
typedef struct file_version {
    int64_t artifact;
    const tr_rec *rec;
} file_version;

static void bind_version(tr_stmt *q, const void *arg)
{
    const file_version *v = arg;
    tr_bind_int(q, 1, v->artifact);
    tr_bind_field_int(q, 2, v->rec, TR_F_DEV);
    tr_bind_field_int(q, 3, v->rec, TR_F_INO);
    tr_bind_field_int(q, 4, v->rec, TR_F_SIZE);
    tr_bind_field_int(q, 5, v->rec, TR_F_MTIME_NS);
}

void tr_vkey_of(const tr_rec *rec, tr_vkey *k)
{
    static const uint16_t f[3] = {TR_F_INO, TR_F_SIZE, TR_F_MTIME_NS};
    memset(k, 0, sizeof *k);
    for (int i = 0; i < 3; i++)
        if (!(k->has[i] = tr_rec_get_i64(rec, f[i], &k->v[i]) == 0)) k->v[i] = 0;
}

/* The map key of what LN_VERSION_FIND matches on: 'v', the artifact, then (ino, size,
 * mtime_ns) each with whether it is present (NULL matches only NULL there). */
static size_t version_key(uint8_t *k, int64_t artifact, const tr_vkey *fp)
{
    size_t n = 0;
    k[n++] = 'v';
    memcpy(k + n, &artifact, 8);
    n += 8;
    for (int i = 0; i < 3; i++) {
        k[n++] = fp->has[i];
        memcpy(k + n, &fp->v[i], 8);
        n += 8;
    }
    return n;
}

void tr_ingest_artifact_missing(tr_store *s, const char *key)
{
    char k[TR_LINEAGE_KEY_MAX + 2];
    size_t n = artifact_key(k, sizeof k, key);
    tr_ingest_cache *c = !n ? NULL : cache(s);
    if (c) tr_strmap_set(c->missing, k, n, (tr_mapval){.i = 1});
}

void tr_ingest_artifact_put(tr_store *s, const char *key, int64_t id)
{
    char k[TR_LINEAGE_KEY_MAX + 2];
    size_t n = artifact_key(k, sizeof k, key);
    tr_ingest_cache *c = !n ? NULL : cache(s);
    if (c) tr_strmap_set(c->ids, k, n, (tr_mapval){.i = id});
}

int tr_ingest_artifact_cached(tr_store *s, const char *key, int64_t *id)
{
    char k[TR_LINEAGE_KEY_MAX + 2];
    size_t n = artifact_key(k, sizeof k, key);
    tr_mapval v;
    if (!n || !s->ic || !tr_strmap_get(s->ic->ids, k, n, &v)) return 0;
    *id = v.i;
    return 1;
}

void tr_ingest_version_put(tr_store *s, int64_t artifact, const tr_vkey *fp, int64_t id)
{
    uint8_t k[40];
    size_t n = version_key(k, artifact, fp);
    tr_ingest_cache *c = cache(s);
    if (c) tr_strmap_set(c->vers, k, n, (tr_mapval){.i = id});
}

int tr_ingest_version_cached(tr_store *s, int64_t artifact, const tr_vkey *fp, int64_t *id)
{
    uint8_t k[40];
    size_t n = version_key(k, artifact, fp);
    tr_mapval v;
    if (!s->ic || !tr_strmap_get(s->ic->vers, k, n, &v)) return 0;
    *id = v.i;
    return 1;
}

/* Whether statement id finds a row for run, asked once a transaction (remembered in map). */
static int run_has(tr_store *s, tr_strmap *map, enum tr_stmt_id id, const char *run, size_t n,
                   int *has)
{
    tr_mapval v;
    if (map && tr_strmap_get(map, run, n, &v)) {
        *has = (int)v.i;
        return 0;
    }
    char rid[80];
    snprintf(rid, sizeof rid, "%.*s", (int)n, run);
    tr_stmt q;
    int found, rc = tr_stmt_begin(&q, s, id);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, rid);
    if ((rc = tr_stmt_row_int(&q, &found, NULL))) return rc;
    *has = found;
    if (map) tr_strmap_set(map, run, n, (tr_mapval){.i = found});
    return 0;
}

int tr_ingest_run_settled(tr_store *s, const char *run, size_t n, int *has)
{
    tr_ingest_cache *c = cache(s);
    return run_has(s, c ? c->settled : NULL, TR_STMT_LN_RUN_SETTLED, run, n, has);
}

void tr_ingest_run_settles(tr_store *s, const char *run, size_t n)
{
    tr_ingest_cache *c = cache(s);
    if (c) tr_strmap_set(c->settled, run, n, (tr_mapval){.i = 1});
}

int tr_ingest_run_moves(tr_store *s, const char *run, size_t n, int *has)
{
    tr_ingest_cache *c = cache(s);
    return run_has(s, c ? c->moves : NULL, TR_STMT_LN_RUN_MOVES, run, n, has);
}

void tr_ingest_run_moved(tr_store *s, const char *run, size_t n)
{
    tr_ingest_cache *c = cache(s);
    if (c) tr_strmap_set(c->moves, run, n, (tr_mapval){.i = 1});
}

int tr_ingest_version(tr_store *s, int64_t artifact, int fresh, const tr_rec *rec, int64_t *id)
{
    uint8_t k[40];
    tr_vkey fp;
    tr_vkey_of(rec, &fp);
    size_t n = version_key(k, artifact, &fp);
    tr_mapval v;
    if (s->ic && tr_strmap_get(s->ic->vers, k, n, &v)) {
        *id = v.i;
        return 0;
    }
    file_version fv = {artifact, rec};
    int rc;
    if (fresh) { /* an artifact added just now has no version to find */
        tr_stmt q;
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_VERSION_ADD))) return rc;
        bind_version(&q, &fv);
        if ((rc = tr_stmt_done(&q))) return rc;
        *id = tr_db_last_insert_rowid(s->db);
    } else {
        rc = tr_stmt_get_or_add(s, TR_STMT_LN_VERSION_FIND, TR_STMT_VERSION_ADD, bind_version, &fv,
                                id);
    }
    tr_ingest_cache *c = rc ? NULL : cache(s);
    if (c) tr_strmap_set(c->vers, k, n, (tr_mapval){.i = *id});
    return rc;
}
