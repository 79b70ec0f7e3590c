/* query.c - reading the store: run references, run documents and metric series as JSON. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "console.h"
#include "procs.h"
#include "runs_sql.h"
#include "roles.h"
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

/* A stored argv JSON text as an array ([] when absent or unreadable). */
static cJSON *col_argv(tr_dbst *st, int i)
{
    const char *text = (const char *)tr_db_column_text(st, i);
    cJSON *a = text ? cJSON_Parse(text) : NULL;
    if (a && cJSON_IsArray(a)) return a;
    cJSON_Delete(a);
    return cJSON_CreateArray();
}

/* Column i by kind: 's' string, 'i' integer, 't' time, 'a' argv array; null when NULL. */
static cJSON *col(tr_dbst *st, int i, char kind)
{
    switch (kind) {
    case 'i':
        return tr_json_col_int(st, i);
    case 't':
        return tr_json_col_time(st, i);
    case 'a':
        return col_argv(st, i);
    default:
        return tr_json_col_text(st, i);
    }
}

/* A metric value: JSON has no NaN or infinities, so they become the strings of the protobuf
 * JSON mapping. `special` is the metrics column (1 NaN, 2 +Inf, 3 -Inf). */
static cJSON *metric_json(tr_dbst *st, int vi, int si)
{
    int special = tr_db_column_int(st, si);
    double v = tr_db_column_double(st, vi);
    if (special == 1) return cJSON_CreateString("NaN");
    if (special == 2 || special == 3 || isinf(v))
        return cJSON_CreateString(special == 3 || v < 0 ? "-Infinity" : "Infinity");
    if (tr_db_column_type(st, vi) == TR_DB_NULL) return cJSON_CreateNull();
    return cJSON_CreateNumber(v);
}

void tr_store_version_id(uint64_t dev, uint64_t ino, int64_t size, int64_t mtime_ns, char out[17])
{
    char text[96];
    int n = snprintf(text, sizeof text, "%" PRIu64 ":%" PRIu64 ":%" PRId64 ":%" PRId64, dev, ino,
                     size, mtime_ns);
    snprintf(out, 17, "%016" PRIx64, tr_hash64(text, n > 0 ? (size_t)n : 0));
}

/* Starts statement id with the run id bound to ?1. */
static int run_stmt(q *c, tr_stmt *st, enum tr_stmt_id id)
{
    int rc = tr_stmt_begin(st, c->s, id);
    if (!rc) tr_bind_cstr(st, 1, c->run);
    return rc;
}

/* The end of a listing: rc of its last tr_stmt_row, or out of memory. */
static int finish(q *c, int rc)
{
    if (rc) return rc;
    return c->oom ? tr_store_fail(c->s, TRAIL_ENOMEM, "out of memory") : 0;
}

/* {key: value} from a (key, value[, special]) statement: params and tags (text values), the last
 * metrics (metric values). */
static int key_values(q *c, cJSON *run, const char *name, enum tr_stmt_id id, int metrics)
{
    cJSON *obj = tr_json_chk(cJSON_AddObjectToObject(run, name), &c->oom);
    tr_stmt st;
    int rc = run_stmt(c, &st, id);
    if (rc) return rc;
    while ((rc = tr_stmt_row(&st)) == 1)
        tr_json_add(obj, (const char *)tr_db_column_text(st.st, TR_COL_KV_KEY),
                    metrics ? metric_json(st.st, TR_COL_KV_VALUE, TR_COL_KV_SPECIAL)
                            : tr_json_col_text(st.st, TR_COL_KV_VALUE),
                    &c->oom);
    return finish(c, rc);
}

