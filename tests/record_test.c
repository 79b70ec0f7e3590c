/* record_test.c - unit tests of the record codec: round trips, strict decoding, encoder bounds. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "record.h"
#include "tassert.h"
#include "trail.h"

/* ---- helpers ---- */

/* Inputs are copied so that they end exactly at a PROT_NONE page: any read past the end of
 * the buffer faults, with or without AddressSanitizer. */
static uint8_t *guard_page;

static void guard_init(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t data = (size_t)256 * 1024;
    uint8_t *p =
        mmap(NULL, data + (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    T_ASSERT(p != MAP_FAILED);
    T_ASSERT(mprotect(p + data, (size_t)pg, PROT_NONE) == 0);
    guard_page = p + data;
}

static const uint8_t *at_guard(const void *src, size_t len)
{
    uint8_t *p = guard_page - len;
    if (len) memmove(p, src, len);
    return p;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t xorshift(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint64_t dbl_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static double bits_dbl(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

/* A valid record using every kind the encoder produces, with repeated and empty fields. */
static long build_sample(uint8_t *buf, size_t cap)
{
    tr_enc e;
    tr_enc_init(&e, buf, cap, TR_REC_FILE, 1700000000123456789LL);
    tr_enc_str(&e, TR_F_PATH, "/data/train.bin");
    tr_enc_i64(&e, TR_F_FLAGS, -2);
    tr_enc_u64(&e, TR_F_BYTES_READ, UINT64_MAX);
    tr_enc_f64(&e, TR_F_NUM, -0.0);
    tr_enc_strn(&e, TR_F_VALUE, "", 0);
    tr_enc_strn(&e, TR_F_NOTE, "a\0b\xff", 4);
    tr_enc_str(&e, TR_F_ARGV, "one");
    tr_enc_str(&e, TR_F_ARGV, "two");
    return tr_enc_finish(&e);
}

/* Offsets of the field headers of a valid record; returns how many. */
static int field_offsets(const uint8_t *b, size_t len, size_t *offs, int max)
{
    int n = 0;
    size_t off = TR_REC_HDR_SIZE;
    while (off + TR_FIELD_HDR_SIZE <= len && n < max) {
        offs[n++] = off;
        off += TR_FIELD_HDR_SIZE + tr_get_u32(b + off + 4);
    }
    return n;
}

/* Raw writers for records the encoder refuses to produce. */
static size_t raw_hdr(uint8_t *b, uint8_t ver, uint8_t type, uint16_t nf)
{
    memset(b, 0, TR_REC_HDR_SIZE);
    b[0] = ver;
    b[1] = type;
    tr_put_u16(b + 2, nf);
    tr_put_u64(b + 8, 42);
    return TR_REC_HDR_SIZE;
}

static size_t raw_field(uint8_t *b, size_t off, uint16_t id, uint8_t kind, uint8_t rsv,
                        uint32_t len, const void *data)
{
    tr_put_u16(b + off, id);
    b[off + 2] = kind;
    b[off + 3] = rsv;
    tr_put_u32(b + off + 4, len);
    if (len) memcpy(b + off + TR_FIELD_HDR_SIZE, data, len);
    return off + TR_FIELD_HDR_SIZE + len;
}

static int raw_decode(uint8_t *b, size_t len, tr_rec *r)
{
    tr_put_u32(b + 4, (uint32_t)len);
    return tr_rec_decode(at_guard(b, len), len, r);
}

/* A record accepted by the decoder must describe exactly the bytes it was given. */
static int consistent(const uint8_t *buf, size_t len, const tr_rec *r)
{
    if (r->version != TR_REC_VERSION || r->type == 0 || r->body_len != len) return 0;
    if (r->nfields > TR_REC_MAX_FIELDS || len < TR_REC_HDR_SIZE || len > TR_REC_MAX_SIZE) return 0;
    if (r->nfields != tr_get_u16(buf + 2) || r->type != buf[1]) return 0;
    if ((uint64_t)r->time_ns != tr_get_u64(buf + 8)) return 0;
    size_t off = TR_REC_HDR_SIZE;
    for (int i = 0; i < r->nfields; i++) {
        const tr_field *f = &r->fields[i];
        if (off + TR_FIELD_HDR_SIZE > len) return 0;
        if (f->id == 0 || f->id != tr_get_u16(buf + off) || f->kind != buf[off + 2]) return 0;
        if (buf[off + 3] != 0 || f->len != tr_get_u32(buf + off + 4)) return 0;
        if (f->kind < TR_K_U64 || f->kind > TR_K_BYTES) return 0;
        if (f->kind <= TR_K_F64 && f->len != 8) return 0;
        if (f->data != buf + off + TR_FIELD_HDR_SIZE) return 0;
        if (f->data < buf || f->len > len || f->data + f->len > buf + len) return 0;
        off += TR_FIELD_HDR_SIZE + f->len;
    }
    return off == len;
}

/* Calls every accessor for every field id present; results must agree with the field kind. */
static int accessors_agree(const tr_rec *r)
{
    for (int i = 0; i < r->nfields; i++) {
        uint16_t id = r->fields[i].id;
        const tr_field *first = NULL;
        for (int j = 0; j < r->nfields && !first; j++)
            if (r->fields[j].id == id) first = &r->fields[j];
        int isint = first->kind == TR_K_U64 || first->kind == TR_K_I64;
        int isstr = first->kind == TR_K_STR || first->kind == TR_K_BYTES;
        uint64_t u;
        int64_t s;
        double d;
        const char *p;
        size_t n;
        char small[4];
        if (tr_rec_get_u64(r, id, &u) != (isint ? 0 : TRAIL_ECORRUPT)) return 0;
        if (tr_rec_get_i64(r, id, &s) != (isint ? 0 : TRAIL_ECORRUPT)) return 0;
        if (tr_rec_get_f64(r, id, &d) != (first->kind == TR_K_F64 ? 0 : TRAIL_ECORRUPT)) return 0;
        if (tr_rec_get_str(r, id, &p, &n) != (isstr ? 0 : TRAIL_ECORRUPT)) return 0;
        if (isstr && (p != (const char *)first->data || n != first->len)) return 0;
        if (tr_rec_copy_str(r, id, small, sizeof small) != (isstr ? 0 : TRAIL_ECORRUPT)) return 0;
        if (isstr && strlen(small) > 3) return 0;
    }
    return 1;
}

/* ---- round trips ---- */

static void test_roundtrip_ints(void)
{
    static const uint64_t uv[] = {0, 1, 255, 0x100000000ull, 0x8000000000000000ull, UINT64_MAX};
    static const int64_t iv[] = {0, 1, -1, -123456789012LL, INT64_MIN, INT64_MAX, -256};
    uint8_t buf[1024];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_METRIC, -5);
    for (size_t i = 0; i < sizeof uv / sizeof uv[0]; i++)
        tr_enc_u64(&e, (uint16_t)(100 + i), uv[i]);
    for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++)
        tr_enc_i64(&e, (uint16_t)(200 + i), iv[i]);
    long n = tr_enc_finish(&e);
    size_t nf = sizeof uv / sizeof uv[0] + sizeof iv / sizeof iv[0];
    T_EQ_INT(n, TR_REC_HDR_SIZE + nf * (TR_FIELD_HDR_SIZE + 8));
    tr_rec r;
    const uint8_t *b = at_guard(buf, (size_t)n);
    T_ASSERT_OK(tr_rec_decode(b, (size_t)n, &r));
    T_EQ_INT(r.version, TR_REC_VERSION);
    T_EQ_INT(r.type, TR_REC_METRIC);
    T_EQ_INT(r.time_ns, -5);
    T_EQ_INT(r.body_len, n);
    T_EQ_INT(r.nfields, nf);
    T_CHECK(consistent(b, (size_t)n, &r));
    for (size_t i = 0; i < sizeof uv / sizeof uv[0]; i++) {
        uint64_t v = 0;
        T_OK(tr_rec_get_u64(&r, (uint16_t)(100 + i), &v));
        T_CHECK(v == uv[i]);
        T_EQ_INT(r.fields[i].kind, TR_K_U64);
        T_EQ_INT(r.fields[i].len, 8);
    }
    for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++) {
        int64_t v = 7;
        T_OK(tr_rec_get_i64(&r, (uint16_t)(200 + i), &v));
        T_CHECK(v == iv[i]);
        T_EQ_INT(r.fields[sizeof uv / sizeof uv[0] + i].kind, TR_K_I64);
    }
    /* little-endian on the wire: 2^32 has byte 4 set, 2^63 byte 7, -1 is eight 0xff bytes */
    T_CHECK(memcmp(r.fields[3].data, "\0\0\0\0\1\0\0\0", 8) == 0);
    T_CHECK(memcmp(r.fields[4].data, "\0\0\0\0\0\0\0\x80", 8) == 0);
    T_CHECK(memcmp(r.fields[8].data, "\xff\xff\xff\xff\xff\xff\xff\xff", 8) == 0);
}

static void test_roundtrip_f64(void)
{
    static const uint64_t bits[] = {
        0x7ff8000000000000ull, /* quiet NaN */
        0xfff8000000000000ull, /* negative NaN */
        0x7ff8000000000123ull, /* NaN with payload */
        0x7ff0000000000000ull, /* +Inf */
        0xfff0000000000000ull, /* -Inf */
        0x8000000000000000ull, /* -0.0 */
        0x0000000000000000ull, /* +0.0 */
        0x0000000000000001ull, /* smallest denormal */
        0x7fefffffffffffffull, /* DBL_MAX */
        0x400921fb54442d18ull, /* pi */
    };
    enum { N = sizeof bits / sizeof bits[0] };
    uint8_t buf[1024];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_METRIC, 0);
    for (int i = 0; i < N; i++)
        tr_enc_f64(&e, (uint16_t)(10 + i), bits_dbl(bits[i]));
    tr_enc_f64(&e, 1000, -DBL_MAX);
    long n = tr_enc_finish(&e);
    T_ASSERT(n > 0);
    tr_rec r;
    T_ASSERT_OK(tr_rec_decode(at_guard(buf, (size_t)n), (size_t)n, &r));
    T_EQ_INT(r.nfields, N + 1);
    for (int i = 0; i < N; i++) {
        double d = 1.0;
        T_OK(tr_rec_get_f64(&r, (uint16_t)(10 + i), &d));
        if (dbl_bits(d) != bits[i])
            T_FAIL("f64 #%d: %016llx != %016llx", i, (unsigned long long)dbl_bits(d),
                   (unsigned long long)bits[i]);
        T_EQ_INT(r.fields[i].kind, TR_K_F64);
        T_CHECK(tr_get_u64(r.fields[i].data) == bits[i]);
    }
    double d = 0;
    T_OK(tr_rec_get_f64(&r, 1000, &d));
    T_CHECK(d == -DBL_MAX);
}

static void test_roundtrip_strings(void)
{
    static uint8_t buf[16384];
    char big[5000], bin[256];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    for (int i = 0; i < 256; i++)
        bin[i] = (char)i;
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_PROC_START, 123);
    tr_enc_str(&e, TR_F_EXE, "");        /* empty */
    tr_enc_str(&e, TR_F_HOST, NULL);     /* skipped */
    tr_enc_strn(&e, TR_F_USER, NULL, 3); /* skipped */
    tr_enc_strn(&e, TR_F_VALUE, bin, sizeof bin);
    tr_enc_strn(&e, TR_F_BACKTRACE, big, sizeof big);
    static const char *argv[] = {"python", "", "--lr=0.1", "x y"};
    for (int i = 0; i < 4; i++)
        tr_enc_str(&e, TR_F_ARGV, argv[i]);
    tr_enc_str(&e, TR_F_CWD, "/home/u");
    long n = tr_enc_finish(&e);
    T_ASSERT(n > 0);
    tr_rec r;
    const uint8_t *b = at_guard(buf, (size_t)n);
    T_ASSERT_OK(tr_rec_decode(b, (size_t)n, &r));
    T_CHECK(consistent(b, (size_t)n, &r));
    T_EQ_INT(r.nfields, 8);
    T_EQ_INT(r.type, TR_REC_PROC_START);
    const char *s;
    size_t sn;
    T_OK(tr_rec_get_str(&r, TR_F_EXE, &s, &sn));
    T_EQ_INT(sn, 0);
    T_ERR(tr_rec_get_str(&r, TR_F_HOST, &s, &sn), TRAIL_ENOTFOUND);
    T_ERR(tr_rec_get_str(&r, TR_F_USER, &s, &sn), TRAIL_ENOTFOUND);
    T_OK(tr_rec_get_str(&r, TR_F_VALUE, &s, &sn));
    T_EQ_INT(sn, 256);
    T_CHECK(memcmp(s, bin, 256) == 0);
    T_OK(tr_rec_get_str(&r, TR_F_BACKTRACE, &s, &sn));
    T_EQ_INT(sn, sizeof big);
    T_CHECK(memcmp(s, big, sizeof big) == 0);
    /* repeated ids: the accessor returns the first, the field array keeps order */
    T_OK(tr_rec_get_str(&r, TR_F_ARGV, &s, &sn));
    T_CHECK(sn == 6 && memcmp(s, "python", 6) == 0);
    int k = 0;
    for (int i = 0; i < r.nfields; i++) {
        if (r.fields[i].id != TR_F_ARGV) continue;
        T_EQ_INT(r.fields[i].kind, TR_K_STR);
        T_EQ_INT(r.fields[i].len, strlen(argv[k]));
        T_CHECK(memcmp(r.fields[i].data, argv[k], r.fields[i].len) == 0);
        k++;
    }
    T_EQ_INT(k, 4);
    char dst[8];
    T_OK(tr_rec_copy_str(&r, TR_F_CWD, dst, sizeof dst));
    T_EQ_STR(dst, "/home/u");
    T_OK(tr_rec_copy_str(&r, TR_F_BACKTRACE, dst, sizeof dst));
    T_EQ_STR(dst, "abcdefg"); /* truncated to dstlen-1, NUL-terminated */
    T_ERR(tr_rec_copy_str(&r, TR_F_BACKTRACE, dst, 0), TRAIL_EINVAL);
    T_ERR(tr_rec_copy_str(&r, TR_F_NAME, dst, sizeof dst), TRAIL_ENOTFOUND);

    /* BYTES kind: the encoder has no writer for it, the decoder accepts it like a string */
    uint8_t raw[64];
    size_t off = raw_hdr(raw, 1, TR_REC_FILE, 2);
    off = raw_field(raw, off, 50, TR_K_BYTES, 0, 3, "\0\1\2");
    off = raw_field(raw, off, 51, TR_K_BYTES, 0, 0, NULL);
    T_ASSERT_OK(raw_decode(raw, off, &r));
    T_OK(tr_rec_get_str(&r, 50, &s, &sn));
    T_CHECK(sn == 3 && memcmp(s, "\0\1\2", 3) == 0);
    T_OK(tr_rec_get_str(&r, 51, &s, &sn));
    T_EQ_INT(sn, 0);

    /* a record with no field at all */
    tr_enc_init(&e, buf, sizeof buf, TR_REC_TYPE_MAX, INT64_MIN);
    n = tr_enc_finish(&e);
    T_EQ_INT(n, TR_REC_HDR_SIZE);
    T_ASSERT_OK(tr_rec_decode(at_guard(buf, (size_t)n), (size_t)n, &r));
    T_EQ_INT(r.nfields, 0);
    T_EQ_INT(r.type, TR_REC_TYPE_MAX);
    T_CHECK(r.time_ns == INT64_MIN);
    /* unknown record types decode fine */
    tr_enc_init(&e, buf, sizeof buf, 200, 1);
    n = tr_enc_finish(&e);
    T_OK(tr_rec_decode(at_guard(buf, (size_t)n), (size_t)n, &r));
}

