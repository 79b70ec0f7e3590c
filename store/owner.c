/* owner.c - which streams may join a run: the owner uid and agent host of its first stream. */
#include <stdio.h>
#include <string.h>

#include "store_int.h"
#include "trail.h"

/* Binds the run id and the stream's claims (NULL where it makes none). */
static void bind_claims(tr_stmt *q, const tr_stream *st, const char *run, size_t runlen)
{
    tr_bind_text(q, 1, run, runlen);
    if (st->has_uid)
        tr_bind_int(q, 2, st->uid);
    else
        tr_bind_null(q, 2);
    tr_bind_cstr(q, 3, st->agent_host);
}

int tr_store_stream_admit(tr_store *s, const tr_stream *st, const char *run, size_t runlen)
{
    if (!st->has_uid && !st->agent_host[0]) return 0; /* claims nothing: nothing to check */
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_RUN_ENSURE);
    if (rc) return rc;
    tr_bind_text(&q, 1, run, runlen);
    if ((rc = tr_stmt_done(&q)) || (rc = tr_stmt_begin(&q, s, TR_STMT_RUN_OWNER_SET))) return rc;
    bind_claims(&q, st, run, runlen);
    if ((rc = tr_stmt_done(&q)) || (rc = tr_stmt_begin(&q, s, TR_STMT_RUN_OWNER))) return rc;
    tr_bind_text(&q, 1, run, runlen);
    if ((rc = tr_stmt_row(&q)) != 1) return rc < 0 ? rc : 0;
    int refused = 0;
    if (st->has_uid && tr_db_column_type(q.st, TR_OWNER_C_UID) != TR_DB_NULL &&
        tr_db_column_int64(q.st, TR_OWNER_C_UID) != st->uid) {
        tr_store_fail(s, 0, "run %.*s belongs to uid %lld: stream %s of uid %lld refused",
                      (int)runlen, run, (long long)tr_db_column_int64(q.st, TR_OWNER_C_UID), st->id,
                      (long long)st->uid);
        refused = 1;
    }
    const unsigned char *host = tr_db_column_text(q.st, TR_OWNER_C_AGENT_HOST);
    if (!refused && st->agent_host[0] && host && strcmp((const char *)host, st->agent_host)) {
        tr_store_fail(s, 0, "run %.*s was started on host %s: stream %s from host %s refused",
                      (int)runlen, run, (const char *)host, st->id, st->agent_host);
        refused = 1;
    }
    tr_stmt_reset(&q);
    return refused;
}

int tr_store_stream_agent(tr_store *s, const tr_stream *st)
{
    if (!st->has_uid && !st->agent_host[0] && !st->agent_token[0]) return 0;
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_STREAM_AGENT);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, st->id);
    if (st->has_uid)
        tr_bind_int(&q, 2, st->uid);
    else
        tr_bind_null(&q, 2);
    tr_bind_cstr(&q, 3, st->agent_host);
    tr_bind_cstr(&q, 4, st->agent_token);
    return tr_stmt_done(&q);
}
