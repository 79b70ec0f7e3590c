/* link.c - the collector sink: spool records to traild over nng in acknowledged batches,
 * at-least-once and in order, with backoff and a fresh socket when nng 1.5 stalls. */
#include "deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "record.h"
#include "trail.h"
#include "util.h"

#define BACKOFF_MIN_NS (100 * 1000000LL)
#define BACKOFF_MAX_NS (2000 * 1000000LL)
#define REDIAL_NS (5000 * 1000000LL)
#define FAILOVER_NS (1000 * 1000000LL) /* with several collectors: move on after this */
#define MAX_URLS 8
#define MIN_BATCH_BYTES (TR_BATCH_HDR_SIZE + TR_BATCH_HOST_MAX + TR_BATCH_REC_HDR + TR_REC_MAX_SIZE)

/* One nng socket generation and its connection count (pipe callbacks point here). */
typedef struct sockref {
    nng_socket sock;
    int pipes, refs, done;
} sockref;

typedef struct tr_link {
    tr_sink base;
    char url[1024];            /* the collector dialed now: urls[cur] */
    char urls[MAX_URLS][1024]; /* --collector URL[,URL...]: the first that answers is used */
    nng_tls_config *tlsv[MAX_URLS];
    int nurls, cur;
    sockref *sref; /* the current socket's connection count */
    nng_socket sock;
    nng_dialer dialer;
    nng_tls_config *tls; /* tlsv[cur] */
    uint8_t key[4096];
    size_t keylen;
    int timeout_ms;
    int timeouts;          /* exchanges in a row without any reply */
    int64_t down_since_ns; /* not connected since (0: connected) */
    int fails;
    int64_t next_try_ns;
    uint8_t *buf;
    size_t max_bytes;
    uint32_t max_records;
    /* the batch being built (one sender at a time uses the link) */
    tr_batch_enc enc;
    char stream[33];
} tr_link;

static int link_connected(tr_link *l);

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    sockref *r = arg;
    __atomic_add_fetch(&r->pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1, __ATOMIC_ACQ_REL);
}

static void sockref_put(sockref *r)
{
    if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0) free(r);
}

static void *closer_main(void *arg)
{
    sockref *r = arg;
    nng_close(r->sock);
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    sockref_put(r);
    return NULL;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* nng 1.5's nng_close can block for good on a connection it lost track of (seen after a peer
 * dropped several connections in a row mid-send): close in a helper thread and wait at most
 * wait_ms, so the agent never hangs on it. */
static void close_bounded(sockref *r, int wait_ms)
{
    pthread_t t;
    pthread_attr_t a;
    r->refs = 2;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &a, closer_main, r);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        r->refs = 1;
        closer_main(r);
        return;
    }
    for (int i = 0; i < wait_ms / 10 && !__atomic_load_n(&r->done, __ATOMIC_ACQUIRE); i++)
        nap_ms(10);
    sockref_put(r);
}

/* TLS: verify traild's certificate against the CA file, for the host named in the URL. */
static int setup_tls(tr_link *l, const char *ca, char *err, size_t errlen)
{
    char host[256] = "";
    const char *h = strstr(l->url, "://") + 3;
    const char *end = h[0] == '[' ? strchr(h, ']') : strrchr(h, ':');
    size_t n = end ? (size_t)(end - h) : strlen(h);
    if (h[0] == '[') h++, n = n ? n - 1 : 0;
    snprintf(host, sizeof host, "%.*s", (int)n, h);
    const char *name = getenv("TRAIL_TLS_SERVER_NAME");
    if (!ca || !*ca) {
        snprintf(err, errlen,
                 "%s needs the CA that signed traild's certificate: --tls-ca FILE "
                 "or TRAIL_TLS_CA",
                 l->url);
        return TRAIL_EINVAL;
    }
    int rv = nng_tls_config_alloc(&l->tls, NNG_TLS_MODE_CLIENT);
    if (!rv) rv = nng_tls_config_auth_mode(l->tls, NNG_TLS_AUTH_MODE_REQUIRED);
    if (!rv) rv = nng_tls_config_ca_file(l->tls, ca);
    if (!rv) rv = nng_tls_config_server_name(l->tls, name && *name ? name : host);
    if (rv) {
        snprintf(err, errlen, "TLS CA file %s: %s", ca, nng_strerror(rv));
        return TRAIL_EINVAL;
    }
    return 0;
}

