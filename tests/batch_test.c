/* batch_test.c - unit: the wire batch codec, its limits, HMAC authentication, replies, tokens. */
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "record.h"
#include "tassert.h"
#include "trail.h"

#define STREAM "0123456789abcdef0123456789abcdef"
#define RUN "fedcba9876543210fedcba9876543210"

static const uint8_t key[] = "the shared token";
static uint8_t buf[1 << 20];

static size_t metric(uint8_t *b, size_t cap, int64_t step)
{
    tr_enc e;
    tr_enc_init(&e, b, cap, TR_REC_METRIC, 1700000000000000000LL + step);
    tr_enc_str(&e, TR_F_KEY, "loss");
    tr_enc_f64(&e, TR_F_NUM, 1.0 / (double)(step + 1));
    tr_enc_i64(&e, TR_F_STEP, step);
    return (size_t)tr_enc_finish(&e);
}

/* A batch of n metrics with seqs 256, 320, ...; returns its length. */
static size_t make(uint8_t *out, size_t cap, int n, const uint8_t *k, size_t kl)
{
    tr_batch_hdr h;
    memset(&h, 0, sizeof h);
    strcpy(h.stream_id, STREAM);
    strcpy(h.run_id, RUN);
    strcpy(h.host, "node-7");
    h.pid = 4242;
    tr_batch_enc e;
    T_ASSERT(tr_batch_enc_init(&e, out, cap, &h) == 0);
    for (int i = 0; i < n; i++) {
        uint8_t r[256];
        size_t rl = metric(r, sizeof r, i);
        T_ASSERT(tr_batch_enc_add(&e, 256 + 64 * (uint64_t)i, r, rl) == 0);
    }
    return tr_batch_enc_finish(&e, k, kl);
}

static void test_round_trip(void)
{
    size_t len = make(buf, sizeof buf, 10, key, sizeof key - 1);
    tr_batch b;
    const char *why;
    tr_batch_limits lim = {0, 0};
    T_EQ_INT(tr_batch_parse(buf, len, &lim, &b, &why), TR_BATCH_OK);
    T_EQ_STR(b.hdr.stream_id, STREAM);
    T_EQ_STR(b.hdr.run_id, RUN);
    T_EQ_STR(b.hdr.host, "node-7");
    T_EQ_INT(b.hdr.pid, 4242);
    T_EQ_INT(b.hdr.nrec, 10);
    T_EQ_INT(b.first_seq, 256);
    T_EQ_INT(b.last_seq, 256 + 64 * 9);
    T_CHECK(b.hdr.flags & TR_BATCH_F_MAC);
    size_t pos = 0, rl;
    uint64_t seq;
    const uint8_t *body;
    int n = 0;
    while (tr_batch_next(&b, &pos, &seq, &body, &rl)) {
        tr_rec r;
        int64_t step = -1;
        T_EQ_INT(seq, 256 + 64 * (uint64_t)n);
        T_OK(tr_rec_decode(body, rl, &r));
        T_OK(tr_rec_get_i64(&r, TR_F_STEP, &step));
        T_EQ_INT(step, n);
        n++;
    }
    T_EQ_INT(n, 10);
    T_CHECK(tr_batch_verify(key, sizeof key - 1, buf, len, NULL, 0));
    T_CHECK(!tr_batch_verify((const uint8_t *)"wrong", 5, buf, len, NULL, 0));
    T_CHECK(!tr_batch_verify(NULL, 0, buf, len, NULL, 0));
}

/* Every truncation fails cleanly; every single-byte change fails the mac. */
static void test_truncation_and_tampering(void)
{
    size_t len = make(buf, sizeof buf, 3, key, sizeof key - 1);
    static uint8_t copy[4096];
    tr_batch b;
    for (size_t cut = 0; cut < len; cut++) {
        memcpy(copy, buf, cut);
        T_CHECK(tr_batch_parse(copy, cut, NULL, &b, NULL) != TR_BATCH_OK);
    }
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, buf, len);
        copy[i] ^= 0x20;
        T_CHECK(!tr_batch_verify(key, sizeof key - 1, copy, len, NULL, 0));
    }
}

/* The agent block: the agent's own host and the directory owner's uid travel, under the mac;
 * every truncation of it fails, and an empty or NUL-bearing agent host is refused. */
