/* http_client.h - one JSON document POSTed to an http:// endpoint (http_client.c): OpenLineage's
 * /api/v1/lineage, traild's /api/manage. */
#ifndef TR_HTTP_CLIENT_H
#define TR_HTTP_CLIENT_H

#include <stddef.h>

/* POSTs body to url ("http://HOST[:PORT][/PATH]"), with "Authorization: Bearer token" unless
 * token is NULL, and a timeout of timeout_s seconds on the connection, the send and each read;
 * the HTTP status (the reply's body in *reply, malloc'd, when reply is not NULL), or -1 with why
 * filled. */
int tr_http_post(const char *url, const char *token, const char *body, int timeout_s, char **reply,
                 char *why, size_t wn);
/* 0 when url is an http:// URL tr_http_post can send to, else -1. */
int tr_http_url_ok(const char *url);

#endif
