/* ingest.c - idempotent ingest of records into the store, one handler per record type. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "lineage.h"
#include "params.h"
#include "owner.h"
#include "procs.h"
#include "settle.h"
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
    int64_t pid; /* TR_F_PID, else the stream's pid */
} ing;

static int has_int(const tr_rec *r, uint16_t id, int64_t *v)
{
    return tr_rec_get_i64(r, id, v) == 0;
}

static int has_str(const tr_rec *r, uint16_t id, const char **p, size_t *n)
{
    return tr_rec_get_str(r, id, p, n) == 0;
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

/* The run's row exists: one statement per run and transaction (ingest_cache.c). */
static int ensure_run(ing *c)
{
    if (tr_ingest_run_known(c->s, c->run, c->runlen)) return 0;
    tr_stmt q;
    int rc = tr_stmt_begin(&q, c->s, TR_STMT_RUN_ENSURE);
    if (rc) return rc;
    tr_bind_text(&q, 1, c->run, c->runlen);
    if ((rc = tr_stmt_done(&q)) == 0) tr_ingest_run_seen(c->s, c->run, c->runlen);
    return rc;
}

/* Starts statement id with the common leading (run_id[, pid]) bound; 0 or TRAIL_ESTORE. */
static int begin_stmt(ing *c, tr_stmt *q, enum tr_stmt_id id, int with_pid)
{
    int rc = tr_stmt_begin(q, c->s, id);
    if (rc) return rc;
    tr_bind_text(q, 1, c->run, c->runlen);
    if (with_pid) tr_bind_int(q, 2, c->pid);
    return 0;
}

static int on_run_start(ing *c)
{
    int oom = 0, rc;
    char *argv = argv_json(c->rec, &oom);
    if (oom) return tr_store_fail(c->s, TRAIL_ENOMEM, "out of memory");
    tr_stmt q;
    if ((rc = begin_stmt(c, &q, TR_STMT_RUN_START, 0))) {
        free(argv);
        return rc;
    }
    tr_bind_field_str(&q, 2, c->rec, TR_F_EXPERIMENT);
    tr_bind_field_str(&q, 3, c->rec, TR_F_NAME);
    tr_bind_text(&q, 4, argv, argv ? strlen(argv) : 0);
    tr_bind_field_str(&q, 5, c->rec, TR_F_CWD);
    tr_bind_field_str(&q, 6, c->rec, TR_F_HOST);
    tr_bind_field_str(&q, 7, c->rec, TR_F_USER);
    tr_bind_field_int(&q, 8, c->rec, TR_F_PID);
    tr_bind_int(&q, 9, c->rec->time_ns);
    tr_bind_field_str(&q, 10, c->rec, TR_F_SOURCE);
    rc = tr_stmt_done(&q);
    free(argv);
    int64_t lpid;
    if (rc || !has_int(c->rec, TR_F_LAUNCHER_PID, &lpid)) return rc;
    /* how a later delivery tells whether the launcher still lives (settle.c) */
    if ((rc = begin_stmt(c, &q, TR_STMT_RUN_LAUNCHER, 0))) return rc;
    tr_bind_int(&q, 2, lpid);
    tr_bind_field_int(&q, 3, c->rec, TR_F_LAUNCHER_START);
    tr_bind_field_int(&q, 4, c->rec, TR_F_ROOT_START);
    tr_bind_field_str(&q, 5, c->rec, TR_F_BOOT_ID);
    return tr_stmt_done(&q);
}

static int on_run_meta(ing *c)
{
    int rc = ensure_run(c);
    tr_stmt q;
    if (rc || (rc = begin_stmt(c, &q, TR_STMT_RUN_META, 0))) return rc;
    tr_bind_field_str(&q, 2, c->rec, TR_F_EXPERIMENT);
    tr_bind_field_str(&q, 3, c->rec, TR_F_NAME);
    return tr_stmt_done(&q);
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
    tr_stmt q;
    if (rc || (rc = begin_stmt(c, &q, TR_STMT_RUN_END, 0))) return rc;
    tr_bind_text(&q, 2, status, n);
    tr_bind_field_int(&q, 3, c->rec, TR_F_EXIT_CODE);
    tr_bind_field_int(&q, 4, c->rec, TR_F_SIGNAL);
    tr_bind_int(&q, 5, c->rec->time_ns);
    tr_bind_field_int(&q, 6, c->rec, TR_F_UTIME_US);
    tr_bind_field_int(&q, 7, c->rec, TR_F_STIME_US);
    tr_bind_field_int(&q, 8, c->rec, TR_F_MAXRSS_KB);
    return tr_stmt_done(&q);
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

/* PARAM and TAG: KEY [VALUE]; a later TAG replaces the value, a param keeps its first value
 * (params.c counts a different later one as a conflict). */
static int on_key_value(ing *c, enum tr_stmt_id id)
{
    const char *key, *val = NULL;
    size_t keylen, vallen = 0;
    if (!has_str(c->rec, TR_F_KEY, &key, &keylen)) return SKIP;
    int rc = ensure_run(c);
    if (!rc && id == TR_STMT_PARAM) {
        has_str(c->rec, TR_F_VALUE, &val, &vallen);
        rc = tr_store_param_check(c->s, c->run, c->runlen, key, keylen, val, vallen);
        if (rc == 1) return 0;
    }
    tr_stmt q;
    if (rc || (rc = begin_stmt(c, &q, id, 0))) return rc;
    tr_bind_text(&q, 2, key, keylen);
    tr_bind_field_str(&q, 3, c->rec, TR_F_VALUE);
    return tr_stmt_done(&q);
}

/* DROPPED: records a writer lost (spool full) and damaged frames the agent skipped; the run
 * keeps their totals (the run document's "dropped" and "damaged"). A record is ingested once. */
static int on_dropped(ing *c)
{
    int64_t n = 0, bad = 0;
    has_int(c->rec, TR_F_COUNT, &n);
    has_int(c->rec, TR_F_DAMAGED, &bad);
    if (n < 0) n = 0;
    if (bad < 0) bad = 0;
    if (!n && !bad) return SKIP;
    int rc = ensure_run(c);
    tr_stmt q;
    if (rc || (rc = begin_stmt(c, &q, TR_STMT_DROPPED_ADD, 0))) return rc;
    tr_bind_int(&q, 2, n);
    tr_bind_int(&q, 3, bad);
    return tr_stmt_done(&q);
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
    const char *src = NULL;
    size_t srclen = 0;
    int drop, rc = ensure_run(c);
    has_str(c->rec, TR_F_SOURCE, &src, &srclen);
    /* console points of a key logged otherwise are dropped (console.c) */
    if (rc ||
        (rc = tr_store_metric_source(c->s, c->run, c->runlen, key, keylen, src, srclen, &drop)))
        return rc;
    if (drop) return 0;
    /* SQLite turns a NaN REAL into NULL: `special` keeps what the value was. */
    int special = isnan(v) ? 1 : isinf(v) ? (v > 0 ? 2 : 3) : 0;
    /* inserted with the next points of the transaction, before any other statement */
    return tr_ingest_metric(c->s, c->run, c->runlen, key, keylen, step, v, special, c->rec->time_ns,
                            c->st->id, c->seq, src, srclen);
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
    tr_stmt q;
    if (rc || (rc = begin_stmt(c, &q, TR_STMT_ENV, 0))) return rc;
    tr_bind_int(&q, 2, pid);
    tr_bind_text(&q, 3, name, namelen);
    if (redacted == 1)
        tr_bind_null(&q, 4);
    else
        tr_bind_field_str(&q, 4, c->rec, TR_F_VALUE);
    tr_bind_int(&q, 5, redacted == 1);
    return tr_stmt_done(&q);
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

static int on_file(ing *c)
{
    const char *path, *role;
    size_t pathlen, rolelen;
    int64_t artifact, version, rd = 0, wr = 0, mmap = 0, end_ns = c->rec->time_ns, start_ns;
    char key[TR_LINEAGE_KEY_MAX], run[80];
    if (!has_str(c->rec, TR_F_PATH, &path, &pathlen) || pathlen == 0) return SKIP;
    if (key_of(c, TR_F_PATH, key, sizeof key)) return SKIP;
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
    if (rc) return rc;
    /* the FILE of a close replaces the agent's settle of the same open; a settle comes once */
    int64_t open_seq = 0, seq = 0;
    int settle = c->rec->type == TR_REC_FILE_SETTLE;
    has_int(c->rec, TR_F_END_NS, &end_ns);
    has_int(c->rec, TR_F_SEQ, &seq);
    if (!has_int(c->rec, TR_F_START_NS, &start_ns)) start_ns = end_ns;
    /* a run none of whose opens was settled (most) has nothing to check: asked once (a version
     * lineage drops is forgotten by ingest's cache as it goes: lineage.c, lineage_order.c) */
    int settled = 1;
    if (has_int(c->rec, TR_F_OPEN_SEQ, &open_seq) && open_seq && !settle &&
        (rc = tr_ingest_run_settled(c->s, c->run, c->runlen, &settled)))
        return rc;
    if (settle) tr_ingest_run_settles(c->s, c->run, c->runlen);
    if (open_seq && settled &&
        (rc = tr_lineage_settle_check(c->s, run_id(c, run, sizeof run), c->pid, open_seq, settle,
                                      start_ns)))
        return rc == 1 ? 0 : rc;
    int fresh;
    if ((rc = tr_ingest_artifact(c->s, key, &artifact, &fresh)) ||
        (rc = tr_ingest_version(c->s, artifact, fresh, c->rec, &version)))
        return rc;
    if (fresh) tr_fresh_note(c->s, key, c->rec); /* a new artifact's version: no hash yet */
    tr_stmt q;
    if ((rc = begin_stmt(c, &q, TR_STMT_EVENT, 1))) return rc;
    tr_bind_int(&q, 3, version);
    tr_bind_text(&q, 4, role, rolelen);
    tr_bind_field_int(&q, 5, c->rec, TR_F_FLAGS);
    tr_bind_field_int(&q, 6, c->rec, TR_F_BYTES_READ);
    tr_bind_field_int(&q, 7, c->rec, TR_F_BYTES_WRITTEN);
    tr_bind_int(&q, 8, mmap != 0);
    tr_bind_field_int(&q, 9, c->rec, TR_F_START_NS);
    tr_bind_int(&q, 10, end_ns);
    tr_bind_field_str(&q, 11, c->rec, TR_F_SOURCE);
    if ((rc = tr_stmt_done(&q))) return rc;
    /* a settled open keeps what ties it to its open; a close needs no second statement */
    if (settle && (rc = tr_lineage_event_order(c->s, tr_db_last_insert_rowid(c->s->db), seq,
                                               open_seq, "killed")))
        return rc;
    int produced = role[0] == 'o' || (role[0] == 'i' && role[2] == 'o'), ops = 0;
    if (produced && (rc = tr_ingest_run_moves(c->s, c->run, c->runlen, &ops))) return rc;
    return tr_lineage_after_file(c->s, run_id(c, run, sizeof run), c->pid, key, artifact, version,
                                 produced, start_ns, ops);
}

static int on_dep(ing *c)
{
    const char *path;
    size_t n;
    if (!has_str(c->rec, TR_F_PATH, &path, &n) || n == 0) return SKIP;
    int rc = ensure_run(c);
    tr_stmt q;
    if (rc || (rc = begin_stmt(c, &q, TR_STMT_DEP, 1))) return rc;
    tr_bind_text(&q, 3, path, n);
    tr_bind_field_str(&q, 4, c->rec, TR_F_KIND);
    return tr_stmt_done(&q);
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
    tr_stmt q;
    if (rc || (rc = begin_stmt(c, &q, TR_STMT_FILEOP, 1))) return rc;
    tr_bind_text(&q, 3, op, n);
    tr_bind_cstr(&q, 4, k1 ? key : NULL);
    tr_bind_cstr(&q, 5, k2 ? key2 : NULL);
    tr_bind_int(&q, 6, c->rec->time_ns);
    if ((rc = tr_stmt_done(&q))) return rc;
    int64_t rowid = tr_db_last_insert_rowid(c->s->db), seq = 0, acted = 0;
    has_int(c->rec, TR_F_SEQ, &seq);
    tr_fingerprint fp;
    int has_fp = has_int(c->rec, TR_F_INO, &ino) && has_int(c->rec, TR_F_SIZE, &size) &&
                 has_int(c->rec, TR_F_MTIME_NS, &mtime);
    if (has_fp) {
        has_int(c->rec, TR_F_DEV, &dev);
        fp = (tr_fingerprint){(uint64_t)dev, (uint64_t)ino, size, mtime};
    }
    snprintf(opz, sizeof opz, "%.*s", (int)n, op);
    tr_ingest_run_moved(c->s, c->run, c->runlen); /* its files' later FILE records look */
    if ((rc = tr_lineage_fileop(c->s, run_id(c, run, sizeof run), c->pid, opz, k1 ? key : NULL,
                                k2 ? key2 : NULL, has_fp ? &fp : NULL, c->rec->time_ns, &acted)))
        return rc;
    return tr_lineage_op_order(c->s, rowid, seq, acted);
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
    case TR_REC_DROPPED:
        return on_dropped(c);
    case TR_REC_ENV:
        return on_env(c);
    case TR_REC_FILE:
    case TR_REC_FILE_SETTLE: /* the agent's for an open of a killed process (settle_files.c) */
        return on_file(c);
    case TR_REC_DEP:
        return on_dep(c);
    case TR_REC_FILEOP:
        return on_fileop(c);
    case TR_REC_HASH:
    case TR_REC_DEP_INFO:
        return on_enrich(c);
    case TR_REC_RUN_SETTLE: { /* the agent on the run's host found its launcher gone */
        int rc = tr_store_settle_run(c->s, c->run, c->runlen, c->st->id);
        return rc == 1 ? 0 : rc == 0 ? SKIP : rc;
    }
    case TR_REC_CONSOLE: {
        int rc = ensure_run(c);
        if (!rc) rc = tr_store_ingest_console(c->s, c->run, c->runlen, c->rec);
        return rc == 1 ? SKIP : rc;
    }
    default:
        return SKIP; /* a newer producer's type: counted and skipped */
    }
}

int tr_store_stream_hwm(tr_store *s, const char *stream_id, int64_t *hwm)
{
    if (!s || !stream_id || !hwm) return TRAIL_EINVAL;
    return tr_ingest_stream_hwm(s, stream_id, hwm); /* this transaction's marks included */
}

/* Ingest inside an open transaction. */
static int ingest_tx(tr_store *s, const tr_stream *stream, int64_t seq, const tr_rec *rec)
{
    int64_t hwm;
    int rc = tr_ingest_stream_hwm(s, stream->id, &hwm); /* ingest_cache.c: once per batch */
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
            /* a stream's records belong to its run: one naming another run is refused */
            if (c.runlen && (n != c.runlen || memcmp(p, c.run, n))) c.runlen = 0;
            if (!stream->run_id[0]) {
                c.run = p;
                c.runlen = n;
            }
        }
    }
    /* a new stream joins its run only as the run's owner, from the run's host (owner.c) */
    if (c.runlen && hwm < 0 && (rc = tr_store_stream_admit(s, stream, c.run, c.runlen)) != 0) {
        if (rc < 0) return rc;
        s->skipped++;
        return TR_INGEST_REFUSED;
    }
    rc = c.runlen ? apply(&c) : SKIP; /* a record of no run cannot be stored anywhere */
    if (rc < 0) return rc;
    if (rc == SKIP) s->skipped++;
    /* A known stream's row is written once per transaction, at commit (ingest_cache.c); a new
     * one's now, for owner.c's claims on it. */
    if (hwm >= 0) return tr_ingest_stream_mark(s, stream, seq, rec->time_ns, 0);

    tr_stmt q;
    if ((rc = tr_stmt_begin(&q, s, TR_STMT_STREAM_UPSERT))) return rc;
    tr_bind_cstr(&q, 1, stream->id);
    tr_bind_cstr(&q, 2, stream->run_id);
    tr_bind_int(&q, 3, stream->pid);
    tr_bind_cstr(&q, 4, stream->host);
    tr_bind_int(&q, 5, seq);
    tr_bind_int(&q, 6, rec->time_ns);
    tr_bind_int(&q, 7, seq);
    tr_bind_int(&q, 8, rec->time_ns);
    if ((rc = tr_stmt_done(&q)) || (rc = tr_ingest_stream_moved(s, stream->id)) ||
        (rc = tr_store_stream_agent(s, stream)))
        return rc;
    return tr_ingest_stream_mark(s, stream, seq, rec->time_ns, 1);
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
