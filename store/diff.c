/* diff.c - what differs between two runs, ranked: likely causes first, then what they caused. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "trail.h"

/* Sections in the order they are reported: what most likely caused a difference comes first
 * (data, code, command, configuration, libraries, environment), then what it caused. */
enum { S_INPUTS, S_CODE, S_COMMAND, S_PARAMS, S_DEPS, S_ENV, S_TAGS, S_EXIT, S_METRICS, S_OUTPUTS };
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

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(item(o, k));
}

/* A JSON value as text for comparison and display (malloc'd). */
static char *text(const cJSON *v)
{
    if (!v) return NULL;
    if (cJSON_IsString(v)) return strdup(v->valuestring);
    if (cJSON_IsNumber(v)) {
        char buf[64]; /* the shortest text that reads back as the same double */
        snprintf(buf, sizeof buf, "%.15g", v->valuedouble);
        if (strtod(buf, NULL) != v->valuedouble) snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
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
        const char *host = str(f, "host"), *v = str(f, "version"), *path = str(f, "path");
        if (!path || (!all && !host && tr_store_is_system_path(path))) continue;
        snprintf(key, sizeof key, "%s%s%s", host ? host : "", host ? ":" : "", path);
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

/* Folds the file changes of one kind in one directory (tr_fold_plan) into one entry, in the
 * place of the first: name "DIR/", no a or b, "files": N. */
static int fold_files(cJSON *list)
{
    int n = cJSON_GetArraySize(list), i = 0, rc = 0;
    if (n == 0) return 0;
    cJSON **entry = calloc((size_t)n, sizeof *entry), *c;
    const char **names = calloc((size_t)n, sizeof *names),
               **kinds = calloc((size_t)n, sizeof *kinds);
    tr_fold f;
    if (!entry || !names || !kinds) rc = TRAIL_ENOMEM;
    cJSON_ArrayForEach(c, list)
    {
        if (rc) break;
        entry[i] = c;
        names[i] = item(c, "files") ? NULL : str(c, "name");
        kinds[i++] = str(c, "kind");
    }
    if (!rc) rc = tr_fold_plan(&f, n, names, kinds);
    for (i = 0; i < n && !rc; i++) {
        int g = tr_fold_at(&f, i);
        if (g < 0) continue;
        if (f.first[g] != i) {
            cJSON_Delete(cJSON_DetachItemViaPointer(list, entry[i]));
            continue;
        }
        size_t len = strlen(f.dir[g]) + 2;
        char *name = malloc(len);
        if (name) snprintf(name, len, "%s/", f.dir[g]);
        cJSON_ReplaceItemInObjectCaseSensitive(entry[i], "name",
                                               cJSON_CreateString(name ? name : f.dir[g]));
        cJSON_ReplaceItemInObjectCaseSensitive(entry[i], "a", cJSON_CreateNull());
        cJSON_ReplaceItemInObjectCaseSensitive(entry[i], "b", cJSON_CreateNull());
        cJSON_AddNumberToObject(entry[i], "files", f.count[g]);
        free(name);
    }
    if (!rc) tr_fold_free(&f);
    free(entry);
    free(names);
    free(kinds);
    return rc;
}

/* Dependencies keyed by library name ("libfoo" of /usr/lib/libfoo.so.1.2): a different path
 * for the same name is a version change. */
static cJSON *dep_map(const cJSON *deps)
{
    cJSON *m = cJSON_CreateObject(), *dep;
    cJSON_ArrayForEach(dep, deps)
    {
        const char *path = str(dep, "path");
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

/* A change of a scalar member (argv, status, exit code) when either side has it. */
static void compare_member(dctx *d, int sect, const cJSON *a, const cJSON *b, const char *key,
                           int both)
{
    char *ta = text(item(a, key)), *tb = text(item(b, key));
    if (both ? ta && tb && strcmp(ta, tb) : (ta || tb) && (!ta || !tb || strcmp(ta, tb)))
        change(d, sect, "changed", key, ta, tb);
    free(ta);
    free(tb);
}

static int diff_runs(dctx *d, const cJSON *a, const cJSON *b, int all)
{
    const char *io[2] = {"inputs", "outputs"};
    const int io_sect[2] = {S_INPUTS, S_OUTPUTS};
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        cJSON *ma = file_map(item(a, io[i]), all), *mb = file_map(item(b, io[i]), all);
        compare_objects(d, io_sect[i], ma, mb, NULL);
        if (!rc) rc = fold_files(d->changes[io_sect[i]]);
        cJSON_Delete(ma);
        cJSON_Delete(mb);
    }
    compare_objects(d, S_CODE, item(a, "tags"), item(b, "tags"), not_git);
    compare_member(d, S_COMMAND, a, b, "argv", 1);
    compare_objects(d, S_PARAMS, item(a, "params"), item(b, "params"), NULL);
    cJSON *da = dep_map(item(a, "deps")), *db = dep_map(item(b, "deps"));
    compare_objects(d, S_DEPS, da, db, NULL);
    cJSON_Delete(da);
    cJSON_Delete(db);
    compare_objects(d, S_ENV, item(a, "env"), item(b, "env"), env_noise);
    compare_objects(d, S_TAGS, item(a, "tags"), item(b, "tags"), is_git);
    compare_member(d, S_EXIT, a, b, "status", 0);
    compare_member(d, S_EXIT, a, b, "exit_code", 0);
    compare_objects(d, S_METRICS, item(a, "metrics"), item(b, "metrics"), NULL);
    sort_changes(d->changes[S_METRICS]);
    return rc;
}

int tr_store_diff_json(tr_store *s, const char *run_a, const char *run_b, int flags, cJSON **out)
{
    cJSON *run[2] = {NULL, NULL};
    *out = NULL;
    int rc = tr_store_run_json(s, run_a, &run[0]);
    if (!rc) rc = tr_store_run_json(s, run_b, &run[1]);
    dctx d = {{NULL}};
    for (int i = 0; i < NSECT && !rc; i++)
        if (!(d.changes[i] = cJSON_CreateArray())) rc = TRAIL_ENOMEM;
    if (!rc) rc = diff_runs(&d, run[0], run[1], flags & TR_DIFF_ALL);
    cJSON *doc = rc ? NULL : cJSON_CreateObject(), *list = rc ? NULL : cJSON_CreateArray(), *c;
    if (!rc && (!doc || !list)) rc = TRAIL_ENOMEM;
    for (int i = 0; i < 2 && !rc; i++) {
        cJSON *r = cJSON_AddObjectToObject(doc, i ? "b" : "a");
        cJSON_AddStringToObject(r, "id", str(run[i], "id"));
        cJSON_AddItemToObject(r, "name", cJSON_Duplicate(item(run[i], "name"), 1));
    }
    for (int i = 0; i < NSECT; i++) {
        while (list && d.changes[i] && (c = d.changes[i]->child))
            cJSON_AddItemToArray(list, cJSON_DetachItemViaPointer(d.changes[i], c));
        cJSON_Delete(d.changes[i]);
    }
    if (!rc) {
        cJSON_AddBoolToObject(doc, "identical", cJSON_GetArraySize(list) == 0);
        cJSON_AddItemToObject(doc, "changes", list);
        *out = doc;
    } else {
        cJSON_Delete(doc);
        cJSON_Delete(list);
    }
    cJSON_Delete(run[0]);
    cJSON_Delete(run[1]);
    return rc;
}
