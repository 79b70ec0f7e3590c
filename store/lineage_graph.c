/* lineage_graph.c - lineage queries: file targets, the run/file subgraph, a file's versions. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lineage.h"
#include "strmap.h"
#include "trail.h"

#define MAX_DEPTH 1000

/* ---- a small graph: nodes keyed "r:<run id>" / "v:<version id>", edges deduplicated ---- */

typedef struct graph {
    tr_strmap *nodes; /* node key -> its least depth; the entry index is the node's number */
    int (*e)[2];
    size_t ne, ecap;
    int oom;
} graph;

/* The number of node key, added at depth when new (keeping the least depth); -1 on OOM. */
static int node(graph *g, const char *key, int depth)
{
    if (!g->nodes && !(g->nodes = tr_strmap_new())) return g->oom = 1, -1;
    long i = tr_strmap_add(g->nodes, key, strlen(key), (tr_mapval){.i = depth}, NULL);
    if (i < 0) return g->oom = 1, -1;
    tr_mapval *d = tr_strmap_val(g->nodes, (size_t)i);
    if (depth < d->i) d->i = depth;
    return (int)i;
}

static void edge(graph *g, int from, int to)
{
    if (from < 0 || to < 0) return;
    for (size_t i = g->ne; i-- > 0 && i + 64 >= g->ne;) /* recent duplicates are common */
        if (g->e[i][0] == from && g->e[i][1] == to) return;
    if (g->ne == g->ecap) {
        size_t cap = g->ecap ? g->ecap * 2 : 64;
        void *grown = realloc(g->e, cap * sizeof *g->e);
        if (!grown) {
            g->oom = 1;
            return;
        }
        g->e = grown;
        g->ecap = cap;
    }
    g->e[g->ne][0] = from;
    g->e[g->ne][1] = to;
    g->ne++;
}

static void graph_free(graph *g)
{
    tr_strmap_free(g->nodes);
    free(g->e);
}

static void node_key(char *out, size_t n, int kind, sqlite3_stmt *st, int col)
{
    if (kind == 'r')
        snprintf(out, n, "r:%s", (const char *)sqlite3_column_text(st, col));
    else
        snprintf(out, n, "v:%" PRId64, (int64_t)sqlite3_column_int64(st, col));
}

/* One walk: up edges point child -> parent, down edges parent -> child. */
static int walk(tr_store *s, graph *g, enum tr_stmt_id id, const char *run, int64_t version,
                int depth, int up)
{
    sqlite3_stmt *st = tr_store_stmt(s, id);
    if (!st) return TRAIL_ESTORE;
    sqlite3_bind_text(st, 1, run ? "r" : "v", -1, SQLITE_STATIC);
    if (run)
        sqlite3_bind_text(st, 2, run, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, version);
    sqlite3_bind_int(st, 3, depth);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char a[48], b[48];
        const char *k = (const char *)sqlite3_column_text(st, 0);
        node_key(a, sizeof a, k[0], st, 1);
        int child = node(g, a, sqlite3_column_int(st, 2));
        if (sqlite3_column_type(st, 3) == SQLITE_NULL) continue;
        const char *pk = (const char *)sqlite3_column_text(st, 3);
        node_key(b, sizeof b, pk[0], st, 4);
        int parent = node(g, b, sqlite3_column_int(st, 2) - 1);
        if (up)
            edge(g, child, parent);
        else
            edge(g, parent, child);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return tr_store_sqlerr(s, rc, "walking lineage");
    return g->oom ? tr_store_fail(s, TRAIL_ENOMEM, "out of memory") : 0;
}

static void put(cJSON *o, const char *k, cJSON *v, int *oom)
{
    if (!v || !cJSON_AddItemToObject(o, k, v)) {
        cJSON_Delete(v);
        *oom = 1;
    }
}

static cJSON *text_or_null(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? cJSON_CreateString((const char *)t) : cJSON_CreateNull();
}

static int produced_by(tr_store *s, int64_t ver, const char *run)
{
    sqlite3_stmt *st = tr_store_stmt(s, TR_STMT_LN_PRODUCED_BY);
    int found = 0;
    if (!st) return 0;
    sqlite3_bind_int64(st, 1, ver);
    sqlite3_bind_text(st, 2, run, -1, SQLITE_TRANSIENT);
    tr_lineage_row_int(s, st, &found, NULL);
    return found;
}

