/* guard.c - traild's connection bounds: admission limits, idle timeout before a valid batch. */
#include "guard.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "util.h"

typedef struct slot {
    int id; /* nng pipe id; 0: free */
    nng_pipe pipe;
    int64_t added_ns, closed_ns;
    int authed, posted, closing;
} slot;

struct tr_guard {
    tr_guard_conf conf;
    slot *slots;
    int nused, nunauth, nposted;
    uint64_t refused, idle_closed, removed_since_trim;
    int64_t last_removed_ns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t reaper;
    int reaper_started, quit;
};

static slot *find(tr_guard *g, int id)
{
    for (int i = 0; i < g->conf.max_conns; i++)
        if (g->slots[i].id == id) return &g->slots[i];
    return NULL;
}

/* Admits p unless max_conns are connected or max_unauth connections have not proven
 * themselves yet; a refused pipe is closed here, in NNG_PIPE_EV_ADD_PRE, the one place nng 1.5
 * takes it back cleanly (closing, from another thread, pipes that are receiving a large
 * message stalls nng's reaper under load, so no pending connection is evicted to make room:
 * the idle timeout frees the slots). */
int tr_guard_admit(tr_guard *g, nng_pipe p)
{
    int id = nng_pipe_id(p), why = 0;
    pthread_mutex_lock(&g->mu);
    slot *s = g->nused >= g->conf.max_conns ? NULL : find(g, 0);
    if (!s)
        why = TR_GUARD_FULL;
    else if (g->nunauth >= g->conf.max_unauth)
        why = TR_GUARD_BUSY;
    if (why) {
        g->refused++;
    } else {
        memset(s, 0, sizeof *s);
        s->id = id;
        s->pipe = p;
        s->added_ns = tr_mono_ns();
        g->nused++;
        g->nunauth++;
    }
    pthread_mutex_unlock(&g->mu);
    if (why) nng_pipe_close(p);
    return why;
}

int tr_guard_posted(tr_guard *g, nng_pipe p)
{
    pthread_mutex_lock(&g->mu);
    slot *s = find(g, nng_pipe_id(p));
    if (s && !s->posted) {
        s->posted = 1;
        g->nposted++;
    }
    pthread_mutex_unlock(&g->mu);
    return s != NULL;
}

int tr_guard_remove(tr_guard *g, nng_pipe p)
{
    int posted = 0;
    pthread_mutex_lock(&g->mu);
    slot *s = find(g, nng_pipe_id(p));
    if (s) {
        posted = s->posted;
        if (posted) g->nposted--;
        if (!s->authed && !s->closing) g->nunauth--;
        g->nused--;
        g->removed_since_trim++;
        g->last_removed_ns = tr_mono_ns();
        memset(s, 0, sizeof *s);
    }
    pthread_mutex_unlock(&g->mu);
    return posted;
}

void tr_guard_authed(tr_guard *g, nng_pipe p)
{
    pthread_mutex_lock(&g->mu);
    slot *s = find(g, nng_pipe_id(p));
    if (s && !s->authed) {
        s->authed = 1;
        if (!s->closing) g->nunauth--;
    }
    pthread_mutex_unlock(&g->mu);
}

void tr_guard_counts(tr_guard *g, uint64_t *refused, uint64_t *idle_closed, int *pending,
                     int *connections)
{
    pthread_mutex_lock(&g->mu);
    *connections = g->nposted;
    *refused = g->refused;
    *idle_closed = g->idle_closed;
    *pending = g->nunauth;
    pthread_mutex_unlock(&g->mu);
}

/* A safety net: a slot closed over a second ago whose pipe nng no longer knows (its removal
 * was never announced by NNG_PIPE_EV_REM_POST) is freed, so a lost event cannot leak a slot. */
static void reclaim(tr_guard *g, int64_t now)
{
    for (int i = 0; i < g->conf.max_conns; i++) {
        slot *s = &g->slots[i];
        nng_sockaddr sa;
        if (!s->id || !s->closing || now - s->closed_ns < 1000000000LL) continue;
        int rv = nng_pipe_get_addr(s->pipe, NNG_OPT_REMADDR, &sa);
        if (rv != NNG_ENOENT && rv != NNG_ECLOSED) continue;
        if (s->posted) g->nposted--;
        g->nused--;
        g->removed_since_trim++;
        g->last_removed_ns = now;
        memset(s, 0, sizeof *s);
    }
}

/* Closes pipes that have not delivered a valid batch within the idle timeout, and hands
 * memory freed by closed connections back to the system (nng's receive buffers are
 * malloc'd, and glibc keeps freed heap pages otherwise). */
static void *reaper_main(void *arg)
{
    tr_guard *g = arg;
    nng_pipe *victims = calloc((size_t)g->conf.max_conns, sizeof *victims);
    int64_t idle_ns = (int64_t)(g->conf.idle_s * 1e9);
    pthread_mutex_lock(&g->mu);
    while (!g->quit) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += 250 * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &dl);
        if (g->quit) break;
        int n = 0;
        int64_t now = tr_mono_ns();
        for (int i = 0; victims && idle_ns > 0 && i < g->conf.max_conns; i++) {
            slot *s = &g->slots[i];
            if (s->id && s->posted && !s->authed && !s->closing && now - s->added_ns > idle_ns) {
                victims[n++] = s->pipe;
                s->closing = 1; /* closed once; the slot goes when nng removes the pipe */
                s->closed_ns = now;
                g->nunauth--;
            }
        }
        g->idle_closed += (uint64_t)n;
        reclaim(g, now);
        /* once removals have been quiet for half a second (nng frees a closed pipe's
         * buffers after announcing its removal) */
        int trim = g->removed_since_trim > 0 && now - g->last_removed_ns > 500000000LL;
        if (trim) g->removed_since_trim = 0;
        pthread_mutex_unlock(&g->mu);
        for (int i = 0; i < n; i++)
            nng_pipe_close(victims[i]);
#ifdef __GLIBC__
        if (trim) malloc_trim(0);
#endif
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    free(victims);
    return NULL;
}

int tr_guard_start(tr_guard **out, const tr_guard_conf *c)
{
    *out = NULL;
    tr_guard *g = calloc(1, sizeof *g);
    if (!g) return -1;
    g->conf = *c;
    if (g->conf.max_conns <= 0) g->conf.max_conns = TR_GUARD_DEFAULT_CONNS;
    if (g->conf.max_unauth <= 0) g->conf.max_unauth = TR_GUARD_DEFAULT_PENDING;
    g->slots = calloc((size_t)g->conf.max_conns, sizeof *g->slots);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    if (!g->slots || pthread_create(&g->reaper, NULL, reaper_main, g) != 0) {
        tr_guard_stop(g);
        return -1;
    }
    g->reaper_started = 1;
    *out = g;
    return 0;
}

void tr_guard_stop(tr_guard *g)
{
    if (!g) return;
    pthread_mutex_lock(&g->mu);
    g->quit = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (g->reaper_started) pthread_join(g->reaper, NULL);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g->slots);
    free(g);
}
