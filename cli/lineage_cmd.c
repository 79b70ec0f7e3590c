/* lineage_cmd.c - `trail lineage` (text tree, JSON, DOT, Mermaid) and `trail show PATH`. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_safe.h"
#include "textout.h"
#include "cli.h"
#include "trail.h"
#include "util.h"
#include "jsonfmt.h"
#include "commands.h"

typedef struct lopts {
    const char *store, *target, *format, *depth_arg;
    int dirs, depth, files, all;
} lopts;

static const tr_opt lineage_opts[] = {
    TR_BITS("up", lopts, dirs, TR_LINEAGE_UP, "only upstream: what it was made from"),
    TR_BITS("down", lopts, dirs, TR_LINEAGE_DOWN, "only downstream: what was made from it"),
    TR_VALUE("depth", "N", lopts, depth_arg, "at most N runs away (default: all)"),
    TR_FORMAT("text|json|dot|mermaid", lopts, format),
    TR_ALIAS("json", lopts, format, "json", "same as --format json"),
    TR_FLAG("files", lopts, files, "every file on its own (not folded by directory)"),
    TR_FLAG("all", lopts, all, "temporaries and system files too"),
    TR_VALUE("store", "PATH", lopts, store, "the store (default: $TRAIL_STORE, ./.trail/trail.db)"),
    TR_OPT_END};

const tr_opt_cmd tr_lineage_cmd = {
    .name = "trail lineage",
    .args = "RUN|PATH[@VERSION]",
    .summary = "The runs and files upstream and downstream of a run or a file",
    .opts = lineage_opts,
    .min_args = 1,
    .max_args = 1,
    .missing = "which run or file?",
    .args_help = "RUN is a full id, a unique id prefix, or a run name (the latest of that name).\n"
                 "PATH is a file; @VERSION picks one of its versions (an id prefix).\n"};

/* ---- targets ---- */

int tr_lineage_arg_key(const char *arg, char *key, size_t n, char *plain, size_t pn)
{
    char cwd[4096], host[256];
    const char *colon = strchr(arg, ':'), *slash = strchr(arg, '/');
    if (arg[0] != '/' && colon && slash == colon + 1) { /* HOST:/path */
        snprintf(key, n, "%s", arg);
        snprintf(plain, pn, "%s", arg);
        return 0;
    }
    if (!getcwd(cwd, sizeof cwd) || tr_path_normalize(arg, cwd, plain, pn) != 0) return -1;
    tr_hostname(host, sizeof host);
    return tr_store_artifact_key(plain, host, key, n);
}

int tr_lineage_file_target(tr_store *st, const char *arg, int64_t *ver, char *key, size_t n)
{
    char path[4096], k[4608], plain[4096];
    const char *spec = NULL, *at = strrchr(arg, '@');
    snprintf(path, sizeof path, "%s", arg);
    if (at && at > arg && !strchr(at, '/')) {
        path[at - arg] = 0;
        spec = at + 1;
    }
    if (tr_lineage_arg_key(path, k, sizeof k, plain, sizeof plain) != 0) {
        tr_agent_err("bad path '%s'", arg);
        return TR_EXIT_USAGE;
    }
    int rc = tr_store_resolve_file(st, k, spec, ver, key, n);
    if (rc == TRAIL_ENOTFOUND && strcmp(k, plain) != 0)
        rc = tr_store_resolve_file(st, plain, spec, ver, key, n);
    if (rc == 0) return 0;
    tr_agent_err("%s", tr_store_errmsg(st));
    return rc == TRAIL_ENOTFOUND || rc == TRAIL_EAMBIGUOUS ? TR_EXIT_USAGE : 1;
}

static cJSON *find_node(cJSON *nodes, const char *id)
{
    cJSON *n;
    cJSON_ArrayForEach(n, nodes) if (!strcmp(tr_jstr(n, "id"), id)) return n;
    return NULL;
}

/* ---- renderers ---- */

