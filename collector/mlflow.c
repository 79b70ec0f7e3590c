/* mlflow.c - MLflow's tracking REST API on traild's HTTP server: requests (JSON bodies, query
 * strings), MLflow's error documents, the bearer token and routing. Experiments are in
 * mlflow_exp.c, runs in mlflow_runs.c, the runs search in mlflow_search.c. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "http_gate.h"
#include "json_safe.h"
#include "mlflow.h"
#include "mlflow_int.h"
#include "store.h"
#include "trail.h"

#include "mlflow_store.h"

struct tr_mlflow {
    char store_path[4096];
    tr_store *s; /* opened read-write on the first request */
    uint8_t token[4096];
    size_t token_len;
    pthread_mutex_t mu; /* one request at a time on the store handle */
    tr_http_gate gate;  /* bodies read only with the token (http_gate.c) */
};

/* ---- answers and parameters ---- */

int mlf_fail(mlf_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON_Delete(r->doc);
    r->doc = cJSON_CreateObject();
    cJSON_AddStringToObject(r->doc, "error_code", code);
    cJSON_AddStringToObject(r->doc, "message", msg);
    r->status = status;
    return -1;
}

int mlf_store_fail(mlf_req *r, int rc)
{
    const char *m = tr_store_errmsg(r->s);
    if (rc == TRAIL_ENOTFOUND) return mlf_fail(r, 404, "RESOURCE_DOES_NOT_EXIST", "%s", m);
    if (rc == TRAIL_EINVAL) return mlf_invalid(r, "%s", m);
    if (rc == TRAIL_EBUSY) return mlf_fail(r, 503, "TEMPORARILY_UNAVAILABLE", "%s", m);
    return mlf_fail(r, 500, "INTERNAL_ERROR", "%s", m);
}

int mlf_ok(mlf_req *r, cJSON *doc)
{
    cJSON_Delete(r->doc);
    r->doc = doc ? doc : cJSON_CreateObject();
    r->status = 200;
    return 0;
}

int mlf_str(mlf_req *r, const cJSON *o, const char *name, const char **v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    *v = NULL;
    if (!it || cJSON_IsNull(it)) return 0;
    if (!cJSON_IsString(it))
        return mlf_invalid(r, "Invalid value for parameter '%s': expected a string", name);
    *v = it->valuestring;
    return 1;
}

int mlf_need(mlf_req *r, const cJSON *o, const char *name, const char **v)
{
    int got = mlf_str(r, o, name, v);
    if (got < 0) return -1;
    if (!got) return mlf_invalid(r, "Missing value for required parameter '%s'.", name);
    return 0;
}

int mlf_int(mlf_req *r, const cJSON *o, const char *name, int64_t *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!it || cJSON_IsNull(it)) return 0;
    /* a double is cast only inside int64's range (the cast of one outside is undefined) */
    double d = cJSON_IsNumber(it) ? it->valuedouble : 0;
    if (cJSON_IsNumber(it) && d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
        d == (double)(int64_t)d) {
        *v = (int64_t)d;
        return 1;
    }
    if (cJSON_IsString(it) && *it->valuestring) { /* protobuf's JSON gives int64 as text */
        char *end;
        errno = 0;
        long long x = strtoll(it->valuestring, &end, 10);
        if (!*end && !errno) {
            *v = x;
            return 1;
        }
    }
    return mlf_invalid(r, "Invalid value for parameter '%s': expected an integer", name);
}

int mlf_ms(mlf_req *r, const cJSON *o, const char *name, int64_t *v)
{
    int64_t ms = *v;
    int got = mlf_int(r, o, name, &ms);
    if (got <= 0) return got;
    if (ms < 0 || ms > MLF_MAX_MS)
        return mlf_invalid(r,
                           "Invalid value %lld for parameter '%s': a time in milliseconds "
                           "since the epoch, from 0 to %lld",
                           (long long)ms, name, (long long)MLF_MAX_MS);
    *v = ms;
    return 1;
}

