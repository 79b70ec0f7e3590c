/* mlflow.c - the store side of MLflow's tracking API: experiment ids, Run and Experiment
 * documents in MLflow's shapes, lifecycle stages and a metric's history. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mlflow_store.h"
#include "store_int.h"
#include "trail.h"
#include "util.h"

void tr_mlf_stream(const char *run_id, tr_stream *st)
{
    memset(st, 0, sizeof *st);
    uint64_t a = tr_hash64_str(tr_hash64_str(TR_HASH64_INIT, "mlflow:"), run_id);
    uint64_t b = tr_hash64_str(tr_hash64_str(TR_HASH64_INIT, "mlflow-stream:"), run_id);
    snprintf(st->id, sizeof st->id, "%016" PRIx64 "%016" PRIx64, a, b);
    snprintf(st->run_id, sizeof st->run_id, "%s", run_id);
}

const char *tr_mlf_status_name(const char *st)
{
    if (!st || !strcmp(st, "running")) return "RUNNING";
    if (!strcmp(st, "finished")) return "FINISHED";
    if (!strcmp(st, "killed")) return "KILLED";
    return "FAILED"; /* failed, crashed, lost */
}

cJSON *tr_mlf_number(double v, int special)
{
    if (special == 1 || isnan(v)) return cJSON_CreateString("NaN");
    if (special == 2 || (isinf(v) && v > 0)) return cJSON_CreateString("Infinity");
    if (special == 3 || isinf(v)) return cJSON_CreateString("-Infinity");
    return cJSON_CreateNumber(v);
}

static cJSON *ms_of(tr_dbst *st, int col)
{
    if (tr_db_column_type(st, col) == TR_DB_NULL) return cJSON_CreateNull();
    return cJSON_CreateNumber((double)(tr_db_column_int64(st, col) / 1000000));
}

static cJSON *text_of(tr_dbst *st, int col)
{
    const unsigned char *t = tr_db_column_text(st, col);
    return cJSON_CreateString(t ? (const char *)t : "");
}

int tr_mlf_exp_create(tr_store *s, const char *name, const char *artifacts, int64_t now_ns,
                      int64_t *id)
{
    tr_stmt q;
    int found = 0, rc = tr_stmt_begin(&q, s, TR_STMT_MLF_EXP_BY_NAME);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, name);
    if ((rc = tr_stmt_row_int(&q, &found, id))) return rc;
    if (found) return 1;
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_MLF_EXP_ADD))) return rc;
    tr_bind_cstr(&q, 1, name);
    tr_bind_cstr(&q, 2, artifacts);
    tr_bind_int(&q, 3, now_ns);
    if ((rc = tr_stmt_done(&q))) return rc;
    *id = tr_db_last_insert_rowid(s->db);
    return 0;
}

int tr_mlf_exp_touch(tr_store *s, int64_t id, int64_t now_ns)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_MLF_EXP_TOUCH);
    if (rc) return rc;
    tr_bind_int(&q, 1, id);
    tr_bind_int(&q, 2, now_ns);
    return tr_stmt_done(&q);
}

/* The Experiment object of the current row. */
static cJSON *exp_doc(tr_dbst *st, int *oom)
{
    char id[32], loc[64];
    int64_t n = tr_db_column_int64(st, TR_COL_MLE_ID);
    snprintf(id, sizeof id, "%" PRId64, n);
    snprintf(loc, sizeof loc, "mlflow-artifacts:/%" PRId64, n);
    const unsigned char *art = tr_db_column_text(st, TR_COL_MLE_ARTIFACTS);
    cJSON *e = tr_json_chk(cJSON_CreateObject(), oom);
    tr_json_add(e, "experiment_id", cJSON_CreateString(id), oom);
    tr_json_add(e, "name", text_of(st, TR_COL_MLE_NAME), oom);
    tr_json_add(e, "artifact_location", cJSON_CreateString(art ? (const char *)art : loc), oom);
    tr_json_add(e, "lifecycle_stage", cJSON_CreateString("active"), oom);
    tr_json_add(e, "last_update_time", ms_of(st, TR_COL_MLE_UPDATED), oom);
    tr_json_add(e, "creation_time", ms_of(st, TR_COL_MLE_CREATED), oom);
    tr_json_add(e, "tags", cJSON_CreateArray(), oom);
    return e;
}

