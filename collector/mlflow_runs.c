/* mlflow_runs.c - MLflow's runs endpoints: create, get, update, delete, restore, log-metric,
 * log-parameter, set-tag, delete-tag, log-batch and metrics/get-history. What is logged becomes
 * records (common/record.h) stored by tr_store_ingest as a stream of the run, like an agent's. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mlflow_int.h"
#include "record.h"
#include "store.h"
#include "trail.h"
#include "util.h"

#include "mlflow_store.h"

/* Records of one request, ingested in one transaction as the run's API stream. */
typedef struct mlf_tx {
    mlf_req *r;
    tr_stream st;
    int64_t seq;
    uint8_t buf[TR_REC_MAX_SIZE];
    tr_enc e;
} mlf_tx;

static int tx_begin(mlf_req *r, mlf_tx *t, const char *run)
{
    t->r = r;
    tr_mlf_stream(run, &t->st);
    int64_t hwm = -1;
    int rc = tr_store_begin(r->s);
    if (!rc && (rc = tr_store_stream_hwm(r->s, t->st.id, &hwm))) tr_store_rollback(r->s);
    if (rc) return mlf_store_fail(r, rc);
    t->seq = hwm + 1;
    return 0;
}

static void rec_start(mlf_tx *t, uint8_t type, int64_t time_ns)
{
    tr_enc_init(&t->e, t->buf, sizeof t->buf, type, time_ns);
    tr_enc_str(&t->e, TR_F_SOURCE, "mlflow");
}

/* Ingests the record built in t; 0, or -1 answered (the transaction then rolls back). */
static int rec_put(mlf_tx *t)
{
    long n = tr_enc_finish(&t->e);
    tr_rec rec;
    int rc = n < 0 ? (int)n : tr_rec_decode(t->buf, (size_t)n, &rec);
    if (!rc) rc = tr_store_ingest(t->r->s, &t->st, (uint64_t)t->seq++, &rec);
    if (rc == TR_INGEST_REFUSED) return mlf_invalid(t->r, "%s", tr_store_errmsg(t->r->s));
    return rc < 0 ? mlf_store_fail(t->r, rc) : 0;
}

static int tx_end(mlf_tx *t, int failed)
{
    if (failed) {
        tr_store_rollback(t->r->s);
        return -1;
    }
    int rc = tr_store_commit(t->r->s);
    return rc ? mlf_store_fail(t->r, rc) : 0;
}

static int kv_rec(mlf_tx *t, uint8_t type, const char *k, const char *v)
{
    rec_start(t, type, t->r->now_ns);
    tr_enc_str(&t->e, TR_F_KEY, k);
    tr_enc_str(&t->e, TR_F_VALUE, v);
    return rec_put(t);
}

/* ---- checking what is logged ---- */

typedef struct kv {
    const char *key, *value;
} kv;

static int get_kv(mlf_req *r, const cJSON *o, const char *what, size_t max, kv *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    if (mlf_need(r, o, "key", &out->key) || mlf_check_key(r, what, out->key)) return -1;
    if (!cJSON_IsString(v))
        return mlf_invalid(r, "Missing value for required parameter 'value' of %s '%s'.", what,
                           out->key);
    out->value = v->valuestring;
    size_t n = strlen(out->value);
    if (n > max)
        return mlf_invalid(r,
                           "%s value '%.40s...' had length %zu, which exceeded length limit "
                           "of %zu",
                           what, out->value, n, max);
    return 0;
}

typedef struct metric {
    const char *key;
    double value;
    int64_t ts, step;
} metric;

