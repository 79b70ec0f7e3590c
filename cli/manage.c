/* manage.c - `trail rm`, `gc`, `forget`, `tag`, `rename`, `close`: changing what the store holds,
 * each saying what it changed (or, with --dry-run, would change). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "trail.h"
#include "util.h"

#define MAX_RUNS 100000

typedef struct manage_opts {
    const char *store, *older, *status;
    int dry_run, force;
} manage_opts;

#define STORE_OPT TR_VALUE("store", "PATH", manage_opts, store, "the store (default $TRAIL_STORE)")
#define DRY_OPT TR_FLAG("dry-run", manage_opts, dry_run, "say what would change, change nothing")

static const tr_opt rm_opts[] = {STORE_OPT, DRY_OPT, TR_OPT_END};
static const tr_opt gc_opts[] = {
    TR_VALUE("older-than", "AGE", manage_opts, older, "runs that ended before AGE ago (90d, 12h)"),
    TR_VALUE("status", "S,...", manage_opts, status, "only runs with these statuses"), STORE_OPT,
    DRY_OPT, TR_OPT_END};
static const tr_opt plain_opts[] = {STORE_OPT, DRY_OPT, TR_OPT_END};
static const tr_opt close_opts[] = {
    TR_CHOICE("status", "finished|failed|killed|crashed|lost", manage_opts, status,
              "the status it ends with (required)"),
    TR_FLAG("force", manage_opts, force, "close a run that has ended already"), STORE_OPT, DRY_OPT,
    TR_OPT_END};

static const char reclaim_note[] = "Removed data is overwritten and the file rewritten (VACUUM),\n"
                                   "so it is gone from the store file and its WAL.\n";

const tr_opt_cmd tr_rm_cmd = {.name = "trail rm",
                              .args = "RUN...",
                              .summary = "Remove runs and everything only they refer to",
                              .opts = rm_opts,
                              .min_args = 1,
                              .max_args = -1,
                              .missing = "which run(s)?",
                              .details = reclaim_note};
const tr_opt_cmd tr_gc_cmd = {.name = "trail gc",
                              .summary = "Remove runs that ended long ago (--older-than AGE)",
                              .opts = gc_opts,
                              .details = reclaim_note};
const tr_opt_cmd tr_forget_cmd = {
    .name = "trail forget",
    .args = "PATH",
    .summary = "Forget every record of a file (data-protection requests)",
    .opts = plain_opts,
    .min_args = 1,
    .max_args = 1,
    .missing = "which file?",
    .details = "The runs that read or wrote it keep the tag trail.forgotten (a count, never\n"
               "the path). Removed data is overwritten and the file rewritten (VACUUM).\n"};
const tr_opt_cmd tr_tag_cmd = {.name = "trail tag",
                               .args = "RUN K=V...",
                               .summary = "Set tags on a run",
                               .opts = plain_opts,
                               .min_args = 2,
                               .max_args = -1,
                               .missing = "which run, and which K=V?"};
const tr_opt_cmd tr_rename_cmd = {.name = "trail rename",
                                  .args = "RUN NAME",
                                  .summary = "Give a run another name",
                                  .opts = plain_opts,
                                  .min_args = 2,
                                  .max_args = 2,
                                  .missing = "which run, and which name?"};
const tr_opt_cmd tr_close_cmd = {
    .name = "trail close",
    .args = "RUN",
    .summary = "End a run that cannot end by itself (--status S)",
    .opts = close_opts,
    .min_args = 1,
    .max_args = 1,
    .missing = "which run?",
    .details = "For a run still shown running or lost whose processes are gone for good.\n"};

/* Parses the command line and opens the store (created never: there must be something). */
static tr_store *begin(const tr_opt_cmd *cmd, int argc, char **argv, manage_opts *o,
                       tr_opt_args *args, int *ex)
{
    memset(o, 0, sizeof *o);
    int rc = tr_opt_parse(cmd, argc, argv, o, args);
    if (rc) {
        *ex = TR_OPT_EXIT(rc);
        return NULL;
    }
    tr_store *st = tr_agent_open_store(o->store, 0);
    *ex = st ? 0 : TR_EXIT_USAGE;
    return st;
}

