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
#include "http_gate.h"
#include "json_safe.h"
#include "manage_api.h"
#include "manage_ops.h"
#include "server.h"
#include "store.h"

/* A request naming some 7000 runs (gc selects its runs on the server); larger: 413. Its body is
 * read only once the token was checked (http_gate.c). */
#define MANAGE_MAX_BODY (256 << 10)

struct tr_manage_api {
    char store_path[4096];
    tr_store *s; /* read-write, opened on the first request */
    uint8_t token[4096];
    size_t token_len;
    pthread_mutex_t mu;
    tr_http_gate gate;
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

/* The caller's op as one log word: printable ASCII but the backslash kept, other bytes as \xHH, cut
 * short ("..."); "?" when there is none. */
static void log_safe(const char *s, char *out, size_t n)
{
    size_t o = 0;
    if (!s) s = "?";
    for (; *s && o + 8 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
    }
    snprintf(out + o, n - o, "%s", *s ? "..." : "");
}

/* Only a caller with the token sends a body (without one: manage_cb's 401 or 403). */
static int manage_admit(void *data, nng_http_req *req)
{
    tr_manage_api *m = data;
    return m->token_len &&
           tr_api_bearer_ok(m->token, m->token_len, nng_http_req_get_header(req, "Authorization"));
}

static void manage_cb(nng_aio *aio)
{
    tr_manage_api *m = tr_http_gate_data(aio);
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
            char op[80];
            log_safe(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "op")), op,
                     sizeof op);
            tr_srv_log("info", "manage: %s%s: exit %d", op,
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
    m->gate = (tr_http_gate){
        .cb = manage_cb, .admit = manage_admit, .data = m, .max_body = MANAGE_MAX_BODY};
    int rv = tr_http_gate_add(srv, "/api/manage", "POST", 0, &m->gate);
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
