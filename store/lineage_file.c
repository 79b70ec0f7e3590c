/* lineage_file.c - file targets (PATH, PATH@VERSION) and a file's versions with writers and
 * readers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lineage.h"
#include "trail.h"

static void put(cJSON *o, const char *k, cJSON *v, int *oom)
{
    if (!v || !cJSON_AddItemToObject(o, k, v)) {
        cJSON_Delete(v);
        *oom = 1;
    }
}

static cJSON *text_or_null(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? cJSON_CreateString((const char *)t) : cJSON_CreateNull();
}

/* The artifact of key: exact, else a node-local path recorded on exactly one host. */
static int find_artifact(tr_store *s, const char *key, int64_t *art, char *key_out, size_t n)
{
    enum tr_stmt_id ids[2] = {TR_STMT_LN_ARTIFACT, TR_STMT_LN_ARTIFACT_ANY_HOST};
    for (int i = 0; i < (key[0] == '/' ? 2 : 1); i++) {
        sqlite3_stmt *st = tr_store_stmt(s, ids[i]);
        if (!st) return TRAIL_ESTORE;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int rc, rows = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            if (rows++ == 0) {
                *art = sqlite3_column_int64(st, 0);
                if (key_out) snprintf(key_out, n, "%s", sqlite3_column_text(st, 1));
            }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE) return tr_store_sqlerr(s, rc, "finding a file");
        if (rows > 1)
            return tr_store_fail(s, TRAIL_EAMBIGUOUS,
                                 "%s was recorded on several hosts; "
                                 "name one as HOST:%s",
                                 key, key);
        if (rows == 1) return 0;
    }
    return tr_store_fail(s, TRAIL_ENOTFOUND, "no recorded file %s", key);
}

/* Row of LN_VERSIONS as a version string. */
static void row_version(sqlite3_stmt *st, char *vs, size_t n)
{
    tr_fingerprint fp = {(uint64_t)sqlite3_column_int64(st, 1),
                         (uint64_t)sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                         sqlite3_column_int64(st, 4)};
    tr_store_version_string((const char *)sqlite3_column_text(st, 5),
                            sqlite3_column_type(st, 2) != SQLITE_NULL, &fp, vs, n);
}

int tr_store_resolve_file(tr_store *s, const char *key, const char *spec, int64_t *version,
                          char *key_out, size_t keylen)
{
    if (!s || !key || !version) return TRAIL_EINVAL;
    int64_t art = 0;
    int rc = find_artifact(s, key, &art, key_out, keylen);
    if (rc) return rc;
    sqlite3_stmt *st = tr_store_stmt(s, TR_STMT_LN_VERSIONS);
    if (!st) return TRAIL_ESTORE;
    sqlite3_bind_int64(st, 1, art);
    long want = spec && (spec[0] == 'v' || spec[0] == 'V') ? strtol(spec + 1, NULL, 10) : 0;
    size_t plen = spec ? strlen(spec) : 0;
    int n = 0, matches = 0;
    *version = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char vs[80];
        n++;
        row_version(st, vs, sizeof vs);
        if (!spec || (want > 0 && n == want) ||
            (!want && plen >= 4 && strncasecmp(vs, spec, plen) == 0)) {
            *version = sqlite3_column_int64(st, 0);
            if (spec) matches++;
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return tr_store_sqlerr(s, rc, "reading versions");
    if (matches > 1)
        return tr_store_fail(s, TRAIL_EAMBIGUOUS, "version '%s' of %s is ambiguous", spec, key);
    if (!*version)
        return tr_store_fail(s, TRAIL_ENOTFOUND, "%s has no version '%s' (versions: v1..v%d%s)",
                             key, spec ? spec : "", n,
                             spec && plen < 4 && !want ? "; a hex prefix needs 4+ characters" : "");
    return 0;
}

/* written_by / read_by of one version. */
static int version_events(tr_store *s, int64_t ver, cJSON *v, int *oom)
{
    cJSON *w = cJSON_AddArrayToObject(v, "written_by"), *r = cJSON_AddArrayToObject(v, "read_by");
    if (!w || !r) return *oom = 1, 0;
    sqlite3_stmt *st = tr_store_stmt(s, TR_STMT_LN_VERSION_EVENTS);
    if (!st) return TRAIL_ESTORE;
    sqlite3_bind_int64(st, 1, ver);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int input = !strcmp((const char *)sqlite3_column_text(st, 3), "input");
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(input ? r : w, e)) {
            cJSON_Delete(e);
            *oom = 1;
            break;
        }
        char t[40] = "";
        if (sqlite3_column_type(st, 5) != SQLITE_NULL)
            tr_store_fmt_time(sqlite3_column_int64(st, 5), t, sizeof t);
        put(e, "run", text_or_null(st, 0), oom);
        put(e, "name", text_or_null(st, 1), oom);
        put(e, "status", text_or_null(st, 2), oom);
        put(e, "how", text_or_null(st, 4), oom);
        put(e, "time", t[0] ? cJSON_CreateString(t) : cJSON_CreateNull(), oom);
        put(e, "opens", cJSON_CreateNumber(sqlite3_column_int(st, 6)), oom);
        put(e, "bytes", cJSON_CreateNumber((double)sqlite3_column_int64(st, input ? 7 : 8)), oom);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || *oom ? 0 : tr_store_sqlerr(s, rc, "reading events");
}

