/* db_pg.c - the statement layer over PostgreSQL (libpq): SQLite's step-by-row contract kept. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <dlfcn.h>
#include <libpq-fe.h>
#include <pthread.h>

#include "db.h"
#include "db_pg.h"

/* libpq is loaded when a PostgreSQL store is first opened, not linked: every trail command
 * would otherwise load it and the 20-odd libraries it needs (Kerberos, LDAP, TLS), some 5 ms
 * of start-up for commands that only ever open a SQLite file. Its header gives the types. */
#define PQ_FUNCS(X)                                                                                \
    X(PQclear)                                                                                     \
    X(PQputCopyData)                                                                               \
    X(PQputCopyEnd)                                                                                \
    X(PQcmdTuples)                                                                                 \
    X(PQconnectdbParams)                                                                           \
    X(PQenterPipelineMode)                                                                         \
    X(PQerrorMessage)                                                                              \
    X(PQexec)                                                                                      \
    X(PQexecParams)                                                                                \
    X(PQexecPrepared)                                                                              \
    X(PQexitPipelineMode)                                                                          \
    X(PQfinish)                                                                                    \
    X(PQfname)                                                                                     \
    X(PQfreemem)                                                                                   \
    X(PQftype)                                                                                     \
    X(PQgetResult)                                                                                 \
    X(PQgetisnull)                                                                                 \
    X(PQgetlength)                                                                                 \
    X(PQgetvalue)                                                                                  \
    X(PQnfields)                                                                                   \
    X(PQntuples)                                                                                   \
    X(PQparameterStatus)                                                                           \
    X(PQpipelineSync)                                                                              \
    X(PQprepare)                                                                                   \
    X(PQreset)                                                                                     \
    X(PQresultErrorField)                                                                          \
    X(PQresultErrorMessage)                                                                        \
    X(PQresultStatus)                                                                              \
    X(PQsendQuery)                                                                                 \
    X(PQsendQueryParams)                                                                           \
    X(PQsendQueryPrepared)                                                                         \
    X(PQsetNoticeProcessor)                                                                        \
    X(PQstatus)                                                                                    \
    X(PQtransactionStatus)                                                                         \
    X(PQunescapeBytea)

static struct {
#define PQ_MEMBER(f) __typeof__(f) *f;
    PQ_FUNCS(PQ_MEMBER)
#undef PQ_MEMBER
} pq;
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static char pq_error[256];

static void pq_load(void)
{
    void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(pq_error, sizeof pq_error,
                 "PostgreSQL stores need libpq (Debian: apt install libpq5): %s", dlerror());
        return;
    }
