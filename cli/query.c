/* query.c - `trail runs`, `trail show` and `trail metrics`: the store's JSON as text, JSON or CSV.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json_safe.h"
#include "textout.h"
#include "cli.h"
#include "trail.h"
#include "where.h"
#include "jsonfmt.h"
#include "commands.h"

typedef struct qopts {
    const char *store, *experiment, *run, *where, *format, *limit;
    int all, files, full;
    int system; /* runs: the system/... metrics too (sampled by trail run, not the program's) */
} qopts;

#define RUNS_PAGE 50 /* `trail runs` without --limit or --all */

#define STORE_OPT                                                                                  \
    TR_VALUE("store", "PATH", qopts, store, "the store (default: $TRAIL_STORE, ./.trail/trail.db)")
#define RUN_HELP "RUN is a full id, a unique id prefix, or a run name (the latest of that name).\n"

static const tr_opt runs_opts[] = {
    TR_VALUE("where", "EXPR", qopts, where, "only the runs EXPR holds for (see below)"),
    TR_VALUE("experiment", "E", qopts, experiment, "only the runs of experiment E"),
    TR_VALUE("limit", "N", qopts, limit, "at most N runs, newest first (default 50)"),
    TR_FLAG("all", qopts, all, "every run (no limit)"),
    TR_FLAG("full", qopts, full, "with --json: each run's inputs and outputs too"),
    TR_FLAG("system-metrics", qopts, system, "show system/... metrics (CPU, memory, GPU) too"),
    TR_FORMAT("text|json|csv", qopts, format),
    TR_ALIAS("json", qopts, format, "json", "same as --format json"),
    TR_ALIAS("csv", qopts, format, "csv", "same as --format csv"),
    STORE_OPT,
    TR_OPT_END};

const tr_opt_cmd tr_runs_cmd = {
    .name = "trail runs",
    .summary = "List the runs of a store, newest first",
    .opts = runs_opts,
    .details = "EXPR: conditions joined by and, or, not and parentheses, e.g.\n"
               "  metrics.loss < 0.2 and params.lr = '0.01' and\n"
               "  (status = 'finished' or input = 'data/train.csv')\n"
               "fields: metrics.KEY, params.KEY, tags.KEY, env.NAME, input, output, id, name,\n"
               "experiment, status, exit_code, signal, host, user, cwd;\n"
               "operators: = != < <= > >= like ilike, in (...), not like, not in (...).\n"
               "Quote a KEY with backticks: metrics.`val loss`.\n"
               "The newest 50 runs are listed unless --limit N or --all says otherwise; how\n"
               "many more there are is said after them (on stderr with --json and --csv).\n"
               "--json streams one run at a time (memory stays flat whatever the store's\n"
               "size) and leaves each run's inputs and outputs out unless --full is given;\n"
               "--csv holds the listed runs in memory (its columns are all of their keys).\n"};

static const tr_opt show_opts[] = {
    TR_FORMAT("text|json", qopts, format),
    TR_ALIAS("json", qopts, format, "json", "same as --format json"),
    TR_FLAG("all", qopts, all, "every file, temporaries and system files included"),
    TR_FLAG("files", qopts, files, "each file on its own line (not grouped by directory)"),
    STORE_OPT,
    TR_OPT_END};

const tr_opt_cmd tr_show_cmd = {
    .name = "trail show",
    .args = "RUN|PATH",
    .summary = "One run (command, params, metrics, files) or one file's versions",
    .opts = show_opts,
    .min_args = 1,
    .max_args = 1,
    .missing = "which run or file? (an id, id prefix, name or path)",
    .args_help = RUN_HELP "PATH is a file (an existing path, or one with a '/').\n"};

static const tr_opt metrics_opts[] = {
    TR_FORMAT("text|json|csv", qopts, format),
    TR_ALIAS("json", qopts, format, "json", "same as --format json"),
    TR_ALIAS("csv", qopts, format, "csv", "same as --format csv"), STORE_OPT, TR_OPT_END};

