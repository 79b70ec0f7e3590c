/* cli.h - the query and management commands of `trail` and their renderers. */
#ifndef TR_CLI_H
#define TR_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "store.h"

/* Subcommands; argv[0] is the subcommand name. Each returns the process exit status. */
int tr_cmd_runs(int argc, char **argv);
int tr_cmd_show(int argc, char **argv);
int tr_cmd_metrics(int argc, char **argv);
int tr_cmd_sync(int argc, char **argv);
int tr_cmd_lineage(int argc, char **argv);
int tr_cmd_diff(int argc, char **argv);
/* Managing what is stored (manage.c). */
int tr_cmd_rm(int argc, char **argv);
int tr_cmd_gc(int argc, char **argv);
int tr_cmd_forget(int argc, char **argv);
int tr_cmd_tag(int argc, char **argv);
int tr_cmd_rename(int argc, char **argv);
int tr_cmd_close(int argc, char **argv);
/* `trail export openlineage` (export.c). */
int tr_cmd_export(int argc, char **argv);
int tr_cmd_logs(int argc, char **argv); /* logs.c */
/* `trail show PATH`: a file's versions, writers and readers (lineage_cmd.c). */
int tr_show_path(const char *store_opt, const char *path, int json);
/* Resolves PATH[@VERSION] (relative to the cwd, node-local paths as this host's) to a version
 * and the artifact key found; prints the error and returns an exit status otherwise. */
int tr_lineage_file_target(tr_store *st, const char *arg, int64_t *ver, char *key, size_t n);
/* The artifact key of a path argument as this host would have recorded it (node-local paths
 * host-qualified; "HOST:/path" stays as is), and the plain absolute path; 0 or -1. */
int tr_lineage_arg_key(const char *arg, char *key, size_t n, char *plain, size_t pn);

/* `trail show RUN` as text after its header (show_run.c): files grouped by directory unless
 * TR_SHOW_FILES (--files) or TR_SHOW_ALL (--all, temporaries included), the process tree, the
 * crash, environment and dependencies. */
#define TR_SHOW_ALL 0x1
#define TR_SHOW_FILES 0x2
struct cJSON;
void tr_show_run_sections(const struct cJSON *r, int flags);

#endif
