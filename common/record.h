/* record.h - the versioned binary record format for everything that crosses a process boundary. */
#ifndef TR_RECORD_H
#define TR_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Format of a record body (all integers little-endian), see docs/record-format.md:
 *
 *   u8  version        TR_REC_VERSION (a decoder rejects a version it does not know)
 *   u8  type           enum tr_rec_type (unknown types decode fine; consumers skip them)
 *   u16 nfields
 *   u32 body_len       total length of the body, this header included
 *   u64 time_ns        wall clock, nanoseconds since the Unix epoch
 *   nfields x field:   u16 id, u8 kind, u8 zero, u32 len, len bytes of data
 *
 * Integer and float fields are exactly 8 bytes. Strings are raw bytes (no NUL). A field id
 * may repeat (e.g. list items). Unknown field ids are skipped by consumers. */

#define TR_REC_VERSION 1
#define TR_REC_HDR_SIZE 16
#define TR_FIELD_HDR_SIZE 8
#define TR_REC_MAX_FIELDS 64
#define TR_REC_MAX_SIZE (60 * 1024) /* body size limit */

enum tr_rec_type {
    TR_REC_RUN_START = 1,  /* a run begins: RUN_ID EXPERIMENT NAME ARGV* CWD HOST USER PID */
    TR_REC_RUN_END = 2,    /* a run ends: RUN_ID STATUS EXIT_CODE SIGNAL [rusage] */
    TR_REC_PROC_START = 3, /* a process image starts: PID PPID ARGV* CWD EXE UID HOST */
    TR_REC_PROC_END = 4,   /* a process ends: PID EXIT_CODE SIGNAL [rusage] */
    TR_REC_PARAM = 5,      /* KEY VALUE */
    TR_REC_METRIC = 6,     /* KEY NUM STEP (time_ns is the metric time) */
    TR_REC_TAG = 7,        /* KEY VALUE */
    TR_REC_ENV = 8,        /* KEY (variable name) VALUE (omitted when REDACTED=1) [PID] */
    TR_REC_FILE = 9,       /* one open file description: PATH FLAGS ROLE BYTES_* fingerprint */
    TR_REC_DEP = 10,       /* dependency: PATH [KIND] (shared object, dlopen, executable) */
    TR_REC_FILEOP = 11,    /* OP PATH [PATH2]: rename, link, symlink, unlink, truncate */
    TR_REC_CRASH = 12,     /* PID SIGNAL BACKTRACE (text, one frame per line) */
    TR_REC_RUN_META = 13,  /* RUN_ID EXPERIMENT NAME: set only when the run has none yet */
    TR_REC_HASH = 14,      /* agent: PATH KIND VALUE + fingerprint of the bytes hashed */
    TR_REC_DEP_INFO = 15,  /* agent: OP PATH [KIND] PACKAGE VERSION ORIGIN */
    TR_REC_CONSOLE = 16,   /* launcher: STREAM DATA OFFSET [CUT]: a chunk of CMD's stdout/stderr */
    TR_REC_DROPPED = 17,   /* COUNT [PID] [ERROR]: records a writer lost (spool full, budget) */
    TR_REC_FILE_OPEN = 18, /* shim: PATH FLAGS SEQ [fingerprint at open]: settled by FILE */
    TR_REC_FILE_SETTLE = 19, /* agent: a FILE_OPEN never settled (its process was killed) */
    TR_REC_RUN_SETTLE = 20,  /* agent: RUN_ID: the run's launcher and root are gone: end it */
    TR_REC_TYPE_MAX = 63
};