static void test_agent_block(void)
{
    tr_batch_hdr h;
    memset(&h, 0, sizeof h);
    strcpy(h.stream_id, STREAM);
    strcpy(h.run_id, RUN);
    strcpy(h.host, "container-x");
    h.has_agent = 1;
    h.uid = 1000;
    strcpy(h.agent_host, "node-7");
    tr_batch_enc e;
    T_OK(tr_batch_enc_init(&e, buf, sizeof buf, &h));
    uint8_t r[256];
    size_t rl = metric(r, sizeof r, 0);
    T_OK(tr_batch_enc_add(&e, 256, r, rl));
    size_t len = tr_batch_enc_finish(&e, key, sizeof key - 1);
    tr_batch b;
    T_EQ_INT(tr_batch_parse(buf, len, NULL, &b, NULL), TR_BATCH_OK);
    T_CHECK(b.hdr.has_agent && b.hdr.uid == 1000);
    T_EQ_STR(b.hdr.agent_host, "node-7");
    T_EQ_STR(b.hdr.host, "container-x");
    T_CHECK(b.hdr.flags & TR_BATCH_F_MAC && b.hdr.flags & TR_BATCH_F_AGENT);
    T_CHECK(tr_batch_verify(key, sizeof key - 1, buf, len, NULL, 0));
    static uint8_t copy[4096];
    for (size_t cut = 0; cut < len; cut++) {
        memcpy(copy, buf, cut);
        T_CHECK(tr_batch_parse(copy, cut, NULL, &b, NULL) != TR_BATCH_OK);
    }
    /* the uid is under the mac: another owner cannot be claimed in transit */
    size_t uid_off = TR_BATCH_HDR_SIZE + strlen("container-x");
    memcpy(copy, buf, len);
    copy[uid_off] ^= 1;
    T_CHECK(!tr_batch_verify(key, sizeof key - 1, copy, len, NULL, 0));
    memcpy(copy, buf, len);
    copy[uid_off + 6] = 0; /* a NUL in the agent host */
    T_EQ_INT(tr_batch_parse(copy, len, NULL, &b, NULL), TR_BATCH_ECORRUPT);
    h.agent_host[0] = 0;
    T_ERR(tr_batch_enc_init(&e, buf, sizeof buf, &h), TRAIL_EINVAL);
}

static void test_limits_and_errors(void)
{
    size_t len = make(buf, sizeof buf, 50, NULL, 0);
    tr_batch b;
    const char *why = NULL;
    tr_batch_limits few = {0, 10}, small = {len - 1, 0};
    T_EQ_INT(tr_batch_parse(buf, len, &few, &b, &why), TR_BATCH_ETOOMANY);
    T_EQ_INT(tr_batch_parse(buf, len, &small, &b, &why), TR_BATCH_ETOOBIG);
    T_CHECK(why && *why);
    T_EQ_INT(tr_batch_parse(buf, len, NULL, &b, NULL), TR_BATCH_OK);
    T_CHECK(!(b.hdr.flags & TR_BATCH_F_MAC));
    T_EQ_INT(tr_batch_parse((const uint8_t *)"garbage!", 8, NULL, &b, NULL), TR_BATCH_EPROTO);
    buf[4] = 9;
    T_EQ_INT(tr_batch_parse(buf, len, NULL, &b, NULL), TR_BATCH_EVERSION);
    buf[4] = TR_BATCH_VERSION;
    /* seqs must increase; trailing bytes and bad record bodies are refused */
    tr_batch_hdr h;
    memset(&h, 0, sizeof h);
    strcpy(h.stream_id, STREAM);
    strcpy(h.run_id, RUN);
    tr_batch_enc e;
    uint8_t r[256];
    size_t rl = metric(r, sizeof r, 1);
    T_EQ_INT(tr_batch_enc_init(&e, buf, sizeof buf, &h), 0);
    T_EQ_INT(tr_batch_enc_add(&e, 500, r, rl), 0);
    T_EQ_INT(tr_batch_enc_add(&e, 500, r, rl), TRAIL_EINVAL);
    T_EQ_INT(tr_batch_enc_add(&e, 400, r, rl), TRAIL_EINVAL);
    T_EQ_INT(tr_batch_enc_add(&e, 600, r, 3), TRAIL_EINVAL);
    len = tr_batch_enc_finish(&e, NULL, 0);
    T_EQ_INT(tr_batch_parse(buf, len, NULL, &b, NULL), TR_BATCH_OK);
    buf[len] = 0;
    T_EQ_INT(tr_batch_parse(buf, len + 1, NULL, &b, NULL), TR_BATCH_ECORRUPT);
    buf[len - rl] = 7; /* the record's version byte */
    T_EQ_INT(tr_batch_parse(buf, len, NULL, &b, NULL), TR_BATCH_ERECORD);
    /* a body that does not fit the encoder's buffer leaves the batch unchanged */
    T_EQ_INT(tr_batch_enc_init(&e, buf, TR_BATCH_HDR_SIZE + 20, &h), 0);
    T_EQ_INT(tr_batch_enc_add(&e, 1, r, rl), TRAIL_ETOOBIG);
    T_EQ_INT(e.nrec, 0);
    strcpy(h.stream_id, "not-hex");
    T_EQ_INT(tr_batch_enc_init(&e, buf, sizeof buf, &h), TRAIL_EINVAL);
    /* an empty batch is refused */
    strcpy(h.stream_id, STREAM);
    T_EQ_INT(tr_batch_enc_init(&e, buf, sizeof buf, &h), 0);
    len = tr_batch_enc_finish(&e, NULL, 0);
    T_EQ_INT(tr_batch_parse(buf, len, NULL, &b, NULL), TR_BATCH_ECORRUPT);
    T_EQ_STR(tr_batch_status_name(TR_BATCH_EAUTH), "bad-token");
    T_EQ_STR(tr_batch_status_name(99), "unknown");
}

