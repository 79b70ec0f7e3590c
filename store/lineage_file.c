/* lineage_file.c - file targets (PATH, PATH@VERSION) and a file's versions with writers and
 * readers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lineage.h"
#include "trail.h"

/* The artifact of key: exact, else a node-local path recorded on exactly one host. */
static int find_artifact(tr_store *s, const char *key, int64_t *art, char *key_out, size_t n)
{
    enum tr_stmt_id ids[2] = {TR_STMT_LN_ARTIFACT, TR_STMT_LN_ARTIFACT_ANY_HOST};
    for (int i = 0; i < (key[0] == '/' ? 2 : 1); i++) {
        tr_stmt q;
        int rc = tr_stmt_begin(&q, s, ids[i]), rows = 0;
        if (rc) return rc;
        tr_bind_cstr(&q, 1, key);
        while ((rc = tr_stmt_row(&q)) == 1)
            if (rows++ == 0) {
                *art = tr_db_column_int64(q.st, TR_COL_LNA_ID);
                if (key_out) snprintf(key_out, n, "%s", tr_db_column_text(q.st, TR_COL_LNA_PATH));
            }
        if (rc) return rc;
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
static void row_version(tr_dbst *st, char *vs, size_t n)
{
    tr_fingerprint fp = {(uint64_t)tr_db_column_int64(st, TR_COL_LNV_DEV),
                         (uint64_t)tr_db_column_int64(st, TR_COL_LNV_INO),
                         tr_db_column_int64(st, TR_COL_LNV_SIZE),
                         tr_db_column_int64(st, TR_COL_LNV_MTIME_NS)};
    tr_store_version_string((const char *)tr_db_column_text(st, TR_COL_LNV_HASH),
                            tr_db_column_type(st, TR_COL_LNV_INO) != TR_DB_NULL, &fp, vs, n);
}

int tr_store_resolve_file(tr_store *s, const char *key, const char *spec, int64_t *version,
                          char *key_out, size_t keylen)
{
    if (!s || !key || !version) return TRAIL_EINVAL;
    int64_t art = 0;
    int rc = find_artifact(s, key, &art, key_out, keylen);
    if (rc) return rc;
    tr_stmt q;
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_VERSIONS))) return rc;
    tr_bind_int(&q, 1, art);
    long want = spec && (spec[0] == 'v' || spec[0] == 'V') ? strtol(spec + 1, NULL, 10) : 0;
    size_t plen = spec ? strlen(spec) : 0;
    int n = 0, matches = 0;
    *version = 0;
    while ((rc = tr_stmt_row(&q)) == 1) {
        char vs[80];
        n++;
        row_version(q.st, vs, sizeof vs);
        if (!spec || (want > 0 && n == want) ||
            (!want && plen >= 4 && strncasecmp(vs, spec, plen) == 0)) {
            *version = tr_db_column_int64(q.st, TR_COL_LNV_ID);
            if (spec) matches++;
        }
    }
    if (rc) return rc;
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
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_LN_VERSION_EVENTS);
    if (rc) return rc;
    tr_bind_int(&q, 1, ver);
    while ((rc = tr_stmt_row(&q)) == 1) {
        tr_dbst *st = q.st;
        int input = !strcmp((const char *)tr_db_column_text(st, TR_COL_LNE_DIR), "input");
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(input ? r : w, e)) {
            cJSON_Delete(e);
            *oom = 1;
            tr_stmt_reset(&q);
            return 0;
        }
        char t[40] = "";
        if (tr_db_column_type(st, TR_COL_LNE_FIRST_NS) != TR_DB_NULL)
            tr_store_fmt_time(tr_db_column_int64(st, TR_COL_LNE_FIRST_NS), t, sizeof t);
        tr_json_add(e, "run", tr_json_col_text(st, TR_COL_LNE_RUN), oom);
        tr_json_add(e, "name", tr_json_col_text(st, TR_COL_LNE_NAME), oom);
        tr_json_add(e, "status", tr_json_col_text(st, TR_COL_LNE_STATUS), oom);
        tr_json_add(e, "how", tr_json_col_text(st, TR_COL_LNE_SOURCES), oom);
        tr_json_add(e, "time", t[0] ? cJSON_CreateString(t) : cJSON_CreateNull(), oom);
        tr_json_add(e, "opens", cJSON_CreateNumber(tr_db_column_int(st, TR_COL_LNE_OPENS)), oom);
        int bytes = input ? TR_COL_LNE_BYTES_READ : TR_COL_LNE_BYTES_WRITTEN;
        tr_json_add(e, "bytes", cJSON_CreateNumber((double)tr_db_column_int64(st, bytes)), oom);
        if (tr_db_column_type(st, TR_COL_LNE_ENDED) != TR_DB_NULL) /* its process was killed */
            tr_json_add(e, "ended", tr_json_col_text(st, TR_COL_LNE_ENDED), oom);
    }
    return rc;
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
    tr_json_add(doc, "path", cJSON_CreateString(tr_store_key_path(found, host, sizeof host)), &oom);
    tr_json_add(doc, "host", host[0] ? cJSON_CreateString(host) : cJSON_CreateNull(), &oom);
    tr_json_add(doc, "key", cJSON_CreateString(found), &oom);
    if (!(vers = cJSON_AddArrayToObject(doc, "versions"))) goto oom;
    tr_stmt q;
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_VERSIONS))) goto fail;
    tr_bind_int(&q, 1, art);
    while ((rc = tr_stmt_row(&q)) == 1) {
        tr_dbst *st = q.st;
        cJSON *v = cJSON_CreateObject();
        if (!v || !cJSON_AddItemToArray(vers, v)) {
            cJSON_Delete(v);
            tr_stmt_reset(&q);
            goto oom;
        }
        char vs[80], t[40] = "", num[32];
        row_version(st, vs, sizeof vs);
        int64_t id = tr_db_column_int64(st, TR_COL_LNV_ID);
        snprintf(num, sizeof num, "%" PRId64, id);
        tr_json_add(byid, num, cJSON_CreateNumber(++n), &oom);
        tr_json_add(v, "n", cJSON_CreateNumber(n), &oom);
        tr_json_add(v, "id", cJSON_CreateNumber((double)id), &oom);
        tr_json_add(v, "version", cJSON_CreateString(vs), &oom);
        tr_json_add(v, "hash", tr_json_col_text(st, TR_COL_LNV_HASH), &oom);
        tr_json_add(v, "size", tr_json_col_int(st, TR_COL_LNV_SIZE), &oom);
        if (tr_db_column_type(st, TR_COL_LNV_MTIME_NS) != TR_DB_NULL)
            tr_store_fmt_time(tr_db_column_int64(st, TR_COL_LNV_MTIME_NS), t, sizeof t);
        tr_json_add(v, "mtime", t[0] ? cJSON_CreateString(t) : cJSON_CreateNull(), &oom);
        if (tr_db_column_type(st, TR_COL_LNV_ORIGIN) != TR_DB_NULL) {
            cJSON *o = cJSON_CreateObject();
            tr_json_add(v, "origin", o, &oom);
            if (o) {
                tr_json_add(o, "kind", tr_json_col_text(st, TR_COL_LNV_ORIGIN_KIND), &oom);
                tr_json_add(o, "version_id", tr_json_col_int(st, TR_COL_LNV_ORIGIN), &oom);
            }
        }
        if (tr_db_column_type(st, TR_COL_LNV_REMOVED_RUN) != TR_DB_NULL) {
            cJSON *o = cJSON_CreateObject();
            tr_json_add(v, "removed", o, &oom);
            if (o) {
                tr_json_add(o, "op", tr_json_col_text(st, TR_COL_LNV_REMOVED_OP), &oom);
                tr_json_add(o, "run", tr_json_col_text(st, TR_COL_LNV_REMOVED_RUN), &oom);
            }
        }
    }
    if (rc) goto fail;
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
                tr_json_add(o, "n", cJSON_CreateNumber(same->valuedouble), &oom);
            } else { /* moved here from another path: name it */
                if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_VERSION))) goto fail;
                tr_bind_int(&q, 1, (int64_t)atoll(num));
                if ((rc = tr_stmt_row(&q)) < 0) goto fail;
                if (rc) {
                    char ph[256];
                    const char *p = tr_store_key_path(
                        (const char *)tr_db_column_text(q.st, TR_COL_LNV_PATH), ph, sizeof ph);
                    tr_json_add(o, "path", cJSON_CreateString(p ? p : ""), &oom);
                    tr_stmt_reset(&q);
                }
                rc = 0;
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