static void test_max_fields_and_size(void)
{
    static uint8_t buf[128 * 1024];
    tr_enc e;
    tr_rec r;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_PARAM, 1);
    for (int i = 0; i < TR_REC_MAX_FIELDS; i++)
        tr_enc_i64(&e, (uint16_t)(i + 1), i);
    long n = tr_enc_finish(&e);
    T_EQ_INT(n, TR_REC_HDR_SIZE + TR_REC_MAX_FIELDS * 16);
    T_OK(tr_rec_decode(at_guard(buf, (size_t)n), (size_t)n, &r));
    T_EQ_INT(r.nfields, TR_REC_MAX_FIELDS);
    tr_enc_i64(&e, 99, 0); /* the 65th field */
    T_ERR(tr_enc_finish(&e), TRAIL_ETOOBIG);

    /* exactly TR_REC_MAX_SIZE bytes is fine, one more is not */
    static char s[TR_REC_MAX_SIZE];
    memset(s, 'q', sizeof s);
    size_t fit = TR_REC_MAX_SIZE - TR_REC_HDR_SIZE - TR_FIELD_HDR_SIZE;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_PARAM, 1);
    tr_enc_strn(&e, TR_F_VALUE, s, fit);
    n = tr_enc_finish(&e);
    T_EQ_INT(n, TR_REC_MAX_SIZE);
    T_OK(tr_rec_decode(at_guard(buf, (size_t)n), (size_t)n, &r));
    tr_enc_init(&e, buf, sizeof buf, TR_REC_PARAM, 1);
    tr_enc_strn(&e, TR_F_VALUE, s, fit + 1);
    T_ERR(tr_enc_finish(&e), TRAIL_ETOOBIG);
    tr_enc_init(&e, buf, sizeof buf, TR_REC_PARAM, 1);
    tr_enc_strn(&e, TR_F_VALUE, s, (size_t)TR_REC_MAX_SIZE + 1);
    T_ERR(tr_enc_finish(&e), TRAIL_ETOOBIG);
    /* the decoder refuses a body over the limit even when it is self-consistent */
    uint8_t *big = buf;
    size_t blen = TR_REC_MAX_SIZE + 8;
    size_t off = raw_hdr(big, 1, TR_REC_PARAM, 1);
    memset(big + off + TR_FIELD_HDR_SIZE, 'z', blen - off - TR_FIELD_HDR_SIZE);
    tr_put_u16(big + off, TR_F_VALUE);
    big[off + 2] = TR_K_STR;
    big[off + 3] = 0;
    tr_put_u32(big + off + 4, (uint32_t)(blen - off - TR_FIELD_HDR_SIZE));
    T_ERR(raw_decode(big, blen, &r), TRAIL_ECORRUPT);
}

