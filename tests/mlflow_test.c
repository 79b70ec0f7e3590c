/* mlflow_test.c - MLflow's tracking REST API on a real traild on loopback: requests built from
 * MLflow's documented shapes, read back through the API and through `trail show`; MLflow's
 * limits and error codes; the search filter mapped onto --where; the bearer token; a run of
 * `trail run --collector` joined by an MLflow create-run; and tests/mlflow_client.py, which logs
 * with Python's standard library the way the mlflow client does. */
#include <math.h>

#include "tassert.h"
#include "tmlflow.h"

#define TRAIL (char *)tproc_bin("trail")
#define TOKEN "mlflow-test-token-0123456789"

static const char *sandbox;
static char db[600], dlog[600], tokfile[600];
static int port, lport;

#define API "/api/2.0/mlflow"

static int call(const char *method, const char *path, const char *body, cJSON **doc)
{
    return tml_request(port, method, path, TOKEN, body, doc);
}

/* POST/GET that must answer 200; the document (the caller frees it). */
static cJSON *ok(const char *method, const char *path, const char *body)
{
    cJSON *d = NULL;
    int st = call(method, path, body, &d);
    if (st != 200) {
        char *t = d ? cJSON_PrintUnformatted(d) : NULL;
        T_FAIL("%s %s %s: status %d %s", method, path, body ? body : "", st, t ? t : "");
        free(t);
    }
    return d;
}

/* A request that must fail with status and MLflow's error_code. */
static void refused(int status, const char *code, const char *method, const char *path,
                    const char *body)
{
    cJSON *d = NULL;
    int st = call(method, path, body, &d);
    if (st != status || !tml_str(d, "error_code") || strcmp(tml_str(d, "error_code"), code) ||
        !tml_str(d, "message") || !*tml_str(d, "message"))
        T_FAIL("%s %s: want %d %s, got %d %s", method, path, status, code, st,
               d && tml_str(d, "error_code") ? tml_str(d, "error_code") : "(no error_code)");
    cJSON_Delete(d);
}

/* A new run of experiment exp_id; each starts a second after the one before. */
static char *run_create(const char *exp_id, const char *name, const char *extra_tags)
{
    static long long start = 1700000000000LL;
    char body[2048];
    start += 1000;
    snprintf(body, sizeof body,
             "{\"experiment_id\":\"%s\",\"run_name\":\"%s\",\"start_time\":%lld,"
             "\"tags\":[{\"key\":\"mlflow.user\",\"value\":\"ana\"}%s]}",
             exp_id, name, start, extra_tags ? extra_tags : "");
    cJSON *d = ok("POST", API "/runs/create", body);
    const cJSON *info = tml_get(tml_get(d, "run"), "info");
    T_EQ_STR(tml_str(info, "status"), "RUNNING");
    T_EQ_STR(tml_str(info, "run_name"), name);
    T_EQ_STR(tml_str(info, "experiment_id"), exp_id);
    T_EQ_STR(tml_str(info, "lifecycle_stage"), "active");
    T_EQ_INT((long long)cJSON_GetNumberValue(tml_get(info, "start_time")), start);
    char *id = strdup(tml_str(info, "run_id") ? tml_str(info, "run_id") : "");
    T_EQ_INT(strlen(id), 32);
    T_EQ_STR(tml_str(info, "run_uuid"), id);
    cJSON_Delete(d);
    return id;
}

static cJSON *trail_show(const char *id)
{
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "show", (char *)id, "--json"), 0);
    cJSON *d = cJSON_Parse(out ? out : "");
    free(out);
    T_ASSERT(d);
    return d;
}

static char exp_id[32];

static void test_experiments(void)
{
    cJSON *d = ok("POST", API "/experiments/create", "{\"name\":\"vision\"}");
    snprintf(exp_id, sizeof exp_id, "%s", tml_str(d, "experiment_id"));
    T_CHECK(atoi(exp_id) > 0);
    cJSON_Delete(d);
    refused(400, "RESOURCE_ALREADY_EXISTS", "POST", API "/experiments/create",
            "{\"name\":\"vision\"}");
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/experiments/create", "{}");
    d = ok("GET", API "/experiments/get-by-name?experiment_name=vision", NULL);
    const cJSON *e = tml_get(d, "experiment");
    T_EQ_STR(tml_str(e, "experiment_id"), exp_id);
    T_EQ_STR(tml_str(e, "name"), "vision");
    T_EQ_STR(tml_str(e, "lifecycle_stage"), "active");
    T_CHECK(cJSON_IsNumber(tml_get(e, "creation_time")));
    T_CHECK(cJSON_IsArray(tml_get(e, "tags")));
    cJSON_Delete(d);
    char path[256];
    snprintf(path, sizeof path, API "/experiments/get?experiment_id=%s", exp_id);
    d = ok("GET", path, NULL);
    T_EQ_STR(tml_str(tml_get(d, "experiment"), "name"), "vision");
    cJSON_Delete(d);
    d = ok("GET", API "/experiments/get?experiment_id=0", NULL);
    T_EQ_STR(tml_str(tml_get(d, "experiment"), "name"), "Default");
    cJSON_Delete(d);
    refused(404, "RESOURCE_DOES_NOT_EXIST", "GET", API "/experiments/get?experiment_id=999", NULL);
    refused(404, "RESOURCE_DOES_NOT_EXIST", "GET",
            API "/experiments/get-by-name?experiment_name=nope", NULL);
    /* search: every experiment, a LIKE filter, pages of one */
    cJSON_Delete(ok("POST", API "/experiments/create", "{\"name\":\"audio\"}"));
    d = ok("POST", API "/experiments/search", "{\"filter\":\"name LIKE 'vis%'\"}");
    T_EQ_INT(cJSON_GetArraySize(tml_get(d, "experiments")), 1);
    T_EQ_STR(tml_str(cJSON_GetArrayItem(tml_get(d, "experiments"), 0), "name"), "vision");
    cJSON_Delete(d);
    d = ok("POST", API "/experiments/search", "{\"max_results\":1}");
    T_EQ_INT(cJSON_GetArraySize(tml_get(d, "experiments")), 1);
    T_EQ_STR(tml_str(cJSON_GetArrayItem(tml_get(d, "experiments"), 0), "name"), "Default");
    char body[256];
    snprintf(body, sizeof body, "{\"max_results\":5,\"page_token\":\"%s\"}",
             tml_str(d, "next_page_token"));
    cJSON_Delete(d);
    d = ok("POST", API "/experiments/search", body);
    T_EQ_INT(cJSON_GetArraySize(tml_get(d, "experiments")), 2); /* vision, audio */
    T_CHECK(!tml_get(d, "next_page_token"));
    cJSON_Delete(d);
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/experiments/search",
            "{\"max_results\":50001}");
}