/* Conventions shared by producers (shim, SDK, launcher) and the store:
 *  - PROC_START: PID PPID ARGV* CWD EXE UID HOST START_NS, KIND = "start" (first image the shim
 *    sees in a process), "fork" (child of fork/clone without exec), "exec" (new image after
 *    execve; same PID). An exec chain is the sequence of images of one PID.
 *  - PROC_END: PID, EXIT_CODE or SIGNAL, UTIME_US STIME_US MAXRSS_KB, KIND = "exit" | "exec"
 *    (the image was replaced) | "signal".
 *  - FILE: one per open file description, at its last close (or process exit): PATH FLAGS ROLE
 *    BYTES_READ BYTES_WRITTEN MMAP START_NS END_NS PID SOURCE, fingerprint DEV INO SIZE
 *    MTIME_NS taken at open for inputs and at close for outputs.
 *  - DEP: PATH KIND ("so" loaded at start, "dlopen", "exe") PID.
 *  - FILEOP: OP PATH [PATH2] PID (+ fingerprint of the result when known).
 *  - FILE_OPEN: PATH FLAGS SEQ START_NS [KIND "inherited"] [fingerprint at open of a readable
 *    file] [OPEN_SIZE of a writer opened without O_TRUNC], at open; the FILE of its last close
 *    carries OPEN_SEQ = that SEQ and settles it. FILE and FILEOP carry SEQ: with time_ns the
 *    order of one process's events, whatever order its segments are read in. Repeated
 *    read-only opens of one version by one image are one FILE_OPEN (at the second open) and one
 *    FILE with OPENS = how many, END_NS = the last close, bytes of them all.
 *  - FILE_SETTLE (agent): PATH FLAGS PID OPEN_SEQ ROLE START_NS ENDED "killed" BYTES_*, for a
 *    FILE_OPEN of a process that ended without a FILE for it: inputs with the fingerprint at
 *    open, outputs with one the agent took after the process was gone.
 *  - CRASH: PID SIGNAL BACKTRACE.
 *  - ENV: KEY [VALUE] [REDACTED=1] [PID] (PID 0 or absent: the run's launch environment).
 * Enrichment, appended by the agent to a stream of its own (SOURCE "agent") after the records
 * it describes were delivered, so every sink stores the same run:
 *  - HASH: PATH KIND ("sha256") VALUE (lowercase hex digest), DEV INO SIZE MTIME_NS of the
 *    bytes hashed; stored on the version of PATH with that fingerprint (dev ignored).
 *  - DEP_INFO: OP "resolve" (PATH a dependency the shim recorded) or "add" (a run-level
 *    dependency: KIND python|interpreter|git), PACKAGE VERSION ORIGIN (dpkg|python|git|path).
 *  - TAG with SOURCE "agent": derived run tags (git.commit, git.branch, git.dirty).
 * Console (launcher, in its own spool stream):
 *  - CONSOLE: STREAM DATA OFFSET [CUT]; OFFSET counts every byte CMD wrote to the stream, so
 *    CUT > 0 marks the bytes left out between the kept head and tail (TRAIL_CONSOLE_CAP).
 *  - METRIC with SOURCE "console" (parsed from the console; dropped for a key the SDK logs) or
 *    "system" (sampled process tree and GPUs, keys system/...); absent SOURCE: the SDK. */

enum tr_field_kind { TR_K_U64 = 1, TR_K_I64 = 2, TR_K_F64 = 3, TR_K_STR = 4, TR_K_BYTES = 5 };