/* inputs or outputs: one {path, version, bytes} per (path, version). */
static int files(q *c, cJSON *run, const char *name, const char *role)
{
    cJSON *arr = tr_json_chk(cJSON_AddArrayToObject(run, name), &c->oom);
    tr_stmt q;
    int rc = run_stmt(c, &q, TR_STMT_Q_FILES);
    if (rc) return rc;
    tr_bind_cstr(&q, 2, role);
    tr_bind_int(&q, 3, (c->flags & TR_RUN_ALL_FILES) != 0);
    while ((rc = tr_stmt_row(&q)) == 1) {
        tr_dbst *st = q.st;
        cJSON *f = cJSON_CreateObject();
        char host[256];
        const char *path = tr_store_key_path((const char *)tr_db_column_text(st, TR_COL_FILE_PATH),
                                             host, sizeof host);
        tr_json_add(f, "path", cJSON_CreateString(path ? path : ""), &c->oom);
        if (host[0]) tr_json_add(f, "host", cJSON_CreateString(host), &c->oom);
        /* the content hash, else the fingerprint's id; null when no fingerprint was taken */
        int has_fp = 0;
        for (int i = TR_COL_FILE_DEV; i <= TR_COL_FILE_MTIME_NS; i++)
            has_fp |= tr_db_column_type(st, i) != TR_DB_NULL;
        tr_fingerprint fp = {(uint64_t)tr_db_column_int64(st, TR_COL_FILE_DEV),
                             (uint64_t)tr_db_column_int64(st, TR_COL_FILE_INO),
                             tr_db_column_int64(st, TR_COL_FILE_SIZE),
                             tr_db_column_int64(st, TR_COL_FILE_MTIME_NS)};
        char v[80];
        tr_store_version_string((const char *)tr_db_column_text(st, TR_COL_FILE_HASH), has_fp, &fp,
                                v, sizeof v);
        tr_json_add(f, "version", v[0] ? cJSON_CreateString(v) : cJSON_CreateNull(), &c->oom);
        tr_json_add(f, "bytes",
                    cJSON_CreateNumber((double)tr_db_column_int64(st, TR_COL_FILE_BYTES)), &c->oom);
        if (tr_db_column_type(st, TR_COL_FILE_WRITES) != TR_DB_NULL) {
            tr_json_add(f, "writes", tr_json_col_int(st, TR_COL_FILE_WRITES), &c->oom);
            tr_json_add(f, "versions", tr_json_col_int(st, TR_COL_FILE_VERSIONS), &c->oom);
        }
        if ((c->flags & TR_RUN_ALL_FILES) && tr_db_column_int(st, TR_COL_FILE_TEMPORARY))
            tr_json_add(f, "temporary", cJSON_CreateTrue(), &c->oom);
        tr_json_add(arr, NULL, f, &c->oom);
    }
    return finish(c, rc);
}

/* name -> value; run-level (pid 0) values first, then the first process that has the name. */
static int env(q *c, cJSON *run)
{
    cJSON *obj = tr_json_chk(cJSON_AddObjectToObject(run, "env"), &c->oom);
    tr_stmt q;
    int rc = run_stmt(c, &q, TR_STMT_Q_ENV);
    if (rc) return rc;
    while ((rc = tr_stmt_row(&q)) == 1) {
        const char *name = (const char *)tr_db_column_text(q.st, TR_COL_ENV_NAME);
        if (!obj || cJSON_GetObjectItemCaseSensitive(obj, name)) continue;
        tr_json_add(obj, name,
                    tr_db_column_int(q.st, TR_COL_ENV_REDACTED)
                        ? cJSON_CreateString("[redacted]")
                        : tr_json_col_text(q.st, TR_COL_ENV_VALUE),
                    &c->oom);
    }
    return finish(c, rc);
}

