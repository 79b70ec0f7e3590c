/* procs.c - process images in the store: one row per image (fork, then each execve), ends,
 * reaped statuses and crashes settled onto the image they belong to, in any arrival order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procs.h"
#include "trail.h"

/* An optional integer column or field. */
typedef struct opt {
    int64_t v;
    int set;
} opt;

/* One row of proc_events, as settling needs it. */
typedef struct pev {
    int64_t id, t;
    char type; /* 'e' end, 'r' reaped, 'c' crash */
    char kind[16];
    opt code, sig, ut, st, rss;
    int has_bt;
    char note[160];
} pev;

static void b_opt(tr_stmt *b, int i, opt o)
{
    if (o.set)
        tr_bind_int(b, i, o.v);
    else
        tr_bind_null(b, i);
}

static opt field_int(const tr_rec *r, uint16_t id)
{
    opt o = {0, 0};
    o.set = tr_rec_get_i64(r, id, &o.v) == 0;
    return o;
}

static int field_is(const tr_rec *r, uint16_t id, const char *want)
{
    const char *p;
    size_t n;
    return tr_rec_get_str(r, id, &p, &n) == 0 && n == strlen(want) && !memcmp(p, want, n);
}

static int begin(tr_store *s, enum tr_stmt_id id, const char *run, tr_stmt *b)
{
    int rc = tr_stmt_begin(b, s, id);
    if (!rc && run) tr_bind_cstr(b, 1, run);
    return rc;
}

int tr_procs_image(tr_store *s, const char *run, int64_t pid, const tr_rec *rec, const char *argv)
{
    tr_stmt b;
    opt start = field_int(rec, TR_F_START_NS);
    int rc = begin(s, TR_STMT_PR_IMAGE, run, &b);
    if (rc) return rc;
    tr_bind_int(&b, 2, pid);
    tr_bind_int(&b, 3, start.set ? start.v : rec->time_ns);
    tr_bind_field_str(&b, 4, rec, TR_F_KIND);
    b_opt(&b, 5, field_int(rec, TR_F_PPID));
    tr_bind_cstr(&b, 6, argv);
    tr_bind_field_str(&b, 7, rec, TR_F_CWD);
    tr_bind_field_str(&b, 8, rec, TR_F_EXE);
    b_opt(&b, 9, field_int(rec, TR_F_UID));
    tr_bind_field_str(&b, 10, rec, TR_F_HOST);
    tr_bind_field_str(&b, 11, rec, TR_F_NOTE);
    tr_bind_field_str(&b, 12, rec, TR_F_SOURCE);
    if ((rc = tr_stmt_done(&b))) return rc;
    return tr_procs_settle(s, run, pid);
}

int tr_procs_event(tr_store *s, const char *run, int64_t pid, const tr_rec *rec)
{
    tr_stmt b;
    int crash = rec->type == TR_REC_CRASH;
    const char *type = crash ? "crash" : field_is(rec, TR_F_KIND, "reaped") ? "reaped" : "end";
    int rc = begin(s, TR_STMT_PR_EVENT, run, &b);
    if (rc) return rc;
    tr_bind_int(&b, 2, pid);
    tr_bind_int(&b, 3, rec->time_ns);
    tr_bind_cstr(&b, 4, type);
    tr_bind_field_str(&b, 5, rec, TR_F_KIND);
    b_opt(&b, 6, field_int(rec, TR_F_EXIT_CODE));
    b_opt(&b, 7, field_int(rec, TR_F_SIGNAL));
    b_opt(&b, 8, field_int(rec, TR_F_UTIME_US));
    b_opt(&b, 9, field_int(rec, TR_F_STIME_US));
    b_opt(&b, 10, field_int(rec, TR_F_MAXRSS_KB));
    tr_bind_field_str(&b, 11, rec, TR_F_BACKTRACE);
    tr_bind_field_str(&b, 12, rec, TR_F_NOTE);
    if ((rc = tr_stmt_done(&b))) return rc;
    return tr_procs_settle(s, run, pid);
}

static opt col_opt(tr_dbst *st, int i)
{
    opt o = {0, tr_db_column_type(st, i) != TR_DB_NULL};
    if (o.set) o.v = tr_db_column_int64(st, i);
    return o;
}

static void col_copy(tr_dbst *st, int i, char *out, size_t n)
{
    const char *t = (const char *)tr_db_column_text(st, i);
    snprintf(out, n, "%s", t ? t : "");
}

/* The rows of (run, pid) of one statement: images (id, start) or events. */
typedef struct pset {
    int64_t *img, *start; /* real images in start order */
    size_t nimg;
    int64_t holder; /* placeholder image id, 0 when none */
    pev *ev;
    size_t nev;
} pset;

