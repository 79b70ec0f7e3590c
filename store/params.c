/* params.c - params are immutable: ingest keeps a key's first value; a later different value
 * (records of different processes race, so the store is the final authority) is not applied
 * and is counted as a conflict on the run. */
#include <stdio.h>
#include <string.h>

#include "params.h"
#include "store_int.h"
#include "trail.h"

#define SQL_PARAM_GET "SELECT value FROM params WHERE run_id = ?1 AND key = ?2"
/* The count of refused values, and the last refused value of each key, as tags. */
#define SQL_CONFLICT_COUNT                                                                         \
    "INSERT INTO tags (run_id, key, value) VALUES (?1, 'trail.param_conflicts', '1')"              \
    " ON CONFLICT (run_id, key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
#define SQL_CONFLICT_VALUE                                                                         \
    "INSERT INTO tags (run_id, key, value) VALUES (?1, 'trail.param_conflict.' || ?2, ?3)"         \
    " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"

/* Prepares sql with the run (and key, value) bound; steps it once. 1 on a row (kept in *out,
 * finalized by the caller), 0 done, or TRAIL_ESTORE. */
static int once(tr_store *s, const char *sql, const char *const *txt, const size_t *len, int n,
                tr_dbst **out)
{
    tr_dbst *st = NULL;
    if (tr_db_prepare(s->db, sql, -1, &st, NULL) != TR_DB_OK)
        return tr_store_fail(s, TRAIL_ESTORE, "params: %s", tr_db_errmsg(s->db));
    int rc = TR_DB_OK;
    for (int i = 0; i < n && rc == TR_DB_OK; i++)
        rc = txt[i] ? tr_db_bind_text(st, i + 1, txt[i], (int)len[i], TR_DB_STATIC)
                    : tr_db_bind_text(st, i + 1, "", 0, TR_DB_STATIC);
    if (rc == TR_DB_OK) rc = tr_db_step(st);
    if (rc == TR_DB_ROW && out) {
        *out = st;
        return 1;
    }
    tr_db_finalize(st);
    if (rc == TR_DB_DONE || rc == TR_DB_ROW) return 0;
    return tr_store_fail(s, TRAIL_ESTORE, "params: %s", tr_db_errmsg(s->db));
}

int tr_store_param_check(tr_store *s, const char *run, size_t runlen, const char *key,
                         size_t keylen, const char *value, size_t valuelen)
{
    if (!s || !run || !key) return TRAIL_EINVAL;
    if (!value) valuelen = 0;
    const char *txt[] = {run, key, value};
    size_t len[] = {runlen, keylen, valuelen};
    tr_dbst *st = NULL;
    int rc = once(s, SQL_PARAM_GET, txt, len, 2, &st);
    if (rc <= 0) return rc; /* no value yet: store this one */
    const char *have = (const char *)tr_db_column_text(st, 0);
    size_t hl = have ? (size_t)tr_db_column_bytes(st, 0) : 0;
    int same = hl == valuelen && (hl == 0 || !memcmp(have, value, hl));
    tr_db_finalize(st);
    if (same) return 1;
    if ((rc = once(s, SQL_CONFLICT_COUNT, txt, len, 1, NULL)) ||
        (rc = once(s, SQL_CONFLICT_VALUE, txt, len, 3, NULL)))
        return rc;
    return 1;
}
