/* ingest.c - idempotent ingest of records into the store, one handler per record type. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lineage.h"
#include "procs.h"
#include "store_int.h"
#include "trail.h"

#define SKIP 2 /* internal: the record lacks a required field; skipped, nothing written */

/* One record being ingested. */
typedef struct ing {
    tr_store *s;
    const tr_stream *st;
    const tr_rec *rec;
    int64_t seq;
    const char *run; /* run id of the record (not NUL-terminated) */
    size_t runlen;
    int64_t pid;     /* TR_F_PID, else the stream's pid */
    int brc;         /* first failed bind */
    const char *key; /* artifact key of the FILE record being stored */
} ing;

static int has_int(const tr_rec *r, uint16_t id, int64_t *v)
{
    return tr_rec_get_i64(r, id, v) == 0;
}

static int has_str(const tr_rec *r, uint16_t id, const char **p, size_t *n)
{
    return tr_rec_get_str(r, id, p, n) == 0;
}

static void note(ing *c, int rc)
{
    if (rc != SQLITE_OK && c->brc == SQLITE_OK) c->brc = rc;
}

static void b_int(ing *c, sqlite3_stmt *st, int i, int64_t v)
{
    note(c, sqlite3_bind_int64(st, i, v));
}

/* Text is bound SQLITE_STATIC: it lives in the record (or the caller's buffer) until reset. */
static void b_text(ing *c, sqlite3_stmt *st, int i, const char *p, size_t n)
{
    note(c, p ? sqlite3_bind_text(st, i, p, (int)n, SQLITE_STATIC) : sqlite3_bind_null(st, i));
}

static void b_cstr(ing *c, sqlite3_stmt *st, int i, const char *p)
{
    b_text(c, st, i, p && *p ? p : NULL, p ? strlen(p) : 0);
}

/* Binds an integer field of the record, or NULL when absent. */
static void b_fint(ing *c, sqlite3_stmt *st, int i, uint16_t id)
{
    int64_t v;
    if (has_int(c->rec, id, &v))
        b_int(c, st, i, v);
    else
        note(c, sqlite3_bind_null(st, i));
}

/* Binds a string field of the record, or NULL when absent. */
static void b_fstr(ing *c, sqlite3_stmt *st, int i, uint16_t id)
{
    const char *p = NULL;
    size_t n = 0;
    has_str(c->rec, id, &p, &n);
    b_text(c, st, i, p, n);
}

/* Steps a statement whose parameters are bound; a failed bind fails it without stepping. */
static int done(ing *c, sqlite3_stmt *st)
{
    return tr_store_step_bound(c->s, &c->brc, st);
}

/* Repeated ARGV fields as a JSON array text (malloc'd), or NULL when the record has none. */
static char *argv_json(const tr_rec *r, int *oom)
{
    size_t cap = 3;
    int any = 0;
    for (uint16_t i = 0; i < r->nfields; i++)
        if (r->fields[i].id == TR_F_ARGV) {
            cap += (size_t)r->fields[i].len * 6 + 3;
            any = 1;
        }
    if (!any) return NULL;
    char *out = malloc(cap), *o = out;
    if (!out) {
        *oom = 1;
        return NULL;
    }
    *o++ = '[';
    for (uint16_t i = 0; i < r->nfields; i++) {
        const tr_field *f = &r->fields[i];
        if (f->id != TR_F_ARGV) continue;
        if (o > out + 1) *o++ = ',';
        *o++ = '"';
        for (uint32_t k = 0; k < f->len; k++) {
            unsigned char ch = f->data[k];
            if (ch == '"' || ch == '\\') {
                *o++ = '\\';
                *o++ = (char)ch;
            } else if (ch < 0x20) {
                static const char hex[] = "0123456789abcdef";
                memcpy(o, "\\u00", 4);
                o[4] = hex[ch >> 4];
                o[5] = hex[ch & 15];
                o += 6;
            } else {
                *o++ = (char)ch;
            }
        }
        *o++ = '"';
    }
    *o++ = ']';
    *o = 0;
    return out;
}

static const char *run_id(const ing *c, char *buf, size_t n);

static int ensure_run(ing *c)
{
    sqlite3_stmt *st = tr_store_stmt(c->s, TR_STMT_RUN_ENSURE);
    if (!st) return TRAIL_ESTORE;
    b_text(c, st, 1, c->run, c->runlen);
    return done(c, st);
}

