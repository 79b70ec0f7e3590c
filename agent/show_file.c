/* show_file.c - `trail show PATH`: a file's versions, the run that wrote each, the runs that read
 * each. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "trail.h"

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void fmt_size(double b, char *buf, size_t n)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%.0f B", b);
    else
        snprintf(buf, n, "%.1f %s", b, unit[u]);
}

/* "2026-11-28T06:13:59.123456Z" -> "2026-11-28 06:13:59" */
static const char *short_time(const char *t, char *buf, size_t n)
{
    if (!t) return "-";
    snprintf(buf, n, "%.10s %.8s", t, strlen(t) > 11 ? t + 11 : "");
    return buf;
}

static void runs_line(const char *what, const cJSON *list)
{
    const cJSON *e;
    int first = 1;
    if (cJSON_GetArraySize(list) == 0) {
        printf("    %-11s -\n", what);
        return;
    }
    cJSON_ArrayForEach(e, list)
    {
        char t[32];
        const char *name = jstr(e, "name"), *how = jstr(e, "how");
        printf("    %-11s %-20s %.8s  %-8s %s", first ? what : "", name ? name : "-",
               jstr(e, "run"), jstr(e, "status") ? jstr(e, "status") : "-",
               short_time(jstr(e, "time"), t, sizeof t));
        if (jnum(e, "opens") > 1) printf("  (%.0f opens)", jnum(e, "opens"));
        if (how && strcmp(how, "shim") && strcmp(how, "sdk")) printf("  (%s)", how);
        printf("\n");
        first = 0;
    }
}

static void show_text(const cJSON *doc)
{
    const cJSON *vers = cJSON_GetObjectItemCaseSensitive(doc, "versions"), *v;
    const char *host = jstr(doc, "host");
    int n = cJSON_GetArraySize(vers);
    printf("file       %s%s%s\n", host ? host : "", host ? ":" : "", jstr(doc, "path"));
    if (host) printf("           (node-local: recorded on host %s)\n", host);
    printf("versions   %d (latest v%d)\n", n, n);
    for (int i = n - 1; i >= 0; i--) {
        v = cJSON_GetArrayItem(vers, i);
        char size[32], t[32];
        const char *ver = jstr(v, "version"), *hash = jstr(v, "hash");
        if (jnum(v, "size") >= 0)
            fmt_size(jnum(v, "size"), size, sizeof size);
        else
            snprintf(size, sizeof size, "-");
        printf("\nv%.0f  %-16.16s  %10s  modified %s%s\n", jnum(v, "n"), ver && *ver ? ver : "-",
               size, short_time(jstr(v, "mtime"), t, sizeof t), i == n - 1 ? "  [latest]" : "");
        if (hash) printf("    sha256      %s\n", hash);
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(v, "origin");
        if (o) {
            const char *k = jstr(o, "kind");
            const char *what = !strcmp(k, "hash")     ? "same as"
                               : !strcmp(k, "rename") ? "renamed from"
                                                      : "linked from";
            if (jnum(o, "n") >= 0)
                printf("    %-11s v%.0f\n", what, jnum(o, "n"));
            else
                printf("    %-11s %s\n", what, jstr(o, "path") ? jstr(o, "path") : "another path");
        }
        runs_line("written by", cJSON_GetObjectItemCaseSensitive(v, "written_by"));
        runs_line("read by", cJSON_GetObjectItemCaseSensitive(v, "read_by"));
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(v, "removed");
        if (r) printf("    %-11s by run %.8s (%s)\n", "removed", jstr(r, "run"), jstr(r, "op"));
    }
}

int tr_show_path(const char *store_opt, const char *path, int json)
{
    tr_store *st = tr_agent_open_store(store_opt, TR_STORE_READONLY);
    if (!st) return TR_EXIT_USAGE;
    char key[4608];
    int64_t ver;
    cJSON *doc = NULL;
    int ex = tr_lineage_file_target(st, path, &ver, key, sizeof key);
    if (!ex && tr_store_file_json(st, key, &doc) != 0) {
        tr_agent_err("%s", tr_store_errmsg(st));
        ex = 1;
    }
    if (!ex) {
        if (json) {
            char *s = cJSON_Print(doc);
            if (s) puts(s);
            free(s);
        } else {
            show_text(doc);
        }
    }
    cJSON_Delete(doc);
    tr_store_close(st);
    return ex;
}
