/* lineage.c - lineage at ingest: artifact keys, renames/links/unlinks, content hashes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lineage.h"
#include "trail.h"

static const char *const node_local_default[] = {"/tmp", "/var/tmp", "/dev/shm", "/run"};

/* 1 when path (n bytes) is prefix or lies below it. */
static int under(const char *path, size_t n, const char *prefix, size_t plen)
{
    while (plen > 1 && prefix[plen - 1] == '/')
        plen--;
    if (plen == 0 || n < plen || memcmp(path, prefix, plen) != 0) return 0;
    return n == plen || path[plen] == '/';
}

static int node_local(const char *path, size_t n)
{
    for (size_t i = 0; i < sizeof node_local_default / sizeof node_local_default[0]; i++)
        if (under(path, n, node_local_default[i], strlen(node_local_default[i]))) return 1;
    const char *extra = getenv("TRAIL_NODE_LOCAL");
    while (extra && *extra) {
        const char *end = strchr(extra, ':');
        size_t len = end ? (size_t)(end - extra) : strlen(extra);
        if (len > 0 && extra[0] == '/' && under(path, n, extra, len)) return 1;
        extra = end ? end + 1 : NULL;
    }
    return 0;
}

int tr_lineage_key(const char *path, size_t n, const char *host, char *out, size_t outlen)
{
    int w;
    if (n > 0 && path[0] == '/' && host && *host && node_local(path, n))
        w = snprintf(out, outlen, "%s:%.*s", host, (int)n, path);
    else
        w = snprintf(out, outlen, "%.*s", (int)n, path);
    return w < 0 || (size_t)w >= outlen ? TRAIL_ETOOBIG : 0;
}

int tr_store_artifact_key(const char *path, const char *host, char *out, size_t n)
{
    if (!path || !out) return TRAIL_EINVAL;
    return tr_lineage_key(path, strlen(path), host, out, n);
}

const char *tr_store_key_path(const char *key, char *host, size_t hostlen)
{
    const char *colon = key && key[0] != '/' ? strstr(key, ":/") : NULL;
    if (host && hostlen) host[0] = 0;
    if (!colon) return key;
    if (host && hostlen) snprintf(host, hostlen, "%.*s", (int)(colon - key), key);
    return colon + 1;
}

void tr_store_version_string(const char *hash, int has_fp, const tr_fingerprint *fp, char *out,
                             size_t n)
{
    if (hash && *hash)
        snprintf(out, n, "%s", hash);
    else if (has_fp && fp) {
        char v[17];
        tr_store_version_id(fp->dev, fp->ino, fp->size, fp->mtime_ns, v);
        snprintf(out, n, "%s", v);
    } else if (n)
        out[0] = 0;
}

/* Binds a fingerprint (dev, ino, size, mtime_ns) to parameters first..first+3. */
static void bind_fp(tr_stmt *q, int first, const tr_fingerprint *fp)
{
    tr_bind_int(q, first, (int64_t)fp->dev);
    tr_bind_int(q, first + 1, (int64_t)fp->ino);
    tr_bind_int(q, first + 2, fp->size);
    tr_bind_int(q, first + 3, fp->mtime_ns);
}

static void bind_key(tr_stmt *q, const void *key)
{
    tr_bind_cstr(q, 1, key);
}

int tr_lineage_artifact(tr_store *s, const char *key, int64_t *id)
{
    if (tr_ingest_artifact_cached(s, key, id)) return 0;
    int rc = tr_stmt_get_or_add(s, TR_STMT_ARTIFACT_GET, TR_STMT_ARTIFACT_ADD, bind_key, key, id);
    if (!rc) tr_ingest_artifact_put(s, key, *id); /* the batch's known-missing then stale */
    return rc;
}

typedef struct art_fp {
    int64_t art;
    const tr_fingerprint *fp;
} art_fp;

static void bind_art_fp(tr_stmt *q, const void *arg)
{
    const art_fp *a = arg;
    tr_bind_int(q, 1, a->art);
    bind_fp(q, 2, a->fp);
}

