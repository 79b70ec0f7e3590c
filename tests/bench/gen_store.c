/* gen_store.c - builds a large synthetic trail store (default 1M runs, 10M file events) for
 * benchmarks. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record.h"
#include "store.h"
#include "trail.h"

/* The store is filled through tr_store_ingest, as an agent would: versions, renames and lineage
 * links are the real ones. Runs come in pipelines of three: prepare writes a directory of
 * sample files and a label file; train reads them (through several worker pids) and saves a
 * model with tmp + rename; evaluate reads the model and the labels and writes a report. Every
 * tenth pipeline rewrites the previous data set in place (new versions of the same paths). */

typedef struct gen {
    tr_store *s;
    tr_stream st;
    uint64_t seq, ino;
    int64_t t;
    long records, events;
    uint8_t buf[4096];
    tr_enc e;
} gen;

static void die(gen *g, const char *what)
{
    fprintf(stderr, "gen_store: %s: %s\n", what, g->s ? tr_store_errmsg(g->s) : "");
    exit(1);
}

static tr_enc *rec(gen *g, int type)
{
    g->t += 1000;
    tr_enc_init(&g->e, g->buf, sizeof g->buf, (uint8_t)type, g->t);
    return &g->e;
}

static void put(gen *g)
{
    tr_rec r;
    long n = tr_enc_finish(&g->e);
    if (n < 0 || tr_rec_decode(g->buf, (size_t)n, &r) != 0) die(g, "encoding");
    if (tr_store_ingest(g->s, &g->st, g->seq++, &r) < 0) die(g, "ingest");
    if (++g->records % 50000 == 0 && (tr_store_commit(g->s) || tr_store_begin(g->s)))
        die(g, "commit");
}

static void begin_run(gen *g, long id, const char *name, long pipeline)
{
    snprintf(g->st.run_id, sizeof g->st.run_id, "%016lx%016lx", (unsigned long)id, 0x7a11UL);
    snprintf(g->st.id, sizeof g->st.id, "%016lx%016lx", (unsigned long)id, 0x5eedUL);
    g->seq = 0;
    tr_enc *e = rec(g, TR_REC_RUN_START);
    tr_enc_str(e, TR_F_RUN_ID, g->st.run_id);
    tr_enc_str(e, TR_F_NAME, name);
    tr_enc_str(e, TR_F_EXPERIMENT, pipeline % 2 ? "odd" : "even");
    tr_enc_str(e, TR_F_ARGV, "python3");
    tr_enc_str(e, TR_F_ARGV, name);
    tr_enc_str(e, TR_F_HOST, g->st.host);
    put(g);
    char v[32];
    snprintf(v, sizeof v, "%ld", pipeline % 97);
    e = rec(g, TR_REC_PARAM);
    tr_enc_str(e, TR_F_KEY, "seed");
    tr_enc_str(e, TR_F_VALUE, v);
    put(g);
}

static void end_run(gen *g, double metric)
{
    tr_enc *e = rec(g, TR_REC_METRIC);
    tr_enc_str(e, TR_F_KEY, "loss");
    tr_enc_f64(e, TR_F_NUM, metric);
    tr_enc_i64(e, TR_F_STEP, 0);
    put(g);
    e = rec(g, TR_REC_RUN_END);
    tr_enc_str(e, TR_F_RUN_ID, g->st.run_id);
    tr_enc_i64(e, TR_F_EXIT_CODE, 0);
    put(g);
}

static void file(gen *g, const char *path, const char *role, uint64_t ino, int64_t mtime, int pid)
{
    tr_enc *e = rec(g, TR_REC_FILE);
    tr_enc_str(e, TR_F_PATH, path);
    tr_enc_str(e, TR_F_ROLE, role);
    tr_enc_i64(e, TR_F_PID, pid);
    tr_enc_u64(e, TR_F_DEV, 64);
    tr_enc_u64(e, TR_F_INO, ino);
    tr_enc_i64(e, TR_F_SIZE, 4096);
    tr_enc_i64(e, TR_F_MTIME_NS, mtime);
    tr_enc_i64(e, TR_F_START_NS, g->t - 10);
    tr_enc_u64(e, role[0] == 'i' ? TR_F_BYTES_READ : TR_F_BYTES_WRITTEN, 4096);
    put(g);
    g->events++;
}

