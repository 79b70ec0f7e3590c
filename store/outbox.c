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

int tr_store_ol_next(tr_store *s, const char *url, int64_t *seq, char run_id[33])
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_OL_NEXT);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, url);
    if ((rc = tr_stmt_row(&q)) != 1) return rc < 0 ? rc : TRAIL_ENOTFOUND;
    *seq = sqlite3_column_int64(q.st, TR_COL_OL_SEQ);
    const unsigned char *id = sqlite3_column_text(q.st, TR_COL_OL_RUN);
    snprintf(run_id, 33, "%s", id ? (const char *)id : "");
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

int tr_store_ol_done(tr_store *s, int64_t seq)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_OL_DONE);
    if (rc) return rc;
    tr_bind_int(&q, 1, seq);
    return tr_stmt_done(&q);
}