int tr_store_file_json(tr_store *s, const char *key, cJSON **out)
{
    if (!s || !key || !out) return TRAIL_EINVAL;
    *out = NULL;
    char found[TR_LINEAGE_KEY_MAX], host[256];
    int64_t art = 0, *ids = NULL;
    int rc = find_artifact(s, key, &art, found, sizeof found), oom = 0, n = 0;
    if (rc) return rc;
    cJSON *doc = cJSON_CreateObject(), *vers = NULL, *byid = cJSON_CreateObject();
    if (!doc || !byid) goto oom;
    put(doc, "path", cJSON_CreateString(tr_store_key_path(found, host, sizeof host)), &oom);
    put(doc, "host", host[0] ? cJSON_CreateString(host) : cJSON_CreateNull(), &oom);
    put(doc, "key", cJSON_CreateString(found), &oom);
    if (!(vers = cJSON_AddArrayToObject(doc, "versions"))) goto oom;
    sqlite3_stmt *st = tr_store_stmt(s, TR_STMT_LN_VERSIONS);
    if (!st) {
        rc = TRAIL_ESTORE;
        goto fail;
    }
    sqlite3_bind_int64(st, 1, art);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *v = cJSON_CreateObject();
        if (!v || !cJSON_AddItemToArray(vers, v)) {
            cJSON_Delete(v);
            oom = 1;
            break;
        }
        char vs[80], t[40] = "", num[32];
        row_version(st, vs, sizeof vs);
        int64_t id = sqlite3_column_int64(st, 0);
        snprintf(num, sizeof num, "%" PRId64, id);
        put(byid, num, cJSON_CreateNumber(++n), &oom);
        put(v, "n", cJSON_CreateNumber(n), &oom);
        put(v, "id", cJSON_CreateNumber((double)id), &oom);
        put(v, "version", cJSON_CreateString(vs), &oom);
        put(v, "hash", text_or_null(st, 5), &oom);
        put(v, "size",
            sqlite3_column_type(st, 3) == SQLITE_NULL
                ? cJSON_CreateNull()
                : cJSON_CreateNumber((double)sqlite3_column_int64(st, 3)),
            &oom);
        if (sqlite3_column_type(st, 4) != SQLITE_NULL)
            tr_store_fmt_time(sqlite3_column_int64(st, 4), t, sizeof t);
        put(v, "mtime", t[0] ? cJSON_CreateString(t) : cJSON_CreateNull(), &oom);
        if (sqlite3_column_type(st, 8) != SQLITE_NULL) {
            cJSON *o = cJSON_CreateObject();
            put(v, "origin", o, &oom);
            if (o) {
                put(o, "kind", text_or_null(st, 9), &oom);
                put(o, "version_id", cJSON_CreateNumber((double)sqlite3_column_int64(st, 8)), &oom);
            }
        }
        if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
            cJSON *o = cJSON_CreateObject();
            put(v, "removed", o, &oom);
            if (o) {
                put(o, "op", text_or_null(st, 7), &oom);
                put(o, "run", text_or_null(st, 6), &oom);
            }
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE && !oom) {
        rc = tr_store_sqlerr(s, rc, "reading versions");
        goto fail;
    }
    if (oom) goto oom;
    /* Events per version (other statements: after the listing is done). */
    cJSON *v;
    cJSON_ArrayForEach(v, vers)
    {
        int64_t id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "id"));
        if ((rc = version_events(s, id, v, &oom))) goto fail;
        cJSON *o = cJSON_GetObjectItemCaseSensitive(v, "origin");
        if (o) {
            char num[32];
            snprintf(num, sizeof num, "%.0f",
                     cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "version_id")));
            cJSON *same = cJSON_GetObjectItemCaseSensitive(byid, num);
            if (same) {
                put(o, "n", cJSON_CreateNumber(same->valuedouble), &oom);
            } else { /* moved here from another path: name it */
                sqlite3_stmt *q = tr_store_stmt(s, TR_STMT_LN_VERSION);
                if (!q) {
                    rc = TRAIL_ESTORE;
                    goto fail;
                }
                sqlite3_bind_int64(q, 1, (sqlite3_int64)atoll(num));
                if (sqlite3_step(q) == SQLITE_ROW) {
                    char ph[256];
                    const char *p =
                        tr_store_key_path((const char *)sqlite3_column_text(q, 0), ph, sizeof ph);
                    put(o, "path", cJSON_CreateString(p ? p : ""), &oom);
                }
                sqlite3_reset(q);
                sqlite3_clear_bindings(q);
            }
        }
    }
    if (oom) goto oom;
    free(ids);
    cJSON_Delete(byid);
    *out = doc;
    return 0;
oom:
    rc = tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
fail:
    free(ids);
    cJSON_Delete(byid);
    cJSON_Delete(doc);
    return rc;
}
