/* lineage_rec.h - test helper: builds stores from FILE/FILEOP/... records through the store
 * library. */
#ifndef LINEAGE_REC_H
#define LINEAGE_REC_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "record.h"
#include "store.h"
#include "tassert.h"
#include "trail.h"

#define LR_T0 1795846439000000000LL

/* One writer context: a store and a stream per (run, host). */
typedef struct lr {
    tr_store *s;
    tr_stream st;
    uint64_t seq;
    int64_t t;
} lr;

static uint8_t lr_buf[8192];

static inline void lr_begin(lr *c, tr_store *s, const char *run, const char *host)
{
    static int n;
    memset(c, 0, sizeof *c);
    c->s = s;
    snprintf(c->st.id, sizeof c->st.id, "%08x%024x", ++n, 0x5eed);
    snprintf(c->st.run_id, sizeof c->st.run_id, "%s", run);
    snprintf(c->st.host, sizeof c->st.host, "%s", host ? host : "h1");
    c->st.pid = 100;
    c->t = LR_T0 + (int64_t)n * 1000000000LL;
}

static tr_enc lr_e;

static tr_enc *lr_rec(lr *c, int type)
{
    c->t += 1000;
    tr_enc_init(&lr_e, lr_buf, sizeof lr_buf, (uint8_t)type, c->t);
    return &lr_e;
}

static int lr_put(lr *c)
{
    tr_rec rec;
    long n = tr_enc_finish(&lr_e);
    T_ASSERT(n > 0);
    T_ASSERT(tr_rec_decode(lr_buf, (size_t)n, &rec) == 0);
    int rc = tr_store_ingest(c->s, &c->st, c->seq++, &rec);
    if (rc < 0) T_FAIL("ingest: %s", tr_store_errmsg(c->s));
    return rc;
}

static inline void lr_start(lr *c, const char *name, const char *param_seed)
{
    tr_enc *e = lr_rec(c, TR_REC_RUN_START);
    tr_enc_str(e, TR_F_RUN_ID, c->st.run_id);
    tr_enc_str(e, TR_F_NAME, name);
    tr_enc_str(e, TR_F_ARGV, "python3");
    tr_enc_str(e, TR_F_ARGV, "stage.py");
    tr_enc_str(e, TR_F_HOST, c->st.host);
    lr_put(c);
    if (param_seed) {
        e = lr_rec(c, TR_REC_PARAM);
        tr_enc_str(e, TR_F_KEY, "seed");
        tr_enc_str(e, TR_F_VALUE, param_seed);
        lr_put(c);
    }
}

static inline void lr_end(lr *c, int code)
{
    tr_enc *e = lr_rec(c, TR_REC_RUN_END);
    tr_enc_str(e, TR_F_RUN_ID, c->st.run_id);
    tr_enc_i64(e, TR_F_EXIT_CODE, code);
    lr_put(c);
}

/* A FILE record: role "input"/"output", fingerprint (dev, ino, size, mtime). */
static inline void lr_file(lr *c, const char *path, const char *role, uint64_t dev, uint64_t ino,
                           int64_t size, int64_t mtime)
{
    tr_enc *e = lr_rec(c, TR_REC_FILE);
    tr_enc_str(e, TR_F_PATH, path);
    tr_enc_str(e, TR_F_ROLE, role);
    tr_enc_str(e, TR_F_SOURCE, "shim");
    tr_enc_i64(e, TR_F_START_NS, c->t - 500);
    tr_enc_i64(e, TR_F_END_NS, c->t);
    tr_enc_u64(e, role[0] == 'i' ? TR_F_BYTES_READ : TR_F_BYTES_WRITTEN, (uint64_t)size);
    tr_enc_u64(e, TR_F_DEV, dev);
    tr_enc_u64(e, TR_F_INO, ino);
    tr_enc_i64(e, TR_F_SIZE, size);
    tr_enc_i64(e, TR_F_MTIME_NS, mtime);
    lr_put(c);
}

/* A FILEOP; ino 0 = no fingerprint of the result. */
static inline void lr_op(lr *c, const char *op, const char *path, const char *path2, uint64_t ino,
                         int64_t size, int64_t mtime)
{
    tr_enc *e = lr_rec(c, TR_REC_FILEOP);
    tr_enc_str(e, TR_F_OP, op);
    tr_enc_str(e, TR_F_PATH, path);
    tr_enc_str(e, TR_F_PATH2, path2);
    if (ino) {
        tr_enc_u64(e, TR_F_DEV, 1);
        tr_enc_u64(e, TR_F_INO, ino);
        tr_enc_i64(e, TR_F_SIZE, size);
        tr_enc_i64(e, TR_F_MTIME_NS, mtime);
    }
    lr_put(c);
}

static inline void lr_kv(lr *c, int type, const char *key, const char *value)
{
    tr_enc *e = lr_rec(c, type);
    tr_enc_str(e, TR_F_KEY, key);
    tr_enc_str(e, TR_F_VALUE, value);
    if (type == TR_REC_DEP) {
        tr_enc_init(&lr_e, lr_buf, sizeof lr_buf, TR_REC_DEP, c->t);
        tr_enc_str(&lr_e, TR_F_PATH, key);
        tr_enc_str(&lr_e, TR_F_KIND, value);
    }
    lr_put(c);
}

static inline void lr_metric(lr *c, const char *key, double v)
{
    tr_enc *e = lr_rec(c, TR_REC_METRIC);
    tr_enc_str(e, TR_F_KEY, key);
    tr_enc_f64(e, TR_F_NUM, v);
    tr_enc_i64(e, TR_F_STEP, 0);
    lr_put(c);
}

#endif
