/* ui_seed.c - ui_seed DB NRUNS NPOINTS: seeds a store through the store library with the records an
 * agent delivers: runs r1..rNRUNS (experiments e1/e2, param lr = i/1000, metric loss) and a run
 * "big" with NPOINTS points of the metric "wave" (its minimum -5 at step 333333 and maximum 7 at
 * 777777 when NPOINTS passes them). For api_test and the UI benchmarks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "store.h"
#include "trail.h"

#define T0 1795846439123456789LL

typedef struct rb {
    uint8_t buf[4096];
    tr_enc e;
    tr_rec rec;
} rb;

static int failed;

static rb *begin(rb *r, int type, int64_t t)
{
    tr_enc_init(&r->e, r->buf, sizeof r->buf, (uint8_t)type, t);
    return r;
}

static void put(tr_store *s, const tr_stream *st, uint64_t seq, rb *r)
{
    long n = tr_enc_finish(&r->e);
    if (n <= 0 || tr_rec_decode(r->buf, (size_t)n, &r->rec) != 0 ||
        tr_store_ingest(s, st, seq, &r->rec) < 0)
        failed = 1;
}

static void metric(tr_store *s, const tr_stream *st, uint64_t seq, const char *key, int64_t step,
                   double v, int64_t t)
{
    rb r;
    begin(&r, TR_REC_METRIC, t);
    tr_enc_str(&r.e, TR_F_KEY, key);
    tr_enc_i64(&r.e, TR_F_STEP, step);
    tr_enc_f64(&r.e, TR_F_NUM, v);
    put(s, st, seq, &r);
}

static double wave(int64_t i)
{
    return i == 333333 ? -5.0 : i == 777777 ? 7.0 : sin((double)i / 1000.0);
}

static void seed_run(tr_store *s, int i, const char *name, long npoints)
{
    char run[33], v[32];
    snprintf(run, sizeof run, "%032x", 0x1000 + i);
    tr_stream st;
    memset(&st, 0, sizeof st);
    snprintf(st.id, sizeof st.id, "%032x", 0x900000 + i);
    snprintf(st.run_id, sizeof st.run_id, "%s", run);
    st.pid = 100;
    snprintf(st.host, sizeof st.host, "h1");
    int64_t t = T0 + (int64_t)i * 1000000000LL;
    uint64_t seq = 1;
    rb r;
    begin(&r, TR_REC_RUN_START, t);
    tr_enc_str(&r.e, TR_F_RUN_ID, run);
    tr_enc_str(&r.e, TR_F_EXPERIMENT, i % 2 ? "e2" : "e1");
    tr_enc_str(&r.e, TR_F_NAME, name);
    tr_enc_str(&r.e, TR_F_ARGV, "train.py");
    tr_enc_str(&r.e, TR_F_HOST, "h1");
    put(s, &st, seq++, &r);
    begin(&r, TR_REC_PARAM, t + 1);
    tr_enc_str(&r.e, TR_F_KEY, "lr");
    snprintf(v, sizeof v, "%g", (double)i / 1000.0); /* text order is not numeric order */
    tr_enc_str(&r.e, TR_F_VALUE, v);
    put(s, &st, seq++, &r);
    if (npoints)
        for (long k = 0; k < npoints; k++)
            metric(s, &st, seq++, "wave", k, wave(k), t + 2 + k);
    else
        metric(s, &st, seq++, "loss", 0, 1.0 / (i + 1), t + 2);
    begin(&r, TR_REC_RUN_END, t + 500000000LL);
    tr_enc_str(&r.e, TR_F_RUN_ID, run);
    tr_enc_str(&r.e, TR_F_STATUS, "finished");
    tr_enc_i64(&r.e, TR_F_EXIT_CODE, 0);
    put(s, &st, seq++, &r);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: ui_seed DB NRUNS NPOINTS\n");
        return 2;
    }
    int nruns = atoi(argv[2]);
    long npoints = atol(argv[3]);
    tr_store *s;
    char err[4400];
    int rc = tr_store_open(argv[1], TR_STORE_CREATE, &s, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ui_seed: %s\n", err);
        return 1;
    }
    rc = tr_store_begin(s);
    for (int i = 1; !rc && i <= nruns; i++) {
        char name[32];
        snprintf(name, sizeof name, "r%d", i);
        seed_run(s, i, name, 0);
    }
    if (!rc && npoints > 0) seed_run(s, nruns + 1, "big", npoints);
    if (!rc) rc = tr_store_commit(s);
    if (rc || failed) fprintf(stderr, "ui_seed: %s\n", rc ? tr_store_errmsg(s) : "ingest failed");
    tr_store_close(s);
    return rc || failed;
}
