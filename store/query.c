/* query.c - reading the store: run references, run documents and metric series as JSON. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "procs.h"
#include "store_int.h"
#include "trail.h"
#include "util.h"
#include "where.h"

/* A query in progress: cJSON reports allocation failure as NULL, remembered in oom. */
typedef struct q {
    tr_store *s;
    const char *run;
    int oom;
    int flags; /* TR_RUN_ALL_FILES */
} q;

static cJSON *chk(q *c, cJSON *item)
{
    if (!item) c->oom = 1;
    return item;
}

static void add(q *c, cJSON *obj, const char *key, cJSON *item)
{
    if (!item || !obj) {
        c->oom = 1;
        cJSON_Delete(item);
        return;
    }
    if (cJSON_IsArray(obj))
        cJSON_AddItemToArray(obj, item);
    else
        cJSON_AddItemToObject(obj, key, item);
}

static cJSON *col_str(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return cJSON_CreateNull();
    return cJSON_CreateString((const char *)sqlite3_column_text(st, i));
}

static cJSON *col_int(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return cJSON_CreateNull();
    return cJSON_CreateNumber((double)sqlite3_column_int64(st, i));
}

static cJSON *time_json(int64_t ns)
{
    char buf[40];
    tr_store_fmt_time(ns, buf, sizeof buf);
    return cJSON_CreateString(buf);
}

static cJSON *col_time(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return cJSON_CreateNull();
    return time_json(sqlite3_column_int64(st, i));
}

/* A stored argv JSON text as an array ([] when absent or unreadable). */
static cJSON *col_argv(sqlite3_stmt *st, int i)
{
    const char *text = (const char *)sqlite3_column_text(st, i);
    cJSON *a = text ? cJSON_Parse(text) : NULL;
    if (a && cJSON_IsArray(a)) return a;
    cJSON_Delete(a);
    return cJSON_CreateArray();
}

/* Column i by kind: 's' string, 'i' integer, 't' time, 'a' argv array; null when NULL. */
static cJSON *col(sqlite3_stmt *st, int i, char kind)
{
    switch (kind) {
    case 'i':
        return col_int(st, i);
    case 't':
        return col_time(st, i);
    case 'a':
        return col_argv(st, i);
    default:
        return col_str(st, i);
    }
}

/* A metric value: JSON has no NaN or infinities, so they become the strings of the protobuf
 * JSON mapping. `special` is the metrics column (1 NaN, 2 +Inf, 3 -Inf). */
static cJSON *metric_json(sqlite3_stmt *st, int vi, int si)
{
    int special = sqlite3_column_int(st, si);
    double v = sqlite3_column_double(st, vi);
    if (special == 1) return cJSON_CreateString("NaN");
    if (special == 2 || special == 3 || isinf(v))
        return cJSON_CreateString(special == 3 || v < 0 ? "-Infinity" : "Infinity");
    if (sqlite3_column_type(st, vi) == SQLITE_NULL) return cJSON_CreateNull();
    return cJSON_CreateNumber(v);
}

void tr_store_version_id(uint64_t dev, uint64_t ino, int64_t size, int64_t mtime_ns, char out[17])
{
    char text[96];
    int n = snprintf(text, sizeof text, "%" PRIu64 ":%" PRIu64 ":%" PRId64 ":%" PRId64, dev, ino,
                     size, mtime_ns);
    snprintf(out, 17, "%016" PRIx64, tr_hash64(text, n > 0 ? (size_t)n : 0));
}

/* Binds the run id to ?1 of a statement; NULL when it cannot be prepared. */
static sqlite3_stmt *run_stmt(q *c, enum tr_stmt_id id)
{
    sqlite3_stmt *st = tr_store_stmt(c->s, id);
    if (st && sqlite3_bind_text(st, 1, c->run, -1, SQLITE_STATIC) != SQLITE_OK) {
        tr_store_sqlerr(c->s, sqlite3_errcode(c->s->db), "binding");
        sqlite3_reset(st);
        return NULL;
    }
    return st;
}

/* Finishes a statement stepped until it returned rc. */
static int finish(q *c, sqlite3_stmt *st, int rc)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return tr_store_sqlerr(c->s, rc, "reading");
    return c->oom ? tr_store_fail(c->s, TRAIL_ENOMEM, "out of memory") : 0;
}

