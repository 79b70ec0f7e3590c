/* help.c - the registry of `trail` commands: dispatch, `trail --help`, `trail help`, man pages. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "deliver.h"
#include "trail.h"

typedef struct cli_cmd {
    const tr_opt_cmd *opts;
    int (*fn)(int, char **);
} cli_cmd;

static const cli_cmd cmds[] = {
    {&tr_run_cmd, tr_cmd_run},         {&tr_runs_cmd, tr_cmd_runs},
    {&tr_show_cmd, tr_cmd_show},       {&tr_metrics_cmd, tr_cmd_metrics},
    {&tr_lineage_cmd, tr_cmd_lineage}, {&tr_diff_cmd, tr_cmd_diff},
    {&tr_logs_cmd, tr_cmd_logs},       {&tr_sync_cmd, tr_cmd_sync},
    {&tr_agent_cmd, tr_cmd_agent},     {&tr_rm_cmd, tr_cmd_rm},
    {&tr_gc_cmd, tr_cmd_gc},           {&tr_forget_cmd, tr_cmd_forget},
    {&tr_tag_cmd, tr_cmd_tag},         {&tr_rename_cmd, tr_cmd_rename},
    {&tr_close_cmd, tr_cmd_close},     {&tr_export_cmd, tr_cmd_export},
    {&tr_ui_cmd, tr_cmd_ui},           {&tr_store_cmd, tr_cmd_store},
    {&tr_help_cmd, tr_cmd_help},
};
#define NCMDS ((int)(sizeof cmds / sizeof cmds[0]))

static const char index_summary[] = "Record ML jobs and query their runs, metrics and lineage";
static const char index_details[] =
    "RUN is a full id, a unique id prefix, or a run name (the latest of that name).\n"
    "The store is --store, else $TRAIL_STORE, else ./.trail/trail.db.\n";

static const cli_cmd *find(const char *word)
{
    for (int i = 0; i < NCMDS; i++)
        if (!strcmp(tr_opt_word(cmds[i].opts), word)) return &cmds[i];
    return NULL;
}

void tr_cli_index(FILE *f, int man)
{
    const tr_opt_cmd *list[NCMDS];
    for (int i = 0; i < NCMDS; i++)
        list[i] = cmds[i].opts;
    tr_opt_index("trail", index_summary, list, NCMDS, index_details, f, man);
}

int tr_cli_dispatch(int argc, char **argv)
{
    const cli_cmd *c = find(argv[0]);
    if (c) return c->fn(argc, argv);
    fprintf(stderr, "trail: unknown command '%s' (see trail --help)\n", argv[0]);
    return TR_EXIT_USAGE;
}

typedef struct help_opts {
    int list, man;
    const char *man_dir;
} help_opts;

static const tr_opt help_opts_table[] = {
    TR_FLAG("man", help_opts, man, "print the page as roff (COMMAND trail: the index)"),
    {.name = "man-dir",
     .kind = TR_OPT_VALUE,
     .arg = "DIR",
     .help = "write trail.1 and trail-COMMAND.1 into DIR",
     .off = offsetof(help_opts, man_dir)},
    {.name = "list",
     .kind = TR_OPT_FLAG,
     .help = "every command's name, one a line",
     .off = offsetof(help_opts, list),
     .flags = TR_OPT_HIDDEN},
    TR_OPT_END};

const tr_opt_cmd tr_help_cmd = {.name = "trail help",
                                .args = "[COMMAND]",
                                .summary = "Show the help of trail or of one command",
                                .opts = help_opts_table,
                                .max_args = 1};

static int write_page(const char *dir, const char *file, const tr_opt_cmd *cmd)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.1", dir, file);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "trail help: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (cmd)
        tr_opt_man(cmd, f);
    else
        tr_cli_index(f, 1);
    return fclose(f) ? 1 : 0;
}

static int man_dir(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "trail help: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    int bad = write_page(dir, "trail", NULL);
    for (int i = 0; i < NCMDS; i++) {
        char file[256];
        snprintf(file, sizeof file, "trail-%s", tr_opt_word(cmds[i].opts));
        bad |= write_page(dir, file, cmds[i].opts);
    }
    return bad;
}

int tr_cmd_help(int argc, char **argv)
{
    help_opts o = {0};
    tr_opt_args args;
    int rc = tr_opt_parse(&tr_help_cmd, argc, argv, &o, &args);
    if (rc) return TR_OPT_EXIT(rc);
    if (o.list) {
        for (int i = 0; i < NCMDS; i++)
            puts(tr_opt_word(cmds[i].opts));
        return 0;
    }
    if (o.man_dir) return man_dir(o.man_dir);
    if (!args.argc || !strcmp(args.argv[0], "trail")) {
        tr_cli_index(stdout, o.man);
        return 0;
    }
    const cli_cmd *c = find(args.argv[0]);
    if (!c) {
        tr_opt_error(&tr_help_cmd, "no command '%s'", args.argv[0]);
        return TR_EXIT_USAGE;
    }
    if (o.man)
        tr_opt_man(c->opts, stdout);
    else
        tr_opt_help(c->opts, stdout);
    return 0;
}
