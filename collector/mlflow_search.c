/* mlflow_search.c - runs/search: MLflow's filter syntax rewritten into trail's --where language
 * (store/where.h), MLflow's order_by, experiments, view types and pages. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mlflow_int.h"
#include "store.h"
#include "trail.h"
#include "where.h"

#include "mlflow_store.h"

/* The output of a rewrite; the first error wins. */
typedef struct out {
    char *buf;
    size_t n, len;
    char *err;
    size_t en;
    int failed;
    tr_mlf_time *times; /* start_time / end_time bounds, taken out of the expression */
    int ntimes;
    int logic; /* an OR, or a NOT that is not NOT IN / NOT LIKE: time bounds cannot be taken out */
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(o->buf + o->len, o->n - o->len, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= o->n - o->len) {
        if (!o->failed) snprintf(o->err, o->en, "filter too long");
        o->failed = 1;
        return;
    }
    o->len += (size_t)k;
}

static int bad(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(out *o, const char *fmt, ...)
{
    if (!o->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(o->err, o->en, fmt, ap);
        va_end(ap);
    }
    o->failed = 1;
    return -1;
}

/* A string value as trail's lexer reads it: single quotes, '' for a quote. */
static void put_str(out *o, const char *s, size_t n)
{
    put(o, "'");
    for (size_t i = 0; i < n; i++)
        put(o, s[i] == '\'' ? "''" : "%c", s[i]);
    put(o, "'");
}

/* Reads a quoted run at *p (quote q) into val; returns the length or -1. */
static int quoted(const char **p, char *val, size_t vn)
{
    char q = **p;
    size_t k = 0;
    const char *s = *p + 1;
    for (; *s; s++) {
        if (*s == q) {
            if (q == '\'' && s[1] == '\'') /* '' inside '...' */
                s++;
            else
                break;
        }
        if (k + 1 >= vn) return -1;
        val[k++] = *s;
    }
    if (*s != q) return -1;
    val[k] = 0;
    *p = s + 1;
    return (int)k;
}

/* trail's statuses that MLflow's name covers (FAILED: failed, crashed, lost). */
static const char *status_set(const char *v)
{
    if (!strcasecmp(v, "RUNNING")) return "'running'";
    if (!strcasecmp(v, "FINISHED")) return "'finished'";
    if (!strcasecmp(v, "FAILED")) return "'failed', 'crashed', 'lost'";
    if (!strcasecmp(v, "KILLED")) return "'killed'";
    if (!strcasecmp(v, "SCHEDULED")) return "'scheduled'"; /* trail keeps none scheduled */
    return NULL;
}

static void skip_ws(const char **p)
{
    while (isspace((unsigned char)**p))
        (*p)++;
}

/* attributes.status OP value(s): rewritten with trail's status names. */
static int status_cmp(out *o, const char **p)
{
    skip_ws(p);
    int neg = 0, in = 0;
    if (!strncmp(*p, "!=", 2) || !strncmp(*p, "<>", 2)) {
        neg = 1;
        *p += 2;
    } else if (**p == '=') {
        *p += 1 + ((*p)[1] == '=');
    } else if (!strncasecmp(*p, "not in", 6)) {
        neg = in = 1;
        *p += 6;
    } else if (!strncasecmp(*p, "in", 2) && !isalnum((unsigned char)(*p)[2])) {
        in = 1;
        *p += 2;
    } else {
        return bad(o, "attributes.status compares with =, !=, IN or NOT IN");
    }
    skip_ws(p);
    if (in && **p != '(') return bad(o, "expected '(' after IN");
    if (in) (*p)++;
    put(o, "%sstatus in (", neg ? "not " : "");
    for (int first = 1;; first = 0) {
        skip_ws(p);
        char val[64];
        if ((**p != '\'' && **p != '"') || quoted(p, val, sizeof val) < 0)
            return bad(o, "attributes.status takes a quoted status name");
        const char *set = status_set(val);
        if (!set)
            return bad(o, "unknown run status '%s' (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)",
                       val);
        put(o, "%s%s", first ? "" : ", ", set);
        skip_ws(p);
        if (!in || **p != ',') break;
        (*p)++;
    }
    if (in && *(*p)++ != ')') return bad(o, "expected ')' to close the IN list");
    put(o, ")");
    return 0;
}

/* attributes.start_time|end_time OP MS: kept as a bound of the search (--where has no time
 * field); in the expression, a condition true for every run takes its place. */
static int time_cmp(out *o, const char **p, char col)
{
    skip_ws(p);
    static const char *const ops[] = {"!=", "<>", "<=", ">=", "==", "=", "<", ">"};
    const char *op = NULL;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0] && !op; i++)
        if (!strncmp(*p, ops[i], strlen(ops[i]))) op = ops[i];
    if (!op) return bad(o, "a time compares with =, !=, <, <=, > or >=");
    *p += strlen(op);
    skip_ws(p);
    char *end;
    long long ms = strtoll(*p, &end, 10);
    if (end == *p || isalnum((unsigned char)*end) || *end == '.')
        return bad(o, "a time is compared with milliseconds since the epoch");
    *p = end;
    if (o->ntimes == TR_MLF_TIMES_MAX) return bad(o, "at most %d time bounds", TR_MLF_TIMES_MAX);
    tr_mlf_time *t = &o->times[o->ntimes++];
    t->col = col;
    snprintf(t->op, sizeof t->op, "%s", !strcmp(op, "<>") ? "!=" : !strcmp(op, "==") ? "=" : op);
    t->ms = ms;
    put(o, "id like '%%'");
    return 0;
}

