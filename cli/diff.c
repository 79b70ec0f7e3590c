/* diff.c - `trail diff RUN_A RUN_B`: what differs between two runs, likely causes first. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "trail.h"
#include "jsonfmt.h"

#define FOLD_MIN 8 /* file changes of one kind in one directory that fold into one line */

/* Sections in the order they are reported: what most likely caused a difference comes first
 * (data, code, command, configuration, libraries, environment), then what it caused. */
static const char *const sections[] = {"inputs", "code", "command", "params",  "deps",
                                       "env",    "tags", "exit",    "metrics", "outputs"};
#define NSECT (int)(sizeof sections / sizeof sections[0])

typedef struct dctx {
    cJSON *changes[NSECT];
} dctx;

static cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* A JSON value as text for comparison and display (malloc'd). */
static char *text(const cJSON *v)
{
    if (!v) return NULL;
    if (cJSON_IsString(v)) return strdup(v->valuestring);
    if (cJSON_IsNumber(v)) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
        return strdup(buf);
    }
    return cJSON_PrintUnformatted(v);
}

/* Records a change: kind is changed|added|removed; a/b are texts or NULL. */
static cJSON *change(dctx *d, int sect, const char *kind, const char *name, const char *a,
                     const char *b)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "section", sections[sect]);
    cJSON_AddStringToObject(c, "kind", kind);
    cJSON_AddStringToObject(c, "name", name);
    cJSON_AddItemToObject(c, "a", a ? cJSON_CreateString(a) : cJSON_CreateNull());
    cJSON_AddItemToObject(c, "b", b ? cJSON_CreateString(b) : cJSON_CreateNull());
    cJSON_AddItemToArray(d->changes[sect], c);
    return c;
}

/* Compares two objects of scalar values key by key (params, tags, env, metrics). */
static void compare_objects(dctx *d, int sect, const cJSON *a, const cJSON *b,
                            int (*skip)(const char *))
{
    const cJSON *x;
    cJSON_ArrayForEach(x, a)
    {
        if (skip && skip(x->string)) continue;
        const cJSON *y = item(b, x->string);
        char *ta = text(x), *tb = text(y);
        if (!y)
            change(d, sect, "removed", x->string, ta, NULL);
        else if (ta && tb && strcmp(ta, tb) != 0) {
            cJSON *c = change(d, sect, "changed", x->string, ta, tb);
            if (cJSON_IsNumber(x) && cJSON_IsNumber(y)) {
                double delta = y->valuedouble - x->valuedouble;
                cJSON_AddNumberToObject(c, "delta", delta);
                if (x->valuedouble != 0)
                    cJSON_AddNumberToObject(c, "relative", delta / fabs(x->valuedouble));
            }
        }
        free(ta);
        free(tb);
    }
    cJSON_ArrayForEach(x, b)
    {
        if ((skip && skip(x->string)) || item(a, x->string)) continue;
        char *tb = text(x);
        change(d, sect, "added", x->string, NULL, tb);
        free(tb);
    }
}

/* Variables trail itself sets differently for every run. */
static int env_noise(const char *name)
{
    return !strcmp(name, "TRAIL_RUN_ID") || !strcmp(name, "TRAIL_SPOOL") ||
           !strncmp(name, "TRAIL_PARAM_", 12) || !strcmp(name, "_");
}

static int is_git(const char *key)
{
    return !strncmp(key, "git.", 4) || !strncmp(key, "git_", 4);
}

static int not_git(const char *key)
{
    return !is_git(key);
}

/* Files: {host:path -> "version[,version...]"} of a run's inputs or outputs; system files
 * (interpreter modules, caches, certificates) only with all. */
