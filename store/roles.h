/* roles.h - the role of a run's file (data, code, env) and the dependency group of env files:
 * one rule (roles.c) used by the run document, the show listing and the lineage view. */
#ifndef TR_ROLES_H
#define TR_ROLES_H

#include <stddef.h>

struct cJSON;

enum { TR_ROLE_DATA, TR_ROLE_CODE, TR_ROLE_ENV };

#define TR_ROLE_ARGV_MAX 8
/* What the code role needs to know of a run: its cwd and first arguments (the command and
 * script); pointers are borrowed. */
typedef struct tr_role_ctx {
    const char *cwd;
    const char *argv[TR_ROLE_ARGV_MAX];
    int nargv;
} tr_role_ctx;

/* 1 for a file of the environment, by its path alone: the interpreter's and installed
 * distributions' code, bytecode caches (.pyc, __pycache__), dist-info/egg-info metadata, the
 * standard library, shared objects, locale and certificate files, /etc, /proc, /sys, /dev and
 * the rest of /usr and /lib; a distribution's other files (a data set it ships) are not. */
int tr_role_is_env(const char *path);
/* TR_ROLE_ENV (tr_role_is_env), TR_ROLE_CODE (a source file: .py, .ipynb, .sh, ..., or the run's
 * command, or the script an interpreter of argv[0] runs), else TR_ROLE_DATA. ctx may be NULL. */
int tr_role_of(const char *path, const tr_role_ctx *ctx);
/* "data", "code" or "env". */
const char *tr_role_name(int role);
/* The group of an env file, using the run document's "deps" array: "name=version" of the
 * distribution or Debian package it belongs to, "python=3.11.2 (standard library)", or a kind
 * ("bytecode caches", "certificates", "locale data", "system configuration (/etc)", ...). */
void tr_role_env_group(const char *path, const struct cJSON *deps, char *out, size_t cap);
/* Adds "role" to every input and output of a run document, and "group" to env inputs;
 * 0 or TRAIL_ENOMEM. Needs the document's cwd, argv and deps. */
int tr_roles_annotate(struct cJSON *run);

#endif