/* An identifier: [entity.]key, the key possibly quoted ("..." or `...`). */
static int field(out *o, const char **p)
{
    char ent[32], key[512];
    size_t k = 0;
    const char *s = *p;
    while ((isalnum((unsigned char)*s) || *s == '_') && k + 1 < sizeof ent)
        ent[k++] = *s++;
    ent[k] = 0;
    if (*s == '.') {
        s++;
        if (*s == '"' || *s == '`') {
            if (quoted(&s, key, sizeof key) < 0) return bad(o, "unterminated quoted name");
        } else {
            k = 0;
            while ((isalnum((unsigned char)*s) || strchr("_.-/:", *s)) && *s && k + 1 < sizeof key)
                key[k++] = *s++;
            key[k] = 0;
        }
    } else { /* no entity: an attribute */
        snprintf(key, sizeof key, "%s", ent);
        snprintf(ent, sizeof ent, "attributes");
    }
    *p = s;
    if (!*key) return bad(o, "expected a key after '%s.'", ent);
    if (strchr(key, '`')) return bad(o, "a key may not hold a backtick");
    const char *kind = NULL;
    if (!strcasecmp(ent, "metrics") || !strcasecmp(ent, "metric"))
        kind = "metrics";
    else if (!strcasecmp(ent, "params") || !strcasecmp(ent, "param") ||
             !strcasecmp(ent, "parameters") || !strcasecmp(ent, "parameter"))
        kind = "params";
    else if (!strcasecmp(ent, "tags") || !strcasecmp(ent, "tag")) {
        if (!strcmp(key, "mlflow.runName")) { /* trail keeps the run's name as the run's */
            put(o, "name");
            return 0;
        }
        if (!strcmp(key, "mlflow.user")) {
            put(o, "user");
            return 0;
        }
        kind = "tags";
    } else if (strcasecmp(ent, "attributes") && strcasecmp(ent, "attribute") &&
               strcasecmp(ent, "attr") && strcasecmp(ent, "run"))
        return bad(o, "unknown entity '%s' (metrics, params, tags, attributes)", ent);
    if (kind) {
        put(o, "%s.`%s`", kind, key);
        return 0;
    }
    static const char *const attrs[][2] = {
        {"run_id", "id"},    {"run_uuid", "id"},   {"run_name", "name"},
        {"user_id", "user"}, {"status", "status"},
    };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        if (!strcasecmp(key, attrs[i][0])) {
            if (!strcmp(attrs[i][1], "status")) return status_cmp(o, p);
            put(o, "%s", attrs[i][1]);
            return 0;
        }
    if (!strcasecmp(key, "start_time") || !strcasecmp(key, "end_time") ||
        !strcasecmp(key, "created"))
        return time_cmp(o, p, tolower((unsigned char)key[0]) == 'e' ? 'e' : 's');
    return bad(o,
               "attributes.%s is not searchable in trail (run_id, run_name, status, user_id, "
               "start_time, end_time)",
               key);
}