/* A fresh req0 socket dialing in the background (an absent collector is no error). */
static int dial(tr_link *l)
{
    sockref *r = calloc(1, sizeof *r);
    if (!r) return NNG_ENOMEM;
    int rv = nng_req0_open(&l->sock);
    if (rv) {
        free(r);
        return rv;
    }
    r->sock = l->sock;
    l->sref = r;
    nng_socket_set_ms(l->sock, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(l->sock, NNG_OPT_RECONNMAXT, 1000);
    nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, 64 * 1024);
    nng_pipe_notify(l->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, r);
    nng_pipe_notify(l->sock, NNG_PIPE_EV_REM_POST, pipe_cb, r);
    rv = nng_dialer_create(&l->dialer, l->sock, l->url);
    if (!rv && l->tls) rv = nng_dialer_set_ptr(l->dialer, NNG_OPT_TLS_CONFIG, l->tls);
    if (!rv) rv = nng_dialer_start(l->dialer, NNG_FLAG_NONBLOCK);
    l->down_since_ns = tr_mono_ns();
    return rv;
}

/* nng 1.5's dialer can stop redialing after a peer closes connections in quick succession
 * (and a half-open connection never answers): after REDIAL_NS without a connection, or
 * after repeated timeouts, start over with a new socket. With several collectors, the next
 * one is dialed instead, after FAILOVER_NS or one timeout: a dead collector is left quickly.
 * Nothing is in flight here; a batch whose ack was lost is sent again to the next one, and
 * (stream, seq) keeps it stored once. */
static void heal(tr_link *l)
{
    int64_t now = tr_mono_ns();
    int many = l->nurls > 1;
    if (link_connected(l))
        l->down_since_ns = 0;
    else if (!l->down_since_ns)
        l->down_since_ns = now;
    if ((!l->down_since_ns || now - l->down_since_ns < (many ? FAILOVER_NS : REDIAL_NS)) &&
        l->timeouts < (many ? 1 : 2))
        return;
    if (l->sref) close_bounded(l->sref, 0);
    l->sref = NULL;
    l->timeouts = 0;
    if (many) {
        l->cur = (l->cur + 1) % l->nurls;
        memcpy(l->url, l->urls[l->cur], sizeof l->url);
        l->tls = l->tlsv[l->cur];
    }
    if (dial(l) != 0) l->down_since_ns = now; /* try again later */
}

static void backoff(tr_link *l)
{
    int64_t d = BACKOFF_MIN_NS << (l->fails < 10 ? l->fails : 10);
    if (d > BACKOFF_MAX_NS) d = BACKOFF_MAX_NS;
    uint32_t r = (uint32_t)rand();
    d = d / 2 + (int64_t)((double)r / RAND_MAX * (double)(d / 2)); /* jitter: [d/2, d] */
    l->fails++;
    l->next_try_ns = tr_mono_ns() + d;
}

/* One request and its reply; 0 with *rep filled, or a TRAIL_E* code (why says more). */
static int exchange(tr_link *l, size_t len, int64_t deadline, tr_batch_reply *rep, char *why,
                    size_t n)
{
    int64_t t = l->timeout_ms;
    if (deadline) {
        int64_t rem = (deadline - tr_mono_ns()) / 1000000;
        if (rem < t) t = rem < 50 ? 50 : rem;
    }
    nng_socket_set_ms(l->sock, NNG_OPT_SENDTIMEO, (nng_duration)t);
    nng_socket_set_ms(l->sock, NNG_OPT_RECVTIMEO, (nng_duration)t);
    nng_msg *m = NULL, *r = NULL;
    int rv = nng_msg_alloc(&m, 0);
    if (!rv) rv = nng_msg_append(m, l->buf, len);
    if (!rv) rv = nng_sendmsg(l->sock, m, 0);
    if (rv) {
        if (m) nng_msg_free(m);
        snprintf(why, n, "sending to %s: %s", l->url, nng_strerror(rv));
        return rv == NNG_ETIMEDOUT ? TRAIL_ETIMEDOUT : TRAIL_EIO;
    }
    if ((rv = nng_recvmsg(l->sock, &r, 0)) != 0) {
        snprintf(why, n, "no acknowledgement from %s: %s", l->url, nng_strerror(rv));
        l->timeouts += rv == NNG_ETIMEDOUT;
        return rv == NNG_ETIMEDOUT ? TRAIL_ETIMEDOUT : TRAIL_EIO;
    }
    l->timeouts = 0;
    const uint8_t *b = nng_msg_body(r);
    size_t rl = nng_msg_len(r);
    int rc = tr_batch_reply_parse(b, rl, rep);
    if (rc) snprintf(why, n, "unreadable reply from %s", l->url);
    /* With a token, only an ack macced by the same token, bound to this request, counts. */
    else if (rep->status == TR_BATCH_OK && l->keylen &&
             (!(rep->flags & TR_BATCH_F_MAC) ||
              !tr_batch_verify(l->key, l->keylen, b, rl, l->buf + TR_BATCH_MAC_OFF,
                               TR_BATCH_MAC_LEN))) {
        snprintf(why, n, "acknowledgement from %s is not authenticated by our token", l->url);
        rc = TRAIL_EAUTH;
    }
    nng_msg_free(r);
    return rc;
}

