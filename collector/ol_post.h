/* ol_post.h - one JSON document POSTed to an http:// endpoint (OpenLineage's /api/v1/lineage):
 * `trail export openlineage --url` and traild --openlineage-url (ol_post.c). */
#ifndef TR_OL_POST_H
#define TR_OL_POST_H

#include <stddef.h>

/* POSTs body to url ("http://HOST[:PORT][/PATH]") with a timeout of timeout_s seconds on the
 * connection, the send and the reply; the HTTP status, or -1 with why filled. */
int tr_ol_post(const char *url, const char *body, int timeout_s, char *why, size_t wn);
/* 0 when url is an http:// URL tr_ol_post can send to, else -1. */
int tr_ol_url_ok(const char *url);

#endif
