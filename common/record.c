/* record.c - encoder and strict, bounds-checked decoder of trail's binary records. */
#include "record.h"

#include <string.h>

#include "trail.h"

#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#define TR_HAVE_GLIBC_X86 1
#endif
#endif

static int enc_room(tr_enc *e, size_t need)
{
    if (e->err) return 0;
    if (e->nfields >= TR_REC_MAX_FIELDS) {
        e->err = TRAIL_ETOOBIG;
        return 0;
    }
    if (need > e->cap || e->len > e->cap - need || e->len + need > TR_REC_MAX_SIZE) {
        e->err = TRAIL_ETOOBIG;
        return 0;
    }
    return 1;
}

static void enc_field(tr_enc *e, uint16_t id, uint8_t kind, const void *data, uint32_t len)
{
    if (!enc_room(e, TR_FIELD_HDR_SIZE + (size_t)len)) return;
    uint8_t *p = e->buf + e->len;
    tr_put_u16(p, id);
    p[2] = kind;
    p[3] = 0;
    tr_put_u32(p + 4, len);
    if (len) memcpy(p + TR_FIELD_HDR_SIZE, data, len);
    e->len += TR_FIELD_HDR_SIZE + len;
    e->nfields++;
}

void tr_enc_init(tr_enc *e, uint8_t *buf, size_t cap, uint8_t type, int64_t time_ns)
{
    e->buf = buf;
    e->cap = cap;
    e->len = 0;
    e->nfields = 0;
    e->err = 0;
    if (!buf || cap < TR_REC_HDR_SIZE) {
        e->err = TRAIL_ETOOBIG;
        return;
    }
    buf[0] = TR_REC_VERSION;
    buf[1] = type;
    tr_put_u16(buf + 2, 0);
    tr_put_u32(buf + 4, 0);
    tr_put_u64(buf + 8, (uint64_t)time_ns);
    e->len = TR_REC_HDR_SIZE;
}

void tr_enc_u64(tr_enc *e, uint16_t id, uint64_t v)
{
    uint8_t b[8];
    tr_put_u64(b, v);
    enc_field(e, id, TR_K_U64, b, 8);
}

void tr_enc_i64(tr_enc *e, uint16_t id, int64_t v)
{
    uint8_t b[8];
    tr_put_u64(b, (uint64_t)v);
    enc_field(e, id, TR_K_I64, b, 8);
}

void tr_enc_f64(tr_enc *e, uint16_t id, double v)
{
    uint64_t bits;
    uint8_t b[8];
    memcpy(&bits, &v, 8);
    tr_put_u64(b, bits);
    enc_field(e, id, TR_K_F64, b, 8);
}

void tr_enc_strn(tr_enc *e, uint16_t id, const char *s, size_t n)
{
    if (!s) return;
    if (n > TR_REC_MAX_SIZE) {
        if (!e->err) e->err = TRAIL_ETOOBIG;
        return;
    }
    enc_field(e, id, TR_K_STR, s, (uint32_t)n);
}

void tr_enc_str(tr_enc *e, uint16_t id, const char *s)
{
    if (s) tr_enc_strn(e, id, s, strlen(s));
}

void tr_enc_str_trunc(tr_enc *e, uint16_t id, const char *s, size_t n, size_t reserve)
{
    if (!s || e->err) return;
    size_t limit = e->cap < TR_REC_MAX_SIZE ? e->cap : TR_REC_MAX_SIZE;
    size_t used = e->len + TR_FIELD_HDR_SIZE + reserve;
    if (used >= limit) {
        e->err = TRAIL_ETOOBIG;
        return;
    }
    if (n > limit - used) n = limit - used;
    tr_enc_strn(e, id, s, n);
}

long tr_enc_finish(tr_enc *e)
{
    if (e->err) return e->err;
    tr_put_u16(e->buf + 2, e->nfields);
    tr_put_u32(e->buf + 4, (uint32_t)e->len);
    return (long)e->len;
}

/* A field header as one 8-byte word: id (2), kind, 0, length (4), little-endian. */
static inline uint64_t field_hdr(uint16_t id, uint8_t kind, uint32_t len)
{
    return (uint64_t)id | (uint64_t)kind << 16 | (uint64_t)len << 32;
}

