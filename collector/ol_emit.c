/* ol_emit.c - traild --openlineage-url: a thread that sends the OpenLineage RunEvents of each run
 * that ends (store/openlineage.c) to the endpoint, oldest first, from the store's outbox
 * (store/outbox.c), retrying with the agents' backoff; a run leaves the queue only when every
 * one of its events was answered 2xx, so delivery is at-least-once across restarts, or when the
 * endpoint refused it for good (4xx) PARK_AFTER times: parked, and the next is sent. */
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
#define PARK_AFTER 3   /* a run refused for good (4xx) this many times is parked */
#define MAX_ROWS 10000 /* runs queued at most; older ones beyond are dropped (logged) */
#define MAX_AGE_DAYS 7 /* runs queued longer are dropped (logged) */
#define MAX_AGE_NS ((int64_t)MAX_AGE_DAYS * 86400 * 1000000000)
#define CAP_EVERY_NS ((int64_t)600 * 1000000000) /* the caps at start, then every 10 min */

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
 * send), -1 with why filled and *http the HTTP status of the refusal (-1: no answer). */
static int send_run(tr_ol_emit *e, const char *run_id, int *sent, int *http, char *why, size_t wn)
{
    cJSON *events = NULL, *ev;
    *http = -1;
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
            *http = status;
            failed = -1;
            break;
        }
        (*sent)++;
    }
    cJSON_Delete(events);
    return failed;
}

/* The outbox's row and age caps, with one line for what they dropped. */
static void cap(tr_ol_emit *e)
{
    int64_t old = 0, over = 0;
    if (tr_store_ol_cap(e->s, tr_now_ns() - MAX_AGE_NS, MAX_ROWS, &old, &over) != 0)
        tr_srv_log("warn", "openlineage: capping the outbox: %s", tr_store_errmsg(e->s));
    else if (old || over)
        tr_srv_log("warn",
                   "openlineage: outbox capped: %lld run(s) queued over %d days ago and %lld "
                   "beyond the newest %d dropped, not sent",
                   (long long)old, MAX_AGE_DAYS, (long long)over, MAX_ROWS);
}

/* A refusal that trying again will not change (4xx other than 408 Request Timeout and 429). */
static int permanent(int http)
{
    return http >= 400 && http <= 499 && http != 408 && http != 429;
}

static void *emit_main(void *arg)
{
    tr_ol_emit *e = arg;
    int64_t delay = BACKOFF_MIN_MS, capped_ns = tr_mono_ns();
    int failures = 0;
    char last_why[300] = "";
    for (;;) {
        if (tr_mono_ns() - capped_ns > CAP_EVERY_NS) {
            cap(e);
            capped_ns = tr_mono_ns();
        }
        int64_t seq, tries = 0;
        char run[33], status[32], why[300] = "";
        int rc = tr_store_ol_next(e->s, e->url, &seq, run, status, &tries), sent = 0, http = -1;
        if (rc == TRAIL_ENOTFOUND) {
            if (pause_ms(e, IDLE_MS)) break;
            continue;
        }
        int res = rc ? -1 : send_run(e, run, &sent, &http, why, sizeof why);
        if (rc) snprintf(why, sizeof why, "%s", tr_store_errmsg(e->s));
        if (res >= 0 && (rc = tr_store_ol_done(e->s, seq, status)) != 0) {
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
        /* refused for good PARK_AFTER times: parked (kept, with the answer), the next is sent */
        int park = !rc && permanent(http) && tries + 1 >= PARK_AFTER;
        if (!rc && tr_store_ol_failed(e->s, seq, why, park) != 0) park = 0;
        if (park) {
            tr_srv_log("warn",
                       "openlineage: run %s parked: %s %s %lld times; sending the next (the row "
                       "stays in openlineage_outbox, state 'parked')",
                       run, e->url, why, (long long)tries + 1);
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

/* Targets other than url (NULL: every one) and their queued rows go, with one line. */
static int prune(tr_store *s, const char *url, char *err, size_t errlen)
{
    int64_t targets = 0, rows = 0;
    if (tr_store_ol_prune(s, url, &targets, &rows) != 0) {
        snprintf(err, errlen, "%s", tr_store_errmsg(s));
        return TRAIL_ESTORE;
    }
    if (targets || rows)
        tr_srv_log("info",
                   "openlineage: %lld target(s) no longer given (--openlineage-url) dropped, with "
                   "%lld run(s) queued for them",
                   (long long)targets, (long long)rows);
    return 0;
}

int tr_ol_emit_start(tr_ol_emit **out, const char *url, const char *store_path, char *err,
                     size_t errlen)
{
    *out = NULL;
    if (!url) { /* no target: nothing is queued any more for ones of earlier starts */
        tr_store *s = NULL;
        int rc = tr_store_open(store_path, 0, &s, err, errlen);
        if (!rc) rc = prune(s, NULL, err, errlen);
        tr_store_close(s);
        return rc;
    }
    if (tr_http_url_ok(url)) {
        snprintf(err, errlen, "--openlineage-url '%s': an http://HOST[:PORT]/PATH URL", url);
        return TRAIL_EINVAL;
    }
    tr_ol_emit *e = calloc(1, sizeof *e);
    if (!e) return TRAIL_ENOMEM;
    snprintf(e->url, sizeof e->url, "%s", url);
    e->seed = (unsigned)tr_now_ns();
    int rc = tr_store_open(store_path, 0, &e->s, err, errlen);
    if (!rc) rc = prune(e->s, url, err, errlen);
    if (!rc && (rc = tr_store_ol_target(e->s, url, tr_now_ns())) != 0)
        snprintf(err, errlen, "%s", tr_store_errmsg(e->s));
    if (rc) {
        tr_store_close(e->s);
        free(e);
        return rc;
    }
    /* before the thread starts: the store handle is one thread's (SQLITE_OPEN_NOMUTEX) */
    cap(e);
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