static int get_metric(mlf_req *r, const cJSON *o, metric *m)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    if (mlf_need(r, o, "key", &m->key) || mlf_check_key(r, "metric", m->key)) return -1;
    if (cJSON_IsNumber(v))
        m->value = v->valuedouble;
    else if (cJSON_IsString(v) && !strcmp(v->valuestring, "NaN"))
        m->value = NAN;
    else if (cJSON_IsString(v) && !strcmp(v->valuestring, "Infinity"))
        m->value = INFINITY;
    else if (cJSON_IsString(v) && !strcmp(v->valuestring, "-Infinity"))
        m->value = -INFINITY;
    else
        return mlf_invalid(r, "Got invalid value %s for metric '%s' (expected a number)",
                           v ? "of the wrong type" : "(none)", m->key);
    int got = mlf_ms(r, o, "timestamp", &m->ts);
    if (got < 0) return -1;
    if (!got)
        return mlf_invalid(r, "Missing value for required parameter 'timestamp' of metric '%s'.",
                           m->key);
    m->step = 0;
    return mlf_int(r, o, "step", &m->step) < 0 ? -1 : 0;
}

static int metric_rec(mlf_tx *t, const metric *m)
{
    rec_start(t, TR_REC_METRIC, m->ts * 1000000);
    tr_enc_str(&t->e, TR_F_KEY, m->key);
    tr_enc_f64(&t->e, TR_F_NUM, m->value);
    tr_enc_i64(&t->e, TR_F_STEP, m->step);
    return rec_put(t);
}

/* A param may be logged again with the same value; another value is refused, as MLflow does
 * (the store would keep the first and count a conflict). */
static int param_ok(mlf_req *r, const char *run, const kv *p)
{
    char have[MLF_MAX_PARAM_VALUE + 1];
    int rc = tr_mlf_param_get(r->s, run, p->key, have, sizeof have);
    if (rc < 0) return mlf_store_fail(r, rc);
    if (rc == 1 && strcmp(have, p->value))
        return mlf_invalid(r,
                           "Changing param values is not allowed. Param with key='%s' was already "
                           "logged with value='%s' for run ID='%s'. Attempted logging new value "
                           "'%s'.",
                           p->key, have, run, p->value);
    return 0;
}

/* The run must be active (not deleted through the API) to be logged to. */
static int active_run(mlf_req *r, char id[33])
{
    char status[32], stage[32];
    if (mlf_run_of(r, id, status, sizeof status, stage, sizeof stage)) return -1;
    if (strcmp(stage, "active"))
        return mlf_invalid(r, "The run %s must be in the 'active' state. Current state is %s.", id,
                           stage);
    return 0;
}

/* A tag that names the run (mlflow.runName) renames it, as in MLflow. */
static int tag_effects(mlf_req *r, const char *run, const kv *t)
{
    if (strcmp(t->key, "mlflow.runName")) return 0;
    int rc = tr_store_rename_run(r->s, run, t->value);
    return rc ? mlf_store_fail(r, rc) : 0;
}

/* ---- endpoints ---- */

static int answer_run(mlf_req *r, const char *run, const char *key, int info_only)
{
    cJSON *doc = NULL;
    int rc = tr_mlf_run_json(r->s, run, info_only, &doc);
    if (rc) return mlf_store_fail(r, rc);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToObject(d, key, doc);
    return mlf_ok(r, d);
}

static int is_run_id(const char *s)
{
    size_t n = strlen(s);
    return n == 32 && strspn(s, "0123456789abcdef") == 32;
}

