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
             "with --collector: give up after SECS (default 30)"),
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
    if (so.collector) return tr_cmd_sync_collector(argc, argv);
    if (so.token_file || so.tls_ca || so.timeout) {
        tr_opt_error(&tr_sync_cmd, "--token-file, --tls-ca and --timeout need --collector");
        return TR_EXIT_USAGE;
    }
    const char *store_opt = so.store, *root_opt = so.root;
    char root[4096];
    if (root_opt) snprintf(root, sizeof root, "%s", root_opt);
    else tr_spool_root(root, sizeof root);
    DIR *d = opendir(root);
    if (!d) {
        if (errno == ENOENT) {
            fprintf(stderr, "trail sync: nothing to deliver (%s does not exist)\n", root);
            return 0;
        }
        tr_agent_err("sync: cannot read %s: %s", root, strerror(errno));
        return 1;
    }
    long total = 0;
    int runs = 0, failed = 0, waiting = 0, collector_runs = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!tr_is_hex_id(e->d_name)) continue;
        char dir[4200], destf[4300], dest[4096];
        tr_path_join(dir, sizeof dir, root, e->d_name);
        tr_path_join(destf, sizeof destf, dir, "dest");
        tr_path_join(dest, sizeof dest, dir, TR_COLLECTOR_MARK);
        if (!store_opt && access(dest, F_OK) == 0) {
            collector_runs++; /* bound to traild: `trail sync --collector` or `trail agent` */
            continue;
        }
        const char *target = store_opt;
        if (!target && tr_read_file(destf, dest, sizeof dest) > 0) target = dest;
        tr_store *st = tr_agent_open_store(target, TR_STORE_CREATE);
        if (!st) {
            failed++;
            continue;
        }
        tr_tail t;
        if (tr_tail_open(&t, dir, st) != 0) {
            tr_store_close(st);
            failed++;
            continue;
        }
        long n = tr_tail_drain(&t);
        if (n < 0) {
            tr_agent_err("sync: %s: %s", dir, tr_store_errmsg(st));
            failed++;
        } else {
            total += n;
            if (n > 0) runs++;
        }
        int left = tr_spool_reader_pending(t.reader);
        waiting += tr_spool_reader_live_writers(t.reader);
        tr_tail_close(&t);
        tr_store_close(st);
        if (left == 0) {
            unlink(destf);
            rmdir(dir);
        }
    }
    closedir(d);
    fprintf(stderr, "trail sync: delivered %ld record(s) from %d run(s)", total, runs);
    if (waiting) fprintf(stderr, "; %d process(es) still writing", waiting);
    if (collector_runs)
        fprintf(stderr, "; %d run(s) wait for a collector (trail sync --collector URL)",
                collector_runs);
    fputc('\n', stderr);
    return failed ? 1 : 0;
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
