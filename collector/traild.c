/* traild.c - the central collector daemon: options, privacy checks, signals, counters. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "batch.h"
#include "server.h"
#include "trail.h"
#include "util.h"

#define EXIT_USAGE 2

typedef struct opts {
    tr_srv_conf conf;
    const char *store, *http, *token_file;
    double stats_s;
} opts;

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: traild --listen URL... --store PATH [--http ADDR] [--token-file F]\n"
        "              [--tls-cert F --tls-key F] [--max-message BYTES] [--max-records N]\n"
        "              [--contexts N] [--stats-interval SECS] [--version] [--help]\n\n"
        "Receives record batches from trail agents over nng and stores them.\n"
        "  --listen URL     tcp://HOST:PORT, tls+tcp://HOST:PORT or ipc:///PATH; repeatable.\n"
        "                   A bare PORT or tcp://:PORT binds 127.0.0.1 (use tcp://0.0.0.0:PORT\n"
        "                   for every interface).\n"
        "  --store PATH     the SQLite store (created 0600; must not be readable by others)\n"
        "  --http ADDR      GET /health, /api/runs, /api/runs/ID on PORT or HOST:PORT\n"
        "                   (a bare port binds 127.0.0.1)\n"
        "  --token-file F   shared secret agents prove with HMAC-SHA256 (mode 0600 or 0400);\n"
        "                   default $TRAIL_TOKEN_FILE; required unless every listener is\n"
        "                   loopback or ipc://\n"
        "  --tls-cert F --tls-key F   PEM certificate and key for tls+tcp:// listeners\n"
        "  --max-message BYTES (default %u), --max-records N (default %u): larger batches\n"
        "                   are refused with a reason and the connection stays up\n"
        "  --contexts N     batches received at once (default 16)\n"
        "  --stats-interval SECS  how often counters are logged (default 10; also SIGUSR1)\n"
        "SIGTERM/SIGINT: stop accepting, commit and acknowledge what was received, exit 0.\n",
        TR_BATCH_MAX_BYTES, TR_BATCH_MAX_RECORDS);
}

static int parse(int argc, char **argv, opts *o)
{
    static char urls[TR_SRV_MAX_LISTEN][1024];
    memset(o, 0, sizeof *o);
    o->stats_s = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(a, "--version")) {
            printf("traild %s\n", TRAIL_VERSION);
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "traild: option '%s' %s\n", a,
                    a[0] == '-' ? "needs a value" : "is not an option (see --help)");
            return -1;
        }
        if (!strcmp(a, "--listen")) {
            for (; i + 1 < argc && argv[i + 1][0] != '-'; i++) {
                int k = o->conf.nlisten;
                if (k == TR_SRV_MAX_LISTEN) {
                    fprintf(stderr, "traild: at most %d --listen URLs\n", TR_SRV_MAX_LISTEN);
                    return -1;
                }
                if (tr_batch_normalize_url(argv[i + 1], urls[k], sizeof urls[k]) != 0) {
                    fprintf(stderr,
                            "traild: cannot listen on '%s': use tcp://HOST:PORT, "
                            "tls+tcp://HOST:PORT, ipc:///PATH or a port\n",
                            argv[i + 1]);
                    return -1;
                }
                o->conf.listen[o->conf.nlisten++] = urls[k];
            }
            continue;
        }
        if (!strcmp(a, "--store"))
            o->store = v;
        else if (!strcmp(a, "--http"))
            o->http = v;
        else if (!strcmp(a, "--token-file"))
            o->token_file = v;
        else if (!strcmp(a, "--tls-cert"))
            o->conf.tls_cert = v;
        else if (!strcmp(a, "--tls-key"))
            o->conf.tls_key = v;
        else if (!strcmp(a, "--max-message"))
            o->conf.max_bytes = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--max-records"))
            o->conf.max_records = (uint32_t)atol(v);
        else if (!strcmp(a, "--contexts"))
            o->conf.contexts = atoi(v);
        else if (!strcmp(a, "--stats-interval"))
            o->stats_s = atof(v);
        else {
            fprintf(stderr, "traild: unknown option '%s' (see --help)\n", a);
            return -1;
        }
        i++;
    }
    if (!o->conf.nlisten || !o->store) {
        fprintf(stderr, "traild: --listen and --store are required (see --help)\n");
        return -1;
    }
    if (o->conf.max_bytes && o->conf.max_bytes < 64 * 1024) {
        fprintf(stderr, "traild: --max-message must be at least 65536 (one record)\n");
        return -1;
    }
    if (o->conf.contexts < 0 || o->conf.contexts > 1024 || o->stats_s < 0) {
        fprintf(stderr, "traild: --contexts must be 1..1024 and --stats-interval >= 0\n");
        return -1;
    }
    if (!o->token_file) {
        const char *env = getenv("TRAIL_TOKEN_FILE");
        if (env && *env) o->token_file = env;
    }
    return 0;
}

/* 1 when a listen URL only accepts connections from this host (ipc://, or a loopback
 * address: normalised URLs carry the host traild binds). */
static int local_only(const char *url)
{
    const char *host = NULL;
    if (!strncmp(url, "ipc://", 6)) return 1;
    if (!strncmp(url, "tcp://", 6))
        host = url + 6;
    else if (!strncmp(url, "tls+tcp://", 10))
        host = url + 10;
    if (!host) return 0;
    return !strncmp(host, "127.", 4) || !strncmp(host, "localhost:", 10) ||
           !strncmp(host, "[::1]:", 6);
}