int mlf_runs_create(mlf_req *r)
{
    int64_t eid = 0, start = r->now_ns / 1000000;
    const char *user, *name;
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(r->in, "experiment_id");
    if (mlf_ms(r, r->in, "start_time", &start) < 0 || mlf_str(r, r->in, "user_id", &user) < 0 ||
        mlf_str(r, r->in, "run_name", &name) < 0)
        return -1;
    /* "7" or 7; none or "": Default (0) */
    if (!(cJSON_IsString(ex) && !*ex->valuestring) && mlf_int(r, r->in, "experiment_id", &eid) < 0)
        return -1;
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(r->in, "tags"), *tg;
    if (tags && !cJSON_IsArray(tags)) return mlf_invalid(r, "tags must be a list of {key, value}");
    kv tv[MLF_BATCH_ENTITIES];
    int nt = 0;
    const char *join = NULL;
    cJSON_ArrayForEach(tg, tags)
    {
        if (nt == MLF_BATCH_ENTITIES) return mlf_invalid(r, "at most %d tags", MLF_BATCH_ENTITIES);
        if (get_kv(r, tg, "tag", MLF_MAX_TAG_VALUE, &tv[nt])) return -1;
        if (!strcmp(tv[nt].key, "trail.run_id")) {
            join = tv[nt].value; /* the `trail run` run this MLflow run is (TRAIL_RUN_ID) */
            continue;
        }
        if (!name && !strcmp(tv[nt].key, "mlflow.runName")) name = tv[nt].value;
        if (!user && !strcmp(tv[nt].key, "mlflow.user")) user = tv[nt].value;
        nt++;
    }
    if (join && !is_run_id(join))
        return mlf_invalid(r, "tag trail.run_id must be a trail run id (32 hex digits), not '%s'",
                           join);
    char exp[1024];
    int rc = tr_mlf_exp_name(r->s, eid, exp, sizeof exp);
    if (rc == TRAIL_ENOTFOUND)
        return mlf_fail(r, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=%lld exists",
                        (long long)eid);
    if (rc) return mlf_store_fail(r, rc);
    char id[33];
    if (join)
        snprintf(id, sizeof id, "%s", join);
    else
        tr_random_hex(id, 16);
    mlf_tx t;
    if (tx_begin(r, &t, id)) return -1;
    /* a joined run keeps what `trail run` says of it: RUN_META sets only what it lacks */
    rec_start(&t, join ? TR_REC_RUN_META : TR_REC_RUN_START, start * 1000000);
    tr_enc_str(&t.e, TR_F_RUN_ID, id);
    if (*exp) tr_enc_str(&t.e, TR_F_EXPERIMENT, exp);
    if (name && *name) tr_enc_str(&t.e, TR_F_NAME, name);
    if (!join && user && *user) tr_enc_str(&t.e, TR_F_USER, user);
    int failed = rec_put(&t);
    for (int i = 0; !failed && i < nt; i++)
        failed = kv_rec(&t, TR_REC_TAG, tv[i].key, tv[i].value);
    if (!failed && (rc = tr_mlf_exp_touch(r->s, eid, r->now_ns))) failed = mlf_store_fail(r, rc);
    if (tx_end(&t, failed)) return -1;
    return answer_run(r, id, "run", 0);
}

int mlf_runs_get(mlf_req *r)
{
    char id[33], status[32], stage[32];
    if (mlf_run_of(r, id, status, sizeof status, stage, sizeof stage)) return -1;
    return answer_run(r, id, "run", 0);
}