#define PQ_LOAD(f)                                                                                 \
    if (!pq_error[0] && !(*(void **)&pq.f = dlsym(h, #f)))                                         \
        snprintf(pq_error, sizeof pq_error, "libpq.so.5 has no %s (libpq 14 or later needed)", #f);
    PQ_FUNCS(PQ_LOAD)
#undef PQ_LOAD
}

/* From here on each PQ name is the loaded function. */
#define PQclear (pq.PQclear)
#define PQputCopyData (pq.PQputCopyData)
#define PQputCopyEnd (pq.PQputCopyEnd)
#define PQcmdTuples (pq.PQcmdTuples)
#define PQconnectdbParams (pq.PQconnectdbParams)
#define PQenterPipelineMode (pq.PQenterPipelineMode)
#define PQerrorMessage (pq.PQerrorMessage)
#define PQexec (pq.PQexec)
#define PQexecParams (pq.PQexecParams)
#define PQexecPrepared (pq.PQexecPrepared)
#define PQexitPipelineMode (pq.PQexitPipelineMode)
#define PQfinish (pq.PQfinish)
#define PQfname (pq.PQfname)
#define PQfreemem (pq.PQfreemem)
#define PQftype (pq.PQftype)
#define PQgetResult (pq.PQgetResult)
#define PQgetisnull (pq.PQgetisnull)
#define PQgetlength (pq.PQgetlength)
#define PQgetvalue (pq.PQgetvalue)
#define PQnfields (pq.PQnfields)
#define PQntuples (pq.PQntuples)
#define PQparameterStatus (pq.PQparameterStatus)
#define PQpipelineSync (pq.PQpipelineSync)
#define PQprepare (pq.PQprepare)
#define PQreset (pq.PQreset)
#define PQresultErrorField (pq.PQresultErrorField)
#define PQresultErrorMessage (pq.PQresultErrorMessage)
#define PQresultStatus (pq.PQresultStatus)
#define PQsendQuery (pq.PQsendQuery)
#define PQsendQueryParams (pq.PQsendQueryParams)
#define PQsendQueryPrepared (pq.PQsendQueryPrepared)
#define PQsetNoticeProcessor (pq.PQsetNoticeProcessor)
#define PQstatus (pq.PQstatus)
#define PQtransactionStatus (pq.PQtransactionStatus)
#define PQunescapeBytea (pq.PQunescapeBytea)

/* Type oids of the results the store reads (pg_type.h). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

typedef struct {
    tr_db base;
    PGconn *c;
    char err[1024];
    int changes;
    int64_t total;      /* rows changed by synchronous writes, plus one per pipelined write sent */
    int64_t rt;         /* round trips */
    unsigned next_name; /* server-side prepared statements: s1, s2, ... */
    unsigned gen;       /* bumped when the connection is reset: statements prepare again */
    int queued;         /* writes sent in pipeline mode whose results are not read yet */
    int in_tx;          /* between a BEGIN and its COMMIT/ROLLBACK (as this side sent them) */
    int utf8;           /* the database's encoding is UTF8: it checks every text */
    char *copy;         /* COPY rows not sent yet (tr_db_copy_*), copy_n of copy_cap bytes */
    size_t copy_n, copy_cap;
    int copy_col, copy_oom;
    char setup[256]; /* the session's settings, again after a reconnection */
    int64_t lastval; /* SELECT lastval() read with them */
} pg_db;

typedef struct {
    tr_dbst base;
    char *sql; /* translated */
    int persistent, nparams;
    int deferrable; /* a write without RETURNING: sent without waiting (pipelined) */
    char name[16];
    unsigned prepared_gen; /* 0: not prepared on the server */
    char **val;            /* parameter texts; NULL: SQL NULL */
    int *len, *fmt;
    Oid *types; /* 0 (inferred) for each parameter the text uses, text for the others */
    PGresult *res;
    int row, nrows, executed;
    unsigned char **blob; /* decoded bytea of the current row, by column */
    size_t *blob_len;
    int nblob;
} pg_st;

#define PDB(d) ((pg_db *)(d))
#define PST(s) ((pg_st *)(s))

static const struct tr_db_ops pg_ops;

static void set_err(pg_db *d, const char *msg)
{
    snprintf(d->err, sizeof d->err, "%s", msg && *msg ? msg : "PostgreSQL error");
    size_t n = strlen(d->err);
    while (n && (d->err[n - 1] == '\n' || d->err[n - 1] == ' '))
        d->err[--n] = 0;
}

/* A failed result's SQLSTATE as the layer's code. */
static int code_of(pg_db *d, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    set_err(d, r ? PQresultErrorMessage(r) : PQerrorMessage(d->c));
    if (PQstatus(d->c) == CONNECTION_BAD) return TR_DB_IOERR;
    if (!st) return r ? TR_DB_ERROR : TR_DB_NOMEM;
    if (!strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03") ||
        !strcmp(st, "57014"))
        return TR_DB_BUSY; /* serialization, deadlock, lock_timeout, statement timeout */
    if (!strcmp(st, "53100")) return TR_DB_FULL;
    if (!strcmp(st, "53200")) return TR_DB_NOMEM;
    if (!strcmp(st, "25006")) return TR_DB_READONLY;
    if (!strcmp(st, "54000")) return TR_DB_TOOBIG;
    if (!strncmp(st, "XX00", 4)) return TR_DB_CORRUPT;
    if (!strncmp(st, "08", 2) || !strcmp(st, "58030")) return TR_DB_IOERR;
    if (!strncmp(st, "23", 2)) return TR_DB_CONSTRAINT;
    return TR_DB_ERROR;
}

/* Reads the results of the pipelined writes: one round trip for all of them. Their first
 * error is returned (a later one in the same pipeline was not run: the transaction is
 * aborted, and whatever the store does next fails until it rolls back). */
static int flush(pg_db *d)
{
    if (!d->queued) return TR_DB_OK;
    int rc = TR_DB_OK;
    d->rt++;
    if (!PQpipelineSync(d->c)) rc = code_of(d, NULL);
    PGresult *r;
    for (;;) {
        r = PQgetResult(d->c);
        if (!r) {
            if (PQstatus(d->c) == CONNECTION_BAD) {
                if (rc == TR_DB_OK) rc = code_of(d, NULL);
                break;
            }
            continue; /* the end of one statement's results */
        }
        ExecStatusType es = PQresultStatus(r);
        if (es == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (es == PGRES_COMMAND_OK) {
            const char *ct = PQcmdTuples(r);
            if (ct && *ct) d->changes = atoi(ct); /* total counted it when it was sent */
        } else if (es == PGRES_TUPLES_OK) {
            if (PQntuples(r) == 1) d->lastval = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        } else if (es != PGRES_PIPELINE_ABORTED && rc == TR_DB_OK) {
            rc = code_of(d, r);
        }
        PQclear(r);
    }
    d->queued = 0;
    PQexitPipelineMode(d->c);
    return rc;
}

/* The statement after a WITH's common table expressions: its first keyword outside
 * parentheses and quotes. */
static const char *after_ctes(const char *p)
{
    int depth = 0;
    for (p += 4; *p; p++) {
        if (*p == '\'' || *p == '"') {
            char q = *p;
            while (*++p && *p != q)
                ;
            if (!*p) break;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if (depth == 0 && (p[-1] == ' ' || p[-1] == ')') &&
                   (!strncasecmp(p, "SELECT", 6) || !strncasecmp(p, "INSERT", 6) ||
                    !strncasecmp(p, "UPDATE", 6) || !strncasecmp(p, "DELETE", 6))) {
            return p;
        }
    }
    return p;
}

/* A statement's text is a write whose result nobody reads. */
static int is_deferrable(const char *sql)
{
    while (*sql == ' ' || *sql == '\n' || *sql == '(')
        sql++;
    if (!strncasecmp(sql, "WITH", 4) && (sql[4] == ' ' || sql[4] == '\n')) sql = after_ctes(sql);
    if (strncasecmp(sql, "INSERT", 6) && strncasecmp(sql, "UPDATE", 6) &&
        strncasecmp(sql, "DELETE", 6))
        return 0;
    if (strcasestr(sql, "RETURNING")) return 0;
    return 1;
}

/* A connection the server dropped (restarted, failed over) is opened again, between
 * transactions only: one lost inside a transaction fails it, and the store rolls back and
 * retries (traild re-ingests the batch). Statements prepare again on the new session. */
static int ensure_conn(pg_db *d)
{
    if (PQstatus(d->c) == CONNECTION_OK || d->in_tx) return TR_DB_OK;
    d->queued = 0;
    PQreset(d->c);
    if (PQstatus(d->c) != CONNECTION_OK) return code_of(d, NULL);
    d->gen++;
    d->rt += 2; /* the reconnection, the settings */
    PGresult *r = PQexec(d->c, d->setup);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? TR_DB_OK : code_of(d, r);
    PQclear(r);
    return rc;
}

static void clear_blobs(pg_st *s)
{
    for (int i = 0; i < s->nblob; i++) {
        free(s->blob[i]);
        s->blob[i] = NULL;
    }
}

static void clear_result(pg_st *s)
{
    clear_blobs(s);
    PQclear(s->res);
    s->res = NULL;
    s->executed = 0;
    s->row = s->nrows = 0;
}

/* A statement's memory (its result and bindings cleared already). */
static void st_free(pg_st *s)
{
    free(s->blob);
    free(s->blob_len);
    free(s->val);
    free(s->len);
    free(s->fmt);
    free(s->types);
    free(s->sql);
    free(s);
}

static int pg_prepare(tr_db *db, const char *sql, int persistent, tr_dbst **out)
{
    pg_db *d = PDB(db);
    pg_st *s = calloc(1, sizeof *s);
    unsigned char *used = NULL;
    if (!s || !(s->sql = tr_pgsql_translate(sql, &s->nparams))) goto fail;
    int np = s->nparams ? s->nparams : 1;
    s->val = calloc((size_t)np, sizeof *s->val);
    s->len = calloc((size_t)np, sizeof *s->len);
    s->fmt = calloc((size_t)np, sizeof *s->fmt);
    s->types = calloc((size_t)np, sizeof *s->types);
    used = malloc((size_t)np);
    if (!s->val || !s->len || !s->fmt || !s->types || !used) goto fail;
    tr_pgsql_used(s->sql, used, s->nparams);
    for (int i = 0; i < s->nparams; i++)
        if (!used[i]) s->types[i] = OID_TEXT;
    free(used);
    s->persistent = persistent;
    s->deferrable = is_deferrable(s->sql);
    if (persistent) snprintf(s->name, sizeof s->name, "s%u", ++d->next_name);
    s->base.ops = &pg_ops;
    s->base.db = db;
    *out = &s->base;
    return TR_DB_OK;
fail:
    free(used);
    if (s) st_free(s);
    set_err(d, "out of memory");
    return TR_DB_NOMEM;
}

static int pg_clear_bindings(tr_dbst *st)
{
    pg_st *s = PST(st);
    for (int i = 0; i < s->nparams; i++) {
        free(s->val[i]);
        s->val[i] = NULL;
        s->len[i] = 0;
    }
    return TR_DB_OK;
}

static int pg_finalize(tr_dbst *st)
{
    pg_st *s = PST(st);
    clear_result(s);
    pg_clear_bindings(st);
    pg_db *d = PDB(st->db);
    if (s->prepared_gen && s->prepared_gen == d->gen && PQstatus(d->c) == CONNECTION_OK &&
        flush(d) == TR_DB_OK) {
        char sql[48];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
        PQclear(PQexec(d->c, sql));
    }
    st_free(s);
    return TR_DB_OK;
}

/* Keeps p[0..n) as parameter i's text (1-based). */
static int bind_copy(pg_st *s, int i, const char *p, size_t n)
{
    if (i < 1 || i > s->nparams) return TR_DB_RANGE;
    char *v = malloc(n + 1);
    if (!v) return TR_DB_NOMEM;
    memcpy(v, p, n);
    v[n] = 0;
    free(s->val[i - 1]);
    s->val[i - 1] = v;
    s->len[i - 1] = (int)n;
    return TR_DB_OK;
}

static int pg_bind_int64(tr_dbst *st, int i, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%" PRId64, v);
    return bind_copy(PST(st), i, t, (size_t)n);
}

static int pg_bind_double(tr_dbst *st, int i, double v)
{
    char t[40];
    int n;
    if (isnan(v))
        n = snprintf(t, sizeof t, "NaN");
    else if (isinf(v))
        n = snprintf(t, sizeof t, "%sInfinity", v < 0 ? "-" : "");
    else
        n = snprintf(t, sizeof t, "%.17g", v);
    return bind_copy(PST(st), i, t, (size_t)n);
}

static int pg_bind_null(tr_dbst *st, int i)
{
    pg_st *s = PST(st);
    if (i < 1 || i > s->nparams) return TR_DB_RANGE;
    free(s->val[i - 1]);
    s->val[i - 1] = NULL;
    return TR_DB_OK;
}

/* Length of the valid UTF-8 sequence at p (1-4), 0 when the byte there starts none. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80) return 1;
    size_t k = p[0] >= 0xC2 && p[0] <= 0xDF   ? 2
               : p[0] >= 0xE0 && p[0] <= 0xEF ? 3
               : p[0] >= 0xF0 && p[0] <= 0xF4 ? 4
                                              : 0;
    if (!k || k > n) return 0;
    for (size_t j = 1; j < k; j++)
        if ((p[j] & 0xC0) != 0x80) return 0;
    if (k == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0))) return 0;
    if (k == 4 && ((p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))) return 0;
    return k;
}

int tr_db_text_verbatim(tr_db *db, const char *p, size_t n)
{
    if (!db || db->kind != TR_DB_KIND_PG || !PDB(db)->utf8) return 1;
    const unsigned char *u = (const unsigned char *)p;
    size_t k = 0, seq;
    while (k < n && (seq = utf8_seq(u + k, n - k)))
        k += seq;
    return k == n;
}

static int pg_bind_text(tr_dbst *st, int i, const char *p, int n, tr_db_destructor d)
{
    (void)d; /* always copied: libpq takes NUL-terminated texts */
    if (!p) return pg_bind_null(st, i);
    size_t len = n < 0 ? strlen(p) : strnlen(p, (size_t)n);
    const unsigned char *u = (const unsigned char *)p;
    size_t k = 0, seq;
    if (PDB(st->db)->utf8)
        while (k < len && (seq = utf8_seq(u + k, len - k)))
            k += seq;
    if (k == len || !PDB(st->db)->utf8) return bind_copy(PST(st), i, p, len);
    /* A UTF8 database refuses bytes that are not UTF-8 (paths may hold any): each such byte B is
     * stored as U+F700+B (private use), the same text every time, so a path stays one key. */
    char *t = malloc(3 * len + 1);
    if (!t) return TR_DB_NOMEM;
    size_t o = 0;
    for (k = 0; k < len;) {
        if ((seq = utf8_seq(u + k, len - k))) {
            memcpy(t + o, u + k, seq);
            o += seq;
            k += seq;
            continue;
        }
        unsigned cp = 0xF700u + u[k++];
        t[o++] = (char)(0xE0 | (cp >> 12));
        t[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[o++] = (char)(0x80 | (cp & 0x3F));
    }
    int rc = bind_copy(PST(st), i, t, o);
    free(t);
    return rc;
}

static int pg_bind_blob(tr_dbst *st, int i, const void *p, int n, tr_db_destructor d)
{
    (void)d;
    if (!p) return pg_bind_null(st, i);
    static const char hex[] = "0123456789abcdef";
    size_t len = n > 0 ? (size_t)n : 0;
    char *t = malloc(2 * len + 3);
    if (!t) return TR_DB_NOMEM;
    t[0] = '\\';
    t[1] = 'x';
    for (size_t k = 0; k < len; k++) {
        t[2 + 2 * k] = hex[((const unsigned char *)p)[k] >> 4];
        t[3 + 2 * k] = hex[((const unsigned char *)p)[k] & 15];
    }
    int rc = bind_copy(PST(st), i, t, 2 * len + 2);
    free(t);
    return rc;
}

static int run(pg_st *s)
{
    pg_db *d = PDB(s->base.db);
    PGresult *r;
    int rc;
    if (!d->queued && (rc = ensure_conn(d))) return rc;
    if (s->persistent && (s->prepared_gen != d->gen || !s->prepared_gen) && (rc = flush(d)))
        return rc;
    if (s->deferrable) {
        if (s->persistent && (s->prepared_gen != d->gen || !s->prepared_gen)) {
            d->rt++;
            r = PQprepare(d->c, s->name, s->sql, s->nparams, s->types);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                rc = code_of(d, r);
                PQclear(r);
                return rc;
            }
            PQclear(r);
            s->prepared_gen = d->gen;
        }
        if (!d->queued && !PQenterPipelineMode(d->c)) return code_of(d, NULL);
        int ok = s->persistent ? PQsendQueryPrepared(d->c, s->name, s->nparams,
                                                     (const char *const *)s->val, s->len, s->fmt, 0)
                               : PQsendQueryParams(d->c, s->sql, s->nparams, s->types,
                                                   (const char *const *)s->val, s->len, s->fmt, 0);
        d->queued++;
        d->total++; /* it may change rows: known without asking (tr_db_total_changes64) */
        if (!ok) return flush(d) ? TR_DB_ERROR : code_of(d, NULL);
        s->executed = 1;
        s->row = -1;
        s->nrows = 0;
        return TR_DB_OK;
    }
    if ((rc = flush(d))) return rc;
    if (s->persistent) {
        if (s->prepared_gen != d->gen || !s->prepared_gen) {
            d->rt++;
            r = PQprepare(d->c, s->name, s->sql, s->nparams, s->types);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                int rc = code_of(d, r);
                PQclear(r);
                return rc;
            }
            PQclear(r);
            s->prepared_gen = d->gen;
        }
        d->rt++;
        r = PQexecPrepared(d->c, s->name, s->nparams, (const char *const *)s->val, s->len, s->fmt,
                           0);
    } else {
        d->rt++;
        r = PQexecParams(d->c, s->sql, s->nparams, s->types, (const char *const *)s->val, s->len,
                         s->fmt, 0);
    }
    ExecStatusType es = PQresultStatus(r);
    if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
        rc = code_of(d, r);
        PQclear(r);
        return rc;
    }
    const char *ct = PQcmdTuples(r);
    if (ct && *ct && es == PGRES_COMMAND_OK) { /* a SELECT's count is rows read */
        d->changes = atoi(ct);
        d->total += d->changes;
    }
    s->res = r;
    s->executed = 1;
    s->row = -1;
    s->nrows = es == PGRES_TUPLES_OK ? PQntuples(r) : 0;
    int nf = PQnfields(r);
    if (nf > s->nblob) {
        unsigned char **b = realloc(s->blob, (size_t)nf * sizeof *b);
        if (b) s->blob = b;
        size_t *bl = b ? realloc(s->blob_len, (size_t)nf * sizeof *bl) : NULL;
        if (!b || !bl) return TR_DB_NOMEM;
        s->blob_len = bl;
        for (int i = s->nblob; i < nf; i++)
            s->blob[i] = NULL;
        s->nblob = nf;
    }
    return TR_DB_OK;
}

static int pg_step(tr_dbst *st)
{
    pg_st *s = PST(st);
    if (!s->executed) {
        int rc = run(s);
        if (rc) return rc;
    }
    clear_blobs(s);
    if (s->row + 1 < s->nrows) {
        s->row++;
        return TR_DB_ROW;
    }
    s->row = s->nrows;
    return TR_DB_DONE;
}

static int pg_reset(tr_dbst *st)
{
    clear_result(PST(st));
    return TR_DB_OK;
}

static int has_row(pg_st *s, int i)
{
    return s->res && s->row >= 0 && s->row < s->nrows && i >= 0 && i < PQnfields(s->res);
}

static int pg_column_type(tr_dbst *st, int i)
{
    pg_st *s = PST(st);
    if (!has_row(s, i) || PQgetisnull(s->res, s->row, i)) return TR_DB_NULL;
    switch (PQftype(s->res, i)) {
    case OID_BOOL:
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        return TR_DB_INTEGER;
    case OID_NUMERIC: /* sum() of integers: an integer unless it has a fraction */
        return strpbrk(PQgetvalue(s->res, s->row, i), ".eEN") ? TR_DB_FLOAT : TR_DB_INTEGER;
    case OID_FLOAT4:
    case OID_FLOAT8:
        return TR_DB_FLOAT;
    case OID_BYTEA:
        return TR_DB_BLOB;
    default:
        return TR_DB_TEXT;
    }
}

static double parse_double(const char *v)
{
    if (!strcmp(v, "NaN")) return NAN;
    if (!strcmp(v, "Infinity")) return INFINITY;
    if (!strcmp(v, "-Infinity")) return -INFINITY;
    return strtod(v, NULL);
}

static int64_t pg_column_int64(tr_dbst *st, int i)
{
    pg_st *s = PST(st);
    if (!has_row(s, i) || PQgetisnull(s->res, s->row, i)) return 0;
    const char *v = PQgetvalue(s->res, s->row, i);
    Oid t = PQftype(s->res, i);
    if (t == OID_BOOL) return v[0] == 't';
    if (t == OID_FLOAT4 || t == OID_FLOAT8 || (t == OID_NUMERIC && strpbrk(v, ".eEN"))) {
        double x = parse_double(v);
        if (isnan(x)) return 0;
        if (x >= 9223372036854775807.0) return INT64_MAX;
        if (x <= -9223372036854775808.0) return INT64_MIN;
        return (int64_t)x;
    }
    errno = 0;
    long long x = strtoll(v, NULL, 10);
    return (int64_t)x;
}

static double pg_column_double(tr_dbst *st, int i)
{
    pg_st *s = PST(st);
    if (!has_row(s, i) || PQgetisnull(s->res, s->row, i)) return 0;
    const char *v = PQgetvalue(s->res, s->row, i);
    if (PQftype(s->res, i) == OID_BOOL) return v[0] == 't';
    return parse_double(v);
}

static const unsigned char *pg_column_text(tr_dbst *st, int i)
{
    pg_st *s = PST(st);
    if (!has_row(s, i) || PQgetisnull(s->res, s->row, i)) return NULL;
    const char *v = PQgetvalue(s->res, s->row, i);
    switch (PQftype(s->res, i)) {
    case OID_BOOL:
        return (const unsigned char *)(v[0] == 't' ? "1" : "0");
    case OID_BYTEA: {
        const void *b = st->ops->column_blob(st, i);
        return b ? b : (const unsigned char *)"";
    }
    default:
        return (const unsigned char *)v;
    }
}

static const void *pg_column_blob(tr_dbst *st, int i)
{
    pg_st *s = PST(st);
    if (!has_row(s, i) || PQgetisnull(s->res, s->row, i)) return NULL;
    if (PQftype(s->res, i) != OID_BYTEA) return PQgetvalue(s->res, s->row, i);
    if (!s->blob[i]) {
        size_t n = 0;
        unsigned char *raw =
            PQunescapeBytea((const unsigned char *)PQgetvalue(s->res, s->row, i), &n);
        if (!raw) return NULL;
        unsigned char *b = malloc(n + 1); /* NUL-terminated, as SQLite's are (read as text) */
        if (b) {
            memcpy(b, raw, n);
            b[n] = 0;
        }
        PQfreemem(raw);
        if (!b) return NULL;
        s->blob[i] = b;
        s->blob_len[i] = n;
    }
    return s->blob[i];
}

static int pg_column_bytes(tr_dbst *st, int i)
{
    pg_st *s = PST(st);
    if (!has_row(s, i) || PQgetisnull(s->res, s->row, i)) return 0;
    if (PQftype(s->res, i) == OID_BYTEA) {
        if (!pg_column_blob(st, i)) return 0;
        return (int)s->blob_len[i];
    }
    return PQgetlength(s->res, s->row, i);
}

static int pg_column_count(tr_dbst *st)
{
    pg_st *s = PST(st);
    return s->res ? PQnfields(s->res) : 0;
}

static const char *pg_column_name(tr_dbst *st, int i)
{
    pg_st *s = PST(st);
    return s->res && i >= 0 && i < PQnfields(s->res) ? PQfname(s->res, i) : NULL;
}

static int pg_exec(tr_db *db, const char *sql)
{
    pg_db *d = PDB(db);
    int rc = flush(d);
    if (rc || (rc = ensure_conn(d))) return rc;
    const char *w = sql + (strncmp(sql, TR_PG_NATIVE, strlen(TR_PG_NATIVE)) ? 0 : 6);
    int begin = !strncasecmp(w, "BEGIN", 5);
    if (!strncasecmp(w, "COMMIT", 6) || !strncasecmp(w, "ROLLBACK", 8)) d->in_tx = 0;
    char *t = tr_pgsql_translate(sql, NULL);
    if (!t) {
        set_err(d, "out of memory");
        return TR_DB_NOMEM;
    }
    d->rt++;
    if (!PQsendQuery(d->c, t)) {
        free(t);
        return code_of(d, NULL);
    }
    free(t);
    PGresult *r;
    while ((r = PQgetResult(d->c))) {
        ExecStatusType es = PQresultStatus(r);
        if (rc == TR_DB_OK && es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) rc = code_of(d, r);
        PQclear(r);
    }
    if (begin && rc == TR_DB_OK) d->in_tx = 1;
    if (begin && rc != TR_DB_OK && PQtransactionStatus(d->c) != PQTRANS_IDLE)
        PQclear(PQexec(d->c, "ROLLBACK")); /* BEGIN went in, the lock did not: no transaction */
    return rc;
}

static int pg_changes(tr_db *db)
{
    flush(PDB(db)); /* an error stays with the transaction (aborted) for the next statement */
    return PDB(db)->changes;
}

static int64_t pg_total_changes(tr_db *db)
{
    return PDB(db)->total; /* no flush: the pipelined writes count as sent */
}

static int64_t pg_round_trips(tr_db *db)
{
    return PDB(db)->rt;
}

static int64_t pg_last_insert_rowid(tr_db *db)
{
    pg_db *d = PDB(db);
    /* Every table has an identity column (db_pgsql.c): the value its last insert drew. Only
     * asked after an insert (a session with none would fail its transaction here). Asked in
     * the same round trip as the pipelined insert. */
    if (d->queued) {
        d->lastval = 0;
        if (PQsendQueryParams(d->c, "SELECT lastval()", 0, NULL, NULL, NULL, NULL, 0)) d->queued++;
        flush(d);
        return d->lastval;
    }
    d->rt++;
    PGresult *r = PQexec(d->c, "SELECT lastval()");
    int64_t v = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        code_of(d, r);
    PQclear(r);
    return v;
}

static int pg_get_autocommit(tr_db *db)
{
    flush(PDB(db));
    return PQtransactionStatus(PDB(db)->c) == PQTRANS_IDLE;
}

static const char *pg_errmsg(tr_db *db)
{
    return PDB(db)->err;
}

static void pg_close(tr_db *db)
{
    pg_db *d = PDB(db);
    free(d->copy);
    if (d->c) {
        flush(d);
        PQfinish(d->c);
    }
    free(d);
}

static const struct tr_db_ops pg_ops = {
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .bind_int64 = pg_bind_int64,
    .bind_double = pg_bind_double,
    .bind_null = pg_bind_null,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .reset = pg_reset,
    .clear_bindings = pg_clear_bindings,
    .column_type = pg_column_type,
    .column_int64 = pg_column_int64,
    .column_double = pg_column_double,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .column_bytes = pg_column_bytes,
    .column_count = pg_column_count,
    .column_name = pg_column_name,
    .exec = pg_exec,
    .changes = pg_changes,
    .total_changes = pg_total_changes,
    .round_trips = pg_round_trips,
    .last_insert_rowid = pg_last_insert_rowid,
    .get_autocommit = pg_get_autocommit,
    .errmsg = pg_errmsg,
    .close = pg_close,
};

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* NOTICEs (an index that exists already) are not the user's business */
}