int tr_mlf_exp_json(tr_store *s, int64_t id, const char *name, cJSON **out)
{
    *out = NULL;
    tr_stmt q; /* names runs carry have their ids already (schema v11's triggers) */
    int rc = tr_stmt_begin(&q, s, name ? TR_STMT_MLF_EXP_BY_NAME : TR_STMT_MLF_EXP_BY_ID);
    if (rc) return rc;
    if (name)
        tr_bind_cstr(&q, 1, name);
    else
        tr_bind_int(&q, 1, id);
    if ((rc = tr_stmt_row(&q)) != 1) return rc < 0 ? rc : TRAIL_ENOTFOUND;
    int oom = 0;
    cJSON *e = exp_doc(q.st, &oom);
    tr_stmt_reset(&q);
    if (oom) {
        cJSON_Delete(e);
        return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    }
    *out = e;
    return 0;
}

int tr_mlf_exp_name(tr_store *s, int64_t id, char *name, size_t n)
{
    *name = 0;
    if (id == 0) return 0;
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_MLF_EXP_BY_ID);
    if (rc) return rc;
    tr_bind_int(&q, 1, id);
    if ((rc = tr_stmt_row(&q)) != 1) return rc < 0 ? rc : TRAIL_ENOTFOUND;
    const unsigned char *t = tr_db_column_text(q.st, TR_COL_MLE_NAME);
    snprintf(name, n, "%s", t ? (const char *)t : "");
    tr_stmt_reset(&q);
    return 0;
}

/* {"KEY": [...], "next_page_token": "N"} from a statement stepped with limit + 1 rows. */
static int paged(tr_store *s, tr_stmt *q, const char *key, int limit, int64_t offset,
                 cJSON *(*row)(tr_dbst *, int *), cJSON **out)
{
    int oom = 0, got = 0, rc;
    cJSON *doc = tr_json_chk(cJSON_CreateObject(), &oom);
    cJSON *arr = doc ? cJSON_AddArrayToObject(doc, key) : NULL;
    if (!arr) oom = 1;
    while ((rc = tr_stmt_row(q)) == 1) {
        if (got++ == limit) {
            tr_stmt_reset(q);
            char next[32];
            snprintf(next, sizeof next, "%" PRId64, offset + limit);
            tr_json_add(doc, "next_page_token", cJSON_CreateString(next), &oom);
            break;
        }
        if (!oom) tr_json_add(arr, NULL, row(q->st, &oom), &oom);
    }
    if (rc < 0 || oom) {
        cJSON_Delete(doc);
        return rc < 0 ? rc : tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    }
    *out = doc;
    return 0;
}

int tr_mlf_exp_search_json(tr_store *s, const char *like, int icase, int limit, int64_t offset,
                           cJSON **out)
{
    *out = NULL;
    char glob[1024];
    if (like && !icase) { /* LIKE is case-insensitive in SQLite; MLflow's LIKE is not */
        size_t o = 0;
        for (const char *p = like; *p && o + 4 < sizeof glob; p++) {
            if (*p == '%')
                glob[o++] = '*';
            else if (*p == '_')
                glob[o++] = '?';
            else if (*p == '*' || *p == '?' || *p == '[') {
                glob[o++] = '[';
                glob[o++] = *p;
                glob[o++] = ']';
            } else
                glob[o++] = *p;
        }
        glob[o] = 0;
    }
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_MLF_EXP_LIST);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, like ? (icase ? like : glob) : NULL);
    tr_bind_int(&q, 2, icase);
    tr_bind_int(&q, 3, limit + 1);
    tr_bind_int(&q, 4, offset);
    return paged(s, &q, "experiments", limit, offset, exp_doc, out);
}

static cJSON *metric_doc(tr_dbst *st, int *oom)
{
    cJSON *m = tr_json_chk(cJSON_CreateObject(), oom);
    tr_json_add(m, "key", text_of(st, TR_COL_MLM_KEY), oom);
    tr_json_add(m, "value",
                tr_mlf_number(tr_db_column_double(st, TR_COL_MLM_VALUE),
                              tr_db_column_int(st, TR_COL_MLM_SPECIAL)),
                oom);
    tr_json_add(m, "timestamp", ms_of(st, TR_COL_MLM_TIME), oom);
    tr_json_add(m, "step", cJSON_CreateNumber((double)tr_db_column_int64(st, TR_COL_MLM_STEP)),
                oom);
    return m;
}

