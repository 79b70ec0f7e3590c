/* agentd.c - `trail agent` (node daemon) and `trail sync --collector`: spool root to traild. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "deliver.h"
#include "trail.h"
#include "util.h"

#define MAX_RUNS 4096
#define SCAN_NS (500 * 1000000LL)
#define IDLE_REMOVE_NS (5 * 1000000000LL) /* an empty run directory is removed after this */

static volatile int stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct agent_opts {
    tr_link_opts link;
    const char *root;
    double timeout_s;
} agent_opts;

typedef struct run_entry {
    tr_deliver d;
    char name[TR_ID_LEN + 1];
    int64_t idle_since;
    int reported; /* the last failure was reported */
} run_entry;

static int parse(const char *cmd, int argc, char **argv, agent_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_s = 30;
    for (int i = 1; i < argc; i++) {
        int r = tr_link_parse_opt(&o->link, argc, argv, &i);
        if (r > 0) continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (r == 0 && v && !strcmp(argv[i], "--spool-root"))
            o->root = argv[++i];
        else if (r == 0 && v && !strcmp(argv[i], "--timeout"))
            o->timeout_s = atof(argv[++i]);
        else {
            tr_agent_err("%s: %s '%s'", cmd, r < 0 || !v ? "missing value for" : "unknown option",
                         argv[i]);
            fprintf(stderr,
                    "usage: trail %s --collector URL [--spool-root DIR] [--token-file F] "
                    "[--tls-ca F]%s\n",
                    cmd, strcmp(cmd, "sync") ? "" : " [--timeout SECS]");
            return -1;
        }
    }
    if (!o->link.url) {
        tr_agent_err("%s: --collector URL is required", cmd);
        return -1;
    }
    return 0;
}

int tr_sync_wants_collector(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--collector")) return 1;
    return 0;
}

/* A run directory bound to a local store (trail run --store) is not ours to send. */
static int bound_to_store(const char *dir)
{
    char p[4300];
    struct stat st;
    tr_path_join(p, sizeof p, dir, "dest");
    return stat(p, &st) == 0;
}

/* Removes a run directory whose every record has been delivered. */
static void remove_run_dir(const char *dir)
{
    char p[4300];
    tr_path_join(p, sizeof p, dir, TR_COLLECTOR_MARK);
    unlink(p);
    rmdir(dir);
}

static int find(run_entry *runs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(runs[i].name, name)) return i;
    return -1;
}

/* Picks up run directories not yet followed. */
static void scan(const char *root, tr_link *link, run_entry *runs, int *n)
{
    DIR *dp = opendir(root);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp)) && *n < MAX_RUNS) {
        char dir[4200];
        if (!tr_is_hex_id(e->d_name) || find(runs, *n, e->d_name) >= 0) continue;
        tr_path_join(dir, sizeof dir, root, e->d_name);
        if (bound_to_store(dir)) continue;
        run_entry *r = &runs[*n];
        memset(r, 0, sizeof *r);
        if (tr_deliver_open(&r->d, dir, link) != 0) continue; /* busy: its trail run sends it */
        memcpy(r->name, e->d_name, TR_ID_LEN); /* tr_is_hex_id: exactly 32 characters */
        r->name[TR_ID_LEN] = 0;
        (*n)++;
    }
    closedir(dp);
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

/* --spool-root, else the node's spool root. */
static void root_of(const agent_opts *o, char *root, size_t n)
{
    if (o->root)
        snprintf(root, n, "%s", o->root);
    else
        tr_spool_root(root, n);
}

