/* deliver.h - delivery of spool directories through a sink, the collector link, and the one
 * loop that `trail run`, `trail sync` and `trail agent` share. */
#ifndef TR_DELIVER_H
#define TR_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "sink.h"
#include "spool.h"

/* Options shared by `trail run --collector`, `trail agent` and `trail sync --collector`. */
typedef struct tr_link_opts {
    const char *url;        /* tcp://, tls+tcp://, ipc:// or a bare port (127.0.0.1) */
    const char *token_file; /* NULL: $TRAIL_TOKEN_FILE, else no token */
    const char *tls_ca;     /* NULL: $TRAIL_TLS_CA (needed for tls+tcp://) */
    int timeout_ms;         /* one request and its ack (0: 10000) */
} tr_link_opts;

/* "--collector URL --token-file F --tls-ca F" as entries of an option table (common/opts.h)
 * for the option struct T whose tr_link_opts field is F. */
#define TR_LINK_OPTS(T, F)                                                                         \
    TR_VALUE("collector", "URL", T, F.url, "traild (URL,URL: fail over; $TRAIL_COLLECTOR)"),       \
        TR_VALUE("token-file", "F", T, F.token_file, "the collector's token ($TRAIL_TOKEN_FILE)"), \
        TR_VALUE("tls-ca", "F", T, F.tls_ca, "CA of a tls+tcp:// collector ($TRAIL_TLS_CA)")
/* The collector sink (link.c): loads the token (which must be private), sets up TLS and starts
 * dialing in the background: an absent collector is not an error here. err gets one line on
 * failure. */
int tr_sink_link_open(tr_sink **out, const tr_link_opts *o, char *err, size_t errlen);
/* 1 when the link is connected; waits until connected or the deadline (CLOCK_MONOTONIC ns). */
int tr_sink_link_connected(tr_sink *s);
int tr_sink_link_wait(tr_sink *s, int64_t deadline_ns, volatile int *stop);

struct tr_enrich;

/* Delivers one spool directory (one run) through a sink. Holds an exclusive flock on the
 * directory so two agents never send the same stream at once. Records are noted for
 * enrichment (hashes, dependencies, git) once delivered; what enrichment finds is appended to
 * the directory as the agent's own stream and delivered the same way. */
typedef struct tr_deliver {
    char dir[4096];
    int dirfd;
    tr_spool_reader *reader;
    tr_sink *sink;
    struct tr_enrich *enrich;
    uint64_t acked, stored, duplicates, undecodable, batches;
    uint64_t refused; /* segments the sink refused (another owner's): kept, not delivered */
    uint64_t dropped, batch_dropped; /* records writers lost, by their DROPPED records */
    uint64_t damaged_sent;           /* damaged frames already reported as a DROPPED record */
    int64_t budget_check_ns;         /* next look for the spool root's over-budget note */
    int last_err;                    /* TRAIL_E* of the last failed attempt, 0 after a success */
    int more; /* the last pump stopped at a full batch of the sink: records are waiting */
    char last_msg[1400]; /* why it failed, one line */
} tr_deliver;

/* The run id the directory is named by (a run's records belong to it), NULL if it is none. */
const char *tr_deliver_run(const tr_deliver *d);
/* TRAIL_EBUSY when another process delivers this directory. */
int tr_deliver_open(tr_deliver *d, const char *dir, tr_sink *sink);
void tr_deliver_close(tr_deliver *d);
/* Sends one batch and waits for it to be durable, at most until deadline_ns (0: the sink's
 * own timeout). On success the spool advances (segments may be removed) and the batch's
 * enrichment is appended; on failure it rewinds (and a link backs off). Returns records
 * delivered (>0), 0 when nothing is waiting, TRAIL_EAGAIN while backing off or not connected,
 * or another negative TRAIL_E* (d->last_msg says why). */
long tr_deliver_pump(tr_deliver *d, int64_t deadline_ns);
/* Pumps until nothing committed is left, or the deadline passes, or *stop is set. Returns 0
 * when the spool has nothing more to send now, else the last error (records stay). */
int tr_deliver_drain(tr_deliver *d, int64_t deadline_ns, volatile int *stop);
/* `trail run` after CMD ended: delivers for up to drain_s seconds and waits at most live_s
 * for processes CMD left behind; says on stderr what stays in the spool and why. Returns the
 * number of segments left. */
int tr_deliver_finish_run(tr_deliver *d, double drain_s, double live_s);
/* Segments not yet fully delivered and removed (1 at least while the last batch's files are
 * being hashed) / of them, those still being written. */
int tr_deliver_pending(tr_deliver *d);
int tr_deliver_live_writers(tr_deliver *d);

/* What `trail sync` and `trail agent` deliver, and where: into the store at `store` (or each
 * run's own), or to the collector at link.url. */
typedef struct tr_deliver_req {
    const char *store; /* --store PATH */
    tr_link_opts link; /* --collector URL [--token-file F] [--tls-ca F] */
    const char *root;  /* --spool-root DIR (NULL: the node's spool root) */
    double timeout_s;  /* sync: how long to keep trying (0: 30 s) */
} tr_deliver_req;

/* Delivers every run directory under the spool root once (agentd.c), with one line saying
 * what was delivered and what stays. Returns the exit status. */
int tr_agent_sync(const tr_deliver_req *req);
/* `trail agent`: follows the spool root and delivers every run until SIGTERM/SIGINT. */
int tr_cmd_agent(int argc, char **argv);
/* Names of the marker files a run directory carries: bound to a collector (holds the URL) or
 * to a local store (holds its absolute path). */
#define TR_COLLECTOR_MARK "collector"
#define TR_STORE_MARK "dest"

#endif
