/* copy.c - trail store copy: every table of one store into another, resumable, verified. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy_sql.h"
#include "json_safe.h"
#include "store_int.h"
#include "trail.h"

/* Tables referred to by others go first; the rest follow in name order. */
static const char *const first[] = {"mlflow_experiments", "runs", "artifacts", "artifact_versions"};
#define NFIRST ((int)(sizeof first / sizeof first[0]))
#define MAX_TABLES 64
#define MAX_COLS 64

typedef struct {
    char name[64];
    char key[64];  /* the source column rows are read in order of; "" none (one transaction) */
    int has_rowid; /* the source has a column named rowid (a PostgreSQL store's own) */
} table;

typedef struct {
    tr_store *src, *dst;
    int batch;
    const char *source; /* the source as shown: progress is kept under this name */
    tr_store_copy_fn fn;
    void *arg;
} copier;

/* A name of up to 63 bytes (table and column names are short). */
static void name_copy(char *d, const char *src)
{
    size_t n = src ? strnlen(src, 63) : 0;
    memcpy(d, src ? src : "", n);
    d[n] = 0;
}

static int db_fail(tr_store *s, int rc, const char *what)
{
    return tr_store_fail(s, tr_store_code(rc) ? tr_store_code(rc) : TRAIL_ESTORE, "%s: %s", what,
                         tr_db_errmsg(s->db));
}

/* One integer (column 0 of the first row) of sql with up to two text parameters. */
static int one_int(tr_store *s, const char *sql, const char *a, const char *b, int64_t *out,
                   int *found)
{
    tr_dbst *st;
    int rc = tr_db_prepare(s->db, sql, -1, &st, NULL);
    if (rc) return db_fail(s, rc, "preparing a copy statement");
    if (a) tr_db_bind_text(st, 1, a, -1, TR_DB_STATIC);
    if (b) tr_db_bind_text(st, 2, b, -1, TR_DB_STATIC);
    rc = tr_db_step(st);
    if (found) *found = rc == TR_DB_ROW;
    if (rc == TR_DB_ROW) *out = tr_db_column_int64(st, 0);
    int ok = rc == TR_DB_ROW || rc == TR_DB_DONE;
    if (!ok) db_fail(s, rc, "reading");
    tr_db_finalize(st);
    return ok ? 0 : tr_store_code(rc) ? tr_store_code(rc) : TRAIL_ESTORE;
}

static int count_rows(tr_store *s, const char *tbl, int64_t *n)
{
    char sql[200];
    snprintf(sql, sizeof sql, TR_COPY_COUNT_FMT, tbl);
    return one_int(s, sql, NULL, NULL, n, NULL);
}

/* The names of a table's columns in s. */
static int columns(tr_store *s, const char *tbl, char names[][64], int *n)
{
    char sql[200];
    tr_dbst *st;
    snprintf(sql, sizeof sql, TR_COPY_COLUMNS_FMT, tbl);
    int rc = tr_db_prepare(s->db, sql, -1, &st, NULL);
    if (rc) return db_fail(s, rc, "reading a table's columns");
    rc = tr_db_step(st);
    *n = 0;
    if (rc == TR_DB_DONE || rc == TR_DB_ROW)
        for (int i = 0; i < tr_db_column_count(st) && *n < MAX_COLS; i++)
            name_copy(names[(*n)++], tr_db_column_name(st, i));
    else
        db_fail(s, rc, "reading a table's columns");
    tr_db_finalize(st);
    return rc == TR_DB_DONE || rc == TR_DB_ROW ? 0 : TRAIL_ESTORE;
}

static int has(char names[][64], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return 1;
    return 0;
}