/* The version of artifact with fingerprint fp (dev ignored), added when missing. */
static int version(tr_store *s, int64_t art, const tr_fingerprint *fp, int64_t *id)
{
    art_fp a = {art, fp};
    return tr_stmt_get_or_add(s, TR_STMT_LN_VERSION_FIND, TR_STMT_VERSION_ADD, bind_art_fp, &a, id);
}

/* What lineage needs of a version row. */
typedef struct vinfo {
    tr_fingerprint fp;
    int has_fp;
    char hash[72];
    int64_t origin;
    char origin_kind[8];
} vinfo;

static int vget(tr_store *s, int64_t id, vinfo *v)
{
    memset(v, 0, sizeof *v);
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_LN_VERSION);
    if (rc) return rc;
    tr_bind_int(&q, 1, id);
    if ((rc = tr_stmt_row(&q)) <= 0) return rc ? rc : TRAIL_ENOTFOUND;
    tr_dbst *st = q.st;
    v->has_fp = tr_db_column_type(st, TR_COL_LNV_INO) != TR_DB_NULL;
    v->fp.dev = (uint64_t)tr_db_column_int64(st, TR_COL_LNV_DEV);
    v->fp.ino = (uint64_t)tr_db_column_int64(st, TR_COL_LNV_INO);
    v->fp.size = tr_db_column_int64(st, TR_COL_LNV_SIZE);
    v->fp.mtime_ns = tr_db_column_int64(st, TR_COL_LNV_MTIME_NS);
    const char *h = (const char *)tr_db_column_text(st, TR_COL_LNV_HASH);
    snprintf(v->hash, sizeof v->hash, "%s", h ? h : "");
    v->origin = tr_db_column_int64(st, TR_COL_LNV_ORIGIN);
    h = (const char *)tr_db_column_text(st, TR_COL_LNV_ORIGIN_KIND);
    snprintf(v->origin_kind, sizeof v->origin_kind, "%s", h ? h : "");
    tr_stmt_reset(&q);
    return 0;
}

/* The family root of a version: a rename or link keeps pointing at the first file of the bytes. */
static int64_t root_of(int64_t id, const vinfo *v)
{
    int moved = !strcmp(v->origin_kind, "rename") || !strcmp(v->origin_kind, "link");
    return moved && v->origin ? v->origin : id;
}

static int mark_removed(tr_store *s, int64_t ver, const char *run, const char *op)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_LN_SET_REMOVED);
    if (rc) return rc;
    tr_bind_int(&q, 1, ver);
    tr_bind_cstr(&q, 2, run);
    tr_bind_cstr(&q, 3, op);
    return tr_stmt_done(&q);
}

static int supersede(tr_store *s, const char *run, int64_t ver);

/* Gives the family of root (root, and versions renamed or linked from it) hash hex where it
 * has none; alone: root is known to be no version's origin. */
static int carry_hash(tr_store *s, int64_t root, const char *hex, int alone)
{
    enum tr_stmt_id ids[2] = {TR_STMT_LN_HASH_CARRY_ROOT, TR_STMT_LN_HASH_CARRY};
    for (int i = 0; i < 2 - (alone != 0); i++) {
        tr_stmt q;
        int rc = tr_stmt_begin(&q, s, ids[i]);
        if (rc) return rc;
        tr_bind_int(&q, 1, root);
        tr_bind_cstr(&q, 2, hex);
        if ((rc = tr_stmt_done(&q))) return rc;
    }
    return 0;
}

