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
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, id);
    if (rc) return rc;
    for (int i = 0; i < n; i++)
        tr_bind_cstr(&q, i + 1, v[i]);
    return tr_stmt_done(&q);
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
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_DEP_CACHE_GET);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, path);
    tr_bind_cstr(&q, 2, stamp);
    if ((rc = tr_stmt_row(&q)) <= 0) return rc ? rc : TRAIL_ENOTFOUND;
    const char *p = (const char *)tr_db_column_text(q.st, TR_COL_DEPC_PACKAGE);
    const char *v = (const char *)tr_db_column_text(q.st, TR_COL_DEPC_VERSION);
    snprintf(package, pn, "%s", p ? p : "");
    snprintf(version, vn, "%s", v ? v : "");
    tr_stmt_reset(&q);
    return 0;
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
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, id);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run_id);
    if (key) tr_bind_cstr(&q, 2, key);
    if ((rc = tr_stmt_row(&q)) <= 0) return rc ? rc : TRAIL_ENOTFOUND;
    const char *t = (const char *)tr_db_column_text(q.st, 0); /* the one column */
    snprintf(out, n, "%s", t ? t : "");
    tr_stmt_reset(&q);
    return 0;
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

int tr_deps_json(tr_store *s, const char *run, cJSON *doc)
{
    static const char *const names[TR_COL_DEP_COUNT] = {"path", "kind", "package", "version",
                                                        "source"};
    int oom = 0;
    cJSON *arr = tr_json_chk(cJSON_AddArrayToObject(doc, "deps"), &oom);
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_Q_DEPS);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run);
    while ((rc = tr_stmt_row(&q)) == 1) {
        cJSON *d = cJSON_CreateObject();
        for (int i = 0; i < TR_COL_DEP_COUNT && d; i++)
            tr_json_add(d, names[i], tr_json_col_text(q.st, i), &oom);
        tr_json_add(arr, NULL, d, &oom);
    }
    if (rc) return rc;
    return oom ? tr_store_fail(s, TRAIL_ENOMEM, "out of memory") : 0;
}