/* A secret file that group or others can read makes traild refuse to start. */
static int check_private(const char *what, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (st.st_mode & 077) {
        fprintf(stderr,
                "traild: %s %s is accessible by group or others (mode %04o); refusing to start: "
                "run chmod 600 %s\n",
                what, path, (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    return 0;
}

static void log_counters(tr_srv *srv, const char *why, int64_t *last_ns, uint64_t *last_rec)
{
    tr_srv_counters c;
    tr_srv_get_counters(srv, &c);
    int64_t now = tr_mono_ns();
    double dt = (double)(now - *last_ns) / 1e9;
    double rate = dt > 0 ? (double)(c.records - *last_rec) / dt : 0;
    tr_srv_log("info",
               "%s: records=%llu records_per_s=%.1f batches=%llu rejected=%llu "
               "duplicates=%llu queue=%d connections=%d store_errors=%llu",
               why, (unsigned long long)c.records, rate, (unsigned long long)c.batches,
               (unsigned long long)c.rejected, (unsigned long long)c.duplicates, c.queue,
               c.connections, (unsigned long long)c.store_errors);
    *last_ns = now;
    *last_rec = c.records;
}

int main(int argc, char **argv)
{
    opts o;
    static uint8_t token[TR_SRV_TOKEN_MAX];
    char err[4400];
    if (parse(argc, argv, &o) != 0) return EXIT_USAGE;
    if (o.token_file) {
        if (tr_batch_load_token(o.token_file, token, sizeof token, &o.conf.token_len, err,
                                sizeof err) != 0) {
            fprintf(stderr, "traild: %s; refusing to start\n", err);
            return EXIT_USAGE;
        }
        o.conf.token = token;
    }
    if (check_private("store", o.store) != 0 ||
        (o.conf.tls_key && check_private("TLS key", o.conf.tls_key) != 0))
        return EXIT_USAGE;
    for (int i = 0; i < o.conf.nlisten && !o.conf.token; i++) {
        if (local_only(o.conf.listen[i])) continue;
        fprintf(stderr,
                "traild: %s accepts agents from other hosts, and remote ingest requires a token: "
                "give --token-file F (or TRAIL_TOKEN_FILE); refusing to start\n",
                o.conf.listen[i]);
        return EXIT_USAGE;
    }

    /* Signals are taken synchronously by the main thread; nng's threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    tr_store *store = NULL;
    if (tr_store_open(o.store, TR_STORE_CREATE, &store, err, sizeof err) != 0) {
        fprintf(stderr, "traild: %s\n", err);
        return EXIT_USAGE;
    }
    if (check_private("store", o.store) != 0) {
        tr_store_close(store);
        return EXIT_USAGE;
    }
    tr_srv *srv = NULL;
    tr_http *http = NULL;
    if (tr_srv_start(&srv, &o.conf, store, err, sizeof err) != 0) {
        fprintf(stderr, "traild: %s\n", err);
        tr_store_close(store);
        return EXIT_USAGE;
    }
    if (o.http && tr_http_start(&http, o.http, o.store, srv, err, sizeof err) != 0) {
        fprintf(stderr, "traild: %s\n", err);
        tr_srv_stop(srv, NULL);
        tr_store_close(store);
        return EXIT_USAGE;
    }
    if (!o.conf.token)
        tr_srv_log("warn", "no --token-file: any agent that reaches a listener can write");
    for (int i = 0; i < o.conf.nlisten; i++)
        if (!strncmp(o.conf.listen[i], "tcp://", 6) &&
            strncmp(o.conf.listen[i], "tcp://127.", 10) &&
            strncmp(o.conf.listen[i], "tcp://localhost", 15))
            tr_srv_log("warn",
                       "%s is not loopback and not TLS: batches are authenticated but "
                       "not encrypted (use tls+tcp://)",
                       o.conf.listen[i]);
    tr_srv_log("info", "traild %s ready: store %s, %s", TRAIL_VERSION, tr_store_path(store),
               o.conf.token ? "token required" : "no token");

    int64_t last_ns = tr_mono_ns(), next = last_ns + (int64_t)(o.stats_s * 1e9);
    uint64_t last_rec = 0;
    for (;;) {
        int64_t now = tr_mono_ns(), wait = o.stats_s > 0 ? next - now : 3600 * 1000000000LL;
        if (wait < 0) wait = 0;
        struct timespec ts = {wait / 1000000000LL, wait % 1000000000LL};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            tr_srv_log("info", "%s: stopping (committing what was received)",
                       sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (sig == SIGUSR1) log_counters(srv, "counters", &last_ns, &last_rec);
        if (sig < 0 && errno == EAGAIN && o.stats_s > 0) {
            log_counters(srv, "stats", &last_ns, &last_rec);
            next = tr_mono_ns() + (int64_t)(o.stats_s * 1e9);
        }
    }
    tr_http_stop(http);
    tr_srv_counters c;
    tr_srv_stop(srv, &c); /* the store worker ends here: every queued batch is committed */
    tr_store_close(store);
    tr_srv_log("info", "stopped: records=%llu batches=%llu rejected=%llu duplicates=%llu",
               (unsigned long long)c.records, (unsigned long long)c.batches,
               (unsigned long long)c.rejected, (unsigned long long)c.duplicates);
    return 0;
}
