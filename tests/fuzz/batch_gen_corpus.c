/* batch_gen_corpus.c - writes the batch_fuzz seed corpus: valid, broken and hostile batches. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "record.h"

#define KEY "fuzz-key"

static const char *outdir;
static uint8_t buf[1 << 16], t[1 << 16];

static void put(const char *name, const void *data, size_t len)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", outdir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(p);
        exit(1);
    }
}

static void start(tr_batch_enc *e, const char *host)
{
    tr_batch_hdr h;
    memset(&h, 0, sizeof h);
    strcpy(h.stream_id, "00112233445566778899aabbccddeeff");
    strcpy(h.run_id, "0123456789abcdef0123456789abcdef");
    snprintf(h.host, sizeof h.host, "%s", host);
    h.pid = 4242;
    h.sent_ns = 1700000000000000000LL;
    if (tr_batch_enc_init(e, buf, sizeof buf, &h) != 0) exit(1);
}

static void add(tr_batch_enc *e, uint64_t seq, tr_enc *r)
{
    long n = tr_enc_finish(r);
    if (n <= 0 || tr_batch_enc_add(e, seq, r->buf, (size_t)n) != 0) exit(1);
}

static void metric(tr_batch_enc *e, uint64_t seq, int64_t step)
{
    uint8_t b[256];
    tr_enc r;
    tr_enc_init(&r, b, sizeof b, TR_REC_METRIC, 1700000000000000000LL + step);
    tr_enc_str(&r, TR_F_KEY, "loss");
    tr_enc_f64(&r, TR_F_NUM, 1.0 / (double)(step + 1));
    tr_enc_i64(&r, TR_F_STEP, step);
    add(e, seq, &r);
}

/* A whole small run: start, params, tag, metrics, a file, env, a process, end. */
static size_t run_batch(const uint8_t *key)
{
    tr_batch_enc e;
    uint8_t b[1024];
    tr_enc r;
    uint64_t seq = 256;
    start(&e, "node-1");
    tr_enc_init(&r, b, sizeof b, TR_REC_RUN_START, 1);
    tr_enc_str(&r, TR_F_RUN_ID, "0123456789abcdef0123456789abcdef");
    tr_enc_str(&r, TR_F_NAME, "fuzz");
    tr_enc_str(&r, TR_F_EXPERIMENT, "exp");
    tr_enc_str(&r, TR_F_ARGV, "python");
    tr_enc_str(&r, TR_F_ARGV, "train.py");
    tr_enc_i64(&r, TR_F_PID, 4242);
    add(&e, seq += 64, &r);
    tr_enc_init(&r, b, sizeof b, TR_REC_PARAM, 2);
    tr_enc_str(&r, TR_F_KEY, "lr");
    tr_enc_str(&r, TR_F_VALUE, "0.01");
    add(&e, seq += 64, &r);
    tr_enc_init(&r, b, sizeof b, TR_REC_TAG, 3);
    tr_enc_str(&r, TR_F_KEY, "team");
    tr_enc_str(&r, TR_F_VALUE, "ml");
    add(&e, seq += 64, &r);
    for (int i = 0; i < 5; i++)
        metric(&e, seq += 64, i);
    tr_enc_init(&r, b, sizeof b, TR_REC_FILE, 4);
    tr_enc_str(&r, TR_F_PATH, "/data/train.csv");
    tr_enc_i64(&r, TR_F_FLAGS, 0);
    tr_enc_str(&r, TR_F_ROLE, "input");
    tr_enc_u64(&r, TR_F_BYTES_READ, 1000);
    tr_enc_u64(&r, TR_F_DEV, 2049);
    tr_enc_u64(&r, TR_F_INO, 77);
    tr_enc_i64(&r, TR_F_SIZE, 1000);
    tr_enc_i64(&r, TR_F_MTIME_NS, 1699999999000000000LL);
    tr_enc_i64(&r, TR_F_PID, 4242);
    add(&e, seq += 64, &r);
    tr_enc_init(&r, b, sizeof b, TR_REC_ENV, 5);
    tr_enc_str(&r, TR_F_KEY, "API_TOKEN");
    tr_enc_i64(&r, TR_F_REDACTED, 1);
    add(&e, seq += 64, &r);
    tr_enc_init(&r, b, sizeof b, TR_REC_PROC_START, 6);
    tr_enc_i64(&r, TR_F_PID, 4243);
    tr_enc_i64(&r, TR_F_PPID, 4242);
    tr_enc_str(&r, TR_F_EXE, "/usr/bin/python3");
    tr_enc_str(&r, TR_F_KIND, "fork");
    add(&e, seq += 64, &r);
    tr_enc_init(&r, b, sizeof b, TR_REC_RUN_END, 7);
    tr_enc_str(&r, TR_F_RUN_ID, "0123456789abcdef0123456789abcdef");
    tr_enc_str(&r, TR_F_STATUS, "finished");
    tr_enc_i64(&r, TR_F_EXIT_CODE, 0);
    add(&e, seq += 64, &r);
    tr_enc_init(&r, b, sizeof b, 60, 8); /* a type this version does not know */
    tr_enc_str(&r, TR_F_NOTE, "from the future");
    add(&e, seq += 64, &r);
    return tr_batch_enc_finish(&e, key, key ? strlen((const char *)key) : 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    const uint8_t *key = (const uint8_t *)KEY;
    size_t n = run_batch(key);
    put("batch_run_mac", buf, n);
    memcpy(t, buf, n);
    put("batch_truncated", t, n - 9);
    t[0] = 'X';
    put("batch_badmagic", t, n);
    memcpy(t, buf, n);
    t[4] = 2;
    put("batch_version2", t, n);
    memcpy(t, buf, n);
    t[n] = 0;
    put("batch_trailing", t, n + 1);
    memcpy(t, buf, n);
    tr_put_u32(t + 124, 100000); /* nrec over the limit */
    put("batch_toomany", t, n);
    memcpy(t, buf, n);
    tr_put_u64(t + TR_BATCH_HDR_SIZE + 6, 1); /* the first seq, below... still increasing */
    put("batch_seq_changed", t, n);

    n = run_batch(NULL);
    put("batch_run_nomac", buf, n);

    tr_batch_enc e;
    start(&e, "");
    for (int i = 0; i < 50; i++)
        metric(&e, 256 + 64 * (uint64_t)i, i);
    n = tr_batch_enc_finish(&e, key, strlen(KEY));
    put("batch_metrics_mac", buf, n);
    /* two records with the same seq, macced (an insider bug) */
    start(&e, "h");
    metric(&e, 256, 0);
    size_t first = e.len;
    metric(&e, 320, 1);
    tr_put_u64(buf + first, 256);
    n = tr_batch_enc_finish(&e, key, strlen(KEY));
    put("batch_seq_repeat", buf, n);

    tr_batch_reply rep = {.status = TR_BATCH_OK, .acked_seq = 4096, .stored = 50};
    uint8_t mac[TR_BATCH_MAC_LEN] = {1, 2, 3};
    n = tr_batch_reply_encode(buf, sizeof buf, &rep, key, strlen(KEY), mac);
    put("reply_ok", buf, n);
    rep.status = TR_BATCH_EAUTH;
    strcpy(rep.msg, "bad-token: authentication failed (wrong token?)");
    n = tr_batch_reply_encode(buf, sizeof buf, &rep, NULL, 0, NULL);
    put("reply_refused", buf, n);
    put("empty", "", 0);
    put("garbage", "TRLB\x01\x01\xff\xff", 8);
    return 0;
}