/* ---- strict decoding ---- */

static void test_truncations(void)
{
    uint8_t buf[512];
    long n = build_sample(buf, sizeof buf);
    T_ASSERT(n > 0);
    tr_rec r;
    T_ASSERT_OK(tr_rec_decode(at_guard(buf, (size_t)n), (size_t)n, &r));
    for (long len = 0; len < n; len++) {
        int rc = tr_rec_decode(at_guard(buf, (size_t)len), (size_t)len, &r);
        if (rc != TRAIL_ECORRUPT) T_FAIL("truncated to %ld of %ld: rc %d", len, n, rc);
        /* even if body_len is patched to match the truncation the record must be refused */
        if (len >= TR_REC_HDR_SIZE) {
            uint8_t tmp[512];
            memcpy(tmp, buf, (size_t)len);
            tr_put_u32(tmp + 4, (uint32_t)len);
            rc = tr_rec_decode(at_guard(tmp, (size_t)len), (size_t)len, &r);
            if (rc != TRAIL_ECORRUPT) T_FAIL("truncated+patched to %ld: rc %d", len, rc);
        }
    }
    T_ERR(tr_rec_decode(NULL, 0, &r), TRAIL_ECORRUPT);
    T_ERR(tr_rec_decode(NULL, (size_t)n, &r), TRAIL_ECORRUPT);
    T_ERR(tr_rec_decode(buf, (size_t)n, NULL), TRAIL_ECORRUPT);
    /* one trailing byte more than body_len says */
    uint8_t ext[513];
    memcpy(ext, buf, (size_t)n);
    ext[n] = 0;
    T_ERR(tr_rec_decode(at_guard(ext, (size_t)n + 1), (size_t)n + 1, &r), TRAIL_ECORRUPT);
}