const tr_opt_cmd tr_metrics_cmd = {.name = "trail metrics",
                                   .args = "RUN",
                                   .summary = "The full metric history of a run",
                                   .opts = metrics_opts,
                                   .min_args = 1,
                                   .max_args = 1,
                                   .missing = "which run? (an id, id prefix or name)",
                                   .args_help = RUN_HELP};

/* Parses a query command's options into o; 0, or tr_opt_parse's result. */
static int qparse(const tr_opt_cmd *cmd, int argc, char **argv, qopts *o)
{
    tr_opt_args args;
    memset(o, 0, sizeof *o);
    o->format = "text";
    int rc = tr_opt_parse(cmd, argc, argv, o, &args);
    if (rc) return rc;
    if (args.argc) o->run = args.argv[0];
    return 0;
}

static int print_json(cJSON *doc)
{
    char *s = tr_json_print_safe(doc, 1); /* valid JSON whatever bytes names hold */
    if (!s) return 1;
    puts(s);
    free(s);
    return 0;
}

static void fmt_value(const cJSON *v, char *buf, size_t n)
{
    if (cJSON_IsNumber(v))
        snprintf(buf, n, "%.6g", v->valuedouble);
    else if (cJSON_IsString(v))
        snprintf(buf, n, "%s", v->valuestring);
    else
        snprintf(buf, n, "-");
}

