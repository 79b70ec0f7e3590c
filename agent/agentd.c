/* agentd.c - `trail agent` (node daemon) and `trail sync`: every run directory of a spool root
 * delivered through one sink, the store or the collector, by one loop. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "deliver.h"
#include "drops.h"
#include "launcher.h"
#include "opts.h"
#include "trail.h"
#include "util.h"

#define MAX_RUNS 4096
#define SCAN_NS (500 * 1000000LL)
#define IDLE_REMOVE_NS (5 * 1000000000LL)      /* an empty run directory is removed after this */
#define SETTLE_NS (5 * 1000000000LL)           /* `trail agent` settles dead launchers' runs */
#define SETTLE_DEADLINE_NS (10 * 1000000000LL) /* delivering one RUN_SETTLE record */

static volatile int stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct agent_opts {
    tr_link_opts link;
    const char *root, *store;
    double timeout_s;
} agent_opts;

typedef struct run_entry {
    tr_deliver d;
    char name[TR_ID_LEN + 1];
    int64_t idle_since;
    int reported; /* the last failure was reported */
} run_entry;

static const tr_opt agent_opts_table[] = {
    TR_LINK_OPTS(agent_opts, link),
    TR_VALUE("store", "PATH", agent_opts, store, "deliver into the store at PATH instead"),
    TR_VALUE("spool-root", "DIR", agent_opts, root, "the spool root ($TRAIL_SPOOL_ROOT)"),
    TR_OPT_END};

const tr_opt_cmd tr_agent_cmd = {
    .name = "trail agent",
    .summary = "Node daemon: deliver every run's spool to traild (or a store)",
    .opts = agent_opts_table,
    .details = "One of --collector URL or --store PATH is required. SIGTERM/SIGINT stop it.\n"};

static int parse(const char *cmd, int argc, char **argv, agent_opts *o)
{
    (void)cmd;
    memset(o, 0, sizeof *o);
    o->timeout_s = 30;
    int rc = tr_opt_parse(&tr_agent_cmd, argc, argv, o, NULL);
    if (rc) return rc;
    const char *env_collector = getenv("TRAIL_COLLECTOR");
    if (!o->link.url && !o->store && env_collector && *env_collector) o->link.url = env_collector;
    if (!o->link.url == !o->store)
        return tr_opt_error(&tr_agent_cmd, "one of --collector URL or --store PATH is required");
    return 0;
}

/* Where a run directory's records belong: 'c' a collector (its marker), 's' a local store
 * (path gets it), 'u' neither (a run started outside `trail run`, e.g. by the SDK). */
static int binding(const char *dir, char *path, size_t n)
{
    char p[4300];
    tr_path_join(p, sizeof p, dir, TR_COLLECTOR_MARK);
    if (access(p, F_OK) == 0) return 'c';
    tr_path_join(p, sizeof p, dir, TR_STORE_MARK);
    struct stat st; /* the mark of the directory's owner only, never a FIFO or a link */
    if (stat(dir, &st) == 0 && tr_read_file_owned(p, path, n, st.st_uid) > 0) return 's';
    path[0] = 0;
    return 'u';
}

/* Removes a run directory whose every record has been delivered. */
static void remove_run_dir(const char *dir)
{
    char p[4300];
    tr_path_join(p, sizeof p, dir, TR_COLLECTOR_MARK);
    unlink(p);
    tr_path_join(p, sizeof p, dir, TR_STORE_MARK);
    unlink(p);
    tr_path_join(p, sizeof p, dir, TR_DROPS_FILE); /* drops.h: the launcher took its count */
    unlink(p);
    tr_path_join(p, sizeof p, dir, TR_LAUNCHER_FILE); /* launcher.h: its run was settled */
    unlink(p);
    rmdir(dir);
}

/* 1 when two store paths name the same file. */
static int same_store(const char *a, const char *b)
{
    char ra[PATH_MAX + 200], rb[PATH_MAX + 200];
    if (!realpath(a, ra)) snprintf(ra, sizeof ra, "%s", a);
    if (!realpath(b, rb)) snprintf(rb, sizeof rb, "%s", b);
    return !strcmp(ra, rb);
}

static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void root_of(const char *opt, char *root, size_t n)
{
    if (opt)
        snprintf(root, n, "%s", opt);
    else
        tr_spool_root(root, n);
}