/* A reply is bound to its request: valid for that request's mac, invalid for any other. */
static void test_reply_binding(void)
{
    uint8_t rep[TR_BATCH_REPLY_HDR + TR_BATCH_MSG_MAX], mac1[32], mac2[32];
    memset(mac1, 1, sizeof mac1);
    memset(mac2, 2, sizeof mac2);
    tr_batch_reply r = {.status = TR_BATCH_OK, .acked_seq = 12345, .stored = 7, .duplicates = 3};
    strcpy(r.msg, "fine");
    size_t len = tr_batch_reply_encode(rep, sizeof rep, &r, key, sizeof key - 1, mac1);
    T_EQ_INT(len, TR_BATCH_REPLY_HDR + 4);
    tr_batch_reply p;
    T_EQ_INT(tr_batch_reply_parse(rep, len, &p), 0);
    T_EQ_INT(p.status, TR_BATCH_OK);
    T_EQ_INT(p.acked_seq, 12345);
    T_EQ_INT(p.stored, 7);
    T_EQ_INT(p.duplicates, 3);
    T_EQ_STR(p.msg, "fine");
    T_CHECK(p.flags & TR_BATCH_F_MAC);
    T_CHECK(tr_batch_verify(key, sizeof key - 1, rep, len, mac1, 32));
    T_CHECK(!tr_batch_verify(key, sizeof key - 1, rep, len, mac2, 32));
    T_EQ_INT(tr_batch_reply_parse(rep, len - 1, &p), TRAIL_EPROTO);
    T_EQ_INT(tr_batch_reply_parse((const uint8_t *)"nope", 4, &p), TRAIL_EPROTO);
    T_CHECK(tr_batch_ct_equal(mac1, mac1, 32) && !tr_batch_ct_equal(mac1, mac2, 32));
}

static void test_token_file_and_urls(void)
{
    char dir[] = "/tmp/trail-batch-XXXXXX", p[64], err[512];
    T_ASSERT(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/tok", dir);
    FILE *f = fopen(p, "w");
    fputs("s3cret \n", f);
    fclose(f);
    uint8_t k[64];
    size_t kl = 0;
    chmod(p, 0644);
    T_EQ_INT(tr_batch_load_token(p, k, sizeof k, &kl, err, sizeof err), TRAIL_EAUTH);
    T_CHECK(strstr(err, "chmod 600") != NULL);
    chmod(p, 0400);
    T_EQ_INT(tr_batch_load_token(p, k, sizeof k, &kl, err, sizeof err), 0);
    T_EQ_INT(kl, 6);
    T_CHECK(!memcmp(k, "s3cret", 6));
    T_EQ_INT(tr_batch_load_token(p, k, 3, &kl, err, sizeof err), TRAIL_EINVAL);
    unlink(p);
    T_EQ_INT(tr_batch_load_token(p, k, sizeof k, &kl, err, sizeof err), TRAIL_EIO);
    rmdir(dir);
    char u[128];
    T_EQ_INT(tr_batch_normalize_url("5555", u, sizeof u), 0);
    T_EQ_STR(u, "tcp://127.0.0.1:5555");
    T_EQ_INT(tr_batch_normalize_url("tcp://:6000", u, sizeof u), 0);
    T_EQ_STR(u, "tcp://127.0.0.1:6000");
    T_EQ_INT(tr_batch_normalize_url("tls+tcp://:6001", u, sizeof u), 0);
    T_EQ_STR(u, "tls+tcp://127.0.0.1:6001");
    T_EQ_INT(tr_batch_normalize_url("tcp://0.0.0.0:7", u, sizeof u), 0);
    T_EQ_STR(u, "tcp://0.0.0.0:7");
    T_EQ_INT(tr_batch_normalize_url("ipc:///tmp/x", u, sizeof u), 0);
    T_EQ_INT(tr_batch_normalize_url("http://x", u, sizeof u), TRAIL_EINVAL);
    T_EQ_INT(tr_batch_normalize_url("", u, sizeof u), TRAIL_EINVAL);
}

int main(void)
{
    T_RUN(test_round_trip);
    T_RUN(test_truncation_and_tampering);
    T_RUN(test_agent_block);
    T_RUN(test_limits_and_errors);
    T_RUN(test_reply_binding);
    T_RUN(test_token_file_and_urls);
    return T_DONE();
}
