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

static void node_key(char *out, size_t n, int kind, tr_dbst *st, int col)
{
    if (kind == 'r')
        snprintf(out, n, "r:%s", (const char *)tr_db_column_text(st, col));
    else
        snprintf(out, n, "v:%" PRId64, (int64_t)tr_db_column_int64(st, col));
}

/* One walk: up edges point child -> parent, down edges parent -> child. */
static int walk(tr_store *s, graph *g, enum tr_stmt_id id, const char *run, int64_t version,
                int depth, int up)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, id);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run ? "r" : "v");
    if (run)
        tr_bind_cstr(&q, 2, run);
    else
        tr_bind_int(&q, 2, version);
    tr_bind_int(&q, 3, depth);
    while ((rc = tr_stmt_row(&q)) == 1) {
        tr_dbst *st = q.st;
        char a[48], b[48];
        const char *k = (const char *)tr_db_column_text(st, TR_COL_WALK_KIND);
        node_key(a, sizeof a, k[0], st, TR_COL_WALK_ID);
        int d = tr_db_column_int(st, TR_COL_WALK_DEPTH), child = node(g, a, d);
        if (tr_db_column_type(st, TR_COL_WALK_FROM_KIND) == TR_DB_NULL) continue;
        const char *pk = (const char *)tr_db_column_text(st, TR_COL_WALK_FROM_KIND);
        node_key(b, sizeof b, pk[0], st, TR_COL_WALK_FROM_ID);
        int parent = node(g, b, d - 1);
        if (up)
            edge(g, child, parent);
        else
            edge(g, parent, child);
    }
    if (rc) return rc;
    return g->oom ? tr_store_fail(s, TRAIL_ENOMEM, "out of memory") : 0;
}

static int produced_by(tr_store *s, int64_t ver, const char *run)
{
    tr_stmt q;
    int found = 0;
    if (tr_stmt_begin(&q, s, TR_STMT_LN_PRODUCED_BY)) return 0;
    tr_bind_int(&q, 1, ver);
    tr_bind_cstr(&q, 2, run);
    tr_stmt_row_int(&q, &found, NULL);
    return found;
}

/* Details of a version as a node (fields of the lineage document). */
static int version_node(tr_store *s, int64_t ver, cJSON *o, int *oom)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_LN_VERSION);
    if (rc) return rc;
    tr_bind_int(&q, 1, ver);
    if ((rc = tr_stmt_row(&q)) <= 0)
        return rc ? rc : tr_store_fail(s, TRAIL_ENOTFOUND, "no version %" PRId64, ver);
    tr_dbst *st = q.st;
    char host[256], vs[80], id[TR_LINEAGE_KEY_MAX + 100], removed_by[80] = "";
    const char *key = (const char *)tr_db_column_text(st, TR_COL_LNV_PATH);
    const char *path = tr_store_key_path(key, host, sizeof host);
    tr_fingerprint fp = {(uint64_t)tr_db_column_int64(st, TR_COL_LNV_DEV),
                         (uint64_t)tr_db_column_int64(st, TR_COL_LNV_INO),
                         tr_db_column_int64(st, TR_COL_LNV_SIZE),
                         tr_db_column_int64(st, TR_COL_LNV_MTIME_NS)};
    tr_store_version_string((const char *)tr_db_column_text(st, TR_COL_LNV_HASH),
                            tr_db_column_type(st, TR_COL_LNV_INO) != TR_DB_NULL, &fp, vs,
                            sizeof vs);
    if (vs[0])
        snprintf(id, sizeof id, "file:%s@%s", key, vs);
    else
        snprintf(id, sizeof id, "file:%s@#%" PRId64, key, ver);
    if (tr_db_column_type(st, TR_COL_LNV_REMOVED_RUN) != TR_DB_NULL)
        snprintf(removed_by, sizeof removed_by, "%s",
                 tr_db_column_text(st, TR_COL_LNV_REMOVED_RUN));
    tr_json_add(o, "id", cJSON_CreateString(id), oom);
    tr_json_add(o, "kind", cJSON_CreateString("file"), oom);
    tr_json_add(o, "label", cJSON_CreateString(key), oom);
    tr_json_add(o, "path", cJSON_CreateString(path), oom);
    if (host[0]) tr_json_add(o, "host", cJSON_CreateString(host), oom);
    tr_json_add(o, "version", cJSON_CreateString(vs), oom);
    tr_json_add(o, "version_id", cJSON_CreateNumber((double)ver), oom);
    if (removed_by[0]) tr_json_add(o, "removed", tr_json_col_text(st, TR_COL_LNV_REMOVED_OP), oom);
    tr_stmt_reset(&q);
    if (removed_by[0] && produced_by(s, ver, removed_by))
        tr_json_add(o, "temporary", cJSON_CreateTrue(), oom);
    return 0;
}

static int run_node(tr_store *s, const char *run, cJSON *o, int *oom)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_LN_RUN_BRIEF);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run);
    if ((rc = tr_stmt_row(&q)) < 0) return rc;
    tr_dbst *st = q.st;
    char id[48], label[300];
    snprintf(id, sizeof id, "run:%s", run);
    const char *name = rc ? (const char *)tr_db_column_text(st, TR_COL_LNR_NAME) : NULL;
    if (name)
        snprintf(label, sizeof label, "%s (%.8s)", name, run);
    else
        snprintf(label, sizeof label, "run %.8s", run);
    tr_json_add(o, "id", cJSON_CreateString(id), oom);
    tr_json_add(o, "kind", cJSON_CreateString("run"), oom);
    tr_json_add(o, "label", cJSON_CreateString(label), oom);
    tr_json_add(o, "run", cJSON_CreateString(run), oom);
    tr_json_add(o, "name", name ? cJSON_CreateString(name) : cJSON_CreateNull(), oom);
    if (rc) {
        tr_json_add(o, "status", tr_json_col_text(st, TR_COL_LNR_STATUS), oom);
        char t[40] = "";
        if (tr_db_column_type(st, TR_COL_LNR_STARTED_NS) != TR_DB_NULL)
            tr_store_fmt_time(tr_db_column_int64(st, TR_COL_LNR_STARTED_NS), t, sizeof t);
        tr_json_add(o, "started_at", t[0] ? cJSON_CreateString(t) : cJSON_CreateNull(), oom);
        tr_stmt_reset(&q);
    }
    return 0;
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
        tr_json_add(o, "depth", cJSON_CreateNumber((double)tr_strmap_val(g.nodes, i)->i), &oom);
        if (i == 0)
            tr_json_add(
                doc, "root",
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
        tr_json_add(
            e, "from",
            cJSON_CreateString(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "id"))),
            &oom);
        tr_json_add(
            e, "to",
            cJSON_CreateString(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "id"))),
            &oom);
        tr_json_add(e, "kind",
                    cJSON_CreateString(tr_strmap_key(g.nodes, (size_t)g.e[i][0], NULL)[0] == 'r'
                                           ? "output"
                                           : "input"),
                    &oom);
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