static void check_len_variant(const uint8_t *src, size_t n, size_t at, uint32_t v, const char *what)
{
    uint8_t tmp[512];
    memcpy(tmp, src, n);
    tr_put_u32(tmp + at, v);
    const uint8_t *b = at_guard(tmp, n);
    tr_rec r;
    memset(&r, 0xAB, sizeof r);
    int rc = tr_rec_decode(b, n, &r);
    if (rc == 0) {
        if (!consistent(b, n, &r)) T_FAIL("%s=%u accepted but inconsistent", what, v);
        if (!accessors_agree(&r)) T_FAIL("%s=%u: accessors disagree", what, v);
    } else if (rc != TRAIL_ECORRUPT) {
        T_FAIL("%s=%u: rc %d", what, v, rc);
    }
}

static void test_length_corruption(void)
{
    uint8_t buf[512];
    long n = build_sample(buf, sizeof buf);
    T_ASSERT(n > 0);
    size_t offs[TR_REC_MAX_FIELDS];
    int nf = field_offsets(buf, (size_t)n, offs, TR_REC_MAX_FIELDS);
    T_EQ_INT(nf, 8);
    /* body_len: any value other than the real length is refused */
    uint32_t bl = (uint32_t)n;
    uint32_t bvals[] = {0, bl - 1, bl + 1, 0xFFFFFFFFu, 16, bl + 8, 0x80000000u};
    for (size_t i = 0; i < sizeof bvals / sizeof bvals[0]; i++) {
        uint8_t tmp[512];
        memcpy(tmp, buf, (size_t)n);
        tr_put_u32(tmp + 4, bvals[i]);
        tr_rec r;
        int rc = tr_rec_decode(at_guard(tmp, (size_t)n), (size_t)n, &r);
        if (rc != TRAIL_ECORRUPT) T_FAIL("body_len %u: rc %d", bvals[i], rc);
        check_len_variant(buf, (size_t)n, 4, bvals[i], "body_len");
    }
    for (int k = 0; k < 1000; k++) {
        uint32_t v = (uint32_t)xorshift();
        if (v == bl) continue;
        uint8_t tmp[512];
        memcpy(tmp, buf, (size_t)n);
        tr_put_u32(tmp + 4, v);
        tr_rec r;
        T_ERR(tr_rec_decode(at_guard(tmp, (size_t)n), (size_t)n, &r), TRAIL_ECORRUPT);
    }
    /* each field length: refused, or (never expected here) decoded fully inside the buffer */
    for (int f = 0; f < nf; f++) {
        size_t at = offs[f] + 4;
        uint32_t l = tr_get_u32(buf + at);
        uint32_t vals[] = {0, l - 1, l + 1, 0xFFFFFFFFu, 0x7FFFFFFFu, (uint32_t)n, l + 8};
        int changed = 0;
        for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
            if (vals[i] == l) continue;
            changed++;
            check_len_variant(buf, (size_t)n, at, vals[i], "field len");
            uint8_t tmp[512];
            memcpy(tmp, buf, (size_t)n);
            tr_put_u32(tmp + at, vals[i]);
            tr_rec r;
            /* the lengths no longer add up to body_len, so this particular record is refused */
            T_ERR(tr_rec_decode(at_guard(tmp, (size_t)n), (size_t)n, &r), TRAIL_ECORRUPT);
        }
        T_CHECK(changed >= 6);
        for (int k = 0; k < 500; k++) {
            uint32_t v = (uint32_t)xorshift();
            if (k & 1) v %= (uint32_t)n + 16; /* small values walk the field chain */
            if (v == l) continue;
            check_len_variant(buf, (size_t)n, at, v, "field len (random)");
        }
    }
    /* several lengths changed together so that the chain still ends at body_len: decodes,
     * and every field is inside the buffer */
    uint8_t raw[128];
    size_t off = raw_hdr(raw, 1, TR_REC_TAG, 2);
    off = raw_field(raw, off, TR_F_KEY, TR_K_STR, 0, 4, "abcd");
    off = raw_field(raw, off, TR_F_VALUE, TR_K_STR, 0, 4, "efgh");
    tr_put_u32(raw + TR_REC_HDR_SIZE + 4, 16); /* the first field swallows the second */
    tr_put_u16(raw + 2, 1);
    tr_rec r;
    const uint8_t *b;
    tr_put_u32(raw + 4, (uint32_t)off);
    b = at_guard(raw, off);
    T_OK(tr_rec_decode(b, off, &r));
    T_CHECK(consistent(b, off, &r));
    T_EQ_INT(r.fields[0].len, 16);
}