enum tr_field_id {
    TR_F_RUN_ID = 1,         /* STR, 32 hex characters */
    TR_F_EXPERIMENT = 2,     /* STR */
    TR_F_NAME = 3,           /* STR */
    TR_F_ARGV = 4,           /* STR, repeated: one field per argument, in order */
    TR_F_CWD = 5,            /* STR */
    TR_F_HOST = 6,           /* STR */
    TR_F_USER = 7,           /* STR */
    TR_F_PID = 8,            /* I64 */
    TR_F_PPID = 9,           /* I64 */
    TR_F_EXE = 10,           /* STR */
    TR_F_UID = 11,           /* I64 */
    TR_F_KEY = 12,           /* STR */
    TR_F_VALUE = 13,         /* STR */
    TR_F_NUM = 14,           /* F64 (NaN, +-Inf allowed) */
    TR_F_STEP = 15,          /* I64 */
    TR_F_STATUS = 16,        /* STR: running|finished|failed|killed|crashed (lost: store-side) */
    TR_F_EXIT_CODE = 17,     /* I64 */
    TR_F_SIGNAL = 18,        /* I64 (0 = none) */
    TR_F_PATH = 19,          /* STR, absolute */
    TR_F_PATH2 = 20,         /* STR, second path (rename target, link name) */
    TR_F_FLAGS = 21,         /* I64: open(2) flags */
    TR_F_ROLE = 22,          /* STR: input|output|inout (declared by SDK or derived by shim) */
    TR_F_BYTES_READ = 23,    /* U64 */
    TR_F_BYTES_WRITTEN = 24, /* U64 */
    TR_F_DEV = 25,           /* U64 */
    TR_F_INO = 26,           /* U64 */
    TR_F_SIZE = 27,          /* I64 */
    TR_F_MTIME_NS = 28,      /* I64 */
    TR_F_REDACTED = 29,      /* I64: 1 when the value was withheld */
    TR_F_UTIME_US = 30,      /* I64: user CPU time */
    TR_F_STIME_US = 31,      /* I64: system CPU time */
    TR_F_MAXRSS_KB = 32,     /* I64 */
    TR_F_BACKTRACE = 33,     /* STR */
    TR_F_OP = 34,            /* STR: rename|link|symlink|unlink|truncate */
    TR_F_KIND = 35,          /* STR: free-form sub-kind (dep: so|dlopen|exe) */
    TR_F_MMAP = 36,          /* I64: 1 when the file was mapped */
    TR_F_START_NS = 37,      /* I64: time an interval began (file open time) */
    TR_F_END_NS = 38,        /* I64 */
    TR_F_SOURCE = 39,        /* STR: who produced a record: cli|sdk|shim|agent */
    TR_F_NOTE = 40,          /* STR: diagnostic text */
    TR_F_PACKAGE = 41,       /* STR: package or distribution a dependency resolved to */
    TR_F_VERSION = 42,       /* STR: its version */
    TR_F_ORIGIN = 43,        /* STR: where the resolution came from: dpkg|python|git|path */
    TR_F_STREAM = 44,        /* STR: console stream: stdout|stderr */
    TR_F_DATA = 45,          /* STR: raw console bytes (any bytes, not text) */
    TR_F_OFFSET = 46,        /* I64: offset of a console chunk's first byte in its stream */
    TR_F_CUT = 47,           /* I64: console bytes left out just before this chunk (over the cap) */
    TR_F_COUNT = 48,         /* I64: DROPPED: records lost since the writer's last DROPPED */
    TR_F_ERROR = 49,         /* I64: DROPPED: the TRAIL_E* code of the last loss */
    TR_F_TRUNCATED = 50, /* I64: RUN_START/PROC_START: bytes cut from its fields to fit a frame */
    TR_F_LAUNCHER_PID = 60,   /* I64: RUN_START: pid of the `trail run` that launched it */
    TR_F_LAUNCHER_START = 61, /* I64: its start time, clock ticks since boot (/proc stat 22) */
    TR_F_BOOT_ID = 62,        /* STR: RUN_START: /proc/sys/kernel/random/boot_id */
    TR_F_ROOT_START = 63,     /* I64: RUN_START: start time (ticks) of the root process PID */
    TR_F_SEQ = 52,            /* I64: per-process order of FILE_OPEN, FILE and FILEOP records */
    TR_F_OPEN_SEQ = 53,       /* I64: FILE/FILE_SETTLE: the SEQ of the FILE_OPEN it settles */
    TR_F_ENDED = 54,          /* STR: FILE_SETTLE: how the description ended: "killed" */
    TR_F_OPEN_SIZE = 55, /* I64: FILE_OPEN/FILE_SETTLE: size at open of a file opened to write */
    TR_F_DAMAGED = 64,   /* I64: DROPPED: damaged spool frames the agent had to skip */
    TR_F_OPENS = 56,     /* I64: FILE: read-only opens of one version it stands for (> 1) */
    TR_F_FIELD_MAX = 0xffff
};

typedef struct tr_field {
    uint16_t id;
    uint8_t kind;
    uint32_t len;
    const uint8_t *data; /* points into the decoded buffer */
} tr_field;

/* A decoded record. Fields point into the buffer given to tr_rec_decode. */
typedef struct tr_rec {
    uint8_t version;
    uint8_t type;
    uint16_t nfields;
    uint32_t body_len;
    int64_t time_ns;
    tr_field fields[TR_REC_MAX_FIELDS];
} tr_rec;

