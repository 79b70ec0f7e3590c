/* guard.h - traild's connection bounds: how many agents, how many not yet proven, how long. */
#ifndef TR_GUARD_H
#define TR_GUARD_H

#include <nng/nng.h>
#include <stdint.h>

#define TR_GUARD_DEFAULT_CONNS 256
#define TR_GUARD_DEFAULT_PENDING 16
#define TR_GUARD_DEFAULT_IDLE_S 30.0

/* Why tr_guard_admit refused a pipe: max_conns connected; max_unauth not yet proven. */
enum { TR_GUARD_FULL = 1, TR_GUARD_BUSY = 2 };

typedef struct tr_guard_conf {
    int max_conns;  /* connections at once, proven or not */
    int max_unauth; /* connections that have not yet delivered a valid batch */
    double idle_s;  /* such a connection is closed after this long; 0: never */
} tr_guard_conf;

typedef struct tr_guard tr_guard;

int tr_guard_start(tr_guard **out, const tr_guard_conf *c);
void tr_guard_stop(tr_guard *g);
/* NNG_PIPE_EV_ADD_PRE: 0 when admitted, else TR_GUARD_FULL/BUSY (p is closed). */
int tr_guard_admit(tr_guard *g, nng_pipe p);
/* NNG_PIPE_EV_ADD_POST: 1 when p was admitted. */
int tr_guard_posted(tr_guard *g, nng_pipe p);
/* NNG_PIPE_EV_REM_POST: 1 when p had been admitted and announced (ADD_POST). */
int tr_guard_remove(tr_guard *g, nng_pipe p);
/* p delivered a batch that passed authentication and parsing. */
void tr_guard_authed(tr_guard *g, nng_pipe p);
/* connections: admitted and announced (ADD_POST), not yet removed. */
void tr_guard_counts(tr_guard *g, uint64_t *refused, uint64_t *idle_closed, int *pending,
                     int *connections);

#endif