int mlf_runs_update(mlf_req *r)
{
    char id[33], status[32], stage[32];
    const char *st, *name;
    int64_t end = r->now_ns / 1000000;
    if (mlf_run_of(r, id, status, sizeof status, stage, sizeof stage) ||
        mlf_str(r, r->in, "status", &st) < 0 || mlf_str(r, r->in, "run_name", &name) < 0 ||
        mlf_ms(r, r->in, "end_time", &end) < 0)
        return -1;
    static const char *const names[] = {"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"};
    int k = -1;
    for (int i = 0; st && i < 5; i++)
        if (!strcmp(st, names[i])) k = i;
    if (st && k < 0)
        return mlf_invalid(r,
                           "Invalid run status '%s' (RUNNING, SCHEDULED, FINISHED, FAILED, "
                           "KILLED)",
                           st);
    /* a run `trail run` launched ends when its command does: the launcher owns its status, so an
     * MLflow client (any token holder) neither ends nor reopens it; the answer shows its status */
    int launched = 0, rc = k >= 0 ? tr_mlf_has_launcher(r->s, id, &launched) : 0;
    if (rc) return mlf_store_fail(r, rc);
    if (launched) k = -1;
    mlf_tx t;
    if (tx_begin(r, &t, id)) return -1;
    int failed = 0;
    if (name && *name) {
        failed = kv_rec(&t, TR_REC_TAG, "mlflow.runName", name);
        if (!failed && (rc = tr_store_rename_run(r->s, id, name))) failed = mlf_store_fail(r, rc);
    }
    if (!failed && k >= 2) { /* ended: the run's end, as a launcher records it */
        char lower[16];
        for (size_t i = 0; i <= strlen(st); i++)
            lower[i] = (char)(st[i] >= 'A' && st[i] <= 'Z' ? st[i] + 32 : st[i]);
        rec_start(&t, TR_REC_RUN_END, end * 1000000);
        tr_enc_str(&t.e, TR_F_RUN_ID, id);
        tr_enc_str(&t.e, TR_F_STATUS, lower);
        failed = rec_put(&t);
    } else if (!failed && k >= 0 && strcmp(status, "running") && (rc = tr_mlf_reopen(r->s, id))) {
        failed = mlf_store_fail(r, rc); /* RUNNING or SCHEDULED again: resumed */
    }
    if (tx_end(&t, failed)) return -1;
    return answer_run(r, id, "run_info", 1);
}

static int set_stage(mlf_req *r, const char *stage)
{
    char id[33], status[32], was[32];
    if (mlf_run_of(r, id, status, sizeof status, was, sizeof was)) return -1;
    int rc = tr_mlf_set_lifecycle(r->s, id, stage, r->now_ns);
    return rc ? mlf_store_fail(r, rc) : mlf_ok(r, NULL);
}

int mlf_runs_delete(mlf_req *r)
{
    return set_stage(r, "deleted");
}

int mlf_runs_restore(mlf_req *r)
{
    return set_stage(r, "active");
}

int mlf_log_metric(mlf_req *r)
{
    char id[33];
    metric m;
    mlf_tx t;
    if (active_run(r, id) || get_metric(r, r->in, &m) || tx_begin(r, &t, id)) return -1;
    return tx_end(&t, metric_rec(&t, &m)) ? -1 : mlf_ok(r, NULL);
}

int mlf_log_param(mlf_req *r)
{
    char id[33];
    kv p;
    mlf_tx t;
    if (active_run(r, id) || get_kv(r, r->in, "param", MLF_MAX_PARAM_VALUE, &p) ||
        param_ok(r, id, &p) || tx_begin(r, &t, id))
        return -1;
    return tx_end(&t, kv_rec(&t, TR_REC_PARAM, p.key, p.value)) ? -1 : mlf_ok(r, NULL);
}

int mlf_set_tag(mlf_req *r)
{
    char id[33];
    kv g;
    mlf_tx t;
    if (active_run(r, id) || get_kv(r, r->in, "tag", MLF_MAX_TAG_VALUE, &g) || tx_begin(r, &t, id))
        return -1;
    int failed = kv_rec(&t, TR_REC_TAG, g.key, g.value);
    if (!failed) failed = tag_effects(r, id, &g);
    return tx_end(&t, failed) ? -1 : mlf_ok(r, NULL);
}

int mlf_delete_tag(mlf_req *r)
{
    char id[33];
    const char *key;
    if (active_run(r, id) || mlf_need(r, r->in, "key", &key)) return -1;
    int rc = tr_mlf_tag_delete(r->s, id, key);
    if (rc == TRAIL_ENOTFOUND)
        return mlf_fail(r, 404, "RESOURCE_DOES_NOT_EXIST", "No tag with name: %s in run with id %s",
                        key, id);
    return rc ? mlf_store_fail(r, rc) : mlf_ok(r, NULL);
}