/* Details of a version as a node (fields of the lineage document). */
static int version_node(tr_store *s, int64_t ver, cJSON *o, int *oom)
{
    sqlite3_stmt *st = tr_store_stmt(s, TR_STMT_LN_VERSION);
    if (!st) return TRAIL_ESTORE;
    sqlite3_bind_int64(st, 1, ver);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        char host[256], vs[80], id[TR_LINEAGE_KEY_MAX + 100], removed_by[80] = "";
        const char *key = (const char *)sqlite3_column_text(st, 0);
        const char *path = tr_store_key_path(key, host, sizeof host);
        tr_fingerprint fp = {(uint64_t)sqlite3_column_int64(st, 1),
                             (uint64_t)sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                             sqlite3_column_int64(st, 4)};
        tr_store_version_string((const char *)sqlite3_column_text(st, 5),
                                sqlite3_column_type(st, 2) != SQLITE_NULL, &fp, vs, sizeof vs);
        if (vs[0])
            snprintf(id, sizeof id, "file:%s@%s", key, vs);
        else
            snprintf(id, sizeof id, "file:%s@#%" PRId64, key, ver);
        if (sqlite3_column_type(st, 6) != SQLITE_NULL)
            snprintf(removed_by, sizeof removed_by, "%s", sqlite3_column_text(st, 6));
        put(o, "id", cJSON_CreateString(id), oom);
        put(o, "kind", cJSON_CreateString("file"), oom);
        put(o, "label", cJSON_CreateString(key), oom);
        put(o, "path", cJSON_CreateString(path), oom);
        if (host[0]) put(o, "host", cJSON_CreateString(host), oom);
        put(o, "version", cJSON_CreateString(vs), oom);
        put(o, "version_id", cJSON_CreateNumber((double)ver), oom);
        if (removed_by[0]) put(o, "removed", text_or_null(st, 7), oom);
        sqlite3_reset(st);
        if (removed_by[0] && produced_by(s, ver, removed_by))
            put(o, "temporary", cJSON_CreateTrue(), oom);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW ? 0 : tr_store_sqlerr(s, rc, "reading a version");
}

static int run_node(tr_store *s, const char *run, cJSON *o, int *oom)
{
    sqlite3_stmt *st = tr_store_stmt(s, TR_STMT_LN_RUN_BRIEF);
    if (!st) return TRAIL_ESTORE;
    sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    char id[48], label[300];
    snprintf(id, sizeof id, "run:%s", run);
    const char *name = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (name)
        snprintf(label, sizeof label, "%s (%.8s)", name, run);
    else
        snprintf(label, sizeof label, "run %.8s", run);
    put(o, "id", cJSON_CreateString(id), oom);
    put(o, "kind", cJSON_CreateString("run"), oom);
    put(o, "label", cJSON_CreateString(label), oom);
    put(o, "run", cJSON_CreateString(run), oom);
    put(o, "name", name ? cJSON_CreateString(name) : cJSON_CreateNull(), oom);
    if (rc == SQLITE_ROW) {
        put(o, "status", text_or_null(st, 1), oom);
        char t[40] = "";
        if (sqlite3_column_type(st, 2) != SQLITE_NULL)
            tr_store_fmt_time(sqlite3_column_int64(st, 2), t, sizeof t);
        put(o, "started_at", t[0] ? cJSON_CreateString(t) : cJSON_CreateNull(), oom);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : tr_store_sqlerr(s, rc, "reading a run");
}

int tr_store_lineage_json(tr_store *s, const char *run_id, int64_t version, int dirs, int depth,
                          cJSON **out)
{
    if (!s || !out) return TRAIL_EINVAL;
    *out = NULL;
    graph g = {0};
    cJSON *doc = NULL, *nodes, *edges;
    int rc = 0, oom = 0;
    if (depth <= 0 || depth > MAX_DEPTH) depth = MAX_DEPTH;
    if (!dirs) dirs = TR_LINEAGE_UP | TR_LINEAGE_DOWN;
    char root[48];
    if (run_id)
        snprintf(root, sizeof root, "r:%s", run_id);
    else
        snprintf(root, sizeof root, "v:%" PRId64, version);
    node(&g, root, 0);
    if ((dirs & TR_LINEAGE_UP) && (rc = walk(s, &g, TR_STMT_LN_WALK_UP, run_id, version, depth, 1)))
        goto fail;
    if ((dirs & TR_LINEAGE_DOWN) &&
        (rc = walk(s, &g, TR_STMT_LN_WALK_DOWN, run_id, version, depth, 0)))
        goto fail;
    if (!(doc = cJSON_CreateObject())) goto oom;
    nodes = cJSON_AddArrayToObject(doc, "nodes");
    edges = cJSON_AddArrayToObject(doc, "edges");
    if (!nodes || !edges) goto oom;
    for (size_t i = 0; i < tr_strmap_size(g.nodes); i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(nodes, o)) {
            cJSON_Delete(o);
            goto oom;
        }
        const char *k = tr_strmap_key(g.nodes, i, NULL);
        rc = k[0] == 'r' ? run_node(s, k + 2, o, &oom)
                         : version_node(s, strtoll(k + 2, NULL, 10), o, &oom);
        if (rc) goto fail;
        put(o, "depth", cJSON_CreateNumber((double)tr_strmap_val(g.nodes, i)->i), &oom);
        if (i == 0)
            put(doc, "root",
                cJSON_CreateString(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id"))),
                &oom);
    }
    for (size_t i = 0; i < g.ne; i++) {
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(edges, e)) {
            cJSON_Delete(e);
            goto oom;
        }
        cJSON *a = cJSON_GetArrayItem(nodes, g.e[i][0]), *b = cJSON_GetArrayItem(nodes, g.e[i][1]);
        put(e, "from",
            cJSON_CreateString(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "id"))),
            &oom);
        put(e, "to",
            cJSON_CreateString(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "id"))),
            &oom);
        put(e, "kind", cJSON_CreateString(tr_strmap_key(g.nodes, (size_t)g.e[i][0], NULL)[0] == 'r' ? "output" : "input"), &oom);
    }
    if (oom || g.oom) goto oom;
    graph_free(&g);
    *out = doc;
    return 0;
oom:
    rc = tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
fail:
    graph_free(&g);
    cJSON_Delete(doc);
    return rc;
}