/* Shortest of %.15g/%.16g/%.17g that reads back as the same double. */
static void fmt_exact(double v, char *buf, size_t n)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static void fmt_duration(double s, char *buf, size_t n)
{
    if (s < 0)
        snprintf(buf, n, "-");
    else if (s < 60)
        snprintf(buf, n, "%.1fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static tr_store *open_q(const qopts *o)
{
    return tr_agent_open_store(o->store, TR_STORE_READONLY);
}

static void csv_field(const char *s)
{
    s = tr_esc(s); /* no control characters in a cell either */
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* A string or number cell; nothing for null. */
static void csv_value(const cJSON *v)
{
    char buf[64];
    if (cJSON_IsString(v)) {
        csv_field(v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        fmt_exact(v->valuedouble, buf, sizeof buf);
        fputs(buf, stdout);
    }
}

/* system/... metrics are the launcher's samples: columns only when asked (--system-metrics). */
static int hidden_metric(const char *key, int system)
{
    return !system && !strncmp(key, "system/", 7);
}

/* The keys of one section (params, metrics) over every run, in order of first appearance. */
static cJSON *section_keys(const cJSON *runs, const char *section, int system)
{
    cJSON *keys = cJSON_CreateObject();
    const cJSON *r, *kv;
    cJSON_ArrayForEach(r, runs)
    {
        cJSON_ArrayForEach(kv, cJSON_GetObjectItemCaseSensitive(r, section))
        {
            if (!cJSON_GetObjectItemCaseSensitive(keys, kv->string) &&
                !hidden_metric(kv->string, system))
                cJSON_AddTrueToObject(keys, kv->string);
        }
    }
    return keys;
}

/* `trail runs --format csv`: one row per run, a column per param and per metric (last value). */
static void runs_csv(const cJSON *runs, int system)
{
    static const char *const cols[] = {"id",        "name",       "experiment", "status",
                                       "exit_code", "started_at", "ended_at",   "duration_s"};
    static const char *const sections[] = {"params", "metrics"};
    cJSON *keys[2] = {section_keys(runs, "params", 1), section_keys(runs, "metrics", system)};
    const cJSON *r, *k;
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        printf("%s%s", i ? "," : "", cols[i]);
    for (int s = 0; s < 2; s++)
        cJSON_ArrayForEach(k, keys[s])
        {
            char h[512];
            snprintf(h, sizeof h, "%s.%s", sections[s], k->string);
            putchar(',');
            csv_field(h);
        }
    putchar('\n');
    cJSON_ArrayForEach(r, runs)
    {
        for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
            if (i) putchar(',');
            csv_value(cJSON_GetObjectItemCaseSensitive(r, cols[i]));
        }
        for (int s = 0; s < 2; s++)
            cJSON_ArrayForEach(k, keys[s])
            {
                const cJSON *obj = cJSON_GetObjectItemCaseSensitive(r, sections[s]);
                putchar(',');
                csv_value(cJSON_GetObjectItemCaseSensitive(obj, k->string));
            }
        putchar('\n');
    }
    cJSON_Delete(keys[0]);
    cJSON_Delete(keys[1]);
}

/* One run of a listing, as the format wants it. */
typedef struct runs_out {
    const char *format;
    int system;
    long n;
    cJSON *keep; /* csv: the listed runs (its columns need all of them) */
} runs_out;

static void runs_text_row(const cJSON *r, int system)
{
    char started[32], dur[32], metrics[256] = "";
    tr_fmt_short_time(tr_jstr(r, "started_at"), started, sizeof started);
    fmt_duration(tr_jnum(r, "duration_s", -1), dur, sizeof dur);
    const cJSON *m;
    int k = 0;
    size_t off = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(r, "metrics"))
    {
        char v[64];
        if (hidden_metric(m->string, system)) continue;
        fmt_value(m, v, sizeof v);
        if (k++ == 4) {
            snprintf(metrics + off, sizeof metrics - off, " ...");
            break;
        }
        int w = snprintf(metrics + off, sizeof metrics - off, "%s%s=%s", k > 1 ? " " : "",
                         tr_esc(m->string), tr_esc(v));
        if (w < 0 || (size_t)w >= sizeof metrics - off) break;
        off += (size_t)w;
    }
    const char *name = tr_jstr(r, "name");
    printf("%-8.8s  %-20.20s  %-8s  %-19s  %8s  %s\n", tr_esc(tr_jstr(r, "id")),
           tr_esc(name ? name : "-"), tr_esc(tr_jstr(r, "status")), started, dur, metrics);
}

static int runs_one(void *arg, cJSON **run)
{
    runs_out *o = arg;
    if (!strcmp(o->format, "json")) {
        char *s = tr_json_print_safe(*run, 1); /* valid JSON whatever bytes names hold */
        if (!s) return TRAIL_ENOMEM;
        printf("%s%s", o->n ? ",\n" : "[\n", s);
        free(s);
    } else if (!strcmp(o->format, "csv")) {
        if (!cJSON_AddItemToArray(o->keep, *run)) return TRAIL_ENOMEM;
        *run = NULL;
    } else {
        if (o->n == 0)
            printf("%-8s  %-20s  %-8s  %-19s  %8s  %s\n", "ID", "NAME", "STATUS", "STARTED",
                   "DURATION", "METRICS");
        runs_text_row(*run, o->system);
    }
    o->n++;
    return 0;
}

int tr_cmd_runs(int argc, char **argv)
{
    qopts o;
    long limit = RUNS_PAGE;
    int prc = qparse(&tr_runs_cmd, argc, argv, &o);
    if (!prc && o.limit) prc = tr_opt_long(&tr_runs_cmd, "--limit", o.limit, 0, 1L << 30, &limit);
    if (prc) return TR_OPT_EXIT(prc);
    if (o.all) limit = 0;
    tr_where *where = NULL;
    tr_where_error werr;
    if (o.where && tr_where_compile(o.where, &where, &werr) != 0) {
        /* The expression, then a caret under the column the parser stopped at. */
        tr_agent_err("runs --where: %s (column %d)", werr.msg, werr.column);
        fprintf(stderr, "  %s\n  %*s^\n", o.where, werr.column > 0 ? werr.column - 1 : 0, "");
        return TR_EXIT_USAGE;
    }
    tr_store *st = open_q(&o);
    if (!st) {
        tr_where_free(where);
        return TR_EXIT_USAGE;
    }
    int json = !strcmp(o.format, "json"), csv = !strcmp(o.format, "csv");
    runs_out out = {o.format, o.system, 0, csv ? cJSON_CreateArray() : NULL};
    tr_runs_filter f = {o.experiment, (int)limit, where};
    int64_t more = 0;
    /* One run at a time (store/query.c); the file lists only for --json --full. */
    int rc = csv && !out.keep ? TRAIL_ENOMEM
                              : tr_store_runs_each(st, &f, json && o.full ? 0 : TR_RUN_NO_FILES,
                                                   runs_one, &out, &more);
    tr_where_free(where);
    if (json && out.n) printf("\n]\n");
    if (rc) {
        tr_agent_err("%s", rc == TRAIL_ENOMEM ? "out of memory" : tr_store_errmsg(st));
        cJSON_Delete(out.keep);
        tr_store_close(st);
        return 1;
    }
    if (json && out.n == 0) printf("[]\n");
    if (csv) runs_csv(out.keep, o.system);
    if (!json && !csv && out.n == 0)
        printf("no runs%s in %s\n", o.where ? " match" : "", tr_esc(tr_store_path(st)));
    if (more) {
        char n[32] = "";
        if (more > 0) snprintf(n, sizeof n, "%lld ", (long long)more);
        fprintf(
            json || csv ? stderr : stdout, "%s%smore run%s%s (--limit N or --all to list them)\n",
            json || csv ? "trail runs: " : "", n, more == 1 ? "" : "s", o.where ? " match" : "");
    }
    cJSON_Delete(out.keep);
    tr_store_close(st);
    return 0;
}

/* Resolves o->run, printing the error; returns 0 and fills id, or an exit status. */
static int resolve(tr_store *st, const char *ref, char id[33])
{
    int rc = tr_store_resolve_run(st, ref, id);
    if (rc == 0) return 0;
    if (rc == TRAIL_EAMBIGUOUS)
        tr_agent_err("run '%s' is ambiguous: give more characters of the id", ref);
    else if (rc == TRAIL_ENOTFOUND)
        tr_agent_err("no run '%s' in %s", ref, tr_store_path(st));
    else
        tr_agent_err("%s", tr_store_errmsg(st));
    return TR_EXIT_USAGE;
}

static void show_text(const cJSON *r, int flags)
{
    char dur[32];
    const char *s;
    printf("run        %s\n", tr_esc(tr_jstr(r, "id")));
    printf("name       %s\n", tr_esc((s = tr_jstr(r, "name")) ? s : "-"));
    printf("experiment %s\n", tr_esc((s = tr_jstr(r, "experiment")) ? s : "-"));
    printf("status     %s", tr_esc(tr_jstr(r, "status")));
    const cJSON *ec = cJSON_GetObjectItemCaseSensitive(r, "exit_code");
    const cJSON *sg = cJSON_GetObjectItemCaseSensitive(r, "signal");
    if (cJSON_IsNumber(ec)) printf(" (exit %d)", ec->valueint);
    if (cJSON_IsNumber(sg) && sg->valueint)
        printf(" (signal %d: %s)", sg->valueint, strsignal(sg->valueint));
    printf("\ncommand   ");
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r, "argv"))
        printf(" %s", tr_esc(cJSON_IsString(a) ? a->valuestring : "?"));
    printf("\ncwd        %s\n", tr_esc((s = tr_jstr(r, "cwd")) ? s : "-"));
    printf("host       %s   user %s   pid %.0f\n", tr_esc((s = tr_jstr(r, "host")) ? s : "-"),
           tr_esc(tr_jstr(r, "user") ? tr_jstr(r, "user") : "-"), tr_jnum(r, "pid", 0));
    fmt_duration(tr_jnum(r, "duration_s", -1), dur, sizeof dur);
    printf("started    %s\nended      %s\nduration   %s\n",
           tr_jstr(r, "started_at") ? tr_jstr(r, "started_at") : "-",
           tr_jstr(r, "ended_at") ? tr_jstr(r, "ended_at") : "-", dur);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(r, "resources");
    if (res)
        printf("resources  user %.2fs  sys %.2fs  max rss %.0f KiB\n", tr_jnum(res, "utime_s", 0),
               tr_jnum(res, "stime_s", 0), tr_jnum(res, "maxrss_kb", 0));
    if (tr_jnum(r, "dropped", 0) > 0)
        printf("dropped    %.0f records (the spool was full or over its budget)\n",
               tr_jnum(r, "dropped", 0));
    if (tr_jnum(r, "damaged", 0) > 0)
        printf("damaged    %.0f spool frames skipped (written over, or a writer died mid-record)\n",
               tr_jnum(r, "damaged", 0));
    const char *sections[] = {"params", "metrics", "tags"};
    for (int i = 0; i < 3; i++) {
        const cJSON *obj = cJSON_GetObjectItemCaseSensitive(r, sections[i]), *kv;
        if (cJSON_GetArraySize(obj) == 0) continue;
        printf("\n%s:\n", sections[i]);
        cJSON_ArrayForEach(kv, obj)
        {
            char v[256];
            fmt_value(kv, v, sizeof v);
            printf("  %-24s %s\n", tr_esc(kv->string), tr_esc(v));
        }
    }
    tr_show_run_sections(r, flags);
}