/* A list of the batch: its items, at most max of them. */
static int batch_list(mlf_req *r, const char *name, int max, const cJSON **out, int *n)
{
    *out = cJSON_GetObjectItemCaseSensitive(r->in, name);
    if (*out && !cJSON_IsArray(*out)) return mlf_invalid(r, "'%s' must be a list", name);
    *n = cJSON_GetArraySize(*out);
    if (*n > max)
        return mlf_invalid(r,
                           "A batch logging request can contain at most %d %s. Got %d %s. Please "
                           "split up %s across multiple requests and try again.",
                           max, name, *n, name, name);
    return 0;
}

int mlf_log_batch(mlf_req *r)
{
    char id[33];
    const cJSON *ml, *pl, *tl, *it;
    int nm = 0, np = 0, nt = 0;
    if (r->body_len > MLF_BATCH_BYTES)
        return mlf_invalid(r,
                           "Batched logging API requests must be at most 1 MB in size. Got "
                           "%zu bytes.",
                           r->body_len);
    if (active_run(r, id) || batch_list(r, "metrics", MLF_BATCH_METRICS, &ml, &nm) ||
        batch_list(r, "params", MLF_BATCH_PARAMS, &pl, &np) ||
        batch_list(r, "tags", MLF_BATCH_TAGS, &tl, &nt))
        return -1;
    if (nm + np + nt > MLF_BATCH_ENTITIES)
        return mlf_invalid(r,
                           "A batch logging request can contain at most %d metrics, params "
                           "and tags in total. Got %d.",
                           MLF_BATCH_ENTITIES, nm + np + nt);
    /* everything is checked before anything is stored: a refused batch writes nothing */
    static metric ms[MLF_BATCH_METRICS]; /* under the API's lock: one request at a time */
    kv ps[MLF_BATCH_PARAMS], ts[MLF_BATCH_TAGS];
    int i = 0;
    cJSON_ArrayForEach(it, ml) if (get_metric(r, it, &ms[i++])) return -1;
    i = 0;
    cJSON_ArrayForEach(it, pl)
    {
        if (get_kv(r, it, "param", MLF_MAX_PARAM_VALUE, &ps[i]) || param_ok(r, id, &ps[i]))
            return -1;
        for (int j = 0; j < i; j++)
            if (!strcmp(ps[j].key, ps[i].key) && strcmp(ps[j].value, ps[i].value))
                return mlf_invalid(r,
                                   "Duplicate parameter keys have been submitted: '%s' with "
                                   "values '%s' and '%s'",
                                   ps[i].key, ps[j].value, ps[i].value);
        i++;
    }
    i = 0;
    cJSON_ArrayForEach(it, tl) if (get_kv(r, it, "tag", MLF_MAX_TAG_VALUE, &ts[i++])) return -1;
    mlf_tx t;
    if (tx_begin(r, &t, id)) return -1;
    int failed = 0;
    for (i = 0; !failed && i < np; i++)
        failed = kv_rec(&t, TR_REC_PARAM, ps[i].key, ps[i].value);
    for (i = 0; !failed && i < nm; i++)
        failed = metric_rec(&t, &ms[i]);
    for (i = 0; !failed && i < nt; i++)
        if (!(failed = kv_rec(&t, TR_REC_TAG, ts[i].key, ts[i].value)))
            failed = tag_effects(r, id, &ts[i]);
    return tx_end(&t, failed) ? -1 : mlf_ok(r, NULL);
}

int mlf_get_history(mlf_req *r)
{
    char id[33], status[32], stage[32];
    const char *key;
    int limit;
    int64_t offset;
    if (mlf_run_of(r, id, status, sizeof status, stage, sizeof stage) ||
        mlf_need(r, r->in, "metric_key", &key) || mlf_paging(r, 25000, 25000, &limit, &offset))
        return -1;
    cJSON *d = NULL;
    int rc = tr_mlf_history_json(r->s, id, key, limit, offset, &d);
    return rc ? mlf_store_fail(r, rc) : mlf_ok(r, d);
}