int tr_mlf_history_json(tr_store *s, const char *run_id, const char *key, int limit, int64_t offset,
                        cJSON **out)
{
    *out = NULL;
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_MLF_HISTORY);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run_id);
    tr_bind_text(&q, 2, key, strlen(key));
    tr_bind_int(&q, 3, limit + 1);
    tr_bind_int(&q, 4, offset);
    return paged(s, &q, "metrics", limit, offset, metric_doc, out);
}

int tr_mlf_run_state(tr_store *s, const char *run_id, char *status, size_t sn, char *stage,
                     size_t gn)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_MLF_RUN_INFO);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run_id);
    if ((rc = tr_stmt_row(&q)) != 1) return rc < 0 ? rc : TRAIL_ENOTFOUND;
    snprintf(status, sn, "%s", (const char *)tr_db_column_text(q.st, TR_COL_MLR_STATUS));
    snprintf(stage, gn, "%s", (const char *)tr_db_column_text(q.st, TR_COL_MLR_LIFECYCLE));
    tr_stmt_reset(&q);
    return 0;
}

int tr_mlf_set_lifecycle(tr_store *s, const char *run_id, const char *stage, int64_t now_ns)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_MLF_LIFECYCLE);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run_id);
    tr_bind_cstr(&q, 2, stage);
    if (strcmp(stage, "deleted"))
        tr_bind_null(&q, 3);
    else
        tr_bind_int(&q, 3, now_ns);
    return tr_stmt_done(&q);
}

int tr_mlf_reopen(tr_store *s, const char *run_id)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_MLF_REOPEN);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run_id);
    return tr_stmt_done(&q);
}

int tr_mlf_has_launcher(tr_store *s, const char *run_id, int *has)
{
    tr_stmt q;
    int found = 0, rc = tr_stmt_begin(&q, s, TR_STMT_MLF_HAS_LAUNCHER);
    int64_t v = 0;
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run_id);
    rc = tr_stmt_row_int(&q, &found, &v);
    *has = found && v;
    return rc;
}

int tr_mlf_tag_delete(tr_store *s, const char *run_id, const char *key)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_MLF_TAG_DELETE);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run_id);
    tr_bind_text(&q, 2, key, strlen(key));
    if ((rc = tr_stmt_done(&q))) return rc;
    return tr_db_changes(s->db) ? 0 : tr_store_fail(s, TRAIL_ENOTFOUND, "no tag %s", key);
}

int tr_mlf_param_get(tr_store *s, const char *run_id, const char *key, char *out, size_t n)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_MLF_PARAM_GET);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run_id);
    tr_bind_text(&q, 2, key, strlen(key));
    if ((rc = tr_stmt_row(&q)) != 1) return rc;
    const unsigned char *v = tr_db_column_text(q.st, 0);
    snprintf(out, n, "%s", v ? (const char *)v : "");
    tr_stmt_reset(&q);
    return 1;
}

/* The RunInfo of the current MLF_RUN_INFO row. */
static cJSON *info_doc(tr_dbst *st, int *oom)
{
    char exp[32], art[4200];
    const char *id = (const char *)tr_db_column_text(st, TR_COL_MLR_ID);
    int64_t eid = tr_db_column_int64(st, TR_COL_MLR_EXP_ID);
    const unsigned char *loc = tr_db_column_text(st, TR_COL_MLR_ARTIFACTS);
    snprintf(exp, sizeof exp, "%" PRId64, eid);
    if (loc)
        snprintf(art, sizeof art, "%s/%s/artifacts", (const char *)loc, id);
    else
        snprintf(art, sizeof art, "mlflow-artifacts:/%" PRId64 "/%s/artifacts", eid, id);
    cJSON *i = tr_json_chk(cJSON_CreateObject(), oom);
    tr_json_add(i, "run_id", cJSON_CreateString(id), oom);
    tr_json_add(i, "run_uuid", cJSON_CreateString(id), oom);
    tr_json_add(i, "run_name", text_of(st, TR_COL_MLR_NAME), oom);
    tr_json_add(i, "experiment_id", cJSON_CreateString(exp), oom);
    tr_json_add(i, "user_id", text_of(st, TR_COL_MLR_USER), oom);
    tr_json_add(i, "status",
                cJSON_CreateString(
                    tr_mlf_status_name((const char *)tr_db_column_text(st, TR_COL_MLR_STATUS))),
                oom);
    tr_json_add(i, "start_time", ms_of(st, TR_COL_MLR_STARTED), oom);
    if (tr_db_column_type(st, TR_COL_MLR_ENDED) != TR_DB_NULL)
        tr_json_add(i, "end_time", ms_of(st, TR_COL_MLR_ENDED), oom);
    tr_json_add(i, "artifact_uri", cJSON_CreateString(art), oom);
    tr_json_add(i, "lifecycle_stage", text_of(st, TR_COL_MLR_LIFECYCLE), oom);
    return i;
}