/* The runs row: scalar fields in document order; created_by and resources come last. */
static int run_row(q *c, cJSON *run, cJSON **tail)
{
    tr_stmt q;
    int rc = run_stmt(c, &q, TR_STMT_Q_RUN);
    if (rc) return rc;
    if ((rc = tr_stmt_row(&q)) <= 0)
        return rc ? rc : tr_store_fail(c->s, TRAIL_ENOTFOUND, "no run %s", c->run);
    tr_dbst *st = q.st;
    static const char *const names[] = {"id",        "name",   "experiment", "status",
                                        "exit_code", "signal", "argv",       "cwd",
                                        "host",      "user",   "pid"};
    static const char kinds[] = "ssssiiasssi"; /* columns TR_COL_RUN_ID .. TR_COL_RUN_PID */
    _Static_assert(sizeof kinds - 1 == TR_COL_RUN_PID + 1, "a kind per leading column");
    for (int i = 0; kinds[i]; i++)
        tr_json_add(run, names[i], col(st, i, kinds[i]), &c->oom);
    tr_json_add(run, "started_at", tr_json_col_time(st, TR_COL_RUN_STARTED_NS), &c->oom);
    tr_json_add(run, "ended_at", tr_json_col_time(st, TR_COL_RUN_ENDED_NS), &c->oom);
    int has_start = tr_db_column_type(st, TR_COL_RUN_STARTED_NS) != TR_DB_NULL;
    int has_end = tr_db_column_type(st, TR_COL_RUN_ENDED_NS) != TR_DB_NULL;
    int running = !strcmp((const char *)tr_db_column_text(st, TR_COL_RUN_STATUS), "running");
    int64_t start = tr_db_column_int64(st, TR_COL_RUN_STARTED_NS);
    int64_t end = tr_db_column_int64(st, TR_COL_RUN_ENDED_NS);
    if (has_start && (has_end || running))
        tr_json_add(run, "duration_s",
                    cJSON_CreateNumber((double)((has_end ? end : tr_now_ns()) - start) / 1e9),
                    &c->oom);
    else
        tr_json_add(run, "duration_s", cJSON_CreateNull(), &c->oom);

    /* Built now, attached by the caller after the other sections. */
    *tail = cJSON_CreateObject();
    /* records its writers lost (their DROPPED records' total) and damaged frames skipped */
    tr_json_add(*tail, "dropped", tr_json_col_int(st, TR_COL_RUN_DROPPED), &c->oom);
    tr_json_add(*tail, "damaged", tr_json_col_int(st, TR_COL_RUN_DAMAGED), &c->oom);
    tr_json_add(*tail, "created_by", tr_json_col_text(st, TR_COL_RUN_CREATED_BY), &c->oom);
    cJSON *res = cJSON_CreateObject();
    for (int i = TR_COL_RUN_UTIME_US; i <= TR_COL_RUN_STIME_US; i++)
        tr_json_add(res, i == TR_COL_RUN_UTIME_US ? "utime_s" : "stime_s",
                    tr_db_column_type(st, i) == TR_DB_NULL
                        ? cJSON_CreateNull()
                        : cJSON_CreateNumber((double)tr_db_column_int64(st, i) / 1e6),
                    &c->oom);
    tr_json_add(res, "maxrss_kb", tr_json_col_int(st, TR_COL_RUN_MAXRSS_KB), &c->oom);
    tr_json_add(*tail, "resources", res, &c->oom);
    tr_stmt_reset(&q); /* the id is the primary key: one row */
    return finish(c, 0);
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
    /* a failed run's last stderr lines: its traceback (console.c) */
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(run, "status"));
    if (!rc && status && (!strcmp(status, "failed") || !strcmp(status, "crashed")))
        rc = tr_store_console_tail_json(s, run_id, run, &c.oom);
    if (rc || (rc = key_values(&c, run, "params", TR_STMT_Q_PARAMS, 0)) ||
        (rc = key_values(&c, run, "metrics", TR_STMT_Q_METRICS_LAST, 1)) ||
        (rc = key_values(&c, run, "tags", TR_STMT_Q_TAGS, 0)) ||
        (!(flags & TR_RUN_NO_FILES) && ((rc = files(&c, run, "inputs", "input")) ||
                                        (rc = files(&c, run, "outputs", "output")))) ||
        (rc = tr_procs_json(s, run_id, run)) || (rc = env(&c, run)) ||
        (rc = tr_deps_json(s, run_id, run)))
        goto fail;
    if ((rc = tr_roles_annotate(run))) { /* each file's role, env inputs' group (roles.c) */
        rc = tr_store_fail(s, rc, "out of memory");
        goto fail;
    }
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

/* The number of runs f selects without a --where filter; 0 or TRAIL_E*. */
static int runs_count(tr_store *s, const tr_runs_filter *f, int64_t *n)
{
    /* Prepared per listing (like a --where filter): one statement each time. */
    tr_stmt q = {s, NULL, TR_DB_OK};
    int rc = tr_db_prepare(s->db, f->experiment ? TR_SQL_RUNS_COUNT_EXP : TR_SQL_RUNS_COUNT, -1,
                           &q.st, NULL);
    if (rc != TR_DB_OK) {
        tr_db_finalize(q.st);
        return tr_store_sqlerr(s, rc, "counting runs");
    }
    if (f->experiment) tr_bind_cstr(&q, 1, f->experiment);
    int found;
    rc = tr_stmt_row_int(&q, &found, n);
    tr_db_finalize(q.st);
    return rc;
}

