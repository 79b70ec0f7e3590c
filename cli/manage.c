/* manage.c - `trail rm`, `gc`, `forget`, `tag`, `rename`, `close`: changing what the store holds,
 * each saying what it changed (or, with --dry-run, would change). Each builds one request that
 * store/manage_ops.c runs: on the embedded store, or on traild's with --store http://HOST:PORT
 * (POST /api/manage, the bearer token from --token-file or $TRAIL_TOKEN_FILE). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "batch.h"
#include "http_client.h"
#include "manage_ops.h"
#include "textout.h"
#include "trail.h"
#include "util.h"

typedef struct manage_opts {
    const char *store, *older, *status, *token_file;
    int dry_run, force;
} manage_opts;

#define STORE_OPT                                                                                  \
    TR_VALUE("store", "PATH|URL", manage_opts, store,                                              \
             "the store ($TRAIL_STORE), or traild's http://HOST:PORT"),                            \
        TR_VALUE("token-file", "F", manage_opts, token_file,                                       \
                 "traild's token for http:// ($TRAIL_TOKEN_FILE)")
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
                                   "so it is gone from the store file and its WAL.\n"
                                   "With --store http://HOST:PORT, traild does it to its store.\n";

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

/* Parses the command line into o and args: 0 to go on, else 1 with the exit status in *ex
 * (0 after --help). */
static int parse(const tr_opt_cmd *cmd, int argc, char **argv, manage_opts *o, tr_opt_args *args,
                 int *ex)
{
    memset(o, 0, sizeof *o);
    int rc = tr_opt_parse(cmd, argc, argv, o, args);
    *ex = TR_OPT_EXIT(rc);
    return rc != 0;
}

/* traild's answer to req: POST /api/manage on the http:// store URL. NULL after an error said. */
static cJSON *remote(const manage_opts *o, const cJSON *req)
{
    const char *tf = o->token_file ? o->token_file : getenv("TRAIL_TOKEN_FILE");
    static uint8_t token[4097];
    size_t tl = 0;
    char err[4400], url[4200], why[300];
    if (!tf || !*tf) {
        tr_agent_err("--store %s: give traild's token (--token-file F or TRAIL_TOKEN_FILE)",
                     o->store);
        return NULL;
    }
    if (tr_batch_load_token(tf, token, sizeof token - 1, &tl, err, sizeof err) != 0) {
        tr_agent_err("%s", err);
        return NULL;
    }
    token[tl] = 0;
    size_t n = strlen(o->store);
    snprintf(url, sizeof url, "%.*s/api/manage", (int)(n && o->store[n - 1] == '/' ? n - 1 : n),
             o->store);
    char *body = cJSON_PrintUnformatted(req), *reply = NULL;
    int st = body ? tr_http_post(url, (const char *)token, body, 600, &reply, why, sizeof why) : -1;
    free(body);
    memset(token, 0, sizeof token);
    cJSON *doc = reply ? cJSON_Parse(reply) : NULL;
    free(reply);
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "lines"))) {
        if (st < 0)
            tr_agent_err("%s", why);
        else
            tr_agent_err("%s answered HTTP %d without a management answer", url, st);
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

/* Runs req on the store of --store (traild's for an http:// URL) and prints the answer: its
 * lines on stdout, its error on stderr. The exit status. */
static int execute(const manage_opts *o, cJSON *req)
{
    cJSON *doc = NULL, *l;
    cJSON_AddBoolToObject(req, "dry_run", o->dry_run);
    if (o->store && !strncmp(o->store, "http://", 7)) {
        doc = remote(o, req);
    } else {
        tr_store *st = tr_agent_open_store(o->store, 0);
        if (st) tr_store_manage_json(st, req, &doc);
        tr_store_close(st);
    }
    cJSON_Delete(req);
    if (!doc) return TR_EXIT_USAGE;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(doc, "lines"))
        printf("%s\n", tr_esc(cJSON_GetStringValue(l) ? cJSON_GetStringValue(l) : ""));
    /* the lines may come from a traild: printed as text that cannot drive the terminal */
    const char *err = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "error"));
    if (err) tr_agent_err("%s", tr_esc(err));
    int ex = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(doc, "exit"));
    cJSON_Delete(doc);
    return ex;
}

static cJSON *request(const char *op)
{
    cJSON *q = cJSON_CreateObject();
    cJSON_AddStringToObject(q, "op", op);
    return q;
}