/* [{"key","value"}] of a key-value statement of the run. */
static int kv_list(tr_store *s, enum tr_stmt_id id, const char *run, cJSON *arr, int *oom)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, id);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run);
    while ((rc = tr_stmt_row(&q)) == 1) {
        cJSON *kv = tr_json_chk(cJSON_CreateObject(), oom);
        tr_json_add(kv, "key", text_of(q.st, TR_COL_KV_KEY), oom);
        tr_json_add(kv, "value", text_of(q.st, TR_COL_KV_VALUE), oom);
        tr_json_add(arr, NULL, kv, oom);
    }
    return rc;
}

static int has_key(const cJSON *arr, const char *key)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "key"));
        if (k && !strcmp(k, key)) return 1;
    }
    return 0;
}

/* The run's data: latest metrics, params, tags (with mlflow.runName and mlflow.user from the
 * run's name and user when no tag says them). */
static int data_doc(tr_store *s, const char *run, const char *name, const char *user, cJSON *d,
                    int *oom)
{
    cJSON *metrics = cJSON_AddArrayToObject(d, "metrics"), *params = NULL, *tags = NULL;
    if (metrics) params = cJSON_AddArrayToObject(d, "params");
    if (params) tags = cJSON_AddArrayToObject(d, "tags");
    if (!tags) {
        *oom = 1;
        return 0;
    }
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_MLF_METRICS_LAST);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run);
    while ((rc = tr_stmt_row(&q)) == 1)
        tr_json_add(metrics, NULL, metric_doc(q.st, oom), oom);
    if (rc || (rc = kv_list(s, TR_STMT_Q_PARAMS, run, params, oom)) ||
        (rc = kv_list(s, TR_STMT_Q_TAGS, run, tags, oom)))
        return rc;
    const char *const synth[][2] = {{"mlflow.runName", name}, {"mlflow.user", user}};
    for (size_t i = 0; i < 2; i++) {
        if (!synth[i][1] || !*synth[i][1] || has_key(tags, synth[i][0])) continue;
        cJSON *kv = tr_json_chk(cJSON_CreateObject(), oom);
        tr_json_add(kv, "key", cJSON_CreateString(synth[i][0]), oom);
        tr_json_add(kv, "value", cJSON_CreateString(synth[i][1]), oom);
        tr_json_add(tags, NULL, kv, oom);
    }
    return 0;
}

int tr_mlf_run_json(tr_store *s, const char *run_id, int info_only, cJSON **out)
{
    *out = NULL;
    int oom = 0;
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_MLF_RUN_INFO);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run_id);
    if ((rc = tr_stmt_row(&q)) != 1) return rc < 0 ? rc : TRAIL_ENOTFOUND;
    cJSON *info = info_doc(q.st, &oom);
    char name[4096], user[512];
    const unsigned char *n = tr_db_column_text(q.st, TR_COL_MLR_NAME),
                        *u = tr_db_column_text(q.st, TR_COL_MLR_USER);
    snprintf(name, sizeof name, "%s", n ? (const char *)n : "");
    snprintf(user, sizeof user, "%s", u ? (const char *)u : "");
    tr_stmt_reset(&q);
    if (info_only || oom) {
        if (oom) {
            cJSON_Delete(info);
            return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
        }
        *out = info;
        return 0;
    }
    cJSON *run = tr_json_chk(cJSON_CreateObject(), &oom), *data = NULL;
    tr_json_add(run, "info", info, &oom);
    if (!oom) tr_json_add(run, "data", data = cJSON_CreateObject(), &oom);
    cJSON *inputs = oom ? NULL : cJSON_CreateObject();
    if (inputs) tr_json_add(inputs, "dataset_inputs", cJSON_CreateArray(), &oom);
    tr_json_add(run, "inputs", inputs, &oom);
    if (!oom) rc = data_doc(s, run_id, name, user, data, &oom);
    if (rc || oom) {
        cJSON_Delete(run);
        return rc ? rc : tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    }
    *out = run;
    return 0;
}