/* The sink of the request: the collector, or the store at --store. NULL after one line. */
static tr_sink *open_sink(const char *cmd, const tr_deliver_req *req)
{
    tr_sink *s = NULL;
    char err[4400];
    if (!req->link.url) return tr_sink_store_open(req->store, TR_STORE_CREATE);
    if (tr_sink_link_open(&s, &req->link, err, sizeof err) != 0) {
        tr_agent_err("%s: %s", cmd, err);
        return NULL;
    }
    return s;
}

/* Ends the runs of this host whose launcher died (liveness.c): after delivery, so that what
 * they left is stored first. A store sink only; a failure leaves them for the next time. */
static void settle(tr_sink *sink, const char *root)
{
    tr_store *st = tr_sink_store(sink);
    int n = st ? tr_agent_settle(st, root) : 0;
    if (n > 0) fprintf(stderr, "trail: %d run(s) whose launcher is gone settled\n", n);
}

/* The store at --store (else the default) when it exists: runs to settle with nothing to
 * deliver. NULL when there is none. */
static tr_sink *open_existing(const char *opt)
{
    char path[4096];
    tr_agent_store_path(opt, path, sizeof path);
    return access(path, F_OK) == 0 ? tr_sink_store_open(path, 0) : NULL;
}

/* `trail sync` counts what it did and what it left. */
typedef struct sync_tally {
    uint64_t total;
    int runs, failed, busy, local, remote, writing, settled;
    double timeout_s; /* --timeout: how long the sync goes on without progress */
    int64_t deadline; /* set by the first run, moved on by each run that delivers */
    char last_msg[1400];
} sync_tally;

/* One run directory through sink, until it has nothing committed left or the deadline. */
static void sync_dir(const char *dir, tr_sink *sink, sync_tally *t)
{
    tr_deliver d;
    int rc = tr_deliver_open(&d, dir, sink);
    if (rc) {
        t->busy += rc == TRAIL_EBUSY; /* its own `trail run` (or an agent) delivers it */
        t->failed += rc != TRAIL_EBUSY;
        return;
    }
    /* the deadline is for a sync that stops moving: each time it passes with batches delivered
     * since the last, --timeout more (a spool of millions of records is not cut off half-way;
     * a store or collector that takes nothing is given up on) */
    uint64_t seen = 0;
    if (!t->deadline) t->deadline = tr_mono_ns() + (int64_t)(t->timeout_s * 1e9); /* the first */
    while ((rc = tr_deliver_drain(&d, t->deadline, &stop_flag)) == TRAIL_ETIMEDOUT && !stop_flag &&
           !d.last_msg[0] && d.acked > seen) {
        seen = d.acked;
        t->deadline = tr_mono_ns() + (int64_t)(t->timeout_s * 1e9);
    }
    if (d.acked > seen || rc == 0) /* progress, or a run done: the next has its --timeout */
        t->deadline = tr_mono_ns() + (int64_t)(t->timeout_s * 1e9);
    t->total += d.acked;
    t->runs += d.acked > 0;
    if (rc && d.last_msg[0]) {
        t->failed++;
        snprintf(t->last_msg, sizeof t->last_msg, "%s", d.last_msg);
    } else if (rc) { /* stopped without a sink's error: say by what */
        t->failed++;
        if (stop_flag)
            snprintf(t->last_msg, sizeof t->last_msg, "interrupted");
        else if (rc == TRAIL_ETIMEDOUT)
            snprintf(t->last_msg, sizeof t->last_msg,
                     "nothing delivered for --timeout %g s (run `trail sync` again to go on)",
                     t->timeout_s);
        else
            snprintf(t->last_msg, sizeof t->last_msg, "%s", trail_strerror(rc));
    }
    /* a run whose launcher died: ended through the sink (a collector too), then let go */
    int settled = rc == 0 ? tr_agent_settle_dir(&d, t->deadline) : 0;
    t->settled += settled == 1;
    int left = tr_deliver_pending(&d);
    t->writing += tr_deliver_live_writers(&d);
    tr_deliver_close(&d);
    if (left == 0 && settled != TRAIL_EBUSY) remove_run_dir(dir);
}