int mlf_paging(mlf_req *r, int64_t def, int64_t max, int *limit, int64_t *offset)
{
    int64_t n = def;
    const char *tok;
    if (mlf_int(r, r->in, "max_results", &n) < 0 || mlf_str(r, r->in, "page_token", &tok) < 0)
        return -1;
    if (n < 1 || n > max)
        return mlf_invalid(r,
                           "Invalid value %lld for parameter 'max_results' supplied: it must be "
                           "from 1 to %lld",
                           (long long)n, (long long)max);
    *limit = (int)n;
    *offset = 0;
    if (tok && *tok) {
        char *end;
        errno = 0;
        long long o = strtoll(tok, &end, 10);
        if (*end || errno || o < 0) return mlf_invalid(r, "Invalid page token '%s'", tok);
        *offset = o;
    }
    return 0;
}

int mlf_check_key(mlf_req *r, const char *what, const char *key)
{
    size_t n = strlen(key);
    if (!n) return mlf_invalid(r, "Invalid %s name: ''. Names must not be empty.", what);
    if (n > MLF_MAX_KEY)
        return mlf_invalid(r,
                           "%s name '%.40s...' had length %zu, which exceeded length limit of %d",
                           what, key, n, MLF_MAX_KEY);
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (!(isalnum(*p) || *p >= 0x80 || strchr("_-. /:", *p)))
            return mlf_invalid(r,
                               "Invalid %s name: '%s'. Names may only contain alphanumerics, "
                               "underscores (_), dashes (-), periods (.), spaces ( ), colons (:) "
                               "and slashes (/).",
                               what, key);
    /* a name read as a path must be that path: no empty, "." or ".." part, no leading '/' */
    int bad = key[0] == '/' || !strncmp(key, "..", 2);
    for (const char *p = key; !bad && p;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        bad = l == 0 || (l == 1 && p[0] == '.') || (l == 2 && !strncmp(p, "..", 2));
        p = e ? e + 1 : NULL;
    }
    if (bad)
        return mlf_invalid(r,
                           "Invalid %s name: '%s'. Names may be treated as files in certain "
                           "cases, and must not resolve to other names when treated as such.",
                           what, key);
    return 0;
}

int mlf_run_of(mlf_req *r, char id[33], char *status, size_t sn, char *stage, size_t gn)
{
    const char *run;
    if (mlf_str(r, r->in, "run_id", &run) < 0) return -1;
    if (!run && mlf_str(r, r->in, "run_uuid", &run) < 0) return -1;
    if (!run || !*run) return mlf_invalid(r, "Missing value for required parameter 'run_id'.");
    snprintf(id, 33, "%s", run);
    int rc =
        strlen(run) == 32 ? tr_mlf_run_state(r->s, run, status, sn, stage, gn) : TRAIL_ENOTFOUND;
    if (rc == TRAIL_ENOTFOUND)
        return mlf_fail(r, 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=%s not found", run);
    return rc ? mlf_store_fail(r, rc) : 0;
}

/* ---- requests ---- */

#define GET 1
#define POST 2
static const struct {
    const char *path;
    int methods;
    int (*fn)(mlf_req *);
} routes[] = {
    {"/experiments/create", POST, mlf_exp_create},
    {"/experiments/get", GET, mlf_exp_get},
    {"/experiments/get-by-name", GET, mlf_exp_get_by_name},
    {"/experiments/search", GET | POST, mlf_exp_search},
    {"/experiments/list", GET, mlf_exp_search}, /* MLflow 1.x: search without a filter */
    {"/runs/create", POST, mlf_runs_create},
    {"/runs/get", GET, mlf_runs_get},
    {"/runs/update", POST, mlf_runs_update},
    {"/runs/delete", POST, mlf_runs_delete},
    {"/runs/restore", POST, mlf_runs_restore},
    {"/runs/search", GET | POST, mlf_runs_search},
    {"/runs/log-metric", POST, mlf_log_metric},
    {"/runs/log-parameter", POST, mlf_log_param},
    {"/runs/set-tag", POST, mlf_set_tag},
    {"/runs/delete-tag", POST, mlf_delete_tag},
    {"/runs/log-batch", POST, mlf_log_batch},
    {"/metrics/get-history", GET, mlf_get_history},
};

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Percent-decodes s[0..n) ('+' a space) as a new string; NULL when it holds a NUL. */
static char *decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    for (size_t i = 0; out && i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            c = hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]);
            i += 2;
        } else if (c == '+')
            c = ' ';
        if (!c) {
            free(out);
            return NULL;
        }
        *o++ = (char)c;
    }
    if (out) *o = 0;
    return out;
}