/* Carries version src to key2 as run's output (kind rename or link). */
static int carry(tr_store *s, const char *run, int64_t pid, int64_t src, const char *key2,
                 const tr_fingerprint *fp, const char *kind, int64_t time_ns)
{
    vinfo v;
    int64_t art, dst;
    int rc = vget(s, src, &v), found;
    if (rc) return rc;
    if (!fp && !v.has_fp) return 0; /* nothing to match a later read by */
    if ((rc = tr_lineage_artifact(s, key2, &art)) || (rc = version(s, art, fp ? fp : &v.fp, &dst)))
        return rc;
    if (dst == src) return 0;
    tr_stmt q;
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_SET_ORIGIN))) return rc;
    tr_bind_int(&q, 1, dst);
    tr_bind_int(&q, 2, root_of(src, &v));
    tr_bind_cstr(&q, 3, kind);
    if ((rc = tr_stmt_done(&q))) return rc;
    if (v.hash[0] && (rc = carry_hash(s, dst, v.hash, 0))) return rc;
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_PRODUCED_BY))) return rc;
    tr_bind_int(&q, 1, dst);
    tr_bind_cstr(&q, 2, run);
    if ((rc = tr_stmt_row_int(&q, &found, NULL)) || found) return rc;
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_EVENT))) return rc;
    tr_bind_cstr(&q, 1, run);
    tr_bind_int(&q, 2, pid);
    tr_bind_int(&q, 3, dst);
    tr_bind_cstr(&q, 4, "output");
    tr_bind_int(&q, 7, fp ? fp->size : v.fp.size);
    tr_bind_int(&q, 8, 0);
    tr_bind_int(&q, 9, time_ns);
    tr_bind_int(&q, 10, time_ns);
    tr_bind_cstr(&q, 11, kind);
    if ((rc = tr_stmt_done(&q))) return rc;
    return supersede(s, run, dst); /* a file moved over one the run wrote before */
}

int tr_lineage_undo_carry(tr_store *s, const char *run, int64_t src, const char *key2,
                          const char *kind)
{
    vinfo v;
    int rc = vget(s, src, &v);
    if (rc) return rc == TRAIL_ENOTFOUND ? 0 : rc;
    int64_t dst[8];
    int n = 0;
    tr_stmt q;
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_CARRIED))) return rc;
    tr_bind_cstr(&q, 1, key2);
    tr_bind_int(&q, 2, root_of(src, &v));
    tr_bind_cstr(&q, 3, kind);
    while (n < 8 && (rc = tr_stmt_row(&q)) == 1)
        dst[n++] = tr_db_column_int64(q.st, 0);
    if (rc == 1) tr_stmt_reset(&q);
    if (rc < 0) return rc;
    for (int i = 0; i < n; i++) {
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_CARRY_UNDO))) return rc;
        tr_bind_int(&q, 1, dst[i]);
        tr_bind_cstr(&q, 2, run);
        tr_bind_cstr(&q, 3, kind);
        if ((rc = tr_stmt_done(&q))) return rc;
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_ORIGIN_CLEAR))) return rc;
        tr_bind_int(&q, 1, dst[i]);
        tr_bind_cstr(&q, 2, kind);
        if ((rc = tr_stmt_done(&q))) return rc;
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_VERSION_DROP))) return rc;
        tr_bind_int(&q, 1, dst[i]);
        if ((rc = tr_stmt_done(&q))) return rc;
        tr_ingest_versions_forget(s); /* ingest's cache may name the version dropped */
    }
    return 0;
}

/* The version a FILEOP on key by run at time_ns acts on, or 0. */
static int current(tr_store *s, const char *key, const char *run, int64_t time_ns, int64_t *ver)
{
    tr_stmt q;
    int found, rc = tr_stmt_begin(&q, s, TR_STMT_LN_CURRENT);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, key);
    tr_bind_cstr(&q, 2, run);
    tr_bind_int(&q, 3, time_ns);
    *ver = 0;
    rc = tr_stmt_row_int(&q, &found, ver);
    if (!found) *ver = 0;
    return rc;
}