int tr_agent_sync(const tr_deliver_req *req)
{
    char root[4096];
    root_of(req->root, root, sizeof root);
    DIR *dp = opendir(root);
    if (!dp) {
        if (errno == ENOENT) {
            fprintf(stderr, "trail sync: nothing to deliver (%s does not exist)\n", root);
            tr_sink *store = req->link.url ? NULL : open_existing(req->store);
            settle(store, root);
            tr_sink_close(store);
            return 0;
        }
        tr_agent_err("sync: cannot read %s: %s", root, strerror(errno));
        return 1;
    }
    install_stop_handlers();
    double timeout = req->timeout_s > 0 ? req->timeout_s : 30;
    int64_t deadline = tr_mono_ns() + (int64_t)(timeout * 1e9);
    /* The collector is one sink for every run; stores are opened as runs name them. */
    tr_sink *link = NULL, *store = NULL;
    char store_path[4096] = "";
    int store_failed = 0; /* said once: not tried again for the settling at the end */
    if (req->link.url) {
        if (!(link = open_sink("sync", req))) {
            closedir(dp);
            return TR_EXIT_USAGE;
        }
        tr_sink_link_wait(link, deadline, &stop_flag);
    }
    sync_tally t;
    memset(&t, 0, sizeof t);
    t.timeout_s = timeout;
    struct dirent *e;
    while ((e = readdir(dp)) && !stop_flag) {
        char dir[4200], bound[4096];
        if (!tr_is_hex_id(e->d_name)) continue;
        tr_path_join(dir, sizeof dir, root, e->d_name);
        int b = binding(dir, bound, sizeof bound);
        if (link && b == 's') {
            t.local++; /* bound to a local store: `trail sync` without --collector */
            continue;
        }
        if (!link && !req->store && b == 'c') {
            t.remote++; /* bound to traild: `trail sync --collector` or `trail agent` */
            continue;
        }
        tr_sink *sink = link;
        if (!sink) { /* --store, else the run's own store, else the default one */
            const char *want = req->store ? req->store : b == 's' ? bound : NULL;
            char path[4096];
            tr_agent_store_path(want, path, sizeof path);
            if (store && strcmp(path, store_path)) {
                settle(store, root);
                tr_sink_close(store);
                store = NULL;
            }
            if (!store && !(store = tr_sink_store_open(path, TR_STORE_CREATE))) {
                t.failed++; /* the reason was said as it failed */
                snprintf(t.last_msg, sizeof t.last_msg, "store %.1300s could not be opened", path);
                store_failed = 1;
                continue;
            }
            snprintf(store_path, sizeof store_path, "%s", path);
            sink = store;
        }
        sync_dir(dir, sink, &t);
    }
    closedir(dp);
    tr_sink_close(link);
    if (!link && !store && !stop_flag && !store_failed) store = open_existing(req->store);
    settle(store, root);
    tr_sink_close(store);
    fprintf(stderr, "trail sync: delivered %llu record(s) from %d run(s)",
            (unsigned long long)t.total, t.runs);
    if (req->link.url) fprintf(stderr, " to %s", req->link.url);
    if (t.settled) fprintf(stderr, "; %d run(s) whose launcher is gone ended", t.settled);
    if (t.writing) fprintf(stderr, "; %d process(es) still writing", t.writing);
    if (t.busy) fprintf(stderr, "; %d run(s) being delivered by another agent", t.busy);
    if (t.local) fprintf(stderr, "; %d run(s) bound to a local store (use `trail sync`)", t.local);
    if (t.remote)
        fprintf(stderr, "; %d run(s) wait for a collector (trail sync --collector URL)", t.remote);
    fputc('\n', stderr);
    if (t.failed)
        tr_agent_err("sync: %d run(s) not fully delivered, records stay in the spool: %s", t.failed,
                     t.last_msg[0] ? t.last_msg : "error");
    return t.failed ? 1 : 0;
}

static int find(run_entry *runs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(runs[i].name, name)) return i;
    return -1;
}

/* Picks up run directories not yet followed that belong to this agent's sink. */
static void scan(const char *root, tr_sink *sink, run_entry *runs, int *n)
{
    DIR *dp = opendir(root);
    if (!dp) return;
    struct dirent *e;
    int to_store = tr_sink_store(sink) != NULL;
    while ((e = readdir(dp)) && *n < MAX_RUNS) {
        char dir[4200], bound[4096];
        if (!tr_is_hex_id(e->d_name) || find(runs, *n, e->d_name) >= 0) continue;
        tr_path_join(dir, sizeof dir, root, e->d_name);
        int b = binding(dir, bound, sizeof bound);
        if (to_store ? b == 'c' || (b == 's' && !same_store(bound, sink->name)) : b == 's')
            continue; /* another destination's run */
        run_entry *r = &runs[*n];
        memset(r, 0, sizeof *r);
        if (tr_deliver_open(&r->d, dir, sink) != 0) continue; /* busy: its trail run sends it */
        memcpy(r->name, e->d_name, TR_ID_LEN); /* tr_is_hex_id: exactly 32 characters */
        r->name[TR_ID_LEN] = 0;
        (*n)++;
    }
    closedir(dp);
}

