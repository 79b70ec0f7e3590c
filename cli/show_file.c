/* show_file.c - `trail show PATH`: a file's versions, the run that wrote each, the runs that read
 * each. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_safe.h"
#include "cli.h"
#include "trail.h"
#include "jsonfmt.h"
#include "textout.h"

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
        const char *name = tr_jstr(e, "name"), *how = tr_jstr(e, "how");
        printf("    %-11s %-20s %.8s  %-8s %s", first ? what : "", tr_esc(name ? name : "-"),
               tr_esc(tr_jstr(e, "run")), tr_esc(tr_jstr(e, "status") ? tr_jstr(e, "status") : "-"),
               tr_fmt_short_time(tr_jstr(e, "time"), t, sizeof t));
        if (tr_jnum(e, "opens", -1) > 1) printf("  (%.0f opens)", tr_jnum(e, "opens", -1));
        if (how && strcmp(how, "shim") && strcmp(how, "sdk")) printf("  (%s)", tr_esc(how));
        printf("\n");
        first = 0;
    }
}

static void show_text(const cJSON *doc)
{
    const cJSON *vers = cJSON_GetObjectItemCaseSensitive(doc, "versions"), *v;
    const char *host = tr_jstr(doc, "host");
    int n = cJSON_GetArraySize(vers);
    printf("file       %s%s%s\n", host ? tr_esc(host) : "", host ? ":" : "",
           tr_esc(tr_jstr(doc, "path")));
    if (host) printf("           (node-local: recorded on host %s)\n", tr_esc(host));
    printf("versions   %d (latest v%d)\n", n, n);
    for (int i = n - 1; i >= 0; i--) {
        v = cJSON_GetArrayItem(vers, i);
        char size[32], t[32];
        const char *ver = tr_jstr(v, "version"), *hash = tr_jstr(v, "hash");
        if (tr_jnum(v, "size", -1) >= 0)
            tr_fmt_bytes(tr_jnum(v, "size", -1), size, sizeof size);
        else
            snprintf(size, sizeof size, "-");
        printf("\nv%.0f  %-16.16s  %10s  modified %s%s\n", tr_jnum(v, "n", -1),
               tr_esc(ver && *ver ? ver : "-"), size,
               tr_fmt_short_time(tr_jstr(v, "mtime"), t, sizeof t), i == n - 1 ? "  [latest]" : "");
        if (hash) printf("    sha256      %s\n", tr_esc(hash));
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(v, "origin");
        if (o) {
            const char *k = tr_jstr(o, "kind");
            const char *what = !strcmp(k, "hash")     ? "same as"
                               : !strcmp(k, "rename") ? "renamed from"
                                                      : "linked from";
            if (tr_jnum(o, "n", -1) >= 0)
                printf("    %-11s v%.0f\n", what, tr_jnum(o, "n", -1));
            else
                printf("    %-11s %s\n", what,
                       tr_esc(tr_jstr(o, "path") ? tr_jstr(o, "path") : "another path"));
        }
        runs_line("written by", cJSON_GetObjectItemCaseSensitive(v, "written_by"));
        runs_line("read by", cJSON_GetObjectItemCaseSensitive(v, "read_by"));
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(v, "removed");
        if (r)
            printf("    %-11s by run %.8s (%s)\n", "removed", tr_esc(tr_jstr(r, "run")),
                   tr_esc(tr_jstr(r, "op")));
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
            char *s = tr_json_print_safe(doc, 1);
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
