/* procs_query.c - the process tree of a run as JSON: processes (exec chains, parent/child
 * links, exit status, rusage, backtrace) and the run's crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "procs.h"
#include "trail.h"

/* One image row: integer columns (with a set mask) and string columns (malloc'd or NULL). */
typedef struct img {
    int64_t v[TR_COL_QPR_NCOLS];
    uint32_t set;
    char *s[TR_COL_QPR_NCOLS];
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

static const int is_text[TR_COL_QPR_NCOLS] = {
    [TR_COL_QPR_KIND] = 1, [TR_COL_QPR_ARGV] = 1,  [TR_COL_QPR_CWD] = 1,
    [TR_COL_QPR_EXE] = 1,  [TR_COL_QPR_NOTE] = 1,  [TR_COL_QPR_END_KIND] = 1,
    [TR_COL_QPR_BT] = 1,   [TR_COL_QPR_CNOTE] = 1, [TR_COL_QPR_SOURCE] = 1};

static int load(tr_store *s, const char *run, pq *q)
{
    tr_stmt st;
    int rc = tr_stmt_begin(&st, s, TR_STMT_Q_PR_IMAGES);
    size_t cap = 0;
    if (rc) return rc;
    tr_bind_cstr(&st, 1, run);
    while ((rc = tr_stmt_row(&st)) == 1) {
        if (q->nim == cap) {
            cap = cap ? cap * 2 : 32;
            img *g = realloc(q->im, cap * sizeof *g);
            if (!g) {
                tr_stmt_reset(&st);
                return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
            }
            q->im = g;
        }
        img *m = &q->im[q->nim++];
        memset(m, 0, sizeof *m);
        for (int c = 0; c < TR_COL_QPR_NCOLS; c++) {
            if (tr_db_column_type(st.st, c) == TR_DB_NULL) continue;
            m->set |= 1u << c;
            if (!is_text[c])
                m->v[c] = tr_db_column_int64(st.st, c);
            else if (!(m->s[c] = strdup((const char *)tr_db_column_text(st.st, c))))
                q->oom = 1;
        }
    }
    return rc;
}

/* A new process begins at each image that is not an exec of the previous one's PID. */
static int split(pq *q)
{
    if (q->nim && !(q->nd = calloc(q->nim, sizeof *q->nd))) return -1;
    for (size_t i = 0; i < q->nim; i++) {
        const img *m = &q->im[i];
        int cont = i > 0 && q->im[i - 1].v[TR_COL_QPR_PID] == m->v[TR_COL_QPR_PID] &&
                   m->s[TR_COL_QPR_KIND] && !strcmp(m->s[TR_COL_QPR_KIND], "exec");
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
    return has(m, TR_COL_QPR_START) ? m->v[TR_COL_QPR_START] : INT64_MIN;
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
        const img *pm = last_with(q, n, TR_COL_QPR_PPID);
        if (!pm) continue;
        int64_t ppid = pm->v[TR_COL_QPR_PPID], t = first_start(q, n);
        size_t lo = 0, hi = q->nnd;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (q->im[q->nd[mid].first].v[TR_COL_QPR_PID] < ppid)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t j = lo; j < q->nnd && q->im[q->nd[j].first].v[TR_COL_QPR_PID] == ppid; j++)
            if (j != k && (n->parent < 0 || first_start(q, &q->nd[j]) <= t)) n->parent = (long)j;
    }
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
    return m && has(m, c) ? tr_json_time(m->v[c]) : cJSON_CreateNull();
}

static cJSON *j_argv(const img *m)
{
    cJSON *a = m && m->s[TR_COL_QPR_ARGV] ? cJSON_Parse(m->s[TR_COL_QPR_ARGV]) : NULL;
    if (a && cJSON_IsArray(a)) return a;
    cJSON_Delete(a);
    return cJSON_CreateArray();
}

static int not_interposed(const img *m)
{
    return m->s[TR_COL_QPR_NOTE] && !strncmp(m->s[TR_COL_QPR_NOTE], "not interposable", 16);
}