static void test_header_and_field_rules(void)
{
    uint8_t buf[512], tmp[512];
    long n = build_sample(buf, sizeof buf);
    T_ASSERT(n > 0);
    size_t offs[16];
    int nf = field_offsets(buf, (size_t)n, offs, 16);
    tr_rec r;
#define MUT(stmt, expect)                                                                          \
    do {                                                                                           \
        memcpy(tmp, buf, (size_t)n);                                                               \
        stmt;                                                                                      \
        T_ERR(tr_rec_decode(at_guard(tmp, (size_t)n), (size_t)n, &r), expect);                     \
    } while (0)
    MUT((void)0, 0);
    /* version */
    MUT(tmp[0] = 2, TRAIL_EVERSION);
    MUT(tmp[0] = 255, TRAIL_EVERSION);
    MUT(tmp[0] = 0, TRAIL_ECORRUPT);
    /* type 0 is not a record */
    MUT(tmp[1] = 0, TRAIL_ECORRUPT);
    /* nfields: too many, too few, one more, > 64 */
    MUT(tr_put_u16(tmp + 2, 65), TRAIL_ECORRUPT);
    MUT(tr_put_u16(tmp + 2, 0xFFFF), TRAIL_ECORRUPT);
    MUT(tr_put_u16(tmp + 2, (uint16_t)(nf - 1)), TRAIL_ECORRUPT);
    MUT(tr_put_u16(tmp + 2, (uint16_t)(nf + 1)), TRAIL_ECORRUPT);
    MUT(tr_put_u16(tmp + 2, 0), TRAIL_ECORRUPT);
    for (int f = 0; f < nf; f++) {
        size_t o = offs[f];
        MUT(tmp[o + 2] = 0, TRAIL_ECORRUPT);   /* kind 0 */
        MUT(tmp[o + 2] = 6, TRAIL_ECORRUPT);   /* kind 6 */
        MUT(tmp[o + 2] = 255, TRAIL_ECORRUPT); /* kind 255 */
        MUT(tmp[o + 3] = 1, TRAIL_ECORRUPT);   /* reserved byte */
        MUT(tmp[o + 3] = 0x80, TRAIL_ECORRUPT);
        MUT(tr_put_u16(tmp + o, 0), TRAIL_ECORRUPT); /* field id 0 */
        MUT(tr_put_u16(tmp + o, 0xFFFF), 0);         /* unknown ids are fine */
    }
    /* an 8-byte string may become an integer and back; kind changes between int kinds are fine */
    MUT(tmp[offs[1] + 2] = TR_K_U64, 0);
    MUT(tmp[offs[1] + 2] = TR_K_F64, 0);
    MUT(tmp[offs[1] + 2] = TR_K_STR, 0);
    MUT(tmp[offs[1] + 2] = TR_K_BYTES, 0);
    /* a string field of length 15 (not 8) relabelled as an integer */
    MUT(tmp[offs[0] + 2] = TR_K_I64, TRAIL_ECORRUPT);
    MUT(tmp[offs[0] + 2] = TR_K_F64, TRAIL_ECORRUPT);
    MUT(tmp[offs[0] + 2] = TR_K_U64, TRAIL_ECORRUPT);
    /* the empty string relabelled as an integer */
    MUT(tmp[offs[4] + 2] = TR_K_U64, TRAIL_ECORRUPT);
#undef MUT

    /* self-consistent records whose only defect is one rule */
    uint8_t raw[2048];
    size_t off;
    static const uint8_t z[16] = {0};
    for (uint8_t kind = TR_K_U64; kind <= TR_K_F64; kind++) {
        static const uint32_t lens[] = {0, 1, 4, 7, 9, 16};
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            off = raw_hdr(raw, 1, TR_REC_METRIC, 1);
            off = raw_field(raw, off, TR_F_STEP, kind, 0, lens[i], z);
            if (raw_decode(raw, off, &r) != TRAIL_ECORRUPT)
                T_FAIL("kind %u with len %u accepted", kind, lens[i]);
        }
        off = raw_hdr(raw, 1, TR_REC_METRIC, 1);
        off = raw_field(raw, off, TR_F_STEP, kind, 0, 8, z);
        T_OK(raw_decode(raw, off, &r));
    }
    off = raw_hdr(raw, 1, TR_REC_METRIC, 1);
    off = raw_field(raw, off, TR_F_KEY, TR_K_STR, 0, 0, NULL);
    T_OK(raw_decode(raw, off, &r));
    off = raw_hdr(raw, 1, TR_REC_METRIC, 1);
    off = raw_field(raw, off, TR_F_KEY, TR_K_STR, 7, 0, NULL);
    T_ERR(raw_decode(raw, off, &r), TRAIL_ECORRUPT);
    off = raw_hdr(raw, 1, TR_REC_METRIC, 1);
    off = raw_field(raw, off, TR_F_KEY, 6, 0, 0, NULL);
    T_ERR(raw_decode(raw, off, &r), TRAIL_ECORRUPT);
    off = raw_hdr(raw, 1, TR_REC_METRIC, 1);
    off = raw_field(raw, off, TR_F_KEY, 0, 0, 0, NULL);
    T_ERR(raw_decode(raw, off, &r), TRAIL_ECORRUPT);
    /* 64 fields decode, 65 well-formed fields do not */
    off = raw_hdr(raw, 1, TR_REC_METRIC, 64);
    for (int i = 0; i < 64; i++)
        off = raw_field(raw, off, (uint16_t)(i + 1), TR_K_STR, 0, 1, "x");
    T_OK(raw_decode(raw, off, &r));
    T_EQ_INT(r.nfields, 64);
    off = raw_field(raw, off, 65, TR_K_STR, 0, 1, "x");
    tr_put_u16(raw + 2, 65);
    T_ERR(raw_decode(raw, off, &r), TRAIL_ECORRUPT);
    off = raw_hdr(raw, 1, TR_REC_METRIC, 0);
    T_OK(raw_decode(raw, off, &r));
    /* version > 1 wins over any other defect in the header */
    off = raw_hdr(raw, 3, 0, 999);
    T_ERR(raw_decode(raw, off, &r), TRAIL_EVERSION);
}

