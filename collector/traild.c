/* traild.c - the central collector daemon: options, privacy checks, signals, counters. */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "batch.h"
#include "exposure.h"
#include "ol_emit.h"
#include "opts.h"
#include "server.h"
#include "agent_keys.h"
#include "trail.h"
#include "util.h"

#define EXIT_USAGE 2

typedef struct opts {
    tr_srv_conf conf;
    const char *store, *http, *token_file, *openlineage_url, *agent_tokens, *manage_token_file;
    const char *store_password_file;
    double stats_s;
    const char *listen[TR_SRV_MAX_LISTEN]; /* as given; normalised into conf.listen */
    int nlisten;
    const char *max_message, *max_records, *contexts, *stats_interval;
    const char *max_conns, *max_pending, *idle_timeout;
    int version, man, http_no_auth;
} opts;

static const tr_opt traild_opts[] = {
    {.name = "listen",
     .kind = TR_OPT_MULTI,
     .arg = "URL",
     .help = "where agents connect (see below); repeatable",
     .off = offsetof(opts, listen),
     .count_off = offsetof(opts, nlisten),
     .max = TR_SRV_MAX_LISTEN,
     .flags = TR_OPT_REQUIRED},
    {.name = "store",
     .kind = TR_OPT_VALUE,
     .arg = "PATH",
     .help = "the SQLite store (0600), or postgresql://USER@HOST/DB",
     .off = offsetof(opts, store),
     .flags = TR_OPT_REQUIRED},
    TR_VALUE("store-password-file", "F", opts, store_password_file,
             "the PostgreSQL password (0600; or PGPASSFILE)"),
    TR_VALUE("http", "ADDR", opts, http, "serve /health, /api/runs, /api/runs/ID on [HOST:]PORT"),
    TR_FLAG("http-no-auth", opts, http_no_auth,
            "serve the API with no token (single-user machines)"),
    TR_VALUE("openlineage-url", "URL", opts, openlineage_url,
             "POST OpenLineage RunEvents of runs that end to URL"),
    TR_VALUE("token-file", "F", opts, token_file,
             "secret agents prove with HMAC-SHA256 (mode 0600/0400)"),
    TR_VALUE("agent-tokens", "F", opts, agent_tokens, "HOST SECRET lines: tokens proving hosts"),
    TR_VALUE("manage-token-file", "F", opts, manage_token_file,
             "secret POST /api/manage needs (default --token-file's)"),
    TR_VALUE("tls-cert", "F", opts, conf.tls_cert, "PEM certificate for tls+tcp:// listeners"),
    TR_VALUE("tls-key", "F", opts, conf.tls_key, "PEM key for tls+tcp:// listeners"),
    TR_VALUE("max-message", "BYTES", opts, max_message, "larger batches are refused with a reason"),
    TR_VALUE("max-records", "N", opts, max_records, "batches of more records are refused too"),
    TR_VALUE("contexts", "N", opts, contexts, "batches received at once (default 16)"),
    TR_VALUE("max-connections", "N", opts, max_conns, "agents connected at once (default 256)"),
    TR_VALUE("max-pending", "N", opts, max_pending,
             "of them not yet proven by a valid batch (default 16)"),
    TR_VALUE("idle-timeout", "SECS", opts, idle_timeout,
             "close one without a valid batch after (30; 0 never)"),
    TR_VALUE("stats-interval", "SECS", opts, stats_interval,
             "how often counters are logged (default 10)"),
    TR_FLAG("version", opts, version, "print the version and exit"),
    {.name = "man",
     .kind = TR_OPT_FLAG,
     .help = "print this page as roff",
     .off = offsetof(opts, man),
     .flags = TR_OPT_HIDDEN},
    TR_OPT_END};

static char traild_details[3072];

static const tr_opt_cmd traild_cmd = {
    .name = "traild",
    .summary = "Receive record batches from trail agents over nng and store them",
    .opts = traild_opts,
    .details = traild_details};

