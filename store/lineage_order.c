/* lineage_order.c - the order of file events: settled opens of killed processes, seq of events. */
#include "lineage.h"
#include "trail.h"

int tr_lineage_settle_check(tr_store *s, const char *run, int64_t pid, int64_t open_seq, int settle,
                            int64_t start_ns)
{
    tr_stmt q;
    int rc, found;
    if (settle) { /* the FILE of that open's close was stored: nothing to settle */
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_OPEN_CLOSED))) return rc;
        tr_bind_cstr(&q, 1, run);
        tr_bind_int(&q, 2, pid);
        tr_bind_int(&q, 3, start_ns);
        if ((rc = tr_stmt_row_int(&q, &found, NULL)) || found) return rc ? rc : 1;
    }
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_OPEN_EVENTS))) return rc;
    tr_bind_cstr(&q, 1, run);
    tr_bind_int(&q, 2, pid);
    tr_bind_int(&q, 3, open_seq);
    /* collect first: deleting runs other statements */
    int64_t killed[8], kver[8];
    int nk = 0;
    while ((rc = tr_stmt_row(&q)) == 1)
        if (nk < 8) {
            kver[nk] = tr_db_column_int64(q.st, TR_COL_LNOE_VERSION);
            killed[nk++] = tr_db_column_int64(q.st, TR_COL_LNOE_ID);
        }
    if (rc == 1) tr_stmt_reset(&q);
    if (rc < 0) return rc;
    /* a settle is only for an open nothing else settled: once is enough */
    if (settle) return nk ? 1 : 0;
    /* the FILE of the close is the truth: the agent settled this open too early */
    for (int i = 0; i < nk; i++) {
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_EVENT_DELETE))) return rc;
        tr_bind_int(&q, 1, killed[i]);
        if ((rc = tr_stmt_done(&q))) return rc;
        if ((rc = tr_stmt_begin(&q, s, TR_STMT_LN_VERSION_DROP))) return rc;
        tr_bind_int(&q, 1, kver[i]);
        if ((rc = tr_stmt_done(&q))) return rc;
        tr_ingest_versions_forget(s); /* ingest's cache may name the version dropped */
    }
    return 0;
}

int tr_lineage_event_order(tr_store *s, int64_t event, int64_t seq, int64_t open_seq,
                           const char *ended)
{
    if (!seq && !open_seq && !ended) return 0;
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_LN_EVENT_ORDER);
    if (rc) return rc;
    tr_bind_int(&q, 1, event);
    if (seq)
        tr_bind_int(&q, 2, seq);
    else
        tr_bind_null(&q, 2);
    if (open_seq)
        tr_bind_int(&q, 3, open_seq);
    else
        tr_bind_null(&q, 3);
    tr_bind_cstr(&q, 4, ended);
    return tr_stmt_done(&q);
}

int tr_lineage_op_order(tr_store *s, int64_t rowid, int64_t seq, int64_t version)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_LN_FILEOP_ACTED);
    if (rc) return rc;
    tr_bind_int(&q, 1, rowid);
    if (seq)
        tr_bind_int(&q, 2, seq);
    else
        tr_bind_null(&q, 2);
    if (version)
        tr_bind_int(&q, 3, version);
    else
        tr_bind_null(&q, 3);
    return tr_stmt_done(&q);
}

int tr_lineage_op_acted(tr_store *s, int64_t rowid, int64_t version)
{
    return tr_lineage_op_order(s, rowid, 0, version);
}