static void test_runs_and_logging(void)
{
    char *id = run_create(exp_id, "resnet", NULL);
    char body[4096];
    snprintf(
        body, sizeof body,
        "{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"loss\",\"value\":0.9,\"timestamp\":"
        "1700000001000,\"step\":1},{\"key\":\"loss\",\"value\":0.4,\"timestamp\":"
        "\"1700000002000\",\"step\":\"2\"}],\"params\":[{\"key\":\"lr\",\"value\":\"0.1\"},"
        "{\"key\":\"opt\",\"value\":\"adam\"}],\"tags\":[{\"key\":\"team\",\"value\":\"cv\"}]}",
        id);
    cJSON_Delete(ok("POST", API "/runs/log-batch", body));
    snprintf(body, sizeof body,
             "{\"run_id\":\"%s\",\"key\":\"acc\",\"value\":0.75,\"timestamp\":1700000003000,"
             "\"step\":7}",
             id);
    cJSON_Delete(ok("POST", API "/runs/log-metric", body));
    snprintf(body, sizeof body,
             "{\"run_id\":\"%s\",\"key\":\"acc\",\"value\":\"NaN\",\"timestamp\":1700000003500,"
             "\"step\":8}",
             id);
    cJSON_Delete(ok("POST", API "/runs/log-metric", body));
    /* params are immutable: the same value again is fine, another is refused */
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"key\":\"lr\",\"value\":\"0.1\"}", id);
    cJSON_Delete(ok("POST", API "/runs/log-parameter", body));
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"key\":\"lr\",\"value\":\"0.2\"}", id);
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/log-parameter", body);
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"params\":[{\"key\":\"lr\",\"value\":\"9\"}]}",
             id);
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/log-batch", body);
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"key\":\"team\",\"value\":\"vision\"}", id);
    cJSON_Delete(ok("POST", API "/runs/set-tag", body)); /* tags may change */
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"key\":\"scratch\",\"value\":\"1\"}", id);
    cJSON_Delete(ok("POST", API "/runs/set-tag", body));
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"key\":\"scratch\"}", id);
    cJSON_Delete(ok("POST", API "/runs/delete-tag", body));
    refused(404, "RESOURCE_DOES_NOT_EXIST", "POST", API "/runs/delete-tag", body);
    snprintf(body, sizeof body,
             "{\"run_id\":\"%s\",\"status\":\"FINISHED\",\"end_time\":1700000009000}", id);
    cJSON *d = ok("POST", API "/runs/update", body);
    T_EQ_STR(tml_str(tml_get(d, "run_info"), "status"), "FINISHED");
    T_EQ_INT((long long)cJSON_GetNumberValue(tml_get(tml_get(d, "run_info"), "end_time")),
             1700000009000LL);
    cJSON_Delete(d);

    char path[512];
    snprintf(path, sizeof path, API "/metrics/get-history?run_id=%s&metric_key=loss", id);
    d = ok("GET", path, NULL);
    const cJSON *h = tml_get(d, "metrics");
    T_EQ_INT(cJSON_GetArraySize(h), 2);
    T_CHECK(cJSON_GetNumberValue(tml_get(cJSON_GetArrayItem(h, 0), "value")) == 0.9);
    T_EQ_INT((long long)cJSON_GetNumberValue(tml_get(cJSON_GetArrayItem(h, 1), "timestamp")),
             1700000002000LL);
    T_EQ_INT((int)cJSON_GetNumberValue(tml_get(cJSON_GetArrayItem(h, 1), "step")), 2);
    cJSON_Delete(d);
    snprintf(path, sizeof path, API "/metrics/get-history?run_id=%s&metric_key=loss&max_results=1",
             id);
    d = ok("GET", path, NULL);
    T_EQ_INT(cJSON_GetArraySize(tml_get(d, "metrics")), 1);
    T_EQ_STR(tml_str(d, "next_page_token"), "1");
    cJSON_Delete(d);

    snprintf(path, sizeof path, API "/runs/get?run_id=%s", id);
    d = ok("GET", path, NULL);
    const cJSON *data = tml_get(tml_get(d, "run"), "data"), *m;
    int seen = 0;
    cJSON_ArrayForEach(m, tml_get(data, "metrics"))
    {
        if (!strcmp(tml_str(m, "key"), "loss"))
            seen += cJSON_GetNumberValue(tml_get(m, "value")) == 0.4; /* the latest */
        if (!strcmp(tml_str(m, "key"), "acc"))
            seen += tml_str(m, "value") && !strcmp(tml_str(m, "value"), "NaN");
    }
    T_EQ_INT(seen, 2);
    T_EQ_INT(cJSON_GetArraySize(tml_get(data, "params")), 2);
    cJSON_Delete(d);

    /* the same run through trail: a finished run of experiment vision, its records ingested as
     * one stream of the run, the param conflict not applied */
    cJSON *s = trail_show(id);
    T_EQ_STR(tml_str(s, "status"), "finished");
    T_EQ_STR(tml_str(s, "experiment"), "vision");
    T_EQ_STR(tml_str(s, "name"), "resnet");
    T_EQ_STR(tml_str(tml_get(s, "params"), "lr"), "0.1");
    T_EQ_STR(tml_str(tml_get(s, "tags"), "team"), "vision");
    T_CHECK(cJSON_GetNumberValue(tml_get(tml_get(s, "metrics"), "loss")) == 0.4);
    T_EQ_STR(tml_str(s, "user"), "ana");
    cJSON_Delete(s);
    /* found by trail's --where, and by traild's own /api */
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "runs", "--where", "params.lr = '0.1' and metrics.loss < 0.5",
                   "--json"),
             0);
    cJSON *list = cJSON_Parse(out ? out : "");
    free(out);
    T_EQ_INT(cJSON_GetArraySize(list), 1);
    T_EQ_STR(tml_str(cJSON_GetArrayItem(list, 0), "id"), id);
    cJSON_Delete(list);
    snprintf(path, sizeof path, "/api/runs/%s", id);
    d = NULL;
    T_EQ_INT(call("GET", path, NULL, &d), 200);
    T_EQ_STR(tml_str(d, "name"), "resnet");
    cJSON_Delete(d);
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM streams WHERE run_id = '%s'", id);
    T_EQ_INT(tnet_sql(db, sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM metrics WHERE run_id = '%s'", id);
    T_EQ_INT(tnet_sql(db, sql), 4);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM tags WHERE run_id = '%s' AND key LIKE 'trail.param_confl%%'",
             id);
    T_EQ_INT(tnet_sql(db, sql), 0); /* refused before the store saw it */

    /* delete is MLflow's soft delete: hidden from searches, logging refused, restore undoes it */
    snprintf(body, sizeof body, "{\"run_id\":\"%s\"}", id);
    cJSON_Delete(ok("POST", API "/runs/delete", body));
    snprintf(body, sizeof body,
             "{\"run_id\":\"%s\",\"key\":\"x\",\"value\":1,\"timestamp\":1700000009999}", id);
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/log-metric", body);
    snprintf(body, sizeof body, "{\"run_id\":\"%s\"}", id);
    cJSON_Delete(ok("POST", API "/runs/restore", body));
    snprintf(path, sizeof path, API "/runs/get?run_id=%s", id);
    d = ok("GET", path, NULL);
    T_EQ_STR(tml_str(tml_get(tml_get(d, "run"), "info"), "lifecycle_stage"), "active");
    cJSON_Delete(d);
    /* the /ajax-api alias, and MLflow 1.x's /api/2.0/preview prefix and experiments/list */
    snprintf(path, sizeof path, "/ajax-api/2.0/mlflow/runs/get?run_id=%s", id);
    cJSON_Delete(ok("GET", path, NULL));
    snprintf(path, sizeof path, "/api/2.0/preview/mlflow/runs/get?run_id=%s", id);
    cJSON_Delete(ok("GET", path, NULL));
    d = ok("GET", "/api/2.0/preview/mlflow/experiments/list", NULL);
    T_CHECK(cJSON_GetArraySize(tml_get(d, "experiments")) >= 3);
    cJSON_Delete(d);
    free(id);
}