/* Binds the common leading (run_id, pid) pair and steps after fill() bound the rest. */
static sqlite3_stmt *begin_stmt(ing *c, enum tr_stmt_id id, int with_pid)
{
    sqlite3_stmt *st = tr_store_stmt(c->s, id);
    if (!st) return NULL;
    b_text(c, st, 1, c->run, c->runlen);
    if (with_pid) b_int(c, st, 2, c->pid);
    return st;
}

static int on_run_start(ing *c)
{
    int oom = 0, rc;
    char *argv = argv_json(c->rec, &oom);
    if (oom) return tr_store_fail(c->s, TRAIL_ENOMEM, "out of memory");
    sqlite3_stmt *st = begin_stmt(c, TR_STMT_RUN_START, 0);
    if (!st) {
        free(argv);
        return TRAIL_ESTORE;
    }
    b_fstr(c, st, 2, TR_F_EXPERIMENT);
    b_fstr(c, st, 3, TR_F_NAME);
    b_text(c, st, 4, argv, argv ? strlen(argv) : 0);
    b_fstr(c, st, 5, TR_F_CWD);
    b_fstr(c, st, 6, TR_F_HOST);
    b_fstr(c, st, 7, TR_F_USER);
    b_fint(c, st, 8, TR_F_PID);
    b_int(c, st, 9, c->rec->time_ns);
    b_fstr(c, st, 10, TR_F_SOURCE);
    rc = done(c, st);
    free(argv);
    return rc;
}

static int on_run_meta(ing *c)
{
    int rc = ensure_run(c);
    sqlite3_stmt *st = rc ? NULL : begin_stmt(c, TR_STMT_RUN_META, 0);
    if (!st) return rc ? rc : TRAIL_ESTORE;
    b_fstr(c, st, 2, TR_F_EXPERIMENT);
    b_fstr(c, st, 3, TR_F_NAME);
    return done(c, st);
}

static int on_run_end(ing *c)
{
    const char *status;
    size_t n;
    int64_t code = 0, sig = 0;
    if (!has_str(c->rec, TR_F_STATUS, &status, &n) || n == 0) {
        /* No explicit status: derive it from how the run ended. */
        has_int(c->rec, TR_F_SIGNAL, &sig);
        has_int(c->rec, TR_F_EXIT_CODE, &code);
        status = sig ? "killed" : code ? "failed" : "finished";
        n = strlen(status);
    }
    int rc = ensure_run(c);
    sqlite3_stmt *st = rc ? NULL : begin_stmt(c, TR_STMT_RUN_END, 0);
    if (!st) return rc ? rc : TRAIL_ESTORE;
    b_text(c, st, 2, status, n);
    b_fint(c, st, 3, TR_F_EXIT_CODE);
    b_fint(c, st, 4, TR_F_SIGNAL);
    b_int(c, st, 5, c->rec->time_ns);
    b_fint(c, st, 6, TR_F_UTIME_US);
    b_fint(c, st, 7, TR_F_STIME_US);
    b_fint(c, st, 8, TR_F_MAXRSS_KB);
    return done(c, st);
}

/* Process images, their ends and crashes: collector/procs.c. */
static int on_proc_start(ing *c)
{
    int oom = 0, rc = ensure_run(c);
    if (rc) return rc;
    char *argv = argv_json(c->rec, &oom), run[80];
    if (oom) return tr_store_fail(c->s, TRAIL_ENOMEM, "out of memory");
    rc = tr_procs_image(c->s, run_id(c, run, sizeof run), c->pid, c->rec, argv);
    free(argv);
    return rc;
}

static int on_proc_event(ing *c)
{
    char run[80];
    int rc = ensure_run(c);
    return rc ? rc : tr_procs_event(c->s, run_id(c, run, sizeof run), c->pid, c->rec);
}

/* PARAM and TAG: KEY [VALUE], a later record replaces the value. */
static int on_key_value(ing *c, enum tr_stmt_id id)
{
    const char *key;
    size_t keylen;
    if (!has_str(c->rec, TR_F_KEY, &key, &keylen)) return SKIP;
    int rc = ensure_run(c);
    sqlite3_stmt *st = rc ? NULL : begin_stmt(c, id, 0);
    if (!st) return rc ? rc : TRAIL_ESTORE;
    b_text(c, st, 2, key, keylen);
    b_fstr(c, st, 3, TR_F_VALUE);
    return done(c, st);
}

