/* ui.c - `trail ui`: the web page and its API over the embedded store, on loopback only, behind
 * a token made for this start (printed in the URL, as Jupyter does). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "agent.h"
#include "api.h"
#include "cli.h"
#include "commands.h"
#include "trail.h"

typedef struct ui_opts {
    const char *store, *port;
} ui_opts;

static const tr_opt ui_opts_table[] = {
    TR_VALUE("port", "N", ui_opts, port, "the port on 127.0.0.1 (default: a free one)"),
    TR_VALUE("store", "PATH", ui_opts, store,
             "the store (default: $TRAIL_STORE, ./.trail/trail.db)"),
    TR_OPT_END};

const tr_opt_cmd tr_ui_cmd = {
    .name = "trail ui",
    .summary = "A web page of runs, charts and lineage, on loopback",
    .opts = ui_opts_table,
    .details = "Serves the page and its JSON API (docs/collector.md) on 127.0.0.1 until\n"
               "interrupted. The URL printed carries a token made for this start; the page\n"
               "keeps it for its tab and sends it as 'Authorization: Bearer TOKEN' with every\n"
               "/api request.\n"};

/* 32 random hex characters. */
static int make_token(char out[33])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

int tr_cmd_ui(int argc, char **argv)
{
    ui_opts o = {0};
    tr_opt_args args;
    int prc = tr_opt_parse(&tr_ui_cmd, argc, argv, &o, &args);
    if (prc) return TR_OPT_EXIT(prc);
    char *end = NULL;
    long port = o.port ? strtol(o.port, &end, 10) : 0;
    if (o.port && (!*o.port || *end || port < 0 || port > 65535)) {
        tr_agent_err("--port wants a number from 0 to 65535, not '%s'", o.port);
        return TR_EXIT_USAGE;
    }
    char path[4096], token[33], url[64];
    tr_agent_store_path(o.store, path, sizeof path);
    tr_store *check = tr_agent_open_store(o.store, TR_STORE_READONLY); /* says why it cannot */
    if (!check) return TR_EXIT_USAGE;
    tr_store_close(check);
    if (make_token(token) != 0) {
        tr_agent_err("cannot read random bytes for the token: %s", strerror(errno));
        return 1;
    }
    /* SIGINT and SIGTERM are taken by sigwait below, in every thread nng starts */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%ld", port);
    nng_url *u = NULL;
    nng_http_server *srv = NULL;
    tr_api *api = NULL;
    int rv = nng_url_parse(&u, url);
    if (!rv) rv = nng_http_server_hold(&srv, u);
    if (!rv) rv = tr_api_register(srv, path, (const uint8_t *)token, strlen(token), &api);
    if (!rv) rv = nng_http_server_start(srv);
    nng_url_free(u);
    nng_sockaddr sa;
    if (!rv) rv = nng_http_server_get_addr(srv, &sa);
    if (rv) {
        tr_agent_err("cannot serve on %s: %s", url, nng_strerror(rv));
        if (srv) nng_http_server_release(srv);
        tr_api_free(api);
        return 1;
    }
    unsigned p = ((sa.s_in.sa_port & 0xff) << 8) | (sa.s_in.sa_port >> 8);
    printf("trail ui: serving %s (Ctrl-C stops)\n    http://127.0.0.1:%u/?token=%s\n", path, p,
           token);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    nng_http_server_stop(srv);
    nng_http_server_release(srv);
    tr_api_free(api);
    memset(token, 0, sizeof token);
    return 0;
}
