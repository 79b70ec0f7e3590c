/* procs_query.c - the process tree of a run as JSON: processes (exec chains, parent/child
 * links, exit status, rusage, backtrace) and the run's crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "procs.h"
#include "trail.h"

enum {
    C_PID,
    C_START,
    C_KIND,
    C_PPID,
    C_ARGV,
    C_CWD,
    C_EXE,
    C_NOTE,
    C_ENDED,
    C_END_KIND,
    C_CODE,
    C_SIG,
    C_UTIME,
    C_STIME,
    C_RSS,
    C_BT,
    C_CNOTE,
    C_SOURCE,
    C_NCOLS
};

/* One image row: integer columns (with a set mask) and string columns (malloc'd or NULL). */
typedef struct img {
    int64_t v[C_NCOLS];
    uint32_t set;
    char *s[C_NCOLS];
} img;

/* A process: a run of images of one PID, from a start/fork to the last exec. */
typedef struct node {
    size_t first, n;
    long parent;
    cJSON *obj, *children;
} node;

typedef struct pq {
    img *im;
    size_t nim;
    node *nd;
    size_t nnd;
    int oom;
} pq;

static int has(const img *m, int c)
{
    return (m->set >> c) & 1;
}

static const int is_text[C_NCOLS] = {
    [C_KIND] = 1,     [C_ARGV] = 1, [C_CWD] = 1,   [C_EXE] = 1,   [C_NOTE] = 1,
    [C_END_KIND] = 1, [C_BT] = 1,   [C_CNOTE] = 1, [C_SOURCE] = 1};

static int load(tr_store *s, const char *run, pq *q)
{
    sqlite3_stmt *st = tr_store_stmt(s, TR_STMT_Q_PR_IMAGES);
    if (!st) return TRAIL_ESTORE;
    int rc = sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    size_t cap = 0;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        if (q->nim == cap) {
            cap = cap ? cap * 2 : 32;
            img *g = realloc(q->im, cap * sizeof *g);
            if (!g) {
                rc = SQLITE_NOMEM;
                break;
            }
            q->im = g;
        }
        img *m = &q->im[q->nim++];
        memset(m, 0, sizeof *m);
        for (int c = 0; c < C_NCOLS; c++) {
            if (sqlite3_column_type(st, c) == SQLITE_NULL) continue;
            m->set |= 1u << c;
            if (!is_text[c])
                m->v[c] = sqlite3_column_int64(st, c);
            else if (!(m->s[c] = strdup((const char *)sqlite3_column_text(st, c))))
                q->oom = 1;
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return tr_store_sqlerr(s, rc, "reading processes");
    return 0;
}

/* A new process begins at each image that is not an exec of the previous one's PID. */
static int split(pq *q)
{
    if (q->nim && !(q->nd = calloc(q->nim, sizeof *q->nd))) return -1;
    for (size_t i = 0; i < q->nim; i++) {
        const img *m = &q->im[i];
        int cont = i > 0 && q->im[i - 1].v[C_PID] == m->v[C_PID] && m->s[C_KIND] &&
                   !strcmp(m->s[C_KIND], "exec");
        if (cont) {
            q->nd[q->nnd - 1].n++;
        } else {
            q->nd[q->nnd++] = (node){i, 1, -1, NULL, NULL};
        }
    }
    return 0;
}

/* The start of a process: its first image's (INT64_MIN for a placeholder). */
static int64_t first_start(const pq *q, const node *n)
{
    const img *m = &q->im[n->first];
    return has(m, C_START) ? m->v[C_START] : INT64_MIN;
}

static const img *last_with(const pq *q, const node *n, int c)
{
    for (size_t i = n->first + n->n; i-- > n->first;)
        if (has(&q->im[i], c)) return &q->im[i];
    return NULL;
}

/* Parents: the process of PID ppid started last at or before the child (nodes are in PID
 * order, so a binary search finds the PID's processes). */
static void link_parents(pq *q)
{
    for (size_t k = 0; k < q->nnd; k++) {
        node *n = &q->nd[k];
        const img *pm = last_with(q, n, C_PPID);
        if (!pm) continue;
        int64_t ppid = pm->v[C_PPID], t = first_start(q, n);
        size_t lo = 0, hi = q->nnd;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (q->im[q->nd[mid].first].v[C_PID] < ppid)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t j = lo; j < q->nnd && q->im[q->nd[j].first].v[C_PID] == ppid; j++)
            if (j != k && (n->parent < 0 || first_start(q, &q->nd[j]) <= t)) n->parent = (long)j;
    }
}

