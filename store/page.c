/* page.c - the API's runs listing one page at a time (filter, sort key, page token) and the
 * experiments summary. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "page_sql.h"
#include "store_int.h"
#include "trail.h"
#include "where_int.h"

/* Run attributes a page can be sorted by: the name given, its SQL expression. */
static const struct {
    const char *name, *sql;
    int num; /* always a number or NULL: sorted by TR_PAGE_RUNS_NUM_FMT */
} attrs[] = {{"started", "started_ns", 1},
             {"ended", "ended_ns", 1},
             {"duration", "(ended_ns - started_ns)", 1},
             {"name", "name", 0},
             {"id", "id", 0},
             {"status", "status", 0},
             {"experiment", "experiment", 0},
             {"exit_code", "exit_code", 1},
             {"host", "host", 0},
             {"user", "user", 0}};

/* The sort: expression into expr, the key name of params./tags./metrics. into *key (NULL for an
 * attribute), direction into *desc, whether it is always a number into *num. TRAIL_EINVAL for an
 * unknown key. */
static int parse_order(tr_store *s, const char *order, int keyparam, char *expr, size_t n,
                       char *key, size_t kn, int *desc, int *num)
{
    *num = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", order && *order ? order : "started desc");
    char *k = buf;
    *desc = 0;
    if (*k == '-') {
        *desc = 1;
        k++;
    }
    char *sp = strchr(k, ' ');
    if (sp) {
        *sp++ = 0;
        while (*sp == ' ')
            sp++;
        if (!strcasecmp(sp, "desc"))
            *desc = 1;
        else if (strcasecmp(sp, "asc") != 0)
            return tr_store_fail(s, TRAIL_EINVAL, "order_by: '%s' is not asc or desc", sp);
    }
    if (!strncmp(k, "attributes.", 11)) k += 11;
    const char *fmt = !strncmp(k, "params.", 7)    ? TR_PAGE_KEY_PARAM
                      : !strncmp(k, "tags.", 5)    ? TR_PAGE_KEY_TAG
                      : !strncmp(k, "metrics.", 8) ? TR_PAGE_KEY_METRIC
                                                   : NULL;
    if (fmt) {
        const char *name = strchr(k, '.') + 1;
        if (!*name) return tr_store_fail(s, TRAIL_EINVAL, "order_by: '%s' names no key", k);
        snprintf(key, kn, "%s", name);
        snprintf(expr, n, fmt, keyparam);
        return 0;
    }
    *key = 0;
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        if (!strcmp(k, attrs[i].name)) {
            snprintf(expr, n, "%s", attrs[i].sql);
            *num = attrs[i].num;
            return 0;
        }
    return tr_store_fail(s, TRAIL_EINVAL,
                         "order_by: unknown key '%s' (started, ended, duration, name, id, status, "
                         "experiment, exit_code, host, user, params.K, tags.K, metrics.K)",
                         k);
}

/* A page token is "o" and the offset of the page's first run. */
static int parse_token(tr_store *s, const char *t, int64_t *offset)
{
    *offset = 0;
    if (!t || !*t) return 0;
    char *end = NULL;
    long long v = t[0] == 'o' && t[1] >= '0' && t[1] <= '9' ? strtoll(t + 1, &end, 10) : -1;
    if (v < 0 || !end || *end) return tr_store_fail(s, TRAIL_EINVAL, "bad page_token '%s'", t);
    *offset = v;
    return 0;
}

/* Prepares fmt with the condition (and the other %s/%d given) and binds the experiment and the
 * --where parameters. NULL on error (message in the store). */
static tr_dbst *prepare(tr_store *s, const char *sql, const tr_runs_page *p)
{
    tr_dbst *st = NULL;
    int rc = tr_db_prepare(s->db, sql, -1, &st, NULL);
    if (rc == TR_DB_OK && p->experiment)
        rc = tr_db_bind_text(st, 1, p->experiment, -1, TR_DB_STATIC);
    for (int i = 0; p->where && i < p->where->np && rc == TR_DB_OK; i++)
        rc = p->where->p[i].is_num
                 ? tr_db_bind_double(st, FIRST_PARAM + i, p->where->p[i].num)
                 : tr_db_bind_text(st, FIRST_PARAM + i, p->where->p[i].text, -1, TR_DB_STATIC);
    if (rc != TR_DB_OK) {
        tr_store_sqlerr(s, rc, "preparing the runs page");
        tr_db_finalize(st);
        return NULL;
    }
    return st;
}

/* A run of a listing: its document without the file lists, environment, processes and
 * dependencies (the run's own page has them). */
static int summary(tr_store *s, const char *id, cJSON **out)
{
    static const char *const drop[] = {"inputs", "outputs", "env", "processes", "deps"};
    int rc = tr_store_run_json(s, id, out);
    if (rc) return rc;
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(*out, drop[i]);
    return 0;
}

static int count_runs(tr_store *s, const tr_runs_page *p, const char *cond, int64_t *total)
{
    size_t n = strlen(TR_PAGE_COUNT_FMT) + strlen(cond) + 1;
    char *sql = malloc(n);
    if (!sql) return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    snprintf(sql, n, TR_PAGE_COUNT_FMT, cond);
    tr_dbst *st = prepare(s, sql, p);
    free(sql);
    if (!st) return TRAIL_ESTORE;
    int rc = tr_db_step(st);
    *total = rc == TR_DB_ROW ? tr_db_column_int64(st, 0) : 0;
    tr_db_finalize(st);
    return rc == TR_DB_ROW ? 0 : tr_store_sqlerr(s, rc, "counting runs");
}