/* ---- encoder ---- */

static int guard_intact(const uint8_t *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (g[i] != 0xA5) return 0;
    return 1;
}

static void test_encoder_bounds(void)
{
    uint8_t mem[512 + 128];
    tr_enc e;
    char s[300];
    memset(s, 'x', sizeof s);

    /* capacity below a header, or no buffer */
    memset(mem, 0xA5, sizeof mem);
    tr_enc_init(&e, mem, 15, TR_REC_TAG, 1);
    tr_enc_i64(&e, 1, 1);
    T_ERR(tr_enc_finish(&e), TRAIL_ETOOBIG);
    T_CHECK(guard_intact(mem, sizeof mem));
    tr_enc_init(&e, NULL, 100, TR_REC_TAG, 1);
    tr_enc_str(&e, 1, "x");
    T_ERR(tr_enc_finish(&e), TRAIL_ETOOBIG);

    /* every cap from 16 to 120 with a record needing 16+16+8+20+16 = 76 bytes */
    for (size_t cap = TR_REC_HDR_SIZE; cap <= 120; cap++) {
        memset(mem, 0xA5, sizeof mem);
        tr_enc_init(&e, mem, cap, TR_REC_TAG, 1);
        tr_enc_i64(&e, TR_F_PID, 7);
        tr_enc_strn(&e, TR_F_KEY, s, 20);
        tr_enc_f64(&e, TR_F_NUM, 2.5);
        long n = tr_enc_finish(&e);
        if (cap < 76) {
            if (n != TRAIL_ETOOBIG) T_FAIL("cap %zu: %ld", cap, n);
        } else {
            T_EQ_INT(n, 76);
            tr_rec r;
            T_OK(tr_rec_decode(at_guard(mem, 76), 76, &r));
        }
        if (!guard_intact(mem + cap, sizeof mem - cap)) T_FAIL("cap %zu: wrote past cap", cap);
    }

    /* the error is sticky: a later field that would fit still fails */
    memset(mem, 0xA5, sizeof mem);
    tr_enc_init(&e, mem, 64, TR_REC_TAG, 1);
    tr_enc_strn(&e, TR_F_KEY, s, 100);
    tr_enc_i64(&e, TR_F_PID, 1);
    T_EQ_INT(e.nfields, 0);
    T_ERR(tr_enc_finish(&e), TRAIL_ETOOBIG);
    T_CHECK(guard_intact(mem + 64, sizeof mem - 64));

    /* tr_enc_str_trunc cuts the string to what is left, keeping `reserve` bytes */
    memset(mem, 0xA5, sizeof mem);
    tr_enc_init(&e, mem, 100, TR_REC_TAG, 1);
    tr_enc_str_trunc(&e, TR_F_VALUE, s, sizeof s, 16);
    tr_enc_i64(&e, TR_F_PID, 9);
    long n = tr_enc_finish(&e);
    T_EQ_INT(n, 100);
    T_CHECK(guard_intact(mem + 100, sizeof mem - 100));
    tr_rec r;
    T_ASSERT_OK(tr_rec_decode(at_guard(mem, 100), 100, &r));
    const char *p;
    size_t pn;
    T_OK(tr_rec_get_str(&r, TR_F_VALUE, &p, &pn));
    T_EQ_INT(pn, 100 - 16 - 8 - 16);
    T_CHECK(memcmp(p, s, pn) == 0);
    int64_t pid = 0;
    T_OK(tr_rec_get_i64(&r, TR_F_PID, &pid));
    T_EQ_INT(pid, 9);
    /* no reserve: fills the buffer exactly */
    tr_enc_init(&e, mem, 100, TR_REC_TAG, 1);
    tr_enc_str_trunc(&e, TR_F_VALUE, s, sizeof s, 0);
    T_EQ_INT(tr_enc_finish(&e), 100);
    /* short strings are not cut */
    tr_enc_init(&e, mem, 100, TR_REC_TAG, 1);
    tr_enc_str_trunc(&e, TR_F_VALUE, "hello", 5, 16);
    n = tr_enc_finish(&e);
    T_EQ_INT(n, 16 + 8 + 5);
    T_ASSERT_OK(tr_rec_decode(at_guard(mem, (size_t)n), (size_t)n, &r));
    T_OK(tr_rec_get_str(&r, TR_F_VALUE, &p, &pn));
    T_CHECK(pn == 5 && memcmp(p, "hello", 5) == 0);
    /* no room at all for the field header: an error, nothing written */
    memset(mem, 0xA5, sizeof mem);
    tr_enc_init(&e, mem, 30, TR_REC_TAG, 1);
    tr_enc_str_trunc(&e, TR_F_VALUE, s, sizeof s, 8);
    T_ERR(tr_enc_finish(&e), TRAIL_ETOOBIG);
    T_CHECK(guard_intact(mem + 16, sizeof mem - 16));
    tr_enc_init(&e, mem, 100, TR_REC_TAG, 1);
    tr_enc_str_trunc(&e, TR_F_VALUE, NULL, 5, 0); /* NULL skipped */
    T_EQ_INT(tr_enc_finish(&e), 16);
    /* the record size limit also bounds a truncated string in a large buffer */
    static uint8_t big[128 * 1024];
    static char bs[100 * 1024];
    memset(bs, 'b', sizeof bs);
    tr_enc_init(&e, big, sizeof big, TR_REC_TAG, 1);
    tr_enc_str_trunc(&e, TR_F_VALUE, bs, sizeof bs, 0);
    T_EQ_INT(tr_enc_finish(&e), TR_REC_MAX_SIZE);
}