/* {key: value} from a two-column (key, value) statement: params and tags. */
static int key_values(q *c, cJSON *run, const char *name, enum tr_stmt_id id)
{
    cJSON *obj = chk(c, cJSON_AddObjectToObject(run, name));
    sqlite3_stmt *st = run_stmt(c, id);
    if (!st) return TRAIL_ESTORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        add(c, obj, (const char *)sqlite3_column_text(st, 0), col_str(st, 1));
    return finish(c, st, rc);
}

static int last_metrics(q *c, cJSON *run)
{
    cJSON *obj = chk(c, cJSON_AddObjectToObject(run, "metrics"));
    sqlite3_stmt *st = run_stmt(c, TR_STMT_Q_METRICS_LAST);
    if (!st) return TRAIL_ESTORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        add(c, obj, (const char *)sqlite3_column_text(st, 0), metric_json(st, 1, 2));
    return finish(c, st, rc);
}

/* inputs or outputs: one {path, version, bytes} per (path, version). */
static int files(q *c, cJSON *run, const char *name, const char *role)
{
    cJSON *arr = chk(c, cJSON_AddArrayToObject(run, name));
    sqlite3_stmt *st = run_stmt(c, TR_STMT_Q_FILES);
    if (!st) return TRAIL_ESTORE;
    sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (c->flags & TR_RUN_ALL_FILES) != 0);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *f = cJSON_CreateObject();
        char host[256];
        const char *path = tr_store_key_path((const char *)sqlite3_column_text(st, 0), host,
                                             sizeof host);
        add(c, f, "path", cJSON_CreateString(path ? path : ""));
        if (host[0]) add(c, f, "host", cJSON_CreateString(host));
        if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
            add(c, f, "version", col_str(st, 5));
        } else if (sqlite3_column_type(st, 1) == SQLITE_NULL &&
                   sqlite3_column_type(st, 2) == SQLITE_NULL &&
                   sqlite3_column_type(st, 3) == SQLITE_NULL &&
                   sqlite3_column_type(st, 4) == SQLITE_NULL) {
            add(c, f, "version", cJSON_CreateNull()); /* no fingerprint was taken */
        } else {
            char v[17];
            tr_store_version_id((uint64_t)sqlite3_column_int64(st, 1),
                                (uint64_t)sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                                sqlite3_column_int64(st, 4), v);
            add(c, f, "version", cJSON_CreateString(v));
        }
        add(c, f, "bytes", cJSON_CreateNumber((double)sqlite3_column_int64(st, 6)));
        if ((c->flags & TR_RUN_ALL_FILES) && sqlite3_column_int(st, 7))
            add(c, f, "temporary", cJSON_CreateTrue());
        add(c, arr, NULL, f);
    }
    return finish(c, st, rc);
}

/* name -> value; run-level (pid 0) values first, then the first process that has the name. */
static int env(q *c, cJSON *run)
{
    cJSON *obj = chk(c, cJSON_AddObjectToObject(run, "env"));
    sqlite3_stmt *st = run_stmt(c, TR_STMT_Q_ENV);
    if (!st) return TRAIL_ESTORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!obj || cJSON_GetObjectItemCaseSensitive(obj, name)) continue;
        add(c, obj, name,
            sqlite3_column_int(st, 2) ? cJSON_CreateString("[redacted]") : col_str(st, 1));
    }
    return finish(c, st, rc);
}