static void link_close(tr_sink *s);
static const tr_sink_vt link_vt;

int tr_sink_link_open(tr_sink **out, const tr_link_opts *o, char *err, size_t errlen)
{
    *out = NULL;
    tr_link *l = calloc(1, sizeof *l);
    if (!l || !(l->buf = malloc(TR_BATCH_SEND_BYTES))) {
        if (l) free(l);
        snprintf(err, errlen, "out of memory");
        return TRAIL_ENOMEM;
    }
    int rc = TRAIL_EINVAL, rv;
    l->max_bytes = TR_BATCH_SEND_BYTES;
    l->max_records = TR_BATCH_SEND_RECORDS;
    l->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    const char *tf = o->token_file ? o->token_file : getenv("TRAIL_TOKEN_FILE");
    if (tf && *tf && (rc = tr_batch_load_token(tf, l->key, sizeof l->key, &l->keylen, err, errlen)))
        goto fail;
    const char *ca = o->tls_ca ? o->tls_ca : getenv("TRAIL_TLS_CA");
    for (const char *u = o->url ? o->url : ""; l->nurls == 0 || *u;) {
        size_t n = strcspn(u, ",");
        char one[1024];
        snprintf(one, sizeof one, "%.*s", (int)n, u);
        if (l->nurls == MAX_URLS || tr_batch_normalize_url(one, l->url, sizeof l->url) != 0) {
            snprintf(err, errlen,
                     l->nurls == MAX_URLS
                         ? "too many collectors in '%s' (at most 8)"
                         : "bad collector URL '%s': use tcp://HOST:PORT, tls+tcp://HOST:PORT, "
                           "ipc:///PATH or a port (several: URL,URL)",
                     l->nurls == MAX_URLS ? o->url : one);
            rc = TRAIL_EINVAL;
            goto fail;
        }
        l->tls = NULL;
        if (!strncmp(l->url, "tls+", 4) && (rc = setup_tls(l, ca, err, errlen))) {
            if (l->tls) nng_tls_config_free(l->tls);
            l->tls = NULL;
            goto fail;
        }
        memcpy(l->urls[l->nurls], l->url, sizeof l->url);
        l->tlsv[l->nurls++] = l->tls;
        u += n;
        if (*u == ',') u++;
    }
    memcpy(l->url, l->urls[0], sizeof l->url);
    l->tls = l->tlsv[0];
    if ((rv = dial(l)) != 0) {
        snprintf(err, errlen, "cannot dial %s: %s", l->url, nng_strerror(rv));
        rc = TRAIL_EINVAL;
        goto fail;
    }
    srand((unsigned)(tr_now_ns() ^ getpid()));
    l->base.vt = &link_vt;
    snprintf(l->base.name, sizeof l->base.name, "%s", o->url);
    l->base.leftover = "`trail agent` or `trail sync --collector URL`";
    *out = &l->base;
    return 0;
fail:
    l->base.vt = &link_vt;
    link_close(&l->base);
    return rc;
}

static void link_close(tr_sink *s)
{
    tr_link *l = (tr_link *)s;
    if (!l) return;
    if (l->sref) close_bounded(l->sref, 2000);
    for (int i = 0; i < l->nurls; i++)
        if (l->tlsv[i]) nng_tls_config_free(l->tlsv[i]);
    memset(l->key, 0, sizeof l->key);
    free(l->buf);
    free(l);
}

static int link_connected(tr_link *l)
{
    return l->sref && __atomic_load_n(&l->sref->pipes, __ATOMIC_ACQUIRE) > 0;
}

int tr_sink_link_connected(tr_sink *s)
{
    return s && s->vt == &link_vt && link_connected((tr_link *)s);
}

int tr_sink_link_wait(tr_sink *s, int64_t deadline_ns, volatile int *stop)
{
    tr_link *l = (tr_link *)s;
    while (!link_connected(l)) {
        if (tr_mono_ns() >= deadline_ns || (stop && *stop)) return 0;
        nap_ms(20);
    }
    return 1;
}