static int on_metric(ing *c)
{
    const char *key;
    size_t keylen;
    double v;
    int64_t step = 0;
    if (!has_str(c->rec, TR_F_KEY, &key, &keylen) || tr_rec_get_f64(c->rec, TR_F_NUM, &v) != 0)
        return SKIP;
    has_int(c->rec, TR_F_STEP, &step);
    int rc = ensure_run(c);
    sqlite3_stmt *st = rc ? NULL : begin_stmt(c, TR_STMT_METRIC, 0);
    if (!st) return rc ? rc : TRAIL_ESTORE;
    /* SQLite turns a NaN REAL into NULL: `special` keeps what the value was. */
    int special = isnan(v) ? 1 : isinf(v) ? (v > 0 ? 2 : 3) : 0;
    b_text(c, st, 2, key, keylen);
    b_int(c, st, 3, step);
    if (special == 1)
        note(c, sqlite3_bind_null(st, 4));
    else
        note(c, sqlite3_bind_double(st, 4, v));
    b_int(c, st, 5, special);
    b_int(c, st, 6, c->rec->time_ns);
    b_cstr(c, st, 7, c->st->id);
    b_int(c, st, 8, c->seq);
    return done(c, st);
}

static int on_env(ing *c)
{
    const char *name;
    size_t namelen;
    int64_t redacted = 0, pid = 0;
    if (!has_str(c->rec, TR_F_KEY, &name, &namelen)) return SKIP;
    has_int(c->rec, TR_F_REDACTED, &redacted);
    has_int(c->rec, TR_F_PID, &pid); /* 0: run-level env recorded by the launcher */
    int rc = ensure_run(c);
    sqlite3_stmt *st = rc ? NULL : begin_stmt(c, TR_STMT_ENV, 0);
    if (!st) return rc ? rc : TRAIL_ESTORE;
    b_int(c, st, 2, pid);
    b_text(c, st, 3, name, namelen);
    if (redacted == 1)
        note(c, sqlite3_bind_null(st, 4));
    else
        b_fstr(c, st, 4, TR_F_VALUE);
    b_int(c, st, 5, redacted == 1);
    return done(c, st);
}

/* Looks up a row id with `get`, inserting with `add` when missing; bind(c, st, arg) binds the
 * same parameters on both statements. */
static int get_or_add(ing *c, enum tr_stmt_id get, enum tr_stmt_id add,
                      void (*bind)(ing *, sqlite3_stmt *, int64_t), int64_t arg, int64_t *id)
{
    *id = 0;
    sqlite3_stmt *st = tr_store_stmt(c->s, get);
    if (!st) return TRAIL_ESTORE;
    bind(c, st, arg);
    int rc = c->brc ? c->brc : sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc != SQLITE_DONE) {
        c->brc = SQLITE_OK;
        return tr_store_sqlerr(c->s, rc, "reading");
    }
    if (!(st = tr_store_stmt(c->s, add))) return TRAIL_ESTORE;
    bind(c, st, arg);
    if ((rc = done(c, st))) return rc;
    *id = sqlite3_last_insert_rowid(c->s->db);
    return 0;
}

static void bind_artifact(ing *c, sqlite3_stmt *st, int64_t unused)
{
    (void)unused;
    b_cstr(c, st, 1, c->key);
}

/* The record's path as an artifact key (host-qualified when node-local); 0 or SKIP. */
static int key_of(ing *c, uint16_t id, char *out, size_t n)
{
    const char *p;
    size_t len;
    if (!has_str(c->rec, id, &p, &len) || len == 0) return SKIP;
    return tr_lineage_key(p, len, c->st->host, out, n) ? SKIP : 0;
}

/* The run id as a C string. */
static const char *run_id(const ing *c, char *buf, size_t n)
{
    snprintf(buf, n, "%.*s", (int)c->runlen, c->run);
    return buf;
}

static void bind_version(ing *c, sqlite3_stmt *st, int64_t artifact)
{
    b_int(c, st, 1, artifact);
    b_fint(c, st, 2, TR_F_DEV);
    b_fint(c, st, 3, TR_F_INO);
    b_fint(c, st, 4, TR_F_SIZE);
    b_fint(c, st, 5, TR_F_MTIME_NS);
}