static void test_accessors(void)
{
    uint8_t buf[512];
    long n = build_sample(buf, sizeof buf);
    tr_rec r;
    T_ASSERT_OK(tr_rec_decode(at_guard(buf, (size_t)n), (size_t)n, &r));
    uint64_t u;
    int64_t i;
    double d;
    const char *s;
    size_t sn;
    char dst[16];
    /* string field */
    T_ERR(tr_rec_get_u64(&r, TR_F_PATH, &u), TRAIL_ECORRUPT);
    T_ERR(tr_rec_get_i64(&r, TR_F_PATH, &i), TRAIL_ECORRUPT);
    T_ERR(tr_rec_get_f64(&r, TR_F_PATH, &d), TRAIL_ECORRUPT);
    T_OK(tr_rec_get_str(&r, TR_F_PATH, &s, &sn));
    /* integer field */
    T_ERR(tr_rec_get_f64(&r, TR_F_FLAGS, &d), TRAIL_ECORRUPT);
    T_ERR(tr_rec_get_str(&r, TR_F_FLAGS, &s, &sn), TRAIL_ECORRUPT);
    T_ERR(tr_rec_copy_str(&r, TR_F_FLAGS, dst, sizeof dst), TRAIL_ECORRUPT);
    T_OK(tr_rec_get_i64(&r, TR_F_FLAGS, &i));
    T_EQ_INT(i, -2);
    T_ERR(tr_rec_get_f64(&r, TR_F_BYTES_READ, &d), TRAIL_ECORRUPT);
    T_OK(tr_rec_get_u64(&r, TR_F_BYTES_READ, &u));
    T_CHECK(u == UINT64_MAX);
    /* float field */
    T_ERR(tr_rec_get_u64(&r, TR_F_NUM, &u), TRAIL_ECORRUPT);
    T_ERR(tr_rec_get_i64(&r, TR_F_NUM, &i), TRAIL_ECORRUPT);
    T_ERR(tr_rec_get_str(&r, TR_F_NUM, &s, &sn), TRAIL_ECORRUPT);
    T_OK(tr_rec_get_f64(&r, TR_F_NUM, &d));
    T_CHECK(dbl_bits(d) == 0x8000000000000000ull);
    /* absent ids */
    T_ERR(tr_rec_get_u64(&r, TR_F_RUN_ID, &u), TRAIL_ENOTFOUND);
    T_ERR(tr_rec_get_i64(&r, TR_F_RUN_ID, &i), TRAIL_ENOTFOUND);
    T_ERR(tr_rec_get_f64(&r, TR_F_RUN_ID, &d), TRAIL_ENOTFOUND);
    T_ERR(tr_rec_get_str(&r, TR_F_RUN_ID, &s, &sn), TRAIL_ENOTFOUND);
    T_ERR(tr_rec_get_str(&r, 0, &s, &sn), TRAIL_ENOTFOUND);
    T_CHECK(accessors_agree(&r));

    T_EQ_STR(tr_rec_type_name(TR_REC_RUN_START), "run_start");
    T_EQ_STR(tr_rec_type_name(TR_REC_METRIC), "metric");
    T_EQ_STR(tr_rec_type_name(TR_REC_RUN_META), "run_meta");
    T_EQ_STR(tr_rec_type_name(0), "unknown");
    T_EQ_STR(tr_rec_type_name(-1), "unknown");
    T_EQ_STR(tr_rec_type_name(TR_REC_TYPE_MAX), "unknown");
    T_EQ_STR(tr_rec_type_name(1000), "unknown");
}

static void test_crc32c(void)
{
    T_CHECK(tr_crc32c("123456789", 9) == 0xE3069283u);
    T_CHECK(tr_crc32c("", 0) == 0);
    uint8_t z[32] = {0};
    T_CHECK(tr_crc32c(z, 32) == 0x8A9136AAu); /* RFC 3720 B.4: 32 bytes of zeros */
    uint8_t f[32];
    memset(f, 0xff, sizeof f);
    T_CHECK(tr_crc32c(f, 32) == 0x62A8AB43u); /* RFC 3720 B.4: 32 bytes of 0xff */
    uint8_t inc[32];
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    T_CHECK(tr_crc32c(inc, 32) == 0x46DD794Eu); /* RFC 3720 B.4: incrementing */
}

/* The SDK's one-pass metric encoder makes the general encoder's bytes, and refuses what does
 * not fit. */