int tr_lineage_fileop(tr_store *s, const char *run, int64_t pid, const char *op, const char *key,
                      const char *key2, const tr_fingerprint *fp, int64_t time_ns, int64_t *acted)
{
    int64_t src = 0;
    *acted = 0;
    int rename = !strcmp(op, "rename"), link = !strcmp(op, "link");
    int rc;
    if (!key) return 0;
    /* a truncate, or a change of times (rsync's temporaries): a version the run made */
    if (!strcmp(op, "truncate") || !strcmp(op, "utime")) {
        int64_t art, ver;
        if (!fp) return 0;
        if ((rc = tr_lineage_artifact(s, key, &art)) || (rc = version(s, art, fp, &ver))) return rc;
        tr_stmt q;
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_EVENT))) return rc;
        tr_bind_cstr(&q, 1, run);
        tr_bind_int(&q, 2, pid);
        tr_bind_int(&q, 3, ver);
        tr_bind_cstr(&q, 4, "output");
        tr_bind_int(&q, 8, 0);
        tr_bind_int(&q, 9, time_ns);
        tr_bind_int(&q, 10, time_ns);
        tr_bind_cstr(&q, 11, op);
        if ((rc = tr_stmt_done(&q))) return rc;
        *acted = ver;
        return supersede(s, run, ver);
    }
    if (!rename && !link && strcmp(op, "unlink") != 0) return 0;
    if ((rc = current(s, key, run, time_ns, &src)) || !src) return rc;
    *acted = src;
    if ((rename || link) && key2 && strcmp(key, key2) != 0 &&
        (rc = carry(s, run, pid, src, key2, fp, rename ? "rename" : "link", time_ns)))
        return rc;
    return link ? 0 : mark_removed(s, src, run, op);
}

static int unremove(tr_store *s, int64_t ver, const char *run, const char *op)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_LN_UNREMOVE);
    if (rc) return rc;
    tr_bind_int(&q, 1, ver);
    tr_bind_cstr(&q, 2, run);
    tr_bind_cstr(&q, 3, op);
    return tr_stmt_done(&q);
}

/* Versions of artifact art that run wrote before its last write of the path. */
static int supersede_art(tr_store *s, const char *run, int64_t art)
{
    tr_stmt q;
    int rc;
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_SUPERSEDE))) return rc;
    tr_bind_cstr(&q, 1, run);
    tr_bind_int(&q, 2, art);
    return tr_stmt_done(&q);
}

/* The same for the path of version ver. */
static int supersede(tr_store *s, const char *run, int64_t ver)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_LN_VERSION);
    if (rc) return rc;
    tr_bind_int(&q, 1, ver);
    if ((rc = tr_stmt_row(&q)) <= 0) return rc;
    int64_t art = tr_db_column_int64(q.st, TR_COL_LNV_ARTIFACT);
    tr_stmt_reset(&q);
    return supersede_art(s, run, art);
}

int tr_lineage_after_file(tr_store *s, const char *run, int64_t pid, const char *key, int64_t art,
                          int64_t version, int produced, int64_t start_ns, int any_ops)
{
    if (!produced) return 0;
    if (!any_ops) return supersede_art(s, run, art);
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_LN_LATER_OPS);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run);
    tr_bind_cstr(&q, 2, key);
    tr_bind_int(&q, 3, start_ns);
    /* Collect first: carrying runs other statements. */
    char ops[4][8], dst[4][TR_LINEAGE_KEY_MAX];
    int64_t rowid[4], when[4], was[4];
    int n = 0;
    while (n < 4 && (rc = tr_stmt_row(&q)) == 1) {
        const char *op = (const char *)tr_db_column_text(q.st, TR_COL_LNO_OP);
        const char *p2 = (const char *)tr_db_column_text(q.st, TR_COL_LNO_PATH2);
        snprintf(ops[n], sizeof ops[n], "%s", op ? op : "");
        snprintf(dst[n], sizeof dst[n], "%s", p2 ? p2 : "");
        rowid[n] = tr_db_column_int64(q.st, TR_COL_LNO_ROWID);
        when[n] = tr_db_column_int64(q.st, TR_COL_LNO_TIME_NS);
        was[n] = tr_db_column_int64(q.st, TR_COL_LNO_VERSION);
        n++;
    }
    if (rc == 1) tr_stmt_reset(&q);
    if (rc < 0) return rc;
    for (int i = 0; i < n; i++) {
        int moved = !strcmp(ops[i], "rename") || !strcmp(ops[i], "link");
        int64_t now = 0;
        if (was[i] == version) { /* already what it acted on */
            if (!moved || strcmp(ops[i], "rename") == 0) break;
            continue;
        }
        /* the op was stored first and acted on what was known then: by time, is this version
         * the one the path held when it happened? */
        if ((rc = current(s, key, run, when[i], &now))) return rc;
        if (now == version) {
            /* what it acted on was overwritten before: not the op's, the run's next write's */
            if (was[i] && (rc = unremove(s, was[i], run, ops[i]))) return rc;
            if (moved && dst[i][0] && was[i] &&
                (rc = tr_lineage_undo_carry(s, run, was[i], dst[i], ops[i])))
                return rc;
            if (moved && dst[i][0] &&
                (rc = carry(s, run, pid, version, dst[i], NULL, ops[i], when[i])))
                return rc;
            if ((rc = tr_lineage_op_acted(s, rowid[i], version))) return rc;
        }
        /* not current then: another write of the run came later and took its place */
        if (strcmp(ops[i], "link") != 0 && (rc = mark_removed(s, version, run, ops[i]))) return rc;
        if (!moved || strcmp(ops[i], "rename") == 0) break; /* the path no longer holds it */
    }
    return supersede_art(s, run, art);
}