/* Opens the store, resolves o->run and fetches one of its documents; 0 or an exit status. */
static int fetch(const qopts *o, int (*fn)(tr_store *, const char *, cJSON **), cJSON **doc)
{
    tr_store *st = open_q(o);
    if (!st) return TR_EXIT_USAGE;
    char id[33];
    int ex = resolve(st, o->run, id);
    if (!ex && fn(st, id, doc) != 0) {
        tr_agent_err("%s", tr_store_errmsg(st));
        ex = 1;
    }
    tr_store_close(st);
    return ex;
}

static int run_json_all(tr_store *s, const char *id, cJSON **out)
{
    return tr_store_run_json_ex(s, id, TR_RUN_ALL_FILES, out);
}

/* `trail show X`: X is a run when it resolves as one; otherwise an existing path, or one with
 * a '/', is a file. */
static int is_file_target(const qopts *o)
{
    if (!strchr(o->run, '/') && access(o->run, F_OK) != 0) return 0;
    tr_store *st = open_q(o);
    if (!st) return 0; /* the run path reports the error */
    char id[33];
    int rc = tr_store_resolve_run(st, o->run, id);
    tr_store_close(st);
    return rc == TRAIL_ENOTFOUND;
}

int tr_cmd_show(int argc, char **argv)
{
    qopts o;
    int ex = qparse(&tr_show_cmd, argc, argv, &o), json;
    if (ex) return TR_OPT_EXIT(ex);
    json = !strcmp(o.format, "json");
    if (is_file_target(&o)) return tr_show_path(o.store, o.run, json);
    cJSON *run = NULL;
    ex = fetch(&o, o.all ? run_json_all : tr_store_run_json, &run);
    if (ex) return ex;
    if (json)
        print_json(run);
    else
        show_text(run, (o.all ? TR_SHOW_ALL : 0) | (o.files ? TR_SHOW_FILES : 0));
    cJSON_Delete(run);
    return 0;
}