/* One element of a process's exec chain. */
static cJSON *image_json(pq *q, const img *m)
{
    cJSON *o = cJSON_CreateObject();
    tr_json_add(o, "kind", j_str(m, TR_COL_QPR_KIND), &q->oom);
    tr_json_add(o, "argv", j_argv(m), &q->oom);
    tr_json_add(o, "exe", j_str(m, TR_COL_QPR_EXE), &q->oom);
    tr_json_add(o, "cwd", j_str(m, TR_COL_QPR_CWD), &q->oom);
    tr_json_add(o, "started_at", j_time(m, TR_COL_QPR_START), &q->oom);
    tr_json_add(o, "ended_at", j_time(m, TR_COL_QPR_ENDED), &q->oom);
    tr_json_add(o, "end", j_str(m, TR_COL_QPR_END_KIND), &q->oom);
    tr_json_add(o, "exit_code", j_int(m, TR_COL_QPR_CODE), &q->oom);
    tr_json_add(o, "signal", j_int(m, TR_COL_QPR_SIG), &q->oom);
    tr_json_add(o, "interposed", cJSON_CreateBool(!not_interposed(m)), &q->oom);
    if (m->s[TR_COL_QPR_NOTE]) tr_json_add(o, "note", j_str(m, TR_COL_QPR_NOTE), &q->oom);
    return o;
}

static cJSON *process_json(pq *q, const node *n)
{
    const img *last = &q->im[n->first + n->n - 1], *bt = last_with(q, n, TR_COL_QPR_BT);
    const img *cn = last_with(q, n, TR_COL_QPR_CNOTE), *ru = last_with(q, n, TR_COL_QPR_UTIME);
    const img *pp = last_with(q, n, TR_COL_QPR_PPID), *note = NULL;
    int interposed = 1;
    for (size_t i = n->first; i < n->first + n->n; i++) {
        if (not_interposed(&q->im[i])) interposed = 0;
        if (!note && q->im[i].s[TR_COL_QPR_NOTE]) note = &q->im[i];
    }
    cJSON *o = cJSON_CreateObject(), *chain = cJSON_CreateArray();
    tr_json_add(o, "pid", j_int(last, TR_COL_QPR_PID), &q->oom);
    tr_json_add(o, "ppid", j_int(pp, TR_COL_QPR_PPID), &q->oom);
    tr_json_add(o, "argv", j_argv(last_with(q, n, TR_COL_QPR_ARGV)), &q->oom);
    tr_json_add(o, "exe", j_str(last_with(q, n, TR_COL_QPR_EXE), TR_COL_QPR_EXE), &q->oom);
    tr_json_add(o, "cwd", j_str(last_with(q, n, TR_COL_QPR_CWD), TR_COL_QPR_CWD), &q->oom);
    tr_json_add(o, "started_at", j_time(&q->im[n->first], TR_COL_QPR_START), &q->oom);
    tr_json_add(o, "ended_at", j_time(last, TR_COL_QPR_ENDED), &q->oom);
    tr_json_add(o, "exit_code", j_int(last, TR_COL_QPR_CODE), &q->oom);
    tr_json_add(o, "signal", j_int(last, TR_COL_QPR_SIG), &q->oom);
    const char *status = bt || cn                                                   ? "crashed"
                         : has(last, TR_COL_QPR_SIG) && last->v[TR_COL_QPR_SIG] > 0 ? "signaled"
                         : has(last, TR_COL_QPR_CODE)                               ? "exited"
                                                                                    : "unknown";
    tr_json_add(o, "status", cJSON_CreateString(status), &q->oom);
    tr_json_add(o, "backtrace", j_str(bt, TR_COL_QPR_BT), &q->oom);
    if (cn) tr_json_add(o, "crash_note", j_str(cn, TR_COL_QPR_CNOTE), &q->oom);
    tr_json_add(o, "interposed", cJSON_CreateBool(interposed), &q->oom);
    if (note) tr_json_add(o, "note", j_str(note, TR_COL_QPR_NOTE), &q->oom);
    cJSON *res = cJSON_CreateObject();
    tr_json_add(res, "utime_s",
                ru ? cJSON_CreateNumber((double)ru->v[TR_COL_QPR_UTIME] / 1e6) : cJSON_CreateNull(),
                &q->oom);
    tr_json_add(res, "stime_s",
                ru && has(ru, TR_COL_QPR_STIME)
                    ? cJSON_CreateNumber((double)ru->v[TR_COL_QPR_STIME] / 1e6)
                    : cJSON_CreateNull(),
                &q->oom);
    tr_json_add(res, "maxrss_kb", j_int(ru, TR_COL_QPR_RSS), &q->oom);
    tr_json_add(o, "resources", res, &q->oom);
    for (size_t i = n->first; i < n->first + n->n; i++)
        tr_json_add(chain, NULL, image_json(q, &q->im[i]), &q->oom);
    tr_json_add(o, "exec", chain, &q->oom);
    return o;
}