/* A query string as an object of strings; a repeated name (experiment_ids, order_by) becomes an
 * array. NULL when malformed. */
static cJSON *query_object(const char *q)
{
    cJSON *o = cJSON_CreateObject();
    for (const char *p = q; o && p && *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        char *k = decode(p, (size_t)((eq ? eq : end) - p));
        char *v = eq ? decode(eq + 1, (size_t)(end - eq - 1)) : strdup("");
        if (!k || !v) {
            free(k);
            free(v);
            cJSON_Delete(o);
            return NULL;
        }
        cJSON *have = cJSON_GetObjectItemCaseSensitive(o, k);
        if (!have) {
            cJSON_AddStringToObject(o, k, v);
        } else if (cJSON_IsArray(have)) {
            cJSON_AddItemToArray(have, cJSON_CreateString(v));
        } else {
            cJSON *arr = cJSON_CreateArray();
            cJSON_AddItemToArray(arr, cJSON_Duplicate(have, 1));
            cJSON_AddItemToArray(arr, cJSON_CreateString(v));
            cJSON_ReplaceItemInObjectCaseSensitive(o, k, arr);
        }
        free(k);
        free(v);
        p = amp ? amp + 1 : end;
    }
    return o;
}

static void reply(nng_aio *aio, int status, cJSON *doc)
{
    nng_http_res *res = NULL;
    char *text = doc ? tr_json_print_safe(doc, 0) : NULL;
    if (nng_http_res_alloc(&res) != 0) {
        free(text);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_http_res_set_status(res, (uint16_t)(text ? status : 500));
    nng_http_res_set_header(res, "Content-Type", "application/json");
    nng_http_res_set_header(res, "Cache-Control", "no-store");
    if (status == 401) nng_http_res_set_header(res, "WWW-Authenticate", "Bearer realm=\"trail\"");
    static const char oom[] = "{\"error_code\":\"INTERNAL_ERROR\",\"message\":\"out of memory\"}";
    int rv = text ? nng_http_res_copy_data(res, text, strlen(text))
                  : nng_http_res_copy_data(res, oom, sizeof oom - 1);
    free(text);
    if (rv) {
        nng_http_res_free(res);
        nng_aio_finish(aio, rv);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

/* Runs the request: the route, its parameters, the store. */
static void serve(tr_mlflow *m, nng_http_req *hreq, mlf_req *r)
{
    const char *uri = nng_http_req_get_uri(hreq), *method = nng_http_req_get_method(hreq);
    const char *q = strchr(uri, '?'), *mark = strstr(uri, "/mlflow/");
    size_t n = q ? (size_t)(q - uri) : strlen(uri);
    const char *path = mark && (!q || mark < q) ? mark + 7 : uri;
    size_t plen = n - (size_t)(path - uri);
    int want = !strcmp(method, "GET") || !strcmp(method, "HEAD") ? GET
               : !strcmp(method, "POST")                         ? POST
                                                                 : 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strlen(routes[i].path) != plen || strncmp(routes[i].path, path, plen)) continue;
        if (!(routes[i].methods & want)) {
            mlf_fail(r, 405, "BAD_REQUEST", "%s is not allowed on %.*s", method, (int)n, uri);
            return;
        }
        void *body = NULL;
        size_t blen = 0;
        nng_http_req_get_data(hreq, &body, &blen);
        r->body_len = blen;
        if (want == POST && blen) {
            r->in = cJSON_ParseWithLength(body, blen);
            if (!r->in || !cJSON_IsObject(r->in)) {
                mlf_fail(r, 400, "MALFORMED_REQUEST", "the request body is not a JSON object");
                return;
            }
        } else {
            r->in = want == POST ? cJSON_CreateObject() : query_object(q ? q + 1 : NULL);
            if (!r->in) {
                mlf_invalid(r, "malformed query string");
                return;
            }
        }
        if (!m->s) {
            char err[4400];
            if (tr_store_open(m->store_path, 0, &m->s, err, sizeof err)) {
                mlf_fail(r, 503, "TEMPORARILY_UNAVAILABLE", "%s", err);
                return;
            }
        }
        r->s = m->s;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r->now_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
        routes[i].fn(r);
        return;
    }
    mlf_fail(r, 404, "ENDPOINT_NOT_FOUND",
             "No API endpoint %.*s (trail serves MLflow's tracking "
             "API: docs/mlflow.md)",
             (int)n, uri);
}

static void mlflow_cb(nng_aio *aio)
{
    tr_mlflow *m = tr_http_gate_data(aio);
    nng_http_req *hreq = nng_aio_get_input(aio, 0);
    mlf_req r = {.status = 500};
    if (!tr_api_bearer_ok(m->token, m->token_len, nng_http_req_get_header(hreq, "Authorization"))) {
        mlf_fail(&r, 401, "UNAUTHENTICATED",
                 "send Authorization: Bearer <token> (MLFLOW_TRACKING_TOKEN)");
    } else {
        pthread_mutex_lock(&m->mu);
        serve(m, hreq, &r);
        pthread_mutex_unlock(&m->mu);
    }
    reply(aio, r.status, r.doc);
    cJSON_Delete(r.doc);
    cJSON_Delete(r.in);
}

/* Only a caller with the token (or any, with --http-no-auth) sends a body. */
static int mlflow_admit(void *data, nng_http_req *req)
{
    tr_mlflow *m = data;
    return tr_api_bearer_ok(m->token, m->token_len, nng_http_req_get_header(req, "Authorization"));
}

/* GET and POST (serve() sorts them); bodies up to twice log-batch's 1 MB, so an oversized batch
 * gets MLflow's answer, read only once the token was checked. */
static int add(nng_http_server *srv, const char *path, tr_mlflow *m)
{
    return tr_http_gate_add(srv, path, NULL, 1, &m->gate);
}

int tr_mlflow_register(nng_http_server *srv, const char *store_path, const uint8_t *token,
                       size_t token_len, tr_mlflow **out)
{
    *out = NULL;
    tr_mlflow *m = calloc(1, sizeof *m);
    if (!m) return NNG_ENOMEM;
    if (token_len > sizeof m->token) {
        free(m);
        return NNG_EINVAL;
    }
    if (token_len) memcpy(m->token, token, token_len);
    m->token_len = token_len;
    snprintf(m->store_path, sizeof m->store_path, "%s", store_path);
    pthread_mutex_init(&m->mu, NULL);
    m->gate = (tr_http_gate){
        .cb = mlflow_cb, .admit = mlflow_admit, .data = m, .max_body = 2 * MLF_BATCH_BYTES};
    int rv = add(srv, "/api/2.0/mlflow", m);
    if (!rv) rv = add(srv, "/ajax-api/2.0/mlflow", m);
    if (!rv) rv = add(srv, "/api/2.0/preview/mlflow", m); /* MLflow 1.x clients */
    if (rv) {
        tr_mlflow_free(m);
        return rv;
    }
    *out = m;
    return 0;
}

void tr_mlflow_free(tr_mlflow *m)
{
    if (!m) return;
    tr_store_close(m->s);
    memset(m->token, 0, sizeof m->token);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