static int resolve(tr_store *st, const char *ref, char id[33])
{
    int rc = tr_store_resolve_run(st, ref, id);
    if (rc) tr_agent_err("%s", tr_store_errmsg(st));
    return rc;
}

static void human(int64_t b, char *out, size_t n)
{
    if (b < 1024)
        snprintf(out, n, "%lld B", (long long)b);
    else if (b < 1024 * 1024)
        snprintf(out, n, "%.1f KiB", (double)b / 1024);
    else
        snprintf(out, n, "%.1f MiB", (double)b / (1024.0 * 1024));
}

/* The closing line of a removal: what went, and the space given back. */
static int report(tr_store *st, const tr_manage_report *r, int dry_run)
{
    printf("%s %lld run(s), %lld row(s), %lld file version(s), %lld file(s)\n",
           dry_run ? "would remove" : "removed", (long long)r->runs, (long long)r->rows,
           (long long)r->versions, (long long)r->artifacts);
    if (dry_run) return 0;
    int64_t before, after;
    if (tr_store_reclaim(st, &before, &after) != 0) {
        tr_agent_err("%s", tr_store_errmsg(st));
        return 1;
    }
    char b[32], a[32];
    human(before, b, sizeof b);
    human(after, a, sizeof a);
    printf("store %s: %s -> %s\n", tr_store_path(st), b, a);
    return 0;
}

static int remove_ids(tr_store *st, const char *const *ids, int n, int dry_run)
{
    tr_manage_report r;
    if (tr_store_rm_runs(st, ids, n, dry_run, &r) != 0) {
        tr_agent_err("%s", tr_store_errmsg(st));
        return 1;
    }
    return report(st, &r, dry_run);
}

int tr_cmd_rm(int argc, char **argv)
{
    manage_opts o;
    tr_opt_args a;
    int ex;
    tr_store *st = begin(&tr_rm_cmd, argc, argv, &o, &a, &ex);
    if (!st) return ex;
    char(*ids)[33] = calloc((size_t)a.argc, sizeof *ids);
    const char **list = calloc((size_t)a.argc, sizeof *list);
    for (int i = 0; ids && list && i < a.argc && ex == 0; i++) {
        if (resolve(st, a.argv[i], ids[i]) != 0) ex = TR_EXIT_USAGE;
        list[i] = ids[i];
        if (ex == 0) printf("%s %s\n", o.dry_run ? "would remove" : "removing", ids[i]);
    }
    if (!ids || !list) ex = 1;
    if (ex == 0) ex = remove_ids(st, list, a.argc, o.dry_run);
    free(ids);
    free(list);
    tr_store_close(st);
    return ex;
}

int tr_cmd_gc(int argc, char **argv)
{
    manage_opts o;
    int ex;
    tr_store *st = begin(&tr_gc_cmd, argc, argv, &o, NULL, &ex);
    if (!st) return ex;
    int64_t age = o.older ? tr_parse_duration_ns(o.older) : -1;
    if (age < 0) {
        if (o.older)
            tr_opt_error(&tr_gc_cmd, "--older-than '%s': use a number and d, h, m, s or w",
                         o.older);
        else
            tr_opt_error(&tr_gc_cmd, "--older-than AGE is required");
        tr_store_close(st);
        return TR_EXIT_USAGE;
    }
    char(*ids)[33] = calloc(MAX_RUNS, sizeof *ids);
    const char **list = calloc(MAX_RUNS, sizeof *list);
    int n = 0;
    if (!ids || !list)
        ex = 1;
    else if (tr_store_gc_select(st, tr_now_ns() - age, o.status, ids, MAX_RUNS, &n) != 0) {
        tr_agent_err("%s", tr_store_errmsg(st));
        ex = 1;
    }
    for (int i = 0; ex == 0 && i < n; i++)
        list[i] = ids[i];
    if (ex == 0 && n == 0)
        printf("no run ended before %s ago%s%s\n", o.older, o.status ? " with status " : "",
               o.status ? o.status : "");
    else if (ex == 0)
        ex = remove_ids(st, list, n, o.dry_run);
    free(ids);
    free(list);
    tr_store_close(st);
    return ex;
}