int tr_store_runs_page_json(tr_store *s, const tr_runs_page *p, cJSON **out)
{
    if (!s || !p || !out) return TRAIL_EINVAL;
    *out = NULL;
    int limit = p->limit ? p->limit : TR_PAGE_DEFAULT;
    if (limit < 1 || limit > TR_PAGE_MAX)
        return tr_store_fail(s, TRAIL_EINVAL, "limit must be 1 to %d", TR_PAGE_MAX);
    int np = p->where ? p->where->np : 0, keyparam = FIRST_PARAM + np, desc, num, rc;
    char expr[256], key[512];
    int64_t offset, total;
    if ((rc = parse_order(s, p->order_by, keyparam, expr, sizeof expr, key, sizeof key, &desc,
                          &num)) ||
        (rc = parse_token(s, p->page_token, &offset)))
        return rc;
    const char *cond = p->where ? tr_where_sql(p->where) : "1 = 1", *dir = desc ? "DESC" : "ASC";
    if ((rc = count_runs(s, p, cond, &total))) return rc;
    size_t n = strlen(TR_PAGE_RUNS_FMT) + 2 * strlen(expr) + strlen(cond) + 32;
    char *sql = malloc(n);
    if (!sql) return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    if (num)
        snprintf(sql, n, TR_PAGE_RUNS_NUM_FMT, expr, cond, expr, dir, dir, keyparam + 1);
    else
        snprintf(sql, n, TR_PAGE_RUNS_FMT, expr, cond, *key ? "LIMIT -1" : "", dir, dir, dir,
                 keyparam + 1);
    tr_dbst *st = prepare(s, sql, p);
    free(sql);
    if (!st) return TRAIL_ESTORE;
    tr_db_bind_int(st, 2, limit + 1); /* one more tells whether a next page exists */
    if (*key) tr_db_bind_text(st, keyparam, key, -1, TR_DB_STATIC);
    tr_db_bind_int64(st, keyparam + 1, offset);

    char(*ids)[33] = calloc((size_t)limit + 1, sizeof *ids);
    int got = 0;
    if (!ids) {
        tr_db_finalize(st);
        return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    }
    while ((rc = tr_db_step(st)) == TR_DB_ROW && got <= limit)
        snprintf(ids[got++], sizeof ids[0], "%s",
                 (const char *)tr_db_column_text(st, TR_COL_PAGE_ID));
    rc = rc == TR_DB_DONE || rc == TR_DB_ROW ? 0 : tr_store_sqlerr(s, rc, "listing runs");
    tr_db_finalize(st);
    cJSON *doc = cJSON_CreateObject(), *runs = doc ? cJSON_AddArrayToObject(doc, "runs") : NULL;
    int oom = !runs;
    for (int i = 0; !rc && !oom && i < got && i < limit; i++) {
        cJSON *run;
        if (!(rc = summary(s, ids[i], &run))) tr_json_add(runs, NULL, run, &oom);
    }
    free(ids);
    if (!rc && !oom) {
        char next[32];
        snprintf(next, sizeof next, "o%" PRId64, offset + limit);
        tr_json_add(doc, "next_page_token",
                    got > limit ? cJSON_CreateString(next) : cJSON_CreateNull(), &oom);
        snprintf(next, sizeof next, "o%" PRId64, offset > limit ? offset - limit : 0);
        tr_json_add(doc, "prev_page_token", offset ? cJSON_CreateString(next) : cJSON_CreateNull(),
                    &oom);
        tr_json_add(doc, "total", cJSON_CreateNumber((double)total), &oom);
        tr_json_add(doc, "offset", cJSON_CreateNumber((double)offset), &oom);
        tr_json_add(doc, "limit", cJSON_CreateNumber(limit), &oom);
    }
    if (!rc && oom) rc = tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    if (rc) {
        cJSON_Delete(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

int tr_store_experiments_json(tr_store *s, cJSON **out)
{
    if (!s || !out) return TRAIL_EINVAL;
    *out = NULL;
    tr_dbst *st = NULL;
    int rc = tr_db_prepare(s->db, TR_PAGE_EXPERIMENTS, -1, &st, NULL);
    if (rc != TR_DB_OK) {
        tr_db_finalize(st);
        return tr_store_sqlerr(s, rc, "listing experiments");
    }
    cJSON *doc = cJSON_CreateObject(),
          *arr = doc ? cJSON_AddArrayToObject(doc, "experiments") : NULL;
    int oom = !arr;
    while (!oom && (rc = tr_db_step(st)) == TR_DB_ROW) {
        cJSON *e = cJSON_CreateObject();
        tr_json_add(e, "name", tr_json_col_text(st, TR_COL_EXP_NAME), &oom);
        tr_json_add(e, "runs", tr_json_col_int(st, TR_COL_EXP_RUNS), &oom);
        tr_json_add(e, "running", tr_json_col_int(st, TR_COL_EXP_RUNNING), &oom);
        tr_json_add(e, "failed", tr_json_col_int(st, TR_COL_EXP_FAILED), &oom);
        tr_json_add(e, "latest", tr_json_col_time(st, TR_COL_EXP_LATEST), &oom);
        tr_json_add(arr, NULL, e, &oom);
    }
    rc = oom                ? tr_store_fail(s, TRAIL_ENOMEM, "out of memory")
         : rc == TR_DB_DONE ? 0
                            : tr_store_sqlerr(s, rc, "listing experiments");
    tr_db_finalize(st);
    if (rc) {
        cJSON_Delete(doc);
        return rc;
    }
    *out = doc;
    return 0;
}
