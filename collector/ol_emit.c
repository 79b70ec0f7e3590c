/* ol_emit.c - traild --openlineage-url: a thread that sends the OpenLineage RunEvents of each run
 * that ends (store/openlineage.c) to the endpoint, oldest first, from the store's outbox
 * (store/outbox.c), retrying with the agents' backoff; a run leaves the outbox only when every
 * one of its events was answered 2xx, so delivery is at-least-once across restarts. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ol_emit.h"
#include "http_client.h"
#include "outbox.h"
#include "server.h"
#include "store.h"
#include "trail.h"
#include "util.h"

#define BACKOFF_MIN_MS 100  /* the agents' rule (agent/link.c): 100 ms doubling to 2 s, */
#define BACKOFF_MAX_MS 2000 /* jittered to 50-100 % */
#define IDLE_MS 500         /* how often an empty outbox is looked at */
#define POST_TIMEOUT_S 10

struct tr_ol_emit {
    char url[2048];
    tr_store *s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit;
    unsigned seed;
};

/* Waits ms or until told to quit; 1 when quitting. */
static int pause_ms(tr_ol_emit *e, int64_t ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    int64_t ns = dl.tv_nsec + (ms % 1000) * 1000000;
    dl.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    dl.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&e->mu);
    while (!e->quit && pthread_cond_timedwait(&e->cv, &e->mu, &dl) == 0)
        ;
    int q = e->quit;
    pthread_mutex_unlock(&e->mu);
    return q;
}

/* Sends every event of run_id; 0 when all were answered 2xx, 1 when the run is gone (nothing to
 * send), -1 with why filled. */
static int send_run(tr_ol_emit *e, const char *run_id, int *sent, char *why, size_t wn)
{
    cJSON *events = NULL, *ev;
    int rc = tr_store_openlineage_json(e->s, run_id, 0, &events);
    if (rc == TRAIL_ENOTFOUND) return 1;
    if (rc) {
        snprintf(why, wn, "%s", tr_store_errmsg(e->s));
        return -1;
    }
    int failed = 0;
    *sent = 0;
    cJSON_ArrayForEach(ev, events)
    {
        char *text = cJSON_PrintUnformatted(ev);
        int status = text ? tr_http_post(e->url, NULL, text, POST_TIMEOUT_S, NULL, why, wn) : -1;
        free(text);
        if (status < 200 || status > 299) {
            if (status > 0) snprintf(why, wn, "answered HTTP %d", status);
            if (!text) snprintf(why, wn, "out of memory");
            failed = -1;
            break;
        }
        (*sent)++;
    }
    cJSON_Delete(events);
    return failed;
}

static void *emit_main(void *arg)
{
    tr_ol_emit *e = arg;
    int64_t delay = BACKOFF_MIN_MS;
    int failures = 0;
    char last_why[300] = "";
    for (;;) {
        int64_t seq;
        char run[33], why[300] = "";
        int rc = tr_store_ol_next(e->s, e->url, &seq, run), sent = 0;
        if (rc == TRAIL_ENOTFOUND) {
            if (pause_ms(e, IDLE_MS)) break;
            continue;
        }
        int res = rc ? -1 : send_run(e, run, &sent, why, sizeof why);
        if (rc) snprintf(why, sizeof why, "%s", tr_store_errmsg(e->s));
        if (res >= 0 && (rc = tr_store_ol_done(e->s, seq)) != 0) {
            snprintf(why, sizeof why, "%s", tr_store_errmsg(e->s));
            res = -1;
        }
        if (res >= 0) {
            if (failures)
                tr_srv_log("info", "openlineage: %s reachable again after %d failed attempts",
                           e->url, failures);
            if (res == 0)
                tr_srv_log("info", "openlineage: run %s: %d event(s) sent to %s", run, sent,
                           e->url);
            failures = 0;
            last_why[0] = 0;
            delay = BACKOFF_MIN_MS;
            continue;
        }
        /* one line when a streak of failures starts or its reason changes, not one per try */
        if (!failures || strcmp(why, last_why))
            tr_srv_log("warn", "openlineage: run %s not delivered to %s: %s; retrying", run, e->url,
                       why);
        snprintf(last_why, sizeof last_why, "%s", why);
        failures++;
        int64_t d = delay / 2 + (int64_t)(rand_r(&e->seed) % (unsigned)(delay / 2 + 1));
        if (pause_ms(e, d)) break;
        delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
    }
    return NULL;
}

int tr_ol_emit_start(tr_ol_emit **out, const char *url, const char *store_path, char *err,
                     size_t errlen)
{
    *out = NULL;
    if (tr_http_url_ok(url)) {
        snprintf(err, errlen, "--openlineage-url '%s': an http://HOST[:PORT]/PATH URL", url);
        return TRAIL_EINVAL;
    }
    tr_ol_emit *e = calloc(1, sizeof *e);
    if (!e) return TRAIL_ENOMEM;
    snprintf(e->url, sizeof e->url, "%s", url);
    e->seed = (unsigned)tr_now_ns();
    int rc = tr_store_open(store_path, 0, &e->s, err, errlen);
    if (!rc && (rc = tr_store_ol_target(e->s, url, tr_now_ns())) != 0)
        snprintf(err, errlen, "%s", tr_store_errmsg(e->s));
    if (rc) {
        tr_store_close(e->s);
        free(e);
        return rc;
    }
    /* counted before the thread starts: the store handle is one thread's (SQLITE_OPEN_NOMUTEX) */
    int64_t n = 0;
    tr_store_ol_pending(e->s, url, &n);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (pthread_create(&e->thread, NULL, emit_main, e) != 0) {
        snprintf(err, errlen, "cannot start the OpenLineage thread");
        tr_store_close(e->s);
        pthread_mutex_destroy(&e->mu);
        pthread_cond_destroy(&e->cv);
        free(e);
        return TRAIL_ENOMEM;
    }
    tr_srv_log("info", "openlineage: runs that end are sent to %s (%lld waiting)", url,
               (long long)n);
    *out = e;
    return 0;
}

void tr_ol_emit_stop(tr_ol_emit *e)
{
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->quit = 1;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL); /* a POST in flight ends within its timeout */
    tr_store_close(e->s);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
}