static int load(tr_store *s, const char *run, int64_t pid, pset *p)
{
    tr_stmt b;
    int rc = begin(s, TR_STMT_PR_IMAGES_OF, run, &b);
    size_t cap = 0;
    if (rc) return rc;
    tr_bind_int(&b, 2, pid);
    while ((rc = tr_stmt_row(&b)) == 1) {
        if (tr_db_column_type(b.st, TR_COL_PRI_START_NS) == TR_DB_NULL) {
            if (!p->holder) p->holder = tr_db_column_int64(b.st, TR_COL_PRI_ID);
            continue;
        }
        if (p->nimg == cap) {
            cap = cap ? cap * 2 : 8;
            int64_t *a = realloc(p->img, cap * sizeof *a),
                    *c = a ? realloc(p->start, cap * sizeof *c) : NULL;
            if (a) p->img = a;
            if (c) p->start = c;
            if (!a || !c) {
                tr_stmt_reset(&b);
                return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
            }
        }
        p->img[p->nimg] = tr_db_column_int64(b.st, TR_COL_PRI_ID);
        p->start[p->nimg++] = tr_db_column_int64(b.st, TR_COL_PRI_START_NS);
    }
    if (rc) return rc;

    if ((rc = begin(s, TR_STMT_PR_EVENTS_OF, run, &b))) return rc;
    tr_bind_int(&b, 2, pid);
    cap = 0;
    while ((rc = tr_stmt_row(&b)) == 1) {
        if (p->nev == cap) {
            cap = cap ? cap * 2 : 8;
            pev *g = realloc(p->ev, cap * sizeof *g);
            if (!g) {
                tr_stmt_reset(&b);
                return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
            }
            p->ev = g;
        }
        pev *e = &p->ev[p->nev++];
        tr_dbst *st = b.st;
        const char *type = (const char *)tr_db_column_text(st, TR_COL_PRE_TYPE);
        e->id = tr_db_column_int64(st, TR_COL_PRE_ID);
        e->t = tr_db_column_int64(st, TR_COL_PRE_TIME_NS);
        e->type = type ? type[0] : 'e';
        col_copy(st, TR_COL_PRE_KIND, e->kind, sizeof e->kind);
        e->code = col_opt(st, TR_COL_PRE_EXIT_CODE);
        e->sig = col_opt(st, TR_COL_PRE_SIGNAL);
        e->ut = col_opt(st, TR_COL_PRE_UTIME_US);
        e->st = col_opt(st, TR_COL_PRE_STIME_US);
        e->rss = col_opt(st, TR_COL_PRE_MAXRSS_KB);
        e->has_bt = tr_db_column_int(st, TR_COL_PRE_HAS_BACKTRACE);
        col_copy(st, TR_COL_PRE_NOTE, e->note, sizeof e->note);
    }
    return rc;
}

/* Index of the image an event at time t belongs to: the last one started at or before t;
 * -1 when it precedes every image (the placeholder's). */
static long owner(const pset *p, int64_t t)
{
    long k = -1;
    for (size_t i = 0; i < p->nimg && p->start[i] <= t; i++)
        k = (long)i;
    return k;
}

/* Writes what the events owned by image `which` say onto row id. */
static int settle_one(tr_store *s, const pset *p, long which, int64_t id)
{
    const pev *own = NULL, *reaped = NULL, *crash = NULL;
    for (size_t i = 0; i < p->nev; i++) {
        const pev *e = &p->ev[i];
        if (owner(p, e->t) != which) continue;
        if (e->type == 'e' && !own)
            own = e;
        else if (e->type == 'r')
            reaped = e;
        else if (e->type == 'c' && (!crash || e->has_bt || !crash->has_bt))
            crash = e;
    }
    opt none = {0, 0}, ended = none, code = none, sig = none;
    const char *kind = NULL;
    if (own) {
        ended = (opt){own->t, 1};
        kind = own->kind[0] ? own->kind : own->sig.set && own->sig.v ? "signal" : "exit";
        if (strcmp(kind, "exec") != 0) {
            code = own->code;
            sig = own->sig;
        }
    } else if (reaped || crash) {
        ended = (opt){reaped ? reaped->t : crash->t, 1};
        kind = reaped ? "reaped" : "signal";
    }
    if (reaped) { /* the kernel's word, as the parent saw it, over the image's own */
        code = reaped->code;
        sig = reaped->sig;
    }
    if (crash && (!sig.set || !sig.v)) sig = crash->sig;
    tr_stmt b;
    int rc = begin(s, TR_STMT_PR_SETTLE, NULL, &b);
    if (rc) return rc;
    tr_bind_int(&b, 1, id);
    b_opt(&b, 2, ended);
    tr_bind_cstr(&b, 3, kind);
    b_opt(&b, 4, code);
    b_opt(&b, 5, sig);
    b_opt(&b, 6, own ? own->ut : none);
    b_opt(&b, 7, own ? own->st : none);
    b_opt(&b, 8, own ? own->rss : none);
    b_opt(&b, 9, crash && crash->has_bt ? (opt){crash->id, 1} : none);
    tr_bind_cstr(&b, 10, crash ? crash->note : NULL);
    return tr_stmt_done(&b);
}

int tr_procs_settle(tr_store *s, const char *run, int64_t pid)
{
    pset p;
    memset(&p, 0, sizeof p);
    int rc = load(s, run, pid, &p), orphans = 0;
    tr_stmt b;
    if (rc) goto fail;
    for (size_t i = 0; i < p.nev; i++)
        if (owner(&p, p.ev[i].t) < 0) orphans = 1;
    if (orphans && !p.holder) { /* events of a PID whose start is not (yet) known */
        if ((rc = begin(s, TR_STMT_PR_PLACEHOLDER, run, &b))) goto fail;
        tr_bind_int(&b, 2, pid);
        if ((rc = tr_stmt_done(&b))) goto fail;
        p.holder = tr_db_last_insert_rowid(s->db);
    } else if (!orphans && p.holder) { /* its events found their image */
        if ((rc = begin(s, TR_STMT_PR_DROP, NULL, &b))) goto fail;
        tr_bind_int(&b, 1, p.holder);
        if ((rc = tr_stmt_done(&b))) goto fail;
        p.holder = 0;
    }
    if (p.holder && (rc = settle_one(s, &p, -1, p.holder))) goto fail;
    for (size_t i = 0; i < p.nimg; i++)
        if ((rc = settle_one(s, &p, (long)i, p.img[i]))) goto fail;
fail:
    free(p.img);
    free(p.start);
    free(p.ev);
    return rc;
}