/* The source's tables in copy order, with the key each is read by. */
static int list_tables(copier *c, table *t, int *nt)
{
    tr_dbst *st;
    tr_store *s = c->src;
    int rc = tr_db_prepare(s->db, s->pg ? TR_COPY_TABLES_PG : TR_COPY_TABLES_SQLITE, -1, &st, NULL);
    if (rc) return db_fail(s, rc, "listing tables");
    char names[MAX_TABLES][64];
    int n = 0;
    while ((rc = tr_db_step(st)) == TR_DB_ROW && n < MAX_TABLES)
        name_copy(names[n++], (const char *)tr_db_column_text(st, 0));
    tr_db_finalize(st);
    if (rc != TR_DB_DONE && rc != TR_DB_ROW) return db_fail(s, rc, "listing tables");
    *nt = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            int lead = -1;
            for (int k = 0; k < NFIRST; k++)
                if (!strcmp(names[i], first[k])) lead = k;
            if ((pass == 0) != (lead >= 0)) continue;
            (void)lead;
            name_copy(t[(*nt)++].name, names[i]);
        }
    /* the leading tables in the order `first` gives */
    for (int a = 0; a < NFIRST && a < *nt; a++)
        for (int b = a + 1; b < *nt; b++)
            if (!strcmp(t[b].name, first[a])) {
                table x = t[a];
                t[a] = t[b];
                t[b] = x;
            }
    for (int i = 0; i < *nt; i++) {
        char cols[MAX_COLS][64];
        int nc;
        if ((rc = columns(s, t[i].name, cols, &nc))) return rc;
        t[i].has_rowid = has(cols, nc, "rowid");
        t[i].key[0] = 0;
        if (s->pg) {
            tr_dbst *q;
            if ((rc = tr_db_prepare(s->db, TR_COPY_IDENTITY_PG, -1, &q, NULL)))
                return db_fail(s, rc, "reading a table's key");
            tr_db_bind_text(q, 1, t[i].name, -1, TR_DB_STATIC);
            if (tr_db_step(q) == TR_DB_ROW)
                name_copy(t[i].key, (const char *)tr_db_column_text(q, 0));
            tr_db_finalize(q);
        } else {
            char sql[200];
            tr_dbst *q;
            snprintf(sql, sizeof sql, "SELECT rowid FROM \"%s\" LIMIT 0", t[i].name);
            if (tr_db_prepare(s->db, sql, -1, &q, NULL) == TR_DB_OK) /* not WITHOUT ROWID */
                snprintf(t[i].key, sizeof t[i].key, "rowid");
            tr_db_finalize(q);
        }
    }
    return 0;
}

/* The columns copied: source and target names (SQLite's rowid has no column of its own). */
typedef struct {
    char from[MAX_COLS][64], to[MAX_COLS][64];
    int n, origin; /* origin: artifact_versions.origin_id's place, else -1 */
} colmap;

static void map_add(colmap *m, const char *from, const char *to)
{
    if (m->n >= MAX_COLS) return;
    if (!strcmp(to, "origin_id")) m->origin = m->n;
    name_copy(m->from[m->n], from);
    name_copy(m->to[m->n], to);
    m->n++;
}

static int map_columns(copier *c, const table *t, colmap *m)
{
    char dcols[MAX_COLS][64], scols[MAX_COLS][64];
    int nd, ns, rc;
    if ((rc = columns(c->dst, t->name, dcols, &nd)) || (rc = columns(c->src, t->name, scols, &ns)))
        return rc;
    m->n = 0;
    m->origin = -1;
    for (int i = 0; i < ns; i++) {
        if (has(dcols, nd, scols[i]))
            map_add(m, scols[i], scols[i]);
        else if (!strcmp(scols[i], "rowid") && !c->dst->pg && t->key[0])
            map_add(m, "rowid", "rowid"); /* PostgreSQL's rowid column into SQLite's rowid */
    }
    if (!c->src->pg && c->dst->pg && has(dcols, nd, "rowid") && !has(scols, ns, "rowid") &&
        t->key[0] && strcmp(t->key, "rowid") == 0)
        map_add(m, "rowid", "rowid"); /* SQLite's rowid into PostgreSQL's: the same order */
    return m->n ? 0 : tr_store_fail(c->dst, TRAIL_ESTORE, "table %s: no column in common", t->name);
}

