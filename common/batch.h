/* batch.h - the agent-to-collector wire format: authenticated record batches and their acks. */
#ifndef TR_BATCH_H
#define TR_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* A request (agent -> traild) carries records of ONE stream, seqs strictly increasing.
 * All integers little-endian (see docs/collector.md):
 *
 *   0   4  magic "TRLB"          4   1  version (1)        5  1  kind (1 = batch)
 *   6   2  flags (bit 0: mac)    8  32  mac
 *   40 32  stream id (hex)       72 32  run id (hex)
 *   104 8  pid (i64)             112 8  sent_ns (i64, informational)
 *   120 2  host_len (<= 255)     122 2  zero                124 4  nrec
 *   128    host bytes, then [agent block], then nrec x { u64 seq, u32 len, len bytes of body }
 *
 * Agent block, present when flags bit 1 (TR_BATCH_F_AGENT) is set: u32 uid (the owner of the
 * run directory the stream was read from, as the agent checked it), u16 agent_host_len
 * (1..255), agent host bytes (the agent's own host name, not the one the writer declared).
 *
 * mac = HMAC-SHA256(token, bytes [0, 8) || bytes [40, end)): the token never travels.
 * A reply (traild -> agent):
 *
 *   0   4  magic "TRLA"          4   1  version            5  1  status (enum below)
 *   6   2  flags (bit 0: mac)    8  32  mac
 *   40  8  acked seq (u64)       48  4  stored             52 4  duplicates
 *   56  2  msg_len (<= 255)      58     msg (one line, why a batch was refused)
 *
 * reply mac = HMAC-SHA256(token, bytes [0, 8) || bytes [40, end) || request mac): an ack is
 * bound to the request it answers, so a forged or replayed ack cannot make an agent drop
 * records it has not delivered. */

#define TR_BATCH_MAGIC "TRLB"
#define TR_BATCH_REPLY_MAGIC "TRLA"
#define TR_BATCH_VERSION 1
#define TR_BATCH_KIND 1
#define TR_BATCH_HDR_SIZE 128
#define TR_BATCH_REC_HDR 12
#define TR_BATCH_REPLY_HDR 58
#define TR_BATCH_MAC_OFF 8
#define TR_BATCH_MAC_LEN 32
#define TR_BATCH_F_MAC 0x1u
#define TR_BATCH_F_AGENT 0x2u /* an agent block follows the host */
#define TR_BATCH_HOST_MAX 255
#define TR_BATCH_MSG_MAX 255

/* Defaults: the agent sends at most these; traild accepts (configurable) more. */
#define TR_BATCH_SEND_BYTES (1u << 20)
#define TR_BATCH_SEND_RECORDS 4096
#define TR_BATCH_MAX_BYTES (2u << 20)
#define TR_BATCH_MAX_RECORDS 16384

enum tr_batch_status {
    TR_BATCH_OK = 0,
    TR_BATCH_EPROTO = 1,     /* not a batch: bad magic or kind (garbage) */
    TR_BATCH_EVERSION = 2,   /* unknown version */
    TR_BATCH_ENOAUTH = 3,    /* the collector needs a token and the batch has no mac */
    TR_BATCH_EAUTH = 4,      /* wrong mac: wrong token or altered in transit */
    TR_BATCH_ETOOBIG = 5,    /* message over the collector's size limit */
    TR_BATCH_ETOOMANY = 6,   /* more records than the collector's limit */
    TR_BATCH_ECORRUPT = 7,   /* truncated or inconsistent structure */
    TR_BATCH_ERECORD = 8,    /* a record body fails tr_rec_decode */
    TR_BATCH_ESTORE = 9,     /* the store could not commit: retry later */
    TR_BATCH_ESHUTDOWN = 10, /* the collector is stopping: retry later */
    TR_BATCH_STATUS_MAX = 10
};

/* Header of a batch; ids are NUL-terminated copies. */
typedef struct tr_batch_hdr {
    char stream_id[33];
    char run_id[33];
    int64_t pid;
    int64_t sent_ns;
    char host[TR_BATCH_HOST_MAX + 1];
    uint16_t flags;
    uint32_t nrec;
    int has_agent;                          /* the agent block: set it to send one */
    uint32_t uid;                           /* the run directory's owner */
    char agent_host[TR_BATCH_HOST_MAX + 1]; /* the delivering agent's own host name */
} tr_batch_hdr;

/* Encoder into a caller-owned buffer (no allocation). */
typedef struct tr_batch_enc {
    uint8_t *buf;
    size_t cap, len;
    uint32_t nrec;
    uint64_t last_seq;
} tr_batch_enc;

/* Starts a batch. 0 or TRAIL_EINVAL (bad ids) / TRAIL_ETOOBIG (cap too small). */
int tr_batch_enc_init(tr_batch_enc *e, uint8_t *buf, size_t cap, const tr_batch_hdr *h);
/* Appends one record. TRAIL_ETOOBIG when it does not fit (the batch is unchanged),
 * TRAIL_EINVAL when seq does not increase or the body length is out of bounds. */
int tr_batch_enc_add(tr_batch_enc *e, uint64_t seq, const uint8_t *body, size_t len);
/* Writes nrec and the mac (key NULL or keylen 0: no mac). Returns the message length. */
size_t tr_batch_enc_finish(tr_batch_enc *e, const uint8_t *key, size_t keylen);

/* A parsed, fully validated batch: records can be walked with tr_batch_next. */
typedef struct tr_batch {
    tr_batch_hdr hdr;
    const uint8_t *buf;
    size_t len;
    size_t recs_off; /* offset of the first record */
    uint64_t first_seq, last_seq;
} tr_batch;

typedef struct tr_batch_limits {
    size_t max_bytes;
    uint32_t max_records;
} tr_batch_limits;

/* Strict structural check of a whole message: header, every record header, seqs strictly
 * increasing, every body accepted by tr_rec_decode, nothing left over. Never reads outside
 * [buf, buf+len). Returns TR_BATCH_OK or the status saying why (auth is not checked here).
 * On failure, why (may be NULL) gets a short reason. */
int tr_batch_parse(const uint8_t *buf, size_t len, const tr_batch_limits *lim, tr_batch *out,
                   const char **why);
/* Walks records: *pos starts at 0. Returns 1 with a record, 0 at the end. */
int tr_batch_next(const tr_batch *b, size_t *pos, uint64_t *seq, const uint8_t **body, size_t *len);

/* HMAC-SHA256 over [0, 8) || [8 + 32, len) || extra (extra may be NULL). len >= 40. */
int tr_batch_mac(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len,
                 const uint8_t *extra, size_t extralen, uint8_t out[TR_BATCH_MAC_LEN]);
/* 1 when the message's mac matches (constant-time comparison), else 0. */
int tr_batch_verify(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len,
                    const uint8_t *extra, size_t extralen);
/* Constant-time equality of n bytes. */
int tr_batch_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);