int tr_db_pg_open(const char *url, int flags, int busy_ms, const char *password, tr_db **out)
{
    pg_db *d = calloc(1, sizeof *d);
    *out = NULL;
    if (!d) return TR_DB_NOMEM;
    d->base.ops = &pg_ops;
    d->base.kind = TR_DB_KIND_PG;
    d->gen = 1;
    *out = &d->base;
    pthread_once(&pq_once, pq_load);
    if (pq_error[0]) {
        set_err(d, pq_error);
        return TR_DB_CANTOPEN;
    }
    const char *keys[] = {"dbname", "password", "application_name", NULL};
    const char *vals[] = {url, password, "trail", NULL};
    if (!password) {
        keys[1] = "application_name";
        vals[1] = "trail";
        keys[2] = vals[2] = NULL;
    }
    d->c = PQconnectdbParams(keys, vals, 1);
    if (!d->c) {
        set_err(d, "out of memory");
        return TR_DB_NOMEM;
    }
    if (PQstatus(d->c) != CONNECTION_OK) {
        set_err(d, PQerrorMessage(d->c));
        return TR_DB_CANTOPEN;
    }
    PQsetNoticeProcessor(d->c, quiet, NULL);
    char *setup = d->setup;
    snprintf(d->setup, sizeof d->setup,
             "SET lock_timeout = %d; SET TIME ZONE 'UTC'; SET extra_float_digits = 3;"
             " SET standard_conforming_strings = on;%s",
             busy_ms,
             (flags & TR_DB_OPEN_READONLY) ? " SET default_transaction_read_only = on;" : "");
    PGresult *r = PQexec(d->c, setup);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? TR_DB_OK : code_of(d, r);
    PQclear(r);
    const char *enc = PQparameterStatus(d->c, "server_encoding");
    d->utf8 = enc && !strcmp(enc, "UTF8");
    return rc;
}