static inline uint8_t *put_field_hdr(uint8_t *p, uint16_t id, uint8_t kind, uint32_t len)
{
    tr_put_u64(p, field_hdr(id, kind, len));
    return p + TR_FIELD_HDR_SIZE;
}

/* The hot path of the SDK: every header is one word store, so that the CRC reading the record
 * back by words finds each word in one store (byte stores cost a store-forwarding stall each). */
long tr_enc_metric(uint8_t *buf, size_t cap, int64_t time_ns, const char *key, size_t keylen,
                   double value, int64_t step)
{
    size_t len = TR_REC_HDR_SIZE + 3 * TR_FIELD_HDR_SIZE + keylen + 16;
    if (!buf || !key || keylen > TR_REC_MAX_SIZE || len > cap || len > TR_REC_MAX_SIZE)
        return TRAIL_ETOOBIG;
    uint64_t bits;
    memcpy(&bits, &value, 8);
    tr_put_u64(buf, (uint64_t)TR_REC_VERSION | (uint64_t)TR_REC_METRIC << 8 | (uint64_t)3 << 16 |
                        (uint64_t)len << 32);
    tr_put_u64(buf + 8, (uint64_t)time_ns);
    uint8_t *p = put_field_hdr(buf + TR_REC_HDR_SIZE, TR_F_KEY, TR_K_STR, (uint32_t)keylen);
    memcpy(p, key, keylen);
    p += keylen;
    tr_put_u64(p, field_hdr(TR_F_NUM, TR_K_F64, 8));
    tr_put_u64(p + 8, bits);
    tr_put_u64(p + 16, field_hdr(TR_F_STEP, TR_K_I64, 8));
    tr_put_u64(p + 24, (uint64_t)step);
    return (long)len;
}

int tr_rec_decode(const uint8_t *buf, size_t len, tr_rec *out)
{
    if (!buf || !out || len < TR_REC_HDR_SIZE || len > TR_REC_MAX_SIZE) return TRAIL_ECORRUPT;
    if (buf[0] != TR_REC_VERSION) return buf[0] > TR_REC_VERSION ? TRAIL_EVERSION : TRAIL_ECORRUPT;
    out->version = buf[0];
    out->type = buf[1];
    out->nfields = tr_get_u16(buf + 2);
    out->body_len = tr_get_u32(buf + 4);
    out->time_ns = (int64_t)tr_get_u64(buf + 8);
    if (out->type == 0 || out->body_len != len || out->nfields > TR_REC_MAX_FIELDS)
        return TRAIL_ECORRUPT;
    size_t off = TR_REC_HDR_SIZE;
    for (uint16_t i = 0; i < out->nfields; i++) {
        if (len - off < TR_FIELD_HDR_SIZE) return TRAIL_ECORRUPT;
        const uint8_t *p = buf + off;
        tr_field *f = &out->fields[i];
        f->id = tr_get_u16(p);
        f->kind = p[2];
        f->len = tr_get_u32(p + 4);
        if (f->id == 0 || p[3] != 0) return TRAIL_ECORRUPT;
        if (f->kind < TR_K_U64 || f->kind > TR_K_BYTES) return TRAIL_ECORRUPT;
        off += TR_FIELD_HDR_SIZE;
        if (f->len > len - off) return TRAIL_ECORRUPT;
        if (f->kind <= TR_K_F64 && f->len != 8) return TRAIL_ECORRUPT;
        f->data = buf + off;
        off += f->len;
    }
    if (off != len) return TRAIL_ECORRUPT;
    return 0;
}

static const tr_field *find(const tr_rec *r, uint16_t id)
{
    for (uint16_t i = 0; i < r->nfields; i++)
        if (r->fields[i].id == id) return &r->fields[i];
    return NULL;
}

int tr_rec_get_u64(const tr_rec *r, uint16_t id, uint64_t *out)
{
    const tr_field *f = find(r, id);
    if (!f) return TRAIL_ENOTFOUND;
    if (f->kind != TR_K_U64 && f->kind != TR_K_I64) return TRAIL_ECORRUPT;
    *out = tr_get_u64(f->data);
    return 0;
}

int tr_rec_get_i64(const tr_rec *r, uint16_t id, int64_t *out)
{
    uint64_t v;
    int rc = tr_rec_get_u64(r, id, &v);
    if (rc == 0) *out = (int64_t)v;
    return rc;
}