/* A log-batch body with n entries of one kind (kind "metrics", "params" or "tags"). */
static char *batch(const char *id, const char *kind, int n, size_t pad)
{
    size_t cap = (size_t)n * (120 + pad) + 256;
    char *b = malloc(cap), *fill = malloc(pad + 1);
    memset(fill, 'v', pad);
    fill[pad] = 0;
    size_t o = (size_t)snprintf(b, cap, "{\"run_id\":\"%s\",\"%s\":[", id, kind);
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(b + o, cap - o,
                              !strcmp(kind, "metrics")
                                  ? "%s{\"key\":\"m%d\",\"value\":%d,\"timestamp\":1700000000000%s}"
                                  : "%s{\"key\":\"k%d\",\"value\":\"%d%s\"}",
                              i ? "," : "", i, i, fill);
    snprintf(b + o, cap - o, "]}");
    free(fill);
    return b;
}

static void test_limits_and_errors(void)
{
    char *id = run_create(exp_id, "times", NULL), body[16384], path[512];
    /* times in milliseconds whose nanoseconds overflow int64, and numbers outside int64: refused
     * (they read back as negative times, or were an undefined cast) */
    static const char *const bad_ts[] = {"10000000000000", "-1", "1e300", "\"99999999999999\""};
    for (int i = 0; i < 4; i++) {
        snprintf(body, sizeof body,
                 "{\"run_id\":\"%s\",\"key\":\"big\",\"value\":1,\"timestamp\":%s}", id, bad_ts[i]);
        refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/log-metric", body);
        snprintf(body, sizeof body,
                 "{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"big\",\"value\":1,"
                 "\"timestamp\":%s}]}",
                 id, bad_ts[i]);
        refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/log-batch", body);
        snprintf(body, sizeof body, "{\"experiment_id\":\"%s\",\"start_time\":%s}", exp_id,
                 bad_ts[i]);
        refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/create", body);
        snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"end_time\":%s}", id, bad_ts[i]);
        refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/update", body);
    }
    snprintf(body, sizeof body,
             "{\"run_id\":\"%s\",\"key\":\"big\",\"value\":1,\"timestamp\":1,\"step\":1e19}", id);
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/log-metric", body);
    /* the latest time that fits reads back as sent */
    snprintf(body, sizeof body,
             "{\"run_id\":\"%s\",\"key\":\"late\",\"value\":1,\"timestamp\":%lld}", id,
             (long long)(INT64_MAX / 1000000));
    cJSON_Delete(ok("POST", API "/runs/log-metric", body));
    snprintf(path, sizeof path, API "/metrics/get-history?run_id=%s&metric_key=late", id);
    cJSON *h = ok("GET", path, NULL);
    T_EQ_INT((long long)cJSON_GetNumberValue(
                 tml_get(cJSON_GetArrayItem(tml_get(h, "metrics"), 0), "timestamp")),
             (long long)(INT64_MAX / 1000000));
    cJSON_Delete(h);
    snprintf(path, sizeof path, API "/metrics/get-history?run_id=%s&metric_key=big", id);
    h = ok("GET", path, NULL);
    T_EQ_INT(cJSON_GetArraySize(tml_get(h, "metrics")), 0);
    cJSON_Delete(h);
    free(id);
    id = run_create(exp_id, "limits", NULL);
    struct {
        const char *kind;
        int max;
    } lim[] = {{"metrics", 1000}, {"params", 100}, {"tags", 100}};
    for (int i = 0; i < 3; i++) {
        char *b = batch(id, lim[i].kind, lim[i].max, 0);
        cJSON_Delete(ok("POST", API "/runs/log-batch", b)); /* at the limit: accepted */
        free(b);
        b = batch(id, lim[i].kind, lim[i].max + 1, 0);
        refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/log-batch", b);
        free(b);
    }
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM metrics WHERE run_id = '%s'", id);
    T_EQ_INT(tnet_sql(db, sql), 1000);         /* the refused batches stored nothing */
    char *big = batch(id, "tags", 100, 10100); /* over 1 MB in all */
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/log-batch", big);
    free(big);
    /* key and value lengths, key characters and paths */
    char key[300];
    memset(key, 'k', 251);
    key[251] = 0;
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"key\":\"%s\",\"value\":\"1\"}", id, key);
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/set-tag", body);
    key[250] = 0;
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"key\":\"%s\",\"value\":\"1\"}", id, key);
    cJSON_Delete(ok("POST", API "/runs/set-tag", body));
    char *val = malloc(8002);
    memset(val, 'x', 8001);
    val[8001] = 0;
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"key\":\"long\",\"value\":\"%s\"}", id, val);
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/set-tag", body);
    val[6001] = 0;
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"key\":\"long\",\"value\":\"%s\"}", id, val);
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/log-parameter", body);
    val[6000] = 0;
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"key\":\"long\",\"value\":\"%s\"}", id, val);
    cJSON_Delete(ok("POST", API "/runs/log-parameter", body));
    free(val);
    static const char *const bad_keys[] = {"a/../b", "/abs", "a//b", "semi;colon", "", "./x"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"key\":\"%s\",\"value\":\"1\"}", id,
                 bad_keys[i]);
        refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/log-parameter", body);
    }
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"key\":\"m\",\"value\":1}", id);
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/log-metric", body); /* timestamp */
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"status\":\"DONE\"}", id);
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/update", body);
    /* unknown runs, experiments and endpoints; malformed requests */
    refused(404, "RESOURCE_DOES_NOT_EXIST", "GET",
            API "/runs/get?run_id=00000000000000000000000000000000", NULL);
    refused(404, "RESOURCE_DOES_NOT_EXIST", "POST", API "/runs/log-metric",
            "{\"run_id\":\"ffffffffffffffffffffffffffffffff\",\"key\":\"m\",\"value\":1,"
            "\"timestamp\":1}");
    refused(404, "RESOURCE_DOES_NOT_EXIST", "POST", API "/runs/create",
            "{\"experiment_id\":\"4242\"}");
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/create",
            "{\"experiment_id\":\"x\"}");
    /* an experiment id given as a number, and none at all (Default) */
    snprintf(body, sizeof body, "{\"experiment_id\":%s,\"run_name\":\"numeric\"}", exp_id);
    cJSON *d = ok("POST", API "/runs/create", body);
    T_EQ_STR(tml_str(tml_get(tml_get(d, "run"), "info"), "experiment_id"), exp_id);
    cJSON_Delete(d);
    d = ok("POST", API "/runs/create", "{\"run_name\":\"nowhere\"}");
    T_EQ_STR(tml_str(tml_get(tml_get(d, "run"), "info"), "experiment_id"), "0");
    cJSON_Delete(d);
    refused(400, "INVALID_PARAMETER_VALUE", "GET", API "/runs/get", NULL);
    refused(404, "ENDPOINT_NOT_FOUND", "GET", API "/registered-models/list", NULL);
    refused(400, "MALFORMED_REQUEST", "POST", API "/runs/create", "{not json");
    refused(405, "BAD_REQUEST", "GET", API "/runs/create", NULL);
    snprintf(path, sizeof path, API "/metrics/get-history?run_id=%s", id);
    refused(400, "INVALID_PARAMETER_VALUE", "GET", path, NULL);
    free(id);
}