/* The runs row: scalar fields in document order; created_by and resources come last. */
static int run_row(q *c, cJSON *run, cJSON **tail)
{
    sqlite3_stmt *st = run_stmt(c, TR_STMT_Q_RUN);
    if (!st) return TRAIL_ESTORE;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        finish(c, st, rc);
        return rc == SQLITE_DONE ? tr_store_fail(c->s, TRAIL_ENOTFOUND, "no run %s", c->run)
                                 : TRAIL_ESTORE;
    }
    static const char *const names[] = {"id",        "name",   "experiment", "status",
                                        "exit_code", "signal", "argv",       "cwd",
                                        "host",      "user",   "pid"};
    static const char kinds[] = "ssssiiasssi";
    for (int i = 0; kinds[i]; i++)
        add(c, run, names[i], col(st, i, kinds[i]));
    add(c, run, "started_at", col_time(st, 11));
    add(c, run, "ended_at", col_time(st, 12));
    int has_start = sqlite3_column_type(st, 11) != SQLITE_NULL;
    int has_end = sqlite3_column_type(st, 12) != SQLITE_NULL;
    int running = !strcmp((const char *)sqlite3_column_text(st, 3), "running");
    int64_t start = sqlite3_column_int64(st, 11), end = sqlite3_column_int64(st, 12);
    if (has_start && (has_end || running))
        add(c, run, "duration_s",
            cJSON_CreateNumber((double)((has_end ? end : tr_now_ns()) - start) / 1e9));
    else
        add(c, run, "duration_s", cJSON_CreateNull());

    /* Built now, attached by the caller after the other sections. */
    *tail = cJSON_CreateObject();
    add(c, *tail, "created_by", col_str(st, 16));
    cJSON *res = cJSON_CreateObject();
    for (int i = 13; i <= 14; i++)
        add(c, res, i == 13 ? "utime_s" : "stime_s",
            sqlite3_column_type(st, i) == SQLITE_NULL
                ? cJSON_CreateNull()
                : cJSON_CreateNumber((double)sqlite3_column_int64(st, i) / 1e6));
    add(c, res, "maxrss_kb", col_int(st, 15));
    add(c, *tail, "resources", res);
    sqlite3_step(st); /* the id is the primary key: SQLITE_DONE */
    return finish(c, st, SQLITE_DONE);
}

int tr_store_run_json(tr_store *s, const char *run_id, cJSON **out)
{
    return tr_store_run_json_ex(s, run_id, 0, out);
}

int tr_store_run_json_ex(tr_store *s, const char *run_id, int flags, cJSON **out)
{
    if (!s || !run_id || !out) return TRAIL_EINVAL;
    *out = NULL;
    q c = {.s = s, .run = run_id, .flags = flags};
    cJSON *run = cJSON_CreateObject(), *tail = NULL;
    if (!run) return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    int rc = run_row(&c, run, &tail);
    if (rc || (rc = key_values(&c, run, "params", TR_STMT_Q_PARAMS)) ||
        (rc = last_metrics(&c, run)) || (rc = key_values(&c, run, "tags", TR_STMT_Q_TAGS)) ||
        (rc = files(&c, run, "inputs", "input")) || (rc = files(&c, run, "outputs", "output")) ||
        (rc = tr_procs_json(s, run_id, run)) || (rc = env(&c, run)) ||
        (rc = tr_deps_json(s, run_id, run)))
        goto fail;
    /* Move created_by and resources from tail to the end of the document. */
    while (tail && tail->child) {
        cJSON *item = cJSON_DetachItemViaPointer(tail, tail->child);
        if (!cJSON_AddItemToObject(run, item->string, item)) {
            cJSON_Delete(item);
            c.oom = 1;
        }
    }
    if (c.oom) {
        rc = tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
        goto fail;
    }
    cJSON_Delete(tail);
    *out = run;
    return 0;
fail:
    cJSON_Delete(tail);
    cJSON_Delete(run);
    return rc;
}

int tr_store_runs_json(tr_store *s, const tr_runs_filter *f, cJSON **out)
{
    if (!s || !out) return TRAIL_EINVAL;
    *out = NULL;
    /* A --where filter is its own statement (its text varies); values are bound, never
     * spliced. */
    sqlite3_stmt *st = f && f->where ? tr_where_prepare(s, f->where) : tr_store_stmt(s, TR_STMT_Q_RUNS);
    if (!st) return TRAIL_ESTORE;
    if (f && f->experiment) sqlite3_bind_text(st, 1, f->experiment, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, f && f->limit > 0 ? f->limit : -1);

    /* Collect the ids first: building each document runs other statements. */
    char(*ids)[33] = NULL;
    size_t n = 0, cap = 0;
    cJSON *arr = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            void *grown = realloc(ids, cap * sizeof *ids);
            if (!grown) {
                rc = SQLITE_NOMEM;
                break;
            }
            ids = grown;
        }
        snprintf(ids[n++], sizeof ids[0], "%s", (const char *)sqlite3_column_text(st, 0));
    }
    if (f && f->where) {
        sqlite3_finalize(st);
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (rc != SQLITE_DONE) {
        rc = tr_store_sqlerr(s, rc, "listing runs");
        goto fail;
    }
    if (!(arr = cJSON_CreateArray())) {
        rc = tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *run;
        if ((rc = tr_store_run_json(s, ids[i], &run))) goto fail;
        cJSON_AddItemToArray(arr, run);
    }
    free(ids);
    *out = arr;
    return 0;
fail:
    free(ids);
    cJSON_Delete(arr);
    return rc;
}

