/* lineage_prune.c - the lineage view the commands show: temporaries and system files pruned,
 * a directory's many files folded into one node. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roles.h"
#include "store.h"
#include "trail.h"

/* The environment's files by role (roles.c), not by path prefix: a data set shipped under /usr
 * is data and stays. */
int tr_store_is_system_path(const char *path)
{
    return tr_role_is_env(path);
}

/* The string member k of o, or NULL. */
static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int is(const cJSON *o, const char *k, const char *v)
{
    const char *s = str(o, k);
    return s && !strcmp(s, v);
}

static cJSON *find_node(cJSON *nodes, const char *id)
{
    cJSON *n;
    cJSON_ArrayForEach(n, nodes) if (id && is(n, "id", id)) return n;
    return NULL;
}

static int has_flag(const cJSON *o, const char *k)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* Drops the edges whose ends are not both among the nodes. */
static void drop_loose_edges(cJSON *nodes, cJSON *edges)
{
    cJSON *e, *next;
    for (e = edges ? edges->child : NULL; e; e = next) {
        next = e->next;
        if (!find_node(nodes, str(e, "from")) || !find_node(nodes, str(e, "to")))
            cJSON_Delete(cJSON_DetachItemViaPointer(edges, e));
    }
}

/* Drops temporaries and env files (roles.c; unless all), the edges that touch them, then what is no
 * longer connected to the root. */
static void prune(cJSON *doc, int all)
{
    cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "nodes");
    cJSON *edges = cJSON_GetObjectItemCaseSensitive(doc, "edges");
    const char *root = str(doc, "root");
    cJSON *n, *e, *next;
    for (n = nodes ? nodes->child : NULL; n && !all; n = next) {
        next = n->next;
        if ((root && is(n, "id", root)) || !is(n, "kind", "file")) continue;
        if (has_flag(n, "temporary") || tr_role_is_env(str(n, "path")))
            cJSON_Delete(cJSON_DetachItemViaPointer(nodes, n));
    }
    drop_loose_edges(nodes, edges);
    /* Reachability from the root, edges taken both ways (a fixpoint: graphs are small). */
    int changed = 1;
    cJSON_ArrayForEach(n, nodes) cJSON_AddBoolToObject(n, "_seen", root && is(n, "id", root));
    while (changed) {
        changed = 0;
        cJSON_ArrayForEach(e, edges)
        {
            cJSON *a = find_node(nodes, str(e, "from")), *b = find_node(nodes, str(e, "to"));
            int sa = has_flag(a, "_seen"), sb = has_flag(b, "_seen");
            if (sa != sb) {
                cJSON_ReplaceItemInObjectCaseSensitive(sa ? b : a, "_seen", cJSON_CreateTrue());
                changed = 1;
            }
        }
    }
    for (n = nodes ? nodes->child : NULL; n; n = next) {
        next = n->next;
        if (!has_flag(n, "_seen"))
            cJSON_Delete(cJSON_DetachItemViaPointer(nodes, n));
        else
            cJSON_DeleteItemFromObjectCaseSensitive(n, "_seen");
    }
    drop_loose_edges(nodes, edges);
}

/* The node that stands for a folded directory. */
static cJSON *dir_node(const char *dir, int count, char *id, size_t idlen)
{
    size_t len = strlen(dir) + 32;
    char *label = malloc(len);
    cJSON *f = cJSON_CreateObject();
    snprintf(id, idlen, "dir:%s/", dir);
    if (label) snprintf(label, len, "%s/ (%d files)", dir, count);
    cJSON_AddStringToObject(f, "id", id);
    cJSON_AddStringToObject(f, "kind", "file");
    cJSON_AddStringToObject(f, "label", label ? label : dir);
    cJSON_AddStringToObject(f, "path", dir);
    cJSON_AddNumberToObject(f, "files", count);
    free(label);
    return f;
}

/* Points the edges from or to a folded file at its directory's node (renamed: old id -> new id),
 * then drops the edges that became duplicates. */
static void fold_edges(cJSON *edges, const cJSON *renamed)
{
    cJSON *e, *m, *next;
    cJSON_ArrayForEach(e, edges) for (int k = 0; k < 2; k++)
    {
        const char *which = k ? "to" : "from", *id = str(e, which);
        const char *to = id ? str(renamed, id) : NULL;
        if (to) cJSON_ReplaceItemInObjectCaseSensitive(e, which, cJSON_CreateString(to));
    }
    for (e = edges ? edges->child : NULL; e; e = e->next)
        for (m = e->next; m; m = next) {
            next = m->next;
            const char *f1 = str(e, "from"), *t1 = str(e, "to");
            const char *f2 = str(m, "from"), *t2 = str(m, "to");
            if (f1 && f2 && t1 && t2 && !strcmp(f1, f2) && !strcmp(t1, t2))
                cJSON_Delete(cJSON_DetachItemViaPointer(edges, m));
        }
}

/* Folds the files of a directory with TR_FOLD_MIN or more nodes into one node, in the place of
 * its first file. The root and directory nodes stay. */
static int fold(cJSON *doc)
{
    cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "nodes");
    cJSON *edges = cJSON_GetObjectItemCaseSensitive(doc, "edges");
    const char *root = str(doc, "root");
    int n = cJSON_GetArraySize(nodes), i = 0, rc = 0;
    if (n == 0) return 0;
    cJSON **item = calloc((size_t)n, sizeof *item), *node;
    const char **names = calloc((size_t)n, sizeof *names);
    cJSON *renamed = cJSON_CreateObject();
    tr_fold f;
    if (!item || !names || !renamed) rc = TRAIL_ENOMEM;
    cJSON_ArrayForEach(node, nodes)
    {
        const char *id = str(node, "id");
        if (rc) break;
        item[i] = node;
        if (id && is(node, "kind", "file") && (!root || strcmp(id, root)) && strncmp(id, "dir:", 4))
            names[i] = str(node, "label");
        i++;
    }
    if (!rc) rc = tr_fold_plan(&f, n, names, NULL);
    for (i = 0; i < n && !rc; i++) {
        int g = tr_fold_at(&f, i);
        if (g < 0) continue;
        char id[4700];
        cJSON *dir = f.first[g] == i ? dir_node(f.dir[g], f.count[g], id, sizeof id) : NULL;
        if (!dir) snprintf(id, sizeof id, "dir:%s/", f.dir[g]);
        cJSON_AddStringToObject(renamed, str(item[i], "id"), id);
        if (dir)
            cJSON_ReplaceItemViaPointer(nodes, item[i], dir);
        else
            cJSON_Delete(cJSON_DetachItemViaPointer(nodes, item[i]));
    }
    if (!rc) {
        fold_edges(edges, renamed);
        tr_fold_free(&f);
    }
    cJSON_Delete(renamed);
    free(names);
    free(item);
    return rc;
}

int tr_store_lineage_view(tr_store *s, const char *run_id, int64_t version,
                          const tr_lineage_view_opts *o, cJSON **out)
{
    int dirs = o && o->dirs ? o->dirs : TR_LINEAGE_UP | TR_LINEAGE_DOWN;
    int rc = tr_store_lineage_json(s, run_id, version, dirs, o ? o->depth : 0, out);
    if (rc) return rc;
    prune(*out, o && o->all);
    if (!(o && o->files)) rc = fold(*out);
    if (rc) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    return rc;
}