static void add(pq *q, cJSON *obj, const char *key, cJSON *item)
{
    if (!item || !obj) {
        q->oom = 1;
        cJSON_Delete(item);
        return;
    }
    if (cJSON_IsArray(obj))
        cJSON_AddItemToArray(obj, item);
    else
        cJSON_AddItemToObject(obj, key, item);
}

static cJSON *j_int(const img *m, int c)
{
    return m && has(m, c) ? cJSON_CreateNumber((double)m->v[c]) : cJSON_CreateNull();
}

static cJSON *j_str(const img *m, int c)
{
    return m && m->s[c] ? cJSON_CreateString(m->s[c]) : cJSON_CreateNull();
}

static cJSON *j_time(const img *m, int c)
{
    if (!m || !has(m, c)) return cJSON_CreateNull();
    char buf[40];
    tr_store_fmt_time(m->v[c], buf, sizeof buf);
    return cJSON_CreateString(buf);
}

static cJSON *j_argv(const img *m)
{
    cJSON *a = m && m->s[C_ARGV] ? cJSON_Parse(m->s[C_ARGV]) : NULL;
    if (a && cJSON_IsArray(a)) return a;
    cJSON_Delete(a);
    return cJSON_CreateArray();
}

static int not_interposed(const img *m)
{
    return m->s[C_NOTE] && !strncmp(m->s[C_NOTE], "not interposable", 16);
}

/* One element of a process's exec chain. */
static cJSON *image_json(pq *q, const img *m)
{
    cJSON *o = cJSON_CreateObject();
    add(q, o, "kind", j_str(m, C_KIND));
    add(q, o, "argv", j_argv(m));
    add(q, o, "exe", j_str(m, C_EXE));
    add(q, o, "cwd", j_str(m, C_CWD));
    add(q, o, "started_at", j_time(m, C_START));
    add(q, o, "ended_at", j_time(m, C_ENDED));
    add(q, o, "end", j_str(m, C_END_KIND));
    add(q, o, "exit_code", j_int(m, C_CODE));
    add(q, o, "signal", j_int(m, C_SIG));
    add(q, o, "interposed", cJSON_CreateBool(!not_interposed(m)));
    if (m->s[C_NOTE]) add(q, o, "note", j_str(m, C_NOTE));
    return o;
}

static cJSON *process_json(pq *q, const node *n)
{
    const img *last = &q->im[n->first + n->n - 1], *bt = last_with(q, n, C_BT);
    const img *cn = last_with(q, n, C_CNOTE), *ru = last_with(q, n, C_UTIME);
    const img *pp = last_with(q, n, C_PPID), *note = NULL;
    int interposed = 1;
    for (size_t i = n->first; i < n->first + n->n; i++) {
        if (not_interposed(&q->im[i])) interposed = 0;
        if (!note && q->im[i].s[C_NOTE]) note = &q->im[i];
    }
    cJSON *o = cJSON_CreateObject(), *chain = cJSON_CreateArray();
    add(q, o, "pid", j_int(last, C_PID));
    add(q, o, "ppid", j_int(pp, C_PPID));
    add(q, o, "argv", j_argv(last_with(q, n, C_ARGV)));
    add(q, o, "exe", j_str(last_with(q, n, C_EXE), C_EXE));
    add(q, o, "cwd", j_str(last_with(q, n, C_CWD), C_CWD));
    add(q, o, "started_at", j_time(&q->im[n->first], C_START));
    add(q, o, "ended_at", j_time(last, C_ENDED));
    add(q, o, "exit_code", j_int(last, C_CODE));
    add(q, o, "signal", j_int(last, C_SIG));
    const char *status = bt || cn                                 ? "crashed"
                         : has(last, C_SIG) && last->v[C_SIG] > 0 ? "signaled"
                         : has(last, C_CODE)                      ? "exited"
                                                                  : "unknown";
    add(q, o, "status", cJSON_CreateString(status));
    add(q, o, "backtrace", j_str(bt, C_BT));
    if (cn) add(q, o, "crash_note", j_str(cn, C_CNOTE));
    add(q, o, "interposed", cJSON_CreateBool(interposed));
    if (note) add(q, o, "note", j_str(note, C_NOTE));
    cJSON *res = cJSON_CreateObject();
    add(q, res, "utime_s",
        ru ? cJSON_CreateNumber((double)ru->v[C_UTIME] / 1e6) : cJSON_CreateNull());
    add(q, res, "stime_s",
        ru && has(ru, C_STIME) ? cJSON_CreateNumber((double)ru->v[C_STIME] / 1e6)
                               : cJSON_CreateNull());
    add(q, res, "maxrss_kb", j_int(ru, C_RSS));
    add(q, o, "resources", res);
    for (size_t i = n->first; i < n->first + n->n; i++)
        add(q, chain, NULL, image_json(q, &q->im[i]));
    add(q, o, "exec", chain);
    return o;
}

