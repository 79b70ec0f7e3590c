/* diff.c - `trail diff RUN_A RUN_B`: what differs between two runs, likely causes first. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_safe.h"
#include "cli.h"
#include "trail.h"
#include "jsonfmt.h"
#include "textout.h"
#include "commands.h"

static void print_value(const char *v)
{
    printf("%s", tr_esc(v ? v : "-"));
}

static const cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* The document of tr_store_diff_json as text: one heading a section, one line a change. */
static void print_text(const cJSON *doc)
{
    const cJSON *a = item(doc, "a"), *b = item(doc, "b");
    printf("diff  %s (%.8s)  ->  %s (%.8s)\n",
           tr_esc(tr_jstr(a, "name") ? tr_jstr(a, "name") : "-"), tr_esc(tr_jstr(a, "id")),
           tr_esc(tr_jstr(b, "name") ? tr_jstr(b, "name") : "-"), tr_esc(tr_jstr(b, "id")));
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
            printf("  %c %s (%.0f files %s)\n", mark, tr_esc(tr_jstr(c, "name")),
                   files->valuedouble, kind);
            continue;
        }
        printf("  %c %-28s ", mark, tr_esc(tr_jstr(c, "name")));
        int file = !strcmp(sect, "inputs") || !strcmp(sect, "outputs");
        if (kind[0] == 'c') {
            if (file)
                printf("%.12s -> %.12s", tr_esc(tr_jstr(c, "a")), tr_esc(tr_jstr(c, "b")));
            else {
                print_value(tr_jstr(c, "a"));
                printf(" -> ");
                print_value(tr_jstr(c, "b"));
            }
        } else {
            const char *v = tr_jstr(c, kind[0] == 'a' ? "b" : "a");
            if (file)
                printf("%.12s", tr_esc(v ? v : ""));
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

typedef struct diff_opts {
    const char *store, *format;
    int all;
} diff_opts;

static const tr_opt diff_opts_table[] = {
    TR_FORMAT("text|json", diff_opts, format),
    TR_ALIAS("json", diff_opts, format, "json", "same as --format json"),
    TR_FLAG("all", diff_opts, all, "system files and temporaries too"),
    TR_VALUE("store", "PATH", diff_opts, store,
             "the store (default: $TRAIL_STORE, ./.trail/trail.db)"),
    TR_OPT_END};

const tr_opt_cmd tr_diff_cmd = {
    .name = "trail diff",
    .args = "RUN_A RUN_B",
    .summary = "What differs between two runs, causes first",
    .opts = diff_opts_table,
    .min_args = 2,
    .max_args = 2,
    .missing = "which two runs?",
    .args_help = "RUN_A and RUN_B are full ids, unique id prefixes, or run names.\n"};

int tr_cmd_diff(int argc, char **argv)
{
    diff_opts o = {.format = "text"};
    tr_opt_args args;
    int prc = tr_opt_parse(&tr_diff_cmd, argc, argv, &o, &args);
    if (prc) return TR_OPT_EXIT(prc);
    const char *store = o.store, *ref[2] = {args.argv[0], args.argv[1]};
    int json = !strcmp(o.format, "json"), ex = 0, all = o.all;
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
        char *s = tr_json_print_safe(doc, 1);
        if (s) puts(s);
        free(s);
    } else if (!ex) {
        print_text(doc);
    }
    cJSON_Delete(doc);
    tr_store_close(st);
    return ex;
}
