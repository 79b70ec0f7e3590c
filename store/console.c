/* console.c - the store's side of the console: chunk ingest and reads, metric source rule. */
#include "console.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "trail.h"

static int is_stream(const char *p, size_t n)
{
    return (n == 6 && (!memcmp(p, "stdout", 6) || !memcmp(p, "stderr", 6)));
}

int tr_store_ingest_console(tr_store *s, const char *run, size_t runlen, const tr_rec *rec)
{
    const char *stream, *data;
    size_t sn, dn;
    int64_t off, cut = 0;
    if (tr_rec_get_str(rec, TR_F_STREAM, &stream, &sn) || !is_stream(stream, sn) ||
        tr_rec_get_str(rec, TR_F_DATA, &data, &dn) || tr_rec_get_i64(rec, TR_F_OFFSET, &off) ||
        off < 0)
        return 1;
    if (tr_rec_get_i64(rec, TR_F_CUT, &cut) || cut < 0) cut = 0;
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_CON_ADD);
    if (rc) return rc;
    tr_bind_text(&q, 1, run, runlen);
    tr_bind_text(&q, 2, stream, sn);
    tr_bind_int(&q, 3, off);
    tr_bind_int(&q, 4, cut);
    tr_bind_note(&q, tr_db_bind_blob(q.st, 5, dn ? data : "", (int)dn, TR_DB_STATIC));
    tr_bind_int(&q, 6, rec->time_ns);
    return tr_stmt_done(&q);
}

/* Binds (run, key) to ?1, ?2 of statement id. */
static int run_key(tr_stmt *q, tr_store *s, enum tr_stmt_id id, const char *run, size_t runlen,
                   const char *key, size_t keylen)
{
    int rc = tr_stmt_begin(q, s, id);
    if (rc) return rc;
    tr_bind_text(q, 1, run, runlen);
    tr_bind_text(q, 2, key, keylen);
    return 0;
}

/* The SDK keys a transaction marked already (a point of each is checked once per batch, not
 * once per point: the check is a statement, and on PostgreSQL a round trip). Forgotten when
 * the transaction ends: a rolled-back mark is marked again. */
#define SDK_KEYS 64
struct tr_sdk_keys {
    char *k[SDK_KEYS];
};

int tr_store_sdk_key_seen(tr_store *s, const char *run, size_t runlen, const char *key,
                          size_t keylen)
{
    if (!s->in_tx) return 0;
    if (!s->sdk_keys && !(s->sdk_keys = calloc(1, sizeof *s->sdk_keys))) return 0;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < runlen; i++)
        h = (h ^ (unsigned char)run[i]) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (size_t i = 0; i < keylen; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    char **slot = &s->sdk_keys->k[h % SDK_KEYS];
    if (*slot && strlen(*slot) == runlen + 1 + keylen && !memcmp(*slot, run, runlen) &&
        !memcmp(*slot + runlen + 1, key, keylen))
        return 1;
    char *v = malloc(runlen + keylen + 2);
    if (!v) return 0;
    memcpy(v, run, runlen);
    v[runlen] = '\n';
    memcpy(v + runlen + 1, key, keylen);
    v[runlen + 1 + keylen] = 0;
    free(*slot);
    *slot = v; /* the next call for it is a hit; this one marks it */
    return 0;
}

void tr_store_sdk_keys_forget(tr_store *s)
{
    if (!s->sdk_keys) return;
    for (int i = 0; i < SDK_KEYS; i++) {
        free(s->sdk_keys->k[i]);
        s->sdk_keys->k[i] = NULL;
    }
}

void tr_store_sdk_keys_free(tr_store *s)
{
    tr_store_sdk_keys_forget(s);
    free(s->sdk_keys);
    s->sdk_keys = NULL;
}

int tr_store_metric_source(tr_store *s, const char *run, size_t runlen, const char *key,
                           size_t keylen, const char *source, size_t sourcelen, int *drop)
{
    tr_stmt q;
    int rc, found;
    *drop = 0;
    if (source && sourcelen == 7 && !memcmp(source, "console", 7)) {
        if ((rc = run_key(&q, s, TR_STMT_CON_SDK_KEY_GET, run, runlen, key, keylen)) ||
            (rc = tr_stmt_row_int(&q, &found, NULL)))
            return rc;
        *drop = found;
        return 0;
    }
    if (tr_store_sdk_key_seen(s, run, runlen, key, keylen)) return 0; /* this transaction */
    if ((rc = run_key(&q, s, TR_STMT_CON_SDK_KEY, run, runlen, key, keylen)) ||
        (rc = tr_stmt_done(&q)))
        return rc;
    if (tr_db_changes(s->db) == 0) return 0; /* known already: its console points are gone */
    if ((rc = run_key(&q, s, TR_STMT_CON_DROP_CONSOLE, run, runlen, key, keylen))) return rc;
    return tr_stmt_done(&q);
}