int tr_rec_get_f64(const tr_rec *r, uint16_t id, double *out)
{
    const tr_field *f = find(r, id);
    if (!f) return TRAIL_ENOTFOUND;
    if (f->kind != TR_K_F64) return TRAIL_ECORRUPT;
    uint64_t bits = tr_get_u64(f->data);
    memcpy(out, &bits, 8);
    return 0;
}

int tr_rec_get_str(const tr_rec *r, uint16_t id, const char **s, size_t *n)
{
    const tr_field *f = find(r, id);
    if (!f) return TRAIL_ENOTFOUND;
    if (f->kind != TR_K_STR && f->kind != TR_K_BYTES) return TRAIL_ECORRUPT;
    *s = (const char *)f->data;
    *n = f->len;
    return 0;
}

int tr_rec_copy_str(const tr_rec *r, uint16_t id, char *dst, size_t dstlen)
{
    const char *s;
    size_t n;
    int rc = tr_rec_get_str(r, id, &s, &n);
    if (rc) return rc;
    if (dstlen == 0) return TRAIL_EINVAL;
    if (n >= dstlen) n = dstlen - 1;
    memcpy(dst, s, n);
    dst[n] = 0;
    return 0;
}

const char *tr_rec_type_name(int type)
{
    static const char *names[] = {"?",        "run_start", "run_end", "proc_start", "proc_end",
                                  "param",    "metric",    "tag",     "env",        "file",
                                  "dep",      "fileop",    "crash",   "run_meta",   "hash",
                                  "dep_info", "console",   "dropped"};
    if (type == TR_REC_FILE_OPEN) return "file_open";
    if (type == TR_REC_FILE_SETTLE) return "file_settle";
    if (type > 0 && type < (int)(sizeof names / sizeof names[0])) return names[type];
    return "unknown";
}

/* CRC-32C, reflected polynomial 0x82F63B78: the CPU's crc32 instruction where it has one
 * (SSE4.2; ~6 ns for a 64-byte record against ~130 ns by table), else a table. The one
 * implementation of the library, the agent and the shim: nothing is set up by a constructor
 * (the shim can record from other libraries' constructors, before any of its own ran); the
 * first call picks the way, and tr_crc32c_init lets a caller pick it early. */
static uint32_t crc_table[256];
static int crc_mode; /* 0 not chosen yet, 1 table, 2 instruction; written once, same value */

static void crc_table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        __atomic_store_n(&crc_table[i], c, __ATOMIC_RELAXED);
    }
}

static uint32_t crc_sw(const uint8_t *p, size_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    while (len--)
        c = __atomic_load_n(&crc_table[(c ^ *p++) & 0xFF], __ATOMIC_RELAXED) ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(const uint8_t *p, size_t len)
{
    uint64_t c = 0xFFFFFFFFu;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
    }
    uint32_t c32 = (uint32_t)c;
    for (; len; p++, len--)
        c32 = __builtin_ia32_crc32qi(c32, *p);
    return c32 ^ 0xFFFFFFFFu;
}
#endif

void tr_crc32c_init(void)
{
    int mode = 1;
#if defined(__x86_64__) && defined(TR_HAVE_GLIBC_X86)
    /* glibc's own record of the CPU's features, made at its start: __builtin_cpu_supports
     * would link libgcc's constructor, which runs CPUID several times in every process, and
     * CPUID traps to the hypervisor in a VM (11-17 us each on the benchmark VM). */
    if (CPU_FEATURE_ACTIVE(SSE4_2)) mode = 2;
#elif defined(__x86_64__)
    __builtin_cpu_init(); /* may run before the library's constructors */
    if (__builtin_cpu_supports("sse4.2")) mode = 2;
#endif
    if (mode == 1) crc_table_init(); /* racing first callers write the same values */
    __atomic_store_n(&crc_mode, mode, __ATOMIC_RELEASE);
}

uint32_t tr_crc32c(const void *buf, size_t len)
{
    int mode = __atomic_load_n(&crc_mode, __ATOMIC_ACQUIRE);
    if (mode == 0) {
        tr_crc32c_init();
        mode = __atomic_load_n(&crc_mode, __ATOMIC_ACQUIRE);
    }
#if defined(__x86_64__)
    if (mode == 2) return crc_hw(buf, len);
#endif
    return crc_sw(buf, len);
}
