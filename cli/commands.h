/* commands.h - the option tables of every `trail` command, for dispatch, --help and man pages. */
#ifndef TR_COMMANDS_H
#define TR_COMMANDS_H

#include "opts.h"

extern const tr_opt_cmd tr_runs_cmd, tr_show_cmd, tr_metrics_cmd; /* query.c */
extern const tr_opt_cmd tr_lineage_cmd;                           /* lineage_cmd.c */
extern const tr_opt_cmd tr_diff_cmd;                              /* diff.c */
extern const tr_opt_cmd tr_logs_cmd;                              /* logs.c */
extern const tr_opt_cmd tr_sync_cmd, tr_help_cmd;                 /* main.c */
extern const tr_opt_cmd tr_rm_cmd, tr_gc_cmd, tr_forget_cmd;      /* manage.c */
extern const tr_opt_cmd tr_tag_cmd, tr_rename_cmd, tr_close_cmd;  /* manage.c */
extern const tr_opt_cmd tr_export_cmd;                            /* export.c */
extern const tr_opt_cmd tr_run_cmd;                               /* agent/run.c */
extern const tr_opt_cmd tr_agent_cmd;                             /* agent/agentd.c */
extern const tr_opt_cmd tr_ui_cmd;                                /* ui.c */
extern const tr_opt_cmd tr_store_cmd;                             /* store_cmd.c */
/* `trail store copy SRC DST` (store_cmd.c). */
int tr_cmd_store(int argc, char **argv);
/* `trail ui` (ui.c). */
int tr_cmd_ui(int argc, char **argv);

/* `trail help [COMMAND]`, `trail help --man COMMAND`, `trail help --man-dir DIR` (help.c). */
int tr_cmd_help(int argc, char **argv);
/* Runs the command argv[0] (argv[1..] its arguments); the exit status, 2 for an unknown one. */
int tr_cli_dispatch(int argc, char **argv);
/* `trail --help`: every command and its summary; a man page when man is set. */
void tr_cli_index(FILE *f, int man);

#endif
