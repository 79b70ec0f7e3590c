/* outbox.c - the OpenLineage outbox: targets, the next run to send to one, and its removal once
 * sent (traild --openlineage-url; the events are tr_store_openlineage_json's). */
#include <stdio.h>
#include <string.h>

#include "outbox.h"
#include "store_int.h"
#include "trail.h"

int tr_store_ol_target(tr_store *s, const char *url, int64_t now_ns)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_OL_TARGET);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, url);
    tr_bind_int(&q, 2, now_ns);
    return tr_stmt_done(&q);
}

/* Runs statement id with ?1 text a (may be NULL) and ?2 integer b (b < 0: unbound); rows changed
 * in *n (may be NULL). */
static int run_changes(tr_store *s, int id, const char *a, int64_t b, int64_t *n)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, id);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, a);
    if (b >= 0) tr_bind_int(&q, 2, b);
    if ((rc = tr_stmt_done(&q))) return rc;
    if (n) *n = tr_db_changes(s->db);
    return 0;
}

int tr_store_ol_prune(tr_store *s, const char *keep_url, int64_t *targets, int64_t *rows)
{
    *targets = *rows = 0;
    int rc = tr_store_begin(s);
    if (!rc) rc = run_changes(s, TR_STMT_OL_DROP_ROWS, keep_url, -1, rows);
    if (!rc) rc = run_changes(s, TR_STMT_OL_DROP_TARGETS, keep_url, -1, targets);
    if (rc) {
        tr_store_rollback(s);
        return rc;
    }
    return tr_store_commit(s);
}

int tr_store_ol_cap(tr_store *s, int64_t before_ns, int64_t max_rows, int64_t *old, int64_t *over)
{
    tr_stmt q;
    *old = *over = 0;
    int rc = tr_stmt_begin(&q, s, TR_STMT_OL_DROP_OLD);
    if (rc) return rc;
    tr_bind_int(&q, 1, before_ns);
    if ((rc = tr_stmt_done(&q))) return rc;
    *old = tr_db_changes(s->db);
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_OL_DROP_OVER))) return rc;
    tr_bind_int(&q, 1, max_rows);
    if ((rc = tr_stmt_done(&q))) return rc;
    *over = tr_db_changes(s->db);
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_OL_TRIM_SENT))) return rc;
    tr_bind_int(&q, 1, before_ns);
    tr_bind_int(&q, 2, max_rows);
    return tr_stmt_done(&q);
}

int tr_store_ol_next(tr_store *s, const char *url, int64_t *seq, char run_id[33], char status[32],
                     int64_t *tries)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_OL_NEXT);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, url);
    if ((rc = tr_stmt_row(&q)) != 1) return rc < 0 ? rc : TRAIL_ENOTFOUND;
    *seq = tr_db_column_int64(q.st, TR_COL_OL_SEQ);
    const unsigned char *id = tr_db_column_text(q.st, TR_COL_OL_RUN);
    const unsigned char *st = tr_db_column_text(q.st, TR_COL_OL_STATUS);
    snprintf(run_id, 33, "%s", id ? (const char *)id : "");
    snprintf(status, 32, "%s", st ? (const char *)st : "");
    *tries = tr_db_column_int64(q.st, TR_COL_OL_TRIES);
    tr_stmt_reset(&q);
    return 0;
}

int tr_store_ol_pending(tr_store *s, const char *url, int64_t *n)
{
    tr_stmt q;
    int found = 0, rc = tr_stmt_begin(&q, s, TR_STMT_OL_PENDING);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, url);
    *n = 0;
    return tr_stmt_row_int(&q, &found, n);
}

int tr_store_ol_done(tr_store *s, int64_t seq, const char *status)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_OL_DONE);
    if (rc) return rc;
    tr_bind_int(&q, 1, seq);
    tr_bind_cstr(&q, 2, status);
    return tr_stmt_done(&q);
}

int tr_store_ol_failed(tr_store *s, int64_t seq, const char *why, int park)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_OL_FAILED);
    if (rc) return rc;
    tr_bind_int(&q, 1, seq);
    tr_bind_cstr(&q, 2, why);
    tr_bind_int(&q, 3, park);
    return tr_stmt_done(&q);
}
