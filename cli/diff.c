/* diff.c - `trail diff RUN_A RUN_B`: what differs between two runs, likely causes first. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "trail.h"
#include "jsonfmt.h"

static void print_value(const char *v)
{
    printf("%s", v ? v : "-");
}

static const cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* The document of tr_store_diff_json as text: one heading a section, one line a change. */
static void print_text(const cJSON *doc)
{
    const cJSON *a = item(doc, "a"), *b = item(doc, "b");
    printf("diff  %s (%.8s)  ->  %s (%.8s)\n", tr_jstr(a, "name") ? tr_jstr(a, "name") : "-",
           tr_jstr(a, "id"), tr_jstr(b, "name") ? tr_jstr(b, "name") : "-", tr_jstr(b, "id"));
    const cJSON *changes = item(doc, "changes"), *c;
    if (cJSON_GetArraySize(changes) == 0) {
        printf("\nno differences in inputs, code, command, params, deps, env, exit, metrics or "
               "outputs\n");
        return;
    }
    const char *cur = "";
    cJSON_ArrayForEach(c, changes)
    {
        const char *sect = tr_jstr(c, "section"), *kind = tr_jstr(c, "kind");
        if (strcmp(sect, cur)) {
            int n = 0;
            const cJSON *x;
            cJSON_ArrayForEach(x, changes) n += !strcmp(tr_jstr(x, "section"), sect);
            printf("\n%s (%d)\n", sect, n);
            cur = sect;
        }
        char mark = kind[0] == 'c' ? '~' : kind[0] == 'a' ? '+' : '-';
        const cJSON *files = item(c, "files");
        if (files) {
            printf("  %c %s (%.0f files %s)\n", mark, tr_jstr(c, "name"), files->valuedouble, kind);
            continue;
        }
        printf("  %c %-28s ", mark, tr_jstr(c, "name"));
        int file = !strcmp(sect, "inputs") || !strcmp(sect, "outputs");
        if (kind[0] == 'c') {
            if (file)
                printf("%.12s -> %.12s", tr_jstr(c, "a"), tr_jstr(c, "b"));
            else {
                print_value(tr_jstr(c, "a"));
                printf(" -> ");
                print_value(tr_jstr(c, "b"));
            }
        } else {
            const char *v = tr_jstr(c, kind[0] == 'a' ? "b" : "a");
            if (file)
                printf("%.12s", v ? v : "");
            else
                print_value(v);
        }
        const cJSON *delta = item(c, "delta"), *rel = item(c, "relative");
        if (delta) printf("   (%+.6g", delta->valuedouble);
        if (delta && rel) printf(", %+.1f%%", rel->valuedouble * 100);
        if (delta) printf(")");
        printf("\n");
    }
}

int tr_cmd_diff(int argc, char **argv)
{
    const char *store = NULL, *ref[2] = {NULL, NULL};
    int json = 0, nref = 0, ex = 0, all = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--all"))
            all = 1;
        else if (!strcmp(argv[i], "--store") && i + 1 < argc)
            store = argv[++i];
        else if (argv[i][0] == '-' || nref == 2) {
            tr_agent_err("diff: unexpected argument '%s'", argv[i]);
            nref = -1;
            break;
        } else
            ref[nref++] = argv[i];
    }
    if (nref != 2) {
        fprintf(stderr, "usage: trail diff RUN_A RUN_B [--json] [--all] [--store PATH]\n");
        return TR_EXIT_USAGE;
    }
    tr_store *st = tr_agent_open_store(store, TR_STORE_READONLY);
    if (!st) return TR_EXIT_USAGE;
    cJSON *doc = NULL;
    char id[2][33];
    for (int i = 0; i < 2 && !ex; i++)
        if (tr_store_resolve_run(st, ref[i], id[i]) != 0) {
            tr_agent_err("%s", tr_store_errmsg(st));
            ex = TR_EXIT_USAGE;
        }
    if (!ex && tr_store_diff_json(st, id[0], id[1], all ? TR_DIFF_ALL : 0, &doc) != 0) {
        tr_agent_err("%s", tr_store_errmsg(st));
        ex = 1;
    }
    if (!ex && json) {
        char *s = cJSON_Print(doc);
        if (s) puts(s);
        free(s);
    } else if (!ex) {
        print_text(doc);
    }
    cJSON_Delete(doc);
    tr_store_close(st);
    return ex;
}
