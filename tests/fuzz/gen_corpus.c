/* gen_corpus.c - writes the record_fuzz seed corpus: valid/broken records and small segments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "spool.h"

static const char *outdir;

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

static size_t rec_metric(uint8_t *b, size_t cap, int64_t step)
{
    tr_enc e;
    tr_enc_init(&e, b, cap, TR_REC_METRIC, 1700000000000000000LL + step);
    tr_enc_str(&e, TR_F_KEY, "loss");
    tr_enc_f64(&e, TR_F_NUM, 0.5 / (double)(step + 1));
    tr_enc_i64(&e, TR_F_STEP, step);
    long n = tr_enc_finish(&e);
    if (n <= 0) exit(1);
    return (size_t)n;
}

/* A small segment (cap bytes) holding the given frames; the reader accepts any cap that is
 * the file size. */
typedef struct seg {
    uint8_t b[1024];
    uint32_t cap, tail;
} seg;

static void seg_init(seg *s, uint32_t cap, uint32_t flags, uint64_t pid)
{
    memset(s, 0, sizeof *s);
    s->cap = cap;
    memcpy(s->b, TR_SEG_MAGIC, 8);
    tr_put_u32(s->b + TR_SEG_OFF_VERSION, TR_SEG_VERSION);
    tr_put_u32(s->b + TR_SEG_OFF_HDRSIZE, TR_SEG_HDR_SIZE);
    tr_put_u32(s->b + TR_SEG_OFF_CAP, cap);
    tr_put_u32(s->b + TR_SEG_OFF_FLAGS, flags);
    tr_put_u64(s->b + TR_SEG_OFF_PID, pid);
    tr_put_u64(s->b + TR_SEG_OFF_CREATED, 1700000000000000000ull);
    memcpy(s->b + TR_SEG_OFF_STREAM, "00112233445566778899aabbccddeeff", 32);
    memcpy(s->b + TR_SEG_OFF_RUN, "0123456789abcdef0123456789abcdef", 32);
    memcpy(s->b + TR_SEG_OFF_HOST, "fuzzhost", 8);
    s->tail = TR_SEG_HDR_SIZE;
}

/* Appends a frame; returns its offset. state 0 means committed. */
static uint32_t seg_frame(seg *s, const uint8_t *body, size_t len, uint32_t state)
{
    uint32_t size = (uint32_t)((TR_FRAME_HDR + len + 7) & ~(size_t)7);
    uint32_t off = s->tail;
    if (off + size > s->cap) exit(1);
    tr_put_u32(s->b + off, (state ? state : TR_FRAME_COMMITTED) | size);
    tr_put_u32(s->b + off + 4, tr_crc32c(body, len));
    memcpy(s->b + off + TR_FRAME_HDR, body, len);
    s->tail += size;
    tr_put_u32(s->b + TR_SEG_OFF_TAIL, s->tail);
    return off;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    uint8_t b[4096], t[4096];
    size_t n;
    tr_enc e;

    n = rec_metric(b, sizeof b, 7);
    put("rec_metric", b, n);

    tr_enc_init(&e, b, sizeof b, TR_REC_PROC_START, 1);
    tr_enc_i64(&e, TR_F_PID, 4242);
    tr_enc_i64(&e, TR_F_PPID, -1);
    tr_enc_str(&e, TR_F_ARGV, "python");
    tr_enc_str(&e, TR_F_ARGV, "");
    tr_enc_str(&e, TR_F_ARGV, "--lr=0.1");
    tr_enc_strn(&e, TR_F_VALUE, "\0\1\2\xff", 4);
    tr_enc_u64(&e, TR_F_BYTES_READ, UINT64_MAX);
    n = (size_t)tr_enc_finish(&e);
    put("rec_proc_start", b, n);

    tr_enc_init(&e, b, sizeof b, TR_REC_RUN_END, -1);
    n = (size_t)tr_enc_finish(&e);
    put("rec_empty", b, n);

    tr_enc_init(&e, b, sizeof b, TR_REC_METRIC, 0);
    uint64_t bits[] = {0x7ff8000000000001ull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
                       0x8000000000000000ull};
    for (int i = 0; i < 4; i++) {
        double d;
        memcpy(&d, &bits[i], 8);
        tr_enc_f64(&e, TR_F_NUM, d);
    }
    n = (size_t)tr_enc_finish(&e);
    put("rec_floats", b, n);

    n = rec_metric(b, sizeof b, 1);
    put("rec_truncated", b, n - 5);

    memcpy(t, b, n);
    tr_put_u32(t + TR_REC_HDR_SIZE + 4, 0xFFFFFFF0u); /* first field length */
    put("rec_badlen", t, n);

    memcpy(t, b, n);
    t[0] = 2;
    put("rec_version2", t, n);

    memcpy(t, b, n);
    t[TR_REC_HDR_SIZE + 2] = 6; /* unknown field kind */
    put("rec_badkind", t, n);

    tr_enc_init(&e, b, sizeof b, TR_REC_PARAM, 3);
    for (int i = 0; i < TR_REC_MAX_FIELDS; i++)
        tr_enc_strn(&e, (uint16_t)(i + 1), "v", (size_t)(i % 2));
    n = (size_t)tr_enc_finish(&e);
    put("rec_64fields", b, n);

    /* segments */
    seg s;
    seg_init(&s, 1024, TR_SEG_F_CLOSED, 0);
    for (int i = 0; i < 3; i++) {
        n = rec_metric(b, sizeof b, i);
        seg_frame(&s, b, n, 0);
    }
    put("seg_valid", s.b, s.cap);

    /* a dead writer's segment: committed, torn (reserved only), committed */
    seg_init(&s, 512, 0, 0x7ffffffe);
    n = rec_metric(b, sizeof b, 0);
    seg_frame(&s, b, n, 0);
    uint32_t off = seg_frame(&s, b, n, TR_FRAME_RESERVED);
    memset(s.b + off + 4, 0, 4 + n); /* body never written */
    seg_frame(&s, b, n, 0);
    put("seg_torn", s.b, s.cap);

    seg_init(&s, 512, TR_SEG_F_CLOSED, 0);
    off = seg_frame(&s, b, n, 0);
    s.b[off + TR_FRAME_HDR + 20] ^= 1; /* crc mismatch */
    seg_frame(&s, b, n, 0);
    put("seg_badcrc", s.b, s.cap);

    seg_init(&s, 512, TR_SEG_F_CLOSED, 0);
    seg_frame(&s, b, n, 0);
    off = seg_frame(&s, b, n, 0);
    tr_put_u32(s.b + off, TR_FRAME_COMMITTED | 4u); /* frame chain broken */
    put("seg_badsize", s.b, s.cap);

    seg_init(&s, 512, TR_SEG_F_CLOSED, 0);
    seg_frame(&s, b, n, 0);
    tr_put_u32(s.b + s.tail, TR_FRAME_END);
    put("seg_end", s.b, s.cap);
    return 0;
}