int tr_store_console_read(tr_store *s, const char *run_id, const char *stream, int64_t *after,
                          tr_console_fn fn, void *arg)
{
    if (!s || !run_id || !after || !fn) return TRAIL_EINVAL;
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_Q_CONSOLE), stop = 0;
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run_id);
    tr_bind_cstr(&q, 2, stream);
    tr_bind_int(&q, 3, *after);
    while (!stop && (rc = tr_stmt_row(&q)) == 1) {
        tr_dbst *st = q.st;
        *after = tr_db_column_int64(st, TR_COL_CON_ROWID);
        const void *data = tr_db_column_blob(st, TR_COL_CON_DATA);
        size_t n = (size_t)tr_db_column_bytes(st, TR_COL_CON_DATA);
        stop = fn(arg, (const char *)tr_db_column_text(st, TR_COL_CON_STREAM),
                  tr_db_column_int64(st, TR_COL_CON_OFFSET), tr_db_column_int64(st, TR_COL_CON_CUT),
                  data ? data : "", n);
    }
    if (stop) {
        tr_stmt_reset(&q);
        return stop;
    }
    return rc;
}

int tr_store_console_tail(tr_store *s, const char *run_id, const char *stream, size_t max,
                          char **out, size_t *n, int *cut)
{
    if (!s || !run_id || !stream || !out || !n || !cut) return TRAIL_EINVAL;
    *out = NULL;
    *n = 0;
    *cut = 0;
    /* chunks newest first, each put in front of those taken, until max bytes are held */
    char *buf = malloc(max + 1);
    if (!buf) return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    size_t have = 0;
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_Q_CONSOLE_LAST);
    if (rc) {
        free(buf);
        return rc;
    }
    tr_bind_cstr(&q, 1, run_id);
    tr_bind_cstr(&q, 2, stream);
    tr_bind_int(&q, 3, 4096);
    while (have < max && (rc = tr_stmt_row(&q)) == 1) {
        const char *d = tr_db_column_blob(q.st, TR_COL_CONL_DATA);
        size_t dn = (size_t)tr_db_column_bytes(q.st, TR_COL_CONL_DATA);
        size_t take = dn < max - have ? dn : max - have;
        memmove(buf + take, buf, have);
        if (take) memcpy(buf, d + (dn - take), take);
        have += take;
        if (take < dn || tr_db_column_int64(q.st, TR_COL_CONL_CUT) > 0) *cut = 1;
    }
    if (rc == 1) {
        tr_stmt_reset(&q);
        rc = 0;
    }
    if (rc || have == 0) {
        free(buf);
        return rc;
    }
    buf[have] = 0;
    *out = buf;
    *n = have;
    return 0;
}

/* Bytes not valid UTF-8 (and control characters other than \n \t) become '?', in place. */
static void clean_text(char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xe0) == 0xc0 ? 2
                     : (c & 0xf0) == 0xe0 ? 3
                     : (c & 0xf8) == 0xf0 ? 4
                                          : 0;
        int ok = len > 0 && i + len <= n && !(len == 2 && c < 0xc2);
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)p[i + k] & 0xc0) == 0x80;
        if (!ok) {
            p[i++] = '?';
            continue;
        }
        if (len == 1 && (c < 0x20 || c == 0x7f) && c != '\n' && c != '\t') p[i] = '?';
        i += len;
    }
}

int tr_store_console_tail_json(tr_store *s, const char *run_id, struct cJSON *run, int *oom)
{
    char *text;
    size_t n;
    int cut, rc = tr_store_console_tail(s, run_id, "stderr", 8192, &text, &n, &cut);
    if (rc || !text) return rc;
    /* the last TR_CONSOLE_TAIL_LINES lines, without the trailing newline */
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    size_t start = n;
    int lines = 0;
    while (start > 0 && lines < TR_CONSOLE_TAIL_LINES)
        if (text[--start] == '\n') lines++;
    if (start > 0 || text[start] == '\n') start++;
    text[n] = 0;
    /* a carriage-return-updated line shows as its last update */
    char *line = text + start, *o = line;
    for (const char *p = line; *p; p++) {
        if (*p != '\r') {
            *o++ = *p;
        } else if (p[1] && p[1] != '\n') {
            while (o > line && o[-1] != '\n')
                o--;
        }
    }
    *o = 0;
    clean_text(line, strlen(line));
    tr_json_add(run, "stderr_tail", cJSON_CreateString(line), oom);
    free(text);
    return 0;
}

int tr_store_run_status(tr_store *s, const char *run_id, char *out, size_t n)
{
    tr_stmt q;
    int rc = tr_stmt_begin(&q, s, TR_STMT_Q_RUN_STATUS);
    if (rc) return rc;
    tr_bind_cstr(&q, 1, run_id);
    if ((rc = tr_stmt_row(&q)) < 0) return rc;
    if (rc == 0) return tr_store_fail(s, TRAIL_ENOTFOUND, "no run %s", run_id);
    const char *st = (const char *)tr_db_column_text(q.st, 0);
    snprintf(out, n, "%s", st ? st : "");
    tr_stmt_reset(&q);
    return 0;
}
