/* series.c - what a chart shows: metric series downsampled to a number of points (keeping each
 * bucket's minimum and maximum and the last point). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "page_sql.h"
#include "store_int.h"
#include "trail.h"

/* One point held while its bucket fills. */
typedef struct pt {
    int64_t idx, step, time_ns;
    double value;
    int special, has_time, null_value, set;
    char source[32];
} pt;

static void take(pt *p, tr_dbst *st, int64_t idx)
{
    p->idx = idx;
    p->set = 1;
    p->step = tr_db_column_int64(st, TR_COL_SER_STEP);
    p->null_value = tr_db_column_type(st, TR_COL_SER_VALUE) == TR_DB_NULL;
    p->value = tr_db_column_double(st, TR_COL_SER_VALUE);
    p->special = tr_db_column_int(st, TR_COL_SER_SPECIAL);
    p->has_time = tr_db_column_type(st, TR_COL_SER_TIME_NS) != TR_DB_NULL;
    p->time_ns = tr_db_column_int64(st, TR_COL_SER_TIME_NS);
    const char *src = (const char *)tr_db_column_text(st, TR_COL_SER_SOURCE);
    snprintf(p->source, sizeof p->source, "%s", src ? src : "sdk");
}

/* A point as `trail metrics --json` writes it: step, value (NaN/Infinity as strings), time,
 * source. */
static void emit(cJSON *arr, const pt *p, int *oom)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *v = p->special == 1 ? cJSON_CreateString("NaN")
               : p->special == 2 || p->special == 3 || isinf(p->value)
                   ? cJSON_CreateString(p->special == 3 || p->value < 0 ? "-Infinity" : "Infinity")
               : p->null_value ? cJSON_CreateNull()
                               : cJSON_CreateNumber(p->value);
    tr_json_add(o, "step", cJSON_CreateNumber((double)p->step), oom);
    tr_json_add(o, "value", v, oom);
    tr_json_add(o, "time", p->has_time ? tr_json_time(p->time_ns) : cJSON_CreateNull(), oom);
    tr_json_add(o, "source", cJSON_CreateString(p->source), oom);
    tr_json_add(arr, NULL, o, oom);
}

static int finite_pt(const pt *p)
{
    return !p->special && !p->null_value && isfinite(p->value);
}

/* A bucket's points in the order they were logged: its minimum and maximum (one when they are
 * the same point), or its first point when it holds no finite value. */
static void flush(cJSON *arr, pt *lo, pt *hi, pt *first, int *oom)
{
    if (!first->set) return;
    if (!lo->set) {
        emit(arr, first, oom);
    } else if (lo->idx == hi->idx) {
        emit(arr, lo, oom);
    } else {
        emit(arr, lo->idx < hi->idx ? lo : hi, oom);
        emit(arr, lo->idx < hi->idx ? hi : lo, oom);
    }
    lo->set = hi->set = first->set = 0;
}

static tr_dbst *series_stmt(tr_store *s, const char *sql, const char *run, const char *key,
                            const tr_series_opts *o)
{
    tr_dbst *st = NULL;
    int rc = tr_db_prepare(s->db, sql, -1, &st, NULL);
    if (rc == TR_DB_OK) rc = tr_db_bind_text(st, 1, run, -1, TR_DB_STATIC);
    if (rc == TR_DB_OK) rc = tr_db_bind_text(st, 2, key, -1, TR_DB_STATIC);
    if (rc == TR_DB_OK) rc = tr_db_bind_int64(st, 3, o->has_min ? o->step_min : INT64_MIN);
    if (rc == TR_DB_OK) rc = tr_db_bind_int64(st, 4, o->has_max ? o->step_max : INT64_MAX);
    if (rc != TR_DB_OK) {
        tr_store_sqlerr(s, rc, "reading a metric");
        tr_db_finalize(st);
        return NULL;
    }
    return st;
}

/* One key: {"total": points in the range, "downsampled": bool} into info, the points into arr.
 * With total > max, the points but the last fall into (max - 1) / 2 buckets of equal count;
 * each bucket gives its minimum and maximum, and the last point follows: at most max points,
 * the range's true minimum and maximum among them. */
