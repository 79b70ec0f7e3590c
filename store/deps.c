/* deps.c - dependencies in the store: the agent's resolutions (package, version, source), the
 * run tags it derives (git.*), and the run document's "deps". */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "procs.h"
#include "trail.h"

/* Binds text parameters 1..n (NULL or "" binds NULL) and steps the statement. */
static int run_text(tr_store *s, enum tr_stmt_id id, int n, const char *const *v)
{
    sqlite3_stmt *st = tr_store_stmt(s, id);
    if (!st) return TRAIL_ESTORE;
    int rc = SQLITE_OK;
    for (int i = 0; i < n && rc == SQLITE_OK; i++)
        rc = v[i] && *v[i] ? sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC)
                           : sqlite3_bind_null(st, i + 1);
    if (rc != SQLITE_OK) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return tr_store_sqlerr(s, rc, "binding");
    }
    return tr_store_step_done(s, st);
}

int tr_store_dep_resolve(tr_store *s, const char *run_id, const char *path, const tr_dep_info *d)
{
    if (!s || !run_id || !path || !d) return TRAIL_EINVAL;
    const char *v[] = {run_id, path, d->package, d->version, d->source};
    return run_text(s, TR_STMT_DEP_RESOLVE, 5, v);
}

int tr_store_dep_add(tr_store *s, const char *run_id, const char *path, const char *kind,
                     const tr_dep_info *d)
{
    if (!s || !run_id || !path || !*path || !kind || !d) return TRAIL_EINVAL;
    const char *v[] = {run_id, path, kind, d->package, d->version, d->source};
    return run_text(s, TR_STMT_DEP_ADD, 6, v);
}

int tr_store_dep_cache_put(tr_store *s, const char *path, const char *stamp, const char *package,
                           const char *version)
{
    if (!s || !path || !stamp) return TRAIL_EINVAL;
    const char *v[] = {path, package, version, stamp};
    return run_text(s, TR_STMT_DEP_CACHE_PUT, 4, v);
}

int tr_store_dep_cache_get(tr_store *s, const char *path, const char *stamp, char *package,
                           size_t pn, char *version, size_t vn)
{
    if (!s || !path || !stamp || !package || !version || !pn || !vn) return TRAIL_EINVAL;
    package[0] = version[0] = 0;
    sqlite3_stmt *st = tr_store_stmt(s, TR_STMT_DEP_CACHE_GET);
    if (!st) return TRAIL_ESTORE;
    int rc = sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC), found = 0;
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 2, stamp, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(st, 0);
        const char *v = (const char *)sqlite3_column_text(st, 1);
        snprintf(package, pn, "%s", p ? p : "");
        snprintf(version, vn, "%s", v ? v : "");
        found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return tr_store_sqlerr(s, rc, "reading the dependency cache");
    return found ? 0 : TRAIL_ENOTFOUND;
}

int tr_store_tag_set(tr_store *s, const char *run_id, const char *key, const char *value)
{
    if (!s || !run_id || !key || !*key) return TRAIL_EINVAL;
    const char *v[] = {run_id, key, value};
    return run_text(s, TR_STMT_TAG, 3, v);
}

/* Runs a one-row text lookup keyed by run (and key); copies the value into out. */
static int lookup(tr_store *s, enum tr_stmt_id id, const char *run_id, const char *key, char *out,
                  size_t n)
{
    if (!s || !run_id || !out || n == 0) return TRAIL_EINVAL;
    out[0] = 0;
    sqlite3_stmt *st = tr_store_stmt(s, id);
    if (!st) return TRAIL_ESTORE;
    int rc = sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC), found = 0;
    if (rc == SQLITE_OK && key) rc = sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        snprintf(out, n, "%s", t ? t : "");
        found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return tr_store_sqlerr(s, rc, "reading");
    return found ? 0 : TRAIL_ENOTFOUND;
}

int tr_store_tag_get(tr_store *s, const char *run_id, const char *key, char *out, size_t n)
{
    if (!key) return TRAIL_EINVAL;
    return lookup(s, TR_STMT_Q_TAG, run_id, key, out, n);
}

int tr_store_run_cwd(tr_store *s, const char *run_id, char *out, size_t n)
{
    return lookup(s, TR_STMT_Q_RUN_CWD, run_id, NULL, out, n);
}

static cJSON *col_str(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return cJSON_CreateNull();
    return cJSON_CreateString((const char *)sqlite3_column_text(st, i));
}

int tr_deps_json(tr_store *s, const char *run, cJSON *doc)
{
    static const char *const names[] = {"path", "kind", "package", "version", "source"};
    cJSON *arr = cJSON_AddArrayToObject(doc, "deps");
    sqlite3_stmt *st = tr_store_stmt(s, TR_STMT_Q_DEPS);
    if (!st) return TRAIL_ESTORE;
    int rc = sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC), oom = !arr;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        cJSON *d = cJSON_CreateObject();
        for (int i = 0; i < 5 && d; i++) {
            cJSON *v = col_str(st, i);
            if (!v || !cJSON_AddItemToObject(d, names[i], v)) {
                cJSON_Delete(v);
                oom = 1;
            }
        }
        if (!d || !arr || !cJSON_AddItemToArray(arr, d)) {
            cJSON_Delete(d);
            oom = 1;
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return tr_store_sqlerr(s, rc, "reading dependencies");
    return oom ? tr_store_fail(s, TRAIL_ENOMEM, "out of memory") : 0;
}