static int parse(int argc, char **argv, opts *o)
{
    static char urls[TR_SRV_MAX_LISTEN][1024];
    memset(o, 0, sizeof *o);
    snprintf(traild_details, sizeof traild_details,
             "URL is tcp://HOST:PORT, tls+tcp://HOST:PORT, ipc:///PATH or a PORT. A bare PORT\n"
             "or tcp://:PORT binds 127.0.0.1 (tcp://0.0.0.0:PORT: every interface); so does\n"
             "a bare --http port.\n"
             "--token-file defaults to $TRAIL_TOKEN_FILE; it (or --agent-tokens) is needed\n"
             "unless every listener is loopback or ipc://. --agent-tokens F (private, like a\n"
             "token file) gives hosts tokens of their own, one 'HOST SECRET' a line, SECRET\n"
             "being what that host's agent has in its --token-file: a batch naming a listed\n"
             "host is accepted only under its secret, so the host it names is proven and a\n"
             "run's records come only from the host that started it; other hosts use the\n"
             "shared --token-file, or are refused when there is none.\n"
             "--max-message defaults to %u bytes, --max-records to %u records;\n"
             "the connection stays up after a refusal; one that announces a message over\n"
             "--max-message + 64 KiB (at least 2 MiB + 64 KiB) is closed before it is read.\n"
             "A connection counts as pending until it delivers a batch that passes the\n"
             "token check; past --max-pending or --max-connections a new one is refused\n"
             "(the agent retries). With --http, every /api request needs\n"
             "'Authorization: Bearer TOKEN' (the --token-file secret; /health is open);\n"
             "without a token traild refuses --http unless --http-no-auth is given.\n"
             "--manage-token-file F: POST /api/manage (trail rm/gc/forget ... --store URL)\n"
             "needs F's secret instead, so the token jobs carry cannot remove data.\n"
             "--openlineage-url URL: each run that ends from then on is sent as OpenLineage\n"
             "RunEvents (those of trail export openlineage), oldest first, retried until\n"
             "answered 2xx; what waits is kept in the store across restarts.\n"
             "--store postgresql://USER@HOST[:PORT]/DB[?sslmode=...]: the store is a\n"
             "PostgreSQL database (docs/scale-out.md); several traild may share one.\n"
             "Its password comes from --store-password-file, PGPASSFILE or ~/.pgpass,\n"
             "never from the command line; TLS through libpq's sslmode.\n"
             "SIGUSR1 logs the counters now. SIGTERM/SIGINT: stop accepting, commit and\n"
             "acknowledge what was received, exit 0.\n",
             TR_BATCH_MAX_BYTES, TR_BATCH_MAX_RECORDS);
    int rc = tr_opt_parse(&traild_cmd, argc, argv, o, NULL);
    if (rc == TR_OPT_HELP) exit(0);
    if (rc) return -1;
    if (o->version || o->man) {
        if (o->man)
            tr_opt_man(&traild_cmd, stdout);
        else
            printf("traild %s\n", TRAIL_VERSION);
        exit(0);
    }
    for (int k = 0; k < o->nlisten; k++) {
        if (tr_batch_normalize_url(o->listen[k], urls[k], sizeof urls[k]) != 0)
            return tr_opt_error(&traild_cmd,
                                "cannot listen on '%s': use tcp://HOST:PORT, "
                                "tls+tcp://HOST:PORT, ipc:///PATH or a port",
                                o->listen[k]);
        o->conf.listen[o->conf.nlisten++] = urls[k];
    }
    if (!o->conf.nlisten || !o->store)
        return tr_opt_error(&traild_cmd, "--listen and --store are required");
    long n = 0;
    double d = 10;
    if (o->max_message) {
        if (tr_opt_long(&traild_cmd, "--max-message", o->max_message, 64 * 1024, 1L << 31, &n))
            return -1;
        o->conf.max_bytes = (size_t)n;
    }
    if (o->max_records) {
        if (tr_opt_long(&traild_cmd, "--max-records", o->max_records, 1, 1L << 30, &n)) return -1;
        o->conf.max_records = (uint32_t)n;
    }
    if (o->contexts) {
        if (tr_opt_long(&traild_cmd, "--contexts", o->contexts, 1, 1024, &n)) return -1;
        o->conf.contexts = (int)n;
    }
    if (o->max_conns) {
        if (tr_opt_long(&traild_cmd, "--max-connections", o->max_conns, 1, 65536, &n)) return -1;
        o->conf.max_conns = (int)n;
    }
    if (o->max_pending) {
        if (tr_opt_long(&traild_cmd, "--max-pending", o->max_pending, 1, 65536, &n)) return -1;
        o->conf.max_unauth = (int)n;
    }
    if (o->idle_timeout) {
        double t = 0;
        if (tr_opt_double(&traild_cmd, "--idle-timeout", o->idle_timeout, 0, &t)) return -1;
        o->conf.idle_s = t > 0 ? t : -1; /* 0 given: never */
    }
    if (o->stats_interval &&
        tr_opt_double(&traild_cmd, "--stats-interval", o->stats_interval, 0, &d))
        return -1;
    o->stats_s = d;
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
               "duplicates=%llu queue=%d connections=%d pending=%d refused_connections=%llu "
               "idle_closed=%llu store_errors=%llu",
               why, (unsigned long long)c.records, rate, (unsigned long long)c.batches,
               (unsigned long long)c.rejected, (unsigned long long)c.duplicates, c.queue,
               c.connections, c.pending, (unsigned long long)c.refused_conns,
               (unsigned long long)c.idle_closed, (unsigned long long)c.store_errors);
    *last_ns = now;
    *last_rec = c.records;
}