static void append(char *buf, size_t n, const char *s)
{
    size_t l = strlen(buf);
    snprintf(buf + l, n > l ? n - l : 0, "%s", s);
}

/* Binds column i of rd as parameter i + 1 of wr, by its type. */
static void bind_as(tr_dbst *wr, tr_dbst *rd, int i, int null)
{
    switch (null ? TR_DB_NULL : tr_db_column_type(rd, i)) {
    case TR_DB_NULL:
        tr_db_bind_null(wr, i + 1);
        break;
    case TR_DB_INTEGER:
        tr_db_bind_int64(wr, i + 1, tr_db_column_int64(rd, i));
        break;
    case TR_DB_FLOAT:
        tr_db_bind_double(wr, i + 1, tr_db_column_double(rd, i));
        break;
    case TR_DB_BLOB:
        tr_db_bind_blob(wr, i + 1, tr_db_column_blob(rd, i), tr_db_column_bytes(rd, i),
                        TR_DB_TRANSIENT);
        break;
    default:
        tr_db_bind_text(wr, i + 1, (const char *)tr_db_column_text(rd, i),
                        tr_db_column_bytes(rd, i), TR_DB_TRANSIENT);
    }
}

/* Column i of rd as a COPY value, by its type. */
static void copy_value(tr_db *db, tr_dbst *rd, int i, int null)
{
    switch (null ? TR_DB_NULL : tr_db_column_type(rd, i)) {
    case TR_DB_NULL:
        tr_db_copy_null(db);
        break;
    case TR_DB_INTEGER:
        tr_db_copy_int(db, tr_db_column_int64(rd, i));
        break;
    case TR_DB_FLOAT:
        tr_db_copy_double(db, tr_db_column_double(rd, i));
        break;
    case TR_DB_BLOB:
        tr_db_copy_blob(db, tr_db_column_blob(rd, i), (size_t)tr_db_column_bytes(rd, i));
        break;
    default:
        tr_db_copy_text(db, (const char *)tr_db_column_text(rd, i),
                        (size_t)tr_db_column_bytes(rd, i));
    }
}

/* Where a table's copy stands: the last key copied (INT64_MIN none), rows copied, done. */
static int progress_get(copier *c, const char *tbl, int64_t *last, int64_t *copied, int *done)
{
    tr_dbst *q;
    *last = INT64_MIN;
    *copied = 0;
    *done = 0;
    int rc = tr_db_prepare(c->dst->db, TR_COPY_PROGRESS_GET, -1, &q, NULL);
    if (rc) return db_fail(c->dst, rc, "reading the copy's progress");
    tr_db_bind_text(q, 1, c->source, -1, TR_DB_STATIC);
    tr_db_bind_text(q, 2, tbl, -1, TR_DB_STATIC);
    rc = tr_db_step(q);
    if (rc == TR_DB_ROW) {
        if (tr_db_column_type(q, 0) != TR_DB_NULL) *last = tr_db_column_int64(q, 0);
        *copied = tr_db_column_int64(q, 1);
        *done = (int)tr_db_column_int64(q, 2);
    }
    tr_db_finalize(q);
    return rc == TR_DB_ROW || rc == TR_DB_DONE ? 0 : db_fail(c->dst, rc, "reading progress");
}

static int progress_set(copier *c, tr_dbst *pr, const char *tbl, int64_t last, int has_key,
                        int64_t copied, int done)
{
    tr_db_bind_text(pr, 1, c->source, -1, TR_DB_STATIC);
    tr_db_bind_text(pr, 2, tbl, -1, TR_DB_STATIC);
    if (has_key && last != INT64_MIN)
        tr_db_bind_int64(pr, 3, last);
    else
        tr_db_bind_null(pr, 3);
    tr_db_bind_int64(pr, 4, copied);
    tr_db_bind_int64(pr, 5, done);
    int w = tr_db_step(pr);
    tr_db_reset(pr);
    tr_db_clear_bindings(pr);
    return w == TR_DB_DONE ? 0 : db_fail(c->dst, w, "recording the copy's progress");
}