int tr_cmd_metrics(int argc, char **argv)
{
    qopts o;
    int ex = qparse(&tr_metrics_cmd, argc, argv, &o), csv;
    if (ex) return TR_OPT_EXIT(ex);
    csv = !strcmp(o.format, "csv");
    cJSON *m = NULL;
    ex = fetch(&o, tr_store_metrics_json, &m);
    if (ex) return ex;
    if (!strcmp(o.format, "json")) {
        print_json(m);
    } else {
        if (csv)
            printf("key,step,value,time\n");
        else
            printf("%-24s %10s %16s  %s\n", "KEY", "STEP", "VALUE", "TIME");
        const cJSON *series, *pt;
        cJSON_ArrayForEach(series, m)
        {
            cJSON_ArrayForEach(pt, series)
            {
                char v[64];
                const cJSON *val = cJSON_GetObjectItemCaseSensitive(pt, "value");
                if (cJSON_IsNumber(val))
                    fmt_exact(val->valuedouble, v, sizeof v);
                else
                    fmt_value(val, v, sizeof v);
                char sbuf[32];
                const char *step = tr_json_int_text(pt, "step", "0", sbuf, sizeof sbuf); /* exact */
                if (csv) {
                    csv_field(series->string);
                    printf(",%s,%s,%s\n", step, tr_esc(v), tr_jstr(pt, "time"));
                } else {
                    if (cJSON_IsNumber(val)) snprintf(v, sizeof v, "%.8g", val->valuedouble);
                    printf("%-24s %10s %16s  %s\n", tr_esc(series->string), step, tr_esc(v),
                           tr_jstr(pt, "time"));
                }
            }
        }
    }
    cJSON_Delete(m);
    return 0;
}
