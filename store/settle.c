/* settle.c - ends runs whose launcher died: the root's recorded end, else `lost`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settle.h"
#include "store_int.h"
#include "trail.h"

const char *tr_store_end_status(int64_t exit_code, int64_t sig)
{
    switch (sig) {
    case 0:
        return exit_code == 0 ? "finished" : "failed";
    case SIGSEGV:
    case SIGBUS:
    case SIGABRT:
    case SIGILL:
    case SIGFPE:
    case SIGSYS:
    case SIGTRAP:
        return "crashed";
    default:
        return "killed";
    }
}

typedef struct cand {
    tr_settle_run r;
    int lost; /* settled `lost` already: only a root end that has arrived changes it */
} cand;

static int64_t col_or(tr_dbst *st, int i, int64_t dflt)
{
    return tr_db_column_type(st, i) == TR_DB_NULL ? dflt : tr_db_column_int64(st, i);
}

/* The candidates of host, read before anything is written. */
static int candidates(tr_store *s, const char *host, cand **out, int *n)
{
    tr_stmt q;
    int cap = 0, rc = tr_stmt_begin(&q, s, TR_STMT_SETTLE_CANDIDATES);
    *out = NULL;
    *n = 0;
    if (rc) return rc;
    tr_bind_cstr(&q, 1, host);
    while ((rc = tr_stmt_row(&q)) == 1) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            cand *m = realloc(*out, (size_t)cap * sizeof *m);
            if (!m) {
                tr_stmt_reset(&q);
                return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
            }
            *out = m;
        }
        cand *c = &(*out)[(*n)++];
        memset(c, 0, sizeof *c);
        const unsigned char *id = tr_db_column_text(q.st, TR_SETTLE_C_ID);
        const unsigned char *st = tr_db_column_text(q.st, TR_SETTLE_C_STATUS);
        const unsigned char *boot = tr_db_column_text(q.st, TR_SETTLE_C_BOOT);
        snprintf(c->r.id, sizeof c->r.id, "%s", id ? (const char *)id : "");
        snprintf(c->r.boot_id, sizeof c->r.boot_id, "%s", boot ? (const char *)boot : "");
        c->lost = st && !strcmp((const char *)st, "lost");
        c->r.pid = col_or(q.st, TR_SETTLE_C_PID, -1);
        c->r.launcher_pid = col_or(q.st, TR_SETTLE_C_LPID, -1);
        c->r.launcher_start = col_or(q.st, TR_SETTLE_C_LSTART, -1);
        c->r.root_start = col_or(q.st, TR_SETTLE_C_RSTART, -1);
    }
    return rc < 0 ? rc : 0;
}

/* Settles one run; 1 when its row changed. The run's last record is its lost time, but not
 * one of stream not_stream (a RUN_SETTLE's, whose time is the agent's). */
static int settle_one(tr_store *s, const cand *c, const char *not_stream)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_SETTLE_ROOT_END);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, c->r.id);
    tr_bind_int(&q, 2, c->r.pid);
    const char *status = "lost";
    int have_end = 0;
    int64_t code = 0, sig = 0, ended = 0;
    if ((rc = tr_stmt_row(&q)) < 0) return rc;
    if (rc == 1) {
        have_end = 1;
        code = col_or(q.st, TR_ROOT_END_C_EXIT, 0);
        sig = col_or(q.st, TR_ROOT_END_C_SIGNAL, 0);
        ended = col_or(q.st, TR_ROOT_END_C_ENDED, 0);
        status = tr_store_end_status(code, sig);
        tr_stmt_reset(&q);
    }
    if (!have_end) { /* lost (again: its last record may be later now) */
        int found;
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_SETTLE_LAST_NS)) != 0) return rc;
        tr_bind_cstr(&q, 1, c->r.id);
        if (not_stream)
            tr_bind_cstr(&q, 2, not_stream);
        else
            tr_bind_null(&q, 2);
        if ((rc = tr_stmt_row_int(&q, &found, &ended)) != 0) return rc;
    }
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_SETTLE_UPDATE)) != 0) return rc;
    tr_bind_cstr(&q, 1, c->r.id);
    tr_bind_cstr(&q, 2, status);
    if (have_end && !sig)
        tr_bind_int(&q, 3, code);
    else
        tr_bind_null(&q, 3);
    if (have_end && sig)
        tr_bind_int(&q, 4, sig);
    else
        tr_bind_null(&q, 4);
    if (ended > 0)
        tr_bind_int(&q, 5, ended);
    else
        tr_bind_null(&q, 5);
    if ((rc = tr_stmt_done(&q)) != 0) return rc;
    return tr_db_changes(s->db) > 0;
}

int tr_store_settle(tr_store *s, const char *host, tr_settle_alive_fn alive, void *ctx)
{
    if (!s || !host || !*host || !alive) return TRAIL_EINVAL;
    int rc = tr_store_begin(s);
    if (rc) return rc;
    cand *c = NULL;
    int n = 0, settled = 0;
    rc = candidates(s, host, &c, &n);
    for (int i = 0; rc == 0 && i < n; i++) {
        if (!c[i].lost && alive(ctx, &c[i].r) != 0) continue; /* alive, or cannot tell */
        int one = settle_one(s, &c[i], NULL);
        if (one < 0)
            rc = one;
        else
            settled += one;
    }
    free(c);
    if (rc == 0 && settled == 0) {
        tr_store_rollback(s); /* nothing written: no commit to wait for */
        return 0;
    }
    if (rc == 0) rc = tr_store_commit(s);
    if (rc) {
        tr_store_rollback(s);
        return rc;
    }
    return settled;
}

int tr_store_settle_run(tr_store *s, const char *run, size_t runlen, const char *stream_id)
{
    cand c;
    tr_stmt q;
    memset(&c, 0, sizeof c);
    if (!s || !run || !runlen || runlen >= sizeof c.r.id) return TRAIL_EINVAL;
    memcpy(c.r.id, run, runlen);
    int rc = tr_stmt_begin(&q, s, TR_STMT_SETTLE_RUN_ROW);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, c.r.id);
    if ((rc = tr_stmt_row(&q)) <= 0) return rc; /* no such run, or settled already */
    c.r.pid = col_or(q.st, TR_SETTLE_ROW_C_PID, -1);
    tr_stmt_reset(&q);
    return settle_one(s, &c, stream_id);
}