int tr_store_runs_each(tr_store *s, const tr_runs_filter *f, int flags,
                       int (*fn)(void *arg, cJSON **run), void *arg, int64_t *more)
{
    if (!s || !fn) return TRAIL_EINVAL;
    tr_runs_filter none = {0};
    if (!f) f = &none;
    if (more) *more = 0;
    /* A --where filter is its own statement (its text varies); values are bound, never
     * spliced. One row past the limit says whether there are more. The id statement stays
     * open while each document is built by others (one read snapshot for the listing). */
    tr_stmt q = {s, NULL, TR_DB_OK};
    q.st = f->where ? tr_where_prepare(s, f->where) : tr_store_stmt(s, TR_STMT_Q_RUNS);
    if (!q.st) return TRAIL_ESTORE;
    if (f->experiment) tr_bind_cstr(&q, 1, f->experiment);
    tr_bind_int(&q, 2, f->limit > 0 ? (int64_t)f->limit + 1 : -1);
    int64_t n = 0;
    int rc;
    while ((rc = tr_stmt_row(&q)) == 1) {
        if (f->limit > 0 && n == f->limit) { /* the one past the limit */
            tr_stmt_reset(&q);
            rc = 0;
            if (more) *more = -1;
            break;
        }
        char id[33];
        snprintf(id, sizeof id, "%s", (const char *)tr_db_column_text(q.st, TR_COL_RUN_LOOKUP_ID));
        cJSON *run = NULL;
        if ((rc = tr_store_run_json_ex(s, id, flags, &run)) == 0) rc = fn(arg, &run);
        cJSON_Delete(run);
        n++;
        if (rc) {
            tr_stmt_reset(&q);
            break;
        }
    }
    if (f->where) tr_db_finalize(q.st);
    if (rc == 0 && more && *more && !f->where) {
        int64_t total;
        if ((rc = runs_count(s, f, &total)) == 0) *more = total > n ? total - n : 1;
    }
    return rc;
}

static int collect(void *arg, cJSON **run)
{
    if (!cJSON_AddItemToArray(arg, *run)) return TRAIL_ENOMEM;
    *run = NULL;
    return 0;
}

int tr_store_runs_json(tr_store *s, const tr_runs_filter *f, cJSON **out)
{
    if (!s || !out) return TRAIL_EINVAL;
    *out = NULL;
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    int rc = tr_store_runs_each(s, f, 0, collect, arr, NULL);
    if (rc == TRAIL_ENOMEM) rc = tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    if (rc) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int tr_store_metrics_json(tr_store *s, const char *run_id, cJSON **out)
{
    if (!s || !run_id || !out) return TRAIL_EINVAL;
    *out = NULL;
    q c = {.s = s, .run = run_id};
    tr_stmt q;
    int found, rc = run_stmt(&c, &q, TR_STMT_Q_RUN_EXACT);
    if (rc || (rc = tr_stmt_row_int(&q, &found, NULL))) return rc;
    if (!found) return tr_store_fail(s, TRAIL_ENOTFOUND, "no run %s", run_id);
    cJSON *obj = cJSON_CreateObject(), *series = NULL;
    if (!obj) return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    if ((rc = run_stmt(&c, &q, TR_STMT_Q_METRICS_ALL))) {
        cJSON_Delete(obj);
        return rc;
    }
    while ((rc = tr_stmt_row(&q)) == 1) {
        tr_dbst *st = q.st;
        const char *key = (const char *)tr_db_column_text(st, TR_COL_MET_KEY);
        if (!series || strcmp(series->string, key) != 0)
            if (!(series = tr_json_chk(cJSON_AddArrayToObject(obj, key), &c.oom))) {
                tr_stmt_reset(&q);
                rc = 0;
                break;
            }
        cJSON *p = cJSON_CreateObject();
        tr_json_add(p, "step", tr_json_col_int(st, TR_COL_MET_STEP), &c.oom);
        tr_json_add(p, "value", metric_json(st, TR_COL_MET_VALUE, TR_COL_MET_SPECIAL), &c.oom);
        tr_json_add(p, "time", tr_json_col_time(st, TR_COL_MET_TIME_NS), &c.oom);
        const char *src = (const char *)tr_db_column_text(st, TR_COL_MET_SOURCE);
        tr_json_add(p, "source", cJSON_CreateString(src ? src : "sdk"), &c.oom);
        tr_json_add(series, NULL, p, &c.oom);
    }
    if ((rc = finish(&c, rc))) {
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
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, id), rows = 0;
    if (rc) return rc;
    tr_bind_cstr(&q, 1, a);
    if (b) tr_bind_cstr(&q, 2, b);
    while ((rc = tr_stmt_row(&q)) == 1)
        if (rows++ == 0)
            snprintf(id_out, 33, "%s", (const char *)tr_db_column_text(q.st, TR_COL_RUN_LOOKUP_ID));
    return rc ? rc : rows;
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