/* artifact_versions' origins, set once all its rows are in (each may name a later row). */
static int copy_origins(copier *c)
{
    tr_dbst *rd = NULL, *wr = NULL;
    int rc = tr_db_prepare(c->src->db, TR_COPY_ORIGINS, -1, &rd, NULL), step;
    if (rc) return db_fail(c->src, rc, "reading version origins");
    if ((rc = tr_db_prepare(c->dst->db, TR_COPY_SET_ORIGIN, -1, &wr, NULL))) {
        rc = db_fail(c->dst, rc, "writing version origins");
        goto fail;
    }
    if ((rc = tr_store_begin(c->dst))) goto fail;
    while ((step = tr_db_step(rd)) == TR_DB_ROW) {
        tr_db_bind_int64(wr, 1, tr_db_column_int64(rd, 0));
        tr_db_bind_int64(wr, 2, tr_db_column_int64(rd, 1));
        int w = tr_db_step(wr);
        tr_db_reset(wr);
        if (w != TR_DB_DONE) {
            rc = db_fail(c->dst, w, "writing version origins");
            tr_store_rollback(c->dst);
            goto fail;
        }
    }
    if (step != TR_DB_DONE) {
        rc = db_fail(c->src, step, "reading version origins");
        tr_store_rollback(c->dst);
        goto fail;
    }
    rc = tr_store_commit(c->dst);
fail:
    tr_db_finalize(rd);
    tr_db_finalize(wr);
    return rc;
}

/* Copies one table's rows past its progress mark, c->batch rows a transaction (all of them in
 * one when the table has no key to resume by). */
