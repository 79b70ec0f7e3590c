/* http_gate.h - HTTP handlers whose request body is read only after the headers let the caller
 * in (the bearer token), bounded per request and across the requests being read. */
#ifndef TR_HTTP_GATE_H
#define TR_HTTP_GATE_H

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stddef.h>

/* Bytes of request bodies being read at once, over every gated handler: a request that would
 * pass it is answered 503 (and its connection closed) without reading its body. */
#define TR_HTTP_BODY_BUDGET ((size_t)64 << 20)

typedef struct tr_http_gate {
    void (*cb)(nng_aio *aio);                    /* the handler proper (data: tr_http_gate_data) */
    int (*admit)(void *data, nng_http_req *req); /* 1: the caller may send its body */
    void *data;
    size_t max_body; /* larger: 413, the body never read */
} tr_http_gate;

/* Registers a handler for path (a tree when tree, method NULL: any) that runs g->admit on the
 * headers: a caller it refuses gets g->cb's answer with no body read and its connection closed;
 * one it admits has its body (up to g->max_body, read within 30 s) on the request when g->cb
 * runs. g must outlive the server. 0 or an NNG error. */
int tr_http_gate_add(nng_http_server *srv, const char *path, const char *method, int tree,
                     tr_http_gate *g);
/* The data of the gate the request in aio came through (what g->cb reads). */
void *tr_http_gate_data(nng_aio *aio);

#endif