/* One round over the followed runs; 1 when something was delivered. */
static int agent_round(run_entry *runs, int *n, int64_t now, uint64_t *total)
{
    int progressed = 0;
    for (int i = 0; i < *n && !stop_flag; i++) {
        run_entry *r = &runs[i];
        long got = tr_deliver_pump(&r->d, 0);
        if (got > 0) {
            progressed = 1;
            *total += (uint64_t)got;
            r->idle_since = 0;
            r->reported = 0;
        } else if (got < 0 && got != TRAIL_EAGAIN && !r->reported) {
            fprintf(stderr, "trail agent: run %s: %s (will retry)\n", r->name, r->d.last_msg);
            r->reported = 1;
        } else if (got == 0 && tr_deliver_pending(&r->d) == 0 &&
                   tr_deliver_live_writers(&r->d) == 0) {
            if (!r->idle_since) r->idle_since = now;
            if (now - r->idle_since < IDLE_REMOVE_NS) continue;
            /* its launcher died: the run is ended through the sink; a live one keeps it */
            int settled = tr_agent_settle_dir(&r->d, now + SETTLE_DEADLINE_NS);
            if (settled == TRAIL_EBUSY) {
                r->idle_since = now;
                continue;
            }
            if (settled == 1)
                fprintf(stderr, "trail agent: run %s: launcher gone, ended\n", r->name);
            if (tr_deliver_pending(&r->d) > 0) continue;
            if (r->d.acked)
                fprintf(stderr, "trail agent: run %s: delivered %llu record(s)\n", r->name,
                        (unsigned long long)r->d.acked);
            tr_deliver_close(&r->d);
            remove_run_dir(r->d.dir);
            runs[i--] = runs[--*n];
        }
    }
    return progressed;
}

int tr_cmd_agent(int argc, char **argv)
{
    agent_opts o;
    char root[4096];
    int prc = parse("agent", argc, argv, &o);
    if (prc) return TR_OPT_EXIT(prc);
    root_of(o.root, root, sizeof root);
    tr_deliver_req req = {.store = o.store, .link = o.link, .root = o.root};
    tr_sink *sink = open_sink("agent", &req);
    if (!sink) return TR_EXIT_USAGE;
    run_entry *runs = calloc(MAX_RUNS, sizeof *runs);
    if (!runs) {
        tr_sink_close(sink);
        return 1;
    }
    install_stop_handlers();
    int was = 0; /* a node's jobs come first: the agent batches and yields to them */
    int niced = tr_agent_nice(&was) == 0;
    fprintf(stderr, "trail agent: delivering %s to %s%s\n", root, sink->name,
            niced ? " (at a lower priority: TRAIL_AGENT_NICE)" : "");
    int n = 0, was_up = -1, is_link = !tr_sink_store(sink);
    int64_t next_scan = 0, next_settle = 0;
    uint64_t total = 0;
    while (!stop_flag) {
        int64_t now = tr_mono_ns();
        if (now >= next_scan) {
            scan(root, sink, runs, &n);
            next_scan = now + SCAN_NS;
        }

        int up = is_link ? tr_sink_link_connected(sink) : 1;
        if (up != was_up && was_up >= 0)
            fprintf(stderr, "trail agent: collector %s %s\n", sink->name,
                    up ? "connected" : "unreachable; records wait in the spool");
        was_up = up;
        int progressed = agent_round(runs, &n, now, &total);
        if (!progressed && now >= next_settle) { /* idle: what dead launchers left is stored */
            settle(sink, root);
            next_settle = now + SETTLE_NS;
        }
        if (!progressed) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    for (int i = 0; i < n; i++)
        tr_deliver_close(&runs[i].d);
    free(runs);
    tr_sink_close(sink);
    fprintf(stderr, "trail agent: stopped after delivering %llu record(s)\n",
            (unsigned long long)total);
    return 0;
}
