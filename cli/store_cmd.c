/* store_cmd.c - `trail store copy SRC DST`: a store moved to another backend, resumable, verified.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "json_safe.h"
#include "textout.h"
#include "trail.h"

typedef struct store_opts {
    const char *batch;
    int json, quiet;
} store_opts;

static const tr_opt store_opts_table[] = {
    TR_VALUE("batch", "N", store_opts, batch, "rows per transaction (default 5000)"),
    TR_FLAG("json", store_opts, json, "print the report as JSON"),
    TR_FLAG("quiet", store_opts, quiet, "no progress lines on stderr"), TR_OPT_END};

const tr_opt_cmd tr_store_cmd = {
    .name = "trail store",
    .args = "copy SRC DST",
    .summary = "Copy a store into another (SQLite <-> PostgreSQL)",
    .opts = store_opts_table,
    .min_args = 3,
    .max_args = 3,
    .missing = "usage: trail store copy SRC DST",
    .details = "SRC and DST are store files or postgresql://USER@HOST/DB URLs (password\n"
               "from $TRAIL_STORE_PASSWORD_FILE, PGPASSFILE or ~/.pgpass). DST is created\n"
               "and migrated; it must hold no runs, unless it holds an interrupted copy\n"
               "of SRC: the progress is committed with every batch, so running the same\n"
               "command again goes on where it stopped. Every table's rows are counted\n"
               "on both sides at the end; exit 0 only when all agree.\n"};

static void progress(void *arg, const char *table, int64_t copied)
{
    if (*(int *)arg) return;
    fprintf(stderr, "trail: copied %lld row(s) of %s\n", (long long)copied, tr_esc(table));
}

int tr_cmd_store(int argc, char **argv)
{
    store_opts o = {0};
    tr_opt_args a;
    int rc = tr_opt_parse(&tr_store_cmd, argc, argv, &o, &a);
    if (rc) return TR_OPT_EXIT(rc);
    if (strcmp(a.argv[0], "copy"))
        return tr_opt_error(&tr_store_cmd, "unknown subcommand '%s' (copy)", a.argv[0]),
               TR_EXIT_USAGE;
    long batch = 5000;
    if (o.batch) {
        char *end;
        batch = strtol(o.batch, &end, 10);
        if (*end || batch <= 0 || batch > 1000000)
            return tr_opt_error(&tr_store_cmd, "--batch '%s': a number of rows (1-1000000)",
                                o.batch),
                   TR_EXIT_USAGE;
    }
    tr_store *src = tr_agent_open_store(a.argv[1], TR_STORE_READONLY);
    if (!src) return TR_EXIT_USAGE;
    tr_store *dst = tr_agent_open_store(a.argv[2], TR_STORE_CREATE);
    if (!dst) {
        tr_store_close(src);
        return TR_EXIT_USAGE;
    }
    cJSON *report = NULL;
    int quiet = o.quiet || o.json;
    rc = tr_store_copy(src, dst, (int)batch, progress, &quiet, &report);
    int ex = rc ? 1 : 0;
    if (report && o.json) {
        char *s = tr_json_print_safe(report, 1);
        if (s) printf("%s\n", s);
        free(s);
    } else if (report) {
        cJSON *t;
        printf("%-24s %12s %12s %12s\n", "TABLE", "SOURCE", "TARGET", "COPIED");
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(report, "tables"))
        {
            printf("%-24s %12.0f %12.0f %12.0f\n",
                   tr_esc(cJSON_GetStringValue(cJSON_GetObjectItem(t, "table"))),
                   cJSON_GetNumberValue(cJSON_GetObjectItem(t, "source_rows")),
                   cJSON_GetNumberValue(cJSON_GetObjectItem(t, "target_rows")),
                   cJSON_GetNumberValue(cJSON_GetObjectItem(t, "copied")));
        }
        printf("%s\n", rc ? "counts differ" : "verified: every table's rows counted alike");
    }
    if (rc)
        tr_agent_err("store copy: %s",
                     tr_store_errmsg(dst)[0] ? tr_store_errmsg(dst) : tr_store_errmsg(src));
    cJSON_Delete(report);
    tr_store_close(dst);
    tr_store_close(src);
    return ex;
}