/* runs/search of filter in experiment vision: the run names found, in order, joined by ','. */
static void search(const char *filter, const char *order_by, const char *view, char *names,
                   size_t n)
{
    cJSON *req = cJSON_CreateObject(), *ids = cJSON_AddArrayToObject(req, "experiment_ids");
    cJSON_AddItemToArray(ids, cJSON_CreateString(exp_id));
    if (filter) cJSON_AddStringToObject(req, "filter", filter);
    if (order_by) cJSON_AddItemToObject(req, "order_by", cJSON_CreateStringArray(&order_by, 1));
    if (view) cJSON_AddStringToObject(req, "run_view_type", view);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    cJSON *d = ok("POST", API "/runs/search", body);
    free(body);
    const cJSON *r;
    size_t o = 0;
    names[0] = 0;
    cJSON_ArrayForEach(r, tml_get(d, "runs")) o += (size_t)snprintf(
        names + o, n - o, "%s%s", o ? "," : "", tml_str(tml_get(r, "info"), "run_name"));
    cJSON_Delete(d);
}

static void test_search(void)
{
    /* s1: loss .3 lr 0.1 FINISHED; s2: loss .6 lr 0.1 FAILED; s3: loss .2 lr 0.01 KILLED */
    static const char *const runs[][4] = {{"s1", "0.3", "0.1", "FINISHED"},
                                          {"s2", "0.6", "0.1", "FAILED"},
                                          {"s3", "0.2", "0.01", "KILLED"}};
    char body[1024], names[512], *ids[3];
    cJSON_Delete(ok("POST", API "/experiments/create", "{\"name\":\"search\"}"));
    cJSON *d = ok("GET", API "/experiments/get-by-name?experiment_name=search", NULL);
    snprintf(exp_id, sizeof exp_id, "%s", tml_str(tml_get(d, "experiment"), "experiment_id"));
    cJSON_Delete(d);
    for (int i = 0; i < 3; i++) {
        ids[i] = run_create(exp_id, runs[i][0], ",{\"key\":\"x\",\"value\":\"y\"}");
        snprintf(body, sizeof body,
                 "{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"loss\",\"value\":%s,\"timestamp\":"
                 "1700000000001}],\"params\":[{\"key\":\"lr\",\"value\":\"%s\"}]}",
                 ids[i], runs[i][1], runs[i][2]);
        cJSON_Delete(ok("POST", API "/runs/log-batch", body));
        snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"status\":\"%s\",\"end_time\":%d}", ids[i],
                 runs[i][3], 1700000010 + i);
        cJSON_Delete(ok("POST", API "/runs/update", body));
    }
    search("metrics.loss < 0.5 and params.lr = '0.1' and tags.x = 'y' and "
           "attributes.status = 'FINISHED'",
           NULL, NULL, names, sizeof names);
    T_EQ_STR(names, "s1");
    search("metrics.loss < 0.5", "metrics.loss ASC", NULL, names, sizeof names);
    T_EQ_STR(names, "s3,s1");
    search("attributes.status IN ('FAILED', 'KILLED')", "attributes.run_name DESC", NULL, names,
           sizeof names);
    T_EQ_STR(names, "s3,s2");
    search("status != 'FINISHED' and params.lr LIKE '0.0%'", NULL, NULL, names, sizeof names);
    T_EQ_STR(names, "s3");
    search("tags.\"mlflow.runName\" = 's2'", NULL, NULL, names, sizeof names);
    T_EQ_STR(names, "s2");
    /* several keys: lr ascending, then loss descending (s3 0.01; then s2 .6 before s1 .3) */
    {
        cJSON *req = cJSON_CreateObject(), *ids2 = cJSON_AddArrayToObject(req, "experiment_ids");
        cJSON_AddItemToArray(ids2, cJSON_CreateString(exp_id));
        const char *two[] = {"params.lr ASC", "metrics.loss DESC"};
        cJSON_AddItemToObject(req, "order_by", cJSON_CreateStringArray(two, 2));
        char *b = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        d = ok("POST", API "/runs/search", b);
        free(b);
        const cJSON *rr;
        size_t o = 0;
        names[0] = 0;
        cJSON_ArrayForEach(rr, tml_get(d, "runs")) o +=
            (size_t)snprintf(names + o, sizeof names - o, "%s%s", o ? "," : "",
                             tml_str(tml_get(rr, "info"), "run_name"));
        cJSON_Delete(d);
        T_EQ_STR(names, "s3,s2,s1");
    }
    search("metrics.`loss` >= 0.3", "params.lr ASC", NULL, names, sizeof names);
    T_EQ_STR(names, "s2,s1"); /* a tie: the later start first, as MLflow breaks ties */
    search(NULL, "attributes.start_time DESC", NULL, names, sizeof names);
    T_CHECK(strlen(names) == 8); /* all three */
    /* times: --where has no field for them, the search bounds them itself (AND only) */
    char f[256];
    snprintf(f, sizeof f, API "/runs/get?run_id=%s", ids[1]);
    d = ok("GET", f, NULL);
    long long s2 =
        (long long)cJSON_GetNumberValue(tml_get(tml_get(tml_get(d, "run"), "info"), "start_time"));
    cJSON_Delete(d);
    snprintf(f, sizeof f, "attributes.start_time >= %lld", s2);
    search(f, "attributes.run_name", NULL, names, sizeof names);
    T_EQ_STR(names, "s2,s3");
    snprintf(f, sizeof f, "attributes.start_time < %lld and params.lr = '0.1'", s2);
    search(f, NULL, NULL, names, sizeof names);
    T_EQ_STR(names, "s1");
    search("attributes.end_time < 1700000012", "attributes.run_name", NULL, names, sizeof names);
    T_EQ_STR(names, "s1,s2");
    snprintf(f, sizeof f, "attributes.start_time = %lld", s2);
    search(f, NULL, NULL, names, sizeof names);
    T_EQ_STR(names, "s2");
    /* pages: max_results 2, then the rest from next_page_token */
    snprintf(
        body, sizeof body,
        "{\"experiment_ids\":[\"%s\"],\"max_results\":2,\"order_by\":[\"attributes.run_name\"]}",
        exp_id);
    d = ok("POST", API "/runs/search", body);
    T_EQ_INT(cJSON_GetArraySize(tml_get(d, "runs")), 2);
    T_EQ_STR(tml_str(d, "next_page_token"), "2");
    cJSON_Delete(d);
    snprintf(
        body, sizeof body,
        "{\"experiment_ids\":[\"%s\"],\"max_results\":2,\"order_by\":[\"attributes.run_name\"],"
        "\"page_token\":\"2\"}",
        exp_id);
    d = ok("POST", API "/runs/search", body);
    T_EQ_INT(cJSON_GetArraySize(tml_get(d, "runs")), 1);
    T_EQ_STR(tml_str(tml_get(cJSON_GetArrayItem(tml_get(d, "runs"), 0), "info"), "run_name"), "s3");
    T_CHECK(!tml_get(d, "next_page_token"));
    cJSON_Delete(d);
    /* deleted runs: only with DELETED_ONLY or ALL */
    snprintf(body, sizeof body, "{\"run_id\":\"%s\"}", ids[1]);
    cJSON_Delete(ok("POST", API "/runs/delete", body));
    search(NULL, "attributes.run_name", NULL, names, sizeof names);
    T_EQ_STR(names, "s1,s3");
    search(NULL, NULL, "DELETED_ONLY", names, sizeof names);
    T_EQ_STR(names, "s2");
    search(NULL, "attributes.run_name", "ALL", names, sizeof names);
    T_EQ_STR(names, "s1,s2,s3");
    /* filters trail cannot answer are refused, never ignored */
    static const char *const bad[] = {"attributes.start_time > 0 or params.lr = '1'",
                                      "not attributes.end_time > 5",
                                      "attributes.start_time > 'x'",
                                      "attributes.artifact_uri = 'a'",
                                      "metrics.loss <",
                                      "nope.x = 1",
                                      "attributes.status = 'DONE'",
                                      "params.lr = 'unterminated"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "filter", bad[i]);
        char *b = cJSON_PrintUnformatted(req);
        refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/search", b);
        free(b);
        cJSON_Delete(req);
    }
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/search",
            "{\"order_by\":[\"attributes.nope\"]}");
    refused(400, "INVALID_PARAMETER_VALUE", "POST", API "/runs/search",
            "{\"order_by\":[\"params.a\",\"params.b\",\"params.c\",\"params.d\",\"params.e\"]}");
    for (int i = 0; i < 3; i++)
        free(ids[i]);
}