static int copy_table(copier *c, const table *t, int64_t *copied)
{
    colmap m;
    int64_t last;
    int done, rc;
    if ((rc = progress_get(c, t->name, &last, copied, &done)) || done) return rc;
    if ((rc = map_columns(c, t, &m))) return rc;
    int self_ref = !strcmp(t->name, "artifact_versions"), haskey = t->key[0] != 0;
    char sel[4096] = "", ins[4096] = "", vals[1024] = "", sql[9000], isql[9000], one[96];
    for (int i = 0; i < m.n; i++) {
        snprintf(one, sizeof one, "%s%s%s%s", i ? ", " : "", strcmp(m.from[i], "rowid") ? "\"" : "",
                 m.from[i], strcmp(m.from[i], "rowid") ? "\"" : "");
        append(sel, sizeof sel, one);
        snprintf(one, sizeof one, "%s\"%s\"", i ? ", " : "", m.to[i]);
        if (!c->dst->pg && !strcmp(m.to[i], "rowid"))
            snprintf(one, sizeof one, "%srowid", i ? ", " : "");
        append(ins, sizeof ins, one);
        snprintf(one, sizeof one, "%s?%d", i ? ", " : "", i + 1);
        append(vals, sizeof vals, one);
    }
    if (haskey)
        snprintf(sql, sizeof sql, "SELECT %s, %s FROM \"%s\" WHERE %s > ?1 ORDER BY %s LIMIT ?2",
                 sel, t->key, t->name, t->key, t->key);
    else
        snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\"", sel, t->name);
    snprintf(isql, sizeof isql, "INSERT INTO \"%s\" (%s) VALUES (%s) ON CONFLICT DO NOTHING",
             t->name, ins, vals);
    /* Into PostgreSQL with COPY (many times faster than row inserts) when every row the table
     * holds came from this copy; rows of its own (the default experiment) need the INSERT's
     * ON CONFLICT. */
    char csql[4400];
    int64_t have = 0;
    int use_copy = c->dst->pg && (rc = count_rows(c->dst, t->name, &have)) == 0 && have == *copied;
    if (rc) return rc;
    snprintf(csql, sizeof csql, TR_PG_NATIVE "COPY \"%s\" (%s) FROM STDIN", t->name, ins);

    tr_dbst *rd = NULL, *wr = NULL, *pr = NULL;
    if ((rc = tr_db_prepare(c->src->db, sql, -1, &rd, NULL))) {
        rc = db_fail(c->src, rc, "reading rows");
        goto fail;
    }
    if ((rc = tr_db_prepare(c->dst->db, isql, -1, &wr, NULL)) ||
        (rc = tr_db_prepare(c->dst->db, TR_COPY_PROGRESS_SET, -1, &pr, NULL))) {
        rc = db_fail(c->dst, rc, "writing rows");
        goto fail;
    }
    for (int more = 1; more;) {
        if ((rc = tr_store_begin(c->dst))) goto fail;
        if (haskey) {
            tr_db_bind_int64(rd, 1, last);
            tr_db_bind_int64(rd, 2, c->batch);
        }
        int got = 0, step;
        if (use_copy && (rc = tr_db_copy_begin(c->dst->db, csql))) {
            rc = db_fail(c->dst, rc, "copying rows");
            tr_store_rollback(c->dst);
            goto fail;
        }
        while ((step = tr_db_step(rd)) == TR_DB_ROW) {
            int w = TR_DB_DONE;
            if (use_copy) {
                for (int i = 0; i < m.n; i++)
                    copy_value(c->dst->db, rd, i, self_ref && i == m.origin);
                if (tr_db_copy_row_end(c->dst->db) != TR_DB_OK) w = TR_DB_ERROR;
            } else {
                for (int i = 0; i < m.n; i++)
                    bind_as(wr, rd, i, self_ref && i == m.origin);
                w = tr_db_step(wr);
                tr_db_reset(wr);
                tr_db_clear_bindings(wr);
            }
            if (w != TR_DB_DONE) {
                step = w;
                break;
            }
            if (haskey) last = tr_db_column_int64(rd, m.n);
            got++;
        }
        tr_db_reset(rd);
        if (use_copy) {
            int w = tr_db_copy_end(c->dst->db); /* the rows' own errors come back here */
            if (w != TR_DB_OK && step == TR_DB_DONE) step = w;
        }
        if (step != TR_DB_DONE) {
            rc = db_fail(got && step != TR_DB_ROW ? c->dst : c->src, step, "copying rows");
            tr_store_rollback(c->dst);
            goto fail;
        }
        *copied += got;
        more = haskey && got == c->batch;
        if ((rc = progress_set(c, pr, t->name, last, haskey, *copied, !more && !self_ref))) {
            tr_store_rollback(c->dst);
            goto fail;
        }
        if ((rc = tr_store_commit(c->dst))) goto fail;
        if (c->fn) c->fn(c->arg, t->name, *copied);
    }
    if (self_ref) {
        if ((rc = copy_origins(c)) || (rc = tr_store_begin(c->dst))) goto fail;
        if ((rc = progress_set(c, pr, t->name, last, haskey, *copied, 1)) ||
            (rc = tr_store_commit(c->dst))) {
            tr_store_rollback(c->dst);
            goto fail;
        }
    }
    rc = 0;
fail:
    tr_db_finalize(rd);
    tr_db_finalize(wr);
    tr_db_finalize(pr);
    return rc;
}

/* A PostgreSQL target's identity columns continue past the ids copied into them. */
static int reset_identities(copier *c, const table *t, int nt)
{
    if (!c->dst->pg) return 0;
    for (int i = 0; i < nt; i++) {
        tr_dbst *q;
        char key[64] = "", sql[1024];
        int rc = tr_db_prepare(c->dst->db, TR_COPY_IDENTITY_PG, -1, &q, NULL);
        if (rc) return db_fail(c->dst, rc, "reading a table's key");
        tr_db_bind_text(q, 1, t[i].name, -1, TR_DB_STATIC);
        if (tr_db_step(q) == TR_DB_ROW) name_copy(key, (const char *)tr_db_column_text(q, 0));
        tr_db_finalize(q);
        if (!key[0]) continue;
        snprintf(sql, sizeof sql, TR_COPY_SETVAL_PG_FMT, t[i].name, key, key, t[i].name);
        int64_t v;
        if ((rc = one_int(c->dst, sql, NULL, NULL, &v, NULL))) return rc;
    }
    return 0;
}