/* Sink: records of one stream go into the batch until a limit is reached. */
static int link_add(tr_sink *s, const tr_seg_info *seg, uint64_t seq, const uint8_t *body,
                    size_t len, const tr_rec *rec)
{
    tr_link *l = (tr_link *)s;
    (void)rec;
    if (l->enc.nrec == 0) {
        tr_batch_hdr h;
        memset(&h, 0, sizeof h);
        snprintf(h.stream_id, sizeof h.stream_id, "%s", seg->stream_id);
        snprintf(h.run_id, sizeof h.run_id, "%s", seg->run_id);
        snprintf(h.host, sizeof h.host, "%s", seg->host);
        /* who vouches for it: this agent (its own host name, whatever the writer declared)
         * and the owner of the directory it read the segment from */
        h.has_agent = 1;
        h.uid = (uint32_t)seg->uid;
        tr_hostname(h.agent_host, sizeof h.agent_host);
        if (!h.agent_host[0]) snprintf(h.agent_host, sizeof h.agent_host, "?");
        h.pid = seg->pid;
        h.sent_ns = tr_now_ns();
        if (tr_batch_enc_init(&l->enc, l->buf, l->max_bytes, &h) != 0) return 1;
        memcpy(l->stream, h.stream_id, sizeof l->stream);
    } else if (strcmp(seg->stream_id, l->stream) != 0 || l->enc.nrec >= l->max_records) {
        return 1; /* the next batch starts here */
    }
    return tr_batch_enc_add(&l->enc, seq, body, len) == 0 ? 0 : 1;
}

static int status_err(int st)
{
    switch (st) {
    case TR_BATCH_ENOAUTH:
    case TR_BATCH_EAUTH:
        return TRAIL_EAUTH;
    case TR_BATCH_ETOOBIG:
    case TR_BATCH_ETOOMANY:
        return TRAIL_ETOOBIG;
    case TR_BATCH_ESTORE:
        return TRAIL_ESTORE;
    case TR_BATCH_ESHUTDOWN:
        return TRAIL_ECLOSED;
    default:
        return TRAIL_EPROTO;
    }
}

static int link_ready(tr_sink *s, char *why, size_t n)
{
    tr_link *l = (tr_link *)s;
    if (tr_mono_ns() < l->next_try_ns) return TRAIL_EAGAIN;
    heal(l);
    if (link_connected(l)) return 0;
    snprintf(why, n, "collector %s is not reachable%s", l->url,
             l->tls ? " (or it failed TLS verification: check --tls-ca, and "
                      "TRAIL_TLS_SERVER_NAME when the certificate does not name the host)"
                    : "");
    return TRAIL_EAGAIN;
}

static int link_begin(tr_sink *s)
{
    tr_link *l = (tr_link *)s;
    memset(&l->enc, 0, sizeof l->enc);
    return 0;
}

static void link_abort(tr_sink *s)
{
    tr_link *l = (tr_link *)s;
    memset(&l->enc, 0, sizeof l->enc);
}

/* Sends the batch and waits for its acknowledgement, which traild gives after its commit. */
static int link_commit(tr_sink *s, int64_t deadline_ns, uint64_t *stored, uint64_t *dups, char *why,
                       size_t n)
{
    tr_link *l = (tr_link *)s;
    if (l->enc.nrec == 0) return 0;
    uint64_t last = l->enc.last_seq;
    size_t len = tr_batch_enc_finish(&l->enc, l->keylen ? l->key : NULL, l->keylen);
    memset(&l->enc, 0, sizeof l->enc);
    tr_batch_reply rep;
    int rc = exchange(l, len, deadline_ns, &rep, why, n);
    if (rc == 0 && rep.status == TR_BATCH_OK && rep.acked_seq == last) {
        *stored = rep.stored;
        *dups = rep.duplicates;
        l->fails = 0;
        return 0;
    }
    if (rc == 0 && rep.status == TR_BATCH_OK) {
        snprintf(why, n, "collector %s acknowledged the wrong batch", l->url);
        rc = TRAIL_EPROTO;
    } else if (rc == 0) {
        snprintf(why, n, "collector %s refused a batch: %s", l->url,
                 rep.msg[0] ? rep.msg : tr_batch_status_name(rep.status));
        rc = status_err(rep.status);
        if (rc == TRAIL_ETOOBIG) { /* the collector has lower limits: send smaller batches */
            l->max_bytes = l->max_bytes / 2 > MIN_BATCH_BYTES ? l->max_bytes / 2 : MIN_BATCH_BYTES;
            l->max_records = l->max_records / 2 ? l->max_records / 2 : 1;
        }
    }
    backoff(l);
    return rc;
}

/* The collector keeps no cache the agent can ask: enrichment computes what it needs. */
static const tr_sink_vt link_vt = {
    .kind = "collector",
    .ready = link_ready,
    .begin = link_begin,
    .add = link_add,
    .commit = link_commit,
    .abort = link_abort,
    .close = link_close,
};