static void test_token(void)
{
    cJSON *d = NULL;
    T_EQ_INT(tml_request(port, "GET", API "/experiments/get?experiment_id=0", NULL, NULL, &d), 401);
    T_EQ_STR(tml_str(d, "error_code"), "UNAUTHENTICATED");
    cJSON_Delete(d);
    T_EQ_INT(tml_request(port, "GET", API "/experiments/get?experiment_id=0", "wrong", NULL, &d),
             401);
    cJSON_Delete(d);
}

/* A program under `trail run --collector` creates its MLflow run with the tag trail.run_id =
 * $TRAIL_RUN_ID: the MLflow run is the trail run (one run: launcher's argv and status, MLflow's
 * metric). */
static void test_join_trail_run(void)
{
    char lu[64], script[600], url[128];
    snprintf(lu, sizeof lu, "tcp://127.0.0.1:%d", lport);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    snprintf(script, sizeof script, "%s/tests/mlflow_client.py", getenv("TRAIL_SRC"));
    setenv("TRAIL_TOKEN_FILE", tokfile, 1);
    setenv("MLFLOW_TRACKING_TOKEN", TOKEN, 1);
    char *out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "run", "--collector", lu, "--name", "joined", "--",
                   "/usr/bin/python3", script, url, "join"),
             0);
    char *line = out ? strstr(out, "run_id=") : NULL;
    T_ASSERT(line);
    char id[33];
    snprintf(id, sizeof id, "%.32s", line + 7);
    free(out);
    cJSON *s = trail_show(id);
    T_EQ_STR(tml_str(s, "name"), "joined"); /* trail run's name, not the script's */
    T_EQ_STR(tml_str(s, "status"), "finished");
    T_CHECK(cJSON_GetArraySize(tml_get(s, "argv")) >= 2); /* the launcher's record */
    T_CHECK(cJSON_GetNumberValue(tml_get(tml_get(s, "metrics"), "joined_metric")) == 42);
    cJSON_Delete(s);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE id = '%s' OR name = 'joined'", id);
    T_EQ_INT(tnet_sql(db, sql), 1);
    /* trail run --mlflow: MLFLOW_RUN_ID is the trail run, stored before the program starts,
     * so mlflow's resume (get-run at once, update RUNNING, log, update FINISHED) finds it; the
     * program exits 3 after mlflow said FINISHED: the launcher's status wins */
    out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "run", "--collector", lu, "--mlflow", "--name", "resumed",
                   "--", "sh", "-c", "/usr/bin/python3 \"$0\" \"$1\" resume && exit 3", script,
                   url),
             3);
    line = out ? strstr(out, "run_id=") : NULL;
    T_ASSERT(line);
    char rid[33];
    snprintf(rid, sizeof rid, "%.32s", line + 7);
    free(out);
    s = trail_show(rid);
    T_EQ_STR(tml_str(s, "name"), "resumed");
    T_EQ_STR(tml_str(s, "status"), "failed");
    T_CHECK(cJSON_GetNumberValue(tml_get(tml_get(s, "metrics"), "resumed_metric")) == 7);
    cJSON_Delete(s);
    T_EQ_INT(tnet_sql(db, "SELECT count(*) FROM runs WHERE name = 'resumed'"), 1);
    /* an MLFLOW_RUN_ID the caller set is kept (and said) */
    setenv("MLFLOW_RUN_ID", "0123456789abcdef0123456789abcdef", 1);
    char *err = NULL;
    out = NULL;
    T_EQ_INT(TPROC(&out, &err, TRAIL, "run", "--collector", lu, "--mlflow", "--", "sh", "-c",
                   "echo \"$MLFLOW_RUN_ID\""),
             0);
    unsetenv("MLFLOW_RUN_ID");
    T_CHECK(out && !strcmp(out, "0123456789abcdef0123456789abcdef\n"));
    T_CHECK(err && strstr(err, "MLFLOW_RUN_ID is set already"));
    free(out);
    free(err);
    /* MLFLOW_RUN_ID=$TRAIL_RUN_ID: mlflow's client resumes the run by get-run */
    char path[256];
    snprintf(path, sizeof path, API "/runs/get?run_id=%s", id);
    cJSON *d = ok("GET", path, NULL);
    T_EQ_STR(tml_str(tml_get(tml_get(d, "run"), "info"), "run_name"), "joined");
    cJSON_Delete(d);
}