/* A label for text: paths under the current directory are shown relative to it. */
static const char *rel(const char *label)
{
    static char cwd[4096];
    if (!cwd[0] && !getcwd(cwd, sizeof cwd)) return label;
    size_t n = strlen(cwd);
    if (label && !strncmp(label, cwd, n) && label[n] == '/') return label + n + 1;
    return label;
}

static void text_node(const cJSON *n)
{
    if (!strcmp(tr_jstr(n, "kind"), "run")) {
        const char *st = tr_jstr(n, "status");
        printf("run %s%s%s", tr_esc(tr_jstr(n, "label")), st ? "  " : "", st ? tr_esc(st) : "");
        return;
    }
    const char *v = tr_jstr(n, "version");
    printf("%s", tr_esc(rel(tr_jstr(n, "label"))));
    if (v && *v) printf("  @%.12s", tr_esc(v));
}

/* Prints the tree below node id: up follows edges backwards (writers, inputs), down forwards. */
static void tree(cJSON *doc, const char *id, int up, char *prefix, size_t plen, cJSON *seen)
{
    cJSON *edges = cJSON_GetObjectItemCaseSensitive(doc, "edges"), *e;
    cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "nodes");
    int total = 0, k = 0;
    cJSON_ArrayForEach(e, edges) total += !strcmp(tr_jstr(e, up ? "to" : "from"), id);
    cJSON_ArrayForEach(e, edges)
    {
        if (strcmp(tr_jstr(e, up ? "to" : "from"), id)) continue;
        const char *cid = tr_jstr(e, up ? "from" : "to");
        cJSON *c = find_node(nodes, cid);
        int last = ++k == total, run = !strcmp(tr_jstr(c, "kind"), "run");
        printf("%s%s%s ", prefix, last ? "└── " : "├── ",
               run ? (up ? "written by" : "read by") : (up ? "read" : "wrote"));
        text_node(c);
        if (cJSON_GetObjectItemCaseSensitive(seen, cid)) {
            printf("  (see above)\n");
            continue;
        }
        printf("\n");
        cJSON_AddTrueToObject(seen, cid);
        size_t at = strlen(prefix);
        if (at + 8 < plen) {
            strcat(prefix, last ? "    " : "│   ");
            tree(doc, cid, up, prefix, plen, seen);
            prefix[at] = 0;
        }
    }
}

static void render_text(cJSON *doc, int dirs)
{
    const char *root = tr_jstr(doc, "root");
    cJSON *r = find_node(cJSON_GetObjectItemCaseSensitive(doc, "nodes"), root);
    for (int up = 1; up >= 0; up--) {
        if (!(dirs & (up ? TR_LINEAGE_UP : TR_LINEAGE_DOWN))) continue;
        if (dirs == (TR_LINEAGE_UP | TR_LINEAGE_DOWN))
            printf("%s:\n", up ? "upstream" : "downstream");
        text_node(r);
        printf("\n");
        char prefix[512] = "";
        cJSON *seen = cJSON_CreateObject();
        cJSON_AddTrueToObject(seen, root);
        tree(doc, root, up, prefix, sizeof prefix, seen);
        cJSON_Delete(seen);
        if (up && (dirs & TR_LINEAGE_DOWN)) printf("\n");
    }
}

/* The document of design.md: nodes {id, kind, label}, edges {from, to, kind}. */
static void render_json(cJSON *doc)
{
    cJSON *out = cJSON_CreateObject(), *n;
    cJSON *nodes = cJSON_AddArrayToObject(out, "nodes"), *edges;
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(doc, "nodes"))
    {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", tr_jstr(n, "id"));
        cJSON_AddStringToObject(o, "kind", tr_jstr(n, "kind"));
        cJSON_AddStringToObject(o, "label", tr_jstr(n, "label"));
        cJSON_AddItemToArray(nodes, o);
    }
    edges = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "edges"), 1);
    cJSON_AddItemToObject(out, "edges", edges ? edges : cJSON_CreateArray());
    char *s = tr_json_print_safe(out, 1);
    if (s) puts(s);
    free(s);
    cJSON_Delete(out);
}

/* Writes s with the characters of a double-quoted DOT/Mermaid string escaped (control
 * characters first, by tr_esc). */
