/* http_gate.c - HTTP handlers whose body is read only once the headers let the caller in: nng
 * would otherwise allocate and read a whole body (Content-Length, up to the handler's limit)
 * before any handler could look at the token, so callers without one could make traild hold
 * megabytes each. The handler proper runs on an aio of its own; its answer goes out on nng's. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "http_gate.h"

#define BODY_TIMEOUT_MS 30000

static _Atomic size_t in_flight; /* body bytes being read or held, all gates together */

typedef struct pending {
    nng_aio *outer, *inner, *rx; /* nng's, the handler's, the body read */
    nng_http_req *req;
    tr_http_gate *g;
    void *buf;
    size_t len;
    int close;
} pending;

void *tr_http_gate_data(nng_aio *aio)
{
    tr_http_gate *g = nng_http_handler_get_data(nng_aio_get_input(aio, 1));
    return g ? g->data : NULL;
}

static void release(pending *p)
{
    if (p->buf) {
        nng_http_req_set_data(p->req, NULL, 0);
        free(p->buf);
        atomic_fetch_sub(&in_flight, p->len);
    }
    if (p->inner) nng_aio_reap(p->inner);
    if (p->rx) nng_aio_reap(p->rx);
    free(p);
}

/* The handler answered: its response goes out on nng's aio (with Connection: close when the
 * body was left unread). */
static void inner_done(void *arg)
{
    pending *p = arg;
    nng_aio *outer = p->outer;
    int rv = nng_aio_result(p->inner);
    nng_http_res *res = nng_aio_get_output(p->inner, 0);
    if (res && p->close) nng_http_res_set_header(res, "Connection", "close");
    nng_aio_set_output(outer, 0, res);
    release(p);
    nng_aio_finish(outer, rv);
}

static void run_handler(pending *p)
{
    for (unsigned i = 0; i < 3; i++)
        nng_aio_set_input(p->inner, i, nng_aio_get_input(p->outer, i));
    if (!nng_aio_begin(p->inner)) {
        nng_aio *outer = p->outer;
        release(p);
        nng_aio_finish(outer, NNG_ECLOSED);
        return;
    }
    p->g->cb(p->inner);
}

static void rx_done(void *arg)
{
    pending *p = arg;
    if (nng_aio_result(p->rx) != 0) { /* short or slow body: the connection is closed */
        nng_aio *outer = p->outer;
        release(p);
        nng_aio_finish(outer, NNG_ECLOSED);
        return;
    }
    nng_http_req_set_data(p->req, p->buf, p->len);
    run_handler(p);
}

/* A plain answer of status from the gate itself, the connection closed after it. */
static void refuse(pending *p, uint16_t status)
{
    nng_http_res *res = NULL;
    nng_aio *outer = p->outer;
    int rv = nng_http_res_alloc_error(&res, status);
    if (!rv) nng_http_res_set_header(res, "Connection", "close");
    release(p);
    nng_aio_set_output(outer, 0, rv ? NULL : res);
    nng_aio_finish(outer, rv);
}

static void gate_cb(nng_aio *aio)
{
    tr_http_gate *g = nng_http_handler_get_data(nng_aio_get_input(aio, 1));
    nng_http_req *req = nng_aio_get_input(aio, 0);
    nng_http_conn *conn = nng_aio_get_input(aio, 2);
    pending *p = calloc(1, sizeof *p);
    if (!p || nng_aio_alloc(&p->inner, inner_done, p) || nng_aio_alloc(&p->rx, rx_done, p)) {
        if (p && p->inner) nng_aio_free(p->inner);
        free(p);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    p->outer = aio;
    p->req = req;
    p->g = g;
    const char *cl = nng_http_req_get_header(req, "Content-Length");
    char *end = NULL;
    unsigned long long n = cl ? strtoull(cl, &end, 10) : 0;
    int has_body = cl && n > 0;
    if (!g->admit(g->data, req)) { /* answered by the handler (401 ...), the body left unread */
        p->close = has_body;
        run_handler(p);
        return;
    }
    if (cl && (!*cl || *end || cl[0] == '-')) {
        refuse(p, NNG_HTTP_STATUS_BAD_REQUEST);
        return;
    }
    if (!has_body) {
        run_handler(p);
        return;
    }
    if (n > g->max_body) {
        refuse(p, NNG_HTTP_STATUS_PAYLOAD_TOO_LARGE);
        return;
    }
    if (atomic_fetch_add(&in_flight, (size_t)n) + (size_t)n > TR_HTTP_BODY_BUDGET) {
        atomic_fetch_sub(&in_flight, (size_t)n);
        {
            refuse(p, NNG_HTTP_STATUS_SERVICE_UNAVAILABLE);
            return;
        }
    }
    p->len = (size_t)n;
    if (!(p->buf = malloc(p->len))) {
        atomic_fetch_sub(&in_flight, p->len);
        {
            refuse(p, NNG_HTTP_STATUS_SERVICE_UNAVAILABLE);
            return;
        }
    }
    nng_iov iov = {.iov_buf = p->buf, .iov_len = p->len};
    nng_aio_set_iov(p->rx, 1, &iov);
    nng_aio_set_timeout(p->rx, BODY_TIMEOUT_MS);
    nng_http_conn_read_all(conn, p->rx);
}

int tr_http_gate_add(nng_http_server *srv, const char *path, const char *method, int tree,
                     tr_http_gate *g)
{
    nng_http_handler *h;
    int rv = nng_http_handler_alloc(&h, path, gate_cb);
    if (rv) return rv;
    nng_http_handler_set_data(h, g, NULL);
    if (tree) rv = nng_http_handler_set_tree(h);
    if (!rv) rv = nng_http_handler_set_method(h, method);
    if (!rv) rv = nng_http_handler_collect_body(h, false, 0); /* gate_cb reads it */
    if (!rv) rv = nng_http_server_add_handler(srv, h);
    if (rv) nng_http_handler_free(h);
    return rv;
}