int tr_store_metrics_json(tr_store *s, const char *run_id, cJSON **out)
{
    if (!s || !run_id || !out) return TRAIL_EINVAL;
    *out = NULL;
    q c = {.s = s, .run = run_id};
    sqlite3_stmt *st = run_stmt(&c, TR_STMT_Q_RUN_EXACT);
    if (!st) return TRAIL_ESTORE;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        finish(&c, st, rc);
        return rc == SQLITE_DONE ? tr_store_fail(s, TRAIL_ENOTFOUND, "no run %s", run_id)
                                 : TRAIL_ESTORE;
    }
    finish(&c, st, SQLITE_DONE);
    cJSON *obj = cJSON_CreateObject(), *series = NULL;
    st = obj ? run_stmt(&c, TR_STMT_Q_METRICS_ALL) : NULL;
    if (!st) {
        cJSON_Delete(obj);
        return obj ? TRAIL_ESTORE : tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        if (!series || strcmp(series->string, key) != 0)
            if (!(series = chk(&c, cJSON_AddArrayToObject(obj, key)))) break;
        cJSON *p = cJSON_CreateObject();
        add(&c, p, "step", col_int(st, 1));
        add(&c, p, "value", metric_json(st, 2, 3));
        add(&c, p, "time", col_time(st, 4));
        add(&c, series, NULL, p);
    }
    if (c.oom) rc = SQLITE_DONE; /* finish reports it */
    if ((rc = finish(&c, st, rc))) {
        cJSON_Delete(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

/* Runs a run-id lookup with text parameters a (and b); copies the first id into id_out.
 * Returns the number of rows seen (the statements stop at 1 or 2), or TRAIL_E*. */
static int lookup(tr_store *s, enum tr_stmt_id id, const char *a, const char *b, char id_out[33])
{
    sqlite3_stmt *st = tr_store_stmt(s, id);
    if (!st) return TRAIL_ESTORE;
    int rc = sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC), rows = 0;
    if (rc == SQLITE_OK && b) rc = sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (rows++ == 0) snprintf(id_out, 33, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = SQLITE_OK;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? rows : tr_store_sqlerr(s, rc, "resolving a run");
}

/* Resolution order: exact id, unique id prefix, run name (latest started). An ambiguous prefix
 * still resolves when it is exactly some run's name. */
int tr_store_resolve_run(tr_store *s, const char *ref, char id_out[33])
{
    if (!s || !ref || !id_out) return TRAIL_EINVAL;
    if (!*ref) return tr_store_fail(s, TRAIL_ENOTFOUND, "empty run reference");
    int n = lookup(s, TR_STMT_Q_RUN_EXACT, ref, NULL, id_out), prefix = 0;
    if (n != 0) return n < 0 ? n : 0;

    size_t len = strlen(ref);
    int hex = len <= 32;
    for (size_t i = 0; hex && i < len; i++)
        hex = isxdigit((unsigned char)ref[i]) != 0;
    if (hex) {
        /* Ids are lowercase hex: the prefix range is [prefix, prefix with last char + 1). */
        char lo[33], hi[33];
        for (size_t i = 0; i <= len; i++)
            lo[i] = hi[i] = (char)tolower((unsigned char)ref[i]);
        hi[len - 1]++;
        prefix = lookup(s, TR_STMT_Q_RUN_PREFIX, lo, hi, id_out);
        if (prefix < 0) return prefix;
        if (prefix == 1) return 0;
    }
    if ((n = lookup(s, TR_STMT_Q_RUN_NAME, ref, NULL, id_out)) != 0) return n < 0 ? n : 0;
    if (prefix > 1)
        return tr_store_fail(s, TRAIL_EAMBIGUOUS, "run prefix '%s' matches more than one run", ref);
    return tr_store_fail(s, TRAIL_ENOTFOUND, "no run matches '%s'", ref);
}