/* ---- COPY FROM STDIN (text format) ---- */

static void copy_put(pg_db *d, const char *p, size_t n)
{
    if (d->copy_oom) return;
    if (d->copy_n + n > d->copy_cap) {
        size_t cap = (d->copy_cap ? d->copy_cap * 2 : 1 << 16) + n;
        char *b = realloc(d->copy, cap);
        if (!b) {
            d->copy_oom = 1;
            return;
        }
        d->copy = b;
        d->copy_cap = cap;
    }
    memcpy(d->copy + d->copy_n, p, n);
    d->copy_n += n;
}

static pg_db *copy_db(tr_db *db)
{
    if (db->kind != TR_DB_KIND_PG) return NULL;
    pg_db *d = PDB(db);
    if (d->copy_col++) copy_put(d, "\t", 1);
    return d;
}

int tr_db_copy_begin(tr_db *db, const char *sql)
{
    if (db->kind != TR_DB_KIND_PG) return TR_DB_MISUSE;
    pg_db *d = PDB(db);
    int rc = flush(d);
    if (rc) return rc;
    PGresult *r = PQexec(d->c, sql);
    rc = PQresultStatus(r) == PGRES_COPY_IN ? TR_DB_OK : code_of(d, r);
    PQclear(r);
    d->copy_n = 0;
    d->copy_col = 0;
    d->copy_oom = 0;
    return rc;
}