/* tests/mlflow_client.py logs the way mlflow's client does (standard library only). */
static void test_python_client(void)
{
    char script[600], url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    snprintf(script, sizeof script, "%s/tests/mlflow_client.py", getenv("TRAIL_SRC"));
    char *out = NULL, *err = NULL;
    int rc = TPROC(&out, &err, "/usr/bin/python3", script, url, "log");
    if (rc) T_FAIL("mlflow_client.py: %d\n%s%s", rc, out ? out : "", err ? err : "");
    char *line = out ? strstr(out, "run_id=") : NULL;
    T_ASSERT(line);
    char id[33];
    snprintf(id, sizeof id, "%.32s", line + 7);
    free(out);
    free(err);
    cJSON *s = trail_show(id);
    T_EQ_STR(tml_str(s, "experiment"), "py-client");
    T_EQ_STR(tml_str(s, "status"), "finished");
    T_EQ_STR(tml_str(tml_get(s, "params"), "batch_size"), "32");
    T_EQ_STR(tml_str(tml_get(s, "tags"), "mlflow.source.type"), "LOCAL");
    cJSON_Delete(s);
    out = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "metrics", id, "--json"), 0);
    cJSON *m = cJSON_Parse(out ? out : "");
    free(out);
    T_EQ_INT(cJSON_GetArraySize(tml_get(m, "loss")), 5); /* five epochs */
    T_EQ_INT((int)cJSON_GetNumberValue(tml_get(cJSON_GetArrayItem(tml_get(m, "loss"), 4), "step")),
             4);
    cJSON_Delete(m);
}

