/* server.h - traild internals: the nng batch server, its store worker, HTTP endpoints, logging. */
#ifndef TR_SERVER_H
#define TR_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define TR_SRV_MAX_LISTEN 16
#define TR_SRV_TOKEN_MAX 4096

typedef struct tr_srv_conf {
    const char *listen[TR_SRV_MAX_LISTEN]; /* URLs, already normalised (tr_srv_normalize_url) */
    int nlisten;
    const uint8_t *token; /* NULL: no authentication (warned at start) */
    size_t token_len;
    const struct tr_agent_keys *agents; /* --agent-tokens: hosts with a token of their own */
    const char *tls_cert, *tls_key;     /* PEM files, needed for tls+tcp:// */
    size_t max_bytes;                   /* largest batch answered with a reason */
    uint32_t max_records;
    int contexts;   /* requests served at once (nng contexts) */
    int max_conns;  /* connections at once (0: TR_GUARD_DEFAULT_CONNS) */
    int max_unauth; /* of them not yet proven by a valid batch (0: TR_GUARD_DEFAULT_PENDING) */
    double idle_s;  /* such a connection is closed after this long (<0: never, 0: default) */
} tr_srv_conf;

typedef struct tr_srv_counters {
    uint64_t records;    /* stored */
    uint64_t duplicates; /* dropped by (stream id, seq) */
    uint64_t batches;    /* acknowledged */
    uint64_t rejected;   /* refused with a reason */
    uint64_t store_errors;
    uint64_t connects, disconnects;
    int queue;              /* batches waiting for the store */
    int connections;        /* agents connected now */
    uint64_t refused_conns; /* refused: --max-connections were connected */
    uint64_t idle_closed;   /* closed for not delivering a valid batch in time */
    int pending;            /* connections not yet proven */
} tr_srv_counters;

typedef struct tr_srv tr_srv;

/* Opens the socket, starts every listener, the contexts and the store worker (which owns
 * store until tr_srv_stop). On failure err holds one line. */
int tr_srv_start(tr_srv **out, const tr_srv_conf *c, tr_store *store, char *err, size_t errlen);
/* Graceful stop: no new connections, every batch already received is committed and
 * answered, then the socket closes. The last counters go to final (may be NULL). Frees s. */
void tr_srv_stop(tr_srv *s, tr_srv_counters *final);
void tr_srv_get_counters(tr_srv *s, tr_srv_counters *out);
/* The largest message nng reads for a --max-message of max_bytes; a connection announcing a
 * larger one is dropped before anything is buffered. */
size_t tr_srv_hard_max(size_t max_bytes);

/* One log line on stderr: "traild: TIME LEVEL message". Thread-safe. */
void tr_srv_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* HTTP: GET /health, /api/runs, /api/runs/ID on addr ("PORT", "HOST:PORT" or an http://
 * URL; a bare port binds 127.0.0.1). The API opens store_path read-only. With a token
 * (token_len > 0) every /api request must carry "Authorization: Bearer TOKEN"; with none
 * the API is open (traild only allows that with --http-no-auth). POST /api/manage needs
 * manage_token instead (none: it refuses every request). */
typedef struct tr_http tr_http;
int tr_http_start(tr_http **out, const char *addr, const char *store_path, tr_srv *srv,
                  const uint8_t *token, size_t token_len, const uint8_t *manage_token,
                  size_t manage_len, char *err, size_t errlen);
void tr_http_stop(tr_http *h);

#endif