int tr_cmd_rm(int argc, char **argv)
{
    manage_opts o;
    tr_opt_args a;
    int ex;
    if (parse(&tr_rm_cmd, argc, argv, &o, &a, &ex)) return ex;
    cJSON *q = request("rm"), *runs = cJSON_AddArrayToObject(q, "runs");
    for (int i = 0; i < a.argc; i++)
        cJSON_AddItemToArray(runs, cJSON_CreateString(a.argv[i]));
    return execute(&o, q);
}

int tr_cmd_gc(int argc, char **argv)
{
    manage_opts o;
    int ex;
    if (parse(&tr_gc_cmd, argc, argv, &o, NULL, &ex)) return ex;
    if (!o.older || tr_parse_duration_ns(o.older) < 0) {
        if (o.older)
            tr_opt_error(&tr_gc_cmd, "--older-than '%s': use a number and d, h, m, s or w",
                         o.older);
        else
            tr_opt_error(&tr_gc_cmd, "--older-than AGE is required");
        return TR_EXIT_USAGE;
    }
    cJSON *q = request("gc");
    cJSON_AddStringToObject(q, "older_than", o.older);
    if (o.status) cJSON_AddStringToObject(q, "status", o.status);
    return execute(&o, q);
}

int tr_cmd_forget(int argc, char **argv)
{
    manage_opts o;
    tr_opt_args a;
    int ex;
    if (parse(&tr_forget_cmd, argc, argv, &o, &a, &ex)) return ex;
    /* the key as this host recorded the path (node-local paths host-qualified), made here so
     * that traild, on another host, looks for the same file */
    char arg[4096], key[4608], plain[4096];
    snprintf(arg, sizeof arg, "%s", a.argv[0]);
    char *at = strrchr(arg, '@');
    if (at && at > arg && !strchr(at, '/'))
        *at++ = 0;
    else
        at = NULL;
    if (tr_lineage_arg_key(arg, key, sizeof key, plain, sizeof plain) != 0) {
        tr_agent_err("bad path '%s'", a.argv[0]);
        return TR_EXIT_USAGE;
    }
    cJSON *q = request("forget");
    cJSON_AddStringToObject(q, "key", key);
    cJSON_AddStringToObject(q, "path", plain);
    if (at) cJSON_AddStringToObject(q, "spec", at);
    return execute(&o, q);
}

int tr_cmd_tag(int argc, char **argv)
{
    manage_opts o;
    tr_opt_args a;
    int ex;
    if (parse(&tr_tag_cmd, argc, argv, &o, &a, &ex)) return ex;
    for (int i = 1; i < a.argc; i++)
        if (!strchr(a.argv[i], '=') || a.argv[i][0] == '=') {
            tr_opt_error(&tr_tag_cmd, "'%s' is not K=V", a.argv[i]);
            return TR_EXIT_USAGE;
        }
    cJSON *q = request("tag"), *tags;
    cJSON_AddStringToObject(q, "run", a.argv[0]);
    tags = cJSON_AddArrayToObject(q, "tags");
    for (int i = 1; i < a.argc; i++) {
        char *eq = strchr(a.argv[i], '=');
        cJSON *kv = cJSON_CreateArray();
        cJSON_AddItemToArray(kv, cJSON_CreateString(""));
        cJSON_AddItemToArray(kv, cJSON_CreateString(eq + 1));
        *eq = 0;
        cJSON_ReplaceItemInArray(kv, 0, cJSON_CreateString(a.argv[i]));
        cJSON_AddItemToArray(tags, kv);
    }
    return execute(&o, q);
}

int tr_cmd_rename(int argc, char **argv)
{
    manage_opts o;
    tr_opt_args a;
    int ex;
    if (parse(&tr_rename_cmd, argc, argv, &o, &a, &ex)) return ex;
    cJSON *q = request("rename");
    cJSON_AddStringToObject(q, "run", a.argv[0]);
    cJSON_AddStringToObject(q, "name", a.argv[1]);
    return execute(&o, q);
}

int tr_cmd_close(int argc, char **argv)
{
    manage_opts o;
    tr_opt_args a;
    int ex;
    if (parse(&tr_close_cmd, argc, argv, &o, &a, &ex)) return ex;
    if (!o.status) {
        tr_opt_error(&tr_close_cmd, "--status S is required");
        return TR_EXIT_USAGE;
    }
    cJSON *q = request("close");
    cJSON_AddStringToObject(q, "run", a.argv[0]);
    cJSON_AddStringToObject(q, "status", o.status);
    cJSON_AddBoolToObject(q, "force", o.force);
    return execute(&o, q);
}