int mlf_filter_to_where(const char *filter, char *buf, size_t n, tr_mlf_time *times, int *ntimes,
                        char *err, size_t en)
{
    out o = {.buf = buf, .n = n, .err = err, .en = en, .times = times};
    *ntimes = 0;
    const char *p = filter;
    *buf = 0;
    for (;;) {
        skip_ws(&p);
        if (!*p || o.failed) break;
        if (o.len) put(&o, " ");
        char val[4096];
        if (*p == '\'' || *p == '"') { /* a value ("..." too: MLflow reads either as a string) */
            int k = quoted(&p, val, sizeof val);
            if (k < 0) return bad(&o, "unterminated string");
            put_str(&o, val, (size_t)k);
        } else if (isdigit((unsigned char)*p) ||
                   ((*p == '-' || *p == '.') && (isdigit((unsigned char)p[1]) || p[1] == '.'))) {
            const char *s = p;
            while (isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '+')
                p++;
            put(&o, "%.*s", (int)(p - s), s);
        } else if (strchr("()=,", *p)) {
            put(&o, "%c", *p++);
        } else if (*p == '!' || *p == '<' || *p == '>') {
            const char *s = p++;
            if (*p == '=' || (*s == '<' && *p == '>')) p++;
            put(&o, "%.*s", (int)(p - s), s);
        } else if (isalpha((unsigned char)*p) || *p == '_' || *p == '`') {
            if (*p == '`') return bad(&o, "a name starts with its entity: metrics.`KEY`");
            const char *s = p;
            while (isalnum((unsigned char)*s) || *s == '_')
                s++;
            size_t l = (size_t)(s - p);
            static const char *const words[] = {"and", "or", "not", "in", "like", "ilike"};
            int word = 0;
            for (size_t i = 0; i < 6; i++)
                word |= l == strlen(words[i]) && !strncasecmp(p, words[i], l);
            if (word && *s != '.') {
                const char *next = s;
                skip_ws(&next);
                if (l == 2 && !strncasecmp(p, "or", 2)) o.logic = 1;
                if (l == 3 && !strncasecmp(p, "not", 3) && strncasecmp(next, "in", 2) &&
                    strncasecmp(next, "like", 4) && strncasecmp(next, "ilike", 5))
                    o.logic = 1;
                put(&o, "%.*s", (int)l, p);
                p = s;
            } else if (field(&o, &p)) {
                return -1;
            }
        } else {
            return bad(&o, "unexpected '%c' in the filter", *p);
        }
    }
    if (!o.failed && o.ntimes && o.logic)
        return bad(&o, "attributes.start_time and end_time are answered in filters of AND only");
    *ntimes = o.ntimes;
    return o.failed ? -1 : 0;
}

/* One order_by entry, "KEY [ASC|DESC]" (KEY attributes.start_time|end_time|run_name|status|
 * run_id|user_id or metrics./params./tags.KEY), into o; the key's name is kept in key. */
static int order_of(mlf_req *r, const char *ob, tr_mlf_order *o, char *key, size_t kn)
{
    const char *p = ob;
    skip_ws(&p);
    memset(o, 0, sizeof *o);
    static const char *const attrs[][2] = {
        {"start_time", "started_ns"}, {"end_time", "ended_ns"}, {"run_name", "name"},
        {"status", "status"},         {"run_id", "id"},         {"user_id", "user"}};
    char ent[32] = "";
    size_t k = 0;
    while ((isalnum((unsigned char)*p) || *p == '_') && k + 1 < sizeof ent)
        ent[k++] = *p++;
    ent[k] = 0;
    const char *name = ent;
    if (*p == '.') {
        p++;
        if (*p == '"' || *p == '`') {
            if (quoted(&p, key, kn) < 0) goto bad;
        } else {
            k = 0;
            while (*p && !isspace((unsigned char)*p) && k + 1 < kn)
                key[k++] = *p++;
            key[k] = 0;
        }
        name = key;
        o->kind = !strncasecmp(ent, "metric", 6)  ? 'm'
                  : !strncasecmp(ent, "param", 5) ? 'p'
                  : !strncasecmp(ent, "tag", 3)   ? 't'
                                                  : 0;
        if (!o->kind && strncasecmp(ent, "attribute", 9)) goto bad;
        o->key = key;
    }
    if (!o->kind) {
        for (size_t i = 0; i < sizeof attrs / sizeof attrs[0] && !o->sql; i++)
            if (!strcasecmp(name, attrs[i][0])) o->sql = attrs[i][1];
        if (!o->sql) goto bad;
    }
    skip_ws(&p);
    if (!strncasecmp(p, "desc", 4)) {
        o->desc = 1;
        p += 4;
    } else if (!strncasecmp(p, "asc", 3)) {
        p += 3;
    }
    skip_ws(&p);
    if (!*p) return 0;
bad:
    return mlf_invalid(r,
                       "Invalid order_by clause '%s' (attributes.start_time, end_time, run_name, "
                       "status, run_id, user_id, or metrics./params./tags.KEY, then ASC or DESC)",
                       ob);
}

