/* http.c - traild's HTTP endpoints: GET /health, and the API and page of api.c. */
#include <cjson/cJSON.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_safe.h"
#include "api.h"
#include "manage_api.h"
#include "mlflow.h"
#include "server.h"
#include "trail.h"
#include "util.h"

struct tr_http {
    nng_http_server *server;
    tr_srv *srv;
    tr_api *api;           /* /api and the page (api.c) */
    tr_mlflow *mlflow;     /* /api/2.0/mlflow (mlflow.c) */
    tr_manage_api *manage; /* POST /api/manage (manage_api.c) */
    int64_t started_ns;
};

static void respond_hdr(nng_aio *aio, uint16_t status, cJSON *doc, const char *hname,
                        const char *hval)
{
    nng_http_res *res = NULL;
    char *text = doc ? tr_json_print_safe(doc, 0) : NULL;
    if (nng_http_res_alloc(&res) != 0) {
        free(text);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_http_res_set_status(res, status);
    nng_http_res_set_header(res, "Content-Type", "application/json");
    nng_http_res_set_header(res, "Cache-Control", "no-store");
    if (hname) nng_http_res_set_header(res, hname, hval);
    if (text)
        nng_http_res_copy_data(res, text, strlen(text));
    else
        nng_http_res_copy_data(res, "{}", 2);
    free(text);
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void respond(nng_aio *aio, uint16_t status, cJSON *doc)
{
    respond_hdr(aio, status, doc, NULL, NULL);
}

static tr_http *handler_ctx(nng_aio *aio)
{
    return nng_http_handler_get_data(nng_aio_get_input(aio, 1));
}

static void health_cb(nng_aio *aio)
{
    tr_http *h = handler_ctx(aio);
    tr_srv_counters c;
    tr_srv_get_counters(h->srv, &c);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "status", "ok");
    cJSON_AddStringToObject(d, "version", TRAIL_VERSION);
    cJSON_AddNumberToObject(d, "uptime_s", (double)(tr_mono_ns() - h->started_ns) / 1e9);
    cJSON_AddNumberToObject(d, "records", (double)c.records);
    cJSON_AddNumberToObject(d, "duplicates", (double)c.duplicates);
    cJSON_AddNumberToObject(d, "batches", (double)c.batches);
    cJSON_AddNumberToObject(d, "rejected", (double)c.rejected);
    cJSON_AddNumberToObject(d, "store_errors", (double)c.store_errors);
    cJSON_AddNumberToObject(d, "queue", c.queue);
    cJSON_AddNumberToObject(d, "connections", c.connections);
    respond(aio, 200, d);
    cJSON_Delete(d);
}

static int add_handler(tr_http *h, const char *path, void (*cb)(nng_aio *), int tree)
{
    nng_http_handler *hd;
    int rv = nng_http_handler_alloc(&hd, path, cb);
    if (rv) return rv;
    nng_http_handler_set_data(hd, h, NULL);
    if (tree) nng_http_handler_set_tree(hd);
    rv = nng_http_handler_collect_body(hd, true, 0); /* GET /health takes no body (nng: 1 MB) */
    if (!rv) rv = nng_http_server_add_handler(h->server, hd);
    if (rv) nng_http_handler_free(hd);
    return rv;
}

static void http_url(const char *addr, char *out, size_t n)
{
    size_t l = strlen(addr);
    if (!strncmp(addr, "http://", 7))
        snprintf(out, n, "%s", addr);
    else if (l && strspn(addr, "0123456789") == l)
        snprintf(out, n, "http://127.0.0.1:%s", addr);
    else if (addr[0] == ':')
        snprintf(out, n, "http://127.0.0.1%s", addr);
    else
        snprintf(out, n, "http://%s", addr);
}

int tr_http_start(tr_http **out, const char *addr, const char *store_path, tr_srv *srv,
                  const uint8_t *token, size_t token_len, const uint8_t *manage_token,
                  size_t manage_len, char *err, size_t errlen)
{
    char url[512];
    nng_url *u = NULL;
    *out = NULL;
    tr_http *h = calloc(1, sizeof *h);
    if (!h) return TRAIL_ENOMEM;
    h->srv = srv;
    h->started_ns = tr_mono_ns();
    http_url(addr, url, sizeof url);
    int rv = nng_url_parse(&u, url);
    if (rv == 0) rv = nng_http_server_hold(&h->server, u);
    if (rv == 0) rv = add_handler(h, "/health", health_cb, 0);
    if (rv == 0) rv = tr_api_register(h->server, store_path, token, token_len, &h->api);
    if (rv == 0) rv = tr_mlflow_register(h->server, store_path, token, token_len, &h->mlflow);
    if (rv == 0)
        rv = tr_manage_api_register(h->server, store_path, manage_token, manage_len, &h->manage);
    if (rv == 0) rv = nng_http_server_start(h->server);
    if (u) nng_url_free(u);
    if (rv != 0) {
        snprintf(err, errlen, "cannot serve HTTP on %s: %s", url, nng_strerror(rv));
        tr_http_stop(h);
        return TRAIL_EIO;
    }
    nng_sockaddr sa;
    unsigned port = 0;
    if (nng_http_server_get_addr(h->server, &sa) == 0 && sa.s_family == NNG_AF_INET)
        port = ((sa.s_in.sa_port & 0xff) << 8) | (sa.s_in.sa_port >> 8);
    tr_srv_log("info",
               "http on %s (port %u): GET /health, /api/..., MLflow's /api/2.0/mlflow/..., POST "
               "/api/manage, the "
               "page at / (%s)",
               url, port, token_len ? "bearer token required" : "no authentication");
    *out = h;
    return 0;
}

void tr_http_stop(tr_http *h)
{
    if (!h) return;
    if (h->server) {
        nng_http_server_stop(h->server);
        nng_http_server_release(h->server);
    }
    tr_api_free(h->api);
    tr_mlflow_free(h->mlflow);
    tr_manage_api_free(h->manage);
    free(h);
}
