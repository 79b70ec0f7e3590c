/* main.c - the `trail` command: subcommand dispatch, shared options, and `trail sync`. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "deliver.h"
#include "trail.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: trail COMMAND [OPTIONS]\n\n"
            "  run [--store PATH] [--experiment E] [--name N] [--param K=V]... -- CMD...\n"
            "                      run CMD and record it\n"
            "  runs [--json] [--experiment E] [--limit N]   list runs\n"
            "  show RUN [--json]   one run: command, times, exit, params, metrics, env\n"
            "  metrics RUN [--json|--csv]   the full metric history of a run\n"
            "  show PATH [--json] [--all]   a file: its versions, the runs that wrote and read each\n"
            "  runs --where EXPR    filter: metrics.loss < 0.2 and params.lr = '0.01' and\n"
            "                      (status = 'finished' or input = 'data/train.csv')\n"
            "  lineage (RUN|PATH[@VERSION]) [--up|--down] [--depth N] [--files] [--all]\n"
            "          [--format text|json|dot|mermaid]   the runs and files upstream/downstream\n"
            "  diff RUN_A RUN_B [--json]   what differs between two runs, causes first\n"
            "  sync [--store PATH] [--spool-root DIR]   deliver spooled records\n"
            "  sync --collector URL [--token-file F] [--tls-ca F] [--timeout SECS]\n"
            "                      deliver spooled records to traild\n"
            "  agent --collector URL [--spool-root DIR] [--token-file F] [--tls-ca F]\n"
            "                      node daemon: deliver every run's spool to traild\n\n"
            "RUN is a full id, a unique id prefix, or a run name (the latest of that name).\n"
            "The store is --store, else $TRAIL_STORE, else ./.trail/trail.db.\n");
}

/* Delivers every run directory under the spool root into its store. */
int tr_cmd_sync(int argc, char **argv)
{
    const char *store_opt = NULL, *root_opt = NULL;
    if (tr_sync_wants_collector(argc, argv)) return tr_cmd_sync_collector(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--store") && i + 1 < argc) store_opt = argv[++i];
        else if (!strcmp(argv[i], "--spool-root") && i + 1 < argc) root_opt = argv[++i];
        else {
            tr_agent_err("sync: unknown option '%s'", argv[i]);
            return TR_EXIT_USAGE;
        }
    }
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
        usage(stderr);
        return TR_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("trail %s\n", TRAIL_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"run", tr_cmd_run},         {"runs", tr_cmd_runs}, {"show", tr_cmd_show},
                {"metrics", tr_cmd_metrics}, {"sync", tr_cmd_sync},
                {"lineage", tr_cmd_lineage}, {"diff", tr_cmd_diff},
                {"agent", tr_cmd_agent}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(cmd, cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    tr_agent_err("unknown command '%s' (see trail --help)", cmd);
    return TR_EXIT_USAGE;
}
