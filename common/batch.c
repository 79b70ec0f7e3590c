/* batch.c - strict, bounds-checked codec and HMAC-SHA256 authentication of wire batches. */
#include "batch.h"

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/md.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record.h"
#include "trail.h"
#include "util.h"

static int hex_id_n(const uint8_t *p)
{
    for (int i = 0; i < TR_ID_LEN; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return 0;
    return 1;
}

int tr_batch_enc_init(tr_batch_enc *e, uint8_t *buf, size_t cap, const tr_batch_hdr *h)
{
    memset(e, 0, sizeof *e);
    size_t hl = strnlen(h->host, sizeof h->host);
    size_t al = h->has_agent ? strnlen(h->agent_host, sizeof h->agent_host) : 0;
    if (strlen(h->stream_id) != TR_ID_LEN || strlen(h->run_id) != TR_ID_LEN ||
        !hex_id_n((const uint8_t *)h->stream_id) || !hex_id_n((const uint8_t *)h->run_id) ||
        hl > TR_BATCH_HOST_MAX || al > TR_BATCH_HOST_MAX || (h->has_agent && !al))
        return TRAIL_EINVAL;
    size_t ablock = h->has_agent ? 6 + al : 0;
    if (cap < TR_BATCH_HDR_SIZE + hl + ablock) return TRAIL_ETOOBIG;
    memset(buf, 0, TR_BATCH_HDR_SIZE);
    memcpy(buf, TR_BATCH_MAGIC, 4);
    buf[4] = TR_BATCH_VERSION;
    buf[5] = TR_BATCH_KIND;
    memcpy(buf + 40, h->stream_id, TR_ID_LEN);
    memcpy(buf + 72, h->run_id, TR_ID_LEN);
    tr_put_u64(buf + 104, (uint64_t)h->pid);
    tr_put_u64(buf + 112, (uint64_t)h->sent_ns);
    tr_put_u16(buf + 120, (uint16_t)hl);
    memcpy(buf + TR_BATCH_HDR_SIZE, h->host, hl);
    if (h->has_agent) {
        uint8_t *a = buf + TR_BATCH_HDR_SIZE + hl;
        tr_put_u16(buf + 6, TR_BATCH_F_AGENT); /* the mac bit is added when it is signed */
        tr_put_u32(a, h->uid);
        tr_put_u16(a + 4, (uint16_t)al);
        memcpy(a + 6, h->agent_host, al);
    }
    e->buf = buf;
    e->cap = cap;
    e->len = TR_BATCH_HDR_SIZE + hl + ablock;
    return 0;
}

int tr_batch_enc_add(tr_batch_enc *e, uint64_t seq, const uint8_t *body, size_t len)
{
    if (len < TR_REC_HDR_SIZE || len > TR_REC_MAX_SIZE || seq > INT64_MAX) return TRAIL_EINVAL;
    if (e->nrec > 0 && seq <= e->last_seq) return TRAIL_EINVAL;
    if (e->nrec == UINT32_MAX || e->cap - e->len < TR_BATCH_REC_HDR + len) return TRAIL_ETOOBIG;
    uint8_t *p = e->buf + e->len;
    tr_put_u64(p, seq);
    tr_put_u32(p + 8, (uint32_t)len);
    memcpy(p + TR_BATCH_REC_HDR, body, len);
    e->len += TR_BATCH_REC_HDR + len;
    e->nrec++;
    e->last_seq = seq;
    return 0;
}

size_t tr_batch_enc_finish(tr_batch_enc *e, const uint8_t *key, size_t keylen)
{
    tr_put_u32(e->buf + 124, e->nrec);
    memset(e->buf + TR_BATCH_MAC_OFF, 0, TR_BATCH_MAC_LEN);
    uint16_t agent = tr_get_u16(e->buf + 6) & TR_BATCH_F_AGENT; /* kept: it shapes the body */
    if (key && keylen) {
        tr_put_u16(e->buf + 6, (uint16_t)(agent | TR_BATCH_F_MAC));
        tr_batch_mac(key, keylen, e->buf, e->len, NULL, 0, e->buf + TR_BATCH_MAC_OFF);
    } else {
        tr_put_u16(e->buf + 6, agent);
    }
    return e->len;
}

static int fail(const char **why, const char *reason, int status)
{
    if (why) *why = reason;
    return status;
}

int tr_batch_parse(const uint8_t *buf, size_t len, const tr_batch_limits *lim, tr_batch *out,
                   const char **why)
{
    memset(out, 0, sizeof *out);
    if (why) *why = "ok";
    if (len < 6 || memcmp(buf, TR_BATCH_MAGIC, 4) != 0 || buf[5] != TR_BATCH_KIND)
        return fail(why, "not a trail batch (bad magic)", TR_BATCH_EPROTO);
    if (buf[4] != TR_BATCH_VERSION)
        return fail(why, "unsupported batch version", TR_BATCH_EVERSION);
    if (lim && lim->max_bytes && len > lim->max_bytes)
        return fail(why, "message over the size limit", TR_BATCH_ETOOBIG);
    if (len < TR_BATCH_HDR_SIZE) return fail(why, "truncated header", TR_BATCH_ECORRUPT);
    tr_batch_hdr *h = &out->hdr;
    h->flags = tr_get_u16(buf + 6);
    if (h->flags & ~(TR_BATCH_F_MAC | TR_BATCH_F_AGENT))
        return fail(why, "unknown flags", TR_BATCH_ECORRUPT);
    if (!hex_id_n(buf + 40) || !hex_id_n(buf + 72))
        return fail(why, "stream or run id is not 32 hex digits", TR_BATCH_ECORRUPT);
    memcpy(h->stream_id, buf + 40, TR_ID_LEN);
    memcpy(h->run_id, buf + 72, TR_ID_LEN);
    h->pid = (int64_t)tr_get_u64(buf + 104);
    h->sent_ns = (int64_t)tr_get_u64(buf + 112);
    uint16_t hl = tr_get_u16(buf + 120);
    if (hl > TR_BATCH_HOST_MAX || tr_get_u16(buf + 122) != 0)
        return fail(why, "bad host length", TR_BATCH_ECORRUPT);
    h->nrec = tr_get_u32(buf + 124);
    if (h->nrec == 0) return fail(why, "empty batch", TR_BATCH_ECORRUPT);
    if (lim && lim->max_records && h->nrec > lim->max_records)
        return fail(why, "more records than the limit", TR_BATCH_ETOOMANY);
    if (len - TR_BATCH_HDR_SIZE < hl) return fail(why, "truncated host", TR_BATCH_ECORRUPT);
    memcpy(h->host, buf + TR_BATCH_HDR_SIZE, hl);
    for (uint16_t i = 0; i < hl; i++)
        if (h->host[i] == 0) return fail(why, "NUL in host name", TR_BATCH_ECORRUPT);
    size_t off = TR_BATCH_HDR_SIZE + hl;
    if (h->flags & TR_BATCH_F_AGENT) {
        if (len - off < 6) return fail(why, "truncated agent block", TR_BATCH_ECORRUPT);
        uint16_t al = tr_get_u16(buf + off + 4);
        if (al == 0 || al > TR_BATCH_HOST_MAX || len - off - 6 < al)
            return fail(why, "bad agent host length", TR_BATCH_ECORRUPT);
        h->has_agent = 1;
        h->uid = tr_get_u32(buf + off);
        memcpy(h->agent_host, buf + off + 6, al);
        for (uint16_t i = 0; i < al; i++)
            if (h->agent_host[i] == 0) return fail(why, "NUL in agent host", TR_BATCH_ECORRUPT);
        off += 6 + (size_t)al;
    }
    out->buf = buf;
    out->len = len;
    out->recs_off = off;
    tr_rec rec;
    for (uint32_t i = 0; i < h->nrec; i++) {
        if (len - off < TR_BATCH_REC_HDR)
            return fail(why, "truncated record header", TR_BATCH_ECORRUPT);
        uint64_t seq = tr_get_u64(buf + off);
        uint32_t rl = tr_get_u32(buf + off + 8);
        off += TR_BATCH_REC_HDR;
        if (seq > INT64_MAX) return fail(why, "seq out of range", TR_BATCH_ECORRUPT);
        if (i > 0 && seq <= out->last_seq)
            return fail(why, "seqs not strictly increasing", TR_BATCH_ECORRUPT);
        if (rl < TR_REC_HDR_SIZE || rl > TR_REC_MAX_SIZE)
            return fail(why, "record length out of bounds", TR_BATCH_ECORRUPT);
        if (len - off < rl) return fail(why, "truncated record", TR_BATCH_ECORRUPT);
        if (tr_rec_decode(buf + off, rl, &rec) != 0)
            return fail(why, "undecodable record", TR_BATCH_ERECORD);
        if (i == 0) out->first_seq = seq;
        out->last_seq = seq;
        off += rl;
    }
    if (off != len) return fail(why, "trailing bytes after the last record", TR_BATCH_ECORRUPT);
    return TR_BATCH_OK;
}

int tr_batch_next(const tr_batch *b, size_t *pos, uint64_t *seq, const uint8_t **body, size_t *len)
{
    size_t off = *pos ? *pos : b->recs_off;
    if (off + TR_BATCH_REC_HDR > b->len) return 0;
    *seq = tr_get_u64(b->buf + off);
    *len = tr_get_u32(b->buf + off + 8);
    *body = b->buf + off + TR_BATCH_REC_HDR;
    *pos = off + TR_BATCH_REC_HDR + *len;
    return 1;
}

int tr_batch_mac(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len,
                 const uint8_t *extra, size_t extralen, uint8_t out[TR_BATCH_MAC_LEN])
{
    const size_t skip = TR_BATCH_MAC_OFF + TR_BATCH_MAC_LEN;
    if (len < skip) return TRAIL_EINVAL;
    mbedtls_md_context_t ctx;
    mbedtls_md_init(&ctx);
    int rc = mbedtls_md_setup(&ctx, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
    if (!rc) rc = mbedtls_md_hmac_starts(&ctx, key, keylen);
    if (!rc) rc = mbedtls_md_hmac_update(&ctx, msg, TR_BATCH_MAC_OFF);
    if (!rc) rc = mbedtls_md_hmac_update(&ctx, msg + skip, len - skip);
    if (!rc && extra && extralen) rc = mbedtls_md_hmac_update(&ctx, extra, extralen);
    if (!rc) rc = mbedtls_md_hmac_finish(&ctx, out);
    mbedtls_md_free(&ctx);
    return rc ? TRAIL_ENOMEM : 0;
}

int tr_batch_ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

int tr_batch_verify(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len,
                    const uint8_t *extra, size_t extralen)
{
    uint8_t want[TR_BATCH_MAC_LEN];
    if (!key || !keylen || len < TR_BATCH_MAC_OFF + TR_BATCH_MAC_LEN) return 0;
    if (tr_batch_mac(key, keylen, msg, len, extra, extralen, want) != 0) return 0;
    return tr_batch_ct_equal(want, msg + TR_BATCH_MAC_OFF, TR_BATCH_MAC_LEN);
}

size_t tr_batch_reply_encode(uint8_t *buf, size_t cap, const tr_batch_reply *r, const uint8_t *key,
                             size_t keylen, const uint8_t *req_mac)
{
    size_t ml = strnlen(r->msg, TR_BATCH_MSG_MAX);
    if (cap < TR_BATCH_REPLY_HDR + ml) return 0;
    memset(buf, 0, TR_BATCH_REPLY_HDR);
    memcpy(buf, TR_BATCH_REPLY_MAGIC, 4);
    buf[4] = TR_BATCH_VERSION;
    buf[5] = r->status;
    tr_put_u64(buf + 40, r->acked_seq);
    tr_put_u32(buf + 48, r->stored);
    tr_put_u32(buf + 52, r->duplicates);
    tr_put_u16(buf + 56, (uint16_t)ml);
    memcpy(buf + TR_BATCH_REPLY_HDR, r->msg, ml);
    size_t len = TR_BATCH_REPLY_HDR + ml;
    if (key && keylen) {
        tr_put_u16(buf + 6, TR_BATCH_F_MAC);
        tr_batch_mac(key, keylen, buf, len, req_mac, req_mac ? TR_BATCH_MAC_LEN : 0,
                     buf + TR_BATCH_MAC_OFF);
    }
    return len;
}

int tr_batch_reply_parse(const uint8_t *buf, size_t len, tr_batch_reply *out)
{
    memset(out, 0, sizeof *out);
    if (len < TR_BATCH_REPLY_HDR || memcmp(buf, TR_BATCH_REPLY_MAGIC, 4) != 0) return TRAIL_EPROTO;
    if (buf[4] != TR_BATCH_VERSION) return TRAIL_EVERSION;
    out->status = buf[5];
    out->flags = tr_get_u16(buf + 6);
    out->acked_seq = tr_get_u64(buf + 40);
    out->stored = tr_get_u32(buf + 48);
    out->duplicates = tr_get_u32(buf + 52);
    uint16_t ml = tr_get_u16(buf + 56);
    if (ml > TR_BATCH_MSG_MAX || len != TR_BATCH_REPLY_HDR + (size_t)ml) return TRAIL_EPROTO;
    memcpy(out->msg, buf + TR_BATCH_REPLY_HDR, ml);
    for (size_t i = 0; i < ml; i++)
        if ((unsigned char)out->msg[i] < 0x20) out->msg[i] = '?';
    return 0;
}

const char *tr_batch_status_name(int status)
{
    static const char *names[] = {"ok",         "not-a-batch", "bad-version",  "no-token",
                                  "bad-token",  "too-big",     "too-many",     "corrupt",
                                  "bad-record", "store-error", "shutting-down"};
    if (status < 0 || status > TR_BATCH_STATUS_MAX) return "unknown";
    return names[status];
}

int tr_batch_load_token(const char *path, uint8_t *key, size_t cap, size_t *len, char *err,
                        size_t errlen)
{
    struct stat st;
    *len = 0;
    /* A symlink (mounted secrets are links) is followed and its target judged; O_NONBLOCK
     * keeps a FIFO from blocking the open, and anything not a regular file is refused. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read token file %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return TRAIL_EIO;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) || (st.st_uid != geteuid() && st.st_uid != 0)) {
        const char *what = !S_ISREG(st.st_mode) ? "not a regular file"
                           : (st.st_mode & 077) ? "readable by others"
                                                : "owned by another user";
        snprintf(err, errlen,
                 "token file %s is %s (mode %04o, owner uid %u): it must be a private file of "
                 "yours, e.g. chmod 600 %s",
                 path, what, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, path);
        close(fd);
        return TRAIL_EAUTH;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    ssize_t n = read(fd, key, cap);
    char extra;
    int more = n == (ssize_t)cap && read(fd, &extra, 1) == 1;
    close(fd);
    while (n > 0 &&
           (key[n - 1] == '\n' || key[n - 1] == '\r' || key[n - 1] == ' ' || key[n - 1] == '\t'))
        n--;
    if (n <= 0 || more) {
        snprintf(err, errlen, "token file %s is %s", path, more ? "too long" : "empty");
        return TRAIL_EINVAL;
    }
    *len = (size_t)n;
    return 0;
}

int tr_batch_normalize_url(const char *in, char *out, size_t n)
{
    size_t l = strlen(in), digits = strspn(in, "0123456789");
    int w;
    if (l > 0 && digits == l)
        w = snprintf(out, n, "tcp://127.0.0.1:%s", in);
    else if (!strncmp(in, "tcp://:", 7))
        w = snprintf(out, n, "tcp://127.0.0.1:%s", in + 7);
    else if (!strncmp(in, "tls+tcp://:", 11))
        w = snprintf(out, n, "tls+tcp://127.0.0.1:%s", in + 11);
    else if (!strncmp(in, "tcp://", 6) || !strncmp(in, "tls+tcp://", 10) ||
             !strncmp(in, "ipc://", 6))
        w = snprintf(out, n, "%s", in);
    else
        return TRAIL_EINVAL;
    return w > 0 && (size_t)w < n ? 0 : TRAIL_ETOOBIG;
}