/* ---- content hashes ---- */

int tr_store_hash_target(tr_store *s, const char *key, const tr_fingerprint *fp,
                         tr_hash_target *out)
{
    if (!s || !key || !out) return TRAIL_EINVAL;
    memset(out, 0, sizeof *out);
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, fp ? TR_STMT_LN_HASH_FIND : TR_STMT_LN_HASH_LATEST);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, key);
    if (fp) {
        tr_bind_int(&q, 2, (int64_t)fp->ino);
        tr_bind_int(&q, 3, fp->size);
        tr_bind_int(&q, 4, fp->mtime_ns);
    }
    if ((rc = tr_stmt_row(&q)) <= 0) return rc ? rc : TRAIL_ENOTFOUND;
    tr_dbst *st = q.st;
    out->version = tr_db_column_int64(st, TR_COL_LNV_ID);
    out->has_fp = tr_db_column_type(st, TR_COL_LNV_INO) != TR_DB_NULL;
    out->fp.dev = (uint64_t)tr_db_column_int64(st, TR_COL_LNV_DEV);
    out->fp.ino = (uint64_t)tr_db_column_int64(st, TR_COL_LNV_INO);
    out->fp.size = tr_db_column_int64(st, TR_COL_LNV_SIZE);
    out->fp.mtime_ns = tr_db_column_int64(st, TR_COL_LNV_MTIME_NS);
    out->has_hash = tr_db_column_type(st, TR_COL_LNV_HASH) != TR_DB_NULL;
    tr_stmt_reset(&q);
    return 0;
}

/* A version as setting its hash needs it (LN_HASH_INFO's columns). */
typedef struct hinfo {
    vinfo v;
    int64_t ver, art;
    int produced, siblings, carried;
} hinfo;

/* One row of LN_HASH_INFO or LN_HASH_FIND_INFO into h; 0, or TRAIL_ENOTFOUND. */
static int hinfo_row(tr_stmt *q, hinfo *h)
{
    int rc = tr_stmt_row(q);
    if (rc <= 0) return rc ? rc : TRAIL_ENOTFOUND;
    memset(h, 0, sizeof *h);
    const char *t = (const char *)tr_db_column_text(q->st, TR_COL_LNH_HASH);
    snprintf(h->v.hash, sizeof h->v.hash, "%s", t ? t : "");
    h->v.origin = tr_db_column_int64(q->st, TR_COL_LNH_ORIGIN);
    t = (const char *)tr_db_column_text(q->st, TR_COL_LNH_ORIGIN_KIND);
    snprintf(h->v.origin_kind, sizeof h->v.origin_kind, "%s", t ? t : "");
    h->art = tr_db_column_int64(q->st, TR_COL_LNH_ARTIFACT);
    int twins = tr_db_column_int(q->st, TR_COL_LNH_TWINS);
    h->siblings = twins != 0;
    h->produced = twins == 2;
    h->carried = tr_db_column_int(q->st, TR_COL_LNH_CARRIED) != 0;
    h->ver = tr_db_column_int64(q->st, TR_COL_LNH_ID);
    tr_stmt_reset(q);
    return 0;
}