static cJSON *file_map(const cJSON *files, int all)
{
    cJSON *m = cJSON_CreateObject(), *f;
    cJSON_ArrayForEach(f, files)
    {
        char key[4608];
        const char *host = tr_jstr(f, "host"), *v = tr_jstr(f, "version");
        if (!all && !host && tr_lineage_is_system_path(tr_jstr(f, "path"))) continue;
        snprintf(key, sizeof key, "%s%s%s", host ? host : "", host ? ":" : "", tr_jstr(f, "path"));
        cJSON *have = item(m, key);
        if (!have) {
            cJSON_AddStringToObject(m, key, v ? v : "?");
        } else if (v && !strstr(have->valuestring, v)) {
            size_t n = strlen(have->valuestring) + strlen(v) + 2;
            char *joined = malloc(n);
            if (!joined) continue;
            snprintf(joined, n, "%s,%s", have->valuestring, v);
            cJSON_ReplaceItemInObjectCaseSensitive(m, key, cJSON_CreateString(joined));
            free(joined);
        }
    }
    return m;
}

/* Folds the file changes of one kind in one directory (FOLD_MIN or more) into one entry. */
static void fold_files(cJSON *list)
{
    cJSON *c, *m, *next;
    for (c = list ? list->child : NULL; c; c = c->next) {
        char dir[4608], d2[4608];
        snprintf(dir, sizeof dir, "%s", tr_jstr(c, "name"));
        char *slash = strrchr(dir, '/');
        if (!slash || item(c, "files")) continue;
        *slash = 0;
        int n = 0;
        cJSON_ArrayForEach(m, list)
        {
            snprintf(d2, sizeof d2, "%s", tr_jstr(m, "name"));
            char *s2 = strrchr(d2, '/');
            if (s2 && !item(m, "files") && !strcmp(tr_jstr(m, "kind"), tr_jstr(c, "kind"))) {
                *s2 = 0;
                n += !strcmp(dir, d2);
            }
        }
        if (n < FOLD_MIN) continue;
        for (m = c->next; m; m = next) {
            next = m->next;
            snprintf(d2, sizeof d2, "%s", tr_jstr(m, "name"));
            char *s2 = strrchr(d2, '/');
            if (s2 && !strcmp(tr_jstr(m, "kind"), tr_jstr(c, "kind")) &&
                (*s2 = 0, !strcmp(dir, d2)))
                cJSON_Delete(cJSON_DetachItemViaPointer(list, m));
        }
        char name[4700];
        snprintf(name, sizeof name, "%s/", dir);
        cJSON_ReplaceItemInObjectCaseSensitive(c, "name", cJSON_CreateString(name));
        cJSON_ReplaceItemInObjectCaseSensitive(c, "a", cJSON_CreateNull());
        cJSON_ReplaceItemInObjectCaseSensitive(c, "b", cJSON_CreateNull());
        cJSON_AddNumberToObject(c, "files", n);
    }
}

/* Dependencies keyed by library name ("libfoo" of /usr/lib/libfoo.so.1.2): a different path
 * for the same name is a version change. */
static cJSON *dep_map(const cJSON *deps)
{
    cJSON *m = cJSON_CreateObject(), *dep;
    cJSON_ArrayForEach(dep, deps)
    {
        const char *path = tr_jstr(dep, "path");
        if (!path) continue;
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        char name[512];
        snprintf(name, sizeof name, "%s", base);
        char *so = strstr(name, ".so");
        if (so)
            *so = 0;
        else
            for (char *p = name; *p; p++)
                if (*p == '-' && p[1] >= '0' && p[1] <= '9') {
                    *p = 0;
                    break;
                }
        if (!item(m, name)) cJSON_AddStringToObject(m, name, path);
    }
    return m;
}

