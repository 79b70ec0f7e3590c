/* mlflow_search.c - MLflow's runs search over the store: experiments, lifecycle stages, a
 * --where filter, one sort key and offset paging; the runs as MLflow Run documents. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mlflow_store.h"
#include "mlflow_sql.h"
#include "store_int.h"
#include "trail.h"
#include "where_int.h"

/* The statement of q, its parameters bound; NULL on error (message in the store). */
static tr_dbst *prepare(tr_store *s, const tr_mlf_search *q)
{
    int np = q->where ? q->where->np : 0, keyp = FIRST_PARAM + np, no = q->norder;
    if (no < 0 || no > TR_MLF_ORDER_MAX) {
        tr_store_fail(s, TRAIL_EINVAL, "at most %d sort keys", TR_MLF_ORDER_MAX);
        return NULL;
    }
    const char *cond = q->where ? tr_where_sql(q->where) : "1 = 1";
    /* the sort: a column kN per key (param, tag and metric names bound from keyp on) */
    char cols[TR_MLF_ORDER_MAX * 160] = "", sort[TR_MLF_ORDER_MAX * 300] = "";
    size_t cl = 0, sl = 0;
    for (int i = 0; i < no; i++) {
        const tr_mlf_order *o = &q->order[i];
        const char *dir = o->desc ? "DESC" : "ASC";
        char expr[160];
        if (o->kind)
            snprintf(expr, sizeof expr,
                     o->kind == 'p'   ? TR_MLF_KEY_PARAM
                     : o->kind == 't' ? TR_MLF_KEY_TAG
                                      : TR_MLF_KEY_METRIC,
                     keyp + i);
        else
            snprintf(expr, sizeof expr, "%s", o->sql);
        cl += (size_t)snprintf(cols + cl, sizeof cols - cl, ", %s AS k%d", expr, i);
        sl += (size_t)snprintf(sort + sl, sizeof sort - sl, TR_MLF_SORT_FMT, i, i, i, i, i, dir, i,
                               dir);
    }
    int limp = keyp + no; /* then the offset, then the time bounds */
    char times[TR_MLF_TIMES_MAX * 64] = "";
    size_t tl = 0;
    for (int i = 0; i < q->ntimes && i < TR_MLF_TIMES_MAX; i++) {
        const tr_mlf_time *t = &q->times[i];
        static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
        int known = 0;
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
            known |= !strcmp(t->op, ops[k]);
        if (!known || (t->col != 's' && t->col != 'e')) {
            tr_store_fail(s, TRAIL_EINVAL, "bad time bound");
            return NULL;
        }
        tl += (size_t)snprintf(times + tl, sizeof times - tl, TR_MLF_TIME_FMT,
                               t->col == 's' ? "started_ns" : "ended_ns", t->op, limp + 2 + i);
    }
    size_t n = strlen(TR_MLF_SEARCH_FMT) + cl + strlen(cond) + tl + sl + 64;
    char *sql = malloc(n), *both = malloc(strlen(cond) + tl + 8);
    if (!sql || !both) {
        free(sql);
        free(both);
        tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
        return NULL;
    }
    sprintf(both, "(%s)%s", cond, times);
    snprintf(sql, n, TR_MLF_SEARCH_FMT, cols, both, sort, limp, limp + 1);
    free(both);
    tr_dbst *st = NULL;
    int rc = tr_db_prepare(s->db, sql, -1, &st, NULL);
    free(sql);
    if (rc == TR_DB_OK) rc = tr_db_bind_text(st, 1, q->exp_ids, -1, TR_DB_STATIC);
    if (rc == TR_DB_OK) rc = tr_db_bind_text(st, 2, q->stages, -1, TR_DB_STATIC);
    for (int i = 0; i < np && rc == TR_DB_OK; i++)
        rc = q->where->p[i].is_num
                 ? tr_db_bind_double(st, FIRST_PARAM + i, q->where->p[i].num)
                 : tr_db_bind_text(st, FIRST_PARAM + i, q->where->p[i].text, -1, TR_DB_STATIC);
    for (int i = 0; i < no && rc == TR_DB_OK; i++)
        if (q->order[i].kind) rc = tr_db_bind_text(st, keyp + i, q->order[i].key, -1, TR_DB_STATIC);
    if (rc == TR_DB_OK) rc = tr_db_bind_int(st, limp, q->limit + 1);
    if (rc == TR_DB_OK) rc = tr_db_bind_int64(st, limp + 1, q->offset);
    for (int i = 0; i < q->ntimes && rc == TR_DB_OK; i++)
        rc = tr_db_bind_int64(st, limp + 2 + i, q->times[i].ms);
    if (rc != TR_DB_OK) {
        tr_store_sqlerr(s, rc, "preparing the runs search");
        tr_db_finalize(st);
        return NULL;
    }
    return st;
}

int tr_mlf_search_json(tr_store *s, const tr_mlf_search *q, cJSON **out)
{
    *out = NULL;
    if (q->limit < 1) return tr_store_fail(s, TRAIL_EINVAL, "max_results must be positive");
    int rc = 0;
    tr_dbst *st = prepare(s, q);
    if (!st) return TRAIL_ESTORE;
    char(*ids)[33] = calloc((size_t)q->limit + 1, sizeof *ids);
    int got = 0;
    if (!ids) {
        tr_db_finalize(st);
        return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    }
    while ((rc = tr_db_step(st)) == TR_DB_ROW && got <= q->limit)
        snprintf(ids[got++], sizeof ids[0], "%s", (const char *)tr_db_column_text(st, 0));
    rc = rc == TR_DB_DONE || rc == TR_DB_ROW ? 0 : tr_store_sqlerr(s, rc, "searching runs");
    tr_db_finalize(st);
    int oom = 0;
    cJSON *doc = tr_json_chk(cJSON_CreateObject(), &oom);
    cJSON *runs = doc ? cJSON_AddArrayToObject(doc, "runs") : NULL;
    if (!runs) oom = 1;
    for (int i = 0; !rc && !oom && i < got && i < q->limit; i++) {
        cJSON *run = NULL;
        if (!(rc = tr_mlf_run_json(s, ids[i], 0, &run))) tr_json_add(runs, NULL, run, &oom);
    }
    free(ids);
    if (!rc && !oom && got > q->limit) {
        char next[32];
        snprintf(next, sizeof next, "%" PRId64, q->offset + q->limit);
        tr_json_add(doc, "next_page_token", cJSON_CreateString(next), &oom);
    }
    if (!rc && oom) rc = tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    if (rc) {
        cJSON_Delete(doc);
        return rc;
    }
    *out = doc;
    return 0;
}
