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

/* ---- statement helpers: bind errors are remembered and fail the step ---- */

typedef struct ln {
    tr_store *s;
    int brc;
} ln;

static void bi(ln *c, sqlite3_stmt *st, int i, int64_t v)
{
    int rc = sqlite3_bind_int64(st, i, v);
    if (rc != SQLITE_OK && c->brc == SQLITE_OK) c->brc = rc;
}

static void bt(ln *c, sqlite3_stmt *st, int i, const char *v)
{
    int rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
    if (rc != SQLITE_OK && c->brc == SQLITE_OK) c->brc = rc;
}

static void bfp(ln *c, sqlite3_stmt *st, int first, const tr_fingerprint *fp)
{
    bi(c, st, first, (int64_t)fp->dev);
    bi(c, st, first + 1, (int64_t)fp->ino);
    bi(c, st, first + 2, fp->size);
    bi(c, st, first + 3, fp->mtime_ns);
}

int tr_lineage_row_int(tr_store *s, sqlite3_stmt *st, int *found, int64_t *out)
{
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW && out) *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : tr_store_sqlerr(s, rc, "lineage");
}

/* Steps a statement to its end, or fails it when a bind failed. */
static int go(ln *c, sqlite3_stmt *st)
{
    return tr_store_step_bound(c->s, &c->brc, st);
}

/* One-row lookup: *found and column 0. */
static int row(ln *c, sqlite3_stmt *st, int *found, int64_t *out)
{
    if (c->brc != SQLITE_OK) {
        *found = 0;
        return go(c, st);
    }
    return tr_lineage_row_int(c->s, st, found, out);
}

static sqlite3_stmt *stmt(ln *c, enum tr_stmt_id id)
{
    return tr_store_stmt(c->s, id);
}

/* The artifact id of key, added when missing. */
static int artifact(ln *c, const char *key, int64_t *id)
{
    sqlite3_stmt *st = stmt(c, TR_STMT_ARTIFACT_GET);
    int found, rc;
    if (!st) return TRAIL_ESTORE;
    bt(c, st, 1, key);
    if ((rc = row(c, st, &found, id)) || found) return rc;
    if (!(st = stmt(c, TR_STMT_ARTIFACT_ADD))) return TRAIL_ESTORE;
    bt(c, st, 1, key);
    if ((rc = go(c, st))) return rc;
    *id = sqlite3_last_insert_rowid(c->s->db);
    return 0;
}

/* The version of artifact with fingerprint fp (dev ignored), added when missing. */
static int version(ln *c, int64_t art, const tr_fingerprint *fp, int64_t *id)
{
    sqlite3_stmt *st = stmt(c, TR_STMT_LN_VERSION_FIND);
    int found, rc;
    if (!st) return TRAIL_ESTORE;
    bi(c, st, 1, art);
    bfp(c, st, 2, fp);
    if ((rc = row(c, st, &found, id)) || found) return rc;
    if (!(st = stmt(c, TR_STMT_VERSION_ADD))) return TRAIL_ESTORE;
    bi(c, st, 1, art);
    bfp(c, st, 2, fp);
    if ((rc = go(c, st))) return rc;
    *id = sqlite3_last_insert_rowid(c->s->db);
    return 0;
}

/* What lineage needs of a version row. */
typedef struct vinfo {
    tr_fingerprint fp;
    int has_fp;
    char hash[72];
    int64_t origin;
    char origin_kind[8];
} vinfo;

