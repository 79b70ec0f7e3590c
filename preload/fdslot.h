/* fdslot.h - the open-description table's types, shared by fdtable.c and fdagg.c. */
#ifndef TR_FDSLOT_H
#define TR_FDSLOT_H

#include "shim.h"

/* Fixed memory ceiling: nothing here grows. Slots are handed out lowest-first so a program
 * that keeps few files open touches few pages. */
#define FD_MAX 65536
#define NSLOTS 4096
#define SHORT_PATH 232
#define NLONG 64

enum {
    B_INHERITED = 1 << 0, /* copy in a forked child: the parent reports it unless we use it */
    B_ADOPTED = 1 << 1,   /* found open at image start (inherited across exec) */
    B_REPORTED = 1 << 2,  /* a record was emitted at exec; only later bytes are new */
    B_MMAP = 1 << 3,
    B_TRUNCATED = 1 << 4, /* ftruncate'd: a write even without bytes */
    B_CLOSEFP = 1 << 5,   /* cfp holds the fingerprint taken at the last close */
    B_STATLATER = 1 << 6, /* stdio: fingerprint by path once fclose has flushed */
    B_OPENFP = 1 << 7,    /* fp holds the fingerprint taken at open */
    B_SURVIVE = 1 << 8,   /* scratch: an fd of it stays open across exec */
    B_ANON = 1 << 9,      /* O_TMPFILE: no name (path holds its directory) until linkat */
    B_KNOWN = 1 << 10,    /* fingerprint from an aggregate that verified it just now: no fstat */
    B_CREATED = 1 << 11,  /* the O_CREAT open made the file (it did not exist just before) */
};

typedef struct fingerprint {
    uint64_t dev, ino;
    int64_t size, mtime_ns, ctime_ns;
    uint32_t mode;
} fingerprint;

typedef struct slot {
    uint32_t refs;
    int32_t flags;
    uint16_t kind;
    uint16_t bits;
    int16_t longidx;
    uint16_t pathlen;
    shim_ctr *c; /* bytes read and written: in the mapped counter file when it could be made */
    int32_t agg; /* the aggregate of repeated opens it joined (index + 1), 0: none */
    int64_t start_ns;
    int64_t oseq;      /* SEQ of the FILE_OPEN record, 0: none was written */
    int64_t open_size; /* size at open of a writer, -1 unknown */
    void *stream;      /* the stdio stream of fopen'd files, flushed before the exit record */
    fingerprint fp, cfp;
    char path[SHORT_PATH];
} slot;

#define NAGG 1024 /* aggregates of repeated opens (fdagg.c); their counters follow the slots' */
_Static_assert(NSLOTS + NAGG == TR_FDCTR_N, "the counter file has an entry per slot and aggregate");

const char *fd_slot_path(const slot *s);
int fp_same(const fingerprint *a, const fingerprint *b);
void fd_emit_file(const slot *s, const char *role, const fingerprint *f, uint64_t rd, uint64_t wr,
                  int64_t end_ns, int64_t opens);
int64_t fd_emit_open(slot *s, int64_t open_size);

/* fdagg.c: repeated read-only opens of one version of one file in one process become one
 * description: one FILE_OPEN at the second open, one FILE at image end (or when its bucket is
 * needed), bytes of all of them in one counter. */
int fd_agg_join(slot *s);
void fd_agg_leave(slot *s);
void fd_agg_closed(const slot *s);
void fd_agg_flush_all(int reset);
void fd_agg_after_fork(void);
/* 1 with the fingerprint in *f when abs was opened read-only (with these flags) by an aggregate
 * that verified its version by fstat less than SHIM_AGG_TRUST_NS ago, and this image has
 * written nothing and changed no file since: the open needs no fstat of its own. */
int fd_agg_known(const char *abs, int len, int flags, fingerprint *f);
#define SHIM_AGG_TRUST_NS 10000000LL
extern uint32_t fd_agg_gen;
static inline void fd_agg_changed(void)
{
    __atomic_store_n(&fd_agg_gen, __atomic_load_n(&fd_agg_gen, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
}

#endif
