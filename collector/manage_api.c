/* manage_api.c - POST /api/manage on traild's HTTP server: `trail rm/gc/forget/tag/rename/close
 * --store http://HOST:PORT` send their request here and print the answer, which
 * store/manage_ops.c computes exactly as on the embedded store. Needs the bearer token: with
 * --http-no-auth the endpoint refuses every request. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "json_safe.h"
#include "manage_api.h"
#include "manage_ops.h"
#include "server.h"
#include "store.h"

#define MANAGE_MAX_BODY (8 << 20) /* a request naming up to 100 000 runs */

struct tr_manage_api {
    char store_path[4096];
    tr_store *s; /* read-write, opened on the first request */
    uint8_t token[4096];
    size_t token_len;
    pthread_mutex_t mu;
};

static void reply(nng_aio *aio, int status, cJSON *doc)
{
    nng_http_res *res = NULL;
    char *text = tr_json_print_safe(doc, 0);
    if (!text || nng_http_res_alloc(&res) != 0) {
        free(text);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_http_res_set_status(res, (uint16_t)status);
    nng_http_res_set_header(res, "Content-Type", "application/json");
    nng_http_res_set_header(res, "Cache-Control", "no-store");
    int rv = nng_http_res_copy_data(res, text, strlen(text));
    free(text);
    if (rv) {
        nng_http_res_free(res);
        nng_aio_finish(aio, rv);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

/* {"lines": [], "error": msg, "exit": code}, the shape of tr_store_manage_json's answer. */
static cJSON *refusal(const char *msg, int code)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddArrayToObject(d, "lines");
    cJSON_AddStringToObject(d, "error", msg);
    cJSON_AddNumberToObject(d, "exit", code);
    return d;
}

static void manage_cb(nng_aio *aio)
{
    tr_manage_api *m = nng_http_handler_get_data(nng_aio_get_input(aio, 1));
    nng_http_req *hreq = nng_aio_get_input(aio, 0);
    cJSON *doc = NULL, *req = NULL;
    int status = 200;
    if (!m->token_len) {
        doc = refusal("managing the store through traild needs its --token-file", 2);
        status = 403;
    } else if (!tr_api_bearer_ok(m->token, m->token_len,
                                 nng_http_req_get_header(hreq, "Authorization"))) {
        doc = refusal("unauthorized: send Authorization: Bearer <token>", 2);
        status = 401;
    } else {
        void *body = NULL;
        size_t n = 0;
        nng_http_req_get_data(hreq, &body, &n);
        req = n ? cJSON_ParseWithLength(body, n) : NULL;
        if (!cJSON_IsObject(req)) {
            doc = refusal("the request is not a JSON object", 2);
            status = 400;
        }
    }
    if (!doc) {
        char err[4400];
        pthread_mutex_lock(&m->mu);
        if (!m->s && tr_store_open(m->store_path, 0, &m->s, err, sizeof err) != 0) {
            doc = refusal(err, 1);
            status = 503;
        } else {
            int ex = tr_store_manage_json(m->s, req, &doc);
            status = ex == 0 ? 200 : ex == 2 ? 400 : 500;
            const cJSON *op = cJSON_GetObjectItemCaseSensitive(req, "op");
            tr_srv_log("info", "manage: %s%s: exit %d",
                       cJSON_GetStringValue(op) ? cJSON_GetStringValue(op) : "?",
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "dry_run")) ? " (dry run)"
                                                                                      : "",
                       ex);
        }
        pthread_mutex_unlock(&m->mu);
    }
    if (!doc) doc = refusal("out of memory", 1);
    reply(aio, status, doc);
    cJSON_Delete(doc);
    cJSON_Delete(req);
}

int tr_manage_api_register(nng_http_server *srv, const char *store_path, const uint8_t *token,
                           size_t token_len, tr_manage_api **out)
{
    *out = NULL;
    tr_manage_api *m = calloc(1, sizeof *m);
    if (!m) return NNG_ENOMEM;
    if (token_len > sizeof m->token) {
        free(m);
        return NNG_EINVAL;
    }
    if (token_len) memcpy(m->token, token, token_len);
    m->token_len = token_len;
    snprintf(m->store_path, sizeof m->store_path, "%s", store_path);
    pthread_mutex_init(&m->mu, NULL);
    nng_http_handler *h;
    int rv = nng_http_handler_alloc(&h, "/api/manage", manage_cb);
    if (!rv) {
        nng_http_handler_set_data(h, m, NULL);
        rv = nng_http_handler_set_method(h, "POST");
        if (!rv) rv = nng_http_handler_collect_body(h, true, MANAGE_MAX_BODY);
        if (!rv) rv = nng_http_server_add_handler(srv, h);
        if (rv) nng_http_handler_free(h);
    }
    if (rv) {
        tr_manage_api_free(m);
        return rv;
    }
    *out = m;
    return 0;
}

void tr_manage_api_free(tr_manage_api *m)
{
    if (!m) return;
    tr_store_close(m->s);
    memset(m->token, 0, sizeof m->token);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