static int vget(ln *c, int64_t id, vinfo *v)
{
    memset(v, 0, sizeof *v);
    sqlite3_stmt *st = stmt(c, TR_STMT_LN_VERSION);
    if (!st) return TRAIL_ESTORE;
    bi(c, st, 1, id);
    int rc = c->brc ? c->brc : sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        v->has_fp = sqlite3_column_type(st, 2) != SQLITE_NULL;
        v->fp.dev = (uint64_t)sqlite3_column_int64(st, 1);
        v->fp.ino = (uint64_t)sqlite3_column_int64(st, 2);
        v->fp.size = sqlite3_column_int64(st, 3);
        v->fp.mtime_ns = sqlite3_column_int64(st, 4);
        const char *h = (const char *)sqlite3_column_text(st, 5);
        snprintf(v->hash, sizeof v->hash, "%s", h ? h : "");
        v->origin = sqlite3_column_int64(st, 8);
        h = (const char *)sqlite3_column_text(st, 9);
        snprintf(v->origin_kind, sizeof v->origin_kind, "%s", h ? h : "");
    }
    c->brc = SQLITE_OK;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE) return TRAIL_ENOTFOUND;
    return rc == SQLITE_ROW ? 0 : tr_store_sqlerr(c->s, rc, "reading a version");
}

/* The family root of a version: a rename or link keeps pointing at the first file of the bytes. */
static int64_t root_of(int64_t id, const vinfo *v)
{
    int moved = !strcmp(v->origin_kind, "rename") || !strcmp(v->origin_kind, "link");
    return moved && v->origin ? v->origin : id;
}

static int mark_removed(ln *c, int64_t ver, const char *run, const char *op)
{
    sqlite3_stmt *st = stmt(c, TR_STMT_LN_SET_REMOVED);
    if (!st) return TRAIL_ESTORE;
    bi(c, st, 1, ver);
    bt(c, st, 2, run);
    bt(c, st, 3, op);
    return go(c, st);
}

/* Carries version src to key2 as run's output (kind rename or link). */
static int carry(ln *c, const char *run, int64_t pid, int64_t src, const char *key2,
                 const tr_fingerprint *fp, const char *kind, int64_t time_ns)
{
    vinfo v;
    int64_t art, dst;
    int rc = vget(c, src, &v), found;
    if (rc) return rc;
    if (!fp && !v.has_fp) return 0; /* nothing to match a later read by */
    if ((rc = artifact(c, key2, &art)) || (rc = version(c, art, fp ? fp : &v.fp, &dst))) return rc;
    if (dst == src) return 0;
    sqlite3_stmt *st = stmt(c, TR_STMT_LN_SET_ORIGIN);
    if (!st) return TRAIL_ESTORE;
    bi(c, st, 1, dst);
    bi(c, st, 2, root_of(src, &v));
    bt(c, st, 3, kind);
    if ((rc = go(c, st))) return rc;
    if (v.hash[0]) {
        if (!(st = stmt(c, TR_STMT_LN_HASH_CARRY))) return TRAIL_ESTORE;
        bi(c, st, 1, dst);
        bt(c, st, 2, v.hash);
        if ((rc = go(c, st))) return rc;
    }
    if (!(st = stmt(c, TR_STMT_LN_PRODUCED_BY))) return TRAIL_ESTORE;
    bi(c, st, 1, dst);
    bt(c, st, 2, run);
    if ((rc = row(c, st, &found, NULL)) || found) return rc;
    if (!(st = stmt(c, TR_STMT_EVENT))) return TRAIL_ESTORE;
    bt(c, st, 1, run);
    bi(c, st, 2, pid);
    bi(c, st, 3, dst);
    bt(c, st, 4, "output");
    bi(c, st, 7, fp ? fp->size : v.fp.size);
    bi(c, st, 8, 0);
    bi(c, st, 9, time_ns);
    bi(c, st, 10, time_ns);
    bt(c, st, 11, kind);
    return go(c, st);
}

/* The version a FILEOP on key by run acts on, or 0. */
static int current(ln *c, const char *key, const char *run, int64_t *ver)
{
    sqlite3_stmt *st = stmt(c, TR_STMT_LN_CURRENT);
    int found;
    if (!st) return TRAIL_ESTORE;
    bt(c, st, 1, key);
    bt(c, st, 2, run);
    *ver = 0;
    int rc = row(c, st, &found, ver);
    if (!found) *ver = 0;
    return rc;
}

