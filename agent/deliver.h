/* deliver.h - delivery of spooled records to traild: the nng link and per-directory senders. */
#ifndef TR_DELIVER_H
#define TR_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"

/* Options shared by `trail run --collector`, `trail agent` and `trail sync --collector`. */
typedef struct tr_link_opts {
    const char *url;        /* tcp://, tls+tcp://, ipc:// or a bare port (127.0.0.1) */
    const char *token_file; /* NULL: $TRAIL_TOKEN_FILE, else no token */
    const char *tls_ca;     /* NULL: $TRAIL_TLS_CA (needed for tls+tcp://) */
    int timeout_ms;         /* one request and its ack (0: 10000) */
} tr_link_opts;

/* One connection to the collector (nng req0), with retry backoff shared by all senders. */
typedef struct tr_link tr_link;

/* Parses "--collector URL --token-file F --tls-ca F" style options at argv[*i]; returns 1
 * when it consumed one (advancing *i), 0 when argv[*i] is not one of them, -1 when the
 * value is missing. */
int tr_link_parse_opt(tr_link_opts *o, int argc, char **argv, int *i);
/* Loads the token (which must be private), sets up TLS and starts dialing in the background:
 * an absent collector is not an error here. err gets one line on failure. */
int tr_link_open(tr_link **out, const tr_link_opts *o, char *err, size_t errlen);
void tr_link_close(tr_link *l);
const char *tr_link_url(const tr_link *l);
int tr_link_connected(tr_link *l);
/* Waits until connected or the deadline (CLOCK_MONOTONIC ns); 1 when connected. */
int tr_link_wait(tr_link *l, int64_t deadline_ns, volatile int *stop);

/* Delivers one spool directory (one run). Holds an exclusive flock on the directory so two
 * agents never send the same stream at once. */
typedef struct tr_deliver {
    char dir[4096];
    int dirfd;
    tr_spool_reader *reader;
    tr_link *link;
    uint64_t acked, stored, duplicates, undecodable, batches;
    int64_t budget_check_ns; /* next look for the spool root's over-budget note */
    int last_err;            /* TRAIL_E* of the last failed attempt, 0 after a success */
    char last_msg[1400];     /* why it failed, one line */
} tr_deliver;

/* TRAIL_EBUSY when another process delivers this directory. */
int tr_deliver_open(tr_deliver *d, const char *dir, tr_link *link);
void tr_deliver_close(tr_deliver *d);
/* Sends one batch (records of one stream) and waits for its ack, at most until deadline_ns
 * (0: the link's timeout). On ack the spool advances (segments may be removed); on failure
 * it rewinds and the link backs off (exponential, with jitter). Returns records acked (>0),
 * 0 when nothing is waiting, TRAIL_EAGAIN while backing off or not connected, or another
 * negative TRAIL_E* (d->last_msg says why). */
long tr_deliver_pump(tr_deliver *d, int64_t deadline_ns);
/* Pumps until nothing committed is left, or the deadline passes, or *stop is set. Returns 0
 * when the spool has nothing more to send now, else the last error (records stay). */
int tr_deliver_drain(tr_deliver *d, int64_t deadline_ns, volatile int *stop);
/* `trail run --collector` after CMD ended: delivers for up to drain_s seconds and waits at
 * most live_s for processes CMD left behind; says on stderr what stays in the spool and why.
 * Returns the number of segments left. */
int tr_deliver_finish_run(tr_deliver *d, double drain_s, double live_s);
/* Segments not yet fully delivered and removed / of them, those still being written. */
int tr_deliver_pending(tr_deliver *d);
int tr_deliver_live_writers(tr_deliver *d);

/* `trail agent` and `trail sync --collector` (agentd.c). */
int tr_cmd_agent(int argc, char **argv);
int tr_cmd_sync_collector(int argc, char **argv);
/* 1 when argv has --collector (then `trail sync` is tr_cmd_sync_collector). */
int tr_sync_wants_collector(int argc, char **argv);
/* Name of the marker file a run directory bound to a collector carries (holds the URL). */
#define TR_COLLECTOR_MARK "collector"

#endif