static int by_start(const void *a, const void *b, void *arg)
{
    const pq *sort_q = arg;
    const node *x = &sort_q->nd[*(const size_t *)a], *y = &sort_q->nd[*(const size_t *)b];
    int xs = has(&sort_q->im[x->first], C_START), ys = has(&sort_q->im[y->first], C_START);
    if (xs != ys) return ys - xs; /* placeholders last */
    int64_t ta = first_start(sort_q, x), tb = first_start(sort_q, y);
    if (ta != tb) return ta < tb ? -1 : 1;
    int64_t pa = sort_q->im[x->first].v[C_PID], pb = sort_q->im[y->first].v[C_PID];
    return pa < pb ? -1 : pa > pb;
}

/* The crash of the run: its root process's, else the first process that crashed. */
static void crash_json(pq *q, cJSON *doc, const size_t *order)
{
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(doc, "pid");
    const node *pick = NULL;
    for (size_t k = 0; k < q->nnd; k++) {
        const node *n = &q->nd[order[k]];
        if (!last_with(q, n, C_BT) && !last_with(q, n, C_CNOTE)) continue;
        if (!pick) pick = n;
        if (cJSON_IsNumber(rp) && q->im[n->first].v[C_PID] == (int64_t)rp->valuedouble) {
            pick = n;
            break;
        }
    }
    if (!pick) {
        add(q, doc, "crash", cJSON_CreateNull());
        return;
    }
    const img *bt = last_with(q, pick, C_BT), *cn = last_with(q, pick, C_CNOTE);
    const img *sg = NULL;
    for (size_t i = pick->first + pick->n; i-- > pick->first && !sg;)
        if (has(&q->im[i], C_SIG) && q->im[i].v[C_SIG] > 0) sg = &q->im[i];
    cJSON *c = cJSON_CreateObject();
    add(q, c, "pid", j_int(&q->im[pick->first], C_PID));
    add(q, c, "signal", j_int(sg, C_SIG));
    add(q, c, "backtrace", j_str(bt, C_BT));
    add(q, c, "note", j_str(cn, C_CNOTE));
    add(q, doc, "crash", c);
}

int tr_procs_json(tr_store *s, const char *run, cJSON *doc)
{
    pq q;
    memset(&q, 0, sizeof q);
    size_t *order = NULL;
    cJSON *arr = cJSON_AddArrayToObject(doc, "processes");
    int rc = load(s, run, &q);
    if (rc) goto fail;
    if (!arr || split(&q) != 0 || (q.nnd && !(order = malloc(q.nnd * sizeof *order)))) {
        q.oom = 1;
        goto fail;
    }
    link_parents(&q);
    for (size_t k = 0; k < q.nnd; k++) {
        order[k] = k;
        q.nd[k].obj = process_json(&q, &q.nd[k]);
        if (!(q.nd[k].children = cJSON_CreateArray())) q.oom = 1;
    }
    if (q.nnd) qsort_r(order, q.nnd, sizeof *order, by_start, &q);
    for (size_t k = 0; k < q.nnd; k++) {
        const node *n = &q.nd[order[k]];
        if (n->parent >= 0) add(&q, q.nd[n->parent].children, NULL, j_int(&q.im[n->first], C_PID));
    }
    for (size_t k = 0; k < q.nnd; k++) {
        node *n = &q.nd[order[k]];
        add(&q, n->obj, "children", n->children);
        add(&q, arr, NULL, n->obj);
        n->obj = n->children = NULL;
    }
    crash_json(&q, doc, order);
fail:
    for (size_t k = 0; k < q.nnd; k++) {
        cJSON_Delete(q.nd[k].obj);
        cJSON_Delete(q.nd[k].children);
    }
    for (size_t i = 0; i < q.nim; i++)
        for (int c = 0; c < C_NCOLS; c++)
            free(q.im[i].s[c]);
    free(q.im);
    free(q.nd);
    free(order);
    if (!rc && q.oom) rc = tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    return rc;
}
