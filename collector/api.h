/* api.h - the JSON API under /api and the web page, served on an nng HTTP server (traild --http,
 * trail ui). */
#ifndef TR_API_H
#define TR_API_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

typedef struct tr_api tr_api;

/* Adds to srv (before it starts): GET /api/health, /api/experiments, /api/runs,
 * /api/runs/RUN, /api/runs/RUN/metrics, /api/runs/RUN/logs, /api/lineage, /api/diff,
 * /api/files (docs/collector.md), over the store at store_path opened read-only on the first
 * request; and the page: / and /runs/..., /compare, /lineage, /files (the page, whose script
 * routes them) and /ui/... (its scripts and styles, compiled in). With token_len > 0 every /api
 * request needs "Authorization: Bearer TOKEN". 0 or an nng error. */
int tr_api_register(nng_http_server *srv, const char *store_path, const uint8_t *token,
                    size_t token_len, tr_api **out);
/* After the server stopped. */
void tr_api_free(tr_api *a);

/* 1 when header (an Authorization header's value, may be NULL) is "Bearer TOKEN" with token
 * (compared in constant time); 1 too when token_len is 0. */
int tr_api_bearer_ok(const uint8_t *token, size_t token_len, const char *header);

#endif