/* Two traild over one store, both logging to one run at once: every point is stored once (the
 * API's stream gets its seq inside the write transaction, so neither traild reuses one). */
static void test_two_traild_one_run(void)
{
    int p2 = tnet_free_port();
    char hp[32], l2[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", p2);
    snprintf(l2, sizeof l2, "tcp://127.0.0.1:%d", tnet_free_port());
    pid_t d2 =
        TNET_TRAILD(dlog, "--listen", l2, "--store", db, "--http", hp, "--token-file", tokfile);
    T_ASSERT(d2 > 0);
    char *id = run_create("0", "shared", NULL);
    enum { PER_CLIENT = 150 };
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        if ((kids[k] = fork()) == 0) {
            int bad = 0;
            for (int i = 0; i < PER_CLIENT; i++) {
                char body[256];
                snprintf(body, sizeof body,
                         "{\"run_id\":\"%s\",\"key\":\"c%d\",\"value\":%d,\"timestamp\":"
                         "1700000000000,\"step\":%d}",
                         id, k, i, i);
                bad += tml_request(k ? p2 : port, "POST", API "/runs/log-metric", TOKEN, body,
                                   NULL) != 200;
            }
            _exit(bad ? 1 : 0);
        }
    }
    for (int k = 0; k < 2; k++)
        T_EQ_INT(tnet_wait(kids[k]), 0);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM metrics WHERE run_id = '%s'", id);
    T_EQ_INT(tnet_sql(db, sql), 2 * PER_CLIENT);
    snprintf(sql, sizeof sql, "SELECT hwm FROM streams WHERE run_id = '%s'", id);
    /* create-run's RUN_START and mlflow.user tag are seq 0 and 1, the points 2..301: no gap */
    T_EQ_INT(tnet_sql(db, sql), 2 * PER_CLIENT + 1);
    kill(d2, SIGTERM);
    T_EQ_INT(tnet_wait(d2), 0);
    free(id);
}

/* Reads never write: runs made outside the API (rows written by another connection) have their
 * experiment ids already, and experiments/get-by-name, runs/get and a 1000-run runs/search all
 * answer while another connection holds the store's write lock (BEGIN IMMEDIATE). */