static int one_series(tr_store *s, const char *run, const char *key, const tr_series_opts *o,
                      cJSON *arr, cJSON *info, int *oom)
{
    tr_dbst *st = series_stmt(s, TR_SERIES_COUNT, run, key, o);
    if (!st) return TRAIL_ESTORE;
    int rc = tr_db_step(st);
    int64_t total = rc == TR_DB_ROW ? tr_db_column_int64(st, 0) : 0;
    tr_db_finalize(st);
    if (rc != TR_DB_ROW) return tr_store_sqlerr(s, rc, "counting a metric");
    int64_t max = o->max_points > 0 ? o->max_points : TR_SERIES_DEFAULT;
    int down = total > max;
    int64_t nb = down ? (max - 1) / 2 : 0;
    tr_json_add(info, "total", cJSON_CreateNumber((double)total), oom);
    tr_json_add(info, "downsampled", cJSON_CreateBool(down), oom);
    if (!(st = series_stmt(s, TR_SERIES_POINTS, run, key, o))) return TRAIL_ESTORE;
    pt lo = {0}, hi = {0}, first = {0}, cur;
    int64_t idx = 0, bucket = -1;
    while (!*oom && (rc = tr_db_step(st)) == TR_DB_ROW) {
        take(&cur, st, idx);
        if (!down) {
            emit(arr, &cur, oom);
        } else if (idx == total - 1 || nb == 0) {
            if (idx == total - 1) {
                flush(arr, &lo, &hi, &first, oom);
                emit(arr, &cur, oom);
            }
        } else {
            int64_t b = (int64_t)((__int128)idx * nb / (total - 1));
            if (b != bucket) {
                flush(arr, &lo, &hi, &first, oom);
                bucket = b;
            }
            if (!first.set) first = cur;
            if (finite_pt(&cur)) {
                if (!lo.set || cur.value < lo.value) lo = cur;
                if (!hi.set || cur.value > hi.value) hi = cur;
            }
        }
        idx++;
    }
    if (!*oom && rc == TR_DB_DONE) flush(arr, &lo, &hi, &first, oom);
    rc = *oom || rc == TR_DB_DONE || rc == TR_DB_ROW ? 0
                                                     : tr_store_sqlerr(s, rc, "reading a metric");
    tr_db_finalize(st);
    return rc;
}

int tr_store_series_json(tr_store *s, const char *run_id, const char *const *keys, int nkeys,
                         const tr_series_opts *o, cJSON **out)
{
    if (!s || !run_id || !o || !out || nkeys < 0) return TRAIL_EINVAL;
    *out = NULL;
    if (o->max_points < 0 || o->max_points > TR_SERIES_MAX)
        return tr_store_fail(s, TRAIL_EINVAL, "max_points must be 1 to %d", TR_SERIES_MAX);
    /* without keys: every key the run logged (the last-value statement walks them) */
    char **all = NULL;
    int nall = 0, rc = 0, oom = 0;
    if (!keys) {
        tr_stmt q;
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_Q_METRICS_LAST))) return rc;
        tr_bind_cstr(&q, 1, run_id);
        while ((rc = tr_stmt_row(&q)) == 1) {
            char **grown = realloc(all, (size_t)(nall + 1) * sizeof *all);
            char *k = strdup((const char *)tr_db_column_text(q.st, TR_COL_KV_KEY));
            if (grown) all = grown;
            if (!grown || !k) {
                free(k);
                tr_stmt_reset(&q);
                oom = 1;
                break;
            }
            all[nall++] = k;
        }
        keys = (const char *const *)all;
        nkeys = nall;
    }
    cJSON *doc = cJSON_CreateObject();
    tr_json_add(doc, "run", cJSON_CreateString(run_id), &oom);
    tr_json_add(doc, "max_points",
                cJSON_CreateNumber(o->max_points ? o->max_points : TR_SERIES_DEFAULT), &oom);
    cJSON *metrics = tr_json_chk(cJSON_AddObjectToObject(doc, "metrics"), &oom);
    cJSON *info = tr_json_chk(cJSON_AddObjectToObject(doc, "series"), &oom);
    for (int i = 0; !rc && !oom && i < nkeys; i++) {
        if (cJSON_GetObjectItemCaseSensitive(metrics, keys[i])) continue;
        cJSON *arr = cJSON_CreateArray(), *in = cJSON_CreateObject();
        tr_json_add(metrics, keys[i], arr, &oom);
        tr_json_add(info, keys[i], in, &oom);
        if (!oom) rc = one_series(s, run_id, keys[i], o, arr, in, &oom);
    }
    for (int i = 0; i < nall; i++)
        free(all[i]);
    free(all);
    if (!rc && oom) rc = tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    if (rc) {
        cJSON_Delete(doc);
        return rc;
    }
    *out = doc;
    return 0;
}
