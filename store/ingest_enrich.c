/* ingest_enrich.c - ingest of the agent's enrichment records: content hashes and resolved
 * dependencies (git state arrives as ordinary TAG records and DEP_INFO rows). */
#include <stdio.h>
#include <string.h>

#include "store_int.h"
#include "trail.h"

/* A string field copied NUL-terminated; 1 when present and non-empty. */
static int str_field(const tr_rec *r, uint16_t id, char *out, size_t n)
{
    return tr_rec_copy_str(r, id, out, n) == 0 && out[0];
}

static int is_digest(const char *h)
{
    size_t n = strlen(h);
    if (n != 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return 0;
    return 1;
}

int tr_store_ingest_hash(tr_store *s, const char *host, const tr_rec *rec)
{
    char path[4096], key[4608], kind[16], hex[80];
    int64_t ino, size, mtime, dev = 0;
    if (!str_field(rec, TR_F_PATH, path, sizeof path) ||
        !str_field(rec, TR_F_VALUE, hex, sizeof hex) ||
        !str_field(rec, TR_F_KIND, kind, sizeof kind) || strcmp(kind, "sha256") != 0 ||
        !is_digest(hex) || tr_rec_get_i64(rec, TR_F_INO, &ino) != 0 ||
        tr_rec_get_i64(rec, TR_F_SIZE, &size) != 0 ||
        tr_rec_get_i64(rec, TR_F_MTIME_NS, &mtime) != 0)
        return 1; /* malformed: skipped and counted */
    tr_rec_get_i64(rec, TR_F_DEV, &dev);
    if (tr_store_artifact_key(path, host, key, sizeof key) != 0) return 1;
    tr_fingerprint fp = {(uint64_t)dev, (uint64_t)ino, size, mtime};
    /* 1: the bytes hashed are no version anyone recorded, or known already (a record delivered
     * twice) */
    int rc = tr_store_hash_version(s, key, &fp, hex);
    return rc == 1 ? 0 : rc;
}

int tr_store_ingest_dep_info(tr_store *s, const char *run, const tr_rec *rec)
{
    char op[16], path[4096], kind[32], pkg[256], ver[256], origin[32];
    if (!str_field(rec, TR_F_OP, op, sizeof op) || !str_field(rec, TR_F_PATH, path, sizeof path))
        return 1;
    if (!str_field(rec, TR_F_PACKAGE, pkg, sizeof pkg)) pkg[0] = 0;
    if (!str_field(rec, TR_F_VERSION, ver, sizeof ver)) ver[0] = 0;
    if (!str_field(rec, TR_F_ORIGIN, origin, sizeof origin)) origin[0] = 0;
    tr_dep_info d = {pkg, ver, origin};
    if (!strcmp(op, "resolve")) return tr_store_dep_resolve(s, run, path, &d);
    if (!strcmp(op, "add") && str_field(rec, TR_F_KIND, kind, sizeof kind))
        return tr_store_dep_add(s, run, path, kind, &d);
    return 1;
}