int tr_cmd_agent(int argc, char **argv)
{
    agent_opts o;
    char root[4096], err[4400];
    if (parse("agent", argc, argv, &o) != 0) return TR_EXIT_USAGE;
    root_of(&o, root, sizeof root);
    tr_link *link = NULL;
    if (tr_link_open(&link, &o.link, err, sizeof err) != 0) {
        tr_agent_err("agent: %s", err);
        return TR_EXIT_USAGE;
    }
    run_entry *runs = calloc(MAX_RUNS, sizeof *runs);
    if (!runs) {
        tr_link_close(link);
        return 1;
    }
    install_stop_handlers();
    fprintf(stderr, "trail agent: delivering %s to %s\n", root, tr_link_url(link));
    int n = 0, was_up = -1;
    int64_t next_scan = 0;
    uint64_t total = 0;
    while (!stop_flag) {
        int64_t now = tr_mono_ns();
        if (now >= next_scan) {
            scan(root, link, runs, &n);
            next_scan = now + SCAN_NS;
        }
        int up = tr_link_connected(link);
        if (up != was_up && was_up >= 0)
            fprintf(stderr, "trail agent: collector %s %s\n", tr_link_url(link),
                    up ? "connected" : "unreachable; records wait in the spool");
        was_up = up;
        int progressed = 0;
        for (int i = 0; i < n && !stop_flag; i++) {
            run_entry *r = &runs[i];
            long got = tr_deliver_pump(&r->d, 0);
            if (got > 0) {
                progressed = 1;
                total += (uint64_t)got;
                r->idle_since = 0;
                r->reported = 0;
            } else if (got < 0 && got != TRAIL_EAGAIN && !r->reported) {
                fprintf(stderr, "trail agent: run %s: %s (will retry)\n", r->name, r->d.last_msg);
                r->reported = 1;
            } else if (got == 0 && tr_deliver_pending(&r->d) == 0 &&
                       tr_deliver_live_writers(&r->d) == 0) {
                if (!r->idle_since) r->idle_since = now;
                if (now - r->idle_since < IDLE_REMOVE_NS) continue;
                if (r->d.acked)
                    fprintf(stderr, "trail agent: run %s: delivered %llu record(s)\n", r->name,
                            (unsigned long long)r->d.acked);
                tr_deliver_close(&r->d);
                remove_run_dir(r->d.dir);
                runs[i--] = runs[--n];
            }
        }
        if (!progressed) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    for (int i = 0; i < n; i++)
        tr_deliver_close(&runs[i].d);
    free(runs);
    tr_link_close(link);
    fprintf(stderr, "trail agent: stopped after delivering %llu record(s)\n",
            (unsigned long long)total);
    return 0;
}

int tr_cmd_sync_collector(int argc, char **argv)
{
    agent_opts o;
    char root[4096], err[4400];
    if (parse("sync", argc, argv, &o) != 0) return TR_EXIT_USAGE;
    root_of(&o, root, sizeof root);
    DIR *dp = opendir(root);
    if (!dp) {
        if (errno == ENOENT) {
            fprintf(stderr, "trail sync: nothing to deliver (%s does not exist)\n", root);
            return 0;
        }
        tr_agent_err("sync: cannot read %s: %s", root, strerror(errno));
        return 1;
    }
    tr_link *link = NULL;
    if (tr_link_open(&link, &o.link, err, sizeof err) != 0) {
        closedir(dp);
        tr_agent_err("sync: %s", err);
        return TR_EXIT_USAGE;
    }
    install_stop_handlers();
    int64_t deadline = tr_mono_ns() + (int64_t)(o.timeout_s * 1e9);
    tr_link_wait(link, deadline, &stop_flag);
    uint64_t total = 0;
    int runs = 0, failed = 0, busy = 0, local = 0, writing = 0;
    char last_msg[1400] = "";
    struct dirent *e;
    while ((e = readdir(dp))) {
        char dir[4200];
        if (!tr_is_hex_id(e->d_name)) continue;
        tr_path_join(dir, sizeof dir, root, e->d_name);
        if (bound_to_store(dir)) {
            local++;
            continue;
        }
        tr_deliver d;
        int rc = tr_deliver_open(&d, dir, link);
        if (rc) {
            busy += rc == TRAIL_EBUSY;
            failed += rc != TRAIL_EBUSY;
            continue;
        }
        rc = tr_deliver_drain(&d, deadline, &stop_flag);
        total += d.acked;
        runs += d.acked > 0;
        if (rc) {
            failed++;
            snprintf(last_msg, sizeof last_msg, "%s", d.last_msg);
        }
        int left = tr_deliver_pending(&d);
        writing += tr_deliver_live_writers(&d);
        tr_deliver_close(&d);
        if (!rc && left == 0) remove_run_dir(dir);
    }
    closedir(dp);
    tr_link_close(link);
    fprintf(stderr, "trail sync: delivered %llu record(s) from %d run(s) to %s",
            (unsigned long long)total, runs, o.link.url);
    if (writing) fprintf(stderr, "; %d process(es) still writing", writing);
    if (busy) fprintf(stderr, "; %d run(s) being delivered by another agent", busy);
    if (local) fprintf(stderr, "; %d run(s) bound to a local store (use `trail sync`)", local);
    fputc('\n', stderr);
    if (failed)
        tr_agent_err("sync: %d run(s) not fully delivered, records stay in the spool: %s", failed,
                     last_msg[0] ? last_msg : "error");
    return failed ? 1 : 0;
}