static int on_file(ing *c)
{
    const char *path, *role;
    size_t pathlen, rolelen;
    int64_t artifact, version, rd = 0, wr = 0, mmap = 0, end_ns = c->rec->time_ns, start_ns;
    char key[TR_LINEAGE_KEY_MAX], run[80];
    if (!has_str(c->rec, TR_F_PATH, &path, &pathlen) || pathlen == 0) return SKIP;
    if (key_of(c, TR_F_PATH, key, sizeof key)) return SKIP;
    c->key = key;
    if (!has_str(c->rec, TR_F_ROLE, &role, &rolelen) ||
        !((rolelen == 5 && !memcmp(role, "input", 5)) ||
          (rolelen == 6 && !memcmp(role, "output", 6)) ||
          (rolelen == 5 && !memcmp(role, "inout", 5)))) {
        /* No declared role: derive it from what the process did with the file. */
        has_int(c->rec, TR_F_BYTES_READ, &rd);
        has_int(c->rec, TR_F_BYTES_WRITTEN, &wr);
        role = wr && rd ? "inout" : wr ? "output" : "input";
        rolelen = strlen(role);
    }
    has_int(c->rec, TR_F_MMAP, &mmap);
    int rc = ensure_run(c);
    if (rc ||
        (rc = get_or_add(c, TR_STMT_ARTIFACT_GET, TR_STMT_ARTIFACT_ADD, bind_artifact, 0,
                         &artifact)) ||
        (rc = get_or_add(c, TR_STMT_LN_VERSION_FIND, TR_STMT_VERSION_ADD, bind_version, artifact,
                         &version)))
        return rc;
    sqlite3_stmt *st = begin_stmt(c, TR_STMT_EVENT, 1);
    if (!st) return TRAIL_ESTORE;
    b_int(c, st, 3, version);
    b_text(c, st, 4, role, rolelen);
    b_fint(c, st, 5, TR_F_FLAGS);
    b_fint(c, st, 6, TR_F_BYTES_READ);
    b_fint(c, st, 7, TR_F_BYTES_WRITTEN);
    b_int(c, st, 8, mmap != 0);
    b_fint(c, st, 9, TR_F_START_NS);
    has_int(c->rec, TR_F_END_NS, &end_ns);
    b_int(c, st, 10, end_ns);
    b_fstr(c, st, 11, TR_F_SOURCE);
    if ((rc = done(c, st))) return rc;
    if (!has_int(c->rec, TR_F_START_NS, &start_ns)) start_ns = end_ns;
    return tr_lineage_after_file(c->s, run_id(c, run, sizeof run), c->pid, key, version,
                                 role[0] == 'o' || (role[0] == 'i' && role[2] == 'o'), start_ns);
}

static int on_dep(ing *c)
{
    const char *path;
    size_t n;
    if (!has_str(c->rec, TR_F_PATH, &path, &n) || n == 0) return SKIP;
    int rc = ensure_run(c);
    sqlite3_stmt *st = rc ? NULL : begin_stmt(c, TR_STMT_DEP, 1);
    if (!st) return rc ? rc : TRAIL_ESTORE;
    b_text(c, st, 3, path, n);
    b_fstr(c, st, 4, TR_F_KIND);
    return done(c, st);
}

/* FILEOP: paths are stored as artifact keys; lineage then carries or retires versions. */
static int on_fileop(ing *c)
{
    const char *op;
    size_t n;
    char key[TR_LINEAGE_KEY_MAX], key2[TR_LINEAGE_KEY_MAX], opz[16], run[80];
    int64_t ino, size, mtime, dev = 0;
    if (!has_str(c->rec, TR_F_OP, &op, &n) || n == 0) return SKIP;
    int k1 = key_of(c, TR_F_PATH, key, sizeof key) == 0;
    int k2 = key_of(c, TR_F_PATH2, key2, sizeof key2) == 0;
    int rc = ensure_run(c);
    sqlite3_stmt *st = rc ? NULL : begin_stmt(c, TR_STMT_FILEOP, 1);
    if (!st) return rc ? rc : TRAIL_ESTORE;
    b_text(c, st, 3, op, n);
    b_cstr(c, st, 4, k1 ? key : NULL);
    b_cstr(c, st, 5, k2 ? key2 : NULL);
    b_int(c, st, 6, c->rec->time_ns);
    if ((rc = done(c, st))) return rc;
    tr_fingerprint fp;
    int has_fp = has_int(c->rec, TR_F_INO, &ino) && has_int(c->rec, TR_F_SIZE, &size) &&
                 has_int(c->rec, TR_F_MTIME_NS, &mtime);
    if (has_fp) {
        has_int(c->rec, TR_F_DEV, &dev);
        fp = (tr_fingerprint){(uint64_t)dev, (uint64_t)ino, size, mtime};
    }
    snprintf(opz, sizeof opz, "%.*s", (int)n, op);
    return tr_lineage_fileop(c->s, run_id(c, run, sizeof run), c->pid, opz, k1 ? key : NULL,
                             k2 ? key2 : NULL, has_fp ? &fp : NULL, c->rec->time_ns);
}