static void test_reads_while_locked(void)
{
    sqlite3 *h = NULL;
    T_EQ_INT(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    T_EQ_INT(sqlite3_exec(h,
                          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE "
                          "i < 1200) INSERT INTO runs (id, experiment, name, status, started_ns) "
                          "SELECT lower(hex(randomblob(16))), CASE WHEN i <= 1100 THEN 'bulk' "
                          "ELSE 'bulk-' || i END, 'b' || i, 'finished', 1700000000000000000 + i "
                          "FROM n",
                          NULL, NULL, NULL),
             SQLITE_OK);
    T_EQ_INT(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    cJSON *d = ok("GET", API "/experiments/get-by-name?experiment_name=bulk", NULL);
    char eid[32], body[256], path[256];
    snprintf(eid, sizeof eid, "%s", tml_str(tml_get(d, "experiment"), "experiment_id") ?: "");
    cJSON_Delete(d);
    T_CHECK(*eid && strcmp(eid, "0"));
    d = ok("GET", API "/experiments/get-by-name?experiment_name=bulk-1150", NULL);
    cJSON_Delete(d);
    snprintf(body, sizeof body, "{\"experiment_ids\":[\"%s\"],\"max_results\":1000}", eid);
    d = ok("POST", API "/runs/search", body);
    const cJSON *runs = tml_get(d, "runs");
    T_EQ_INT(cJSON_GetArraySize(runs), 1000);
    T_CHECK(tml_str(d, "next_page_token") != NULL);
    const char *rid = tml_str(tml_get(cJSON_GetArrayItem(runs, 0), "info"), "run_id");
    snprintf(path, sizeof path, API "/runs/get?run_id=%s", rid ? rid : "");
    cJSON *g = ok("GET", path, NULL);
    T_EQ_STR(tml_str(tml_get(tml_get(g, "run"), "info"), "experiment_id"), eid);
    cJSON_Delete(g);
    cJSON_Delete(d);
    T_EQ_INT(sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    T_EQ_INT(sqlite3_exec(h, "DELETE FROM runs WHERE name GLOB 'b[0-9]*'", NULL, NULL, NULL),
             SQLITE_OK);
    sqlite3_close(h);
}

/* A run a `trail run` launched (runs.launcher_pid, as the launcher's record sets it) keeps the
 * status its launcher gives: runs/update FINISHED or RUNNING through the API changes neither
 * status nor end (the answer shows the run as it is); without a launcher the same update ends
 * the run. */
static void test_launcher_owns_status(void)
{
    char *id = run_create(exp_id, "owned", NULL), sql[300], body[300];
    sqlite3 *h = NULL;
    T_EQ_INT(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    snprintf(sql, sizeof sql, "UPDATE runs SET launcher_pid = 4242 WHERE id = '%s'", id);
    T_EQ_INT(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"status\":\"FINISHED\"}", id);
    cJSON *d = ok("POST", API "/runs/update", body);
    T_EQ_STR(tml_str(tml_get(d, "run_info"), "status"), "RUNNING");
    cJSON_Delete(d);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM runs WHERE id = '%s' AND status = 'running'"
             " AND ended_ns IS NULL",
             id);
    T_EQ_INT(tnet_sql(db, sql), 1);
    /* ended by its launcher: not reopened */
    snprintf(sql, sizeof sql,
             "UPDATE runs SET status = 'failed', ended_ns = 1700000000000000000 WHERE id = '%s'",
             id);
    T_EQ_INT(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"status\":\"RUNNING\"}", id);
    d = ok("POST", API "/runs/update", body);
    T_EQ_STR(tml_str(tml_get(d, "run_info"), "status"), "FAILED");
    cJSON_Delete(d);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE id = '%s' AND status = 'failed'",
             id);
    T_EQ_INT(tnet_sql(db, sql), 1);
    /* the same run without a launcher: the update applies */
    snprintf(sql, sizeof sql, "UPDATE runs SET launcher_pid = NULL WHERE id = '%s'", id);
    T_EQ_INT(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    d = ok("POST", API "/runs/update", body);
    T_EQ_STR(tml_str(tml_get(d, "run_info"), "status"), "RUNNING");
    cJSON_Delete(d);
    free(id);
}

int main(void)
{
    tnet_asan_preload_ok();
    if (access("/usr/bin/python3", X_OK)) T_SKIP_TEST("no /usr/bin/python3");
    sandbox = tproc_sandbox();
    snprintf(db, sizeof db, "%s", getenv("TRAIL_STORE"));
    snprintf(dlog, sizeof dlog, "%s/traild.log", sandbox);
    snprintf(tokfile, sizeof tokfile, "%s/token", sandbox);
    tnet_token(tokfile, TOKEN, 0600);
    port = tnet_free_port();
    lport = tnet_free_port();
    char hp[32], lu[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
    snprintf(lu, sizeof lu, "tcp://127.0.0.1:%d", lport);
    pid_t d =
        TNET_TRAILD(dlog, "--listen", lu, "--store", db, "--http", hp, "--token-file", tokfile);
    T_ASSERT(d > 0);
    T_RUN(test_experiments);
    T_RUN(test_runs_and_logging);
    T_RUN(test_limits_and_errors);
    T_RUN(test_search);
    T_RUN(test_reads_while_locked);
    T_RUN(test_launcher_owns_status);
    T_RUN(test_token);
    T_RUN(test_join_trail_run);
    T_RUN(test_python_client);
    T_RUN(test_two_traild_one_run);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    return T_DONE();
}