/* Encoder: builds a record body into a caller-owned buffer; never allocates. After an error
 * (buffer too small, too many fields) every later call fails and tr_enc_finish reports it. */
typedef struct tr_enc {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint16_t nfields;
    int err;
} tr_enc;

void tr_enc_init(tr_enc *e, uint8_t *buf, size_t cap, uint8_t type, int64_t time_ns);
void tr_enc_u64(tr_enc *e, uint16_t id, uint64_t v);
void tr_enc_i64(tr_enc *e, uint16_t id, int64_t v);
void tr_enc_f64(tr_enc *e, uint16_t id, double v);
void tr_enc_str(tr_enc *e, uint16_t id, const char *s); /* NULL is skipped */
void tr_enc_strn(tr_enc *e, uint16_t id, const char *s, size_t n);
/* Like tr_enc_strn but cuts the string to fit what is left (keeping room for `reserve` bytes). */
void tr_enc_str_trunc(tr_enc *e, uint16_t id, const char *s, size_t n, size_t reserve);
/* Returns the body length (> 0) or a negative TRAIL_E* code. */
long tr_enc_finish(tr_enc *e);
/* A METRIC record (KEY, NUM, STEP), byte for byte what the general encoder makes of those
 * calls, in one pass without its per-field checks: the SDK's hot path. Returns the body
 * length, or TRAIL_ETOOBIG when it does not fit cap. */
long tr_enc_metric(uint8_t *buf, size_t cap, int64_t time_ns, const char *key, size_t keylen,
                   double value, int64_t step);

/* Strict decoder: checks version, every length and bound; never reads outside [buf, buf+len).
 * len must be the exact body length. Returns 0 or TRAIL_ECORRUPT / TRAIL_EVERSION. */
int tr_rec_decode(const uint8_t *buf, size_t len, tr_rec *out);

/* Accessors: first field with that id. Return 0, TRAIL_ENOTFOUND, or TRAIL_ECORRUPT on a
 * kind mismatch. Strings are not NUL-terminated. */
int tr_rec_get_i64(const tr_rec *r, uint16_t id, int64_t *out);
int tr_rec_get_u64(const tr_rec *r, uint16_t id, uint64_t *out);
int tr_rec_get_f64(const tr_rec *r, uint16_t id, double *out);
int tr_rec_get_str(const tr_rec *r, uint16_t id, const char **s, size_t *n);
/* Copies a string field into dst (NUL-terminated, truncated to dstlen-1). */
int tr_rec_copy_str(const tr_rec *r, uint16_t id, char *dst, size_t dstlen);
const char *tr_rec_type_name(int type);

/* Little-endian helpers shared by the spool and batch formats. The stores are one instruction
 * each (a byte loop was 8 stores, and reading the record back by words, as its CRC does, then
 * waited for every one of them: issue 15). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define TR_LE16(v) __builtin_bswap16(v)
#define TR_LE32(v) __builtin_bswap32(v)
#define TR_LE64(v) __builtin_bswap64(v)
#else
#define TR_LE16(v) (v)
#define TR_LE32(v) (v)
#define TR_LE64(v) (v)
#endif
static inline void tr_put_u16(uint8_t *p, uint16_t v)
{
    v = TR_LE16(v);
    __builtin_memcpy(p, &v, 2);
}
static inline void tr_put_u32(uint8_t *p, uint32_t v)
{
    v = TR_LE32(v);
    __builtin_memcpy(p, &v, 4);
}
static inline void tr_put_u64(uint8_t *p, uint64_t v)
{
    v = TR_LE64(v);
    __builtin_memcpy(p, &v, 8);
}
static inline uint16_t tr_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t tr_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t tr_get_u64(const uint8_t *p)
{
    return (uint64_t)tr_get_u32(p) | ((uint64_t)tr_get_u32(p + 4) << 32);
}

/* CRC-32C (Castagnoli) of a buffer, used by spool frames and batches. */
uint32_t tr_crc32c(const void *buf, size_t len);
/* Chooses tr_crc32c's way now (the instruction or the table) instead of at its first call. */
void tr_crc32c_init(void);

#endif