/* Replies. */
typedef struct tr_batch_reply {
    uint8_t status;
    uint16_t flags;
    uint64_t acked_seq;
    uint32_t stored, duplicates;
    char msg[TR_BATCH_MSG_MAX + 1];
} tr_batch_reply;

/* Encodes a reply into buf (at least TR_BATCH_REPLY_HDR + TR_BATCH_MSG_MAX bytes); when key
 * is set, macs it bound to req_mac (the request's 32 mac bytes). Returns the length. */
size_t tr_batch_reply_encode(uint8_t *buf, size_t cap, const tr_batch_reply *r, const uint8_t *key,
                             size_t keylen, const uint8_t *req_mac);
/* Parses a reply; 0 or TRAIL_EPROTO / TRAIL_EVERSION. */
int tr_batch_reply_parse(const uint8_t *buf, size_t len, tr_batch_reply *out);
/* Reads the shared token from path: a regular file that group and others cannot access
 * (mode & 077 == 0), owned by the caller or root; a symlink is followed and its target
 * judged; a FIFO, device or directory is refused without blocking. Trailing whitespace
 * removed, 1..cap bytes. 0, or TRAIL_E* with one
 * line in err naming the file and the fix. */
int tr_batch_load_token(const char *path, uint8_t *key, size_t cap, size_t *len, char *err,
                        size_t errlen);

/* "5555" and "tcp://:5555" -> "tcp://127.0.0.1:5555" (likewise tls+tcp://); tcp://,
 * tls+tcp:// and ipc:// URLs are copied. 0, TRAIL_EINVAL (other scheme) or TRAIL_ETOOBIG. */
int tr_batch_normalize_url(const char *in, char *out, size_t n);

/* Short name of a status ("ok", "bad-token", ...). */
const char *tr_batch_status_name(int status);

#endif