int tr_store_copy(tr_store *src, tr_store *dst, int batch, tr_store_copy_fn fn, void *arg,
                  cJSON **report)
{
    if (!src || !dst || !report) return TRAIL_EINVAL;
    *report = NULL;
    copier c = {src, dst, batch > 0 ? batch : 5000, tr_store_path(src), fn, arg};
    table t[MAX_TABLES];
    int nt = 0, rc, oom = 0, any;
    int64_t runs, resumed;
    if ((rc = tr_store_schema_version(src)) < 0) return rc;
    if (rc != tr_store_schema_version(dst))
        return tr_store_fail(dst, TRAIL_EVERSION, "schema version %d, the source's %d",
                             tr_store_schema_version(dst), rc);
    if ((rc = tr_db_exec(dst->db, TR_COPY_PROGRESS_CREATE, NULL, NULL, NULL)))
        return db_fail(dst, rc, "creating the copy's progress table");
    if ((rc = one_int(dst, TR_COPY_PROGRESS_ANY, c.source, NULL, &resumed, NULL)) ||
        (rc = one_int(dst, TR_COPY_RUNS, NULL, NULL, &runs, &any)))
        return rc;
    if (!resumed && runs > 0)
        return tr_store_fail(dst, TRAIL_EINVAL,
                             "holds %" PRId64 " run(s) already: copy into an empty store", runs);
    if ((rc = list_tables(&c, t, &nt))) return rc;
    cJSON *doc = cJSON_CreateObject(), *tables = cJSON_CreateArray();
    tr_json_add(doc, "source", cJSON_CreateString(c.source), &oom);
    tr_json_add(doc, "target", cJSON_CreateString(tr_store_path(dst)), &oom);
    tr_json_add(doc, "resumed", cJSON_CreateBool(resumed > 0), &oom);
    int ok = 1;
    for (int i = 0; i < nt && !oom; i++) {
        int64_t copied = 0, ns, nd;
        if ((rc = copy_table(&c, &t[i], &copied)) || (rc = count_rows(src, t[i].name, &ns)) ||
            (rc = count_rows(dst, t[i].name, &nd)))
            goto fail;
        cJSON *row = cJSON_CreateObject();
        tr_json_add(row, "table", cJSON_CreateString(t[i].name), &oom);
        tr_json_add(row, "source_rows", tr_json_int(ns), &oom);
        tr_json_add(row, "target_rows", tr_json_int(nd), &oom);
        tr_json_add(row, "copied", tr_json_int(copied), &oom);
        tr_json_add(tables, NULL, row, &oom);
        if (ns != nd) ok = 0;
    }
    if ((rc = reset_identities(&c, t, nt))) goto fail;
    /* the planner's statistics of the new rows now, not at autovacuum's next visit */
    if (dst->pg && (rc = tr_db_exec(dst->db, "ANALYZE", NULL, NULL, NULL))) {
        rc = db_fail(dst, rc, "analyzing the copied tables");
        goto fail;
    }
    tr_json_add(doc, "tables", tables, &oom);
    tables = NULL;
    tr_json_add(doc, "verified", cJSON_CreateBool(ok), &oom);
    if (oom) {
        rc = TRAIL_ENOMEM;
        goto fail;
    }
    *report = doc;
    return ok ? 0
              : tr_store_fail(dst, TRAIL_ESTORE,
                              "row counts differ after the copy (see the "
                              "report): the source changed meanwhile?");
fail:
    cJSON_Delete(tables);
    cJSON_Delete(doc);
    return rc;
}