int tr_lineage_fileop(tr_store *s, const char *run, int64_t pid, const char *op, const char *key,
                      const char *key2, const tr_fingerprint *fp, int64_t time_ns)
{
    ln c = {s, SQLITE_OK};
    int64_t src = 0;
    int rename = !strcmp(op, "rename"), link = !strcmp(op, "link");
    int rc;
    if (!key) return 0;
    if (!strcmp(op, "truncate")) {
        int64_t art, ver;
        if (!fp) return 0;
        if ((rc = artifact(&c, key, &art)) || (rc = version(&c, art, fp, &ver))) return rc;
        sqlite3_stmt *st = stmt(&c, TR_STMT_EVENT);
        if (!st) return TRAIL_ESTORE;
        bt(&c, st, 1, run);
        bi(&c, st, 2, pid);
        bi(&c, st, 3, ver);
        bt(&c, st, 4, "output");
        bi(&c, st, 8, 0);
        bi(&c, st, 9, time_ns);
        bi(&c, st, 10, time_ns);
        bt(&c, st, 11, "truncate");
        return go(&c, st);
    }
    if (!rename && !link && strcmp(op, "unlink") != 0) return 0;
    if ((rc = current(&c, key, run, &src)) || !src) return rc;
    if ((rename || link) && key2 && strcmp(key, key2) != 0 &&
        (rc = carry(&c, run, pid, src, key2, fp, rename ? "rename" : "link", time_ns)))
        return rc;
    return link ? 0 : mark_removed(&c, src, run, op);
}

int tr_lineage_after_file(tr_store *s, const char *run, int64_t pid, const char *key,
                          int64_t version, int produced, int64_t start_ns)
{
    ln c = {s, SQLITE_OK};
    if (!produced) return 0;
    sqlite3_stmt *st = stmt(&c, TR_STMT_LN_LATER_OPS);
    if (!st) return TRAIL_ESTORE;
    bt(&c, st, 1, run);
    bt(&c, st, 2, key);
    bi(&c, st, 3, start_ns);
    /* Collect first: carrying runs other statements. */
    char ops[4][8], dst[4][TR_LINEAGE_KEY_MAX];
    int n = 0, rc;
    while (c.brc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW && n < 4) {
        const char *op = (const char *)sqlite3_column_text(st, 0);
        const char *p2 = (const char *)sqlite3_column_text(st, 1);
        snprintf(ops[n], sizeof ops[n], "%s", op ? op : "");
        snprintf(dst[n], sizeof dst[n], "%s", p2 ? p2 : "");
        n++;
    }
    if (c.brc != SQLITE_OK) rc = c.brc;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return tr_store_sqlerr(s, rc, "reading file ops");
    for (int i = 0; i < n; i++) {
        int moved = !strcmp(ops[i], "rename") || !strcmp(ops[i], "link");
        if (moved && dst[i][0] &&
            (rc = carry(&c, run, pid, version, dst[i], NULL, ops[i], start_ns)))
            return rc;
        if (strcmp(ops[i], "link") != 0 && (rc = mark_removed(&c, version, run, ops[i]))) return rc;
        if (!moved || strcmp(ops[i], "rename") == 0) break; /* the path no longer holds it */
    }
    return 0;
}

/* ---- content hashes ---- */

