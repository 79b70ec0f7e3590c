/* manage_ops.c - the management commands as requests: `trail rm/gc/forget/tag/rename/close` build
 * one JSON request, and this runs it on a store and gives the lines to print, so the command on
 * the embedded store and traild's POST /api/manage say the same. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "manage_ops.h"
#include "trail.h"
#include "util.h"

#define EXIT_USAGE 2
#define MAX_RUNS 100000

typedef struct res {
    tr_store *s;
    cJSON *doc, *lines;
    int exit;
} res;

static void line(res *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(res *r, const char *fmt, ...)
{
    char buf[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cJSON_AddItemToArray(r->lines, cJSON_CreateString(buf));
}

/* The error (one line, printed on stderr) and the exit status; returns code. */
static int fail(res *r, int code, const char *msg)
{
    if (!cJSON_GetObjectItemCaseSensitive(r->doc, "error"))
        cJSON_AddStringToObject(r->doc, "error", msg);
    r->exit = code;
    return code;
}

static int store_fail(res *r, int code)
{
    return fail(r, code, tr_store_errmsg(r->s));
}

static const char *str(const cJSON *q, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, k));
}

static int flag(const cJSON *q, const char *k)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q, k));
}

static int resolve(res *r, const char *ref, char id[33])
{
    if (!ref) return fail(r, EXIT_USAGE, "a run is required");
    return tr_store_resolve_run(r->s, ref, id) ? store_fail(r, EXIT_USAGE) : 0;
}

static void human(int64_t b, char *out, size_t n)
{
    if (b < 1024)
        snprintf(out, n, "%lld B", (long long)b);
    else if (b < 1024 * 1024)
        snprintf(out, n, "%.1f KiB", (double)b / 1024);
    else
        snprintf(out, n, "%.1f MiB", (double)b / (1024.0 * 1024));
}

/* The closing lines of a removal: what went, and the space given back. */
static int report(res *r, const tr_manage_report *m, int dry_run)
{
    line(r, "%s %lld run(s), %lld row(s), %lld file version(s), %lld file(s)",
         dry_run ? "would remove" : "removed", (long long)m->runs, (long long)m->rows,
         (long long)m->versions, (long long)m->artifacts);
    if (dry_run) return 0;
    int64_t before, after;
    if (tr_store_reclaim(r->s, &before, &after) != 0) return store_fail(r, 1);
    char b[32], a[32];
    human(before, b, sizeof b);
    human(after, a, sizeof a);
    line(r, "store %s: %s -> %s", tr_store_path(r->s), b, a);
    return 0;
}

static int remove_ids(res *r, const char *const *ids, int n, int dry_run)
{
    tr_manage_report m;
    if (tr_store_rm_runs(r->s, ids, n, dry_run, &m) != 0) return store_fail(r, 1);
    return report(r, &m, dry_run);
}

static int op_rm(res *r, const cJSON *q, int dry)
{
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(q, "runs"), *it;
    int n = cJSON_GetArraySize(runs), i = 0;
    if (n < 1 || n > MAX_RUNS) return fail(r, EXIT_USAGE, "which run(s)?");
    char(*ids)[33] = calloc((size_t)n, sizeof *ids);
    const char **list = calloc((size_t)n, sizeof *list);
    if (!ids || !list) {
        free(ids);
        free(list);
        return fail(r, 1, "out of memory");
    }
    cJSON_ArrayForEach(it, runs)
    {
        if (resolve(r, cJSON_GetStringValue(it), ids[i])) break;
        list[i] = ids[i];
        line(r, "%s %s", dry ? "would remove" : "removing", ids[i++]);
    }
    if (!r->exit) remove_ids(r, list, n, dry);
    free(ids);
    free(list);
    return r->exit;
}

static int op_gc(res *r, const cJSON *q, int dry)
{
    const char *older = str(q, "older_than"), *status = str(q, "status");
    int64_t age = older ? tr_parse_duration_ns(older) : -1;
    if (age < 0) return fail(r, EXIT_USAGE, "--older-than AGE: use a number and d, h, m, s or w");
    char(*ids)[33] = calloc(MAX_RUNS, sizeof *ids);
    const char **list = calloc(MAX_RUNS, sizeof *list);
    int n = 0;
    if (!ids || !list)
        fail(r, 1, "out of memory");
    else if (tr_store_gc_select(r->s, tr_now_ns() - age, status, ids, MAX_RUNS, &n) != 0)
        store_fail(r, 1);
    for (int i = 0; !r->exit && i < n; i++)
        list[i] = ids[i];
    if (!r->exit && n == 0)
        line(r, "no run ended before %s ago%s%s", older, status ? " with status " : "",
             status ? status : "");
    else if (!r->exit)
        remove_ids(r, list, n, dry);
    free(ids);
    free(list);
    return r->exit;
}