int tr_cmd_forget(int argc, char **argv)
{
    manage_opts o;
    tr_opt_args a;
    int ex;
    tr_store *st = begin(&tr_forget_cmd, argc, argv, &o, &a, &ex);
    if (!st) return ex;
    char key[4608], abs[4096];
    int64_t ver;
    if ((ex = tr_lineage_file_target(st, a.argv[0], &ver, key, sizeof key)) == 0) {
        tr_manage_report r;
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd) || tr_path_normalize(a.argv[0], cwd, abs, sizeof abs) != 0)
            snprintf(abs, sizeof abs, "%s", a.argv[0]);
        if (tr_store_forget(st, key, abs, o.dry_run, &r) != 0) {
            tr_agent_err("%s", tr_store_errmsg(st));
            ex = 1;
        } else {
            printf("%s %s from %lld run(s)\n", o.dry_run ? "would forget" : "forgot", key,
                   (long long)r.runs);
            r.runs = 0;
            ex = report(st, &r, o.dry_run);
        }
    }
    tr_store_close(st);
    return ex;
}

int tr_cmd_tag(int argc, char **argv)
{
    manage_opts o;
    tr_opt_args a;
    int ex;
    char id[33];
    tr_store *st = begin(&tr_tag_cmd, argc, argv, &o, &a, &ex);
    if (!st) return ex;
    if (resolve(st, a.argv[0], id) != 0) ex = TR_EXIT_USAGE;
    for (int i = 1; ex == 0 && i < a.argc; i++)
        if (!strchr(a.argv[i], '=') || a.argv[i][0] == '=') {
            tr_opt_error(&tr_tag_cmd, "'%s' is not K=V", a.argv[i]);
            ex = TR_EXIT_USAGE;
        }
    for (int i = 1; ex == 0 && i < a.argc; i++) {
        char *kv = a.argv[i], *eq = strchr(kv, '=');
        *eq = 0;
        if (!o.dry_run && tr_store_tag_set(st, id, kv, eq + 1) != 0) {
            tr_agent_err("%s", tr_store_errmsg(st));
            ex = 1;
        } else {
            printf("%s %s: %s = %s\n", o.dry_run ? "would tag" : "tagged", id, kv, eq + 1);
        }
    }
    tr_store_close(st);
    return ex;
}

int tr_cmd_rename(int argc, char **argv)
{
    manage_opts o;
    tr_opt_args a;
    int ex;
    char id[33];
    tr_store *st = begin(&tr_rename_cmd, argc, argv, &o, &a, &ex);
    if (!st) return ex;
    if (resolve(st, a.argv[0], id) != 0)
        ex = TR_EXIT_USAGE;
    else if (!o.dry_run && tr_store_rename_run(st, id, a.argv[1]) != 0) {
        tr_agent_err("%s", tr_store_errmsg(st));
        ex = 1;
    } else {
        printf("%s %s to %s\n", o.dry_run ? "would rename" : "renamed", id, a.argv[1]);
    }
    tr_store_close(st);
    return ex;
}

int tr_cmd_close(int argc, char **argv)
{
    manage_opts o;
    tr_opt_args a;
    int ex;
    char id[33], was[32] = "";
    tr_store *st = begin(&tr_close_cmd, argc, argv, &o, &a, &ex);
    if (!st) return ex;
    if (!o.status) {
        tr_opt_error(&tr_close_cmd, "--status S is required");
        ex = TR_EXIT_USAGE;
    } else if (resolve(st, a.argv[0], id) != 0) {
        ex = TR_EXIT_USAGE;
    } else if (o.dry_run) {
        printf("would close %s as %s\n", id, o.status);
    } else if (tr_store_close_run(st, id, o.status, tr_now_ns(), o.force, was, sizeof was) != 0) {
        tr_agent_err("%s", tr_store_errmsg(st));
        ex = TR_EXIT_USAGE;
    } else {
        printf("closed %s: %s -> %s\n", id, was, o.status);
    }
    tr_store_close(st);
    return ex;
}