/* Metrics: the largest relative change first. */
static int by_relative(const cJSON *a, const cJSON *b)
{
    const cJSON *ra = item(a, "relative"), *rb = item(b, "relative");
    double x = ra ? fabs(ra->valuedouble) : -1, y = rb ? fabs(rb->valuedouble) : -1;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void sort_changes(cJSON *list)
{
    int n = cJSON_GetArraySize(list);
    for (int i = 1; i < n; i++) /* insertion sort on a short list */
        for (int j = i; j > 0; j--) {
            cJSON *a = cJSON_GetArrayItem(list, j - 1), *b = cJSON_GetArrayItem(list, j);
            if (by_relative(a, b) <= 0) break;
            cJSON_DetachItemViaPointer(list, b);
            cJSON_InsertItemInArray(list, j - 1, b);
        }
}

static void diff_runs(dctx *d, const cJSON *a, const cJSON *b, int all)
{
    const char *io[2] = {"inputs", "outputs"};
    const int io_sect[2] = {0, NSECT - 1};
    for (int i = 0; i < 2; i++) {
        cJSON *ma = file_map(item(a, io[i]), all), *mb = file_map(item(b, io[i]), all);
        compare_objects(d, io_sect[i], ma, mb, NULL);
        fold_files(d->changes[io_sect[i]]);
        cJSON_Delete(ma);
        cJSON_Delete(mb);
    }
    compare_objects(d, 1, item(a, "tags"), item(b, "tags"), not_git);
    char *ta = text(item(a, "argv")), *tb = text(item(b, "argv"));
    if (ta && tb && strcmp(ta, tb)) change(d, 2, "changed", "argv", ta, tb);
    free(ta);
    free(tb);
    compare_objects(d, 3, item(a, "params"), item(b, "params"), NULL);
    cJSON *da = dep_map(item(a, "deps")), *db = dep_map(item(b, "deps"));
    compare_objects(d, 4, da, db, NULL);
    cJSON_Delete(da);
    cJSON_Delete(db);
    compare_objects(d, 5, item(a, "env"), item(b, "env"), env_noise);
    compare_objects(d, 6, item(a, "tags"), item(b, "tags"), is_git);
    const char *keys[2] = {"status", "exit_code"};
    for (int i = 0; i < 2; i++) {
        ta = text(item(a, keys[i]));
        tb = text(item(b, keys[i]));
        if ((ta || tb) && (!ta || !tb || strcmp(ta, tb))) change(d, 7, "changed", keys[i], ta, tb);
        free(ta);
        free(tb);
    }
    compare_objects(d, 8, item(a, "metrics"), item(b, "metrics"), NULL);
    sort_changes(d->changes[8]);
}

static void print_value(const char *v)
{
    printf("%s", v ? v : "-");
}

static void print_text(const cJSON *doc, const cJSON *a, const cJSON *b)
{
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
    cJSON *run[2] = {NULL, NULL}, *doc = NULL;
    for (int i = 0; i < 2 && !ex; i++) {
        char id[33];
        int rc = tr_store_resolve_run(st, ref[i], id);
        if (rc) {
            tr_agent_err("%s", tr_store_errmsg(st));
            ex = TR_EXIT_USAGE;
        } else if (tr_store_run_json(st, id, &run[i]) != 0) {
            tr_agent_err("%s", tr_store_errmsg(st));
            ex = 1;
        }
    }
    if (!ex) {
        dctx d;
        for (int i = 0; i < NSECT; i++)
            d.changes[i] = cJSON_CreateArray();
        diff_runs(&d, run[0], run[1], all);
        doc = cJSON_CreateObject();
        cJSON *list = cJSON_CreateArray(), *c;
        for (int i = 0; i < 2; i++) {
            cJSON *r = cJSON_AddObjectToObject(doc, i ? "b" : "a");
            cJSON_AddStringToObject(r, "id", tr_jstr(run[i], "id"));
            cJSON_AddItemToObject(r, "name", cJSON_Duplicate(item(run[i], "name"), 1));
        }
        for (int i = 0; i < NSECT; i++) {
            while ((c = d.changes[i]->child))
                cJSON_AddItemToArray(list, cJSON_DetachItemViaPointer(d.changes[i], c));
            cJSON_Delete(d.changes[i]);
        }
        cJSON_AddBoolToObject(doc, "identical", cJSON_GetArraySize(list) == 0);
        cJSON_AddItemToObject(doc, "changes", list);
        if (json) {
            char *s = cJSON_Print(doc);
            if (s) puts(s);
            free(s);
        } else {
            print_text(doc, run[0], run[1]);
        }
    }
    cJSON_Delete(doc);
    cJSON_Delete(run[0]);
    cJSON_Delete(run[1]);
    tr_store_close(st);
    return ex;
}