static void test_enc_metric(void)
{
    const char *keys[] = {"loss", "", "a/b:c d.e-f_g", "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"};
    double vals[] = {0.25, -1e300, NAN, INFINITY};
    for (int i = 0; i < 4; i++) {
        uint8_t a[512], b[512];
        tr_enc e;
        tr_enc_init(&e, a, sizeof a, TR_REC_METRIC, 1795846439000000123LL + i);
        tr_enc_str(&e, TR_F_KEY, keys[i]);
        tr_enc_f64(&e, TR_F_NUM, vals[i]);
        tr_enc_i64(&e, TR_F_STEP, i == 1 ? INT64_MIN : 7 * i);
        long n = tr_enc_finish(&e);
        long m = tr_enc_metric(b, sizeof b, 1795846439000000123LL + i, keys[i], strlen(keys[i]),
                               vals[i], i == 1 ? INT64_MIN : 7 * i);
        T_EQ_INT(m, n);
        T_CHECK(memcmp(a, b, (size_t)n) == 0);
        tr_rec r;
        T_ASSERT_OK(tr_rec_decode(b, (size_t)m, &r));
        T_EQ_INT(r.type, TR_REC_METRIC);
        T_EQ_INT(tr_enc_metric(b, (size_t)m - 1, 0, keys[i], strlen(keys[i]), 0, 0), TRAIL_ETOOBIG);
    }
}

/* ---- random mutation ---- */

static void test_mutations(void)
{
    enum { ITER = 200000 };
    static uint8_t tmpl[4][4096];
    size_t tlen[4];
    tr_enc e;
    long n = build_sample(tmpl[0], sizeof tmpl[0]);
    T_ASSERT(n > 0);
    tlen[0] = (size_t)n;
    tr_enc_init(&e, tmpl[1], sizeof tmpl[1], TR_REC_METRIC, 99);
    tr_enc_str(&e, TR_F_KEY, "loss");
    tr_enc_f64(&e, TR_F_NUM, 0.25);
    tr_enc_i64(&e, TR_F_STEP, 1000);
    tlen[1] = (size_t)tr_enc_finish(&e);
    tr_enc_init(&e, tmpl[2], sizeof tmpl[2], TR_REC_PROC_START, 1);
    for (int i = 0; i < 40; i++)
        tr_enc_str(&e, TR_F_ARGV, i & 1 ? "" : "arg");
    tr_enc_i64(&e, TR_F_PID, 4242);
    tlen[2] = (size_t)tr_enc_finish(&e);
    tr_enc_init(&e, tmpl[3], sizeof tmpl[3], TR_REC_CRASH, 1);
    char bt[2000];
    memset(bt, '#', sizeof bt);
    tr_enc_strn(&e, TR_F_BACKTRACE, bt, sizeof bt);
    tr_enc_i64(&e, TR_F_SIGNAL, 11);
    tlen[3] = (size_t)tr_enc_finish(&e);
    for (int i = 0; i < 4; i++)
        T_ASSERT((long)tlen[i] > 0);

    rng_state = 0x243F6A8885A308D3ull;
    static uint8_t m[8192];
    long accepted = 0, eversion = 0, inconsistent = 0;
    for (long it = 0; it < ITER; it++) {
        int t = (int)(xorshift() % 4);
        size_t len = tlen[t];
        memcpy(m, tmpl[t], len);
        int ops = 1 + (int)(xorshift() % 4);
        for (int k = 0; k < ops; k++) {
            uint64_t x = xorshift();
            size_t pos = len ? (size_t)(x >> 16) % len : 0;
            switch (x % 9) {
            case 0: /* flip one bit */
                if (len) m[pos] ^= (uint8_t)(1u << ((x >> 8) & 7));
                break;
            case 1: /* random byte */
                if (len) m[pos] = (uint8_t)(x >> 8);
                break;
            case 2: /* interesting byte */
                if (len) m[pos] = (x & 0x100) ? 0 : 0xff;
                break;
            case 3: { /* interesting 32-bit value */
                static const uint32_t v[] = {0,  1,           7,           8,          9,
                                             16, 0xFFFFFFFFu, 0x7FFFFFFFu, 0x80000000u};
                if (len >= 4) tr_put_u32(m + pos % (len - 3), v[(x >> 8) % 9]);
                break;
            }
            case 4: /* truncate */
                if (len) len = (size_t)(x >> 8) % len;
                break;
            case 5: { /* extend with random bytes */
                size_t add = 1 + (size_t)((x >> 8) % 64);
                for (size_t i = 0; i < add && len < sizeof m; i++)
                    m[len++] = (uint8_t)xorshift();
                break;
            }
            case 6: /* make body_len agree with the length */
            case 7:
                if (len >= 8) tr_put_u32(m + 4, (uint32_t)len);
                break;
            case 8: /* small field count */
                if (len >= 4) tr_put_u16(m + 2, (uint16_t)((x >> 8) % 70));
                break;
            }
        }
        const uint8_t *b = at_guard(m, len);
        tr_rec r;
        int rc = tr_rec_decode(b, len, &r);
        if (rc == 0) {
            accepted++;
            if (!consistent(b, len, &r) || !accessors_agree(&r)) inconsistent++;
        } else if (rc == TRAIL_EVERSION) {
            eversion++;
            if (len < 1 || b[0] <= TR_REC_VERSION) inconsistent++;
        } else if (rc != TRAIL_ECORRUPT) {
            inconsistent++;
        }
    }
    T_EQ_INT(inconsistent, 0);
    /* the loop must exercise both outcomes for the run to mean anything */
    T_CHECK(accepted > 1000);
    T_CHECK(accepted < ITER);
    T_CHECK(eversion > 0);
    fprintf(stderr, "     mutations: %d, accepted %ld, newer version %ld\n", ITER, accepted,
            eversion);
}

int main(void)
{
    guard_init();
    T_RUN(test_roundtrip_ints);
    T_RUN(test_roundtrip_f64);
    T_RUN(test_roundtrip_strings);
    T_RUN(test_max_fields_and_size);
    T_RUN(test_truncations);
    T_RUN(test_length_corruption);
    T_RUN(test_header_and_field_rules);
    T_RUN(test_encoder_bounds);
    T_RUN(test_accessors);
    T_RUN(test_crc32c);
    T_RUN(test_enc_metric);
    T_RUN(test_mutations);
    return T_DONE();
}
