/* manage_api.h - POST /api/manage: the management commands run on traild's store
 * (manage_api.c over store/manage_ops.c). */
#ifndef TR_MANAGE_API_H
#define TR_MANAGE_API_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

typedef struct tr_manage_api tr_manage_api;

/* Adds POST /api/manage to srv (before it starts), over the store at store_path opened
 * read-write on the first request. Every request needs "Authorization: Bearer TOKEN"; with
 * token_len 0 (traild --http-no-auth) each one is refused (403). 0 or an nng error. */
int tr_manage_api_register(nng_http_server *srv, const char *store_path, const uint8_t *token,
                           size_t token_len, tr_manage_api **out);
void tr_manage_api_free(tr_manage_api *m);

#endif