/* forget: "key" (the artifact key the client made of its path, host-qualified when node-local),
 * "path" (the plain absolute path: tried as a key when "key" names nothing), "spec" (a version,
 * may be absent). What is scrubbed is derived from the artifact found, never from "path". */
static int op_forget(res *r, const cJSON *q, int dry)
{
    const char *key = str(q, "key"), *path = str(q, "path"), *spec = str(q, "spec");
    if (!key || !path) return fail(r, EXIT_USAGE, "which file?");
    char found[4608];
    int64_t ver;
    int rc = tr_store_resolve_file(r->s, key, spec, &ver, found, sizeof found);
    if (rc == TRAIL_ENOTFOUND && strcmp(key, path))
        rc = tr_store_resolve_file(r->s, path, spec, &ver, found, sizeof found);
    if (rc) return store_fail(r, rc == TRAIL_ENOTFOUND || rc == TRAIL_EAMBIGUOUS ? EXIT_USAGE : 1);
    tr_manage_report m;
    if (tr_store_forget(r->s, found, dry, &m) != 0) return store_fail(r, 1);
    line(r, "%s %s from %lld run(s)", dry ? "would forget" : "forgot", found, (long long)m.runs);
    m.runs = 0;
    return report(r, &m, dry);
}

static int op_tag(res *r, const cJSON *q, int dry)
{
    char id[33];
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(q, "tags"), *kv;
    if (resolve(r, str(q, "run"), id)) return r->exit;
    if (cJSON_GetArraySize(tags) < 1) return fail(r, EXIT_USAGE, "which K=V?");
    cJSON_ArrayForEach(kv, tags)
    {
        const char *k = cJSON_GetStringValue(cJSON_GetArrayItem(kv, 0));
        const char *v = cJSON_GetStringValue(cJSON_GetArrayItem(kv, 1));
        if (!k || !*k || !v) return fail(r, EXIT_USAGE, "a tag is [K, V]");
        if (!dry && tr_store_tag_set(r->s, id, k, v) != 0) return store_fail(r, 1);
        line(r, "%s %s: %s = %s", dry ? "would tag" : "tagged", id, k, v);
    }
    return 0;
}

static int op_rename(res *r, const cJSON *q, int dry)
{
    char id[33];
    const char *name = str(q, "name");
    if (resolve(r, str(q, "run"), id)) return r->exit;
    if (!name) return fail(r, EXIT_USAGE, "which name?");
    if (!dry && tr_store_rename_run(r->s, id, name) != 0) return store_fail(r, 1);
    line(r, "%s %s to %s", dry ? "would rename" : "renamed", id, name);
    return 0;
}

static int op_close(res *r, const cJSON *q, int dry)
{
    static const char *const ok[] = {"finished", "failed", "killed", "crashed", "lost"};
    char id[33], was[32] = "";
    const char *status = str(q, "status");
    int valid = 0;
    for (size_t i = 0; status && i < sizeof ok / sizeof ok[0]; i++)
        valid |= !strcmp(status, ok[i]);
    if (!valid)
        return fail(r, EXIT_USAGE, "--status S is required (finished|failed|killed|crashed|lost)");
    if (resolve(r, str(q, "run"), id)) return r->exit;
    if (dry) {
        line(r, "would close %s as %s", id, status);
        return 0;
    }
    if (tr_store_close_run(r->s, id, status, tr_now_ns(), flag(q, "force"), was, sizeof was))
        return store_fail(r, EXIT_USAGE);
    line(r, "closed %s: %s -> %s", id, was, status);
    return 0;
}

int tr_store_manage_json(tr_store *s, const cJSON *req, cJSON **out)
{
    res r = {.s = s, .doc = cJSON_CreateObject()};
    *out = r.doc;
    if (!r.doc || !(r.lines = cJSON_AddArrayToObject(r.doc, "lines"))) return 1;
    static const struct {
        const char *op;
        int (*fn)(res *, const cJSON *, int);
    } ops[] = {{"rm", op_rm},   {"gc", op_gc},         {"forget", op_forget},
               {"tag", op_tag}, {"rename", op_rename}, {"close", op_close}};
    const char *op = str(req, "op");
    int done = 0;
    for (size_t i = 0; op && i < sizeof ops / sizeof ops[0] && !done; i++)
        if (!strcmp(op, ops[i].op)) {
            ops[i].fn(&r, req, flag(req, "dry_run"));
            done = 1;
        }
    if (!done)
        fail(&r, EXIT_USAGE, "unknown management request (rm, gc, forget, tag, rename, close)");
    cJSON_AddNumberToObject(r.doc, "exit", r.exit);
    return r.exit;
}
