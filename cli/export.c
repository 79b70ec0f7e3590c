/* export.c - `trail export openlineage`: runs as OpenLineage RunEvents, one JSON document a line,
 * to stdout, a file, or POSTed to an OpenLineage HTTP endpoint (Marquez: /api/v1/lineage). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "http_client.h"
#include "commands.h"
#include "trail.h"
#include "util.h"

#define MAX_RUNS 100000

typedef struct export_opts {
    const char *store, *since, *out, *url;
    int all_files;
} export_opts;

static const tr_opt export_opts_table[] = {
    TR_VALUE("since", "AGE|TIME", export_opts, since,
             "runs started since (7d, 12h, or 2026-11-30T00:00:00Z)"),
    TR_VALUE("out", "FILE", export_opts, out, "write the events to FILE (default stdout)"),
    TR_VALUE("url", "URL", export_opts, url, "POST each event to URL (http://HOST:PORT/PATH)"),
    TR_FLAG("all-files", export_opts, all_files, "keep env files (libraries, caches) as datasets"),
    TR_VALUE("store", "PATH", export_opts, store, "the store (default $TRAIL_STORE)"),
    TR_OPT_END};

const tr_opt_cmd tr_export_cmd = {
    .name = "trail export",
    .args = "openlineage [RUN...]",
    .summary = "Export runs as OpenLineage events (spec 2-0-2)",
    .opts = export_opts_table,
    .min_args = 1,
    .max_args = -1,
    .missing = "what to export? (openlineage)",
    .details = "START and COMPLETE/FAIL/ABORT per run, and per process as child runs (the\n"
               "parent facet); files are datasets in the namespace file (file://HOST for\n"
               "node-local paths) with their version. Every run when no RUN is named.\n"};

/* Start time of the export window in ns since the epoch (0: no window); -1 when unreadable. */
static int64_t since_ns(const char *s)
{
    if (!s) return 0;
    int64_t age = tr_parse_duration_ns(s);
    if (age >= 0) return tr_now_ns() - age;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) end = strptime(s, "%Y-%m-%d", &tm);
    if (!end || (*end && strcmp(end, "Z"))) return -1;
    return (int64_t)timegm(&tm) * 1000000000LL;
}

/* The runs to export: those named, else every run (started since the window's start). */
static int pick_runs(tr_store *st, const tr_opt_args *a, int64_t since, char (*ids)[33], int *n)
{
    *n = 0;
    if (a->argc > 1) {
        for (int i = 1; i < a->argc; i++)
            if (tr_store_resolve_run(st, a->argv[i], ids[(*n)++]) != 0) {
                tr_agent_err("%s", tr_store_errmsg(st));
                return TR_EXIT_USAGE;
            }
        return 0;
    }
    cJSON *runs = NULL, *r;
    tr_runs_filter f = {0};
    if (tr_store_runs_json(st, &f, &runs) != 0) {
        tr_agent_err("%s", tr_store_errmsg(st));
        return 1;
    }
    char stamp[40];
    tr_store_fmt_time(since, stamp, sizeof stamp);
    cJSON_ArrayForEach(r, runs)
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "id"));
        const char *at = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "started_at"));
        if (!id || strlen(id) > 32 || *n >= MAX_RUNS) continue;
        if (since > 0 && (!at || strcmp(at, stamp) < 0)) continue; /* RFC 3339 UTC sorts */
        snprintf(ids[(*n)++], 33, "%s", id);
    }
    cJSON_Delete(runs);
    return 0;
}

int tr_cmd_export(int argc, char **argv)
{
    export_opts o = {0};
    tr_opt_args a;
    int rc = tr_opt_parse(&tr_export_cmd, argc, argv, &o, &a);
    if (rc) return TR_OPT_EXIT(rc);
    if (strcmp(a.argv[0], "openlineage"))
        return tr_opt_error(&tr_export_cmd, "unknown format '%s' (openlineage)", a.argv[0]),
               TR_EXIT_USAGE;
    if (o.out && o.url)
        return tr_opt_error(&tr_export_cmd, "--out and --url exclude each other"), TR_EXIT_USAGE;
    if (o.url && tr_http_url_ok(o.url))
        return tr_opt_error(&tr_export_cmd, "--url '%s': an http://HOST[:PORT]/PATH URL", o.url),
               TR_EXIT_USAGE;
    int64_t since = since_ns(o.since);
    if (since < 0)
        return tr_opt_error(&tr_export_cmd, "--since '%s': an age (7d) or a UTC time", o.since),
               TR_EXIT_USAGE;
    tr_store *st = tr_agent_open_store(o.store, TR_STORE_READONLY);
    if (!st) return TR_EXIT_USAGE;
    char(*ids)[33] = calloc(MAX_RUNS, sizeof *ids);
    FILE *f = stdout;
    int n = 0, ex = ids ? pick_runs(st, &a, since, ids, &n) : 1, sent = 0;
    if (ex == 0 && o.out && !(f = fopen(o.out, "w"))) {
        tr_agent_err("cannot write %s: %s", o.out, strerror(errno));
        ex = 1;
    }
    for (int i = 0; ex == 0 && i < n; i++) {
        cJSON *events = NULL, *e;
        if (tr_store_openlineage_json(st, ids[i], o.all_files, &events) != 0) {
            tr_agent_err("%s", tr_store_errmsg(st));
            ex = 1;
            break;
        }
        cJSON_ArrayForEach(e, events)
        {
            char *text = cJSON_PrintUnformatted(e), why[300] = "";
            int status = !text   ? -1
                         : o.url ? tr_http_post(o.url, NULL, text, 10, NULL, why, sizeof why)
                                 : 200;
            if (text && !o.url) fprintf(f, "%s\n", text);
            if (text && !why[0] && (status < 200 || status > 299))
                snprintf(why, sizeof why, "%s answered HTTP %d to an event", o.url, status);
            if (!text || status < 200 || status > 299) {
                tr_agent_err("export: %s", text ? why : "out of memory");
                ex = 1;
            }
            sent += ex == 0;
            free(text);
            if (ex) break;
        }
        cJSON_Delete(events);
    }
    if (f && f != stdout && fclose(f) != 0) ex = 1;
    if (ex == 0 && (o.url || o.out))
        fprintf(stderr, "trail export: %d event(s) of %d run(s) %s %s\n", sent, n,
                o.url ? "posted to" : "written to", o.url ? o.url : o.out);
    free(ids);
    tr_store_close(st);
    return ex;
}