int main(int argc, char **argv)
{
    const char *path = "bench.db";
    long runs = 1000000, events = 10000000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--store"))
            path = argv[i + 1];
        else if (!strcmp(argv[i], "--runs"))
            runs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--events"))
            events = atol(argv[i + 1]);
        else {
            fprintf(stderr, "usage: gen_store [--store PATH] [--runs N] [--events N]\n");
            return 2;
        }
    }
    gen g;
    memset(&g, 0, sizeof g);
    char err[512];
    if (tr_store_open(path, TR_STORE_CREATE, &g.s, err, sizeof err) != 0) {
        fprintf(stderr, "gen_store: %s\n", err);
        return 1;
    }
    snprintf(g.st.host, sizeof g.st.host, "bench-node");
    g.st.pid = 1;
    g.t = 1795846439000000000LL;
    /* Per pipeline: prepare writes k samples + labels, train reads them, evaluate reads 2. */
    long per = events * 3 / (runs > 0 ? runs : 1), k = (per - 6) / 2;
    if (k < 1) k = 1;
    time_t t0 = time(NULL);
    if (tr_store_begin(g.s)) die(&g, "begin");
    for (long p = 0; p * 3 < runs; p++) {
        long ds = p % 10 == 9 ? p - 1 : p; /* rewrite the previous data set in place */
        char pth[256], model[256], tmp[300], labels[256], report[256];
        snprintf(labels, sizeof labels, "/data/ds%ld/labels.csv", ds);
        snprintf(model, sizeof model, "/models/p%ld/model.pt", p);
        snprintf(tmp, sizeof tmp, "%s.tmp", model);
        snprintf(report, sizeof report, "/reports/p%ld/report.json", p);
        uint64_t base = g.ino;
        int64_t mt = g.t;
        begin_run(&g, p * 3, "prepare", p);
        for (long i = 0; i < k; i++) {
            snprintf(pth, sizeof pth, "/data/ds%ld/samples/%06ld.bin", ds, i);
            file(&g, pth, "output", base + (uint64_t)i, mt, 1);
        }
        file(&g, labels, "output", base + (uint64_t)k, mt, 1);
        end_run(&g, 0);
        begin_run(&g, p * 3 + 1, "train", p);
        for (long i = 0; i < k; i++) {
            snprintf(pth, sizeof pth, "/data/ds%ld/samples/%06ld.bin", ds, i);
            file(&g, pth, "input", base + (uint64_t)i, mt, 2 + (int)(i % 4));
        }
        file(&g, labels, "input", base + (uint64_t)k, mt, 2);
        file(&g, tmp, "output", base + (uint64_t)k + 1, mt + 1, 2);
        tr_enc *e = rec(&g, TR_REC_FILEOP);
        tr_enc_str(e, TR_F_OP, "rename");
        tr_enc_str(e, TR_F_PATH, tmp);
        tr_enc_str(e, TR_F_PATH2, model);
        put(&g);
        end_run(&g, 1.0 / (double)(p % 50 + 1));
        begin_run(&g, p * 3 + 2, "evaluate", p);
        file(&g, model, "input", base + (uint64_t)k + 1, mt + 1, 1);
        file(&g, labels, "input", base + (uint64_t)k, mt, 1);
        file(&g, report, "output", base + (uint64_t)k + 2, mt + 2, 1);
        end_run(&g, 0.5);
        g.ino += (uint64_t)k + 3;
        if ((p + 1) % 10000 == 0)
            fprintf(stderr, "gen_store: %ld runs, %ld file events, %lds\n", (p + 1) * 3, g.events,
                    (long)(time(NULL) - t0));
    }
    if (tr_store_commit(g.s)) die(&g, "commit");
    fprintf(stderr, "gen_store: %s: %ld runs, %ld file events, %ld records in %lds\n", path,
            (runs + 2) / 3 * 3, g.events, g.records, (long)(time(NULL) - t0));
    tr_store_close(g.s);
    return 0;
}