/* A refusal to start once --agent-tokens was read: its secrets are wiped first. */
static int usage_exit(tr_agent_keys *agents)
{
    tr_agent_keys_free(agents);
    return EXIT_USAGE;
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
    static uint8_t mtoken[TR_SRV_TOKEN_MAX];
    size_t mtoken_len = 0;
    if (o.manage_token_file && tr_batch_load_token(o.manage_token_file, mtoken, sizeof mtoken,
                                                   &mtoken_len, err, sizeof err) != 0) {
        fprintf(stderr, "traild: --manage-token-file: %s; refusing to start\n", err);
        return EXIT_USAGE;
    }
    tr_agent_keys *agents = NULL;
    if (o.agent_tokens) {
        if (tr_agent_keys_load(o.agent_tokens, o.conf.token, o.conf.token_len, &agents, err,
                               sizeof err) != 0) {
            fprintf(stderr, "traild: %s; refusing to start\n", err);
            return EXIT_USAGE;
        }
        o.conf.agents = agents;
    }
    if (o.http && !o.conf.token && !o.http_no_auth) {
        fprintf(stderr,
                "traild: --http serves the store to anyone who can reach %s: give --token-file F "
                "(clients send 'Authorization: Bearer TOKEN'), or --http-no-auth on a "
                "single-user machine; refusing to start\n",
                o.http);
        return usage_exit(agents);
    }
    if (o.store_password_file) {
        if (check_private("store password file", o.store_password_file) != 0)
            return usage_exit(agents);
        setenv("TRAIL_STORE_PASSWORD_FILE", o.store_password_file, 1); /* the store reads it */
    }
    if (check_private("store", o.store) != 0 ||
        (o.conf.tls_key && check_private("TLS key", o.conf.tls_key) != 0))
        return usage_exit(agents);
    char why[8400];
    if (tr_store_exposed(o.store, why, sizeof why)) {
        fprintf(stderr, "traild: %s; refusing to start\n", why);
        return usage_exit(agents);
    }
    for (int i = 0; i < o.conf.nlisten && !o.conf.token && !agents; i++) {
        if (local_only(o.conf.listen[i])) continue;
        fprintf(stderr,
                "traild: %s accepts agents from other hosts, and remote ingest requires a token: "
                "give --token-file F (or TRAIL_TOKEN_FILE); refusing to start\n",
                o.conf.listen[i]);
        return usage_exit(agents);
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
        return usage_exit(agents);
    }
    if (check_private("store", o.store) != 0) {
        tr_store_close(store);
        return usage_exit(agents);
    }
    tr_srv *srv = NULL;
    tr_http *http = NULL;
    if (tr_srv_start(&srv, &o.conf, store, err, sizeof err) != 0) {
        fprintf(stderr, "traild: %s\n", err);
        tr_store_close(store);
        return usage_exit(agents);
    }
    /* /api/manage: the manage token when given, else the API's */
    const uint8_t *api_tok = o.http_no_auth ? NULL : o.conf.token;
    size_t api_len = o.http_no_auth ? 0 : o.conf.token_len;
    if (o.http && tr_http_start(&http, o.http, o.store, srv, api_tok, api_len,
                                o.manage_token_file ? mtoken : api_tok,
                                o.manage_token_file ? mtoken_len : api_len, err, sizeof err) != 0) {
        fprintf(stderr, "traild: %s\n", err);
        tr_srv_stop(srv, NULL);
        tr_store_close(store);
        return usage_exit(agents);
    }
    tr_ol_emit *ol = NULL;
    if (tr_ol_emit_start(&ol, o.openlineage_url, o.store, err, sizeof err) != 0) {
        fprintf(stderr, "traild: %s\n", err);
        tr_http_stop(http);
        tr_srv_stop(srv, NULL);
        tr_store_close(store);
        return usage_exit(agents);
    }
    if (!o.conf.token && !agents)
        tr_srv_log("warn", "no --token-file: any agent that reaches a listener can write");
    if (agents)
        tr_srv_log("info", "%d host(s) with a token of their own (--agent-tokens)%s",
                   tr_agent_keys_count(agents),
                   o.conf.token ? "; other hosts with the shared --token-file" : "; no other host");
    for (int i = 0; i < o.conf.nlisten; i++)
        if (!strncmp(o.conf.listen[i], "tcp://", 6) &&
            strncmp(o.conf.listen[i], "tcp://127.", 10) &&
            strncmp(o.conf.listen[i], "tcp://localhost", 15))
            tr_srv_log("warn",
                       "%s is not loopback and not TLS: batches are authenticated but "
                       "not encrypted (use tls+tcp://)",
                       o.conf.listen[i]);
    tr_srv_log("info", "traild %s ready: store %s, %s", TRAIL_VERSION, tr_store_path(store),
               o.conf.token || agents ? "token required" : "no token");

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
    tr_ol_emit_stop(ol);
    tr_http_stop(http);
    tr_srv_counters c;
    tr_srv_stop(srv, &c); /* the store worker ends here: every queued batch is committed */
    tr_agent_keys_free(agents);
    tr_store_close(store);
    tr_srv_log("info", "stopped: records=%llu batches=%llu rejected=%llu duplicates=%llu",
               (unsigned long long)c.records, (unsigned long long)c.batches,
               (unsigned long long)c.rejected, (unsigned long long)c.duplicates);
    return 0;
}