/* The agent's enrichment (ingest_enrich.c), for a run already stored. */
static int on_enrich(ing *c)
{
    char run[80];
    int rc = ensure_run(c);
    if (rc) return rc;
    rc = c->rec->type == TR_REC_HASH
             ? tr_store_ingest_hash(c->s, c->st->host, c->rec)
             : tr_store_ingest_dep_info(c->s, run_id(c, run, sizeof run), c->rec);
    return rc == 1 ? SKIP : rc;
}

static int apply(ing *c)
{
    switch (c->rec->type) {
    case TR_REC_RUN_START:
        return on_run_start(c);
    case TR_REC_RUN_META:
        return on_run_meta(c);
    case TR_REC_RUN_END:
        return on_run_end(c);
    case TR_REC_PROC_START:
        return on_proc_start(c);
    case TR_REC_PROC_END:
    case TR_REC_CRASH:
        return on_proc_event(c);
    case TR_REC_PARAM:
        return on_key_value(c, TR_STMT_PARAM);
    case TR_REC_TAG:
        return on_key_value(c, TR_STMT_TAG);
    case TR_REC_METRIC:
        return on_metric(c);
    case TR_REC_ENV:
        return on_env(c);
    case TR_REC_FILE:
        return on_file(c);
    case TR_REC_DEP:
        return on_dep(c);
    case TR_REC_FILEOP:
        return on_fileop(c);
    case TR_REC_HASH:
    case TR_REC_DEP_INFO:
        return on_enrich(c);
    default:
        return SKIP; /* a newer producer's type: counted and skipped */
    }
}

int tr_store_stream_hwm(tr_store *s, const char *stream_id, int64_t *hwm)
{
    if (!s || !stream_id || !hwm) return TRAIL_EINVAL;
    sqlite3_stmt *st = tr_store_stmt(s, TR_STMT_STREAM_HWM);
    if (!st) return TRAIL_ESTORE;
    int rc = sqlite3_bind_text(st, 1, stream_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    *hwm = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : tr_store_sqlerr(s, rc, "reading a stream");
}

/* Ingest inside an open transaction. */
static int ingest_tx(tr_store *s, const tr_stream *stream, int64_t seq, const tr_rec *rec)
{
    int64_t hwm;
    int rc = tr_store_stream_hwm(s, stream->id, &hwm);
    if (rc) return rc;
    if (seq <= hwm) return 1;

    ing c = {.s = s, .st = stream, .rec = rec, .seq = seq, .pid = stream->pid};
    has_int(rec, TR_F_PID, &c.pid);
    c.run = stream->run_id;
    c.runlen = strnlen(stream->run_id, sizeof stream->run_id);
    if (rec->type == TR_REC_RUN_START || rec->type == TR_REC_RUN_META ||
        rec->type == TR_REC_RUN_END) {
        const char *p;
        size_t n;
        if (has_str(rec, TR_F_RUN_ID, &p, &n) && n > 0) {
            c.run = p;
            c.runlen = n;
        }
    }
    rc = c.runlen ? apply(&c) : SKIP; /* a record of no run cannot be stored anywhere */
    if (rc < 0) return rc;
    if (rc == SKIP) s->skipped++;

    sqlite3_stmt *st = tr_store_stmt(s, TR_STMT_STREAM_UPSERT);
    if (!st) return TRAIL_ESTORE;
    b_cstr(&c, st, 1, stream->id);
    b_cstr(&c, st, 2, stream->run_id);
    b_int(&c, st, 3, stream->pid);
    b_cstr(&c, st, 4, stream->host);
    b_int(&c, st, 5, seq);
    b_int(&c, st, 6, rec->time_ns);
    return done(&c, st);
}

int tr_store_ingest(tr_store *s, const tr_stream *st, uint64_t seq, const tr_rec *rec)
{
    if (!s || !st || !rec || !st->id[0] || seq > INT64_MAX) return TRAIL_EINVAL;
    int own = !s->in_tx, rc;
    if (own && (rc = tr_store_begin(s))) return rc;
    rc = ingest_tx(s, st, (int64_t)seq, rec);
    if (own) {
        if (rc >= 0) {
            int crc = tr_store_commit(s);
            if (crc) rc = crc;
        } else {
            char keep[sizeof s->err];
            memcpy(keep, s->err, sizeof keep);
            tr_store_rollback(s);
            memcpy(s->err, keep, sizeof keep);
        }
    } else if (rc < 0) {
        s->tx_broken = rc; /* part of this record may be written: the batch must not commit */
    }
    return rc;
}
