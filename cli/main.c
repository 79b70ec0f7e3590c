/* main.c - the `trail` command: subcommand dispatch, shared options, and `trail sync`. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "deliver.h"
#include "trail.h"
#include "util.h"

typedef struct sync_opts {
    const char *store, *root, *collector, *token_file, *tls_ca, *timeout;
} sync_opts;

static const tr_opt sync_opts_table[] = {
    TR_VALUE("store", "PATH", sync_opts, store,
             "deliver every run into PATH (default: each run's own)"),
    TR_VALUE("spool-root", "DIR", sync_opts, root, "the spool root (default $TRAIL_SPOOL_ROOT)"),
    TR_VALUE("collector", "URL", sync_opts, collector,
             "deliver to traild (tcp://, tls+tcp://, ipc://, a port)"),
    TR_VALUE("token-file", "F", sync_opts, token_file,
             "with --collector: the token (default $TRAIL_TOKEN_FILE)"),
    TR_VALUE("tls-ca", "F", sync_opts, tls_ca,
             "with --collector: CA of tls+tcp:// ($TRAIL_TLS_CA)"),
    TR_VALUE("timeout", "SECS", sync_opts, timeout,
             "give up after SECS without progress (default 30)"),
    TR_OPT_END};

const tr_opt_cmd tr_sync_cmd = {
    .name = "trail sync",
    .summary = "Deliver spooled records left behind to their store or to traild",
    .opts = sync_opts_table};

/* Delivers every run directory under the spool root into its store. */
int tr_cmd_sync(int argc, char **argv)
{
    sync_opts so = {0};
    int prc = tr_opt_parse(&tr_sync_cmd, argc, argv, &so, NULL);
    if (prc) return TR_OPT_EXIT(prc);
    if (so.collector && so.store) {
        tr_opt_error(&tr_sync_cmd, "--store and --collector exclude each other");
        return TR_EXIT_USAGE;
    }
    tr_deliver_req req = {.store = so.store, .root = so.root};
    req.link =
        (tr_link_opts){.url = so.collector, .token_file = so.token_file, .tls_ca = so.tls_ca};
    if (!so.collector && (so.token_file || so.tls_ca)) {
        tr_opt_error(&tr_sync_cmd, "--token-file and --tls-ca need --collector");
        return TR_EXIT_USAGE;
    }
    if (so.timeout && tr_opt_double(&tr_sync_cmd, "--timeout", so.timeout, 0, &req.timeout_s))
        return TR_EXIT_USAGE;
    return tr_agent_sync(&req);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        tr_cli_index(stderr, 0);
        return TR_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        tr_cli_index(stdout, 0);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("trail %s\n", TRAIL_VERSION);
        return 0;
    }
    return tr_cli_dispatch(argc - 1, argv + 1);
}