static void quoted(const char *s, int mermaid)
{
    for (s = tr_esc(s); s && *s; s++) {
        if (*s == '"')
            fputs(mermaid ? "#quot;" : "\\\"", stdout);
        else if (*s == '\\' && !mermaid)
            fputs("\\\\", stdout);
        else
            putchar(*s);
    }
}

static int index_of(cJSON *nodes, const char *id)
{
    int i = 0;
    cJSON *n;
    cJSON_ArrayForEach(n, nodes)
    {
        if (!strcmp(tr_jstr(n, "id"), id)) return i;
        i++;
    }
    return -1;
}

static void render_graph(cJSON *doc, int mermaid)
{
    cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "nodes"), *n, *e;
    int i = 0;
    puts(mermaid ? "flowchart LR"
                 : "digraph lineage {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];");
    cJSON_ArrayForEach(n, nodes)
    {
        int run = !strcmp(tr_jstr(n, "kind"), "run");
        const char *label = run ? tr_jstr(n, "label") : rel(tr_jstr(n, "label"));
        if (mermaid)
            printf("  n%d%s\"", i, run ? "[" : "([");
        else
            printf("  n%d [label=\"", i);
        quoted(label, mermaid);
        if (mermaid)
            printf("\"%s\n", run ? "]" : "])");
        else
            printf("\", shape=%s];\n",
                   run ? "box, style=\"rounded,filled\", fillcolor=\"#dde8f5\"" : "note");
        i++;
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "edges"))
    {
        int a = index_of(nodes, tr_jstr(e, "from")), b = index_of(nodes, tr_jstr(e, "to"));
        if (mermaid)
            printf("  n%d -->|%s| n%d\n", a, tr_esc(tr_jstr(e, "kind")), b);
        else
            printf("  n%d -> n%d [label=\"%s\"];\n", a, b, tr_esc(tr_jstr(e, "kind")));
    }
    if (!mermaid) puts("}");
}

static int parse(int argc, char **argv, lopts *o)
{
    tr_opt_args args;
    long depth = 0;
    memset(o, 0, sizeof *o);
    o->format = "text";
    int rc = tr_opt_parse(&tr_lineage_cmd, argc, argv, o, &args);
    if (rc) return rc;
    if (o->depth_arg && tr_opt_long(&tr_lineage_cmd, "--depth", o->depth_arg, 1, 1 << 20, &depth))
        return TRAIL_EINVAL;
    o->depth = (int)depth;
    o->target = args.argv[0];
    if (!o->dirs) o->dirs = TR_LINEAGE_UP | TR_LINEAGE_DOWN;
    return 0;
}

int tr_cmd_lineage(int argc, char **argv)
{
    lopts o;
    int prc = parse(argc, argv, &o);
    if (prc) return TR_OPT_EXIT(prc);
    tr_store *st = tr_agent_open_store(o.store, TR_STORE_READONLY);
    if (!st) return TR_EXIT_USAGE;
    char id[33], key[4608];
    int64_t ver = 0;
    cJSON *doc = NULL;
    int ex = 0, is_run = !strchr(o.target, '@') && tr_store_resolve_run(st, o.target, id) == 0;
    if (!is_run && (ex = tr_lineage_file_target(st, o.target, &ver, key, sizeof key))) goto done;
    tr_lineage_view_opts vo = {.dirs = o.dirs, .depth = o.depth, .files = o.files, .all = o.all};
    if (tr_store_lineage_view(st, is_run ? id : NULL, ver, &vo, &doc) != 0) {
        tr_agent_err("%s", tr_store_errmsg(st));
        ex = 1;
        goto done;
    }
    if (!strcmp(o.format, "json"))
        render_json(doc);
    else if (!strcmp(o.format, "dot"))
        render_graph(doc, 0);
    else if (!strcmp(o.format, "mermaid"))
        render_graph(doc, 1);
    else
        render_text(doc, o.dirs);
done:
    cJSON_Delete(doc);
    tr_store_close(st);
    return ex;
}