static int set_hash(tr_store *s, const hinfo *h, const char *hex)
{
    int64_t ver = h->ver, twin = 0, root = root_of(ver, &h->v);
    tr_stmt q;
    int rc, found;
    /* the family's carry sets the version itself when it is its own root and has no hash */
    if (root != ver || h->v.hash[0]) {
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_HASH_SET))) return rc;
        tr_bind_int(&q, 1, ver);
        tr_bind_cstr(&q, 2, hex);
        if ((rc = tr_stmt_done(&q))) return rc;
    }
    if ((rc = carry_hash(s, root, hex, root == ver && !h->carried))) return rc;

    /* Identical content: link versions nobody wrote to the latest written one (the only
     * version of its artifact has none to link). */
    if (!h->siblings) return 0;
    if (h->produced) {
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_HASH_ADOPT))) return rc;
        tr_bind_int(&q, 1, ver);
        tr_bind_int(&q, 2, h->art);
        tr_bind_cstr(&q, 3, hex);
        return tr_stmt_done(&q);
    }
    if (h->v.origin) return 0;
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_HASH_TWIN))) return rc;
    tr_bind_int(&q, 1, h->art);
    tr_bind_cstr(&q, 2, hex);
    tr_bind_int(&q, 3, ver);
    if ((rc = tr_stmt_row_int(&q, &found, &twin)) || !found) return rc;
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_SET_ORIGIN))) return rc;
    tr_bind_int(&q, 1, ver);
    tr_bind_int(&q, 2, twin);
    tr_bind_cstr(&q, 3, "hash");
    return tr_stmt_done(&q);
}

/* The hash of a version named by path and fingerprint (ino, size, mtime; dev ignored); 1 when
 * there is no such version or it has a hash already. */
static int find_set_hash(tr_store *s, const char *key, const tr_fingerprint *fp, const char *hex)
{
    hinfo h;
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_LN_HASH_FIND_INFO);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, key);
    tr_bind_int(&q, 2, (int64_t)fp->ino);
    tr_bind_int(&q, 3, fp->size);
    tr_bind_int(&q, 4, fp->mtime_ns);
    if ((rc = hinfo_row(&q, &h))) return rc == TRAIL_ENOTFOUND ? 1 : rc;
    return h.v.hash[0] ? 1 : set_hash(s, &h, hex);
}

/* The version's row for set_hash, then set_hash. */
static int set_hash_of(tr_store *s, int64_t ver, const char *hex)
{
    hinfo h;
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_LN_HASH_INFO);
    if (rc) return rc;
    tr_bind_int(&q, 1, ver);
    return (rc = hinfo_row(&q, &h)) ? rc : set_hash(s, &h, hex);
}

/* Runs fn(s, a, b, c) in the caller's transaction, or in one of its own. */
static int in_tx(tr_store *s, int (*fn)(tr_store *, const void *, const void *, const char *),
                 const void *a, const void *b, const char *c)
{
    int own = !s->in_tx, rc;
    if (own && (rc = tr_store_begin(s))) return rc;
    rc = fn(s, a, b, c);
    if (own) {
        if (rc >= 0) {
            int crc = tr_store_commit(s);
            return crc ? crc : rc;
        }
        char keep[sizeof s->err];
        memcpy(keep, s->err, sizeof keep);
        tr_store_rollback(s);
        memcpy(s->err, keep, sizeof keep);
    }
    return rc;
}

static int by_id(tr_store *s, const void *ver, const void *unused, const char *hex)
{
    (void)unused;
    return set_hash_of(s, *(const int64_t *)ver, hex);
}

static int by_key(tr_store *s, const void *key, const void *fp, const char *hex)
{
    return find_set_hash(s, key, fp, hex);
}

int tr_store_set_content_hash(tr_store *s, int64_t version, const char *hex)
{
    if (!s || !hex || !*hex) return TRAIL_EINVAL;
    return in_tx(s, by_id, &version, NULL, hex);
}

int tr_store_hash_version(tr_store *s, const char *key, const tr_fingerprint *fp, const char *hex)
{
    if (!s || !key || !fp || !hex || !*hex) return TRAIL_EINVAL;
    return in_tx(s, by_key, key, fp, hex);
}