static int by_start(const void *a, const void *b, void *arg)
{
    const pq *sort_q = arg;
    const node *x = &sort_q->nd[*(const size_t *)a], *y = &sort_q->nd[*(const size_t *)b];
    int xs = has(&sort_q->im[x->first], TR_COL_QPR_START),
        ys = has(&sort_q->im[y->first], TR_COL_QPR_START);
    if (xs != ys) return ys - xs; /* placeholders last */
    int64_t ta = first_start(sort_q, x), tb = first_start(sort_q, y);
    if (ta != tb) return ta < tb ? -1 : 1;
    int64_t pa = sort_q->im[x->first].v[TR_COL_QPR_PID],
            pb = sort_q->im[y->first].v[TR_COL_QPR_PID];
    return pa < pb ? -1 : pa > pb;
}

/* The crash of the run: its root process's, else the first process that crashed. */
static void crash_json(pq *q, cJSON *doc, const size_t *order)
{
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(doc, "pid");
    const node *pick = NULL;
    for (size_t k = 0; k < q->nnd; k++) {
        const node *n = &q->nd[order[k]];
        if (!last_with(q, n, TR_COL_QPR_BT) && !last_with(q, n, TR_COL_QPR_CNOTE)) continue;
        if (!pick) pick = n;
        if (cJSON_IsNumber(rp) && q->im[n->first].v[TR_COL_QPR_PID] == (int64_t)rp->valuedouble) {
            pick = n;
            break;
        }
    }
    if (!pick) {
        tr_json_add(doc, "crash", cJSON_CreateNull(), &q->oom);
        return;
    }
    const img *bt = last_with(q, pick, TR_COL_QPR_BT), *cn = last_with(q, pick, TR_COL_QPR_CNOTE);
    const img *sg = NULL;
    for (size_t i = pick->first + pick->n; i-- > pick->first && !sg;)
        if (has(&q->im[i], TR_COL_QPR_SIG) && q->im[i].v[TR_COL_QPR_SIG] > 0) sg = &q->im[i];
    cJSON *c = cJSON_CreateObject();
    tr_json_add(c, "pid", j_int(&q->im[pick->first], TR_COL_QPR_PID), &q->oom);
    tr_json_add(c, "signal", j_int(sg, TR_COL_QPR_SIG), &q->oom);
    tr_json_add(c, "backtrace", j_str(bt, TR_COL_QPR_BT), &q->oom);
    tr_json_add(c, "note", j_str(cn, TR_COL_QPR_CNOTE), &q->oom);
    tr_json_add(doc, "crash", c, &q->oom);
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
        if (n->parent >= 0)
            tr_json_add(q.nd[n->parent].children, NULL, j_int(&q.im[n->first], TR_COL_QPR_PID),
                        &q.oom);
    }
    for (size_t k = 0; k < q.nnd; k++) {
        node *n = &q.nd[order[k]];
        tr_json_add(n->obj, "children", n->children, &q.oom);
        tr_json_add(arr, NULL, n->obj, &q.oom);
        n->obj = n->children = NULL;
    }
    crash_json(&q, doc, order);
fail:
    for (size_t k = 0; k < q.nnd; k++) {
        cJSON_Delete(q.nd[k].obj);
        cJSON_Delete(q.nd[k].children);
    }
    for (size_t i = 0; i < q.nim; i++)
        for (int c = 0; c < TR_COL_QPR_NCOLS; c++)
            free(q.im[i].s[c]);
    free(q.im);
    free(q.nd);
    free(order);
    if (!rc && q.oom) rc = tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    return rc;
}