int tr_store_hash_target(tr_store *s, const char *key, const tr_fingerprint *fp,
                         tr_hash_target *out)
{
    if (!s || !key || !out) return TRAIL_EINVAL;
    memset(out, 0, sizeof *out);
    ln c = {s, SQLITE_OK};
    sqlite3_stmt *st = stmt(&c, fp ? TR_STMT_LN_HASH_FIND : TR_STMT_LN_HASH_LATEST);
    if (!st) return TRAIL_ESTORE;
    bt(&c, st, 1, key);
    if (fp) {
        bi(&c, st, 2, (int64_t)fp->ino);
        bi(&c, st, 3, fp->size);
        bi(&c, st, 4, fp->mtime_ns);
    }
    int rc = c.brc ? c.brc : sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->version = sqlite3_column_int64(st, 0);
        out->has_fp = sqlite3_column_type(st, 2) != SQLITE_NULL;
        out->fp.dev = (uint64_t)sqlite3_column_int64(st, 1);
        out->fp.ino = (uint64_t)sqlite3_column_int64(st, 2);
        out->fp.size = sqlite3_column_int64(st, 3);
        out->fp.mtime_ns = sqlite3_column_int64(st, 4);
        out->has_hash = sqlite3_column_type(st, 5) != SQLITE_NULL;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE) return TRAIL_ENOTFOUND;
    return rc == SQLITE_ROW ? 0 : tr_store_sqlerr(s, rc, "finding a version to hash");
}

static int set_hash(ln *c, int64_t ver, const char *hex)
{
    vinfo v;
    int64_t art = 0, twin = 0, root;
    int rc = vget(c, ver, &v), found, produced;
    if (rc) return rc;
    sqlite3_stmt *st = stmt(c, TR_STMT_LN_HASH_SET);
    if (!st) return TRAIL_ESTORE;
    bi(c, st, 1, ver);
    bt(c, st, 2, hex);
    if ((rc = go(c, st))) return rc;
    root = root_of(ver, &v);
    if (!(st = stmt(c, TR_STMT_LN_HASH_CARRY))) return TRAIL_ESTORE;
    bi(c, st, 1, root);
    bt(c, st, 2, hex);
    if ((rc = go(c, st))) return rc;

    /* Identical content: link versions nobody wrote to the latest written one. */
    if (!(st = stmt(c, TR_STMT_LN_VERSION))) return TRAIL_ESTORE;
    bi(c, st, 1, ver);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW) art = sqlite3_column_int64(st, 10);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (sr != SQLITE_ROW) return tr_store_sqlerr(c->s, sr, "reading a version");
    if (!(st = stmt(c, TR_STMT_LN_HAS_PRODUCER))) return TRAIL_ESTORE;
    bi(c, st, 1, ver);
    if ((rc = row(c, st, &produced, NULL))) return rc;
    if (produced) {
        if (!(st = stmt(c, TR_STMT_LN_HASH_ADOPT))) return TRAIL_ESTORE;
        bi(c, st, 1, ver);
        bi(c, st, 2, art);
        bt(c, st, 3, hex);
        return go(c, st);
    }
    if (v.origin) return 0;
    if (!(st = stmt(c, TR_STMT_LN_HASH_TWIN))) return TRAIL_ESTORE;
    bi(c, st, 1, art);
    bt(c, st, 2, hex);
    bi(c, st, 3, ver);
    if ((rc = row(c, st, &found, &twin)) || !found) return rc;
    if (!(st = stmt(c, TR_STMT_LN_SET_ORIGIN))) return TRAIL_ESTORE;
    bi(c, st, 1, ver);
    bi(c, st, 2, twin);
    bt(c, st, 3, "hash");
    return go(c, st);
}

int tr_store_set_content_hash(tr_store *s, int64_t version, const char *hex)
{
    if (!s || !hex || !*hex) return TRAIL_EINVAL;
    ln c = {s, SQLITE_OK};
    int own = !s->in_tx, rc;
    if (own && (rc = tr_store_begin(s))) return rc;
    rc = set_hash(&c, version, hex);
    if (own) {
        if (rc == 0) return tr_store_commit(s);
        char keep[sizeof s->err];
        memcpy(keep, s->err, sizeof keep);
        tr_store_rollback(s);
        memcpy(s->err, keep, sizeof keep);
    }
    return rc;
}