void tr_db_copy_null(tr_db *db)
{
    pg_db *d = copy_db(db);
    if (d) copy_put(d, "\\N", 2);
}

void tr_db_copy_int(tr_db *db, int64_t v)
{
    pg_db *d = copy_db(db);
    char t[24];
    if (d) copy_put(d, t, (size_t)snprintf(t, sizeof t, "%" PRId64, v));
}

void tr_db_copy_double(tr_db *db, double v)
{
    pg_db *d = copy_db(db);
    char t[40];
    int n = isnan(v)   ? snprintf(t, sizeof t, "NaN")
            : isinf(v) ? snprintf(t, sizeof t, "%sInfinity", v < 0 ? "-" : "")
                       : snprintf(t, sizeof t, "%.17g", v);
    if (d) copy_put(d, t, (size_t)n);
}

/* One text value escaped for COPY; on a UTF8 database its bytes that are not UTF-8 become
 * U+F700+byte, as a bound text's do (pg_bind_text). */
void tr_db_copy_text(tr_db *db, const char *p, size_t n)
{
    pg_db *d = copy_db(db);
    if (!d) return;
    const unsigned char *u = (const unsigned char *)p;
    for (size_t k = 0; k < n && u[k];) {
        size_t seq = d->utf8 ? utf8_seq(u + k, n - k) : 1;
        char e[4] = {'\\', 0, 0, 0};
        if (seq == 1 && (u[k] == '\\' || u[k] == '\t' || u[k] == '\n' || u[k] == '\r')) {
            e[1] = u[k] == '\\' ? '\\' : u[k] == '\t' ? 't' : u[k] == '\n' ? 'n' : 'r';
            copy_put(d, e, 2);
        } else if (seq) {
            copy_put(d, (const char *)u + k, seq);
        } else {
            unsigned cp = 0xF700u + u[k];
            seq = 1;
            e[0] = (char)(0xE0 | (cp >> 12));
            e[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            e[2] = (char)(0x80 | (cp & 0x3F));
            copy_put(d, e, 3);
        }
        k += seq ? seq : 1;
    }
}

void tr_db_copy_blob(tr_db *db, const void *p, size_t n)
{
    pg_db *d = copy_db(db);
    static const char hex[] = "0123456789abcdef";
    if (!d) return;
    copy_put(d, "\\\\x", 3); /* bytea's hex form, its backslash escaped for COPY */
    for (size_t k = 0; k < n; k++) {
        char h[2] = {hex[((const unsigned char *)p)[k] >> 4],
                     hex[((const unsigned char *)p)[k] & 15]};
        copy_put(d, h, 2);
    }
}

int tr_db_copy_row_end(tr_db *db)
{
    if (db->kind != TR_DB_KIND_PG) return TR_DB_MISUSE;
    pg_db *d = PDB(db);
    copy_put(d, "\n", 1);
    d->copy_col = 0;
    if (d->copy_oom) return TR_DB_NOMEM;
    if (d->copy_n < (1 << 16)) return TR_DB_OK;
    int ok = PQputCopyData(d->c, d->copy, (int)d->copy_n) == 1;
    d->copy_n = 0;
    return ok ? TR_DB_OK : code_of(d, NULL);
}

int tr_db_copy_end(tr_db *db)
{
    if (db->kind != TR_DB_KIND_PG) return TR_DB_MISUSE;
    pg_db *d = PDB(db);
    int ok = !d->copy_oom && (!d->copy_n || PQputCopyData(d->c, d->copy, (int)d->copy_n) == 1);
    d->copy_n = 0;
    if (PQputCopyEnd(d->c, ok ? NULL : "trail: out of memory") != 1) return code_of(d, NULL);
    int rc = TR_DB_OK;
    PGresult *r;
    while ((r = PQgetResult(d->c))) {
        if (rc == TR_DB_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = code_of(d, r);
        else if (PQresultStatus(r) == PGRES_COMMAND_OK && PQcmdTuples(r)[0])
            d->changes = atoi(PQcmdTuples(r));
        PQclear(r);
    }
    free(d->copy);
    d->copy = NULL;
    d->copy_cap = 0;
    return rc != TR_DB_OK ? rc : ok ? TR_DB_OK : TR_DB_NOMEM;
}