/* order_by: a list of entries (a GET's one string, or several), at most TR_MLF_ORDER_MAX. */
static int orders_of(mlf_req *r, tr_mlf_search *q, char (*keys)[512])
{
    const cJSON *ob = cJSON_GetObjectItemCaseSensitive(r->in, "order_by"), *it;
    if (!ob || cJSON_IsNull(ob)) return 0;
    if (cJSON_IsString(ob))
        return order_of(r, ob->valuestring, &q->order[q->norder++], keys[0], 512);
    if (!cJSON_IsArray(ob)) return mlf_invalid(r, "order_by must be a list of strings");
    if (cJSON_GetArraySize(ob) > TR_MLF_ORDER_MAX)
        return mlf_invalid(r, "at most %d order_by keys (%d given)", TR_MLF_ORDER_MAX,
                           cJSON_GetArraySize(ob));
    cJSON_ArrayForEach(it, ob)
    {
        if (!cJSON_IsString(it)) return mlf_invalid(r, "order_by must be a list of strings");
        if (order_of(r, it->valuestring, &q->order[q->norder], keys[q->norder], 512)) return -1;
        q->norder++;
    }
    return 0;
}

int mlf_runs_search(mlf_req *r)
{
    tr_mlf_search q = {0};
    const char *filter, *view;
    int64_t offset;
    char keys[TR_MLF_ORDER_MAX][512], where[8192], err[512];
    tr_mlf_time times[TR_MLF_TIMES_MAX];
    q.times = times;
    if (mlf_paging(r, 1000, MLF_SEARCH_MAX, &q.limit, &offset) ||
        mlf_str(r, r->in, "filter", &filter) < 0 || mlf_str(r, r->in, "run_view_type", &view) < 0)
        return -1;
    q.offset = offset;
    if (q.limit > MLF_PAGE_MAX) q.limit = MLF_PAGE_MAX; /* the rest comes with next_page_token */
    q.stages = !view || !strcmp(view, "ACTIVE_ONLY") ? "[\"active\"]"
               : !strcmp(view, "DELETED_ONLY")       ? "[\"deleted\"]"
               : !strcmp(view, "ALL")                ? "[\"active\",\"deleted\"]"
                                                     : NULL;
    if (!q.stages) return mlf_invalid(r, "Invalid run_view_type '%s'", view);
    /* experiment_ids: a list of ids (a GET gives one string or a list of them) */
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(r->in, "experiment_ids"), *it;
    cJSON *list = cJSON_CreateArray();
    if (ids && cJSON_IsString(ids)) {
        cJSON_AddItemToArray(list, cJSON_CreateNumber(atof(ids->valuestring)));
    } else {
        cJSON_ArrayForEach(it, ids)
        {
            char *end = NULL;
            double v = cJSON_IsNumber(it)   ? it->valuedouble
                       : cJSON_IsString(it) ? strtod(it->valuestring, &end)
                                            : -1;
            if (v < 0 || (end && *end)) {
                cJSON_Delete(list);
                return mlf_invalid(r, "experiment_ids must be a list of experiment ids");
            }
            cJSON_AddItemToArray(list, cJSON_CreateNumber(v));
        }
    }
    char *exps = cJSON_PrintUnformatted(list);
    cJSON_Delete(list);
    q.exp_ids = exps;
    if (orders_of(r, &q, keys)) goto fail;
    tr_where *w = NULL;
    if (filter && *filter) {
        tr_where_error we;
        if (mlf_filter_to_where(filter, where, sizeof where, times, &q.ntimes, err, sizeof err)) {
            mlf_invalid(r, "Invalid filter '%s': %s", filter, err);
            goto fail;
        }
        int rc = tr_where_compile(where, &w, &we);
        if (rc == TRAIL_EINVAL) {
            mlf_invalid(r, "Invalid filter '%s' (as trail's --where: %s): column %d: %s", filter,
                        where, we.column, we.msg);
            goto fail;
        }
        if (rc) {
            mlf_store_fail(r, rc);
            goto fail;
        }
    }
    q.where = w;
    cJSON *d = NULL;
    int rc = exps ? tr_mlf_search_json(r->s, &q, &d) : TRAIL_ENOMEM;
    tr_where_free(w);
    free(exps);
    return rc ? mlf_store_fail(r, rc) : mlf_ok(r, d);
fail:
    free(exps);
    return -1;
}
